"""Password reset: a single-use, short-lived token sent by email (queued in the outbox), no
account enumeration, and every session logged out once the password changes."""

import os
import re
import sqlite3
import subprocess
import urllib.parse

import pytest

from conftest import (APPS_DIR, CLI_TIMEOUT_S, Froth, assert_envelope, pg_cluster, stop_and_check,
                      unique_email)


@pytest.fixture(scope="module")
def resets(tmp_path_factory):
    froth = Froth(APPS_DIR / "sessions.json", tmp_path_factory.mktemp("resets"))
    froth.start()
    yield froth
    stop_and_check(froth)


def outbox(server):
    """Return (recipient, body) of every queued email, oldest first."""
    query = "SELECT recipient, body FROM _froth_outbox ORDER BY id"
    if server.db_url.startswith("sqlite:"):
        with sqlite3.connect(server.db_url[len("sqlite:"):]) as db:
            return db.execute(query).fetchall()
    cluster = pg_cluster()
    database = urllib.parse.urlparse(server.db_url).path.lstrip("/")
    psql = os.path.join(cluster["FROTH_PG_BINDIR"], "psql")
    result = subprocess.run([psql, "-X", "-A", "-t", "-F", "\t", "-R", "\x1e",
                             "-h", cluster["PGHOST"], "-p", cluster["PGPORT"],
                             "-U", cluster["PGUSER"], "-d", database, "-c", query],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=True)
    rows = [row.split("\t", 1) for row in result.stdout.strip("\n\x1e").split("\x1e") if row]
    return [tuple(row) for row in rows]


def request_reset(server, email):
    response = server.post("/api/1.1/wf/forgot", json={"email": email})
    assert response.status_code == 200
    return response


def latest_token(server, email):
    mails = [body for recipient, body in outbox(server) if recipient == email.lower()]
    assert mails, "no reset email was queued"
    token = re.search(r"token=([A-Za-z0-9_-]+)", mails[-1]).group(1)
    return server.plant(token)


def test_reset_sets_password_and_logs_out(resets):
    user = resets.user("rita")
    request_reset(resets, user["email"])
    token = latest_token(resets, user["email"])
    new_password = resets.plant(user["password"] + "-reset")
    response = resets.post("/api/1.1/wf/reset", json={"token": token, "password": new_password})
    assert response.status_code == 200, response.text
    assert response.json()["response"]["user"] == user["id"]
    assert resets.get("/api/1.1/obj/user", user["token"]).status_code == 401
    assert resets.login(user["email"], new_password).status_code == 200
    assert resets.login(user["email"], user["password"]).status_code == 400


def test_reset_token_works_once(resets):
    user = resets.user("rita")
    request_reset(resets, user["email"])
    token = latest_token(resets, user["email"])
    first = resets.post("/api/1.1/wf/reset", json={"token": token, "password": "Once-1-pw"})
    assert first.status_code == 200
    second = resets.post("/api/1.1/wf/reset", json={"token": token, "password": "Twice-2-pw"})
    assert_envelope(second, 400, "INVALID_RESET_TOKEN")


def test_bad_token_rejected(resets):
    response = resets.post("/api/1.1/wf/reset", json={"token": "not-a-token", "password": "x-1"})
    assert_envelope(response, 400, "INVALID_RESET_TOKEN")


def test_unknown_email_looks_the_same(resets):
    user = resets.user("rita")
    nobody = unique_email("nobody")
    known = request_reset(resets, user["email"])
    unknown = request_reset(resets, nobody)
    assert known.text == unknown.text
    recipients = [recipient for recipient, _ in outbox(resets)]
    assert user["email"].lower() in recipients
    assert nobody.lower() not in recipients


def test_reset_link_and_token_not_logged(resets):
    user = resets.user("rita")
    request_reset(resets, user["email"])
    latest_token(resets, user["email"])
    assert resets.leaked_secrets() == []
