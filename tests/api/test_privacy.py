"""Privacy rules of the example app as seen through the Data API.

Task: the creator finds, views and writes everything; the assignee finds and views title, done and
due; everyone else gets nothing. User: a user views and modifies themself; everyone else views
name and may find.
"""

import uuid

import pytest

from conftest import assert_denied, assert_unauthorized, describe, find_keys, missing_body

ASSIGNEE_VISIBLE = {"title", "done", "due"}
BUILT_INS = {"_id", "Created Date", "Modified Date", "Created By", "Slug"}
SECRET_KEY_FRAGMENTS = ("password", "hash", "salt", "secret", "totp", "recovery")


@pytest.fixture
def pair(server):
    """Alice with three tasks and Bob with two, all sharing a fresh marker in their notes."""
    marker = f"privacy-{uuid.uuid4().hex[:8]}"
    alice = server.user("alice", name="Alice")
    bob = server.user("bob", name="Bob")
    alice["tasks"] = [server.create("task", alice["token"],
                                    {"title": f"alice {n}", "estimate": n, "tags": ["a"],
                                     "notes": marker}) for n in range(3)]
    bob["tasks"] = [server.create("task", bob["token"],
                                  {"title": f"bob {n}", "estimate": n, "notes": marker})
                    for n in range(2)]
    return alice, bob, marker


def test_search_excludes_others_tasks(server, pair):
    alice, bob, _ = pair
    listing = server.search_ok("task", bob["token"])
    assert listing["count"] == 2
    assert listing["remaining"] == 0
    assert sorted(thing["_id"] for thing in listing["results"]) == sorted(bob["tasks"])

    page = server.search_ok("task", bob["token"], limit=1)
    assert page["count"] == 1
    assert page["remaining"] == 1

    listing = server.search_ok("task", alice["token"])
    assert listing["count"] == 3
    assert listing["remaining"] == 0


def test_constraint_cannot_reveal_others_tasks(server, pair):
    alice, bob, marker = pair
    listing = server.search_ok("task", bob["token"], constraints=[
        {"key": "title", "constraint_type": "equals", "value": "alice 0"}])
    assert listing["count"] == 0
    assert listing["remaining"] == 0
    assert listing["results"] == []

    listing = server.search_ok("task", bob["token"], constraints=[
        {"key": "notes", "constraint_type": "equals", "value": marker}])
    assert sorted(thing["_id"] for thing in listing["results"]) == sorted(bob["tasks"])


def test_get_others_task_not_found(server, pair):
    alice, bob, _ = pair
    task_id = alice["tasks"][0]
    response = server.get(f"/api/1.1/obj/task/{task_id}", bob["token"])
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)


def test_patch_others_task_not_found(server, pair):
    alice, bob, _ = pair
    task_id = alice["tasks"][0]
    response = server.patch(f"/api/1.1/obj/task/{task_id}", bob["token"], json={"title": "mine"})
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)

    response = server.put(f"/api/1.1/obj/task/{task_id}", bob["token"], json={"title": "mine"})
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)

    assert server.fetch("task", task_id, alice["token"])["title"] == "alice 0"


def test_delete_others_task_not_found(server, pair):
    alice, bob, _ = pair
    task_id = alice["tasks"][1]
    response = server.delete(f"/api/1.1/obj/task/{task_id}", bob["token"])
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)

    assert server.fetch("task", task_id, alice["token"])["title"] == "alice 1"


def test_anonymous_finds_no_tasks(server, pair):
    alice, _, marker = pair
    listing = server.search_ok("task")
    assert listing["count"] == 0
    assert listing["remaining"] == 0
    assert listing["results"] == []

    listing = server.search_ok("task", constraints=[
        {"key": "notes", "constraint_type": "equals", "value": marker}])
    assert listing["count"] == 0

    task_id = alice["tasks"][0]
    response = server.get(f"/api/1.1/obj/task/{task_id}")
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)


def test_admin_sees_all_fields(server, pair):
    alice, bob, marker = pair
    listing = server.search_ok("task", server.admin, constraints=[
        {"key": "notes", "constraint_type": "equals", "value": marker}])
    assert listing["count"] == 5
    assert sorted(thing["_id"] for thing in listing["results"]) == \
        sorted(alice["tasks"] + bob["tasks"])
    for thing in listing["results"]:
        assert {"title", "estimate", "notes", "Created By"} <= set(thing), thing

    task = server.fetch("task", alice["tasks"][2], server.admin)
    assert task["title"] == "alice 2"
    assert task["estimate"] == 2
    assert task["tags"] == ["a"]
    assert task["notes"] == marker
    assert task["Created By"] == alice["id"]


@pytest.fixture
def assigned(server):
    """A task of Alice's assigned to Bob, with fields Bob may and may not view."""
    alice = server.user("alice", name="Alice")
    bob = server.user("bob", name="Bob")
    task_id = server.create("task", alice["token"], {
        "title": "Review budget", "done": False, "due": "2025-03-01T12:00:00Z",
        "estimate": 3, "tags": ["work"], "notes": "confidential", "priority": "High",
        "assignee": bob["id"]})
    return alice, bob, task_id


def assert_assignee_view(thing, task_id):
    assert thing["_id"] == task_id
    assert thing["title"] == "Review budget"
    assert thing["done"] is False
    assert thing["due"] == "2025-03-01T12:00:00.000Z"
    extra = set(thing) - ASSIGNEE_VISIBLE - BUILT_INS
    assert not extra, f"assignee sees fields the rule hides: {sorted(extra)}"


def test_assignee_sees_permitted_fields(server, assigned):
    alice, bob, task_id = assigned
    listing = server.search_ok("task", bob["token"])
    assert listing["count"] == 1
    assert listing["remaining"] == 0
    assert_assignee_view(listing["results"][0], task_id)

    assert_assignee_view(server.fetch("task", task_id, bob["token"]), task_id)

    owner_view = server.fetch("task", task_id, alice["token"])
    assert owner_view["notes"] == "confidential"
    assert owner_view["assignee"] == bob["id"]


def test_assignee_cannot_modify(server, assigned):
    alice, bob, task_id = assigned
    response = server.patch(f"/api/1.1/obj/task/{task_id}", bob["token"], json={"done": True})
    assert_denied(response, task_id, "You do not have permission to modify this object")

    response = server.put(f"/api/1.1/obj/task/{task_id}", bob["token"], json={"title": "Mine"})
    assert_denied(response, task_id, "You do not have permission to modify this object")

    task = server.fetch("task", task_id, alice["token"])
    assert task["done"] is False
    assert task["title"] == "Review budget"


def test_assignee_cannot_delete(server, assigned):
    alice, bob, task_id = assigned
    response = server.delete(f"/api/1.1/obj/task/{task_id}", bob["token"])
    assert_denied(response, task_id, "You do not have permission to delete this object")

    assert server.fetch("task", task_id, alice["token"])["title"] == "Review budget"


def test_anonymous_create_denied(server):
    title = f"anonymous {uuid.uuid4().hex[:8]}"
    response = server.post("/api/1.1/obj/task", json={"title": title})
    body = assert_unauthorized(response)
    assert body.get("translation") == "Permission denied: cannot create this object", \
        describe(response)

    listing = server.search_ok("task", server.admin, constraints=[
        {"key": "title", "constraint_type": "equals", "value": title}])
    assert listing["count"] == 0


def test_user_others_see_name_only(server):
    alice = server.user("alice", name="Alice")
    bob = server.user("bob", name="Bob")
    for token in (alice["token"], None):
        user = server.fetch("user", bob["id"], token)
        assert user["_id"] == bob["id"]
        assert user["name"] == "Bob"
        assert "authentication" not in user, user
        assert "email" not in user, user
        assert bob["email"] not in str(user)
        assert not find_keys(user, SECRET_KEY_FRAGMENTS), user


def test_user_self_sees_email(server):
    bob = server.user("bob", name="Bob")
    response = server.get(f"/api/1.1/obj/user/{bob['id']}", bob["token"])
    assert response.status_code == 200, describe(response)
    user = response.json()["response"]
    assert user["_id"] == bob["id"]
    assert user["name"] == "Bob"
    assert user["authentication"] == {"email": {"email": bob["email"], "email_confirmed": False}}
    assert not find_keys(user, SECRET_KEY_FRAGMENTS), user
    assert bob["password"] not in response.text


def test_user_secrets_never_returned(server):
    bob = server.user("bob", name="Bob")
    readers = [bob["token"], server.admin]
    for token in readers:
        response = server.get(f"/api/1.1/obj/user/{bob['id']}", token)
        assert response.status_code == 200, describe(response)
        assert not find_keys(response.json(), SECRET_KEY_FRAGMENTS), response.text
        assert bob["password"] not in response.text
        assert "$argon2" not in response.text

    for token in (server.admin, bob["token"], None):
        response = server.search("user", token, limit=100)
        assert response.status_code == 200, describe(response)
        assert not find_keys(response.json(), SECRET_KEY_FRAGMENTS), response.text[:600]
        assert "$argon2" not in response.text


def test_user_modify_self_only(server):
    alice = server.user("alice", name="Alice")
    bob = server.user("bob", name="Bob")
    response = server.patch(f"/api/1.1/obj/user/{bob['id']}", bob["token"], json={"name": "Robert"})
    assert response.status_code == 204, describe(response)
    assert server.fetch("user", bob["id"], alice["token"])["name"] == "Robert"

    response = server.patch(f"/api/1.1/obj/user/{bob['id']}", alice["token"], json={"name": "Bobby"})
    assert_denied(response, bob["id"], "You do not have permission to modify this object")
    assert server.fetch("user", bob["id"], bob["token"])["name"] == "Robert"
