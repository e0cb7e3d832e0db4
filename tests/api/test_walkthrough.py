"""A user's first session: sign up, log in, create, read, search, modify, replace, delete, log out."""

from conftest import DATE_RE, ID_RE, assert_unauthorized, describe, missing_body, unique_email, \
    unique_password

ONE_DAY_S = 86400
ONE_YEAR_S = 31536000


def is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def test_signup_returns_token(server):
    email = unique_email("walk")
    password = server.plant(unique_password())
    response = server.post("/api/1.1/wf/signup", json={"email": email, "password": password})
    assert response.status_code == 200, describe(response)
    body = response.json()
    assert body["status"] == "success"
    payload = body["response"]
    server.plant(payload["token"])
    assert ID_RE.match(payload["user_id"]), payload
    assert isinstance(payload["token"], str) and len(payload["token"]) >= 22
    assert is_number(payload["expires"])
    # The signup workflow of the example app keeps the user logged in: twelve months.
    assert payload["expires"] == ONE_YEAR_S


def test_login_issues_new_token(server):
    user = server.user("walk")
    response = server.login(user["email"], user["password"])
    assert response.status_code == 200, describe(response)
    body = response.json()
    assert body["status"] == "success"
    payload = body["response"]
    assert payload["user_id"] == user["id"]
    assert isinstance(payload["token"], str)
    assert payload["token"] != user["token"]
    assert is_number(payload["expires"])
    assert payload["expires"] == ONE_DAY_S


def test_login_stay_logged_in_expires_year(server):
    user = server.user("walk")
    response = server.login(user["email"], user["password"], stay_logged_in=True)
    assert response.status_code == 200, describe(response)
    payload = response.json()["response"]
    assert payload["expires"] == ONE_YEAR_S
    assert payload["token"] != user["token"]


def test_task_lifecycle(server):
    user = server.user("walk")
    token = user["token"]

    response = server.post("/api/1.1/obj/task", token,
                           json={"title": "Buy milk", "estimate": 2, "tags": ["home"]})
    assert response.status_code == 201, describe(response)
    created = response.json()
    assert created["status"] == "success"
    task_id = created["id"]
    assert ID_RE.match(task_id), created
    assert created == {"status": "success", "id": task_id}

    task = server.fetch("task", task_id, token)
    assert task["_id"] == task_id
    assert task["title"] == "Buy milk"
    assert task["estimate"] == 2
    assert task["tags"] == ["home"]
    assert task["Created By"] == user["id"]
    assert DATE_RE.match(task["Created Date"]), task
    assert DATE_RE.match(task["Modified Date"]), task
    # Empty fields are omitted, not null.
    for empty in ("done", "due", "priority", "assignee", "notes"):
        assert empty not in task, f"empty field {empty} is present: {task}"

    listing = server.search_ok("task", token)
    assert listing["cursor"] == 0
    assert listing["count"] == 1
    assert listing["remaining"] == 0
    assert [thing["_id"] for thing in listing["results"]] == [task_id]
    assert listing["results"][0]["title"] == "Buy milk"


def test_patch_changes_listed_fields(server):
    token = server.user("walk")["token"]
    task_id = server.create("task", token, {"title": "Buy milk", "estimate": 2, "tags": ["home"]})
    before = server.fetch("task", task_id, token)

    response = server.patch(f"/api/1.1/obj/task/{task_id}", token,
                            json={"title": "Buy oat milk", "done": True})
    assert response.status_code == 204, describe(response)
    assert response.content == b""

    after = server.fetch("task", task_id, token)
    assert after["title"] == "Buy oat milk"
    assert after["done"] is True
    assert after["estimate"] == 2
    assert after["tags"] == ["home"]
    assert after["Created Date"] == before["Created Date"]
    assert after["Modified Date"] >= before["Modified Date"]


def test_put_clears_missing_fields(server):
    user = server.user("walk")
    token = user["token"]
    task_id = server.create("task", token, {"title": "Buy milk", "estimate": 2, "tags": ["home"],
                                            "done": True, "notes": "2 litres"})
    before = server.fetch("task", task_id, token)

    response = server.put(f"/api/1.1/obj/task/{task_id}", token, json={"title": "Buy bread"})
    assert response.status_code == 204, describe(response)
    assert response.content == b""

    after = server.fetch("task", task_id, token)
    assert after["title"] == "Buy bread"
    for cleared in ("estimate", "tags", "done", "notes"):
        assert cleared not in after, f"PUT kept {cleared}: {after}"
    assert after["_id"] == task_id
    assert after["Created Date"] == before["Created Date"]
    assert after["Created By"] == user["id"]


def test_delete_then_get_missing(server):
    token = server.user("walk")["token"]
    task_id = server.create("task", token, {"title": "Buy milk"})

    response = server.delete(f"/api/1.1/obj/task/{task_id}", token)
    assert response.status_code == 204, describe(response)
    assert response.content == b""

    response = server.get(f"/api/1.1/obj/task/{task_id}", token)
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)

    listing = server.search_ok("task", token)
    assert listing["count"] == 0
    assert listing["results"] == []

    response = server.delete(f"/api/1.1/obj/task/{task_id}", token)
    assert response.status_code == 404, describe(response)
    assert response.json() == missing_body("task", task_id)


def test_logout_revokes_token(server):
    user = server.user("walk")
    token = user["token"]
    task_id = server.create("task", token, {"title": "Before logout"})
    other = server.login(user["email"], user["password"])
    assert other.status_code == 200, describe(other)
    other_token = other.json()["response"]["token"]

    response = server.post("/api/1.1/wf/logout", token, json={})
    assert response.status_code == 200, describe(response)
    assert response.json() == {"status": "success", "response": {}}

    refused = [
        server.get("/api/1.1/obj/task", token),
        server.get(f"/api/1.1/obj/task/{task_id}", token),
        server.post("/api/1.1/obj/task", token, json={"title": "After logout"}),
        server.patch(f"/api/1.1/obj/task/{task_id}", token, json={"title": "x"}),
        server.get(f"/api/1.1/obj/user/{user['id']}", token),
        server.post("/api/1.1/wf/add-task", token, json={"title": "After logout"}),
        server.post("/api/1.1/wf/logout", token, json={}),
    ]
    for response in refused:
        assert_unauthorized(response, "Invalid or expired token", secret=token)

    # Only the session that logged out is gone; the other login still works.
    task = server.fetch("task", task_id, other_token)
    assert task["title"] == "Before logout"
    listing = server.search_ok("task", other_token)
    assert listing["count"] == 1
