"""Two-factor login with TOTP: enrolment, login with a code or a recovery code, replay
rejection, recovery code rotation, disabling, and secrets kept out of the log and the Data API."""

import base64
import hashlib
import hmac
import os
import re
import shutil
import struct
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import pytest

from conftest import (APPS_DIR, Froth, assert_envelope, describe, find_keys, sql_rows,
                      stop_and_check, store_kind)

STEP_S = 30


def key_file(path):
    """Write a new random secret key file and return its path."""
    path.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    path.chmod(0o600)
    return path


def start_twofactor(work_dir, key=None):
    """Start the two-factor app with the key file key. On PostgreSQL the app needs one, so it is
    made here when key is None. On SQLite, without a key, froth keeps one beside the database."""
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    froth = Froth(APPS_DIR / "twofactor.json", work_dir)
    if key is None and store_kind() == "postgres":
        key = key_file(Path(work_dir) / "secret.key")
    if key is not None:
        froth.extra_args = ["--secret-key-file", str(key)]
    froth.start()
    return froth


@pytest.fixture(scope="module")
def twofactor(tmp_path_factory):
    froth = start_twofactor(tmp_path_factory.mktemp("twofactor"))
    yield froth
    stop_and_check(froth)


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 1000000:06d}"


def current_step():
    """Return the current 30 s step, first waiting out a step that ends within 2 s, so the server
    sees the same step as the code."""
    now = time.time()
    if STEP_S - now % STEP_S < 2:
        time.sleep(STEP_S - now % STEP_S + 0.1)
    return int(time.time()) // STEP_S


def next_step(previous):
    """Wait until the step after previous begins and return it, for a second fresh code."""
    while int(time.time()) // STEP_S <= previous:
        time.sleep(0.2)
    return current_step()


def call(server, name, token=None, **body):
    return server.post(f"/api/1.1/wf/{name}", token, json=body)


def result(response, key):
    assert response.status_code == 200, describe(response)
    return response.json()["response"][key]


def enrol(server):
    """Sign a user up and enable 2FA. Returns the user dict with secret, step and codes."""
    user = server.user("tf")
    uri = result(call(server, "enable-2fa", user["token"], password=user["password"]), "uri")
    server.plant(uri)
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    server.plant(secret)
    step = current_step()
    code = totp(secret, step)
    codes = result(call(server, "confirm-2fa", user["token"], code=code), "recovery_codes")
    server.plant(codes)
    user.update(uri=uri, secret=secret, step=step, codes=codes.split(" "))
    for recovery in user["codes"]:
        server.plant(recovery)
    return user


def login(server, user, code=None, stay=None):
    body = {"email": user["email"], "password": user["password"]}
    if code is not None:
        body["code"] = server.plant(code)
    if stay is not None:
        body["stay_logged_in"] = stay
    response = call(server, "login", **body)
    if response.status_code == 200:
        server.plant(response.json()["response"]["token"])
    return response


def test_enrolment_uri_format(twofactor):
    user = twofactor.user("uri")
    uri = result(call(twofactor, "enable-2fa", user["token"], password=user["password"]), "uri")
    twofactor.plant(uri)
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth"
    assert parsed.netloc == "totp"
    assert unquote(parsed.path) == f"/Froth Test & Co:{user['email']}"
    query = parse_qs(parsed.query)
    twofactor.plant(query["secret"][0])
    assert len(base64.b32decode(query["secret"][0])) == 20
    assert query["issuer"] == ["Froth Test & Co"]
    assert query["algorithm"] == ["SHA1"]
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]


QUIET_ZONE = 4
SVG_NS = "{http://www.w3.org/2000/svg}"
RECT_RE = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")


def svg_modules(svg):
    """Return the SVG's module grid (rows of 0 and 1, quiet zone included), checking that the
    document is an SVG with one path of one-module-high rectangles that never overlap."""
    root = ElementTree.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    x0, y0, width, height = (int(v) for v in root.get("viewBox").split())
    assert (x0, y0) == (0, 0)
    assert width == height
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1
    d = paths[0].get("d")
    assert RECT_RE.sub("", d) == "", "the path holds something besides rectangles"
    grid = [[0] * width for _ in range(width)]
    for match in RECT_RE.finditer(d):
        x, y, run, back = (int(v) for v in match.groups())
        assert run == back
        assert run > 0
        for i in range(run):
            assert grid[y][x + i] == 0, f"module ({x + i}, {y}) drawn twice"
            grid[y][x + i] = 1
    return grid


def qrencode_modules(text):
    """Return libqrencode's own module grid for text, drawn by its command-line tool with the
    settings froth uses (8-bit mode, level M, smallest version) and the same quiet zone."""
    tool = shutil.which("qrencode")
    assert tool, "the qrencode tool is missing: run scripts/install-deps.sh --test"
    drawn = subprocess.run([tool, "-8", "-l", "M", "-m", str(QUIET_ZONE), "-t", "ASCII", "-o", "-"],
                           input=text.encode("utf-8"), capture_output=True, check=True,
                           timeout=10).stdout.decode("ascii")
    return [[1 if row[i:i + 2] == "##" else 0 for i in range(0, len(row), 2)]
            for row in drawn.splitlines() if row]


def test_enrolment_qr_code_matches_uri(twofactor):
    user = twofactor.user("qr")
    response = call(twofactor, "enable-2fa", user["token"], password=user["password"])
    uri = twofactor.plant(result(response, "uri"))
    qr_code = twofactor.plant(result(response, "qr_code"))
    prefix = "data:image/svg+xml;base64,"
    assert qr_code.startswith(prefix)
    grid = svg_modules(base64.b64decode(qr_code[len(prefix):], validate=True))

    size = len(grid)
    symbol = size - 2 * QUIET_ZONE
    assert symbol >= 21, f"{symbol} is not a QR symbol width"
    assert (symbol - 17) % 4 == 0, f"{symbol} is not a QR symbol width"
    for y in range(size):
        for x in range(size):
            if min(x, y) < QUIET_ZONE or max(x, y) >= size - QUIET_ZONE:
                assert grid[y][x] == 0, f"quiet zone module ({x}, {y}) is dark"
    assert grid == qrencode_modules(uri)


def test_enrolment_wrong_password_rejected(twofactor):
    user = twofactor.user("wrongpw")
    response = call(twofactor, "enable-2fa", user["token"], password="not-the-password")
    assert_envelope(response, 400, status="INVALID_LOGIN_CREDENTIALS")


def test_enrolment_needs_login(twofactor):
    response = call(twofactor, "enable-2fa", password="whatever")
    assert response.status_code in (400, 401), describe(response)


def test_confirm_wrong_code_keeps_2fa_off(twofactor):
    user = twofactor.user("confirm")
    uri = result(call(twofactor, "enable-2fa", user["token"], password=user["password"]), "uri")
    twofactor.plant(uri)
    secret = parse_qs(urlparse(uri).query)["secret"][0]
    wrong = f"{(int(totp(secret, current_step())) + 1) % 1000000:06d}"
    response = call(twofactor, "confirm-2fa", user["token"], code=wrong)
    assert_envelope(response, 400, status="INVALID_2FA_CODE")
    assert login(twofactor, user).status_code == 200


def test_confirm_accepts_code_with_space(twofactor):
    """Authenticator apps show a code as "123 456"; typed that way it is accepted."""
    user = twofactor.user("spaced")
    uri = result(call(twofactor, "enable-2fa", user["token"], password=user["password"]), "uri")
    twofactor.plant(uri)
    secret = twofactor.plant(parse_qs(urlparse(uri).query)["secret"][0])
    code = totp(secret, current_step())
    spaced = twofactor.plant(f"{code[:3]} {code[3:]}")
    codes = result(call(twofactor, "confirm-2fa", user["token"], code=spaced), "recovery_codes")
    twofactor.plant(codes)
    assert len(codes.split(" ")) == 10


def test_confirm_gives_ten_recovery_codes(twofactor):
    user = enrol(twofactor)
    assert len(user["codes"]) == 10
    assert len(set(user["codes"])) == 10
    for code in user["codes"]:
        assert len(code.replace("-", "")) == 10


def test_confirm_logs_out_other_sessions(twofactor):
    user = twofactor.user("others")
    other = result(login(twofactor, user), "token")
    uri = result(call(twofactor, "enable-2fa", user["token"], password=user["password"]), "uri")
    secret = twofactor.plant(parse_qs(urlparse(uri).query)["secret"][0])
    codes = result(call(twofactor, "confirm-2fa", user["token"],
                        code=totp(secret, current_step())), "recovery_codes")
    twofactor.plant(codes)
    assert twofactor.get("/api/1.1/obj/user", other).status_code != 200
    assert twofactor.get("/api/1.1/obj/user", user["token"]).status_code == 200


def test_login_without_code_requires_2fa(twofactor):
    user = enrol(twofactor)
    response = login(twofactor, user)
    assert_envelope(response, 400, status="2FA_REQUIRED")
    assert "token" not in response.text


def test_login_wrong_code_rejected(twofactor):
    user = enrol(twofactor)
    wrong = f"{(int(totp(user['secret'], current_step())) + 1) % 1000000:06d}"
    response = login(twofactor, user, code=wrong)
    assert_envelope(response, 400, status="INVALID_2FA_CODE")
    assert "token" not in response.text


def test_login_wrong_password_with_code(twofactor):
    user = enrol(twofactor)
    response = call(twofactor, "login", email=user["email"], password="wrong-password",
                    code=totp(user["secret"], current_step()))
    assert_envelope(response, 400, status="INVALID_LOGIN_CREDENTIALS")


def test_login_code_gives_month_session(twofactor):
    user = enrol(twofactor)
    step = next_step(user["step"])
    response = login(twofactor, user, code=totp(user["secret"], step), stay=True)
    assert result(response, "expires") == 2592000
    assert twofactor.get("/api/1.1/obj/user", result(response, "token")).status_code == 200


def test_totp_code_replay_rejected(twofactor):
    user = enrol(twofactor)
    step = next_step(user["step"])
    code = totp(user["secret"], step)
    assert login(twofactor, user, code=code).status_code == 200
    response = login(twofactor, user, code=code)
    assert_envelope(response, 400, status="INVALID_2FA_CODE")


def test_confirm_code_not_reusable_for_login(twofactor):
    user = enrol(twofactor)
    if current_step() != user["step"]:
        pytest.skip("the step ended between confirming and logging in")
    response = login(twofactor, user, code=totp(user["secret"], user["step"]))
    assert_envelope(response, 400, status="INVALID_2FA_CODE")


def test_recovery_code_works_once(twofactor):
    user = enrol(twofactor)
    recovery = user["codes"][3]
    response = login(twofactor, user, code=recovery.lower(), stay=True)
    assert result(response, "expires") == 2592000
    assert_envelope(login(twofactor, user, code=recovery), 400, status="INVALID_2FA_CODE")
    assert login(twofactor, user, code=user["codes"][4]).status_code == 200


def login_checked(server, user, code=None, stay=None):
    """Log in through a workflow whose check_2fa step checks the code after log_in."""
    body = {"email": user["email"], "password": user["password"]}
    if code is not None:
        body["code"] = server.plant(code)
    if stay is not None:
        body["stay_logged_in"] = stay
    response = call(server, "login-checked", **body)
    if response.status_code == 200:
        server.plant(response.json()["response"]["token"])
    return response


def test_check_step_completes_login(twofactor):
    user = enrol(twofactor)
    response = login_checked(twofactor, user, code=user["codes"][0], stay=True)
    assert result(response, "checked") is True
    assert result(response, "expires") == 2592000
    token = result(response, "token")
    assert twofactor.get("/api/1.1/obj/user", token).status_code == 200


def test_check_step_wrong_code_issues_no_token(twofactor):
    user = enrol(twofactor)
    wrong = f"{(int(totp(user['secret'], current_step())) + 1) % 1000000:06d}"
    response = login_checked(twofactor, user, code=wrong)
    assert_envelope(response, 400, status="INVALID_2FA_CODE")
    assert "token" not in response.text


def test_check_step_skipped_requires_2fa(twofactor):
    user = enrol(twofactor)
    response = login_checked(twofactor, user)
    assert_envelope(response, 400, status="2FA_REQUIRED")
    assert "token" not in response.text


def test_check_step_without_2fa_passes(twofactor):
    user = twofactor.user("plain")
    response = login_checked(twofactor, user, code="123456")
    assert result(response, "checked") is False
    assert twofactor.get("/api/1.1/obj/user", result(response, "token")).status_code == 200


def test_check_step_guards_sensitive_workflow(twofactor):
    user = enrol(twofactor)
    assert_envelope(call(twofactor, "sensitive", user["token"], code="000000"), 400,
                    status="INVALID_2FA_CODE")
    recovery = twofactor.plant(user["codes"][5])
    assert result(call(twofactor, "sensitive", user["token"], code=recovery), "checked") is True
    assert_envelope(call(twofactor, "sensitive", user["token"], code=recovery), 400,
                    status="INVALID_2FA_CODE")
    plain = twofactor.user("plain")
    assert result(call(twofactor, "sensitive", plain["token"], code="1"), "checked") is False


def test_regenerate_invalidates_old_codes(twofactor):
    user = enrol(twofactor)
    step = next_step(user["step"])
    response = call(twofactor, "regenerate-codes", user["token"], code=totp(user["secret"], step))
    fresh = result(response, "recovery_codes")
    twofactor.plant(fresh)
    fresh = fresh.split(" ")
    assert len(fresh) == 10
    assert not set(fresh) & set(user["codes"])
    assert_envelope(login(twofactor, user, code=user["codes"][0]), 400, status="INVALID_2FA_CODE")
    assert login(twofactor, user, code=fresh[0]).status_code == 200


def test_regenerate_wrong_code_rejected(twofactor):
    user = enrol(twofactor)
    response = call(twofactor, "regenerate-codes", user["token"], code="000000x")
    assert_envelope(response, 400, status="INVALID_2FA_CODE")


def test_disable_needs_password_and_code(twofactor):
    user = enrol(twofactor)
    recovery = user["codes"]
    response = call(twofactor, "disable-2fa", user["token"], password="wrong", code=recovery[0])
    assert_envelope(response, 400, status="INVALID_LOGIN_CREDENTIALS")
    response = call(twofactor, "disable-2fa", user["token"], password=user["password"],
                    code="ABCDE-FGHIJ")
    assert_envelope(response, 400, status="INVALID_2FA_CODE")
    response = call(twofactor, "disable-2fa", user["token"], password=user["password"])
    assert response.status_code == 400, describe(response)
    assert_envelope(login(twofactor, user), 400, status="2FA_REQUIRED")

    response = call(twofactor, "disable-2fa", user["token"], password=user["password"],
                    code=recovery[1])
    assert response.status_code == 200, describe(response)
    response = login(twofactor, user, stay=True)
    assert result(response, "expires") == 365 * 24 * 3600
    assert_envelope(call(twofactor, "regenerate-codes", user["token"], code=recovery[2]), 400,
                    status="2FA_NOT_ENABLED")


def test_wrong_codes_lock_the_account(twofactor):
    user = enrol(twofactor)
    for _ in range(10):
        assert_envelope(login(twofactor, user, code="ZZZZZ-ZZZZZ"), 400, status="INVALID_2FA_CODE")
    response = login(twofactor, user, code=user["codes"][0])
    assert_envelope(response, 429, status="TOO_MANY_ATTEMPTS")


def test_user_api_hides_2fa_state(twofactor):
    user = enrol(twofactor)
    for path in (f"/api/1.1/obj/user/{user['id']}", "/api/1.1/obj/user"):
        for token in (user["token"], twofactor.admin):
            response = twofactor.get(path, token)
            assert response.status_code == 200, describe(response)
            assert user["secret"] not in response.text
            assert find_keys(response.json(), ["totp", "recovery", "secret", "two_factor"]) == []


def test_secrets_stay_out_of_the_log(twofactor):
    user = enrol(twofactor)
    login(twofactor, user, code=user["codes"][5])
    log = twofactor.output()
    for value in [user["secret"], user["uri"]] + user["codes"]:
        assert value not in log
    assert not twofactor.leaked_secrets()


# ---- Secrets at rest ---------------------------------------------------------------------------

def stored_secret(server, user_id):
    rows = sql_rows(server.db_url, 'SELECT "_totp_secret" FROM "t_user" WHERE "_id" = ?',
                    (user_id,))
    assert len(rows) == 1
    return rows[0][0]


def test_secret_stored_encrypted(twofactor):
    user = enrol(twofactor)
    stored = stored_secret(twofactor, user["id"])
    assert stored.startswith("v1:")
    assert user["secret"] not in stored
    if store_kind() == "sqlite":
        key = Path(twofactor.db_url[len("sqlite:"):] + ".secret-key")
        assert key.stat().st_mode & 0o077 == 0
        assert len(bytes.fromhex(key.read_text().strip())) == 32
        assert key.read_text().strip() not in twofactor.output()


def test_plain_secret_encrypted_on_first_use(twofactor):
    """A secret stored as plain base32, as froth did before encrypting them, still works and is
    encrypted by the first login that reads it."""
    user = enrol(twofactor)
    sql_rows(twofactor.db_url, 'UPDATE "t_user" SET "_totp_secret" = ? WHERE "_id" = ?',
             (user["secret"], user["id"]))
    assert stored_secret(twofactor, user["id"]) == user["secret"]
    step = next_step(user["step"])
    assert login(twofactor, user, code=totp(user["secret"], step)).status_code == 200
    stored = stored_secret(twofactor, user["id"])
    assert stored.startswith("v1:")
    assert user["secret"] not in stored


def test_secret_moved_to_other_user_rejected(twofactor):
    """The user id is bound into the encryption, so a secret copied to another row is refused."""
    ann = enrol(twofactor)
    bob = enrol(twofactor)
    sql_rows(twofactor.db_url, 'UPDATE "t_user" SET "_totp_secret" = ? WHERE "_id" = ?',
             (stored_secret(twofactor, ann["id"]), bob["id"]))
    step = next_step(max(ann["step"], bob["step"]))
    response = login(twofactor, bob, code=totp(ann["secret"], step))
    assert_envelope(response, 400, status="INVALID_2FA_CODE")
    twofactor.assert_serving()


def test_wrong_secret_key_refuses_codes(tmp_path):
    right = key_file(tmp_path / "right.key")
    wrong = key_file(tmp_path / "wrong.key")
    first = start_twofactor(tmp_path / "first", right)
    (tmp_path / "second").mkdir()
    second = Froth(APPS_DIR / "twofactor.json", tmp_path / "second")
    second.db_url = first.db_url
    try:
        user = enrol(first)
        assert first.stop() == 0

        second.extra_args = ["--secret-key-file", str(wrong)]
        second.secrets = first.secrets
        second.start()
        step = next_step(user["step"])
        response = login(second, user, code=totp(user["secret"], step))
        assert_envelope(response, 400, status="INVALID_2FA_CODE")
        assert "token" not in response.text
        assert "stored TOTP secret cannot be decrypted: wrong secret key" in second.output()
        # Recovery codes do not depend on the key, and the server keeps serving.
        assert login(second, user, code=user["codes"][0]).status_code == 200
        second.assert_serving()
        assert second.stop() == 0

        second.extra_args = ["--secret-key-file", str(right)]
        second.start()
        response = login(second, user, code=totp(user["secret"], next_step(step)))
        assert response.status_code == 200, describe(response)
    finally:
        stop_and_check(second)
        first.drop_stores()
    for key in (right, wrong):
        assert key.read_text().strip() not in second.output()


def test_invalid_secret_key_file_stops_start(tmp_path):
    bad = tmp_path / "bad.key"
    bad.write_text("0123456789abcdef\n", encoding="ascii")
    froth = Froth(APPS_DIR / "twofactor.json", tmp_path)
    froth.extra_args = ["--secret-key-file", str(bad)]
    try:
        with pytest.raises(pytest.fail.Exception):
            froth.start()
        assert froth.proc.returncode == 1
        assert "invalid secret key file" in froth.output()
        assert "0123456789abcdef" not in froth.output()
    finally:
        froth.drop_stores()


def test_postgres_without_secret_key_refuses_start(tmp_path):
    if store_kind() != "postgres":
        pytest.skip("SQLite keeps its key beside the database")
    froth = Froth(APPS_DIR / "twofactor.json", tmp_path)
    froth.secret_key = False
    try:
        with pytest.raises(pytest.fail.Exception):
            froth.start()
        assert froth.proc.returncode == 1
        assert "--secret-key-file" in froth.output()
    finally:
        froth.drop_stores()
