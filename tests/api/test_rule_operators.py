"""Privacy rules with computed values and with chains through hidden things.

The app is tests/api/apps/rules.json. A Doc is found by its creator, and by the owner of its
project, which the rule reads through the project even though only the project's creator may see
the project. Everyone finds a Doc with more than two tags, one whose estimate doubled is under 10,
and one whose trimmed lowercased title contains "x". Each check compares the search, which runs the rules in SQL, with
GET by id and writes, which evaluate them in memory, on both stores.
"""

import json

import pytest

from conftest import APPS_DIR, Froth, assert_denied, describe, run_cli, stop_and_check

RULES_APP = APPS_DIR / "rules.json"


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    froth = Froth(RULES_APP, tmp_path_factory.mktemp("rules"))
    froth.start()
    yield froth
    stop_and_check(froth)


def found_ids(server, token, type_name="doc"):
    result = server.search_ok(type_name, token, limit=100)
    assert result["count"] == len(result["results"])
    assert result["remaining"] == 0
    return {thing["_id"] for thing in result["results"]}


def test_computed_rules_grant_find(rules):
    alice = rules.user("alice")
    carol = rules.user("carol")
    docs = {
        "busy": {"title": "three tags", "tags": ["a", "b", "c"]},
        "two tags": {"title": "two tags", "tags": ["a", "b"]},
        "cheap": {"title": "cheap", "estimate": 4.5},
        "dear": {"title": "dear", "estimate": 5},
        "negative": {"title": "negative", "estimate": -3},
        "overflowing": {"title": "huge", "estimate": 1e308},
        "x titled": {"title": "  TaX  "},
        "plain": {"title": "plain"},
        "empty": {},
    }
    ids = {name: rules.create("doc", alice["token"], fields) for name, fields in docs.items()}
    expected = {ids[name] for name in ("busy", "cheap", "negative", "x titled")}

    assert found_ids(rules, carol["token"]) == expected
    assert found_ids(rules, None) == expected
    for name, doc_id in ids.items():
        response = rules.get(f"/api/1.1/obj/doc/{doc_id}", carol["token"])
        assert response.status_code == (200 if doc_id in expected else 404), \
            f"{name}: {describe(response)}"

    cheap = rules.fetch("doc", ids["cheap"], carol["token"])
    assert cheap["estimate"] == 4.5
    busy = rules.fetch("doc", ids["busy"], carol["token"])
    assert busy["title"] == "three tags"
    assert "tags" not in busy

    # Twice 1e308 is not a finite number, so the rule does not hold and the doc stays hidden.
    overflowing = [{"key": "title", "constraint_type": "equals", "value": "huge"}]
    assert rules.search_ok("doc", carol["token"], overflowing)["count"] == 0


def test_computed_rules_follow_changes(rules):
    alice = rules.user("alice")
    carol = rules.user("carol")
    doc = rules.create("doc", alice["token"], {"title": "tags later", "tags": ["a"]})
    assert doc not in found_ids(rules, carol["token"])

    response = rules.patch(f"/api/1.1/obj/doc/{doc}", alice["token"],
                           json={"tags": ["a", "b", "c"]})
    assert response.status_code == 204, describe(response)
    assert doc in found_ids(rules, carol["token"])
    assert rules.fetch("doc", doc, carol["token"])["title"] == "tags later"

    response = rules.patch(f"/api/1.1/obj/doc/{doc}", alice["token"], json={"estimate": 4})
    assert response.status_code == 204, describe(response)
    assert rules.fetch("doc", doc, carol["token"])["estimate"] == 4


@pytest.fixture
def hidden_project(rules):
    """Alice's project, owned by Bob, which Bob cannot see, with one doc of Alice's in it."""
    alice = rules.user("alice")
    bob = rules.user("bob")
    carol = rules.user("carol")
    project = rules.create("project", alice["token"], {"name": "Plan", "owner": bob["id"]})
    doc = rules.create("doc", alice["token"], {"title": "in the plan", "project": project})
    return {"alice": alice, "bob": bob, "carol": carol, "project": project, "doc": doc}


def test_two_hops_through_hidden_thing(rules, hidden_project):
    bob, doc, project = hidden_project["bob"], hidden_project["doc"], hidden_project["project"]
    assert rules.get(f"/api/1.1/obj/project/{project}", bob["token"]).status_code == 404
    assert project not in found_ids(rules, bob["token"], "project")

    # The search (SQL) and the read by id (evaluator) both read the project as stored.
    assert doc in found_ids(rules, bob["token"])
    fetched = rules.fetch("doc", doc, bob["token"])
    assert fetched["title"] == "in the plan"
    assert fetched["project"] == project

    # The write checks evaluate the same rule before and after the change.
    response = rules.patch(f"/api/1.1/obj/doc/{doc}", bob["token"], json={"title": "renamed"})
    assert response.status_code == 204, describe(response)
    assert rules.fetch("doc", doc, bob["token"])["title"] == "renamed"

    carol = hidden_project["carol"]
    assert doc not in found_ids(rules, carol["token"])
    assert rules.get(f"/api/1.1/obj/doc/{doc}", carol["token"]).status_code == 404


def test_two_hops_follow_the_stored_owner(rules, hidden_project):
    alice, bob, carol = hidden_project["alice"], hidden_project["bob"], hidden_project["carol"]
    doc, project = hidden_project["doc"], hidden_project["project"]
    response = rules.patch(f"/api/1.1/obj/project/{project}", alice["token"],
                           json={"owner": carol["id"]})
    assert response.status_code == 204, describe(response)

    assert doc not in found_ids(rules, bob["token"])
    assert rules.get(f"/api/1.1/obj/doc/{doc}", bob["token"]).status_code == 404
    assert doc in found_ids(rules, carol["token"])
    assert rules.fetch("doc", doc, carol["token"])["title"] == "in the plan"


def test_two_hops_modify_checked_after_change(rules, hidden_project):
    """Bob may move the doc only where he still owns the project."""
    bob, carol, doc = hidden_project["bob"], hidden_project["carol"], hidden_project["doc"]
    elsewhere = rules.create("project", bob["token"], {"name": "Carol's", "owner": carol["id"]})
    response = rules.patch(f"/api/1.1/obj/doc/{doc}", bob["token"], json={"project": elsewhere})
    assert_denied(response, doc, "You do not have permission to modify this object")
    assert rules.fetch("doc", doc, hidden_project["alice"]["token"])["project"] == \
        hidden_project["project"]


def test_rule_with_two_values_of_this_rejected(tmp_path):
    app = json.loads(RULES_APP.read_text())
    app["types"]["Doc"]["privacy"][2]["when"] = "This Doc's estimate * This Doc's estimate > 3"
    path = tmp_path / "app.json"
    path.write_text(json.dumps(app))
    result = run_cli("check", "--app", str(path))
    assert result.returncode != 0
    assert "types.Doc.privacy[2].when: column 1: arithmetic on two values that both depend on " \
           "This cannot be used in a privacy rule yet" in result.stderr + result.stdout
