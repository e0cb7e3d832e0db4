"""Bulk create, /meta, CORS preflights and the version-test database."""

import json

import pytest

from conftest import Froth, assert_envelope, stop_and_check, todo_app

BULK_CONTENT_TYPE_MESSAGE = ("Expecting a newline-seperated list of JSON objects.  Make sure the "
                             "Content-Type header is text/plain")


@pytest.fixture(scope="module")
def extras(tmp_path_factory):
    work = tmp_path_factory.mktemp("extras")
    froth = Froth(todo_app(), work)
    froth.extra_args = ["--test-db", froth.extra_store("test"),
                        "--cors-origins", "https://app.example.com"]
    froth.start()
    yield froth
    stop_and_check(froth)


def bulk(server, token, lines, content_type="text/plain"):
    body = "\n".join(lines)
    return server.post("/api/1.1/obj/task/bulk", token, data=body.encode("utf-8"),
                       headers={"Content-Type": content_type})


def test_bulk_lines_answered_in_order(extras):
    alice = extras.user("alice")
    response = bulk(extras, alice["token"], [
        json.dumps({"title": "first"}),
        '{"title": \\unit1}',
        json.dumps({"titel": "typo"}),
        json.dumps({"title": "second", "estimate": 3}),
    ])
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    results = [json.loads(line) for line in response.text.strip().split("\n")]
    assert len(results) == 4
    assert results[0]["status"] == "success"
    assert results[1] == {"status": "error",
                          "message": 'Could not parse as JSON: {"title": \\unit1}'}
    assert results[2] == {"status": "error", "message": "Unrecognized field: titel"}
    assert results[3]["status"] == "success"
    titles = sorted(t["title"] for t in extras.search_ok("task", alice["token"])["results"])
    assert titles == ["first", "second"]


def test_bulk_needs_text_plain(extras):
    alice = extras.user("alice")
    response = bulk(extras, alice["token"], [json.dumps({"title": "x"})],
                    content_type="application/json")
    assert_envelope(response, 400, "ERROR", BULK_CONTENT_TYPE_MESSAGE)
    assert extras.search_ok("task", alice["token"])["count"] == 0


def test_bulk_checks_create_permission(extras):
    response = bulk(extras, None, [json.dumps({"title": "anonymous"})])
    assert response.status_code == 200
    assert json.loads(response.text.strip()) == {
        "status": "error", "message": "Permission denied: cannot create this object"}
    assert extras.search_ok("task", extras.admin, constraints=[
        {"key": "title", "constraint_type": "equals", "value": "anonymous"}])["count"] == 0


def test_bulk_over_line_limit_rejected(extras):
    alice = extras.user("alice")
    response = bulk(extras, alice["token"], [json.dumps({"title": "x"})] * 1001)
    assert_envelope(response, 400, "ERROR")
    assert extras.search_ok("task", alice["token"])["count"] == 0


def test_meta_lists_exposed_types_and_workflows(extras):
    response = extras.get("/api/1.1/meta")
    assert response.status_code == 200
    meta = response.json()
    assert sorted(meta["get"]) == ["task", "user"]
    endpoints = {wf["endpoint"]: wf for wf in meta["post"]}
    assert set(endpoints) == {"signup", "login", "logout", "add-task", "complete-task"}
    assert endpoints["login"]["auth_unecessary"] is True
    assert endpoints["logout"]["auth_unecessary"] is False
    assert endpoints["complete-task"]["parameters"] == [
        {"key": "task", "value": "custom.task", "optional": False, "param_in": "body"}]


def test_cors_preflight_for_allowed_origin(extras):
    response = extras.session.options(extras.base + "/api/1.1/obj/task", timeout=5, headers={
        "Origin": "https://app.example.com",
        "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization",
    })
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


def test_cors_origin_not_allowed(extras):
    response = extras.session.options(extras.base + "/api/1.1/obj/task", timeout=5, headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    assert response.status_code == 403
    assert "Access-Control-Allow-Origin" not in response.headers
    plain = extras.get("/api/1.1/obj/task", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in plain.headers
    allowed = extras.get("/api/1.1/obj/task", headers={"Origin": "https://app.example.com"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_version_test_database_is_separate(extras):
    alice = extras.user("alice")
    extras.create("task", alice["token"], {"title": "live task"})
    response = extras.post("/version-test/api/1.1/wf/signup",
                           json={"email": alice["email"], "password": alice["password"]})
    assert response.status_code == 200, response.text
    test_token = extras.plant(response.json()["response"]["token"])
    created = extras.post("/version-test/api/1.1/obj/task", test_token, json={"title": "test task"})
    assert created.status_code == 201
    live = extras.search_ok("task", alice["token"])
    assert [t["title"] for t in live["results"]] == ["live task"]
    test = extras.get("/version-test/api/1.1/obj/task", test_token).json()["response"]
    assert [t["title"] for t in test["results"]] == ["test task"]
    assert extras.get("/api/1.1/obj/task", test_token).status_code == 401
    assert extras.get("/version-live/api/1.1/obj/task", alice["token"]).json()["response"]["count"] == 1


def test_admin_token_serves_both_versions(extras):
    created = extras.post("/version-test/api/1.1/obj/task", extras.admin, json={"title": "by admin"})
    assert created.status_code == 201
    thing = extras.get(f"/version-test/api/1.1/obj/task/{created.json()['id']}", extras.admin)
    assert thing.json()["response"]["Created By"] == "admin_user_todo_test"


def test_version_test_unconfigured(server):
    response = server.get("/version-test/api/1.1/obj/task")
    assert_envelope(response, 404, "NOT_FOUND")


@pytest.fixture(scope="module")
def swagger_on(tmp_path_factory):
    work = tmp_path_factory.mktemp("swagger")
    app = json.loads(open(todo_app()).read())
    app["settings"]["swagger"] = True
    app_path = work / "app.json"
    app_path.write_text(json.dumps(app))
    froth = Froth(app_path, work)
    froth.start()
    yield froth
    stop_and_check(froth)


def test_swagger_describes_exposed_api(swagger_on):
    response = swagger_on.get("/api/1.1/meta/swagger.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["swagger"] == "2.0"
    assert doc["info"]["title"] == "todo"
    assert doc["basePath"] == "/api/1.1"
    assert doc["securityDefinitions"]["api_token"] == {"type": "apiKey", "name": "api_token",
                                                       "in": "query"}
    assert "/obj/task" in doc["paths"]
    assert set(doc["paths"]["/obj/task/{UniqueID}"]) >= {"get", "patch", "put", "delete"}
    assert "/wf/complete-task" in doc["paths"]
    task_body = doc["definitions"]["taskBody"]["properties"]
    assert task_body["tags"] == {"type": "array", "items": {"type": "string"}}
    assert task_body["due"] == {"type": "string", "format": "date-time"}
    assert "_id" not in task_body
    assert "Created Date" in doc["definitions"]["task"]["properties"]
    assert "password" in doc["definitions"]["userBody"]["properties"]
    assert "password" not in doc["definitions"]["user"]["properties"]


def test_swagger_off_by_default(server):
    assert_envelope(server.get("/api/1.1/meta/swagger.json"), 404, "NOT_FOUND")
