"""Workflow API of the example app: parameters, authentication, conditions and body encodings."""

import uuid

from conftest import assert_envelope, assert_unauthorized, describe, unique_email, \
    unique_password


def user_total(server):
    """Return how many users exist, as the admin sees them."""
    listing = server.search_ok("user", server.admin, limit=1)
    return listing["count"] + listing["remaining"]


def test_missing_parameter_rejected(server):
    response = server.post("/api/1.1/wf/login", json={"email": unique_email("wf")})
    assert response.status_code == 400, describe(response)
    assert response.json() == {"statusCode": 400, "body": {
        "status": "MISSING_DATA",
        "message": "Missing parameter for workflow login: parameter password"}}


def test_empty_body_missing_data(server):
    for body, content_type in ((b"{}", "application/json"), (b"", "application/json"),
                               (b"", None)):
        headers = {"Content-Type": content_type} if content_type else {}
        response = server.post("/api/1.1/wf/login", data=body, headers=headers)
        assert_envelope(response, 400, "MISSING_DATA")


def test_malformed_body_rejected(server):
    response = server.post("/api/1.1/wf/login", data=b'{"email":',
                           headers={"Content-Type": "application/json"})
    assert_envelope(response, 400)
    server.assert_serving()


def test_add_task_missing_title(server):
    token = server.user("wf")["token"]
    response = server.post("/api/1.1/wf/add-task", token, json={})
    assert response.status_code == 400, describe(response)
    assert response.json() == {"statusCode": 400, "body": {
        "status": "MISSING_DATA",
        "message": "Missing parameter for workflow add-task: parameter title"}}


def test_invalid_date_parameter_rejected(server):
    token = server.user("wf")["token"]
    response = server.post("/api/1.1/wf/add-task", token,
                           json={"title": "Dated", "due": "yesterday-ish"})
    inner = assert_envelope(response, 400, "INVALID")
    assert inner["message"].startswith("Invalid value for parameter due"), inner
    assert "date" in inner["message"], inner
    assert server.search_ok("task", token)["count"] == 0


def test_unknown_thing_parameter_rejected(server):
    token = server.user("wf")["token"]
    for task_id in ("1700000000000x999999999999999999", "not-an-id"):
        response = server.post("/api/1.1/wf/complete-task", token, json={"task": task_id})
        inner = assert_envelope(response, 400, "INVALID")
        assert inner["message"].startswith("Invalid value for parameter task"), inner


def test_add_task_requires_token(server):
    title = f"anonymous {uuid.uuid4().hex[:8]}"
    response = server.post("/api/1.1/wf/add-task", json={"title": title})
    assert_unauthorized(response)

    listing = server.search_ok("task", server.admin, constraints=[
        {"key": "title", "constraint_type": "equals", "value": title}])
    assert listing["count"] == 0


def test_add_task_creates_visible_task(server):
    user = server.user("wf")
    response = server.post("/api/1.1/wf/add-task", user["token"],
                           json={"title": "Write report", "due": "2025-01-15T10:00:00Z",
                                 "tags": ["work", "q1"]})
    assert response.status_code == 200, describe(response)
    body = response.json()
    assert body["status"] == "success"
    task_id = body["response"]["task"]
    assert body == {"status": "success", "response": {"task": task_id, "title": "Write report"}}

    task = server.fetch("task", task_id, user["token"])
    assert task["title"] == "Write report"
    assert task["due"] == "2025-01-15T10:00:00.000Z"
    assert task["tags"] == ["work", "q1"]
    assert task["Created By"] == user["id"]

    listing = server.search_ok("task", user["token"])
    assert [thing["_id"] for thing in listing["results"]] == [task_id]


def test_complete_own_task(server):
    token = server.user("wf")["token"]
    task_id = server.create("task", token, {"title": "Finish me"})
    response = server.post("/api/1.1/wf/complete-task", token, json={"task": task_id})
    assert response.status_code == 200, describe(response)
    assert response.json() == {"status": "success", "response": {"task": task_id, "done": True}}
    assert server.fetch("task", task_id, token)["done"] is True


def test_complete_own_task_not_run_when_done_by_other(server):
    alice = server.user("alice")
    bob = server.user("bob")
    task_id = server.create("task", alice["token"], {"title": "Alice's", "assignee": bob["id"]})
    response = server.post("/api/1.1/wf/complete-task", bob["token"], json={"task": task_id})
    assert response.status_code == 400, describe(response)
    assert response.json() == {
        "status": "NOT_RUN",
        "message": "The condition for the workflow complete-task is not met. Workflow won't run"}
    assert "done" not in server.fetch("task", task_id, alice["token"])


def test_complete_hidden_task_answers_as_missing(server):
    """A task Bob cannot find is, to him, a task that does not exist."""
    alice = server.user("alice")
    bob = server.user("bob")
    task_id = server.create("task", alice["token"], {"title": "Alice's"})
    answers = [server.post("/api/1.1/wf/complete-task", bob["token"], json={"task": thing_id})
               for thing_id in (task_id, "1700000000000x999999999999999999")]
    assert answers[0].status_code == 400, describe(answers[0])
    assert answers[0].json() == {"statusCode": 400, "body": {
        "status": "INVALID", "message": "Invalid value for parameter task (must be custom.task)"}}
    assert answers[0].text == answers[1].text
    assert "done" not in server.fetch("task", task_id, alice["token"])


def test_duplicate_signup_rejected(server):
    email = unique_email("carol")
    user_id, _ = server.signup(email, unique_password())
    total = user_total(server)

    variants = [email, email.upper(), email.capitalize(), f"  {email} ", f"\t{email.title()}"]
    for variant in variants:
        password = server.plant(unique_password())
        response = server.post("/api/1.1/wf/signup", json={"email": variant, "password": password})
        assert response.status_code == 400, f"{variant!r}: {describe(response)}"
        # Bubble's preset error code for an email that is already taken.
        assert_envelope(response, 400, "USED_EMAIL")
        assert "token" not in response.text, describe(response)

    assert user_total(server) == total, "a duplicate sign-up created a user"


def test_login_ignores_email_case(server):
    user = server.user("dave")
    response = server.login(user["email"].upper(), user["password"])
    assert response.status_code == 200, describe(response)
    assert response.json()["response"]["user_id"] == user["id"]


def test_login_failures_indistinguishable(server):
    user = server.user("erin")
    wrong_password = server.login(user["email"], unique_password())
    unknown_email = server.login(unique_email("nobody"), unique_password())

    assert 400 <= wrong_password.status_code < 500, describe(wrong_password)
    assert wrong_password.status_code == unknown_email.status_code
    assert wrong_password.content == unknown_email.content, \
        f"{wrong_password.text!r} != {unknown_email.text!r}"
    assert "token" not in wrong_password.text
    assert user["email"] not in wrong_password.text

    # The right password still works after failures.
    assert server.login(user["email"], user["password"]).status_code == 200


def test_form_encoded_login(server):
    email = unique_email("form")
    # Characters that form encoding must escape: '+', '&', '=', '%' and a space.
    password = f"a+b&c=d %{uuid.uuid4().hex}"
    user_id, _ = server.signup(email, password)

    response = server.post("/api/1.1/wf/login", data={"email": email, "password": password})
    assert response.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.status_code == 200, describe(response)
    payload = response.json()["response"]
    server.plant(payload["token"])
    assert payload["user_id"] == user_id
    assert payload["expires"] == 86400

    task = server.post("/api/1.1/wf/add-task", payload["token"], data={"title": "From a form"})
    assert task.status_code == 200, describe(task)
    assert task.json()["response"]["title"] == "From a form"


def test_wrong_workflow_method_rejected(server):
    response = server.get("/api/1.1/wf/login")
    assert response.status_code == 405, describe(response)
    assert isinstance(response.json().get("message"), str), describe(response)
