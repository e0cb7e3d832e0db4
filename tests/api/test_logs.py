"""The server log: one access line per request, and never a password, token or request body."""

import re
import time
import uuid

from conftest import describe, unique_email, unique_password

ACCESS_LINE = re.compile(r'(\bmsg="?request"?(\s|$))|("msg"\s*:\s*"request")')


def access_lines(server):
    return [line for line in server.output().splitlines() if ACCESS_LINE.search(line)]


def wait_for_access_lines(server, expected, timeout_s=3):
    """Return the access lines once there are at least expected of them, or after timeout_s."""
    deadline = time.monotonic() + timeout_s
    lines = access_lines(server)
    while len(lines) < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        lines = access_lines(server)
    return lines


def test_log_has_no_secrets(server):
    email = unique_email("logs")
    password = unique_password()
    _, signup_token = server.signup(email, password)

    response = server.login(email, password)
    assert response.status_code == 200, describe(response)
    login_token = response.json()["response"]["token"]
    assert server.login(email, server.plant(unique_password())).status_code != 200

    admin = server.admin
    body_marker = f"body-marker-{uuid.uuid4().hex}"
    task_id = server.create("task", login_token, {"title": "logged", "notes": body_marker})
    assert server.get(f"/api/1.1/obj/task/{task_id}", login_token).status_code == 200
    assert server.get("/api/1.1/obj/task", params={"api_token": login_token}).status_code == 200
    assert server.get(f"/api/1.1/obj/task/{task_id}", admin).status_code == 200
    assert server.get("/api/1.1/obj/task", params={"api_token": admin}).status_code == 200
    assert server.post("/api/1.1/wf/add-task", signup_token,
                       json={"title": body_marker}).status_code == 200
    assert server.post("/api/1.1/wf/logout", signup_token, json={}).status_code == 200
    assert server.get("/api/1.1/obj/task", signup_token).status_code == 401

    wait_for_access_lines(server, server.requests_sent)
    log = server.output()
    assert log.strip(), "the server wrote no log at all"
    for name, secret in (("password", password), ("signup token", signup_token),
                         ("login token", login_token), ("admin token", admin)):
        # A boolean, so a failure report does not print the secret itself.
        leaked = secret in log
        assert not leaked, f"the log contains the {name}"
    assert body_marker not in log, "the log contains a request body"
    assert len(server.leaked_secrets()) == 0


def test_access_line_per_request(server):
    before = len(access_lines(server))
    token = server.user("access")["token"]
    sent_before = server.requests_sent
    for _ in range(5):
        server.get("/api/1.1/obj/task", token)
    server.get("/api/1.1/obj/nosuchtype", token)
    server.post("/api/1.1/obj/task", token, data=b"{", headers={"Content-Type": "application/json"})
    server.get("/_froth/health")
    sent = server.requests_sent - sent_before

    lines = wait_for_access_lines(server, before + 1 + sent)
    assert len(lines) - before >= sent + 1, \
        f"{len(lines) - before} access lines for {sent + 1} requests"
    assert any("/api/1.1/wf/signup" in line for line in lines[before:]), lines[before:]
    assert any("/api/1.1/obj/nosuchtype" in line and "404" in line for line in lines[before:]), \
        lines[before:]


def test_access_lines_cover_all_requests(server):
    lines = wait_for_access_lines(server, server.requests_sent)
    assert len(lines) >= server.requests_sent, \
        f"{len(lines)} access lines for {server.requests_sent} requests"


def test_malformed_body_keeps_password_out_of_log(server):
    """A body the JSON parser rejects is not quoted in the log: a cut-off or badly escaped
    password must not reach it through the parser's message."""
    password = server.plant(unique_password())
    email = unique_email("malformed")
    bodies = ['{"email":"%s","password":"%s' % (email, password),
              '{"email":"%s","password":"%s\\q"}' % (email, password),
              '{"email":"%s","password":%s}' % (email, password)]
    for body in bodies:
        for path in ("/api/1.1/wf/login", "/api/1.1/wf/signup"):
            response = server.post(path, data=body, headers={"Content-Type": "application/json"})
            assert response.status_code == 400, describe(response)
    wait_for_access_lines(server, 6)
    assert password not in server.output()
