"""Searches must not reveal field values that privacy rules hide.

In the todo app an assignee may find a task and view only its title, done and due fields. A
constraint or a sort on a hidden field (estimate, notes) is ignored on the things where the field
is hidden, so neither the result set, the counts nor the order depend on the hidden value.
"""

import json
import re
import time

import pytest

from conftest import APPS_DIR, Froth, describe, stop_and_check


def setup_assigned(server, estimates):
    alice = server.user("alice")
    bob = server.user("bob")
    ids = []
    for i, estimate in enumerate(estimates):
        ids.append(server.create("task", alice["token"], {
            "title": f"assigned {i}", "estimate": estimate, "notes": f"secret {estimate}",
            "assignee": bob["id"],
        }))
    return alice, bob, ids


def test_hidden_field_constraint_ignored(server):
    alice, bob, ids = setup_assigned(server, [1, 5, 9])
    constraint = [{"key": "estimate", "constraint_type": "greater than", "value": 4}]
    as_bob = server.search_ok("task", bob["token"], constraint)
    assert as_bob["count"] == 3
    assert as_bob["remaining"] == 0
    as_alice = server.search_ok("task", alice["token"], constraint)
    assert as_alice["count"] == 2


def test_hidden_text_constraint_ignored(server):
    alice, bob, ids = setup_assigned(server, [2, 3])
    constraint = [{"key": "notes", "constraint_type": "equals", "value": "secret 2"}]
    assert server.search_ok("task", bob["token"], constraint)["count"] == 2
    assert server.search_ok("task", alice["token"], constraint)["count"] == 1


def test_hidden_field_sort_ignored(server):
    alice, bob, ids = setup_assigned(server, [30, 10, 20])
    ascending = server.search_ok("task", bob["token"], sort_field="estimate")
    descending = server.search_ok("task", bob["token"], sort_field="estimate", descending="true")
    # Things created in the same millisecond follow their random ids, so the expected order is
    # the one a search without a sort returns.
    unsorted = [t["_id"] for t in server.search_ok("task", bob["token"])["results"]]
    created_order = [i for i in unsorted if i in ids]
    assert sorted(created_order) == sorted(ids)
    assert [t["_id"] for t in ascending["results"] if t["_id"] in ids] == created_order
    assert [t["_id"] for t in descending["results"] if t["_id"] in ids] == created_order
    for task in ascending["results"]:
        assert "estimate" not in task
        assert "notes" not in task

    as_alice = server.search_ok("task", alice["token"], sort_field="estimate",
                                constraints=None)
    mine = [t["estimate"] for t in as_alice["results"] if t["_id"] in ids]
    assert mine == [10, 20, 30]


def test_visible_field_constraint_applies(server):
    alice, bob, ids = setup_assigned(server, [4, 6])
    server.patch(f"/api/1.1/obj/task/{ids[0]}", alice["token"], json={"done": True})
    constraint = [{"key": "done", "constraint_type": "equals", "value": True}]
    result = server.search_ok("task", bob["token"], constraint)
    assert [t["_id"] for t in result["results"]] == [ids[0]]


def test_anonymous_constraint_reveals_nothing(server):
    alice, bob, ids = setup_assigned(server, [7])
    constraint = [{"key": "title", "constraint_type": "equals", "value": "assigned 0"}]
    result = server.search_ok("task", None, constraint)
    assert result["count"] == 0
    assert result["remaining"] == 0
    response = server.get("/api/1.1/obj/task", params={"constraints": json.dumps(constraint)})
    assert response.status_code == 200


@pytest.fixture(scope="module")
def constrain(tmp_path_factory):
    froth = Froth(APPS_DIR / "constrain.json", tmp_path_factory.mktemp("constrain"))
    froth.start()
    yield froth
    stop_and_check(froth)


@pytest.fixture(scope="module")
def search_off(tmp_path_factory):
    froth = Froth(APPS_DIR / "search_off.json", tmp_path_factory.mktemp("search-off"))
    froth.start()
    yield froth
    stop_and_check(froth)


def test_constrain_permission_allows_hidden_field(constrain):
    alice, bob, ids = setup_assigned(constrain, [1, 5, 9])
    constraint = [{"key": "estimate", "constraint_type": "greater than", "value": 4}]
    result = constrain.search_ok("task", bob["token"], constraint)
    assert result["count"] == 2
    for task in result["results"]:
        assert "estimate" not in task
    notes = [{"key": "notes", "constraint_type": "equals", "value": "secret 5"}]
    assert constrain.search_ok("task", bob["token"], notes)["count"] == 3


def test_search_privacy_off_applies_every_constraint(search_off):
    alice, bob, ids = setup_assigned(search_off, [1, 5, 9])
    constraint = [{"key": "estimate", "constraint_type": "greater than", "value": 4}]
    assert search_off.search_ok("task", bob["token"], constraint)["count"] == 2


# ---- Hidden things get the responses missing ones get ------------------------------------------
#
# tests/api/apps/oracle.json: a Project is found and viewed only by its creator, so to Bob every
# project of Alice's is hidden. Each probe below sends the same request with the id of such
# a project and with an id that names nothing, and expects the same status, the same body
# (the id aside, where the message quotes it) and the same number of SQL statements, which the
# access log records per request. The count stands in for the time the two take: froth must do
# the same work for both, with no early return that skips a query.

MISSING_PROJECT = "1700000000000x999999999999999999"
ACCESS_LOG_WAIT_S = 2


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    froth = Froth(APPS_DIR / "oracle.json", tmp_path_factory.mktemp("oracle"))
    froth.start()
    yield froth
    stop_and_check(froth)


@pytest.fixture(scope="module")
def people(oracle):
    """Alice, Bob and Alice's project, which Bob can neither find nor view."""
    alice = oracle.user("alice", name="Alice")
    bob = oracle.user("bob", name="Bob")
    project = oracle.create("project", alice["token"], {"name": "Secret plan", "budget": 7})
    # A first request per token fills the token cache, so later ones read no session row.
    for person in (alice, bob):
        assert oracle.get("/api/1.1/obj/user", person["token"]).status_code == 200
    return {"alice": alice, "bob": bob, "project": project}


def statements(server, response):
    """Return the SQL statement count the access log records for response's request."""
    request_id = response.headers["X-Request-Id"]
    pattern = re.compile(rf"request_id={request_id}\b.*?\bstatements=(\d+)")
    deadline = time.monotonic() + ACCESS_LOG_WAIT_S
    while True:
        match = pattern.search(server.log_path.read_text("utf-8", "replace"))
        if match:
            return int(match.group(1))
        if time.monotonic() > deadline:
            pytest.fail(f"no access log line with statements for request {request_id}")
        time.sleep(0.05)


def assert_same_answer(server, hidden, missing, hidden_id=None):
    """Assert that two lists of answers to the same probe differ in nothing but the id the
    message may quote, and that the two kinds of request cost the same statements.

    Authentication may add a statement to any request (a token cache that cannot be trusted
    for a moment, a session's last use written once a minute), so the fewest statements of each
    kind are compared: a query that only one path runs shows up in every try."""
    for answer in hidden[1:] + missing:
        assert answer.status_code == hidden[0].status_code, describe(answer)
        assert answer.headers.get("Content-Type") == hidden[0].headers.get("Content-Type")
    hidden_text = hidden[0].text if hidden_id is None else hidden[0].text.replace(
        hidden_id, MISSING_PROJECT)
    assert hidden_text == missing[0].text
    assert min(statements(server, r) for r in hidden) == \
        min(statements(server, r) for r in missing)


def probe(server, send, project, tries=3):
    """Send a request built by send(id), alternately for the hidden project and for a missing
    one, tries times each. Every probe is a request that changes nothing."""
    hidden, missing = [], []
    for _ in range(tries):
        hidden.append(send(project))
        missing.append(send(MISSING_PROJECT))
    return hidden, missing


@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_hidden_thing_by_id_answers_as_missing(oracle, people, method):
    bob = people["bob"]
    body = {"name": "mine now"} if method in ("PATCH", "PUT") else None

    def send(thing_id):
        return oracle.request(method, f"/api/1.1/obj/project/{thing_id}", bob["token"],
                              json=body)

    hidden, missing = probe(oracle, send, people["project"])
    assert hidden[0].json() == {"statusCode": 404, "body": {
        "status": "MISSING_DATA",
        "message": f"Missing object of type project: object with id {people['project']} "
                   "does not exist"}}
    assert_same_answer(oracle, hidden, missing, people["project"])
    assert oracle.fetch("project", people["project"], people["alice"]["token"])["name"] == \
        "Secret plan"


def test_hidden_thing_by_id_anonymous(oracle, people):
    hidden, missing = probe(oracle, lambda thing_id: oracle.get(
        f"/api/1.1/obj/project/{thing_id}"), people["project"])
    assert hidden[0].status_code == 404
    assert_same_answer(oracle, hidden, missing, people["project"])


@pytest.mark.parametrize("fields", [
    lambda project: {"title": "probe", "project": project},
    lambda project: {"title": "probe", "related": [project]},
])
def test_reference_to_hidden_thing_on_create(oracle, people, fields):
    bob = people["bob"]
    hidden, missing = probe(oracle, lambda thing_id: oracle.post(
        "/api/1.1/obj/task", bob["token"], json=fields(thing_id)), people["project"])
    assert hidden[0].status_code == 400, describe(hidden[0])
    assert "no thing of the referenced type has this id" in hidden[0].json()["body"]["message"]
    assert_same_answer(oracle, hidden, missing)

    # The creator may refer to her own project.
    alice = people["alice"]
    response = oracle.post("/api/1.1/obj/task", alice["token"], json=fields(people["project"]))
    assert response.status_code == 201, describe(response)


def test_reference_to_hidden_thing_on_modify(oracle, people):
    bob = people["bob"]
    task = oracle.create("task", bob["token"], {"title": "bob's"})
    for method in ("PATCH", "PUT"):
        hidden, missing = probe(oracle, lambda thing_id: oracle.request(
            method, f"/api/1.1/obj/task/{task}", bob["token"], json={"project": thing_id}),
            people["project"])
        assert hidden[0].status_code == 400, describe(hidden[0])
        assert_same_answer(oracle, hidden, missing)
    assert "project" not in oracle.fetch("task", task, bob["token"])


def test_reference_to_hidden_thing_in_bulk(oracle, people):
    bob = people["bob"]
    lines = [json.dumps({"title": "bulk", "project": thing_id})
             for thing_id in (people["project"], MISSING_PROJECT)]
    response = oracle.post("/api/1.1/obj/task/bulk", bob["token"], data="\n".join(lines),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, describe(response)
    results = response.text.strip().split("\n")
    assert len(results) == 2
    assert json.loads(results[0])["status"] == "error"
    assert results[0] == results[1]


@pytest.mark.parametrize("workflow,params", [
    ("project-name", lambda project: {"project": project}),
    ("project-count", lambda project: {"projects": [project]}),
])
def test_workflow_thing_parameter_hidden(oracle, people, workflow, params):
    bob = people["bob"]
    hidden, missing = probe(oracle, lambda thing_id: oracle.post(
        f"/api/1.1/wf/{workflow}", bob["token"], json=params(thing_id)), people["project"])
    assert hidden[0].status_code == 400, describe(hidden[0])
    assert hidden[0].json()["body"]["status"] == "INVALID"
    assert_same_answer(oracle, hidden, missing)

    alice = people["alice"]
    response = oracle.post(f"/api/1.1/wf/{workflow}", alice["token"],
                           json=params(people["project"]))
    assert response.status_code == 200, describe(response)


def test_workflow_thing_parameter_query_string(oracle, people):
    bob = people["bob"]
    hidden, missing = probe(oracle, lambda thing_id: oracle.post(
        "/api/1.1/wf/project-count", bob["token"], data={"projects": thing_id}),
        people["project"])
    assert hidden[0].status_code == 400, describe(hidden[0])
    assert_same_answer(oracle, hidden, missing)


def test_workflow_ignoring_privacy_takes_hidden_thing(oracle, people):
    bob = people["bob"]
    response = oracle.post("/api/1.1/wf/project-name-unrestricted", bob["token"],
                           json={"project": people["project"]})
    assert response.status_code == 200, describe(response)
    assert response.json()["response"] == {"name": "Secret plan"}
    response = oracle.post("/api/1.1/wf/project-name-unrestricted", bob["token"],
                           json={"project": MISSING_PROJECT})
    assert response.status_code == 400, describe(response)


def test_workflow_read_through_hidden_thing(oracle, people):
    """A field read through a reference to a hidden thing is empty, exactly as one read through
    a reference to a deleted thing."""
    bob = people["bob"]
    hidden_task = oracle.create("task", bob["token"], {"title": "refers to a hidden project"})
    gone_task = oracle.create("task", bob["token"], {"title": "refers to a deleted project"})
    gone = oracle.create("project", oracle.admin, {"name": "soon gone"})
    for task, project in ((hidden_task, people["project"]), (gone_task, gone)):
        response = oracle.patch(f"/api/1.1/obj/task/{task}", oracle.admin,
                                json={"project": project})
        assert response.status_code == 204, describe(response)
    assert oracle.delete(f"/api/1.1/obj/project/{gone}", oracle.admin).status_code == 204

    hidden, missing = [], []
    for _ in range(3):
        for task, answers in ((hidden_task, hidden), (gone_task, missing)):
            answers.append(oracle.post("/api/1.1/wf/task-project", bob["token"],
                                       json={"task": task}))
    assert hidden[0].status_code == 200, describe(hidden[0])
    assert hidden[0].json()["response"].get("name") is None
    assert_same_answer(oracle, hidden, missing)

    response = oracle.post("/api/1.1/wf/task-project", oracle.admin, json={"task": hidden_task})
    assert response.json()["response"] == {"name": "Secret plan"}


def test_constraint_on_hidden_reference(oracle, people):
    """A constraint naming a hidden thing matches as one naming nothing: no error either way."""
    bob = people["bob"]
    project = oracle.create("project", people["alice"]["token"], {"name": "unreferenced"})
    for key in ("project", "related"):
        kind = "equals" if key == "project" else "contains"

        def send(thing_id, key=key, kind=kind):
            return oracle.search("task", bob["token"],
                                 [{"key": key, "constraint_type": kind, "value": thing_id}])

        hidden, missing = probe(oracle, send, project)
        assert hidden[0].status_code == 200, describe(hidden[0])
        assert hidden[0].json()["response"]["count"] == 0
        assert_same_answer(oracle, hidden, missing)


@pytest.mark.parametrize("constraint", [
    {"key": "budget", "constraint_type": "greater than", "value": "many"},
    {"key": "budget", "constraint_type": "text contains", "value": "7"},
    {"key": "budgte", "constraint_type": "equals", "value": 7},
    {"key": "name", "constraint_type": "bogus", "value": "x"},
])
def test_constraint_errors_do_not_depend_on_privacy(oracle, people, constraint):
    """Bob can view no field of any project, Alice every field of hers: a bad constraint gets
    one answer for both, which comes from the schema alone."""
    answers = [oracle.search("project", people[who]["token"], [constraint])
               for who in ("alice", "bob")]
    assert answers[0].status_code in (400, 404), describe(answers[0])
    assert answers[0].status_code == answers[1].status_code
    assert answers[0].text == answers[1].text


def test_constraint_on_hidden_field_like_visible(oracle, people):
    """A valid constraint on a field the caller cannot view is accepted and ignored, never an
    error that would tell the field apart from one the caller can view."""
    constraint = [{"key": "budget", "constraint_type": "greater than", "value": 100}]
    assert oracle.search_ok("project", people["bob"]["token"], constraint)["count"] == 0
    assert oracle.search_ok("project", people["alice"]["token"], constraint)["count"] == 0


def test_private_file_of_hidden_thing(oracle, people):
    alice, bob = people["alice"], people["bob"]
    project = oracle.create("project", alice["token"], {"name": "with brief"})
    brief = {"filename": "brief.txt", "contents": "c2VjcmV0", "private": True,
             "attach_to": project}
    response = oracle.patch(f"/api/1.1/obj/project/{project}", alice["token"],
                            json={"brief": brief})
    assert response.status_code == 204, describe(response)
    url = oracle.fetch("project", project, alice["token"])["brief"]
    path = "/" + url.split("/", 3)[3]
    assert oracle.get(path, alice["token"]).content == b"secret"

    file_id = path.split("/")[3]
    missing_path = path.replace(file_id, MISSING_PROJECT)
    for token in (bob["token"], None):
        hidden, missing = oracle.get(path, token), oracle.get(missing_path, token)
        assert hidden.status_code == 404, describe(hidden)
        assert hidden.text == missing.text
        assert hidden.headers.get("Content-Type") == missing.headers.get("Content-Type")


def test_attach_to_hidden_thing_answers_as_missing(oracle, people):
    bob = people["bob"]

    def send(thing_id):
        upload = {"filename": "probe.txt", "contents": "eA==", "private": True,
                  "attach_to": thing_id}
        return oracle.post("/api/1.1/obj/project", bob["token"], json={"brief": upload})

    hidden, missing = probe(oracle, send, people["project"])
    assert hidden[0].status_code == 400, describe(hidden[0])
    assert "attach_to" in hidden[0].json()["body"]["message"]
    assert_same_answer(oracle, hidden, missing)
