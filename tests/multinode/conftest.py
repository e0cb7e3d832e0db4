"""Harness for froth's multi-node tests.

Several froth processes, each on its own loopback port, serve one app from one PostgreSQL
database, as machines behind a load balancer would. The tests send each request to a chosen node
and check that the nodes together respond as a single node would. The single-server helpers come
from tests/api/conftest.py, loaded by path. Every node shares one list of planted secrets, so a
token issued on one node must not appear in any node's log. Teardown stops every node with
SIGTERM and fails when one does not exit with 0 or when a planted secret appears in any log.

The suite needs PostgreSQL: it uses the cluster named by FROTH_TEST_PG_ENV (ctest's pg.start test
starts it), and a test that restarts the database starts a private cluster of its own instead.
"""

import http.cookiejar
import importlib.util
import json
import os
import statistics
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
import requests

MULTINODE_DIR = Path(__file__).resolve().parent
CLUSTER_SCRIPT = MULTINODE_DIR.parent / "pg" / "cluster.sh"


def load_api_harness():
    """Load tests/api/conftest.py under a name of its own, so it cannot clash with this conftest."""
    path = MULTINODE_DIR.parent / "api" / "conftest.py"
    spec = importlib.util.spec_from_file_location("froth_api_harness", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


HARNESS = load_api_harness()
CLI_TIMEOUT_S = HARNESS.CLI_TIMEOUT_S
HTTP_TIMEOUT_S = HARNESS.HTTP_TIMEOUT_S
ID_RE = HARNESS.ID_RE
Froth = HARNESS.Froth
assert_envelope = HARNESS.assert_envelope
assert_unauthorized = HARNESS.assert_unauthorized
describe = HARNESS.describe
froth_bin = HARNESS.froth_bin
run_cli = HARNESS.run_cli
run_psql = HARNESS.run_psql
todo_app = HARNESS.todo_app
unique_email = HARNESS.unique_email
unique_password = HARNESS.unique_password

# Threads started by run_at_once must all finish within this many seconds.
CONCURRENT_TIMEOUT_S = 30

# A board where each card belongs to the user in its owner field, and ownership can be handed
# on. Unlike the example todo app, whose rules follow the Creator (a field no request can change),
# this lets a write take away the permission another write relies on.
BOARD_APP = {
    "name": "board",
    "settings": {"data_api": True, "workflow_api": True, "search_privacy": "strict",
                 "timezone": "UTC"},
    "option_sets": {"Priority": ["Low", "Medium", "High"]},
    "types": {
        "User": {
            "fields": {"name": "text"},
            "expose": True,
            "privacy": [
                {"name": "self", "when": "This User is Current User",
                 "view": "all", "find": True, "modify_via_api": True},
                {"name": "everyone else", "view": ["name"], "find": True},
            ],
        },
        "Card": {
            "fields": {
                "title": "text", "notes": "text", "done": "yes/no", "due": "date",
                "estimate": "number", "priority": "option Priority", "tags": "list of text",
                "owner": "User",
                **{f"note{n}": "text" for n in range(1, 9)},
            },
            "expose": True,
            "privacy": [
                {"name": "owner", "when": "This Card's owner is Current User",
                 "view": "all", "find": True, "modify_via_api": True},
                {"name": "everyone else", "find": False},
            ],
        },
    },
    "api_workflows": {
        "signup": {
            "auth": "none",
            "parameters": {"email": "text", "password": "text"},
            "actions": [{"action": "sign_up", "email": "email", "password": "password",
                         "stay_logged_in": "yes"}],
        },
        "logout": {"auth": "user_or_admin", "actions": [{"action": "log_out"}]},
    },
}


def new_session():
    """Return an HTTP session that sends only what the caller puts in each request.

    It ignores proxy settings in the environment and keeps no cookies. A session must not be
    shared between threads.
    """
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def as_cluster_owner(command):
    """Prefix a PostgreSQL server command so it runs as the cluster's owner, as cluster.sh does."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class PgCluster:
    """A PostgreSQL cluster described by a connection file that tests/pg/cluster.sh wrote."""

    def __init__(self, settings):
        self.settings = settings

    def create_database(self, name):
        """Create an empty database and return its --db URL, reached through the Unix socket."""
        database = f"froth_{name}_{uuid.uuid4().hex[:12]}"
        run_psql(self.settings, f'CREATE DATABASE "{database}"')
        host = urllib.parse.quote(self.settings["PGHOST"], safe="/")
        url = (f"postgres://{self.settings['PGUSER']}@/{database}?host={host}"
               f"&port={self.settings['PGPORT']}")
        return database, url

    def drop_database(self, database):
        run_psql(self.settings, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def restart(self):
        """Restart the server with pg_ctl -m fast, which ends every open session."""
        data_dir = Path(self.settings["FROTH_PG_DIR"]) / "data"
        # -l keeps the server's output out of pg_ctl's stdout, which would otherwise stay open.
        log_file = Path(self.settings["FROTH_PG_DIR"]) / "server.log"
        pg_ctl = os.path.join(self.settings["FROTH_PG_BINDIR"], "pg_ctl")
        command = as_cluster_owner([pg_ctl, "-D", str(data_dir), "-l", str(log_file),
                                    "-m", "fast", "-w", "-t", "30", "restart"])
        result = subprocess.run(command, capture_output=True, text=True, timeout=CLI_TIMEOUT_S,
                                check=False)
        assert result.returncode == 0, f"pg_ctl restart failed: {result.stdout}{result.stderr}"


def read_connection_file(path):
    settings = {}
    with open(path, encoding="utf-8") as env:
        for line in env:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                settings[key] = value
    return settings


class Node(Froth):
    """One froth process of a cluster.

    A node serves the cluster's database rather than one of its own, records planted secrets in
    the cluster's shared list, and keeps the log of every run, so a restart loses nothing that
    teardown checks.
    """

    def __init__(self, name, app_path, work_dir, db_url, secrets):
        self._cluster_db_url = db_url
        super().__init__(app_path, work_dir)
        self.name = name
        self.secrets = secrets
        self.runs = 0

    def extra_store(self, name):
        # Froth.__init__ requests a store of the server's own; a node uses the cluster's database,
        # which the cluster creates and drops.
        if name == "froth":
            return self._cluster_db_url
        return super().extra_store(name)

    def start(self):
        """Start a new run on the same port, logging to files of its own."""
        self.log_path = self.work_dir / f"server.{self.runs}.log"
        self.stdout_path = self.work_dir / f"server.{self.runs}.out"
        self.runs += 1
        self.session = new_session()
        super().start()

    def output(self):
        text = ""
        for run in range(self.runs):
            for suffix in ("log", "out"):
                path = self.work_dir / f"server.{run}.{suffix}"
                if path.exists():
                    text += path.read_bytes().decode("utf-8", "replace")
        return text

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def send(self, session, method, path, token=None, **kwargs):
        """Send a request on the caller's session: worker threads each bring their own."""
        headers = dict(kwargs.pop("headers", None) or {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        return session.request(method, self.base + path, headers=headers, **kwargs)

    def __repr__(self):
        return f"node {self.name} (port {self.port})"


class Cluster:
    """Froth nodes sharing one database on a PostgreSQL cluster, and what teardown checks."""

    def __init__(self, pg, work_dir, app_path):
        self.pg = pg
        self.work_dir = Path(work_dir)
        self.app_path = str(app_path)
        self.secrets = []
        self.nodes = []
        self.database, self.db_url = pg.create_database("multinode")

    def plant(self, secret):
        """Record a value that must never appear in any node's output."""
        self.secrets.append(secret)
        return secret

    def start_nodes(self, count, extra_args=()):
        """Start count more nodes, each on a free port with extra_args as more serve flags, and
        return them."""
        started = []
        for _ in range(count):
            name = "ABCDEFGH"[len(self.nodes)]
            work_dir = self.work_dir / f"node-{name}"
            work_dir.mkdir()
            node = Node(name, self.app_path, work_dir, self.db_url, self.secrets)
            node.extra_args = list(extra_args)
            self.nodes.append(node)
            node.start()
            started.append(node)
        return started

    def admin_token(self, label=None):
        """Create an admin token with the CLI and return (token, label)."""
        label = label or f"multi-{uuid.uuid4().hex[:8]}"
        result = run_cli("admin-token", "create", "--label", label, "--db", self.db_url)
        assert result.returncode == 0, f"admin-token create failed: {result.stderr}"
        lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        assert lines, f"admin-token create printed nothing: {result.stderr}"
        return self.plant(lines[-1]), label

    def signup(self, node, email=None, password=None):
        """Sign a user up on node and return a dict with id, token, email and password."""
        email = email or unique_email("multi")
        password = self.plant(password or unique_password())
        response = node.post("/api/1.1/wf/signup", json={"email": email, "password": password})
        assert response.status_code == 200, f"{node}: {describe(response)}"
        payload = response.json()["response"]
        self.plant(payload["token"])
        return {"id": payload["user_id"], "token": payload["token"], "email": email,
                "password": password}

    def login(self, node, user):
        """Log user in on node and return the new token."""
        response = node.post("/api/1.1/wf/login",
                             json={"email": user["email"], "password": user["password"]})
        assert response.status_code == 200, f"{node}: {describe(response)}"
        return self.plant(response.json()["response"]["token"])

    def stop_and_check(self):
        """Stop every node, drop the database, then fail on a bad exit status or a leaked secret.

        Every node is stopped before anything is asserted, so one failure leaves no process
        behind.
        """
        statuses = [(node, node.stop()) for node in self.nodes]
        self.pg.drop_database(self.database)
        for node, status in statuses:
            assert status == 0, f"{node} did not exit with 0 on SIGTERM (status {status}):\n" \
                                f"{node.output()[-3000:]}"
        for node in self.nodes:
            leaked = node.leaked_secrets()
            # Compare the count, so a failure report does not print the secrets themselves.
            assert len(leaked) == 0, f"{len(leaked)} planted secret(s) appear in {node}'s output"


def shared_pg_cluster():
    """Return the ctest run's PostgreSQL cluster, failing (never skipping) without one."""
    return PgCluster(HARNESS.pg_cluster())


@pytest.fixture
def cluster(tmp_path):
    """Nodes serving the example todo app from one fresh database on the shared cluster."""
    nodes = Cluster(shared_pg_cluster(), tmp_path, todo_app())
    yield nodes
    nodes.stop_and_check()


@pytest.fixture
def board(tmp_path):
    """Nodes serving BOARD_APP from one fresh database on the shared cluster."""
    app_path = tmp_path / "board.json"
    app_path.write_text(json.dumps(BOARD_APP, indent=2), encoding="utf-8")
    nodes = Cluster(shared_pg_cluster(), tmp_path, app_path)
    yield nodes
    nodes.stop_and_check()


@pytest.fixture
def private_pg(tmp_path):
    """A PostgreSQL cluster of this test's own, started and stopped with tests/pg/cluster.sh.

    Tests that restart the database use it, so that other tests sharing the ctest run's cluster
    never see their sessions cut.
    """
    state = tmp_path / "pg-state"
    command = ["bash", str(CLUSTER_SCRIPT)]
    result = subprocess.run([*command, "start", str(state)], capture_output=True, text=True,
                            timeout=120, check=False)
    if result.returncode != 0:
        pytest.fail(f"cluster.sh start failed: {result.stdout}{result.stderr}")
    try:
        yield PgCluster(read_connection_file(state / "connection.env"))
    finally:
        subprocess.run([*command, "stop", str(state)], capture_output=True, text=True,
                       timeout=60, check=False)


def run_at_once(calls, timeout=CONCURRENT_TIMEOUT_S):
    """Run each call in a thread of its own, released together, and return their results in order.

    Each call receives a fresh HTTP session. A call that raises has its exception in its place
    in the results. Fails when any thread is still running after timeout seconds.
    """
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def work(index, call):
        with new_session() as session:
            try:
                barrier.wait(timeout)
                results[index] = call(session)
            except Exception as error:  # reported to the test in place of a result
                results[index] = error

    threads = [threading.Thread(target=work, args=(i, call), daemon=True)
               for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = sum(thread.is_alive() for thread in threads)
    assert stuck == 0, f"{stuck} of {len(calls)} concurrent requests still running after " \
                       f"{timeout} s"
    return results


def summarize_ms(samples):
    """Return "min/median/max" of latencies given in seconds, as milliseconds."""
    return "min {:.1f} ms, median {:.1f} ms, max {:.1f} ms".format(
        min(samples) * 1000, statistics.median(samples) * 1000, max(samples) * 1000)
