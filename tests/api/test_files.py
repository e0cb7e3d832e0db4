"""File and image fields: base64 uploads through the Data and Workflow APIs, and /_froth/files.

The app is tests/api/apps/files.json. Task's creator views everything and its attached files; its
assignee views every field but holds no view_files permission; everyone else finds nothing.
"""

import base64
import http.client
import json
import os
import re
import stat
import uuid

import pytest

from conftest import APPS_DIR, Froth, assert_envelope, describe, stop_and_check

FILES_APP = APPS_DIR / "files.json"
FILE_ID_RE = r"\d{13}x\d{18}"
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                          "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
SMALL_LIMIT = 4096
PUBLIC_URL = "https://files.example.test/base/"


def start(tmp_path_factory, name, extra_args=()):
    froth = Froth(FILES_APP, tmp_path_factory.mktemp(name))
    froth.extra_args = list(extra_args)
    froth.start()
    return froth


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A server with the default limits; uploaded files go to <work dir>/files."""
    froth = start(tmp_path_factory, "files")
    yield froth
    stop_and_check(froth)


@pytest.fixture(scope="module")
def limited(tmp_path_factory):
    """A server with a 4 KiB file limit and a --public-url, its files in a nested directory."""
    froth = start(tmp_path_factory, "limited",
                  ["--max-file-bytes", str(SMALL_LIMIT), "--public-url", PUBLIC_URL,
                   "--files-dir", "uploads/nested"])
    yield froth
    stop_and_check(froth)


def b64(data, padding=True):
    text = base64.b64encode(data).decode("ascii")
    return text if padding else text.rstrip("=")


def file_object(data, filename="notes.txt", **extra):
    return {"filename": filename, "contents": b64(data), **extra}


def url_path(server, url):
    """Check that a stored URL points at this server and return its path."""
    prefix = f"//127.0.0.1:{server.port}/_froth/files/"
    assert url.startswith(prefix), url
    return url[len(prefix) - len("/_froth/files/"):]


def fetch_url(server, url, token=None, **kwargs):
    """GET a file by the URL stored in a field."""
    return server.get(url_path(server, url), token, **kwargs)


def raw_get(server, path):
    """Send a path exactly as given: HTTP libraries would resolve dot segments first."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.putrequest("GET", path, skip_host=True)
        connection.putheader("Host", f"127.0.0.1:{server.port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def stored_entries(server, directory="files"):
    return sorted(os.listdir(server.work_dir / directory))


@pytest.fixture
def alice(files):
    return files.user("alice")


@pytest.fixture
def bob(files):
    return files.user("bob")


def test_upload_round_trip(files, alice):
    text = f"notes {uuid.uuid4().hex}\n".encode()
    task = files.create("task", alice["token"], {
        "title": "with files",
        "attachment": file_object(text, "notes.txt"),
        "photo": file_object(PNG_BYTES, "pixel.png"),
    })
    thing = files.fetch("task", task, alice["token"])
    assert re.fullmatch(rf"//127\.0\.0\.1:{files.port}/_froth/files/{FILE_ID_RE}/notes\.txt",
                        thing["attachment"]), thing
    assert re.fullmatch(rf"//127\.0\.0\.1:{files.port}/_froth/files/{FILE_ID_RE}/pixel\.png",
                        thing["photo"]), thing

    response = fetch_url(files, thing["attachment"])
    assert response.status_code == 200, describe(response)
    assert response.content == text
    assert response.headers["Content-Type"] == "text/plain"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Disposition" not in response.headers

    response = fetch_url(files, thing["photo"])
    assert response.status_code == 200, describe(response)
    assert response.content == PNG_BYTES
    assert response.headers["Content-Type"] == "image/png"


def test_binary_bytes_survive(files, alice):
    data = bytes(range(256)) * 64
    task = files.create("task", alice["token"], {"attachment": file_object(data, "blob.bin")})
    url = files.fetch("task", task, alice["token"])["attachment"]
    response = fetch_url(files, url)
    assert response.status_code == 200, describe(response)
    assert response.content == data
    assert response.headers["Content-Type"] == "application/octet-stream"


def test_content_types_by_extension(files, alice):
    cases = {"a.JPG": "image/jpeg", "b.jpeg": "image/jpeg", "c.gif": "image/gif",
             "d.webp": "image/webp", "e.pdf": "application/pdf", "f.json": "application/json",
             "noextension": "application/octet-stream", "g.html": "application/octet-stream"}
    for filename, content_type in cases.items():
        task = files.create("task", alice["token"], {"attachment": file_object(b"x", filename)})
        url = files.fetch("task", task, alice["token"])["attachment"]
        response = fetch_url(files, url)
        assert response.status_code == 200, describe(response)
        assert response.headers["Content-Type"] == content_type, filename


def test_svg_served_as_attachment(files, alice):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    task = files.create("task", alice["token"], {"photo": file_object(svg, "logo.svg")})
    url = files.fetch("task", task, alice["token"])["photo"]
    response = fetch_url(files, url)
    assert response.status_code == 200, describe(response)
    assert response.content == svg
    assert response.headers["Content-Type"] == "image/svg+xml"
    assert response.headers["Content-Disposition"] == 'attachment; filename="logo.svg"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unpadded_base64_accepted(files, alice):
    data = b"padding test!"  # 13 bytes: standard base64 ends in "=="
    assert b64(data) != b64(data, padding=False)
    task = files.create("task", alice["token"], {
        "attachment": {"filename": "p.txt", "contents": b64(data, padding=False)}})
    response = fetch_url(files, files.fetch("task", task, alice["token"])["attachment"])
    assert response.content == data


def test_missing_filename_defaults(files, alice):
    task = files.create("task", alice["token"], {"attachment": {"contents": b64(b"anonymous")}})
    url = files.fetch("task", task, alice["token"])["attachment"]
    assert url.endswith("/file"), url
    assert fetch_url(files, url).content == b"anonymous"


@pytest.mark.parametrize("filename, stored", [
    ("../../etc/pass wd", "_._.._etc_pass_wd"),
    ("café.png", "caf_.png"),
    (".htaccess", "_htaccess"),
    ("..", "_."),
    ("a/b\\c.txt", "a_b_c.txt"),
    ("", "file"),
])
def test_filename_sanitised(files, alice, filename, stored):
    task = files.create("task", alice["token"], {"attachment": file_object(b"n", filename)})
    url = files.fetch("task", task, alice["token"])["attachment"]
    assert url.rsplit("/", 1)[1] == stored, url
    assert fetch_url(files, url).content == b"n"


def test_long_filename_keeps_extension(files, alice):
    task = files.create("task", alice["token"],
                        {"photo": file_object(PNG_BYTES, "x" * 300 + ".png")})
    url = files.fetch("task", task, alice["token"])["photo"]
    name = url.rsplit("/", 1)[1]
    assert name == "x" * 96 + ".png"
    assert fetch_url(files, url).headers["Content-Type"] == "image/png"


def test_files_stored_privately(files, alice):
    task = files.create("task", alice["token"], {"attachment": file_object(b"on disk", "d.txt")})
    url = files.fetch("task", task, alice["token"])["attachment"]
    file_id = url.split("/")[-2]
    root = files.work_dir / "files"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    assert stat.S_IMODE((root / file_id).stat().st_mode) == 0o700
    assert (root / file_id / "d.txt").read_bytes() == b"on disk"
    assert stat.S_IMODE((root / file_id / "d.txt").stat().st_mode) == 0o600
    assert (root / f"{file_id}.json").is_file()
    assert not [name for name in os.listdir(root / file_id) if name.endswith(".tmp")]


def test_url_string_stored_as_given(files, alice):
    urls = ["https://cdn.example.com/a/b.pdf?x=1", "//s3.amazonaws.com/bucket/pic.png"]
    task = files.create("task", alice["token"], {"attachment": urls[0], "photo": urls[1]})
    thing = files.fetch("task", task, alice["token"])
    assert thing["attachment"] == urls[0]
    assert thing["photo"] == urls[1]


def test_list_of_files_mixes_forms(files, alice):
    task = files.create("task", alice["token"], {"scans": [
        file_object(b"page one", "p1.txt"), "https://example.com/p2.pdf",
        file_object(b"page three", "p3.txt")]})
    scans = files.fetch("task", task, alice["token"])["scans"]
    assert len(scans) == 3
    assert scans[1] == "https://example.com/p2.pdf"
    assert fetch_url(files, scans[0]).content == b"page one"
    assert fetch_url(files, scans[2]).content == b"page three"


@pytest.mark.parametrize("contents", ["not base64!!", "QQ=", "A", "QUJD====", "QU JD", "Zm9v-_8"])
def test_invalid_base64_rejected(files, alice, contents):
    before = stored_entries(files)
    response = files.post("/api/1.1/obj/task", alice["token"],
                          json={"attachment": {"filename": "x.txt", "contents": contents}})
    body = assert_envelope(response, 400, "INVALID_DATA")
    assert "attachment" in body["message"]
    assert "base64" in body["message"]
    assert stored_entries(files) == before


@pytest.mark.parametrize("value, fragment", [
    ({"filename": "x.txt", "contents": "eA==", "size": 1}, "unknown key size"),
    ({"filename": "x.txt"}, "contents"),
    ({"contents": 5}, "contents"),
    ({"contents": "eA==", "filename": 7}, "filename"),
    ({"contents": "eA==", "private": "yes"}, "private"),
    ({"contents": "eA==", "private": True}, "attach_to"),
    ({"contents": "eA==", "private": True, "attach_to": "nonsense"}, "attach_to"),
    ({"contents": "eA==", "private": True, "attach_to": "1700000000000x123456789012345678"},
     "attach_to"),
    (7, "expected a URL or a file object"),
])
def test_malformed_file_object_rejected(files, alice, value, fragment):
    response = files.post("/api/1.1/obj/task", alice["token"], json={"photo": value})
    body = assert_envelope(response, 400, "INVALID_DATA")
    assert body["message"].startswith("Invalid data for field photo: "), body
    assert fragment in body["message"], body


def test_oversize_file_rejected(limited):
    user = limited.user("big")
    before = stored_entries(limited, "uploads/nested")
    response = limited.post("/api/1.1/obj/task", user["token"],
                            json={"attachment": file_object(b"z" * (SMALL_LIMIT + 1))})
    body = assert_envelope(response, 413, "ERROR")
    assert "attachment" in body["message"]
    assert str(SMALL_LIMIT) in body["message"]
    assert stored_entries(limited, "uploads/nested") == before

    response = limited.post("/api/1.1/wf/upload", user["token"],
                            json={"doc": file_object(b"z" * (SMALL_LIMIT + 1))})
    body = assert_envelope(response, 413, "ERROR")
    assert "doc" in body["message"]

    task = limited.create("task", user["token"],
                          {"attachment": file_object(b"z" * SMALL_LIMIT, "exact.txt")})
    assert task


def test_body_limit_applies_first(limited):
    user = limited.user("huge")
    response = limited.post("/api/1.1/obj/task", user["token"],
                            json={"attachment": file_object(b"z" * (2 * 1024 * 1024))})
    assert_envelope(response, 413)


def test_public_url_prefixes_file_urls(limited):
    user = limited.user("public")
    task = limited.create("task", user["token"],
                          {"attachment": file_object(b"behind a proxy", "p.txt")})
    url = limited.fetch("task", task, user["token"])["attachment"]
    assert re.fullmatch(rf"https://files\.example\.test/base/_froth/files/{FILE_ID_RE}/p\.txt",
                        url), url
    path = url[len(PUBLIC_URL) - 1:]
    response = limited.get(path)
    assert response.status_code == 200, describe(response)
    assert response.content == b"behind a proxy"
    assert (limited.work_dir / "uploads" / "nested").is_dir()


def test_invalid_host_header_not_used(files, alice):
    response = files.post("/api/1.1/obj/task", alice["token"],
                          headers={"Host": "evil.example_com"},
                          json={"attachment": file_object(b"h", "h.txt")})
    assert response.status_code == 201, describe(response)
    url = files.fetch("task", response.json()["id"], alice["token"])["attachment"]
    assert url.startswith("//localhost/_froth/files/"), url


def private_task(files, owner, contents=b"secret contents"):
    """A task of owner's with a private file attached to it. Returns (task id, file URL)."""
    task = files.create("task", owner["token"], {"title": "private"})
    response = files.patch(f"/api/1.1/obj/task/{task}", owner["token"], json={
        "attachment": file_object(contents, "secret.txt", private=True, attach_to=task)})
    assert response.status_code == 204, describe(response)
    return task, files.fetch("task", task, owner["token"])["attachment"]


def test_private_file_needs_view_files(files, alice, bob):
    _, url = private_task(files, alice)

    response = fetch_url(files, url, alice["token"])
    assert response.status_code == 200, describe(response)
    assert response.content == b"secret contents"
    assert response.headers["Cache-Control"] == "private, no-store"

    response = fetch_url(files, url, params={"api_token": alice["token"]})
    assert response.status_code == 200, describe(response)

    response = fetch_url(files, url, files.admin)
    assert response.status_code == 200, describe(response)
    assert response.content == b"secret contents"

    for token in (bob["token"], None, "not-a-real-token"):
        response = fetch_url(files, url, token)
        assert_envelope(response, 404, "NOT_FOUND", "File not found")
        assert b"secret" not in response.content


def test_private_file_hidden_from_assignee(files, alice, bob):
    task, url = private_task(files, alice)
    response = files.patch(f"/api/1.1/obj/task/{task}", alice["token"],
                           json={"assignee": bob["id"]})
    assert response.status_code == 204, describe(response)
    assert files.fetch("task", task, bob["token"])["attachment"] == url
    assert_envelope(fetch_url(files, url, bob["token"]), 404, "NOT_FOUND", "File not found")


def test_private_file_gone_with_its_thing(files, alice):
    task, url = private_task(files, alice)
    assert files.delete(f"/api/1.1/obj/task/{task}", alice["token"]).status_code == 204
    assert_envelope(fetch_url(files, url, alice["token"]), 404, "NOT_FOUND")
    assert fetch_url(files, url, files.admin).status_code == 200


def test_attach_to_hidden_thing_rejected(files, alice, bob):
    task = files.create("task", alice["token"], {"title": "alice only"})
    response = files.post("/api/1.1/obj/task", bob["token"], json={
        "attachment": file_object(b"probe", private=True, attach_to=task)})
    body = assert_envelope(response, 400, "INVALID_DATA")
    assert "attach_to" in body["message"]


def test_public_file_needs_no_token(files, alice):
    task = files.create("task", alice["token"], {"attachment": file_object(b"open", "o.txt")})
    url = files.fetch("task", task, alice["token"])["attachment"]
    response = fetch_url(files, url)
    assert response.status_code == 200, describe(response)
    assert response.headers["Cache-Control"].startswith("public")


def test_traversal_attempts_not_found(files, alice):
    task = files.create("task", alice["token"], {"attachment": file_object(b"t", "t.txt")})
    url = files.fetch("task", task, alice["token"])["attachment"]
    path = url_path(files, url)
    file_id = path.split("/")[3]
    attempts = [
        "/_froth/files/../froth.db",
        "/_froth/files/../../etc/passwd",
        f"/_froth/files/{file_id}/../{file_id}.json",
        f"/_froth/files/{file_id}/..%2f{file_id}.json",
        "/_froth/files/%2e%2e/%2e%2e/etc/passwd",
        f"/_froth/files/{file_id}/%2e%2e",
        f"/_froth/files/{file_id}/.",
        "/_froth/files//etc/passwd",
        "/_froth/files/%2fetc%2fpasswd",
        f"/_froth/files/{file_id}/%2fetc%2fpasswd",
        f"/_froth/files/{file_id}/wrong.txt",
        f"/_froth/files/{file_id}/T.txt",
        f"/_froth/files/{file_id}/t.txt/extra",
        f"/_froth/files/{file_id}",
        f"/_froth/files/{file_id}/",
        f"/_froth/files/{file_id}.json/t.txt",
        f"/_froth/files/{file_id}/t.txt.tmp",
        "/_froth/files/1700000000000x123456789012345678/t.txt",
        f"/_froth/files/{file_id}/t%00.txt",
    ]
    for attempt in attempts:
        status, body = raw_get(files, attempt)
        assert status == 404, f"{attempt} -> {status} {body[:200]!r}"
        assert b'"NOT_FOUND"' in body, attempt
    status, body = raw_get(files, path)
    assert (status, body) == (200, b"t")
    status, body = raw_get(files, path.replace("t.txt", "%74.txt"))
    assert (status, body) == (200, b"t")


def test_file_route_methods(files, alice):
    task = files.create("task", alice["token"], {"attachment": file_object(b"head", "h.txt")})
    path = url_path(files, files.fetch("task", task, alice["token"])["attachment"])
    response = files.request("HEAD", path)
    assert response.status_code == 200
    assert response.content == b""
    response = files.post(path, data=b"x")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_failed_writes_leave_no_files(files, alice, bob):
    before = stored_entries(files)
    response = files.post("/api/1.1/obj/task", json={"attachment": file_object(b"anon")})
    assert response.status_code == 401, describe(response)

    task = files.create("task", alice["token"], {"title": "not bob's"})
    response = files.patch(f"/api/1.1/obj/task/{task}", bob["token"],
                           json={"attachment": file_object(b"bob")})
    assert response.status_code == 404, describe(response)

    response = files.post("/api/1.1/obj/task", alice["token"],
                          json={"attachment": file_object(b"first"), "title": 5})
    assert_envelope(response, 400, "INVALID_DATA")

    response = files.post("/api/1.1/obj/task", alice["token"],
                          json={"scans": [file_object(b"ok"), {"contents": "!"}]})
    assert_envelope(response, 400, "INVALID_DATA")

    # Bob cannot find Alice's task, so the parameter names no task he can see.
    response = files.post("/api/1.1/wf/attach", bob["token"],
                          json={"task": task, "doc": file_object(b"hidden task")})
    assert_envelope(response, 400, "INVALID")

    response = files.patch(f"/api/1.1/obj/task/{task}", alice["token"],
                           json={"assignee": bob["id"]})
    assert response.status_code == 204, describe(response)
    response = files.post("/api/1.1/wf/attach", bob["token"],
                          json={"task": task, "doc": file_object(b"not run")})
    assert response.status_code == 400, describe(response)
    assert response.json()["status"] == "NOT_RUN"
    assert stored_entries(files) == before


def test_bulk_keeps_files_of_good_lines_only(files, alice):
    before = set(stored_entries(files))
    lines = [{"attachment": file_object(b"good line", "g.txt")},
             {"attachment": file_object(b"bad line", "b.txt"), "nope": 1}]
    body = "\n".join(json.dumps(line) for line in lines)
    response = files.post("/api/1.1/obj/task/bulk", alice["token"], data=body.encode(),
                          headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, describe(response)
    results = [json.loads(line) for line in response.text.splitlines()]
    assert [r["status"] for r in results] == ["success", "error"]
    added = set(stored_entries(files)) - before
    assert len(added) == 2  # one directory and its sidecar
    url = files.fetch("task", results[0]["id"], alice["token"])["attachment"]
    assert fetch_url(files, url).content == b"good line"


def test_search_constraint_does_not_upload(files, alice):
    before = stored_entries(files)
    response = files.search("task", alice["token"], constraints=[
        {"key": "attachment", "constraint_type": "equals", "value": file_object(b"q")}])
    assert response.status_code == 400, describe(response)
    assert stored_entries(files) == before


def test_workflow_file_parameter(files, alice):
    response = files.post("/api/1.1/wf/upload", alice["token"], json={
        "doc": file_object(b"from a workflow", "wf.txt"),
        "pic": file_object(PNG_BYTES, "wf.png")})
    assert response.status_code == 200, describe(response)
    data = response.json()["response"]
    assert fetch_url(files, data["doc"]).content == b"from a workflow"
    assert fetch_url(files, data["pic"]).headers["Content-Type"] == "image/png"

    response = files.post("/api/1.1/wf/upload", alice["token"], json={"doc": "https://x.test/a"})
    assert response.status_code == 200, describe(response)
    assert response.json()["response"]["doc"] == "https://x.test/a"

    response = files.post("/api/1.1/wf/upload", alice["token"],
                          json={"doc": {"filename": "bad.txt", "contents": "%%%"}})
    assert_envelope(response, 400, "INVALID")


def test_workflow_private_file(files, alice, bob):
    task = files.create("task", alice["token"], {"title": "via workflow"})
    response = files.post("/api/1.1/wf/attach", alice["token"], json={
        "task": task, "doc": file_object(b"wf secret", "w.txt", private=True, attach_to=task)})
    assert response.status_code == 200, describe(response)
    url = response.json()["response"]["attachment"]
    assert files.fetch("task", task, alice["token"])["attachment"] == url
    assert fetch_url(files, url, alice["token"]).content == b"wf secret"
    assert fetch_url(files, url, bob["token"]).status_code == 404
    assert fetch_url(files, url).status_code == 404


@pytest.fixture(scope="module")
def with_test_db(tmp_path_factory):
    """A server that also serves a version-test database."""
    froth = Froth(FILES_APP, tmp_path_factory.mktemp("files-test-db"))
    froth.extra_args = ["--test-db", froth.extra_store("test")]
    froth.start()
    yield froth
    stop_and_check(froth)


def test_private_file_of_test_database(with_test_db):
    server = with_test_db
    live = server.user("live")
    response = server.post("/version-test/api/1.1/wf/signup",
                           json={"email": live["email"], "password": live["password"]})
    assert response.status_code == 200, describe(response)
    test_token = server.plant(response.json()["response"]["token"])
    created = server.post("/version-test/api/1.1/obj/task", test_token, json={"title": "t"})
    assert created.status_code == 201, describe(created)
    task = created.json()["id"]
    response = server.patch(f"/version-test/api/1.1/obj/task/{task}", test_token, json={
        "attachment": file_object(b"test env", "t.txt", private=True, attach_to=task)})
    assert response.status_code == 204, describe(response)
    url = server.get(f"/version-test/api/1.1/obj/task/{task}", test_token).json()["response"][
        "attachment"]

    assert fetch_url(server, url, test_token).content == b"test env"
    assert fetch_url(server, url, server.admin).status_code == 200
    assert fetch_url(server, url, live["token"]).status_code == 404
    assert fetch_url(server, url).status_code == 404
