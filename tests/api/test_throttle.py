"""Throttling of logins and sign-ups: per client address and per account, on by default."""

import pytest

from conftest import Froth, stop_and_check, todo_app, unique_email, unique_password


def start(tmp_path_factory, name, *args):
    froth = Froth(todo_app(), tmp_path_factory.mktemp(name))
    froth.extra_args = list(args)
    froth.start()
    return froth


@pytest.fixture(scope="module")
def lockout(tmp_path_factory):
    froth = start(tmp_path_factory, "lockout", "--lockout-after", "3")
    yield froth
    stop_and_check(froth)


@pytest.fixture(scope="module")
def per_address(tmp_path_factory):
    froth = start(tmp_path_factory, "per-address", "--login-limit", "5", "--signup-limit", "3")
    yield froth
    stop_and_check(froth)


def login(server, email, password):
    server.plant(password)
    return server.post("/api/1.1/wf/login", json={"email": email, "password": password})


def test_account_locked_after_failures(lockout):
    alice = lockout.user("alice")
    for _ in range(3):
        assert login(lockout, alice["email"], "wrong-password-1").status_code == 400
    locked = login(lockout, alice["email"], alice["password"])
    assert locked.status_code == 429
    assert locked.json()["body"]["status"] == "TOO_MANY_ATTEMPTS"
    assert 0 < int(locked.headers["Retry-After"]) <= 900
    assert "token" not in locked.text


def test_lockout_does_not_reveal_accounts(lockout):
    alice = lockout.user("alice")
    nobody = unique_email("nobody")
    answers = {}
    for email in (alice["email"], nobody):
        for _ in range(3):
            login(lockout, email, "wrong-password-2")
        answers[email] = login(lockout, email, "wrong-password-2")
    assert answers[alice["email"]].status_code == answers[nobody].status_code == 429
    assert answers[alice["email"]].text == answers[nobody].text


def test_lockout_is_per_account(lockout):
    alice = lockout.user("alice")
    bob = lockout.user("bob")
    for _ in range(3):
        login(lockout, alice["email"], "wrong-password-3")
    assert login(lockout, bob["email"], bob["password"]).status_code == 200


def test_success_resets_failures(lockout):
    carol = lockout.user("carol")
    for _ in range(2):
        for _ in range(2):
            assert login(lockout, carol["email"], "wrong-password-4").status_code == 400
        response = login(lockout, carol["email"], carol["password"])
        assert response.status_code == 200
        lockout.plant(response.json()["response"]["token"])


def test_login_limit_per_address(per_address):
    email = unique_email("dora")
    for _ in range(5):
        assert login(per_address, email, unique_password()).status_code == 400
    refused = login(per_address, email, unique_password())
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too many requests: try again later"}
    assert 0 < int(refused.headers["Retry-After"]) <= 60


def test_signup_limit_per_address(per_address):
    for _ in range(3):
        response = per_address.post("/api/1.1/wf/signup", json={
            "email": unique_email("erin"), "password": per_address.plant(unique_password())})
        assert response.status_code == 200
        per_address.plant(response.json()["response"]["token"])
    refused = per_address.post("/api/1.1/wf/signup", json={
        "email": unique_email("erin"), "password": per_address.plant(unique_password())})
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory):
    froth = start(tmp_path_factory, "proxy", "--login-limit", "2",
                  "--trusted-proxies", "127.0.0.0/8, ::1")
    yield froth
    stop_and_check(froth)


def login_from(server, forwarded_for):
    body = {"email": unique_email("fay"), "password": server.plant(unique_password())}
    return server.post("/api/1.1/wf/login", json=body,
                       headers={"X-Forwarded-For": forwarded_for})


def test_trusted_proxy_limits_each_client(behind_proxy):
    for _ in range(2):
        assert login_from(behind_proxy, "203.0.113.5").status_code == 400
    assert login_from(behind_proxy, "203.0.113.5").status_code == 429
    assert login_from(behind_proxy, "203.0.113.6").status_code == 400


def test_forged_forwarded_addresses_ignored(behind_proxy):
    for _ in range(2):
        assert login_from(behind_proxy, "203.0.113.7").status_code == 400
    # The client wrote the left part itself; the proxy appended the address it saw.
    assert login_from(behind_proxy, "198.51.100.1, 203.0.113.7").status_code == 429


@pytest.fixture(scope="module")
def no_proxy(tmp_path_factory):
    froth = start(tmp_path_factory, "no-proxy", "--login-limit", "2")
    yield froth
    stop_and_check(froth)


def test_untrusted_peer_header_ignored(no_proxy):
    for _ in range(2):
        assert login_from(no_proxy, "203.0.113.8").status_code == 400
    assert login_from(no_proxy, "203.0.113.9").status_code == 429
