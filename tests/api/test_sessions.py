"""Sessions beyond Bubble: listing and revoking one's own sessions, logging out the others, and
changing the password, which logs out every other session."""

import pytest

from conftest import APPS_DIR, Froth, assert_envelope, assert_unauthorized, stop_and_check


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    froth = Froth(APPS_DIR / "sessions.json", tmp_path_factory.mktemp("sessions"))
    froth.start()
    yield froth
    stop_and_check(froth)


def user_with_tokens(server, count):
    user = server.user("sam")
    tokens = [user["token"]]
    for _ in range(count - 1):
        response = server.login(user["email"], user["password"])
        assert response.status_code == 200, response.text
        tokens.append(response.json()["response"]["token"])
    return user, tokens


def works(server, token):
    return server.get("/api/1.1/obj/user", token).status_code == 200


def list_sessions(server, token):
    response = server.get("/_froth/sessions", token)
    assert response.status_code == 200, response.text
    return response.json()["sessions"]


def test_list_shows_sessions_without_tokens(sessions):
    user, tokens = user_with_tokens(sessions, 3)
    listed = list_sessions(sessions, tokens[0])
    assert len(listed) == 3
    assert sum(1 for s in listed if s["current"]) == 1
    response = sessions.get("/_froth/sessions", tokens[0])
    for token in tokens:
        assert token not in response.text
    assert set(listed[0]) == {"id", "created", "last_used", "expires", "two_factor", "current",
                              "client_address", "user_agent"}
    assert all(s["client_address"] == "127.0.0.1" for s in listed)
    assert all(s["user_agent"].startswith("python-requests/") for s in listed)


def test_revoke_one_session(sessions):
    user, tokens = user_with_tokens(sessions, 2)
    other = [s for s in list_sessions(sessions, tokens[0]) if not s["current"]][0]
    response = sessions.delete(f"/_froth/sessions/{other['id']}", tokens[0])
    assert response.status_code == 204
    assert not works(sessions, tokens[1])
    assert works(sessions, tokens[0])
    assert len(list_sessions(sessions, tokens[0])) == 1


def test_cannot_revoke_someone_elses_session(sessions):
    alice, alice_tokens = user_with_tokens(sessions, 1)
    bob, bob_tokens = user_with_tokens(sessions, 1)
    bobs = list_sessions(sessions, bob_tokens[0])[0]
    response = sessions.delete(f"/_froth/sessions/{bobs['id']}", alice_tokens[0])
    assert_envelope(response, 404, "NOT_FOUND")
    assert works(sessions, bob_tokens[0])


def test_sessions_api_refuses_anonymous(sessions):
    assert_unauthorized(sessions.get("/_froth/sessions"))
    assert_unauthorized(sessions.delete("/_froth/sessions?user_id=1x1"))


def test_admin_needs_user_id(sessions):
    response = sessions.get("/_froth/sessions", sessions.admin)
    assert_envelope(response, 400, "ERROR")
    assert "user_id" in response.json()["body"]["message"]
    assert_envelope(sessions.get("/_froth/sessions", sessions.admin,
                                 params={"user_id": "1700000000000x404"}), 404, "NOT_FOUND")


def test_user_cannot_name_another_user(sessions):
    alice, alice_tokens = user_with_tokens(sessions, 1)
    bob, bob_tokens = user_with_tokens(sessions, 1)
    response = sessions.get("/_froth/sessions", alice_tokens[0], params={"user_id": bob["id"]})
    assert_envelope(response, 400, "ERROR")
    assert bob_tokens[0] not in response.text
    assert sessions.delete("/_froth/sessions", alice_tokens[0]).status_code == 405


def test_admin_lists_and_revokes_a_users_session(sessions):
    user, tokens = user_with_tokens(sessions, 2)
    listed = sessions.get("/_froth/sessions", sessions.admin, params={"user_id": user["id"]})
    assert listed.status_code == 200, listed.text
    found = listed.json()["sessions"]
    assert len(found) == 2
    assert not any(s["current"] for s in found)
    response = sessions.delete(f"/_froth/sessions/{found[0]['id']}", sessions.admin,
                               params={"user_id": user["id"]})
    assert response.status_code == 204, response.text
    assert sum(works(sessions, token) for token in tokens) == 1


def test_admin_revokes_every_session_of_a_user(sessions):
    user, tokens = user_with_tokens(sessions, 3)
    other, other_tokens = user_with_tokens(sessions, 1)
    response = sessions.delete("/_froth/sessions", sessions.admin, params={"user_id": user["id"]})
    assert response.status_code == 204, response.text
    assert not any(works(sessions, token) for token in tokens)
    assert works(sessions, other_tokens[0])
    again = sessions.delete("/_froth/sessions", sessions.admin, params={"user_id": user["id"]})
    assert again.status_code == 204
    audit = sessions.get("/_froth/audit", sessions.admin,
                         params={"user_id": user["id"], "event": "session.revoked"})
    assert audit.status_code == 200, audit.text
    [row] = audit.json()["response"]["results"]
    assert row["detail"] == "by=admin reason=sessions_api count=3"
    assert row["admin_label"]


def test_log_out_other_sessions_keeps_caller(sessions):
    user, tokens = user_with_tokens(sessions, 3)
    response = sessions.post("/api/1.1/wf/logout-others", tokens[0], json={})
    assert response.status_code == 200
    assert works(sessions, tokens[0])
    assert not works(sessions, tokens[1])
    assert not works(sessions, tokens[2])


def test_change_password_logs_out_others(sessions):
    user, tokens = user_with_tokens(sessions, 2)
    new_password = sessions.plant(user["password"] + "-new")
    wrong = sessions.post("/api/1.1/wf/change-password", tokens[0],
                          json={"current": "not-the-password", "new": new_password})
    assert_envelope(wrong, 400, "INVALID_LOGIN_CREDENTIALS")
    assert works(sessions, tokens[1])
    changed = sessions.post("/api/1.1/wf/change-password", tokens[0],
                            json={"current": user["password"], "new": new_password})
    assert changed.status_code == 200, changed.text
    assert works(sessions, tokens[0])
    assert not works(sessions, tokens[1])
    old = sessions.post("/api/1.1/wf/login", json={"email": user["email"],
                                                   "password": user["password"]})
    assert old.status_code == 400
    assert sessions.login(user["email"], new_password).status_code == 200


def test_deleting_a_user_revokes_their_sessions(sessions):
    user, tokens = user_with_tokens(sessions, 2)
    response = sessions.delete(f"/api/1.1/obj/user/{user['id']}", sessions.admin)
    assert response.status_code == 204, response.text
    for token in tokens:
        assert_unauthorized(sessions.get("/api/1.1/obj/user", token))
        assert_unauthorized(sessions.get("/_froth/sessions", token))
    audit = sessions.get("/_froth/audit", sessions.admin,
                         params={"user_id": user["id"], "event": "session.revoked"})
    assert audit.status_code == 200, audit.text
    [row] = audit.json()["response"]["results"]
    assert row["detail"] == "by=admin reason=user_deleted count=2"
