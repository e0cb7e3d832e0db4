"""Restarts under load: a node, then the database, restarted while the other parts keep serving.

Background traffic runs in a thread per node until the test stops it; each loop is bounded in
requests and in time.
"""

import collections
import re
import threading
import time

import pytest
import requests

from conftest import Cluster, describe, new_session, todo_app

TRAFFIC_MAX_REQUESTS = 3000
TRAFFIC_MAX_S = 30
TRAFFIC_PAUSE_S = 0.002
RECOVERY_LIMIT_S = 10
RECOVERY_POLL_S = 0.05
JOIN_TIMEOUT_S = 15
REQUEST_ID_RE = re.compile(r"request [0-9a-f]{16}")


class Traffic:
    """Requests sent to one node from a thread of their own, recorded for the test to check."""

    def __init__(self, node, method, path, token, body_of=None):
        self.node = node
        self.method = method
        self.path = path
        self.token = token
        self.body_of = body_of  # request number -> JSON body, or None for no body
        self.outcomes = []      # (status code or exception, response body)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        deadline = time.monotonic() + TRAFFIC_MAX_S
        with new_session() as session:
            for number in range(TRAFFIC_MAX_REQUESTS):
                if self._stop.is_set() or time.monotonic() >= deadline:
                    break
                body = None if self.body_of is None else self.body_of(number)
                try:
                    response = self.node.send(session, self.method, self.path, self.token,
                                              json=body)
                    self.outcomes.append((response.status_code, response.text))
                except requests.RequestException as error:
                    self.outcomes.append((error, ""))
                time.sleep(TRAFFIC_PAUSE_S)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stop.set()
        self._thread.join(JOIN_TIMEOUT_S)
        assert not self._thread.is_alive(), f"traffic to {self.node} did not stop"

    def statuses(self):
        return collections.Counter(
            status if isinstance(status, int) else type(status).__name__
            for status, _ in self.outcomes)


def test_node_restart_keeps_tokens_and_data(cluster):
    node_a, node_b = cluster.start_nodes(2)
    user = cluster.signup(node_a)
    token_from_b = cluster.login(node_b, user)
    before = node_a.create("task", user["token"], {"title": "before the restart"})
    assert node_b.fetch("task", before, token_from_b)["title"] == "before the restart"

    with Traffic(node_a, "POST", "/api/1.1/obj/task", user["token"],
                 lambda number: {"title": f"during the restart {number}"}) as traffic:
        time.sleep(0.1)
        status = node_b.stop()
        assert status == 0, f"node B exited with {status} on SIGTERM"
        during = node_a.create("task", user["token"], {"title": "while B was down"})
        node_b.start()
        time.sleep(0.1)

    assert traffic.outcomes, "no request reached node A during the restart"
    assert set(traffic.statuses()) == {201}, \
        f"node A answered otherwise than 201 while B restarted: {dict(traffic.statuses())}"
    assert node_a.alive()

    # Tokens issued before the restart, on either node, work on the restarted node.
    for token in (user["token"], token_from_b):
        assert node_b.fetch("task", before, token)["title"] == "before the restart"
        assert node_b.fetch("task", during, token)["title"] == "while B was down"
    found = node_b.search_ok("task", token_from_b, limit=1)
    assert found["count"] + found["remaining"] == 2 + len(traffic.outcomes), found

    # A token issued by the restarted node works on the node that kept running.
    token_after = cluster.login(node_b, user)
    assert node_a.fetch("task", during, token_after)["title"] == "while B was down"


@pytest.fixture
def restartable(private_pg, tmp_path):
    """Nodes serving the todo app from a private PostgreSQL cluster that a test may restart."""
    work_dir = tmp_path / "nodes"
    work_dir.mkdir()
    nodes = Cluster(private_pg, work_dir, todo_app())
    yield nodes
    nodes.stop_and_check()


def serves_correctly(node, token, task_id):
    """Return None when node serves a read, a search and a create correctly, else the failure."""
    try:
        response = node.get(f"/api/1.1/obj/task/{task_id}", token)
        if response.status_code != 200:
            return describe(response)
        if response.json()["response"]["title"] != "before the database restart":
            return describe(response)
        response = node.search("task", token, limit=1)
        if response.status_code != 200:
            return describe(response)
        found = response.json()["response"]
        if found["count"] + found["remaining"] < 1:
            return describe(response)
        response = node.post("/api/1.1/obj/task", token, json={"title": "after recovery"})
        if response.status_code != 201:
            return describe(response)
    except requests.RequestException as error:
        return repr(error)
    return None


def test_database_restart_recovers_without_node_restart(restartable):
    nodes = restartable.start_nodes(2)
    pg = restartable.pg
    user = restartable.signup(nodes[0])
    task_id = nodes[0].create("task", user["token"], {"title": "before the database restart"})

    with Traffic(nodes[0], "GET", f"/api/1.1/obj/task/{task_id}", user["token"]) as read_a, \
            Traffic(nodes[1], "POST", "/api/1.1/obj/task", user["token"],
                    lambda number: {"title": f"during {number}"}) as write_b:
        time.sleep(0.2)
        pg.restart()

        recovered = {}
        started = time.monotonic()
        for node in nodes:
            problem = "not polled"
            while time.monotonic() - started < RECOVERY_LIMIT_S:
                problem = serves_correctly(node, user["token"], task_id)
                if problem is None:
                    break
                time.sleep(RECOVERY_POLL_S)
            assert problem is None, \
                f"{node} did not serve correctly {RECOVERY_LIMIT_S} s after the database " \
                f"restarted: {problem}\n{node.output()[-2000:]}"
            recovered[node.name] = time.monotonic() - started
        time.sleep(0.2)

    for node in nodes:
        assert node.alive(), f"{node} exited with {node.proc.returncode}:\n{node.output()[-3000:]}"

    failures = []
    for traffic, ok_status in ((read_a, 200), (write_b, 201)):
        statuses = traffic.statuses()
        print(f"{traffic.node} {traffic.method} during the database restart: {dict(statuses)}")
        # Bodies differ only in the request id they name, so count them without it.
        bodies = collections.Counter(REQUEST_ID_RE.sub("request <id>", body)
                                     for status, body in traffic.outcomes if status == 500)
        for body, count in bodies.items():
            print(f"  500 x {count}: {body[:300]}")
        unexpected = set(statuses) - {ok_status, 500, 503}
        if unexpected:
            failures.append(f"{traffic.node}: {dict(statuses)}")
        assert statuses[ok_status] > 0, f"{traffic.node} never answered {ok_status}"
        # The last requests ran after recovery, so they must have succeeded.
        assert traffic.outcomes[-1][0] == ok_status, f"{traffic.node}: {traffic.outcomes[-1]}"
    print(f"time to serve correctly after pg_ctl restart returned: "
          f"{', '.join(f'{name} {seconds:.2f} s' for name, seconds in recovered.items())}")
    assert not failures, f"answers other than success, 500 or 503: {failures}"

    # The session and the data written before the restart survive it, on both nodes, and a node
    # that serves reads and writes again serves logins too, at the first attempt.
    for node in nodes:
        assert node.fetch("task", task_id, user["token"])["title"] == "before the database restart"
        response = node.post("/api/1.1/wf/login",
                             json={"email": user["email"], "password": user["password"]})
        if response.status_code == 200:
            restartable.plant(response.json()["response"]["token"])
        assert response.status_code == 200, \
            f"first login on {node} after the database restart: {describe(response)}"
        token = response.json()["response"]["token"]
        assert node.get("/api/1.1/obj/task", token).status_code == 200
