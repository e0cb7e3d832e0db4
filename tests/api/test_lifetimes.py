"""Token lifetimes: the absolute expiry fixed at login, the idle window that each use extends,
--idle-days, and the 401 an expired token gets.

Nothing here sleeps for a lifetime. A test moves time by rewriting the session's row in
_froth_sessions (created, last_used and expires are epoch milliseconds), so that the session looks
as if it had been issued or last used days ago, and then sends the token to froth.

Every check after such a rewrite goes to a server started after the rewrite. froth keeps the
sessions it has checked in an in-memory cache, and a row rewritten behind its back does not reach
that cache: on SQLite the cache trusts itself because every change to a session passes through
the one froth process, and on PostgreSQL the database notifies froth only of revocations. A server
that checked the token before the rewrite would answer from its old copy of the row, so the tests
stop it and start another process, whose cache is empty, on the same database.
"""

import hashlib
import secrets
import time
from pathlib import Path

import pytest

from conftest import APPS_DIR, Froth, describe, sql_rows, stop_and_check, store_kind
from test_twofactor import enrol, login

APP = APPS_DIR / "lifetimes.json"

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS

# The lifetimes Bubble documents, in seconds, and froth's default idle window.
SHORT_S = 24 * 3600
LONG_S = 365 * 24 * 3600
LONG_2FA_S = 30 * 24 * 3600
IDLE_DAYS = 30

# The body of every 401 for a token that is unknown, revoked or expired.
UNAUTHORIZED = {"error_class": "Unauthorized", "args": {}, "message": None,
                "translation": "Invalid or expired token"}


def now_ms():
    return int(time.time() * 1000)


class Restartable:
    """One database and the froth server serving it, which a test can replace by a new process
    (with an empty credential cache) after it rewrote session rows. Every server shares one list
    of planted secrets and one secret key file."""

    def __init__(self, work_dir, extra_args=()):
        self.work_dir = Path(work_dir)
        self.key = self.work_dir / "secret.key"
        self.key.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
        self.key.chmod(0o600)
        self.servers = []
        self.server = self._start(None, extra_args)
        self.db_url = self.server.db_url
        self.secrets = self.server.secrets

    def _start(self, db_url, extra_args):
        work = self.work_dir / f"server-{len(self.servers)}"
        work.mkdir()
        froth = Froth(APP, work)
        if db_url is not None:
            froth.db_url = db_url
            froth.secrets = self.secrets
        froth.extra_args = ["--secret-key-file", str(self.key)] + list(extra_args)
        self.servers.append(froth)
        froth.start()
        return froth

    def restart(self, extra_args=()):
        """Stop the current server and start a new one on the same database. Returns it."""
        status = self.server.stop()
        assert status == 0, f"froth exited with {status}:\n{self.server.output()[-3000:]}"
        self.server = self._start(self.db_url, extra_args)
        return self.server

    def close(self):
        # The first server created the database, so it is checked, and its database dropped, last.
        for froth in reversed(self.servers):
            stop_and_check(froth)


@pytest.fixture
def froth(tmp_path):
    deployment = Restartable(tmp_path)
    yield deployment
    deployment.close()


# ---- Reading and rewriting session rows ----------------------------------------------------------

def token_match():
    """Return the SQL condition that selects the session of one token, given the token's SHA-256
    in lowercase hex (froth stores only the hash)."""
    if store_kind() == "sqlite":
        return 'lower(hex("token_hash")) = ?'
    return "encode(\"token_hash\", 'hex') = ?"


def token_hash(token):
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def session_row(froth, token):
    """Return the stored session of token as a dict of integers and booleans."""
    rows = sql_rows(froth.db_url,
                    'SELECT "created", "last_used", "expires", "idle_ms", "two_factor", '
                    f'"revoked" FROM "_froth_sessions" WHERE {token_match()}',
                    (token_hash(token),))
    assert len(rows) == 1, f"{len(rows)} session rows for one token"
    created, last_used, expires, idle_ms, two_factor, revoked = rows[0]
    return {"created": int(created), "last_used": int(last_used), "expires": int(expires),
            "idle_ms": int(idle_ms), "two_factor": two_factor in ("1", "t"),
            "revoked": revoked in ("1", "t")}


def age_session(froth, token, ms):
    """Move every time of the session ms into the past, as if the clock had moved forward by ms
    since the session was issued and last used."""
    sql_rows(froth.db_url,
             'UPDATE "_froth_sessions" SET "created" = "created" - ?, '
             '"last_used" = "last_used" - ?, "expires" = "expires" - ? '
             f'WHERE {token_match()}', (ms, ms, ms, token_hash(token)))


def set_last_used(froth, token, when_ms):
    sql_rows(froth.db_url, f'UPDATE "_froth_sessions" SET "last_used" = ? WHERE {token_match()}',
             (when_ms, token_hash(token)))


# ---- Requests ------------------------------------------------------------------------------------

def signup(server, stay=None):
    """Sign a new user up. Returns (user dict, response payload)."""
    email = f"life-{secrets.token_hex(6)}@example.com"
    password = server.plant(f"Pw-{secrets.token_hex(16)}-9!")
    body = {"email": email, "password": password}
    if stay is not None:
        body["stay_logged_in"] = stay
    response = server.post("/api/1.1/wf/signup", json=body)
    assert response.status_code == 200, describe(response)
    payload = response.json()["response"]
    server.plant(payload["token"])
    return {"id": payload["user_id"], "email": email, "password": password}, payload


def login_token(server, user, stay=None):
    """Log user in with their password. Returns (token, expires)."""
    response = server.login(user["email"], user["password"], stay_logged_in=stay)
    assert response.status_code == 200, describe(response)
    payload = response.json()["response"]
    return payload["token"], payload["expires"]


def assert_accepted(server, token, user):
    """Assert that token authenticates as user."""
    response = server.post("/api/1.1/wf/whoami", token)
    assert response.status_code == 200, describe(response)
    assert response.json()["response"]["user"] == user["id"], describe(response)


def assert_rejected(server, token):
    response = server.post("/api/1.1/wf/whoami", token)
    assert response.status_code == 401, describe(response)
    assert response.json() == UNAUTHORIZED, describe(response)


def listed_expiry(server, token):
    """Return the `expires` that GET /_froth/sessions shows for the caller's own session."""
    response = server.get("/_froth/sessions", token)
    assert response.status_code == 200, describe(response)
    current = [s for s in response.json()["sessions"] if s["current"]]
    assert len(current) == 1, describe(response)
    return current[0]["expires"]


def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


# ---- Lifetimes at issue --------------------------------------------------------------------------

def assert_issued(froth, token, expires_s, two_factor):
    """Assert that the stored session of token was issued with the lifetime expires_s, the
    default idle window and the two-factor flag."""
    row = session_row(froth, token)
    assert row["expires"] - row["created"] == expires_s * 1000
    assert row["last_used"] == row["created"]
    assert row["idle_ms"] == IDLE_DAYS * DAY_MS
    assert row["two_factor"] is two_factor
    assert row["revoked"] is False


@pytest.mark.parametrize("stay, expires_s", [(None, SHORT_S), (False, SHORT_S), (True, LONG_S)])
def test_signup_expires_follows_stay(froth, stay, expires_s):
    _, payload = signup(froth.server, stay)
    assert payload["expires"] == expires_s
    assert isinstance(payload["expires"], int)
    assert_issued(froth, payload["token"], expires_s, two_factor=False)


@pytest.mark.parametrize("stay, expires_s", [(None, SHORT_S), (False, SHORT_S), (True, LONG_S)])
def test_login_expires_follows_stay(froth, stay, expires_s):
    user, _ = signup(froth.server)
    token, expires = login_token(froth.server, user, stay)
    assert expires == expires_s
    assert_issued(froth, token, expires_s, two_factor=False)


def test_two_factor_login_expires(froth):
    """A login with a second factor lasts 30 days with stay_logged_in and 24 hours without. A
    recovery code is the second factor here, so the test never waits for a new TOTP step."""
    user = enrol(froth.server)
    for stay, expires_s, code in [(True, LONG_2FA_S, user["codes"][0]),
                                  (None, SHORT_S, user["codes"][1]),
                                  (False, SHORT_S, user["codes"][2])]:
        response = login(froth.server, user, code=code, stay=stay)
        assert response.status_code == 200, describe(response)
        payload = response.json()["response"]
        assert payload["expires"] == expires_s, f"stay_logged_in={stay}"
        assert_issued(froth, payload["token"], expires_s, two_factor=True)


# ---- Idle expiry ---------------------------------------------------------------------------------

def test_session_idle_31_days_rejected(froth):
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user, stay=True)
    age_session(froth, token, 31 * DAY_MS)
    before = session_row(froth, token)

    assert_rejected(froth.restart(), token)
    # A rejected token does not count as a use, so its last-used time stays where it was.
    assert session_row(froth, token) == before


def test_session_used_29_days_ago_accepted(froth):
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user, stay=True)
    age_session(froth, token, 29 * DAY_MS)
    aged = session_row(froth, token)

    server = froth.restart()
    start = now_ms()
    assert_accepted(server, token, user)
    end = now_ms()
    used = session_row(froth, token)
    assert start <= used["last_used"] <= end
    assert used["created"] == aged["created"]
    assert used["expires"] == aged["expires"]

    # The use opened a new 30-day window, so 29 more days later the token still works, 58 days
    # after it was issued.
    age_session(froth, token, 29 * DAY_MS)
    assert_accepted(froth.restart(), token, user)


def test_last_used_written_once_a_minute(froth):
    """froth writes a use to the row only when the stored one is a minute old or more, so reads
    stay reads."""
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user, stay=True)

    # NOTE: the row must still be less than a minute old when the new server checks it, so this
    # step assumes that a restart and one request take well under 50 seconds.
    recent = now_ms() - 10 * SECOND_MS
    set_last_used(froth, token, recent)
    assert_accepted(froth.restart(), token, user)
    assert session_row(froth, token)["last_used"] == recent

    stale = now_ms() - 2 * MINUTE_MS
    set_last_used(froth, token, stale)
    server = froth.restart()
    start = now_ms()
    assert_accepted(server, token, user)
    assert session_row(froth, token)["last_used"] >= start


def test_idle_days_sets_window_of_new_sessions(froth):
    user, _ = signup(froth.server)
    before_restart, _ = login_token(froth.server, user, stay=True)

    server = froth.restart(["--idle-days", "2"])
    fresh, _ = login_token(server, user, stay=True)
    rested, _ = login_token(server, user, stay=True)
    assert session_row(froth, fresh)["idle_ms"] == 2 * DAY_MS
    assert session_row(froth, before_restart)["idle_ms"] == IDLE_DAYS * DAY_MS
    age_session(froth, fresh, 3 * DAY_MS)
    age_session(froth, rested, 1 * DAY_MS)
    # A session keeps the window it was issued with, so a shorter --idle-days leaves it alone.
    age_session(froth, before_restart, 3 * DAY_MS)

    server = froth.restart(["--idle-days", "2"])
    assert_rejected(server, fresh)
    assert_accepted(server, rested, user)
    assert_accepted(server, before_restart, user)


# ---- Absolute expiry -----------------------------------------------------------------------------

@pytest.mark.parametrize("stay, lifetime_ms", [(False, SHORT_S * 1000), (True, LONG_S * 1000)])
def test_absolute_expiry_despite_recent_use(froth, stay, lifetime_ms):
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user, stay=stay)
    age_session(froth, token, lifetime_ms + HOUR_MS)
    set_last_used(froth, token, now_ms() - 10 * MINUTE_MS)

    assert_rejected(froth.restart(), token)


def test_idle_extension_stops_at_absolute_expiry(froth):
    """A use near the end of a 24-hour session moves the idle deadline to 30 days later, but the
    session still ends 24 hours after it was issued."""
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user)
    age_session(froth, token, 23 * HOUR_MS)
    absolute = session_row(froth, token)["expires"]

    server = froth.restart()
    start = now_ms()
    assert_accepted(server, token, user)
    assert session_row(froth, token)["last_used"] >= start
    assert listed_expiry(server, token) == iso(absolute)

    # Two hours later the last use is two hours old, well inside the idle window, but the session
    # is past its end.
    age_session(froth, token, 2 * HOUR_MS)
    assert_rejected(froth.restart(), token)


def test_listed_expiry_is_idle_deadline_when_earlier(froth):
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user, stay=True)
    age_session(froth, token, 10 * DAY_MS)

    server = froth.restart()
    assert_accepted(server, token, user)
    row = session_row(froth, token)
    assert listed_expiry(server, token) == iso(row["last_used"] + IDLE_DAYS * DAY_MS)
    assert row["last_used"] + IDLE_DAYS * DAY_MS < row["expires"]


def test_cached_idle_session_rereads_row(froth):
    """A server's cached copy of a session keeps the last use it knew of, but on PostgreSQL other
    nodes record the uses they serve only in the row. A session idle by the cached copy must be
    read again from the row, which may show a later use, before the server rejects the token.

    This is the one test that waits, about two seconds: the cached copy has to become idle in
    real time between two checks by one server. The row gets a 50-second idle window that ends
    shortly, so the first check caches the session without writing a use (that happens only
    when the stored use is a minute old), and the second check comes after the window ended."""
    user, _ = signup(froth.server)
    token, _ = login_token(froth.server, user, stay=True)
    window_ms = 50 * SECOND_MS
    sql_rows(froth.db_url, f'UPDATE "_froth_sessions" SET "idle_ms" = ? WHERE {token_match()}',
             (window_ms, token_hash(token)))

    # A slow machine may miss the window before the first check, so a longer one is tried then.
    for margin_ms in (2 * SECOND_MS, 10 * SECOND_MS, 30 * SECOND_MS):
        idle_end = now_ms() + margin_ms
        set_last_used(froth, token, idle_end - window_ms)
        server = froth.restart()
        response = server.post("/api/1.1/wf/whoami", token)
        if response.status_code == 200 and now_ms() < idle_end:
            break
    else:
        pytest.fail(f"the first check never came before the idle window ended: {describe(response)}")
    time.sleep((idle_end - now_ms()) / 1000 + 0.2)

    # Another node served the token just now and recorded the use.
    set_last_used(froth, token, now_ms())
    assert_accepted(server, token, user)


# ---- What a rejected token reveals ---------------------------------------------------------------

def test_expired_token_answer_matches_unknown(froth):
    """An idle-expired, a past-expiry and a revoked token get the answer an unknown token gets,
    so a client cannot tell whether a token ever existed."""
    server = froth.server
    user, _ = signup(server)
    idle, _ = login_token(server, user, stay=True)
    ended, _ = login_token(server, user)
    revoked, _ = login_token(server, user)
    response = server.post("/api/1.1/wf/logout", revoked)
    assert response.status_code == 200, describe(response)
    age_session(froth, idle, 31 * DAY_MS)
    age_session(froth, ended, 25 * HOUR_MS)
    set_last_used(froth, ended, now_ms())
    unknown = server.plant(secrets.token_urlsafe(32))

    server = froth.restart()
    for path in ("/api/1.1/wf/whoami", "/api/1.1/obj/user"):
        method = server.post if path.startswith("/api/1.1/wf/") else server.get
        answers = {}
        for name, token in [("unknown", unknown), ("idle", idle), ("ended", ended),
                            ("revoked", revoked)]:
            for where in ("header", "query"):
                if where == "header":
                    response = method(path, token)
                else:
                    response = method(path, params={"api_token": token})
                assert response.status_code == 401, describe(response)
                assert token not in response.text
                answers[(name, where)] = (response.status_code, response.text,
                                          response.headers.get("Content-Type"),
                                          response.headers.get("WWW-Authenticate"))
        assert len(set(answers.values())) == 1, answers
    assert server.post("/api/1.1/wf/whoami", unknown).json() == UNAUTHORIZED
