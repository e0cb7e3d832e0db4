"""Searches must not reveal field values that privacy rules hide.

In the todo app an assignee may find a task and view only its title, done and due fields. A
constraint or a sort on a hidden field (estimate, notes) is ignored on the things where the field
is hidden, so neither the result set, the counts nor the order depend on the hidden value.
"""

import json

import pytest

from conftest import APPS_DIR, Froth, stop_and_check


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
    created_order = [t["_id"] for t in ascending["results"]]
    assert created_order == ids
    assert [t["_id"] for t in descending["results"]] == ids
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
