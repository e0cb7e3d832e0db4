#!/usr/bin/python3
"""Hold many keep-alive connections open to a froth server and report its resident memory.

Opens --connections sockets to 127.0.0.1:PORT, sends one GET of a task by id on each with a
user's token from the data file (the users rotate as in the wrk scripts), and reads every
response while leaving the connection open. With all of them open and answered it samples
VmRSS and VmHWM of the server process, waits --hold seconds, sends a second request on every
connection to check that the server kept it, samples again, and closes them all. Prints the
results as key=value lines for bench/report.py. Loopback only, and every wait is bounded.
"""

import argparse
import resource
import selectors
import socket
import sys
import time


def status_kb(pid, key):
    """Return one /proc/PID/status value in kB, such as VmRSS."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {key}")


def load_users(path):
    """Return (token, task id) of every user line of a bench data file."""
    users = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "user":
                users.append((fields[1], fields[2]))
    if not users:
        raise RuntimeError(f"no user lines in data file {path}")
    return users


def request_bytes(port, token, task):
    return (f"GET /api/1.1/obj/task/{task} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\n\r\n").encode()


def response_complete(data):
    """Return the status code once data holds a whole response with Content-Length, else None."""
    head_end = data.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = data[:head_end].decode("latin-1").lower().split("\r\n")
    length = 0
    for line in head[1:]:
        name, _, value = line.partition(":")
        if name.strip() == "content-length":
            length = int(value)
    if len(data) < head_end + 4 + length:
        return None
    return int(head[0].split()[1])


def round_trip(socks, payloads, timeout_s):
    """Send payloads[i] on socks[i] and read one response on each, all at once. Returns the
    status of each connection: an HTTP status, or 0 for a closed or failed connection."""
    sel = selectors.DefaultSelector()
    status = [0] * len(socks)
    buffers = [b""] * len(socks)
    for i, s in enumerate(socks):
        if s is None:
            continue
        try:
            s.sendall(payloads[i])
        except OSError:
            continue
        sel.register(s, selectors.EVENT_READ, i)
    deadline = time.monotonic() + timeout_s
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                sel.unregister(key.fileobj)
                continue
            buffers[i] += chunk
            code = response_complete(buffers[i])
            if code is not None:
                status[i] = code
                sel.unregister(key.fileobj)
    sel.close()
    return status


def open_all(port, count, timeout_s):
    """Open count connections; a failed one is None in the returned list."""
    socks = []
    for _ in range(count):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout_s)
        try:
            s.connect(("127.0.0.1", port))
            s.setblocking(False)
            socks.append(s)
        except OSError:
            s.close()
            socks.append(None)
    return socks


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="froth's port on 127.0.0.1")
    parser.add_argument("--pid", type=int, required=True, help="froth's process id")
    parser.add_argument("--data", required=True, help="data file written by bench/dataset.py")
    parser.add_argument("--connections", type=int, default=1000, help="default 1000")
    parser.add_argument("--hold", type=float, default=5.0,
                        help="seconds to keep the connections idle before the second request "
                             "(default 5; froth closes idle ones after --timeout, 30 s)")
    parser.add_argument("--timeout", type=float, default=20.0,
                        help="seconds to wait for each round of responses (default 20)")
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < args.connections + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, args.connections + 64), hard))

    users = load_users(args.data)
    payloads = [request_bytes(args.port, *users[i % len(users)])
                for i in range(args.connections)]
    idle_kb = status_kb(args.pid, "VmRSS")
    started = time.monotonic()
    socks = open_all(args.port, args.connections, args.timeout)
    first = round_trip(socks, payloads, args.timeout)
    first_s = time.monotonic() - started
    open_kb = status_kb(args.pid, "VmRSS")
    time.sleep(args.hold)
    second = round_trip(socks, payloads, args.timeout)
    after_kb = status_kb(args.pid, "VmRSS")
    peak_kb = status_kb(args.pid, "VmHWM")
    for s in socks:
        if s is not None:
            s.close()

    print(f"connections={args.connections}")
    print(f"opened={sum(s is not None for s in socks)}")
    print(f"first_ok={sum(200 <= c < 300 for c in first)}")
    print(f"first_other={','.join(sorted({str(c) for c in first if not 200 <= c < 300})) or '-'}")
    print(f"first_s={first_s:.2f}")
    print(f"hold_s={args.hold}")
    print(f"second_ok={sum(200 <= c < 300 for c in second)}")
    print(f"idle_rss_kb={idle_kb}")
    print(f"open_rss_kb={open_kb}")
    print(f"after_rss_kb={after_kb}")
    print(f"peak_rss_kb={peak_kb}")


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
