"""Harness for froth's black-box API tests.

Each test module starts the real froth binary on a fresh, empty store and a free loopback port, and
talks to it over HTTP only. FROTH_TEST_STORE picks the store. With "sqlite" (the default) each
server gets a new SQLite file. With "postgres" it gets a new database on the test cluster that
tests/pg/cluster.sh started and described in the file named by FROTH_TEST_PG_ENV. ctest sets both
variables. The binary comes from FROTH_BIN (set by ctest), else from
FROTH_ROOT/build-debug/froth or FROTH_ROOT/build/froth. Every password and token a test plants is
recorded, and teardown fails when any of them appears in the server's output or when the server
does not exit with status 0 on SIGTERM.
"""

import http.cookiejar
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests

HTTP_TIMEOUT_S = 5
IDLE_RECONNECT_S = 20
START_TIMEOUT_S = 10
STOP_TIMEOUT_S = 10
CLI_TIMEOUT_S = 30

ID_RE = re.compile(r"^\d{13}x\d+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

API_DIR = Path(__file__).resolve().parent
APPS_DIR = API_DIR / "apps"


def froth_root():
    """Return the repository root: FROTH_ROOT, else two levels above this file."""
    root = os.environ.get("FROTH_ROOT")
    if root:
        return Path(root)
    return API_DIR.parent.parent


def froth_bin():
    """Return the path of the froth binary, failing the test (never skipping) when there is none."""
    configured = os.environ.get("FROTH_BIN")
    if configured:
        if not os.access(configured, os.X_OK):
            pytest.fail(f"FROTH_BIN={configured} is not an executable file")
        # The server runs in a temporary directory, so a relative path would no longer resolve.
        return os.path.abspath(configured)
    for build_dir in ("build-debug", "build"):
        candidate = froth_root() / build_dir / "froth"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail("no froth binary: set FROTH_BIN or build build-debug/froth")


def todo_app():
    return str(froth_root() / "examples" / "todo" / "app.json")


def free_port():
    """Return a loopback port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def unique_email(prefix="user"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}@example.com"


def unique_password():
    # Long and random, so finding it in the server log cannot be a coincidence.
    return f"Pw-{uuid.uuid4().hex}-9!"


def store_kind():
    """Return the store the tests run on, "sqlite" or "postgres" (FROTH_TEST_STORE)."""
    kind = os.environ.get("FROTH_TEST_STORE", "sqlite")
    if kind not in ("sqlite", "postgres"):
        pytest.fail(f"FROTH_TEST_STORE={kind!r} is neither sqlite nor postgres")
    return kind


def pg_cluster():
    """Return the PostgreSQL test cluster's settings, failing (never skipping) without one.

    tests/pg/cluster.sh writes them as KEY=VALUE lines to the file FROTH_TEST_PG_ENV names.
    """
    path = os.environ.get("FROTH_TEST_PG_ENV")
    if not path or not os.path.isfile(path):
        pytest.fail(f"FROTH_TEST_STORE=postgres but FROTH_TEST_PG_ENV={path!r} names no file: "
                    "run the tests through ctest, whose pg.start test starts the cluster "
                    "(tests/pg/cluster.sh start)")
    settings = {}
    with open(path, encoding="utf-8") as env:
        for line in env:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                settings[key] = value
    return settings


def run_psql(cluster, sql):
    """Run one SQL statement as the cluster's superuser, failing the test when it fails."""
    psql = os.path.join(cluster["FROTH_PG_BINDIR"], "psql")
    result = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cluster["PGHOST"],
                             "-p", cluster["PGPORT"], "-U", cluster["PGUSER"], "-d", "postgres",
                             "-c", sql],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    if result.returncode != 0:
        pytest.fail(f"psql failed on {sql!r}: {result.stderr}")


def sql_rows(db_url, sql, params=()):
    """Run one SQL statement on a store (an sqlite: or postgres:// URL) outside froth and return
    its rows as lists of strings, for tests that check what froth stored. params fill the "?"
    marks; psql takes no parameters, so on PostgreSQL they go in as quoted literals."""
    if db_url.startswith("sqlite:"):
        import sqlite3
        with sqlite3.connect(db_url[len("sqlite:"):], timeout=10) as connection:
            rows = connection.execute(sql, params).fetchall()
        return [["" if value is None else str(value) for value in row] for row in rows]
    literal = tuple("NULL" if p is None else "'" + str(p).replace("'", "''") + "'" for p in params)
    psql = os.path.join(pg_cluster()["FROTH_PG_BINDIR"], "psql")
    result = subprocess.run([psql, "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1",
                             "-d", db_url, "-c", sql.replace("?", "%s") % literal],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    if result.returncode != 0:
        pytest.fail(f"psql failed: {result.stderr}")
    return [line.split("\t") for line in result.stdout.splitlines() if line]


def new_store(work_dir, name):
    """Create an empty store and return (URL for --db, function that deletes it).

    On SQLite the store is work_dir/<name>.db; on PostgreSQL it is a new database on the test
    cluster, reached through the cluster's Unix socket.
    """
    if store_kind() == "sqlite":
        return f"sqlite:{Path(work_dir) / (name + '.db')}", lambda: None
    cluster = pg_cluster()
    database = f"froth_{name}_{uuid.uuid4().hex[:12]}"
    run_psql(cluster, f'CREATE DATABASE "{database}"')
    host = urllib.parse.quote(cluster["PGHOST"], safe="/")
    url = (f"postgres://{cluster['PGUSER']}@/{database}?host={host}"
           f"&port={cluster['PGPORT']}")
    return url, lambda: run_psql(cluster, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def run_cli(*args, timeout=CLI_TIMEOUT_S):
    """Run the froth binary with args and return the CompletedProcess (text mode)."""
    return subprocess.run([froth_bin(), *args], capture_output=True, text=True, timeout=timeout,
                          cwd=str(froth_root()), check=False)


def describe(response):
    """Return a one-line summary of a response for assertion messages."""
    return f"{response.request.method} {response.request.path_url} -> {response.status_code} " \
           f"{response.text[:600]!r}"


def assert_envelope(response, status_code, status=None, message=None):
    """Assert Bubble's data error envelope {"statusCode":N,"body":{"status":S,"message":M}}.

    Returns the inner body so callers can check more.
    """
    assert response.status_code == status_code, describe(response)
    body = response.json()
    assert isinstance(body, dict), describe(response)
    assert body.get("statusCode") == status_code, describe(response)
    inner = body.get("body")
    assert isinstance(inner, dict), describe(response)
    assert isinstance(inner.get("status"), str), describe(response)
    assert isinstance(inner.get("message"), str), describe(response)
    if status is not None:
        assert inner["status"] == status, describe(response)
    if message is not None:
        assert inner["message"] == message, describe(response)
    return inner


def assert_unauthorized(response, translation_prefix=None, secret=None):
    """Assert the 401 auth-layer body {"error_class":"Unauthorized",...,"translation":T}."""
    assert response.status_code == 401, describe(response)
    body = response.json()
    assert body.get("error_class") == "Unauthorized", describe(response)
    if translation_prefix is not None:
        assert isinstance(body.get("translation"), str), describe(response)
        assert body["translation"].startswith(translation_prefix), describe(response)
    if secret is not None:
        echoed = secret in response.text
        assert not echoed, "the 401 body echoes the token"
    return body


def assert_denied(response, thing_id, translation):
    """Assert the exact 401 body of a write refused by privacy rules."""
    assert response.status_code == 401, describe(response)
    assert response.json() == {
        "error_class": "Unauthorized",
        "args": {"code": thing_id},
        "message": None,
        "translation": translation,
    }, describe(response)


def missing_body(type_name, thing_id):
    return {"statusCode": 404, "body": {
        "status": "MISSING_DATA",
        "message": f"Missing object of type {type_name}: object with id {thing_id} does not exist"}}


def find_keys(value, fragments):
    """Return every key, at any depth, that contains one of fragments (case-insensitive)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if any(fragment in key.lower() for fragment in fragments):
                found.append(key)
            found.extend(find_keys(item, fragments))
    elif isinstance(value, list):
        for item in value:
            found.extend(find_keys(item, fragments))
    return found


class Froth:
    """A running froth server plus the HTTP and CLI helpers the tests use."""

    def __init__(self, app_path, work_dir):
        self.app_path = str(app_path)
        self.work_dir = Path(work_dir)
        self._drop_stores = []
        self.db_url = self.extra_store("froth")
        self.log_path = self.work_dir / "server.log"
        self.stdout_path = self.work_dir / "server.out"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.secrets = []
        self.requests_sent = 0
        self.proc = None
        self.session = requests.Session()
        # No proxies from the environment and no cookies: every request carries only what the
        # test puts in it, so an anonymous request is really anonymous.
        self.session.trust_env = False
        self.session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._admin = None
        self.extra_args = []  # more serve flags, set by a fixture before start()
        # On PostgreSQL, froth will not serve an app with two-factor actions without a secret key
        # file, so the harness writes one unless a test gives its own or wants none.
        self.secret_key = True
        self._last_request = time.monotonic()

    # -- process -------------------------------------------------------------------------------

    def start(self):
        command = [froth_bin(), "serve", "--app", self.app_path, "--db", self.db_url,
                   "--host", "127.0.0.1", "--port", str(self.port),
                   # Every test client shares 127.0.0.1, so the per-address limits are raised;
                   # test_throttle.py runs servers with the defaults.
                   "--login-limit", "100000", "--signup-limit", "100000"] + list(self.extra_args)
        if (self.secret_key and self.db_url.startswith("postgres")
                and "--secret-key-file" not in command):
            key = Path(self.work_dir) / "secret.key"
            if not key.exists():
                key.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
                key.chmod(0o600)
            command += ["--secret-key-file", str(key)]
        with open(self.log_path, "wb") as log, open(self.stdout_path, "wb") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=log, stdin=subprocess.DEVNULL,
                                         cwd=str(self.work_dir))
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"froth serve exited with {self.proc.returncode} before serving:\n"
                            f"{self.output()[-3000:]}")
            try:
                response = self.session.get(self.base + "/_froth/health", timeout=1)
                self.requests_sent += 1
                if response.status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        pytest.fail(f"GET /_froth/health did not answer 200 within {START_TIMEOUT_S} s:\n"
                    f"{self.output()[-3000:]}")

    def extra_store(self, name):
        """Return the --db URL of a new empty store, deleted when the server is checked."""
        url, drop = new_store(self.work_dir, name)
        self._drop_stores.append(drop)
        return url

    def drop_stores(self):
        """Delete the stores this server used (PostgreSQL databases; SQLite files stay)."""
        while self._drop_stores:
            self._drop_stores.pop()()

    def stop(self):
        """Send SIGTERM and return the exit status (None when it had to be killed)."""
        self.session.close()
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def output(self):
        """Return everything the server wrote to stderr and stdout so far."""
        text = ""
        for path in (self.log_path, self.stdout_path):
            if path.exists():
                text += path.read_bytes().decode("utf-8", "replace")
        return text

    def leaked_secrets(self):
        log = self.output()
        return [secret for secret in self.secrets if secret and secret in log]

    def plant(self, secret):
        """Record a value that must never appear in the server's output."""
        self.secrets.append(secret)
        return secret

    # -- HTTP ----------------------------------------------------------------------------------

    def request(self, method, path, token=None, headers=None, **kwargs):
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        # froth closes keep-alive connections idle for 30 s (--timeout). A test that waited that
        # long (for a new TOTP step, say) must not send on a connection the server is closing.
        now = time.monotonic()
        if now - self._last_request > IDLE_RECONNECT_S:
            self.session.close()
        self._last_request = now
        self.requests_sent += 1
        return self.session.request(method, self.base + path, headers=all_headers, **kwargs)

    def get(self, path, token=None, **kwargs):
        return self.request("GET", path, token, **kwargs)

    def post(self, path, token=None, **kwargs):
        return self.request("POST", path, token, **kwargs)

    def patch(self, path, token=None, **kwargs):
        return self.request("PATCH", path, token, **kwargs)

    def put(self, path, token=None, **kwargs):
        return self.request("PUT", path, token, **kwargs)

    def delete(self, path, token=None, **kwargs):
        return self.request("DELETE", path, token, **kwargs)

    def assert_serving(self):
        assert self.proc.poll() is None, f"froth exited with {self.proc.returncode}"
        response = self.get("/_froth/health")
        assert response.status_code == 200, describe(response)

    # -- workflows -----------------------------------------------------------------------------

    def signup(self, email=None, password=None, name=None):
        """Sign a new user up through the signup workflow. Returns (user_id, token)."""
        email = email or unique_email()
        password = self.plant(password or unique_password())
        body = {"email": email, "password": password}
        if name is not None:
            body["name"] = name
        response = self.post("/api/1.1/wf/signup", json=body)
        assert response.status_code == 200, describe(response)
        payload = response.json()["response"]
        self.plant(payload["token"])
        return payload["user_id"], payload["token"]

    def login(self, email, password, stay_logged_in=None):
        """Run the login workflow and return the response, planting any token it carries."""
        self.plant(password)
        body = {"email": email, "password": password}
        if stay_logged_in is not None:
            body["stay_logged_in"] = stay_logged_in
        response = self.post("/api/1.1/wf/login", json=body)
        if response.status_code == 200:
            token = response.json().get("response", {}).get("token")
            if isinstance(token, str):
                self.plant(token)
        return response

    def user(self, prefix="user", name=None):
        """Sign up a user with a unique email. Returns a dict with id, token, email, password."""
        email = unique_email(prefix)
        password = unique_password()
        user_id, token = self.signup(email, password, name)
        return {"id": user_id, "token": token, "email": email, "password": password}

    # -- Data API ------------------------------------------------------------------------------

    def create(self, type_name, token, fields):
        """Create a thing through the Data API and return its id (asserting 201)."""
        response = self.post(f"/api/1.1/obj/{type_name}", token, json=fields)
        assert response.status_code == 201, describe(response)
        return response.json()["id"]

    def fetch(self, type_name, thing_id, token):
        """GET one thing and return its "response" object (asserting 200)."""
        response = self.get(f"/api/1.1/obj/{type_name}/{thing_id}", token)
        assert response.status_code == 200, describe(response)
        return response.json()["response"]

    def search(self, type_name, token=None, constraints=None, **params):
        """Run a Data API search and return the raw response."""
        query = {key: value for key, value in params.items() if value is not None}
        if constraints is not None:
            query["constraints"] = json.dumps(constraints)
        return self.get(f"/api/1.1/obj/{type_name}", token, params=query)

    def search_ok(self, type_name, token=None, constraints=None, **params):
        """Run a search, assert 200 and return its "response" object."""
        response = self.search(type_name, token, constraints, **params)
        assert response.status_code == 200, describe(response)
        return response.json()["response"]

    # -- CLI -----------------------------------------------------------------------------------

    def admin_token(self, label=None):
        """Create an admin token with the CLI and return it."""
        label = label or f"test-{uuid.uuid4().hex[:8]}"
        result = run_cli("admin-token", "create", "--label", label, "--db", self.db_url)
        assert result.returncode == 0, f"admin-token create failed: {result.stderr}"
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        assert lines, f"admin-token create printed nothing: {result.stderr}"
        return self.plant(lines[-1])

    @property
    def admin(self):
        """One admin token shared by the tests of a module."""
        if self._admin is None:
            self._admin = self.admin_token("shared")
        return self._admin


def start_froth(app_path, work_dir):
    server = Froth(app_path, work_dir)
    server.start()
    return server


def stop_and_check(server):
    """Stop the server and fail on a non-zero exit status or a leaked secret."""
    status = server.stop()
    server.drop_stores()
    leaked = server.leaked_secrets()
    assert status == 0, f"froth did not exit with 0 on SIGTERM (status {status}):\n" \
                        f"{server.output()[-3000:]}"
    # Compare the count, so a failure report does not print the secrets themselves.
    assert len(leaked) == 0, f"{len(leaked)} planted secret(s) appear in the server output"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A froth server for the example todo app, shared by the tests of one module."""
    froth = start_froth(todo_app(), tmp_path_factory.mktemp("froth"))
    yield froth
    stop_and_check(froth)


@pytest.fixture(scope="module")
def rental(tmp_path_factory):
    """A froth server for tests/api/apps/rental.json (spaced names, a type not exposed)."""
    froth = start_froth(APPS_DIR / "rental.json", tmp_path_factory.mktemp("rental"))
    yield froth
    stop_and_check(froth)
