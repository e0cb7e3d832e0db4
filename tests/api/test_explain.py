"""GET /_froth/explain and froth explain against the example app's privacy rules.

Task: the creator finds, views and writes everything ("mine"); the assignee finds and views title,
done and due ("assigned"); everyone else gets nothing. User: a user views and modifies themself
("self"); everyone else views name and may find.

Besides the report's own content, the tests check it against the Data API for the same caller.
The visible fields are exactly the keys a GET returns, "find" decides between 200 and 404, and
the via-API permissions decide between a write and a 401.
"""

import json

import pytest

from conftest import assert_envelope, assert_unauthorized, describe, run_cli, store_kind

BUILT_INS = ["_id", "Created Date", "Modified Date", "Created By", "Slug"]
TASK_FIELDS = ["title", "done", "due", "estimate", "priority", "tags", "assignee", "notes"]
PLACEHOLDER = "?" if store_kind() == "sqlite" else "$"


@pytest.fixture(scope="module")
def people(server):
    """Alice with one task assigned to Bob and every field set; Carol, who has no part in it."""
    alice = server.user("alice", name="Alice")
    bob = server.user("bob", name="Bob")
    carol = server.user("carol", name="Carol")
    alice["task"] = server.create("task", alice["token"], {
        "title": "paint the fence", "done": False, "due": "2026-05-01T10:00:00.000Z",
        "estimate": 3, "priority": "High", "tags": ["home"], "assignee": bob["id"],
        "notes": "white paint", "Slug": "paint-the-fence"})
    response = server.patch(f"/api/1.1/obj/user/{alice['id']}", alice["token"],
                            json={"Slug": "alice"})
    assert response.status_code == 204, describe(response)
    return alice, bob, carol


def explain(server, token=None, **params):
    return server.get("/_froth/explain", token, params=params)


def explain_ok(server, **params):
    response = explain(server, server.admin, **params)
    assert response.status_code == 200, describe(response)
    return response.json()


def rules_by_name(report):
    return {rule["name"]: rule for rule in report["rules"]}


def api_keys(field_names):
    """The keys a Data API GET uses for these fields: the email is shown under authentication."""
    return {"authentication" if name == "email" else name for name in field_names}


def test_explain_rejects_user_tokens(server, people):
    alice, _, _ = people
    response = explain(server, alice["token"], type="task")
    assert_unauthorized(response, "The explain route requires an admin API token")


def test_explain_rejects_anonymous(server):
    response = explain(server, type="task")
    assert_unauthorized(response, "The explain route requires an admin API token")


def test_explain_rejects_bad_token(server):
    response = explain(server, "not-a-token", type="task")
    assert_unauthorized(response, "Invalid or expired token")


def test_explain_wrong_method(server):
    response = server.post("/_froth/explain", server.admin, params={"type": "task"})
    assert response.status_code == 405, describe(response)
    assert response.headers["Allow"] == "GET"


def test_explain_bad_parameters(server, people):
    alice, _, _ = people
    assert_envelope(explain(server, server.admin), 400, "INVALID_DATA",
                    "Missing parameter type: the name of the type to explain")
    assert_envelope(explain(server, server.admin, type="Nope"), 400, "INVALID_DATA",
                    "Invalid parameter type: there is no type named Nope")
    assert_envelope(explain(server, server.admin, type="task", colour="red"), 400, "ERROR",
                    "Unrecognized parameter: colour (expected type, user_id and id)")
    assert_envelope(explain(server, server.admin, type="task", user_id="1700000000000x1"), 404,
                    "MISSING_DATA",
                    "Missing object of type user: object with id 1700000000000x1 does not exist")
    assert_envelope(explain(server, server.admin, type="task", user_id="not an id"), 404,
                    "MISSING_DATA")
    assert_envelope(explain(server, server.admin, type="task", user_id=alice["id"],
                            id="1700000000000x2"), 404, "MISSING_DATA",
                    "Missing object of type task: object with id 1700000000000x2 does not exist")


def test_explain_creator(server, people):
    alice, _, _ = people
    report = explain_ok(server, type="task", user_id=alice["id"], id=alice["task"])
    assert report["type"] == "Task"
    assert report["caller"] == {"user_id": alice["id"], "anonymous": False}
    assert report["public"] is False
    rules = rules_by_name(report)
    assert list(rules) == ["mine", "assigned", "everyone else"]
    assert rules["mine"]["when"] == "This Task's Creator is Current User"
    assert rules["mine"]["matched"] is True
    assert rules["assigned"]["matched"] is False
    assert rules["everyone else"]["baseline"] is True
    assert rules["everyone else"]["when"] is None
    assert rules["mine"]["grants"] == {
        "find": True, "view": "all", "view_files": False, "constrain": [],
        "create_via_api": True, "modify_via_api": True, "delete_via_api": True}

    permissions = report["thing"]["permissions"]
    assert report["thing"]["id"] == alice["task"]
    assert permissions["find"] is True
    assert permissions["view"] == "all"
    assert permissions["visible_fields"] == BUILT_INS + TASK_FIELDS
    assert permissions["modify_via_api"] is True
    assert permissions["delete_via_api"] is True


def test_explain_assignee(server, people):
    alice, bob, _ = people
    report = explain_ok(server, type="task", user_id=bob["id"], id=alice["task"])
    rules = rules_by_name(report)
    assert rules["mine"]["matched"] is False
    assert rules["assigned"]["matched"] is True
    assert rules["assigned"]["grants"]["view"] == ["title", "done", "due"]
    permissions = report["thing"]["permissions"]
    assert permissions["find"] is True
    assert permissions["view"] == ["title", "done", "due"]
    assert permissions["visible_fields"] == BUILT_INS + ["title", "done", "due"]
    assert permissions["constrain"] == BUILT_INS + ["title", "done", "due"]
    assert permissions["modify_via_api"] is False
    assert permissions["delete_via_api"] is False


def test_explain_stranger(server, people):
    alice, _, carol = people
    report = explain_ok(server, type="task", user_id=carol["id"], id=alice["task"])
    rules = rules_by_name(report)
    assert [rule["matched"] for rule in report["rules"]] == [False, False, True]
    assert rules["everyone else"]["grants"]["find"] is False
    permissions = report["thing"]["permissions"]
    assert permissions["find"] is False
    assert permissions["view"] == []


def test_search_and_memory_agree(server, people):
    alice, bob, carol = people
    for caller in (alice["id"], bob["id"], carol["id"], None):
        params = {"type": "task", "id": alice["task"]}
        if caller is not None:
            params["user_id"] = caller
        report = explain_ok(server, **params)
        for rule in report["rules"]:
            assert rule["matched"] == rule["matched_in_memory"], (caller, rule["name"])


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_visible_fields_match_get(server, people, who):
    caller = dict(zip(("alice", "bob", "carol"), people))[who]
    task = people[0]["task"]
    report = explain_ok(server, type="task", user_id=caller["id"], id=task)
    permissions = report["thing"]["permissions"]
    response = server.get(f"/api/1.1/obj/task/{task}", caller["token"])
    if not permissions["find"]:
        assert response.status_code == 404, describe(response)
        return
    assert response.status_code == 200, describe(response)
    # Every field of the task is set, so GET omits only what the caller may not view.
    assert set(response.json()["response"]) == set(permissions["visible_fields"])


@pytest.mark.parametrize("who", ["alice", "bob", "carol"])
def test_user_fields_match_get(server, people, who):
    alice = people[0]
    caller = dict(zip(("alice", "bob", "carol"), people))[who]
    report = explain_ok(server, type="user", user_id=caller["id"], id=alice["id"])
    rules = rules_by_name(report)
    assert rules["self"]["matched"] is (who == "alice")
    permissions = report["thing"]["permissions"]
    assert permissions["find"] is True
    fetched = server.fetch("user", alice["id"], caller["token"])
    assert set(fetched) == api_keys(permissions["visible_fields"])
    if who == "alice":
        assert "authentication" in fetched
    else:
        assert permissions["view"] == ["name"]


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_modify_permission_matches_patch(server, people, who):
    alice, bob, _ = people
    caller = alice if who == "alice" else bob
    report = explain_ok(server, type="task", user_id=caller["id"], id=alice["task"])
    allowed = report["thing"]["permissions"]["modify_via_api"]
    response = server.patch(f"/api/1.1/obj/task/{alice['task']}", caller["token"],
                            json={"notes": "white paint, two coats"})
    assert response.status_code == (204 if allowed else 401), describe(response)


def test_anonymous_search_plan(server, people):
    report = explain_ok(server, type="task")
    assert report["caller"] == {"user_id": None, "anonymous": True}
    rules = rules_by_name(report)
    assert "matched" not in rules["mine"]
    assert "thing" not in report
    # "Current User" is logged out, so neither condition can hold for any task.
    assert rules["mine"]["applies_in_search"] == "never"
    assert rules["assigned"]["applies_in_search"] == "never"
    assert rules["mine"]["condition_parameters"] == 0
    assert rules["everyone else"]["applies_in_search"] == "always"
    assert report["search"]["find_parameters"] == 0
    listing = server.search_ok("task")
    assert listing["count"] == 0


def test_user_search_plan(server, people):
    alice, _, _ = people
    report = explain_ok(server, type="task", user_id=alice["id"])
    rules = rules_by_name(report)
    mine = rules["mine"]
    assert mine["applies_in_search"] == "conditional"
    assert mine["condition_parameters"] == 1
    assert f"{PLACEHOLDER}1" in mine["condition_sql"]
    assert '"_created_by"' in mine["condition_sql"]
    assert '"f_assignee"' in rules["assigned"]["condition_sql"]
    assert report["search"]["find_parameters"] == 2
    assert '"_created_by"' in report["search"]["find_sql"]
    assert '"f_assignee"' in report["search"]["find_sql"]


def test_report_has_no_bound_values(server, people):
    alice, _, _ = people
    response = explain(server, server.admin, type="task", user_id=alice["id"])
    assert response.status_code == 200, describe(response)
    sql = json.dumps([rule.get("condition_sql") for rule in response.json()["rules"]])
    sql += response.json()["search"]["find_sql"]
    assert alice["id"] not in sql


def test_search_count_matches_find(server, people):
    alice, bob, carol = people
    for caller in (alice, bob, carol):
        report = explain_ok(server, type="task", user_id=caller["id"], id=alice["task"])
        listing = server.search_ok("task", caller["token"])
        found = alice["task"] in [thing["_id"] for thing in listing["results"]]
        assert found is report["thing"]["permissions"]["find"], caller["id"]


def test_cli_matches_route(server, people):
    alice, bob, _ = people
    report = explain_ok(server, type="task", user_id=bob["id"], id=alice["task"])
    result = run_cli("explain", "--app", server.app_path, "--db", server.db_url,
                     "--type", "Task", "--user", bob["id"], "--id", alice["task"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == report


def test_cli_unknown_type(server):
    result = run_cli("explain", "--app", server.app_path, "--db", server.db_url, "--type", "Nope")
    assert result.returncode == 1
    assert "there is no type named Nope" in result.stderr


def test_cli_needs_type(server):
    result = run_cli("explain", "--app", server.app_path, "--db", server.db_url)
    assert result.returncode == 2
    assert "explain needs --type TYPE" in result.stderr
