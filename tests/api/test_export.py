"""froth export and froth import: moving an app's data to a fresh database, of the same store or
the other one, with users' passwords, user tokens and admin tokens still working afterwards.

The source server runs on the store under test. The copy goes to a new database of that store,
and to the other store where the test cluster makes that possible: SQLite to PostgreSQL and back
when FROTH_TEST_STORE=postgres.
"""

import json
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import (APPS_DIR, Froth, assert_envelope, assert_unauthorized, describe, run_cli,
                      sql_rows, stop_and_check, store_kind, todo_app)
from test_twofactor import enrol, login, next_step, totp

# More tasks than one export page (500), created in bulk so that many share a Created Date and
# the page boundary falls among equal dates.
BULK_TASKS = 1100
PAGE = 100


def start_on(db_url, work_dir):
    """Start a todo server on an existing database."""
    froth = Froth(todo_app(), work_dir)
    froth.db_url = db_url
    froth.start()
    return froth


def bulk_create(server, token, bodies):
    body = "\n".join(json.dumps(item) for item in bodies)
    response = server.post("/api/1.1/obj/task/bulk", token, data=body.encode("utf-8"),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, describe(response)
    results = [json.loads(line) for line in response.text.strip().split("\n")]
    assert all(result["status"] == "success" for result in results), results[:3]
    return [result["id"] for result in results]


def populate(server):
    """Create users, sessions, tasks with every kind of value and an admin token."""
    ann = server.user("ann", name='Ann "Quote" Ünïcode ✓')
    bob = server.user("bob", name="Bob")
    eve = server.user("eve")
    # A second session for Ann, and one session that logs out (is revoked) before the export.
    response = server.login(ann["email"], ann["password"], stay_logged_in=False)
    assert response.status_code == 200, describe(response)
    ann["short_token"] = response.json()["response"]["token"]
    response = server.login(eve["email"], eve["password"])
    assert response.status_code == 200, describe(response)
    eve["revoked_token"] = response.json()["response"]["token"]
    response = server.post("/api/1.1/wf/logout", eve["revoked_token"])
    assert response.status_code == 200, describe(response)

    full = server.create("task", ann["token"], {
        "title": 'Line one\nline "two" \\ tab\t ünïcode ✓ 𝄞',
        "done": True,
        "due": "2024-02-29T23:59:59.123Z",
        "estimate": 0.1,
        "priority": "High",
        "tags": ["a", "b]\"}", "ünï", "{", "\\"],
        "assignee": bob["id"],
        "notes": "",
    })
    # No -0.0: SQLite stores a whole REAL as an integer, so it keeps no negative zero, and a
    # copy from PostgreSQL to SQLite would differ there.
    numbers = [server.create("task", ann["token"],
                             {"title": f"number {value!r}", "estimate": value})
               for value in (1e300, -2.5, 123456789012345.0, 3, 2.0 ** -1074, 1 / 3, 1e-7)]
    empty = server.create("task", bob["token"], {"title": "no other fields"})
    changed = server.create("task", bob["token"], {"title": "before", "done": False})
    response = server.patch(f"/api/1.1/obj/task/{changed}", bob["token"],
                            json={"title": "after", "tags": ["x"]})
    assert response.status_code == 204, describe(response)
    bulk = []
    for start in range(0, BULK_TASKS, 550):
        count = min(550, BULK_TASKS - start)
        bulk += bulk_create(server, bob["token"],
                            [{"title": f"bulk {start + i}", "estimate": start + i}
                             for i in range(count)])

    admin = server.admin_token("export-test")
    # Using the token records its last use, which the copy must keep.
    assert server.get("/api/1.1/obj/task", admin).status_code == 200
    # The shared admin token that the comparisons use must exist before the export, too.
    assert server.get("/api/1.1/obj/user", server.admin).status_code == 200
    return {"users": [ann, bob, eve], "admin": admin,
            "tasks": [full, empty, changed, *numbers, *bulk]}


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    froth = Froth(todo_app(), tmp_path_factory.mktemp("export-source"))
    froth.start()
    froth.data = populate(froth)
    yield froth
    stop_and_check(froth)


def export(server, path):
    result = run_cli("export", "--app", todo_app(), "--db", server.db_url, "--out", str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", "export --out wrote to standard output"
    return result


def import_dump(db_url, path, *extra):
    return run_cli("import", "--app", todo_app(), "--db", db_url, "--in", str(path), *extra)


def dump_secrets(path):
    """Return every password hash and token hash in a dump."""
    found = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "password_hash" in record:
            found.append(record["password_hash"])
        for key in ("session", "admin_token"):
            if key in record:
                found.append(record[key]["token_hash"])
    return found


def assert_no_secrets(result, server, path):
    output = result.stdout + result.stderr
    leaked = [s for s in dump_secrets(path) + server.secrets if s and s in output]
    assert not leaked, f"{len(leaked)} hash(es) or secret(s) appear in the CLI output"


def all_pages(server, type_name, token):
    """Return the raw text of every search page of a type, in order."""
    pages = []
    cursor = 0
    while True:
        response = server.get(f"/api/1.1/obj/{type_name}", token,
                              params={"cursor": cursor, "limit": PAGE})
        assert response.status_code == 200, describe(response)
        pages.append(response.text)
        body = response.json()["response"]
        if body["remaining"] == 0:
            return pages
        cursor += body["count"]


def assert_same_data(source, copy, data):
    """The copy serves every thing byte for byte as the source does, to an admin."""
    for type_name in ("user", "task"):
        assert all_pages(copy, type_name, copy.admin) == \
            all_pages(source, type_name, source.admin), f"{type_name} searches differ"
    for task_id in data["tasks"][:12]:
        path = f"/api/1.1/obj/task/{task_id}"
        assert copy.get(path, copy.admin).text == source.get(path, source.admin).text, task_id
    for user in data["users"]:
        path = f"/api/1.1/obj/user/{user['id']}"
        assert copy.get(path, copy.admin).text == source.get(path, source.admin).text


def assert_credentials_work(source, copy, data):
    """Old passwords, user tokens and the admin token work on the copy; a revoked one does not."""
    ann, bob, eve = data["users"]
    for user in data["users"]:
        response = copy.login(user["email"], user["password"])
        assert response.status_code == 200, describe(response)
        assert response.json()["response"]["user_id"] == user["id"]
    for token in (ann["token"], ann["short_token"], bob["token"]):
        mine = copy.get("/api/1.1/obj/task", token, params={"limit": PAGE})
        assert mine.status_code == 200, describe(mine)
        assert mine.text == source.get("/api/1.1/obj/task", token, params={"limit": PAGE}).text
    copy.plant(eve["revoked_token"])
    assert_unauthorized(copy.get("/api/1.1/obj/task", eve["revoked_token"]))
    response = copy.get(f"/api/1.1/obj/task/{data['tasks'][0]}", data["admin"])
    assert response.status_code == 200, describe(response)


def copy_and_check(source, target_url, work_dir):
    """Export source, import into target_url, serve it and compare. Returns the dump's path."""
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    dump = Path(work_dir) / "dump.ndjson"
    exported = export(source, dump)
    assert_no_secrets(exported, source, dump)
    assert f"Task: {len(source.data['tasks'])}" in exported.stderr, exported.stderr
    assert "User: 3" in exported.stderr, exported.stderr
    assert "admin tokens: 2" in exported.stderr, exported.stderr

    records = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines()]
    sessions = [r["session"] for r in records if "session" in r]
    assert all(s["client_address"] == "127.0.0.1" for s in sessions), sessions[:2]
    assert all(s["user_agent"].startswith("python-requests/") for s in sessions), sessions[:2]
    audit = [r["audit"] for r in records if "audit" in r]
    assert {"token.issued", "login.succeeded", "session.revoked"} <= {a["event"] for a in audit}
    assert records[-1]["froth_export_end"]["audit"] == len(audit)

    imported = import_dump(target_url, dump)
    assert imported.returncode == 0, imported.stderr
    assert_no_secrets(imported, source, dump)
    assert f"Task: {len(source.data['tasks'])}" in imported.stderr, imported.stderr
    assert "sessions: 5" in imported.stderr, imported.stderr
    assert f"audit rows: {len(audit)}" in imported.stderr, imported.stderr

    copy = start_on(target_url, work_dir)
    copy.secrets = list(source.secrets)
    copy._admin = source.admin
    try:
        assert audit_as_dumped(copy)[:len(audit)] == audit
        ann = source.data["users"][0]
        listed = copy.get("/_froth/sessions", ann["token"]).json()["sessions"]
        assert all(s["client_address"] == "127.0.0.1" for s in listed), listed
        assert_same_data(source, copy, source.data)
        assert_credentials_work(source, copy, source.data)
    finally:
        stop_and_check(copy)
    return dump


def audit_as_dumped(server):
    """Return the server's audit rows, oldest first, in the form a dump writes them."""
    found, cursor = [], None
    while True:
        params = {"limit": 200} if cursor is None else {"limit": 200, "cursor": cursor}
        response = server.get("/_froth/audit", server.admin, params=params)
        assert response.status_code == 200, describe(response)
        body = response.json()["response"]
        found.extend(body["results"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    rows = []
    for row in reversed(found):
        when = datetime.strptime(row["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        dumped = {"time_ms": round(when.timestamp() * 1000), "event": row["event"]}
        for key in ("user_id", "admin_label", "client_address", "user_agent", "session_id",
                    "detail"):
            if row[key] is not None:
                dumped[key] = row[key]
        rows.append(dumped)
    return rows


def export_lines(db_url, path):
    result = run_cli("export", "--app", todo_app(), "--db", db_url, "--out", str(path))
    assert result.returncode == 0, result.stderr
    return path.read_text(encoding="utf-8").splitlines()


def things_of(lines):
    return [line for line in lines if line.startswith('{"type":')]


def test_copy_to_fresh_store(source, tmp_path):
    holder = Froth(todo_app(), tmp_path)
    target = holder.extra_store("copy")
    try:
        dump = copy_and_check(source, target, tmp_path)

        # Exporting the copy gives the same things. Its sessions and admin tokens differ by now,
        # because the checks logged in and used the tokens.
        before = export_lines(target, tmp_path / "before.ndjson")
        assert things_of(before) == things_of(dump.read_text().splitlines())

        refused = import_dump(target, dump)
        assert refused.returncode == 1, refused.stderr
        assert "already holds things" in refused.stderr, refused.stderr
        assert "--force" in refused.stderr, refused.stderr

        forced = import_dump(target, dump, "--force")
        assert forced.returncode == 1, forced.stderr
        assert "line 2:" in forced.stderr, forced.stderr
        assert "already exists" in forced.stderr, forced.stderr
        assert_no_secrets(forced, source, dump)

        # Neither attempt changed anything.
        assert export_lines(target, tmp_path / "after.ndjson")[1:] == before[1:]
    finally:
        holder.drop_stores()


def test_copy_to_other_store(source, tmp_path):
    """PostgreSQL to SQLite, and SQLite to PostgreSQL, with the test cluster."""
    if store_kind() != "postgres":
        pytest.skip("needs the PostgreSQL test cluster (FROTH_TEST_STORE=postgres)")
    copy_and_check(source, f"sqlite:{tmp_path / 'from-pg.db'}", tmp_path / "to-sqlite")

    (tmp_path / "sqlite-source").mkdir()
    sqlite_source = Froth(todo_app(), tmp_path / "sqlite-source")
    sqlite_source.db_url = f"sqlite:{tmp_path / 'sqlite-source.db'}"
    sqlite_source.start()
    holder = Froth(todo_app(), tmp_path)
    try:
        sqlite_source.data = populate(sqlite_source)
        copy_and_check(sqlite_source, holder.extra_store("from_sqlite"), tmp_path / "to-pg")
    finally:
        stop_and_check(sqlite_source)
        holder.drop_stores()


def test_dump_without_client_or_audit_imports(source, tmp_path):
    """A dump written before sessions kept their client and before the audit log still loads."""
    dump = tmp_path / "new.ndjson"
    export(source, dump)
    old = []
    for line in dump.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "audit" in record:
            continue
        if "session" in record:
            del record["session"]["client_address"], record["session"]["user_agent"]
        if "froth_export_end" in record:
            del record["froth_export_end"]["audit"]
        old.append(json.dumps(record, ensure_ascii=False))
    holder = Froth(todo_app(), tmp_path)
    target = holder.extra_store("old")
    try:
        imported = import_dump(target, write_dump(tmp_path / "old.ndjson", old))
        assert imported.returncode == 0, imported.stderr
        assert "audit rows: 0" in imported.stderr, imported.stderr
        (tmp_path / "old-copy").mkdir()
        copy = start_on(target, tmp_path / "old-copy")
        copy.secrets = list(source.secrets)
        try:
            ann = source.data["users"][0]
            listed = copy.get("/_froth/sessions", ann["token"]).json()["sessions"]
            assert listed and all(s["client_address"] is None for s in listed), listed
            assert all(s["user_agent"] is None for s in listed), listed
        finally:
            stop_and_check(copy)
    finally:
        holder.drop_stores()


# ---- Two-factor state and scheduled runs ------------------------------------------------------

AUTH_APP = APPS_DIR / "export_auth.json"
JOB_WAIT_S = 15


def start_auth_app(db_url, work_dir, key):
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    froth = Froth(AUTH_APP, work_dir)
    froth.db_url = db_url
    froth.extra_args = ["--secret-key-file", str(key), "--scheduler-poll-ms", "50"]
    froth.start()
    return froth


def prepare_auth_source(source):
    """Enrol a user in 2FA, use one recovery code, and schedule one run an hour away and one that
    is cancelled. Returns the user with its secret, step and codes."""
    user = enrol(source)
    assert login(source, user, code=user["codes"][0]).status_code == 200
    later = time.time() + 3600
    jobs = []
    for title in ("kept", "cancelled"):
        response = source.post("/api/1.1/wf/remind", user["token"],
                               json={"title": title, "when": int(later * 1000)})
        assert response.status_code == 200, describe(response)
        jobs.append(response.json()["response"]["job"])
    response = source.post("/api/1.1/wf/cancel", user["token"], json={"job": jobs[1]})
    assert response.status_code == 200, describe(response)
    user["job"] = jobs[0]
    return user


def assert_auth_state_works(copy, user):
    """On the copy, 2FA is still required, the last accepted step is still used up, a used
    recovery code stays used, and the scheduled run runs as the user who scheduled it."""
    assert_envelope(login(copy, user), 400, status="2FA_REQUIRED")
    step = next_step(user["step"])
    # Had the last accepted step been lost, the confirmation code would pass as one step of drift.
    assert_envelope(login(copy, user, code=totp(user["secret"], user["step"])), 400,
                    status="INVALID_2FA_CODE")
    assert login(copy, user, code=totp(user["secret"], step)).status_code == 200
    assert_envelope(login(copy, user, code=user["codes"][0]), 400, status="INVALID_2FA_CODE")
    assert login(copy, user, code=user["codes"][1]).status_code == 200

    deadline = time.monotonic() + JOB_WAIT_S
    titles = []
    while time.monotonic() < deadline and not titles:
        titles = sql_rows(copy.db_url, 'SELECT "f_title", "_created_by" FROM "t_reminder"')
        time.sleep(0.1)
    assert titles == [["kept", user["id"]]], titles


def copy_auth_state(source_url, target_url, work_dir):
    """Export the auth app's data from a fresh source, import it into target_url and check it."""
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    key = work_dir / "secret.key"
    key.write_text(os.urandom(32).hex() + "\n", encoding="ascii")
    key.chmod(0o600)
    source = start_auth_app(source_url, work_dir / "source", key)
    try:
        user = prepare_auth_source(source)
    finally:
        stop_and_check(source)

    dump = work_dir / "dump.ndjson"
    result = run_cli("export", "--app", str(AUTH_APP), "--db", source_url, "--out", str(dump))
    assert result.returncode == 0, result.stderr
    assert "users with two-factor state: 1" in result.stderr, result.stderr
    assert "scheduled runs: 1" in result.stderr, result.stderr
    text = dump.read_text(encoding="utf-8")
    assert user["secret"] not in text
    assert not any(code in text for code in user["codes"])
    [state] = [json.loads(line)["two_factor"] for line in text.splitlines() if '"two_factor":{' in line]
    assert state["user_id"] == user["id"]
    assert state["enabled"] is True
    assert state["last_step"] == user["step"]
    assert state["secret"].startswith("v1:")
    assert len(state["recovery_codes"].split(" ")) == 9

    # Move the run to now on the copy, so that the test can wait for it.
    result = run_cli("import", "--app", str(AUTH_APP), "--db", target_url, "--in", str(dump))
    assert result.returncode == 0, result.stderr
    assert "users with two-factor state: 1" in result.stderr, result.stderr
    assert "scheduled runs: 1" in result.stderr, result.stderr
    rows = sql_rows(target_url, 'SELECT "id", "status", "workflow" FROM "_froth_jobs"')
    assert rows == [[user["job"], "pending", "create-reminder"]], rows
    sql_rows(target_url, 'UPDATE "_froth_jobs" SET "run_at" = 0')

    copy = start_auth_app(target_url, work_dir / "copy", key)
    copy.secrets = list(source.secrets)
    try:
        assert_auth_state_works(copy, user)
    finally:
        stop_and_check(copy)


def test_two_factor_and_scheduled_runs_copied(tmp_path):
    holder = Froth(todo_app(), tmp_path)
    try:
        if store_kind() == "sqlite":
            copy_auth_state(holder.extra_store("auth_source"), holder.extra_store("auth_copy"),
                            tmp_path / "sqlite")
        else:
            copy_auth_state(f"sqlite:{tmp_path / 'auth-source.db'}",
                            holder.extra_store("auth_from_sqlite"), tmp_path / "to-pg")
            copy_auth_state(holder.extra_store("auth_source"),
                            f"sqlite:{tmp_path / 'auth-from-pg.db'}", tmp_path / "to-sqlite")
    finally:
        holder.drop_stores()


def test_dump_without_auth_lines_imports(tmp_path):
    """A dump from before two-factor state and scheduled runs were exported still imports."""
    holder = Froth(todo_app(), tmp_path)
    target = holder.extra_store("old")
    try:
        result = import_dump(target, write_dump(tmp_path / "old.ndjson", [HEADER, TASK, END]))
        assert result.returncode == 0, result.stderr
        assert "Task: 1" in result.stderr, result.stderr
    finally:
        holder.drop_stores()


# ---- Malformed dumps -------------------------------------------------------------------------

HEADER = '{"froth_export":1,"app":"todo","exported_at":"2024-01-01T00:00:00.000Z"}'
TASK = ('{"type":"Task","values":{"_id":"1700000000000x1","Created Date":1700000000000,'
        '"Modified Date":1700000000000,"title":"ok"}}')
END = '{"froth_export_end":{"things":1,"sessions":0,"admin_tokens":0}}'


def write_dump(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def assert_database_empty(db_url, tmp_path):
    lines = export_lines(db_url, tmp_path / "check.ndjson")
    assert len(lines) == 2, lines[:3]
    assert json.loads(lines[1]) == {"froth_export_end": {"things": 0, "sessions": 0,
                                                         "admin_tokens": 0, "two_factor": 0,
                                                         "jobs": 0, "audit": 0}}


@pytest.mark.parametrize("lines, message", [
    ([HEADER, TASK, '{"type":"Task","values":{', END], "line 3: invalid JSON"),
    ([HEADER, TASK, TASK.replace('"Task"', '"Project"'), END], 'line 3: unknown type "Project"'),
    ([HEADER, TASK.replace('"title"', '"titel"'), END], 'line 2: type "Task" has no field "titel"'),
    ([HEADER, TASK.replace('"ok"', '7'), END], 'line 2: field "title" of Task: expected a string'),
    ([HEADER, TASK.replace('"title":"ok"', '"tags":"a"'), END], 'line 2: field "tags"'),
    ([HEADER, TASK, '{"sesion":{}}', END], "line 3: unknown record"),
    ([HEADER, TASK], "without its closing line"),
    ([HEADER, TASK, END.replace('"things":1', '"things":2')], "line 3: the closing line counts"),
    ([TASK, END], "line 1: expected the header"),
    ([HEADER, TASK, END, TASK], "line 4: more data after the closing line"),
    ([HEADER, TASK, TASK, END.replace('"things":1', '"things":2')],
     'line 3: Task "1700000000000x1" already exists'),
    ([HEADER, '{"session":{"id":"s1"}}', END], "line 2: a session needs"),
    ([HEADER, TASK, '{"audit":{"time_ms":1}}', END], 'line 3: an audit row needs "event"'),
    ([HEADER, TASK, '{"audit":{"time_ms":1,"event":"x","detail":5}}', END],
     'line 3: an audit row needs "detail" as a string'),
    ([HEADER, TASK, END.replace("}}", ',"audit":1}}')], "line 3: the closing line counts 1 audit"),
    ([HEADER, TASK, '{"two_factor":{"user_id":"1700000000000x9","secret":"v1:x","enabled":true,'
      '"last_step":1}}', END.replace('}}', ',"two_factor":1}}')],
     'line 3: two-factor state of user "1700000000000x9", who is not in the database'),
    ([HEADER, TASK, '{"job":{"id":"j1","workflow":"nope","run_at_ms":1,"params":{},'
      '"caller_kind":1,"caller_id":"u"}}', END.replace('}}', ',"jobs":1}}')],
     'line 3: scheduled run "j1" of unknown workflow "nope"'),
    ([HEADER, TASK, END.replace('}}', ',"jobs":1}}')], "line 3: the closing line counts"),
], ids=["bad-json", "unknown-type", "unknown-field", "wrong-kind", "list-not-array",
        "unknown-record", "no-closing-line", "wrong-count", "no-header", "after-end",
        "duplicate-id", "short-session", "audit-without-event", "audit-detail-not-text",
        "audit-count", "two-factor-unknown-user", "job-unknown-workflow", "job-count"])
def test_malformed_dump_rejected(tmp_path, lines, message):
    holder = Froth(todo_app(), tmp_path)
    target = holder.extra_store("bad")
    try:
        result = import_dump(target, write_dump(tmp_path / "bad.ndjson", lines))
        assert result.returncode == 1, result.stderr
        assert message in result.stderr, result.stderr
        assert "nothing was imported" in result.stderr, result.stderr
        assert_database_empty(target, tmp_path)
    finally:
        holder.drop_stores()


def test_invalid_json_message_quotes_nothing(tmp_path):
    holder = Froth(todo_app(), tmp_path)
    target = holder.extra_store("quote")
    try:
        hidden = f"$argon2id$v=19${uuid.uuid4().hex}"
        user = '{"type":"User","values":{},"password_hash":"' + hidden + '\\q"}'
        result = import_dump(target, write_dump(tmp_path / "bad.ndjson", [HEADER, user, END]))
        assert result.returncode == 1, result.stderr
        assert "line 2: invalid JSON at column" in result.stderr, result.stderr
        assert hidden[-12:] not in result.stderr, "the message quotes the password hash"
    finally:
        holder.drop_stores()


def test_dump_from_other_app_warns(tmp_path):
    holder = Froth(todo_app(), tmp_path)
    target = holder.extra_store("other")
    try:
        lines = [HEADER.replace('"todo"', '"shop"'), TASK, END]
        dump = write_dump(tmp_path / "other.ndjson", lines)
        result = import_dump(target, dump)
        assert result.returncode == 0, result.stderr
        assert 'exported from app "shop", not "todo"' in result.stderr, result.stderr
        assert "Task: 1" in result.stderr, result.stderr
    finally:
        holder.drop_stores()


def test_export_of_missing_sqlite_file_fails(tmp_path):
    missing = tmp_path / "absent.db"
    result = run_cli("export", "--app", todo_app(), "--db", f"sqlite:{missing}",
                     "--out", str(tmp_path / "dump.ndjson"))
    assert result.returncode == 1, result.stderr
    assert "does not exist" in result.stderr, result.stderr
    assert not missing.exists()
    assert not (tmp_path / "dump.ndjson").exists()


def test_export_help_and_bad_flag():
    result = run_cli("export", "--help")
    assert result.returncode == 0, result.stderr
    assert "--out FILE" in result.stdout, result.stdout
    result = run_cli("import", "--help")
    assert result.returncode == 0, result.stderr
    assert "--force" in result.stdout, result.stdout
    result = run_cli("export", "--force")
    assert result.returncode == 2, result.stderr
    result = run_cli("import", f"extra-{uuid.uuid4().hex[:4]}")
    assert result.returncode == 2, result.stderr
    assert "unexpected argument" in result.stderr, result.stderr
