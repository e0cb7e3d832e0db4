"""The SMTP relay: queued emails reach a relay once, with proper headers, are retried on temporary
failures and given up on permanent ones, and neither the reset link nor the SMTP password reaches
the log. The relay is a sink of our own on 127.0.0.1 (smtp_sink.py)."""

import email
import email.policy
import email.utils
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.parse
import uuid

import pytest

from conftest import (APPS_DIR, CLI_TIMEOUT_S, Froth, pg_cluster, run_cli, stop_and_check,
                      unique_email)
from smtp_sink import SmtpSink

SENDER = "Sessions Team <no-reply@sessions.test>"
SMTP_USER = "froth-relay"
MAX_ATTEMPTS = 3
DELIVERY_TIMEOUT_S = 30
RESET_LINK = "https://app.example.com/reset"


def app_with_sender(directory):
    """Write the sessions app with settings.email.from set, and return its path."""
    app = json.loads((APPS_DIR / "sessions.json").read_text(encoding="utf-8"))
    app.setdefault("settings", {})["email"] = {"from": SENDER}
    path = directory / "sessions-email.json"
    path.write_text(json.dumps(app), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sink():
    relay = SmtpSink(credentials=(SMTP_USER, f"smtp-{uuid.uuid4().hex}"))
    yield relay
    relay.close()


@pytest.fixture(scope="module")
def mailer(tmp_path_factory, sink):
    """A server that sends through the sink, retrying quickly so the tests stay short."""
    work_dir = tmp_path_factory.mktemp("smtp")
    password_file = work_dir / "smtp-password"
    password_file.write_text(sink.credentials[1] + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    froth = Froth(app_with_sender(work_dir), work_dir)
    froth.plant(sink.credentials[1])
    froth.extra_args = ["--smtp-url", sink.url, "--smtp-starttls", "optional",
                        "--smtp-user", SMTP_USER, "--smtp-password-file", str(password_file),
                        "--scheduler-poll-ms", "50", "--smtp-retry-ms", "50",
                        "--smtp-max-attempts", str(MAX_ATTEMPTS)]
    froth.start()
    yield froth
    stop_and_check(froth)


def query(server, sql):
    """Return the rows of one query on the server's store, every value as text."""
    if server.db_url.startswith("sqlite:"):
        with sqlite3.connect(server.db_url[len("sqlite:"):]) as db:
            return [tuple("" if v is None else str(v) for v in row)
                    for row in db.execute(sql).fetchall()]
    cluster = pg_cluster()
    database = urllib.parse.urlparse(server.db_url).path.lstrip("/")
    psql = os.path.join(cluster["FROTH_PG_BINDIR"], "psql")
    result = subprocess.run([psql, "-X", "-A", "-t", "-F", "\t", "-R", "\x1e",
                             "-h", cluster["PGHOST"], "-p", cluster["PGPORT"],
                             "-U", cluster["PGUSER"], "-d", database, "-c", sql],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=True)
    return [tuple(row.split("\t")) for row in result.stdout.strip("\n\x1e").split("\x1e") if row]


def outbox_row(server, recipient):
    """Return the recipient's only outbox row as a dict."""
    columns = ["id", "status", "attempts", "body", "sent", "failed", "message_id", "last_error",
               "created"]
    rows = query(server, f"SELECT {', '.join(columns)} FROM _froth_outbox "
                         f"WHERE recipient = '{recipient}'")
    assert len(rows) == 1, f"expected one outbox row for {recipient}, found {len(rows)}"
    return dict(zip(columns, rows[0]))


def wait_for_status(server, recipient, statuses):
    """Wait until the recipient's email reaches one of statuses, and return its row."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT_S
    while True:
        row = outbox_row(server, recipient)
        if row["status"] in statuses:
            return row
        if time.monotonic() > deadline:
            pytest.fail(f"the email to {recipient} is still {row['status']!r} after "
                        f"{DELIVERY_TIMEOUT_S} s:\n{server.output()[-3000:]}")
        time.sleep(0.05)


def request_reset(server):
    """Sign up a user, ask for a reset email, and return the user's address as stored."""
    user = server.user("mail")
    response = server.post("/api/1.1/wf/forgot", json={"email": user["email"]})
    assert response.status_code == 200, response.text
    return user["email"].lower()


def attempt_lines(server, row_id):
    """Return the log lines about delivery attempts of one outbox row."""
    return [line for line in server.output().splitlines()
            if re.search(rf"\bid={row_id}\b", line) and "email" in line]


def test_reset_email_delivered_once(mailer, sink):
    recipient = request_reset(mailer)
    row = wait_for_status(mailer, recipient, {"sent", "failed"})
    assert row["status"] == "sent", row["last_error"]
    received = sink.received(recipient)
    assert len(received) == 1
    assert sink.attempts(recipient) == 1
    assert row["attempts"] == "1"
    assert int(row["sent"]) >= int(row["created"])
    assert row["body"] == ""
    assert SMTP_USER in sink.logins

    message = email.message_from_bytes(received[0], policy=email.policy.default)
    assert email.utils.parseaddr(message["From"]) == ("Sessions Team", "no-reply@sessions.test")
    assert message["To"] == recipient
    assert message["Subject"] == "Reset your password"
    assert message["MIME-Version"] == "1.0"
    assert message.get_content_type() == "text/plain"
    assert message.get_content_charset() == "utf-8"
    assert email.utils.parsedate_to_datetime(message["Date"]) is not None
    assert message["Message-ID"] == row["message_id"]
    assert re.fullmatch(r"<[0-9a-f]{32}@sessions\.test>", message["Message-ID"])

    match = re.search(re.escape(RESET_LINK) + r"\?token=([A-Za-z0-9_-]+)", message.get_content())
    assert match, "the message has no reset link"
    token = mailer.plant(match.group(1))
    assert token not in mailer.output()
    assert sink.credentials[1] not in mailer.output()
    assert len(attempt_lines(mailer, row["id"])) == 1


def test_delivered_link_resets_password(mailer, sink):
    recipient = request_reset(mailer)
    wait_for_status(mailer, recipient, {"sent", "failed"})
    body = email.message_from_bytes(sink.received(recipient)[0],
                                    policy=email.policy.default).get_content()
    token = mailer.plant(re.search(r"token=([A-Za-z0-9_-]+)", body).group(1))
    password = mailer.plant(f"Reset-{uuid.uuid4().hex}-1")
    response = mailer.post("/api/1.1/wf/reset", json={"token": token, "password": password})
    assert response.status_code == 200, response.text
    assert mailer.login(recipient, password).status_code == 200


def test_temporary_failure_retried(mailer, sink):
    recipient = unique_email("mail").lower()
    sink.fail_rcpt(recipient, 451, 450)
    mailer.signup(email=recipient)
    assert mailer.post("/api/1.1/wf/forgot", json={"email": recipient}).status_code == 200
    row = wait_for_status(mailer, recipient, {"sent", "failed"})
    assert row["status"] == "sent", row["last_error"]
    assert row["attempts"] == "3"
    assert sink.attempts(recipient) == 3
    assert len(sink.received(recipient)) == 1
    assert row["body"] == ""
    lines = attempt_lines(mailer, row["id"])
    assert len(lines) == 3, lines
    assert "will retry" in lines[0]
    assert "code=451" in lines[0]
    assert "will retry" in lines[1]
    assert "code=450" in lines[1]
    assert "email sent" in lines[2]


def test_permanent_failure_marked_failed(mailer, sink):
    recipient = unique_email("mail").lower()
    sink.fail_rcpt(recipient, 550)
    mailer.signup(email=recipient)
    assert mailer.post("/api/1.1/wf/forgot", json={"email": recipient}).status_code == 200
    row = wait_for_status(mailer, recipient, {"sent", "failed"})
    assert row["status"] == "failed"
    assert row["attempts"] == "1"
    assert row["failed"] != ""
    assert row["sent"] == ""
    assert row["body"] == ""
    assert "550" in row["last_error"]
    assert sink.attempts(recipient) == 1
    assert sink.received(recipient) == []
    lines = attempt_lines(mailer, row["id"])
    assert len(lines) == 1, lines
    assert "final=permanent" in lines[0]


def test_attempt_limit_marks_failed(mailer, sink):
    recipient = unique_email("mail").lower()
    sink.fail_rcpt(recipient, *([451] * MAX_ATTEMPTS))
    mailer.signup(email=recipient)
    assert mailer.post("/api/1.1/wf/forgot", json={"email": recipient}).status_code == 200
    row = wait_for_status(mailer, recipient, {"sent", "failed"})
    assert row["status"] == "failed"
    assert row["attempts"] == str(MAX_ATTEMPTS)
    assert row["body"] == ""
    assert sink.attempts(recipient) == MAX_ATTEMPTS
    assert sink.received(recipient) == []
    lines = attempt_lines(mailer, row["id"])
    assert len(lines) == MAX_ATTEMPTS
    assert "final=attempts_exhausted" in lines[-1]


def test_log_has_no_link_or_password(mailer, sink):
    recipient = request_reset(mailer)
    wait_for_status(mailer, recipient, {"sent", "failed"})
    log = mailer.output()
    assert sink.credentials[1] not in log
    assert RESET_LINK not in log
    assert "token=" not in log
    assert "email sender started" in log


def serve_error(tmp_path, *args):
    """Run froth serve with args that must make it exit before serving; return the result."""
    app = app_with_sender(tmp_path)
    return run_cli("serve", "--app", str(app), "--db", f"sqlite:{tmp_path / 'x.db'}",
                   "--port", "0", *args)


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:25", "expected smtp:// or smtps://"),
    ("smtp://", "the host is missing"),
    ("smtp://user:secret@127.0.0.1:25", "a user name in the URL is not allowed"),
    ("smtp://127.0.0.1:25?x=1", "a query or fragment is not allowed"),
])
def test_bad_smtp_url_rejected(tmp_path, url, reason):
    result = serve_error(tmp_path, "--smtp-url", url)
    assert result.returncode == 2
    assert reason in result.stderr


def test_user_needs_password_file(tmp_path):
    result = serve_error(tmp_path, "--smtp-url", "smtp://127.0.0.1:1", "--smtp-user", "x")
    assert result.returncode == 1
    assert "--smtp-user and --smtp-password-file go together" in result.stderr


def test_header_injection_in_sender_rejected(tmp_path):
    result = serve_error(tmp_path, "--smtp-url", "smtp://127.0.0.1:1",
                         "--smtp-from", "a@b.test\r\nBcc: victim@example.com")
    assert result.returncode == 2
    assert "invalid --smtp-from" in result.stderr


def test_sender_required_with_relay(tmp_path):
    app = json.loads((APPS_DIR / "sessions.json").read_text(encoding="utf-8"))
    path = tmp_path / "no-sender.json"
    path.write_text(json.dumps(app), encoding="utf-8")
    result = run_cli("serve", "--app", str(path), "--db", f"sqlite:{tmp_path / 'x.db'}",
                     "--port", "0", "--smtp-url", "smtp://127.0.0.1:1")
    assert result.returncode == 1
    assert "needs a sender address" in result.stderr


def test_app_sender_with_line_break_rejected(tmp_path):
    app = json.loads((APPS_DIR / "sessions.json").read_text(encoding="utf-8"))
    app.setdefault("settings", {})["email"] = {"from": "a@b.test\nBcc: victim@example.com"}
    path = tmp_path / "bad-sender.json"
    path.write_text(json.dumps(app), encoding="utf-8")
    result = run_cli("check", "--app", str(path))
    assert result.returncode == 1
    assert "settings.email.from" in result.stderr


def test_outbox_of_older_store_upgraded_and_sent(tmp_path, sink):
    froth = Froth(app_with_sender(tmp_path), tmp_path)
    # The outbox as froth created it before the relay existed, with one email waiting.
    query(froth, "CREATE TABLE _froth_outbox (id INTEGER PRIMARY KEY, recipient TEXT NOT NULL, "
                 "subject TEXT NOT NULL, body TEXT NOT NULL, created BIGINT NOT NULL, "
                 "sent BIGINT)")
    recipient = unique_email("old").lower()
    query(froth, "INSERT INTO _froth_outbox (id, recipient, subject, body, created) VALUES "
                 f"(1, '{recipient}', 'Queued before', 'Old body', {int(time.time() * 1000)})")
    froth.extra_args = ["--smtp-url", sink.url, "--smtp-starttls", "optional",
                        "--scheduler-poll-ms", "50"]
    froth.start()
    try:
        row = wait_for_status(froth, recipient, {"sent", "failed"})
        assert row["status"] == "sent", row["last_error"]
        message = email.message_from_bytes(sink.received(recipient)[0],
                                           policy=email.policy.default)
        assert message["Subject"] == "Queued before"
        assert message.get_content().splitlines() == ["Old body"]
    finally:
        stop_and_check(froth)


def test_required_starttls_never_sends_in_clear(tmp_path, sink):
    froth = Froth(app_with_sender(tmp_path), tmp_path)
    froth.extra_args = ["--smtp-url", sink.url, "--scheduler-poll-ms", "50",
                        "--smtp-retry-ms", "50", "--smtp-max-attempts", "2"]
    froth.start()
    try:
        recipient = request_reset(froth)
        row = wait_for_status(froth, recipient, {"sent", "failed"})
        assert row["status"] == "failed"
        assert row["attempts"] == "2"
        assert sink.attempts(recipient) == 0
        assert sink.received(recipient) == []
        lines = attempt_lines(froth, row["id"])
        assert "will retry" in lines[0]
        assert "final=attempts_exhausted" in lines[1]
    finally:
        stop_and_check(froth)


def test_refused_login_retried(tmp_path, sink):
    password_file = tmp_path / "wrong-password"
    wrong = f"wrong-{uuid.uuid4().hex}"
    password_file.write_text(wrong + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    froth = Froth(app_with_sender(tmp_path), tmp_path)
    froth.plant(wrong)
    froth.extra_args = ["--smtp-url", sink.url, "--smtp-starttls", "optional",
                        "--smtp-user", SMTP_USER, "--smtp-password-file", str(password_file),
                        "--scheduler-poll-ms", "50", "--smtp-retry-ms", "50",
                        "--smtp-max-attempts", "2"]
    froth.start()
    try:
        recipient = request_reset(froth)
        row = wait_for_status(froth, recipient, {"sent", "failed"})
        assert row["status"] == "failed"
        assert row["attempts"] == "2"
        assert sink.received(recipient) == []
        lines = attempt_lines(froth, row["id"])
        assert "code=535" in lines[0]
        assert "will retry" in lines[0]
        assert wrong not in froth.output()
    finally:
        stop_and_check(froth)


def test_address_sender_cannot_use_marked_failed(mailer, sink):
    recipient = f"r\u00efta-{uuid.uuid4().hex[:8]}@example.com"
    mailer.signup(email=recipient)
    assert mailer.post("/api/1.1/wf/forgot", json={"email": recipient}).status_code == 200
    row = wait_for_status(mailer, recipient, {"sent", "failed"})
    assert row["status"] == "failed"
    assert row["last_error"] == "invalid recipient address or subject"
    assert row["body"] == ""
    assert sink.attempts(recipient) == 0
