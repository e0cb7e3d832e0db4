"""The app's password policy applies wherever a password is chosen."""

import pytest

from conftest import APPS_DIR, Froth, assert_envelope, stop_and_check, unique_email

GOOD = "Good-Passw0rd!"


@pytest.fixture(scope="module")
def policy(tmp_path_factory):
    froth = Froth(APPS_DIR / "policy.json", tmp_path_factory.mktemp("policy"))
    froth.start()
    yield froth
    stop_and_check(froth)


@pytest.mark.parametrize("password, rule", [
    ("Sh0rt!", "too short"),
    ("No-number-here!", "number"),
    ("no-capital-1!", "capital"),
    ("NoSymbolHere1", "symbol"),
])
def test_signup_rejects_weak_passwords(policy, password, rule):
    policy.plant(password)
    response = policy.post("/api/1.1/wf/signup", json={"email": unique_email("pat"),
                                                        "password": password})
    assert_envelope(response, 400, "INVALID_PASSWORD")
    assert rule in response.json()["body"]["message"]
    assert password not in response.text


def test_signup_accepts_strong_password(policy):
    response = policy.post("/api/1.1/wf/signup", json={"email": unique_email("pat"),
                                                        "password": policy.plant(GOOD)})
    assert response.status_code == 200
    policy.plant(response.json()["response"]["token"])


def test_change_password_checks_policy(policy):
    email = unique_email("pat")
    signup = policy.post("/api/1.1/wf/signup", json={"email": email, "password": policy.plant(GOOD)})
    token = policy.plant(signup.json()["response"]["token"])
    weak = policy.post("/api/1.1/wf/change-password", token,
                       json={"current": GOOD, "new": policy.plant("weak")})
    assert_envelope(weak, 400, "INVALID_PASSWORD")
    assert policy.login(email, GOOD).status_code == 200


def test_policy_rejects_bad_settings(tmp_path):
    from conftest import run_cli
    bad = tmp_path / "bad.json"
    bad.write_text('{"name":"x","settings":{"password_policy":{"min_length":0,"digits":true}}}')
    result = run_cli("check", "--app", str(bad))
    assert result.returncode == 1
    assert "settings.password_policy.min_length" in result.stderr
    assert "settings.password_policy.digits" in result.stderr
