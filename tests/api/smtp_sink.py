"""A small SMTP server on 127.0.0.1 that keeps what it receives, for the email tests.

It speaks enough of RFC 5321 for libcurl: EHLO/HELO, AUTH PLAIN and LOGIN (when credentials are
set), MAIL, RCPT, DATA with dot-unstuffing, RSET, NOOP and QUIT. A test scripts failures per
recipient: SmtpSink.rcpt_replies maps an address to the reply codes its next RCPT commands get,
one code per attempt, before the sink starts accepting it. No STARTTLS, so froth must run with
--smtp-starttls optional against it.
"""

import base64
import socketserver
import threading

REPLY_TEXT = {
    250: "2.1.5 OK",
    421: "4.3.2 Service not available",
    450: "4.2.1 Mailbox busy, try again later",
    451: "4.3.0 Temporary local problem, try again later",
    550: "5.1.1 Mailbox unavailable",
    554: "5.7.1 Transaction failed",
}
LINE_MAX = 10000
READ_TIMEOUT_S = 30


class _Handler(socketserver.StreamRequestHandler):
    timeout = READ_TIMEOUT_S

    def send(self, line):
        self.wfile.write(line.encode("ascii") + b"\r\n")
        self.wfile.flush()

    def read_line(self):
        line = self.rfile.readline(LINE_MAX)
        if not line:
            raise ConnectionError("client closed the connection")
        return line.decode("utf-8", "replace").rstrip("\r\n")

    def handle(self):
        sink = self.server.sink
        state = {"from": None, "rcpt": [], "user": None}
        self.send("220 sink.test ESMTP ready")
        try:
            while True:
                line = self.read_line()
                verb = line.split(" ", 1)[0].upper()
                sink.record_command(verb)
                if not self.dispatch(sink, state, verb, line):
                    return
        except (ConnectionError, TimeoutError, OSError):
            return

    def dispatch(self, sink, state, verb, line):
        """Reply to one command. Returns False when the session ends."""
        if verb == "EHLO":
            features = ["sink.test", "8BITMIME", "SIZE 10485760"]
            if sink.credentials is not None:
                features.append("AUTH PLAIN LOGIN")
            for feature in features[:-1]:
                self.send(f"250-{feature}")
            self.send(f"250 {features[-1]}")
        elif verb == "HELO":
            self.send("250 sink.test")
        elif verb == "AUTH":
            self.authenticate(sink, state, line)
        elif verb == "MAIL":
            state["from"] = line[len("MAIL FROM:"):].strip()
            state["rcpt"] = []
            self.send("250 2.1.0 OK")
        elif verb == "RCPT":
            address = line[len("RCPT TO:"):].strip().strip("<>")
            code = sink.next_rcpt_reply(address)
            if code == 250:
                state["rcpt"].append(address)
            self.send(f"{code} {REPLY_TEXT.get(code, 'reply')}")
        elif verb == "DATA":
            if not state["rcpt"]:
                self.send("503 5.5.1 No valid recipients")
                return True
            self.send("354 End data with <CR><LF>.<CR><LF>")
            sink.store(state, self.read_data())
            state["rcpt"] = []
            self.send("250 2.0.0 Queued")
        elif verb in ("RSET", "NOOP"):
            state["rcpt"] = []
            self.send("250 2.0.0 OK")
        elif verb == "QUIT":
            self.send("221 2.0.0 Bye")
            return False
        else:
            self.send("502 5.5.2 Command not recognized")
        return True

    def read_data(self):
        lines = []
        while True:
            raw = self.rfile.readline(LINE_MAX)
            if not raw:
                raise ConnectionError("client closed the connection during DATA")
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b"."):
                raw = raw[1:]  # RFC 5321 section 4.5.2: remove one leading dot
            lines.append(raw)

    def authenticate(self, sink, state, line):
        parts = line.split()
        mechanism = parts[1].upper() if len(parts) > 1 else ""
        if sink.credentials is None or mechanism not in ("PLAIN", "LOGIN"):
            self.send("504 5.5.4 Unrecognized authentication type")
            return
        if mechanism == "PLAIN":
            if len(parts) > 2:
                response = parts[2]
            else:
                self.send("334 ")
                response = self.read_line()
            fields = base64.b64decode(response).split(b"\0")
            user, password = fields[1].decode(), fields[2].decode()
        else:
            self.send("334 VXNlcm5hbWU6")
            user = base64.b64decode(self.read_line()).decode()
            self.send("334 UGFzc3dvcmQ6")
            password = base64.b64decode(self.read_line()).decode()
        if (user, password) == sink.credentials:
            state["user"] = user
            sink.record_login(user)
            self.send("235 2.7.0 Authentication successful")
        else:
            self.send("535 5.7.8 Authentication credentials invalid")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class SmtpSink:
    """An SMTP server on a free loopback port, run in background threads until close()."""

    def __init__(self, credentials=None):
        self.credentials = credentials  # (user, password), or None for no AUTH
        self.rcpt_replies = {}
        self.messages = []
        self.logins = []
        self.commands = []
        self.rcpt_attempts = {}
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self):
        self._server.shutdown()
        self._server.server_close()

    def fail_rcpt(self, address, *codes):
        """Make the next len(codes) RCPT commands for address get these reply codes."""
        with self._lock:
            self.rcpt_replies[address] = list(codes)

    def next_rcpt_reply(self, address):
        with self._lock:
            self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
            codes = self.rcpt_replies.get(address)
            return codes.pop(0) if codes else 250

    def attempts(self, address):
        with self._lock:
            return self.rcpt_attempts.get(address, 0)

    def record_command(self, verb):
        with self._lock:
            self.commands.append(verb)

    def record_login(self, user):
        with self._lock:
            self.logins.append(user)

    def store(self, state, data):
        with self._lock:
            self.messages.append({"from": state["from"], "to": list(state["rcpt"]),
                                  "user": state["user"], "data": data})

    def received(self, address):
        """Return the raw messages (bytes) delivered to address, oldest first."""
        with self._lock:
            return [m["data"] for m in self.messages if address in m["to"]]
