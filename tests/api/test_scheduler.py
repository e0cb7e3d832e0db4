"""Scheduled workflows: run at or after their time, as the user who scheduled them, once, and
not at all when cancelled; pending runs survive a restart and are shared out between nodes."""

import datetime
import time

import pytest

from conftest import APPS_DIR, Froth, stop_and_check

POLL_S = 0.05
WAIT_S = 10


def make_server(work, db_from=None):
    froth = Froth(APPS_DIR / "schedule.json", work)
    if db_from is not None:
        froth.db_url = db_from.db_url
    froth.extra_args = ["--scheduler-poll-ms", "100"]
    froth.start()
    return froth


@pytest.fixture(scope="module")
def sched(tmp_path_factory):
    froth = make_server(tmp_path_factory.mktemp("sched"))
    yield froth
    stop_and_check(froth)


def iso_in(seconds):
    moment = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def reminders(server, token, title):
    constraint = [{"key": "title", "constraint_type": "equals", "value": title}]
    return server.search_ok("reminder", token, constraint)["results"]


def wait_for_reminders(server, token, title, count):
    deadline = time.monotonic() + WAIT_S
    found = []
    while time.monotonic() < deadline:
        found = reminders(server, token, title)
        if len(found) >= count:
            return found
        time.sleep(POLL_S)
    return found


def remind(server, token, title, when=None):
    body = {"title": title}
    if when is not None:
        body["when"] = when
    response = server.post("/api/1.1/wf/remind", token, json=body)
    assert response.status_code == 200, response.text
    return response.json()["response"]["job"]


def test_run_now_as_scheduling_user(sched):
    alice = sched.user("alice")
    remind(sched, alice["token"], "now")
    found = wait_for_reminders(sched, alice["token"], "now", 1)
    assert len(found) == 1
    assert found[0]["Created By"] == alice["id"]


def test_run_waits_for_its_time(sched):
    alice = sched.user("alice")
    remind(sched, alice["token"], "later", iso_in(2))
    time.sleep(0.5)
    assert reminders(sched, alice["token"], "later") == []
    found = wait_for_reminders(sched, alice["token"], "later", 1)
    assert len(found) == 1
    assert "due" in found[0]


def test_cancelled_run_never_happens(sched):
    alice = sched.user("alice")
    job = remind(sched, alice["token"], "cancelled", iso_in(1.5))
    response = sched.post("/api/1.1/wf/cancel", alice["token"], json={"job": job})
    assert response.status_code == 200
    time.sleep(3)
    assert reminders(sched, alice["token"], "cancelled") == []


def test_unexposed_target_not_callable(sched):
    response = sched.post("/api/1.1/wf/create-reminder", sched.admin, json={"title": "x"})
    assert response.status_code == 404


def test_pending_run_survives_restart(tmp_path_factory):
    work = tmp_path_factory.mktemp("restart")
    first = make_server(work)
    alice = first.user("alice")
    remind(first, alice["token"], "restart", iso_in(2))
    # Stopped without the harness's teardown, which would drop the database the run waits in.
    assert first.stop() == 0
    assert first.leaked_secrets() == []
    second = make_server(work, db_from=first)
    try:
        found = wait_for_reminders(second, alice["token"], "restart", 1)
        assert len(found) == 1
        time.sleep(1)
        assert len(reminders(second, alice["token"], "restart")) == 1
    finally:
        stop_and_check(second)
        first.drop_stores()


def test_two_nodes_run_each_once(tmp_path_factory):
    node_a = make_server(tmp_path_factory.mktemp("node-a"))
    node_b = make_server(tmp_path_factory.mktemp("node-b"), db_from=node_a)
    try:
        alice = node_a.user("alice")
        when = iso_in(1.5)
        for i in range(10):
            node = node_a if i % 2 == 0 else node_b
            remind(node, alice["token"], "shared", when)
        found = wait_for_reminders(node_a, alice["token"], "shared", 10)
        assert len(found) == 10
        time.sleep(1.5)
        assert len(reminders(node_b, alice["token"], "shared")) == 10
    finally:
        stop_and_check(node_b)
        stop_and_check(node_a)
