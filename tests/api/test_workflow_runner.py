"""Workflow runner features of tests/api/apps/runner.json: multipart bodies, /initialize, list
actions, text responses, typed query-string parameters and one transaction per run."""

import json
import uuid

import pytest

from conftest import APPS_DIR, assert_envelope, assert_unauthorized, describe, run_cli, \
    start_froth, stop_and_check

RUNNER_APP = APPS_DIR / "runner.json"
MISSING_ID = "1700000000000x999999999999999999"


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    froth = start_froth(RUNNER_APP, tmp_path_factory.mktemp("runner"))
    yield froth
    stop_and_check(froth)


def new_item(server, title=None, **fields):
    return server.create("item", server.admin, {"title": title or uuid.uuid4().hex, **fields})


def item_or_none(server, item_id):
    response = server.get(f"/api/1.1/obj/item/{item_id}", server.admin)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, describe(response)
    return response.json()["response"]


def ok_response(response):
    assert response.status_code == 200, describe(response)
    return response.json()["response"]


def invalid_message(response):
    return assert_envelope(response, 400, "INVALID")["message"]


def fetch_file(server, url):
    assert url.startswith("//127.0.0.1:"), url
    return server.session.get("http:" + url, timeout=5)


# -- multipart/form-data -------------------------------------------------------------------------


def test_multipart_text_fields(runner):
    item = new_item(runner)
    response = runner.post("/api/1.1/wf/echo", files={
        "title": (None, "hello, form"), "count": (None, "42.5"), "done": (None, "yes"),
        "when": (None, "2025-01-15T10:00:00Z"), "tags": (None, '["a","b"]'),
        "nums": (None, "1, 2,3"), "item": (None, item), "items": (None, item)})
    data = ok_response(response)
    assert data["title"] == "hello, form"
    assert data["count"] == 42.5
    assert data["done"] is True
    assert data["when"] == "2025-01-15T10:00:00.000Z"
    assert data["tags"] == ["a", "b"]
    assert data["nums"] == [1, 2, 3]
    assert data["item"] == item
    assert data["items"] == [item]


def test_multipart_file_becomes_upload(runner):
    payload = bytes(range(256)) * 8 + b"\r\n--not-the-boundary\r\n"
    response = runner.post("/api/1.1/wf/add-item", files={
        "title": (None, "with a file"), "doc": ("report.bin", payload, "application/octet-stream")})
    data = ok_response(response)
    assert "/_froth/files/" in data["doc"], data
    assert data["doc"].endswith("/report.bin"), data
    assert fetch_file(runner, data["doc"]).content == payload
    assert item_or_none(runner, data["item"])["doc"] == data["doc"]


def test_multipart_empty_file_input_is_absent(runner):
    response = runner.post("/api/1.1/wf/add-item", files={
        "title": (None, "no file"), "doc": ("", b"", "application/octet-stream")})
    data = ok_response(response)
    assert "doc" not in item_or_none(runner, data["item"])


def test_multipart_file_for_text_parameter_rejected(runner):
    response = runner.post("/api/1.1/wf/echo", files={"title": ("t.txt", b"text", "text/plain")})
    assert invalid_message(response) == "Invalid value for parameter title (must be text)"


def test_multipart_missing_parameter(runner):
    response = runner.post("/api/1.1/wf/echo", files={"count": (None, "1")})
    assert_envelope(response, 400, "MISSING_DATA")


def test_multipart_part_count_capped(runner):
    fields = [(f"extra{i}", (None, "x")) for i in range(100)]
    response = runner.post("/api/1.1/wf/echo", files=[("title", (None, "t"))] + fields)
    inner = assert_envelope(response, 400, "ERROR")
    assert "at most 100" in inner["message"], inner

    response = runner.post("/api/1.1/wf/echo", files=[("title", (None, "t"))] + fields[:99])
    assert ok_response(response)["title"] == "t"


@pytest.mark.parametrize("body, content_type", [
    (b"--b\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nno end", "multipart/form-data; boundary=b"),
    (b"no delimiter at all", "multipart/form-data; boundary=b"),
    (b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b"),
    (b"--b\r\nContent-Disposition: attachment; name=\"t\"\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b"),
    (b"--b\r\nContent-Disposition: form-data; name=\"title\"", "multipart/form-data; boundary=b"),
    (b"--b--", "multipart/form-data"),
    (b"--b--", "multipart/form-data; boundary=" + "b" * 71),
    (b"--bxx", "multipart/form-data; boundary=b"),
])
def test_multipart_malformed_rejected(runner, body, content_type):
    response = runner.post("/api/1.1/wf/echo", data=body, headers={"Content-Type": content_type})
    inner = assert_envelope(response, 400, "ERROR")
    assert inner["message"].startswith("Invalid request body"), inner
    runner.assert_serving()


def test_multipart_quoted_boundary_and_preamble(runner):
    body = (b"preamble\r\n--abc def\r\nContent-Disposition: form-data; name=\"title\"\r\n"
            b"Content-Type: text/plain\r\n\r\nquoted\r\n--abc def--\r\n")
    response = runner.post("/api/1.1/wf/echo", data=body,
                           headers={"Content-Type": 'multipart/form-data; boundary="abc def"'})
    assert ok_response(response)["title"] == "quoted"


def test_multipart_nul_in_text_rejected(runner):
    response = runner.post("/api/1.1/wf/echo", files={"title": (None, b"a\x00b")})
    assert invalid_message(response).startswith("Invalid value for parameter title")


# -- /initialize ---------------------------------------------------------------------------------


def test_initialize_does_not_run(runner):
    before = runner.search_ok("item", runner.admin)["count"]
    response = runner.post("/api/1.1/wf/add-item/initialize", json={"title": "never"})
    assert response.status_code == 200, describe(response)
    assert response.json() == {"status": "success", "response": {}}
    assert runner.search_ok("item", runner.admin)["count"] == before


def test_initialize_checks_workflow_and_caller(runner):
    response = runner.post("/api/1.1/wf/nope/initialize")
    assert_envelope(response, 404, "NOT_FOUND")
    response = runner.post("/api/1.1/wf/hidden/initialize")
    assert_envelope(response, 404, "NOT_FOUND")

    assert_unauthorized(runner.post("/api/1.1/wf/admin-only/initialize"))
    assert_unauthorized(runner.post("/api/1.1/wf/user-only/initialize"))
    user = runner.user("init")
    response = runner.post("/api/1.1/wf/admin-only/initialize", user["token"])
    assert response.status_code == 403, describe(response)
    assert runner.post("/api/1.1/wf/user-only/initialize", user["token"]).status_code == 200
    assert runner.post("/api/1.1/wf/admin-only/initialize", runner.admin).status_code == 200

    response = runner.get("/api/1.1/wf/echo/initialize")
    assert response.status_code == 405, describe(response)
    assert runner.get("/api/1.1/wf/echo-get/initialize").status_code == 200
    response = runner.post("/api/1.1/wf/echo/initialize/more")
    assert_envelope(response, 404, "NOT_FOUND")


# -- actions -------------------------------------------------------------------------------------


def test_delete_list_deletes_each(runner):
    doomed = [new_item(runner) for _ in range(3)]
    kept = new_item(runner)
    response = runner.post("/api/1.1/wf/delete-items", json={"items": doomed})
    assert response.status_code == 200, describe(response)
    for item in doomed:
        assert item_or_none(runner, item) is None
    assert item_or_none(runner, kept) is not None


def test_make_changes_to_list(runner):
    items = [new_item(runner) for _ in range(3)]
    other = new_item(runner)
    data = ok_response(runner.post("/api/1.1/wf/mark-all", json={"items": items, "done": True}))
    assert data["items"] == items
    for item in items:
        thing = item_or_none(runner, item)
        assert thing["done"] is True, thing
        assert thing["count"] == 7, thing
    assert "done" not in item_or_none(runner, other)


def test_return_data_as_text(runner):
    response = runner.post("/api/1.1/wf/as-text", json={"title": "plain {not json}"})
    assert response.status_code == 200, describe(response)
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.text == "plain {not json}"

    response = runner.post("/api/1.1/wf/as-csv", json={"title": "a,b\n1,2\n"})
    assert response.status_code == 200, describe(response)
    assert response.headers["Content-Type"] == "text/csv"
    assert response.text == "a,b\n1,2\n"


@pytest.mark.parametrize("action, message", [
    ({"action": "return_data", "content_type": "not a type", "text": "title"}, "invalid content type"),
    ({"action": "return_data", "content_type": "text/plain\r\nX-Evil: 1", "text": "title"},
     "invalid content type"),
    ({"action": "return_data", "content_type": "text", "data": {"a": "title"}}, "\"data\" is only"),
    ({"action": "return_data", "text": "title"}, "needs a content_type"),
    ({"action": "return_data", "content_type": "text"}, "text"),
    ({"action": "return_data", "content_type": "text", "text": "count"}, "expected"),
    ({"action": "delete_list", "list": "title"}, "expected a list of things"),
    ({"action": "make_changes", "thing": "title", "set": {}}, "expected a thing or a list"),
])
def test_action_definition_checked(tmp_path, action, message):
    app = json.loads(RUNNER_APP.read_text())
    app["api_workflows"] = {"bad": {
        "parameters": {"title": "text", "count": "number"}, "actions": [action]}}
    path = tmp_path / "app.json"
    path.write_text(json.dumps(app))
    result = run_cli("check", "--app", str(path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "api_workflows.bad.actions[0]" in output, output
    assert message in output, output


# -- parameters ----------------------------------------------------------------------------------


def test_get_reads_typed_query_parameters(runner):
    first, second = new_item(runner), new_item(runner)
    response = runner.get("/api/1.1/wf/echo-get", params={
        "title": "q", "count": "3", "done": "no", "when": "1736935200000",
        "tags": "red, green ,blue", "nums": "[4, 5.5]", "item": first,
        "items": f"{first},{second}"})
    data = ok_response(response)
    assert data["count"] == 3
    assert data["done"] is False
    assert data["when"] == "2025-01-15T10:00:00.000Z"
    assert data["tags"] == ["red", "green", "blue"]
    assert data["nums"] == [4, 5.5]
    assert data["item"] == first
    assert data["items"] == [first, second]

    response = runner.get("/api/1.1/wf/echo-get", params={
        "title": "q", "when": "2025-01-15", "tags": '["x, y"]', "items": json.dumps([second])})
    data = ok_response(response)
    assert data["when"] == "2025-01-15T00:00:00.000Z"
    assert data["tags"] == ["x, y"]
    assert data["items"] == [second]


def test_empty_optional_parameter_is_absent(runner):
    empty = {"count": "", "done": "", "when": "", "tags": "", "nums": "", "item": "",
             "items": ""}
    for response in (runner.get("/api/1.1/wf/echo-get", params={"title": "e", **empty}),
                     runner.post("/api/1.1/wf/echo", json={"title": "e", **empty}),
                     runner.post("/api/1.1/wf/echo", data={"title": "e", **empty}),
                     runner.post("/api/1.1/wf/echo",
                                 files={k: (None, v) for k, v in {"title": "e", **empty}.items()})):
        data = ok_response(response)
        assert data["title"] == "e"
        for key in empty:
            assert data.get(key) is None, (key, data)

    response = runner.post("/api/1.1/wf/echo", data={"title": ""})
    assert_envelope(response, 400, "MISSING_DATA")


@pytest.mark.parametrize("name, value, type_name", [
    ("count", "many", "number"),
    ("done", "maybe", "boolean"),
    ("when", "not a date", "date"),
    ("nums", "1,two", "list.number"),
    ("item", MISSING_ID, "custom.item"),
    ("item", "not-an-id", "custom.item"),
    ("items", f"{MISSING_ID}", "list.custom.item"),
])
def test_query_coercion_rejects(runner, name, value, type_name):
    response = runner.get("/api/1.1/wf/echo-get", params={"title": "x", name: value})
    assert invalid_message(response) == f"Invalid value for parameter {name} (must be {type_name})"


def test_thing_of_other_type_rejected(runner):
    note = runner.create("note", runner.admin, {"body": "not an item"})
    for response in (runner.get("/api/1.1/wf/echo-get", params={"title": "x", "item": note}),
                     runner.post("/api/1.1/wf/echo", data={"title": "x", "item": note}),
                     runner.post("/api/1.1/wf/echo", json={"title": "x", "items": [note]})):
        assert invalid_message(response).startswith("Invalid value for parameter item"), \
            describe(response)


# -- one transaction per run ---------------------------------------------------------------------


def test_failing_step_rolls_back_run(runner):
    victim = new_item(runner, "victim")
    title = f"rolled back {uuid.uuid4().hex}"
    response = runner.post("/api/1.1/wf/fail-midway", json={"title": title, "victim": victim})
    inner = assert_envelope(response, 400, "ERROR")
    assert "no longer exists" in inner["message"], inner

    assert item_or_none(runner, victim)["title"] == "victim"
    listing = runner.search_ok("item", runner.admin, constraints=[
        {"key": "title", "constraint_type": "equals", "value": title}])
    assert listing["count"] == 0, listing
