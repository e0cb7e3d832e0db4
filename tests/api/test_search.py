"""Data API search: pagination counts, constraints, sorting and malformed queries."""

import http.client
import json
import time
import urllib.parse

import pytest

from conftest import HTTP_TIMEOUT_S, assert_envelope, describe

# -- pagination --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paged(server):
    """Alice with 7 tasks and Bob with 5."""
    alice = server.user("alice")
    bob = server.user("bob")
    alice["tasks"] = [server.create("task", alice["token"], {"title": f"alice {n}"})
                      for n in range(7)]
    bob["tasks"] = [server.create("task", bob["token"], {"title": f"bob {n}"}) for n in range(5)]
    return alice, bob


def ids(listing):
    return [thing["_id"] for thing in listing["results"]]


def test_pages_count_and_remaining(server, paged):
    alice, _ = paged
    token = alice["token"]
    first = server.search_ok("task", token, limit=3)
    assert (first["cursor"], first["count"], first["remaining"]) == (0, 3, 4)
    assert len(first["results"]) == 3

    second = server.search_ok("task", token, cursor=3, limit=3)
    assert (second["cursor"], second["count"], second["remaining"]) == (3, 3, 1)

    last = server.search_ok("task", token, cursor=6, limit=3)
    assert (last["cursor"], last["count"], last["remaining"]) == (6, 1, 0)

    seen = ids(first) + ids(second) + ids(last)
    assert len(set(seen)) == 7, "pages overlap"
    assert set(seen) == set(alice["tasks"])

    dates = [thing["Created Date"] for page in (first, second, last) for thing in page["results"]]
    assert dates == sorted(dates), "default order is not ascending by Created Date"


def test_other_users_search_counts_own(server, paged):
    _, bob = paged
    listing = server.search_ok("task", bob["token"])
    assert (listing["cursor"], listing["count"], listing["remaining"]) == (0, 5, 0)
    assert set(ids(listing)) == set(bob["tasks"])

    page = server.search_ok("task", bob["token"], cursor=2, limit=2)
    assert (page["cursor"], page["count"], page["remaining"]) == (2, 2, 1)


def test_cursor_past_end_empty(server, paged):
    alice, _ = paged
    listing = server.search_ok("task", alice["token"], cursor=50, limit=3)
    assert listing["cursor"] == 50
    assert listing["count"] == 0
    assert listing["remaining"] == 0
    assert listing["results"] == []


def test_limit_capped_at_100(server):
    token = server.user("many")["token"]
    for n in range(105):
        server.create("task", token, {"title": f"task {n:03d}"})

    listing = server.search_ok("task", token, limit=500)
    assert listing["cursor"] == 0
    assert listing["count"] == 100
    assert len(listing["results"]) == 100
    assert listing["remaining"] == 5

    default = server.search_ok("task", token)
    assert default["count"] == 100
    assert default["remaining"] == 5

    rest = server.search_ok("task", token, cursor=100, limit=500)
    assert (rest["count"], rest["remaining"]) == (5, 0)


# -- constraints -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(server):
    """One user's four tasks with different fields set; returns (token, {name: id})."""
    token = server.user("constraints")["token"]
    rows = {
        "alpha": {"title": "alpha", "estimate": 1, "done": True, "due": "2025-01-01T00:00:00Z",
                  "priority": "Low", "tags": ["a"], "notes": "first"},
        "bravo": {"title": "bravo", "estimate": 5, "done": False, "due": "2025-02-01T00:00:00Z",
                  "priority": "High"},
        "charlie": {"title": "charlie", "estimate": 10, "due": "2025-03-01T00:00:00Z"},
        "delta": {"title": "delta"},
    }
    task_ids = {}
    for name, fields in rows.items():
        task_ids[name] = server.create("task", token, fields)
        # Distinct creation milliseconds make the order by Created Date unambiguous.
        time.sleep(0.005)
    return token, task_ids


def found(server, dataset, key, constraint_type, value=None, **params):
    """Return the set of dataset task names that one constraint selects."""
    token, task_ids = dataset
    constraint = {"key": key, "constraint_type": constraint_type}
    if value is not None:
        constraint["value"] = value
    listing = server.search_ok("task", token, constraints=[constraint], **params)
    assert listing["count"] == len(listing["results"])
    assert listing["remaining"] == 0
    names = {name for name, task_id in task_ids.items() if task_id in ids(listing)}
    assert len(names) == listing["count"], "search returned a task outside the dataset"
    return names


CONSTRAINT_CASES = [
    ("title", "equals", "bravo", {"bravo"}),
    ("estimate", "equals", 5, {"bravo"}),
    ("estimate", "equals", "5", {"bravo"}),
    ("done", "equals", True, {"alpha"}),
    ("done", "equals", False, {"bravo"}),
    ("due", "equals", "2025-02-01T00:00:00.000Z", {"bravo"}),
    ("priority", "equals", "High", {"bravo"}),
    ("title", "not equal", "bravo", {"alpha", "charlie", "delta"}),
    ("estimate", "not equal", 5, {"alpha", "charlie", "delta"}),
    ("done", "not equal", True, {"bravo", "charlie", "delta"}),
    ("due", "not equal", "2025-01-01T00:00:00.000Z", {"bravo", "charlie", "delta"}),
    ("estimate", "is_empty", None, {"delta"}),
    ("done", "is_empty", None, {"charlie", "delta"}),
    ("due", "is_empty", None, {"delta"}),
    ("title", "is_empty", None, set()),
    ("estimate", "is_not_empty", None, {"alpha", "bravo", "charlie"}),
    ("done", "is_not_empty", None, {"alpha", "bravo"}),
    ("notes", "is_not_empty", None, {"alpha"}),
    ("estimate", "greater than", 1, {"bravo", "charlie"}),
    ("estimate", "less than", 10, {"alpha", "bravo"}),
    ("title", "greater than", "bravo", {"charlie", "delta"}),
    ("title", "less than", "bravo", {"alpha"}),
    ("due", "greater than", "2025-01-15T00:00:00Z", {"bravo", "charlie"}),
    ("due", "less than", "2025-02-01T00:00:00Z", {"alpha"}),
]


@pytest.mark.parametrize("key,constraint_type,value,expected", CONSTRAINT_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CONSTRAINT_CASES])
def test_constraint_selects(server, dataset, key, constraint_type, value, expected):
    assert found(server, dataset, key, constraint_type, value) == expected


def test_constraints_combine_with_and(server, dataset):
    token, task_ids = dataset
    listing = server.search_ok("task", token, constraints=[
        {"key": "estimate", "constraint_type": "greater than", "value": 1},
        {"key": "done", "constraint_type": "is_not_empty"}])
    assert ids(listing) == [task_ids["bravo"]]


@pytest.mark.parametrize("key", ["estimate", "estimate_number"])
def test_constraint_key_spellings(server, dataset, key):
    assert found(server, dataset, key, "equals", 10) == {"charlie"}


def test_builtin_constraint_key(server, dataset):
    token, task_ids = dataset
    created = server.fetch("task", task_ids["charlie"], token)["Created Date"]
    assert found(server, dataset, "Created Date", "greater than", created) == {"delta"}


MALFORMED_CONSTRAINTS = {
    "python-repr": "{'key': 'title', 'constraint_type': 'equals', 'value': 'alpha'}",
    "not-json": "[{key:title}]",
    "truncated": '[{"key":"title","constraint_type":"equals","value":"alpha"}',
    "object": '{"key":"title","constraint_type":"equals","value":"alpha"}',
    "unknown-type": '[{"key":"title","constraint_type":"equal","value":"alpha"}]',
    "unknown-key": '[{"key":"titel","constraint_type":"equals","value":"alpha"}]',
    "missing-type": '[{"key":"title","value":"alpha"}]',
    "missing-key": '[{"constraint_type":"equals","value":"alpha"}]',
    "element-not-object": '["title"]',
    "invalid-utf8": b'[{"key":"title","constraint_type":"equals","value":"\xff"}]',
}


@pytest.mark.parametrize("name", sorted(MALFORMED_CONSTRAINTS))
def test_malformed_constraints_rejected(server, dataset, name):
    token, _ = dataset
    raw = MALFORMED_CONSTRAINTS[name]
    encoded = urllib.parse.quote(raw, safe="")
    response = server.get(f"/api/1.1/obj/task?constraints={encoded}", token)
    assert response.status_code != 200, f"malformed constraints were ignored: {describe(response)}"
    assert_envelope(response, 400)
    server.assert_serving()


def test_incompatible_constraint_not_found(server, dataset):
    token, _ = dataset
    response = server.search("task", token, constraints=[
        {"key": "title", "constraint_type": "contains", "value": "alpha"}])
    assert response.status_code == 404, describe(response)
    assert response.json() == {"statusCode": 404, "body": {
        "status": "NOT_FOUND",
        "message": "Constraint type not found contains for field title_text and type task"}}


def test_encoded_constraint_value_exact(server):
    """C01: '+', '&', '#' and spaces survive percent-encoding and are decoded exactly once."""
    token = server.user("c01")["token"]
    wanted = server.create("task", token, {"title": "C++ & Go #50"})
    server.create("task", token, {"title": "C   Go"})
    server.create("task", token, {"title": "C++"})

    query = ("constraints=%5B%7B%22key%22%3A%22title%22%2C%22constraint_type%22%3A%22equals%22"
             "%2C%22value%22%3A%22C%2B%2B%20%26%20Go%20%2350%22%7D%5D")
    response = server.get(f"/api/1.1/obj/task?{query}", token)
    assert response.status_code == 200, describe(response)
    listing = response.json()["response"]
    assert listing["count"] == 1
    assert ids(listing) == [wanted]
    assert listing["results"][0]["title"] == "C++ & Go #50"

    # Some clients leave the JSON punctuation raw and encode only what would break the query.
    raw = '[{"key":"title","constraint_type":"equals","value":"C%2B%2B%20%26%20Go%20%2350"}]'
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=HTTP_TIMEOUT_S)
    try:
        connection.request("GET", f"/api/1.1/obj/task?constraints={raw}",
                           headers={"Authorization": f"Bearer {token}"})
        raw_response = connection.getresponse()
        payload = raw_response.read()
    finally:
        connection.close()
    server.requests_sent += 1
    assert raw_response.status == 200, payload[:600]
    listing = json.loads(payload)["response"]
    assert [thing["_id"] for thing in listing["results"]] == [wanted]


# -- sorting -----------------------------------------------------------------------------------


def sorted_names(server, dataset, constraints=None, **params):
    token, task_ids = dataset
    by_id = {task_id: name for name, task_id in task_ids.items()}
    listing = server.search_ok("task", token, constraints=constraints, **params)
    return [by_id[task_id] for task_id in ids(listing)]


HAS_ESTIMATE = [{"key": "estimate", "constraint_type": "is_not_empty"}]


def test_sort_descending_true(server, dataset):
    names = sorted_names(server, dataset, HAS_ESTIMATE, sort_field="estimate", descending="true")
    assert names == ["charlie", "bravo", "alpha"]


def test_sort_descending_false(server, dataset):
    names = sorted_names(server, dataset, HAS_ESTIMATE, sort_field="estimate", descending="false")
    assert names == ["alpha", "bravo", "charlie"]
    names = sorted_names(server, dataset, HAS_ESTIMATE, sort_field="estimate")
    assert names == ["alpha", "bravo", "charlie"]


def test_sort_text_field(server, dataset):
    names = sorted_names(server, dataset, sort_field="title", descending="true")
    assert names == ["delta", "charlie", "bravo", "alpha"]


def test_sort_created_date(server, dataset):
    names = sorted_names(server, dataset, sort_field="Created Date", descending="true")
    assert names == ["delta", "charlie", "bravo", "alpha"]
    names = sorted_names(server, dataset, sort_field="Created Date", descending="false")
    assert names == ["alpha", "bravo", "charlie", "delta"]


def test_sort_unknown_field_rejected(server, dataset):
    token, _ = dataset
    response = server.search("task", token, sort_field="no such field", descending="true")
    assert_envelope(response, 400)
    server.assert_serving()
