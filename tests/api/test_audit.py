"""The audit log: each recorded event, the admin-only /_froth/audit route with its filters and
paging, the froth audit command, retention, and rows that never hold a secret.

Events are read back through the API as an admin would. The secrets check reads the table itself,
so a value that the API leaves out cannot hide a leak.
"""

import json
import os
import sqlite3
import subprocess
import time
import urllib.parse
import uuid

import pytest

from conftest import (APPS_DIR, CLI_TIMEOUT_S, Froth, assert_envelope, assert_unauthorized,
                      describe, pg_cluster, run_cli, stop_and_check, unique_email,
                      unique_password)
from test_twofactor import current_step, totp

AGENT = "AuditTest/1.0 (+loopback)"
RETENTION_WAIT_S = 15


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    froth = Froth(APPS_DIR / "audit.json", tmp_path_factory.mktemp("audit"))
    froth.session.headers["User-Agent"] = AGENT
    froth.start()
    yield froth
    stop_and_check(froth)


def call(server, name, token=None, **body):
    return server.post(f"/api/1.1/wf/{name}", token, json=body)


def audit(server, token=None, **params):
    """GET /_froth/audit with the module's admin token (or token) and return the response."""
    return server.get("/_froth/audit", server.admin if token is None else token, params=params)


def rows(server, **params):
    """Return every row the filters select, newest first, following next_cursor."""
    found = []
    cursor = None
    while True:
        query = dict(params)
        if cursor is not None:
            query["cursor"] = cursor
        response = audit(server, **query)
        assert response.status_code == 200, describe(response)
        body = response.json()["response"]
        found.extend(body["results"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def events(server, user_id):
    """Return the (event, detail) pairs of a user's rows, oldest first."""
    return [(row["event"], row["detail"]) for row in reversed(rows(server, user_id=user_id))]


def one(server, user_id, event):
    matching = [row for row in rows(server, user_id=user_id) if row["event"] == event]
    assert len(matching) == 1, (event, matching)
    return matching[0]


def login(server, user, code):
    """Run the login workflow with a two-factor code and plant the token it returns."""
    response = call(server, "login", email=user["email"], password=server.plant(user["password"]),
                    code=code)
    if response.status_code == 200:
        server.plant(response.json()["response"]["token"])
    return response


def session_ids(server, token):
    response = server.get("/_froth/sessions", token)
    assert response.status_code == 200, describe(response)
    return {s["id"]: s for s in response.json()["sessions"]}


def table_text(server):
    """Return every value of every row of _froth_audit, read from the database itself."""
    query = ('SELECT id, time, event, user_id, admin_label, client_address, user_agent, '
             'session_id, detail FROM "_froth_audit"')
    if server.db_url.startswith("sqlite:"):
        with sqlite3.connect(server.db_url[len("sqlite:"):]) as db:
            return "\n".join(" ".join(str(v) for v in row) for row in db.execute(query))
    cluster = pg_cluster()
    database = urllib.parse.urlparse(server.db_url).path.lstrip("/")
    psql = os.path.join(cluster["FROTH_PG_BINDIR"], "psql")
    result = subprocess.run([psql, "-X", "-A", "-t", "-h", cluster["PGHOST"], "-p",
                             cluster["PGPORT"], "-U", cluster["PGUSER"], "-d", database,
                             "-c", query],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=True)
    return result.stdout


# ---- Sign-up, login and sessions ---------------------------------------------------------------

def test_signup_records_token_and_client(audited):
    user = audited.user("sign")
    row = one(audited, user["id"], "token.issued")
    assert row["detail"].startswith("action=sign_up "), row
    assert row["client_address"] == "127.0.0.1"
    assert row["user_agent"] == AGENT
    sessions = session_ids(audited, user["token"])
    assert list(sessions) == [row["session_id"]]
    listed = sessions[row["session_id"]]
    assert listed["client_address"] == "127.0.0.1"
    assert listed["user_agent"] == AGENT


def test_session_user_agent_cut_and_cleaned(audited):
    user = audited.user("agent")
    long_agent = "Ünïcode-agent/" + "x" * 400
    response = audited.post("/api/1.1/wf/login", headers={"User-Agent": long_agent.encode()},
                            json={"email": user["email"], "password": user["password"]})
    assert response.status_code == 200, describe(response)
    token = audited.plant(response.json()["response"]["token"])
    current = [s for s in session_ids(audited, token).values() if s["current"]][0]
    assert len(current["user_agent"]) == 256
    # Each byte of the two non-ASCII letters becomes "?".
    assert current["user_agent"].startswith("??n??code-agent/xxx"), current["user_agent"][:20]
    issued = rows(audited, user_id=user["id"], event="token.issued")[0]
    assert issued["user_agent"] == current["user_agent"]


def test_login_success_recorded(audited):
    user = audited.user("in")
    response = audited.login(user["email"], user["password"])
    assert response.status_code == 200, describe(response)
    succeeded = one(audited, user["id"], "login.succeeded")
    assert succeeded["detail"] == "two_factor=no"
    issued = [r for r in rows(audited, user_id=user["id"], event="token.issued")
              if r["detail"].startswith("action=log_in ")]
    assert len(issued) == 1
    assert issued[0]["session_id"] == succeeded["session_id"]


def test_login_failures_recorded_with_reason(audited):
    user = audited.user("fail")
    wrong = audited.login(user["email"], unique_password())
    unknown = audited.login(unique_email("nobody"), unique_password())
    invalid = audited.login("not-an-email", unique_password())
    for response in (wrong, unknown, invalid):
        assert_envelope(response, 400, "INVALID_LOGIN_CREDENTIALS")
        for reason in ("wrong_password", "unknown_email", "invalid_email"):
            assert reason not in response.text
    assert wrong.text == unknown.text == invalid.text
    assert one(audited, user["id"], "login.failed")["detail"] == "reason=wrong_password"
    anonymous = [r["detail"] for r in rows(audited, event="login.failed") if r["user_id"] is None]
    assert "reason=unknown_email" in anonymous
    assert "reason=invalid_email" in anonymous


def test_rolled_back_run_leaves_no_rows(audited):
    user = audited.user("rollback")
    before = events(audited, user["id"])
    response = call(audited, "login-then-fail", email=user["email"],
                    password=audited.plant(user["password"]))
    assert_envelope(response, 400, "ERROR")
    assert events(audited, user["id"]) == before


def test_log_out_recorded(audited):
    user = audited.user("out")
    session_id = list(session_ids(audited, user["token"]))[0]
    assert call(audited, "logout", user["token"]).status_code == 200
    row = one(audited, user["id"], "session.revoked")
    assert row["detail"] == "by=user reason=log_out"
    assert row["session_id"] == session_id


def test_log_out_others_recorded(audited):
    user = audited.user("others")
    for _ in range(2):
        assert audited.login(user["email"], user["password"]).status_code == 200
    assert call(audited, "logout-others", user["token"]).status_code == 200
    row = one(audited, user["id"], "session.revoked")
    assert row["detail"] == "by=other_session reason=log_out_other_sessions count=2"


def test_sessions_api_revocations_recorded(audited):
    user = audited.user("api")
    response = audited.login(user["email"], user["password"])
    second = response.json()["response"]["token"]
    sessions = session_ids(audited, user["token"])
    other = [s for s in sessions.values() if not s["current"]][0]
    own = [s for s in sessions.values() if s["current"]][0]
    assert audited.delete(f"/_froth/sessions/{other['id']}", user["token"]).status_code == 204
    assert audited.delete(f"/_froth/sessions/{own['id']}", user["token"]).status_code == 204
    revoked = {r["session_id"]: r["detail"] for r in
               rows(audited, user_id=user["id"], event="session.revoked")}
    assert revoked == {other["id"]: "by=other_session reason=sessions_api",
                       own["id"]: "by=user reason=sessions_api"}
    assert_unauthorized(audited.get("/_froth/sessions", second))


def test_refused_revocation_leaves_no_row(audited):
    alice = audited.user("alice")
    bob = audited.user("bob")
    bobs = list(session_ids(audited, bob["token"]))[0]
    response = audited.delete(f"/_froth/sessions/{bobs}", alice["token"])
    assert_envelope(response, 404, "NOT_FOUND")
    assert rows(audited, user_id=alice["id"], event="session.revoked") == []
    assert rows(audited, user_id=bob["id"], event="session.revoked") == []


# ---- Passwords ---------------------------------------------------------------------------------

def test_change_password_recorded(audited):
    user = audited.user("pw")
    assert audited.login(user["email"], user["password"]).status_code == 200
    new = audited.plant(unique_password())
    response = call(audited, "change-password", user["token"], current=user["password"], new=new)
    assert response.status_code == 200, describe(response)
    assert one(audited, user["id"], "password.changed")
    revoked = one(audited, user["id"], "session.revoked")
    assert revoked["detail"] == "by=password_change reason=password_changed count=1"


def outbox_token(server, email):
    query = "SELECT body FROM _froth_outbox WHERE recipient = ? ORDER BY id"
    if server.db_url.startswith("sqlite:"):
        with sqlite3.connect(server.db_url[len("sqlite:"):]) as db:
            bodies = [row[0] for row in db.execute(query, (email.lower(),))]
    else:
        cluster = pg_cluster()
        database = urllib.parse.urlparse(server.db_url).path.lstrip("/")
        psql = os.path.join(cluster["FROTH_PG_BINDIR"], "psql")
        sql = f"SELECT body FROM _froth_outbox WHERE recipient = '{email.lower()}' ORDER BY id"
        result = subprocess.run([psql, "-X", "-A", "-t", "-R", "\x1e", "-h", cluster["PGHOST"],
                                 "-p", cluster["PGPORT"], "-U", cluster["PGUSER"], "-d",
                                 database, "-c", sql],
                                capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                                check=True)
        bodies = [body for body in result.stdout.strip("\n\x1e").split("\x1e") if body]
    assert bodies, "no reset email was queued"
    return server.plant(bodies[-1].split("token=")[1].split()[0])


def test_password_reset_recorded(audited):
    user = audited.user("reset")
    assert call(audited, "forgot", email=user["email"]).status_code == 200
    assert call(audited, "forgot", email=unique_email("ghost")).status_code == 200
    requested = one(audited, user["id"], "password_reset.requested")
    assert requested["detail"] is None
    unknown = [r for r in rows(audited, event="password_reset.requested") if r["user_id"] is None]
    assert unknown and unknown[0]["detail"] == "account=unknown"

    token = outbox_token(audited, user["email"])
    response = audited.post("/api/1.1/wf/reset",
                            json={"token": token, "password": audited.plant(unique_password())})
    assert response.status_code == 200, describe(response)
    assert one(audited, user["id"], "password_reset.completed")
    revoked = one(audited, user["id"], "session.revoked")
    assert revoked["detail"] == "by=password_reset reason=password_reset count=1"


# ---- Two-factor authentication -----------------------------------------------------------------

def test_two_factor_events_recorded(audited):
    user = audited.user("tf")
    assert audited.login(user["email"], user["password"]).status_code == 200
    response = call(audited, "enable-2fa", user["token"], password=user["password"])
    uri = audited.plant(response.json()["response"]["uri"])
    secret = audited.plant(urllib.parse.parse_qs(urllib.parse.urlparse(uri).query)["secret"][0])
    code = audited.plant(totp(secret, current_step()))
    response = call(audited, "confirm-2fa", user["token"], code=code)
    assert response.status_code == 200, describe(response)
    codes = audited.plant(response.json()["response"]["recovery_codes"]).split(" ")
    for recovery in codes:
        audited.plant(recovery)
    assert one(audited, user["id"], "two_factor.enabled")
    revoked = one(audited, user["id"], "session.revoked")
    assert revoked["detail"] == "by=two_factor_change reason=two_factor_enabled count=1"

    assert_envelope(login(audited, user, code=""), 400, "2FA_REQUIRED")
    assert_envelope(login(audited, user, code="000000"), 400, "INVALID_2FA_CODE")
    failed = [r["detail"] for r in rows(audited, user_id=user["id"], event="login.failed")]
    assert sorted(failed) == ["reason=two_factor_code_missing", "reason=wrong_two_factor_code"]

    response = login(audited, user, code=codes[0])
    assert response.status_code == 200, describe(response)
    newest = rows(audited, user_id=user["id"], event="login.succeeded")[0]
    assert newest["detail"] == "two_factor=recovery_code"

    response = call(audited, "regenerate-codes", user["token"], code=codes[1])
    assert response.status_code == 200, describe(response)
    fresh = audited.plant(response.json()["response"]["recovery_codes"]).split(" ")
    for recovery in fresh:
        audited.plant(recovery)
    assert one(audited, user["id"], "two_factor.recovery_codes_regenerated")

    response = call(audited, "disable-2fa", user["token"], password=user["password"],
                    code=fresh[0])
    assert response.status_code == 200, describe(response)
    assert one(audited, user["id"], "two_factor.disabled")
    used = [r["detail"] for r in rows(audited, user_id=user["id"],
                                      event="two_factor.recovery_code_used")]
    assert sorted(used) == ["action=disable_2fa", "action=log_in",
                            "action=regenerate_recovery_codes"]


# ---- Admin tokens ------------------------------------------------------------------------------

def test_admin_token_lifecycle_recorded(audited):
    label = f"ops-{uuid.uuid4().hex[:8]}"
    token = audited.admin_token(label)
    created = rows(audited, event="admin_token.created")
    assert [r["detail"] for r in created if r["admin_label"] == label] == ["source=cli"]
    for _ in range(3):
        assert audited.get("/api/1.1/obj/user", token).status_code == 200
    first = [r for r in rows(audited, event="admin_token.first_used") if r["admin_label"] == label]
    assert len(first) == 1
    assert first[0]["client_address"] == "127.0.0.1"
    assert first[0]["user_agent"] == AGENT

    result = run_cli("admin-token", "regenerate", label, "--db", audited.db_url)
    assert result.returncode == 0, result.stderr
    audited.plant(result.stdout.strip())
    result = run_cli("admin-token", "revoke", label, "--db", audited.db_url)
    assert result.returncode == 0, result.stderr
    mine = [r["event"] for r in reversed(rows(audited)) if r["admin_label"] == label]
    assert mine == ["admin_token.created", "admin_token.first_used", "admin_token.regenerated",
                    "admin_token.revoked"]


def test_admin_runs_carry_label(audited):
    user = audited.user("byadmin")
    response = call(audited, "forgot", audited.admin, email=user["email"])
    assert response.status_code == 200, describe(response)
    assert one(audited, user["id"], "password_reset.requested")["admin_label"] == "shared"


# ---- The route ---------------------------------------------------------------------------------

def test_audit_refuses_users_and_anonymous(audited):
    user = audited.user("nosy")
    assert_unauthorized(audit(audited, token=user["token"]))
    assert_unauthorized(audited.get("/_froth/audit"))
    assert_unauthorized(audited.get("/_froth/audit", audited.plant("not-a-token-" + "x" * 20)))
    response = audited.post("/_froth/audit", audited.admin)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_audit_filters(audited):
    user = audited.user("filter")
    assert audited.login(user["email"], unique_password()).status_code == 400
    mine = rows(audited, user_id=user["id"])
    assert {r["event"] for r in mine} == {"token.issued", "login.failed"}
    assert all(r["user_id"] == user["id"] for r in mine)
    failed = rows(audited, event="login.failed")
    assert failed and all(r["event"] == "login.failed" for r in failed)
    assert rows(audited, user_id=user["id"], event="login.failed") == \
        [r for r in mine if r["event"] == "login.failed"]
    assert rows(audited, since="2999-01-01T00:00:00Z") == []
    newest = rows(audited)[0]
    since = rows(audited, since=newest["time"])
    assert newest in since


def test_audit_paging(audited):
    for _ in range(5):
        audited.user("page")
    everything = rows(audited)
    assert len(everything) >= 5
    ids = [r["id"] for r in everything]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == len(ids)

    paged = []
    cursor = None
    while True:
        params = {"limit": 2}
        if cursor is not None:
            params["cursor"] = cursor
        body = audit(audited, **params).json()["response"]
        assert body["count"] == len(body["results"]) <= 2
        assert body["cursor"] == (cursor or 0)
        paged.extend(body["results"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [r["id"] for r in paged] == ids


def test_audit_limit_capped(audited):
    for _ in range(3):
        audited.user("cap")
    body = audit(audited, limit=100000).json()["response"]
    assert body["count"] <= 200


@pytest.mark.parametrize("params, problem", [
    ({"limit": "0"}, "Invalid limit"),
    ({"limit": "ten"}, "Invalid limit"),
    ({"cursor": "-1"}, "Invalid cursor"),
    ({"since": "yesterday"}, "Invalid since"),
    ({"event": "x" * 60}, "Invalid event"),
    ({"user": "1"}, "Unknown parameter user"),
], ids=["zero-limit", "text-limit", "negative-cursor", "bad-since", "long-event", "unknown"])
def test_audit_bad_parameters(audited, params, problem):
    response = audit(audited, **params)
    body = assert_envelope(response, 400, "ERROR")
    assert body["message"].startswith(problem), body


# ---- The command -------------------------------------------------------------------------------

def test_audit_command(audited):
    user = audited.user("cli")
    assert audited.login(user["email"], unique_password()).status_code == 400
    result = run_cli("audit", "--db", audited.db_url, "--user", user["id"], "--event",
                     "login.failed", "--limit", "5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("TIME")
    assert len(lines) == 2, lines
    assert "login.failed" in lines[1]
    assert "reason=wrong_password" in lines[1]
    assert AGENT in lines[1]

    result = run_cli("audit", "--db", audited.db_url, "--limit", "1")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2

    bad = run_cli("audit", "--db", audited.db_url, "--limit", "0")
    assert bad.returncode == 2
    assert "--limit" in bad.stderr


def test_audit_command_missing_database(tmp_path):
    result = run_cli("audit", "--db", f"sqlite:{tmp_path / 'absent.db'}")
    assert result.returncode == 1
    assert "does not exist" in result.stderr
    assert not (tmp_path / "absent.db").exists()


# ---- Secrets -----------------------------------------------------------------------------------

def test_rows_hold_no_secrets(audited):
    """Runs after every test of the shared server, so it sees all that they planted."""
    text = table_text(audited)
    assert "login.failed" in text
    # Six-digit TOTP codes are left out: one may turn up inside a long numeric id by chance.
    leaked = [secret for secret in audited.secrets if len(secret) > 6 and secret in text]
    assert len(leaked) == 0, f"{len(leaked)} planted secret(s) appear in _froth_audit"


# ---- Retention ---------------------------------------------------------------------------------

def test_retention_prunes_old_rows(tmp_path):
    """Rows older than --audit-days go when the server starts, and newer ones stay."""
    now_ms = int(time.time() * 1000)
    old = {"time_ms": now_ms - 3 * 86400 * 1000, "event": "login.failed",
           "detail": "reason=wrong_password"}
    recent = {"time_ms": now_ms - 3600 * 1000, "event": "login.failed",
              "detail": "reason=unknown_email"}
    dump = tmp_path / "old.ndjson"
    dump.write_text("\n".join([
        json.dumps({"froth_export": 1, "app": "audit", "exported_at": "2024-01-01T00:00:00Z"}),
        json.dumps({"audit": old}),
        json.dumps({"audit": recent}),
        json.dumps({"froth_export_end": {"things": 0, "sessions": 0, "admin_tokens": 0,
                                         "audit": 2}}),
    ]) + "\n", encoding="utf-8")
    froth = Froth(APPS_DIR / "audit.json", tmp_path)
    try:
        result = run_cli("import", "--app", str(APPS_DIR / "audit.json"), "--db", froth.db_url,
                         "--in", str(dump))
        assert result.returncode == 0, result.stderr
        assert "audit rows: 2" in result.stderr, result.stderr
        froth.extra_args = ["--audit-days", "1"]
        froth.start()
        deadline = time.monotonic() + RETENTION_WAIT_S
        while len(rows(froth, event="login.failed")) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        details = [r["detail"] for r in rows(froth, event="login.failed")]
        assert details == ["reason=unknown_email"]
    finally:
        stop_and_check(froth)


def test_audit_days_flag_checked(tmp_path):
    result = run_cli("serve", "--app", str(APPS_DIR / "audit.json"), "--db",
                     f"sqlite:{tmp_path / 'x.db'}", "--audit-days", "-3")
    assert result.returncode == 2
    assert "--audit-days" in result.stderr
