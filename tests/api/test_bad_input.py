"""Bad input of every kind gets a 4xx in Bubble's envelope, writes nothing, and the server keeps
serving."""

import json
import socket

import pytest

from conftest import assert_envelope, describe, missing_body


@pytest.fixture
def owner(server):
    """A fresh user with no tasks, so "nothing written" is a search count of zero."""
    user = server.user("bad")
    yield user
    server.assert_serving()


def assert_no_tasks(server, token):
    listing = server.search_ok("task", token)
    assert listing["count"] == 0, f"a rejected request wrote a task: {listing['results']}"


def post_raw(server, token, body, content_type="application/json"):
    return server.post("/api/1.1/obj/task", token, data=body,
                       headers={"Content-Type": content_type})


MALFORMED_BODIES = {
    "truncated": b'{"title":',
    "trailing-comma": b'{"title":"x",}',
    "single-quotes": b"{'title':'x'}",
    "two-documents": b'{"title":"x"}{"title":"y"}',
    "trailing-garbage": b'{"title":"x"} x',
    "bare-string": b'"title"',
    "nul-byte": b'{"title":"a\x00b"}',
}


@pytest.mark.parametrize("name", sorted(MALFORMED_BODIES))
def test_malformed_json_rejected(server, owner, name):
    response = post_raw(server, owner["token"], MALFORMED_BODIES[name])
    assert_envelope(response, 400)
    assert_no_tasks(server, owner["token"])


def test_array_body_rejected(server, owner):
    response = post_raw(server, owner["token"], b'[{"title":"x"}]')
    assert_envelope(response, 400)
    assert_no_tasks(server, owner["token"])


def test_unknown_field_rejected(server, owner):
    response = server.post("/api/1.1/obj/task", owner["token"], json={"titel": "x"})
    assert response.status_code == 400, describe(response)
    assert response.json() == {"statusCode": 400, "body": {
        "status": "ERROR", "message": "Unrecognized field: titel"}}
    assert_no_tasks(server, owner["token"])

    response = server.post("/api/1.1/obj/task", owner["token"], json={"title": "x", "titel": "y"})
    assert response.status_code == 400, describe(response)
    assert_no_tasks(server, owner["token"])


def test_duplicate_json_keys_rejected(server, owner):
    response = post_raw(server, owner["token"], b'{"title":"a","title":"b"}')
    assert_envelope(response, 400)
    assert_no_tasks(server, owner["token"])


@pytest.mark.parametrize("field,value", [
    ("_id", "1700000000000x100000000000000001"),
    ("Created Date", "2025-01-01T00:00:00.000Z"),
    ("Modified Date", "2025-01-01T00:00:00.000Z"),
    ("Created By", "1700000000000x100000000000000001"),
])
def test_builtin_fields_not_writable(server, owner, field, value):
    response = server.post("/api/1.1/obj/task", owner["token"], json={"title": "x", field: value})
    assert_envelope(response, 400)
    assert_no_tasks(server, owner["token"])

    task_id = server.create("task", owner["token"], {"title": "kept"})
    before = server.fetch("task", task_id, owner["token"])
    response = server.patch(f"/api/1.1/obj/task/{task_id}", owner["token"],
                            json={"title": "changed", field: value})
    assert_envelope(response, 400)
    after = server.fetch("task", task_id, owner["token"])
    assert after == before, "a rejected PATCH changed the task"


WRONG_VALUES = [
    ("estimate", "abc"),
    ("estimate", [1]),
    ("estimate", "0x10"),
    ("estimate", " 0x1p3 "),
    ("estimate", "inf"),
    ("estimate", "nan"),
    ("done", "maybe"),
    ("done", 2),
    ("due", "not a date"),
    ("due", "2025-13-45T00:00:00Z"),
    ("tags", "x"),
    ("tags", [1, {"a": 1}]),
    ("priority", "Urgent"),
    ("assignee", "nonexistent id"),
    ("assignee", "1700000000000x999999999999999999"),
    ("title", {"nested": "object"}),
]


@pytest.mark.parametrize("field,value", WRONG_VALUES, ids=[f"{f}-{v}" for f, v in WRONG_VALUES])
def test_wrong_value_type_rejected(server, owner, field, value):
    response = server.post("/api/1.1/obj/task", owner["token"], json={"title": "x", field: value})
    inner = assert_envelope(response, 400, "INVALID_DATA")
    assert field in inner["message"], f"the message does not name {field}: {inner['message']}"
    assert_no_tasks(server, owner["token"])


def test_reference_to_wrong_type_rejected(server, owner):
    task_id = server.create("task", owner["token"], {"title": "not a user"})
    response = server.post("/api/1.1/obj/task", owner["token"],
                           json={"title": "x", "assignee": task_id})
    inner = assert_envelope(response, 400, "INVALID_DATA")
    assert "assignee" in inner["message"]


def test_wrong_value_on_patch_keeps_thing(server, owner):
    task_id = server.create("task", owner["token"], {"title": "kept", "estimate": 3})
    response = server.patch(f"/api/1.1/obj/task/{task_id}", owner["token"],
                            json={"title": "changed", "estimate": "abc"})
    inner = assert_envelope(response, 400, "INVALID_DATA")
    assert "estimate" in inner["message"]
    task = server.fetch("task", task_id, owner["token"])
    assert task["title"] == "kept"
    assert task["estimate"] == 3


def test_oversized_body_rejected(server, owner):
    body = json.dumps({"title": "x" * (1024 * 1024 + 1024)}).encode()
    response = post_raw(server, owner["token"], body)
    assert_envelope(response, 413)
    assert_no_tasks(server, owner["token"])


@pytest.mark.parametrize("shape", ["array", "object", "in-field"])
def test_deep_nesting_rejected(server, owner, shape):
    depth = 10000
    if shape == "array":
        body = "[" * depth + "]" * depth
    elif shape == "object":
        body = '{"a":' * depth + "1" + "}" * depth
    else:
        body = '{"title":' + "[" * depth + "]" * depth + "}"
    response = post_raw(server, owner["token"], body.encode())
    assert_envelope(response, 400)
    assert_no_tasks(server, owner["token"])


@pytest.mark.parametrize("raw", [
    b'{"title":"\xff\xfe"}',
    b'{"title":"\xc0\xaf"}',
    b'{"title":"\xed\xa0\x80"}',
    b'{"title":"abc\xe2\x82"}',
    b'{"title":"\\ud800"}',
], ids=["ff-fe", "overlong", "surrogate", "truncated-sequence", "lone-surrogate-escape"])
def test_invalid_utf8_rejected(server, owner, raw):
    response = post_raw(server, owner["token"], raw)
    assert_envelope(response, 400)
    assert_no_tasks(server, owner["token"])


def test_emoji_round_trips(server, owner):
    title = "Zoë naïve — 東京 🐘 👍🏽 end"
    task_id = server.create("task", owner["token"], {"title": title, "tags": ["🐘", "ok"]})
    task = server.fetch("task", task_id, owner["token"])
    assert task["title"] == title
    assert task["tags"] == ["🐘", "ok"]

    listing = server.search_ok("task", owner["token"], constraints=[
        {"key": "title", "constraint_type": "equals", "value": title}])
    assert [thing["_id"] for thing in listing["results"]] == [task_id]


def test_long_text_round_trips(server, owner):
    notes = "0123456789" * 20000
    task_id = server.create("task", owner["token"], {"title": "long", "notes": notes})
    assert server.fetch("task", task_id, owner["token"])["notes"] == notes


@pytest.mark.parametrize("method,path", [
    ("PATCH", "/api/1.1/obj/task"),
    ("PUT", "/api/1.1/obj/task"),
    ("DELETE", "/api/1.1/obj/task"),
])
def test_wrong_method_rejected(server, owner, method, path):
    response = server.request(method, path, owner["token"], json={"title": "x"})
    assert response.status_code == 405, describe(response)
    body = response.json()
    assert isinstance(body.get("message"), str), describe(response)
    assert_no_tasks(server, owner["token"])


def test_unknown_workflow_not_found(server, owner):
    for token in (None, owner["token"], server.admin):
        response = server.post("/api/1.1/wf/nosuch", token, json={})
        assert response.status_code == 404, describe(response)
        assert response.json() == {"statusCode": 404, "body": {
            "status": "NOT_FOUND", "message": "Workflow nosuch not found"}}


def test_bad_ids_not_found(server, owner):
    missing = "1700000000000x999999999999999999"
    response = server.get(f"/api/1.1/obj/task/{missing}", owner["token"])
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", missing)

    for thing_id in ("nonexistent", "%00", "%FF", "..%2F..%2Fetc"):
        response = server.get(f"/api/1.1/obj/task/{thing_id}", owner["token"])
        assert response.status_code in (400, 404), describe(response)
        assert isinstance(response.json(), dict), describe(response)


def test_invalid_utf8_in_path_gives_valid_json(server):
    """Bytes that are not UTF-8 in the path are replaced in the response and escaped in the log,
    so neither stops being valid text."""
    request = (b"GET /api/1.1/obj/task\xff\xfe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Connection: close\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404"), head
    parsed = json.loads(body.decode("utf-8"))
    assert parsed["body"]["message"] == "Type not found task\ufffd\ufffd"
    server.output().encode("utf-8")
    with open(server.log_path, "rb") as log:
        log.read().decode("utf-8")
