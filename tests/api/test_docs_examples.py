"""The examples of docs/data-api.md, docs/workflows.md and docs/authentication.md, run as written.

Every ```sh block of a page runs, in order, in one bash process (set -euo pipefail) against a
fresh server for the page's app: docs/data-api.md against the todo app and
docs/authentication.md against examples/accounts/app.json, both after the README's sign-up of
alice@example.com, and docs/workflows.md against examples/notes/app.json. The page's
http://localhost:8080 becomes the test server's address, ./build/froth the binary under test, the
page's sqlite: store the server's store and `sqlite3 <file>` an SQL shell on that store (psql on
PostgreSQL). Lines starting with "# =>" give what the commands
above them print since the previous "# =>" lines or the start of the block, with "..." standing
for any text. Output that no "# =>" line shows must be empty, so a page shows everything it
prints.
"""

import os
import re
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import (Froth, froth_bin, froth_root, pg_cluster, stop_and_check, store_kind,
                      todo_app)

README = froth_root() / "README.md"
DOC_BASE = "http://localhost:8080"
RUN_TIMEOUT_S = 120
MARK = "__froth_docs_mark__"
EXPECT_RE = re.compile(r"^\s*# =>(?: (.*))?$")

# The account the README signs up, which docs/data-api.md and docs/authentication.md log in to.
ALICE = ("alice@example.com", "Correct-Horse-9")
# The other passwords of docs/authentication.md; none may reach the server's log.
AUTH_PASSWORDS = ("Battery-Staple-7", "Staple-Horse-4", "Carol-Secret-1", "Reset-Staple-5",
                  "Another-Horse-1", "not-her-password", "wrong-password-1")
# The shell variables in which the pages keep tokens and other secrets; their values must never
# reach the server's log either. Each is split on whitespace (a list of recovery codes).
SECRET_VARIABLES = ("TOKEN", "BOB", "ADMIN", "LONG", "PHONE", "LAPTOP", "SECRET", "CODES",
                    "NEW_CODES", "RESET", "AUDITOR")


class Block:
    """One ```sh block: its source lines and its groups of "# =>" lines."""

    def __init__(self, index, line, lines):
        self.index = index
        self.line = line  # line number of the opening fence
        self.lines = lines
        self.groups = []  # (line number of the first "# =>" line, expected text)
        current = None
        for offset, text in enumerate(lines):
            match = EXPECT_RE.match(text)
            if match is None:
                current = None
                continue
            if current is None:
                current = [self.line + 1 + offset, []]
                self.groups.append(current)
            current[1].append(match.group(1) or "")
        self.groups = [(first, "\n".join(expected)) for first, expected in self.groups]

    def source(self):
        return "\n".join(self.lines)


def read_blocks(path):
    text = path.read_text(encoding="utf-8")
    blocks = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```sh":
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{path}: the sh block at line {i + 1} is not closed")
        blocks.append(Block(len(blocks), i + 1, lines[i + 1:end]))
        i = end + 1
    return blocks


class Page:
    """A page of docs/ whose sh blocks run against a server for app, reached through store."""

    def __init__(self, name, app, store, passwords, signup, min_blocks, min_checks):
        self.name = name
        self.path = froth_root() / "docs" / name
        self.app = app
        self.store = store  # the sqlite: URL the page uses, replaced by the server's store
        self.passwords = passwords  # every password the page uses: never in the server's log
        self.signup = signup  # an account to sign up before the page runs, or None
        self.min_blocks = min_blocks
        self.min_checks = min_checks
        self.blocks = read_blocks(self.path)


PAGES = [
    Page("data-api.md", todo_app(), "sqlite:todo.db",
         (ALICE[1], "Battery-Staple-7", "Staple-Horse-4"), ALICE, 20, 50),
    Page("workflows.md", str(froth_root() / "examples" / "notes" / "app.json"),
         "sqlite:notes.db", ("Maple-Leaf-42", "Battery-Staple-7", "Staple-Horse-4"), None,
         15, 30),
    Page("authentication.md", str(froth_root() / "examples" / "accounts" / "app.json"),
         "sqlite:accounts.db", (ALICE[1],) + AUTH_PASSWORDS, ALICE, 10, 30),
]
PAGE_IDS = [page.name for page in PAGES]
BLOCK_CASES = [(page, block) for page in PAGES for block in page.blocks]
BLOCK_IDS = [f"{page.name}:line{block.line}" for page, block in BLOCK_CASES]


def pattern_of(expected):
    """Return a regular expression for expected output in which "..." matches any text."""
    return re.compile(".*?".join(re.escape(part) for part in expected.split("...")), re.DOTALL)


def script_for(blocks, substitutions, secrets_path):
    """Return the bash script that runs every block, printing a mark line after each block's
    start, each group of "# =>" lines and each block's end."""
    out = ["set -euo pipefail",
           f"__froth_mark() {{ printf '\\n{MARK} %s\\n' \"$1\"; }}"]
    for block in blocks:
        out.append(f"__froth_mark B{block.index}-start")
        group = -1
        for number, line in enumerate(block.lines):
            expectation = EXPECT_RE.match(line) is not None
            if not expectation:
                for old, new in substitutions:
                    line = line.replace(old, new)
            out.append(line)
            last_of_group = expectation and (number + 1 == len(block.lines) or
                                             EXPECT_RE.match(block.lines[number + 1]) is None)
            if last_of_group:
                group += 1
                out.append(f"__froth_mark B{block.index}-G{group}")
        out.append(f"__froth_mark B{block.index}-end")
    # The secrets the page obtained, so that the harness can check the log never shows them.
    values = " ".join(f'"${{{name}:-}}"' for name in SECRET_VARIABLES)
    out.append(f"printf '%s\\n' {values} > {shlex.quote(str(secrets_path))}")
    return "\n".join(out) + "\n"


def split_output(stdout):
    """Return {mark label: output printed since the previous mark}, trailing whitespace cut."""
    regions = {}
    current = []
    for line in stdout.split("\n"):
        if line.startswith(MARK + " "):
            regions[line[len(MARK) + 1:]] = "\n".join(current).rstrip()
            current = []
        else:
            current.append(line)
    return regions


def clean_environment(home):
    """Return the environment for the examples: no proxies, so curl only talks to the test
    server, and a fresh HOME, so no ~/.curlrc adds options."""
    env = {key: value for key, value in os.environ.items()
           if key.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")}
    env.update({"no_proxy": "*", "NO_PROXY": "*", "HOME": str(home), "CURL_HOME": str(home)})
    return env


def sql_shell(db_url):
    """Return the command that `sqlite3 <file>` stands for: an SQL shell on the server's store
    that takes one statement as its next argument and prints rows as sqlite3 does."""
    if store_kind() == "sqlite":
        return "sqlite3 " + shlex.quote(db_url[len("sqlite:"):])
    psql = os.path.join(pg_cluster()["FROTH_PG_BINDIR"], "psql")
    return f"{shlex.quote(psql)} -X -q -A -t -d {shlex.quote(db_url)} -c"


def run_page(page, work):
    """Run every block of page against a fresh server; return (server, stdout regions, stderr,
    exit status)."""
    server = Froth(page.app, work)
    server.start()
    for password in page.passwords:
        server.plant(password)
    if page.signup is not None:
        server.signup(*page.signup)

    secrets_path = work / "secrets.txt"
    substitutions = [(DOC_BASE, server.base),
                     ("./build/froth", shlex.quote(froth_bin())),
                     (page.store, shlex.quote(server.db_url)),
                     ("sqlite3 " + page.store[len("sqlite:"):], sql_shell(server.db_url))]
    script = work / "examples.sh"
    script.write_text(script_for(page.blocks, substitutions, secrets_path), encoding="utf-8")
    shell = work / "shell"
    shell.mkdir()
    process = subprocess.Popen(["bash", str(script)], cwd=str(shell),
                               env=clean_environment(shell), stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        stderr += f"\n(the examples were killed after {RUN_TIMEOUT_S} s)".encode()
    if secrets_path.exists():
        for secret in secrets_path.read_text(encoding="utf-8").split():
            server.plant(secret)
    # The key that encrypts TOTP secrets must not reach the log either: the file froth creates
    # beside a SQLite database, or the one the harness gives a PostgreSQL server.
    if server.db_url.startswith("sqlite:"):
        key_file = Path(server.db_url[len("sqlite:"):] + ".secret-key")
    else:
        key_file = Path(server.work_dir) / "secret.key"
    if key_file.exists():
        server.plant(key_file.read_text(encoding="ascii").strip())
    return (server, split_output(stdout.decode("utf-8", "replace")),
            stderr.decode("utf-8", "replace"), process.returncode)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Return a function that runs a page's blocks once and returns (stdout regions, stderr, exit
    status). The servers are stopped and checked when the module ends."""
    results = {}
    servers = []

    def run(page):
        if page.name not in results:
            server, regions, stderr, status = run_page(page, tmp_path_factory.mktemp("docs"))
            servers.append(server)
            results[page.name] = (regions, stderr, status)
        return results[page.name]

    yield run
    for server in servers:
        stop_and_check(server)


def test_readme_signs_alice_up():
    """The page starts where the README's first step leaves off."""
    readme = README.read_text(encoding="utf-8")
    assert '{"email":"%s","password":"%s"}' % ALICE in readme


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_doc_has_examples(page):
    assert len(page.blocks) >= page.min_blocks, f"docs/{page.name} lost its sh blocks"
    checks = sum(len(block.groups) for block in page.blocks)
    assert checks >= page.min_checks, f"docs/{page.name} lost its checks"


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_examples_reach_only_test_server(page):
    for block in page.blocks:
        for line in block.lines:
            if EXPECT_RE.match(line):
                continue
            for url in re.findall(r"\bhttps?://[^\s'\"]*", line):
                assert url.startswith(DOC_BASE + "/"), \
                    f"{page.path}:{block.line}: an example calls {url}"


@pytest.mark.parametrize("page, block", BLOCK_CASES, ids=BLOCK_IDS)
def test_block(runs, page, block):
    regions, stderr, status = runs(page)
    if f"B{block.index}-end" not in regions:
        failed = next(b for b in page.blocks if f"B{b.index}-end" not in regions)
        if failed is not block:
            pytest.fail(f"not run: the block at {page.name}:{failed.line} failed first")
        pytest.fail(f"the block at {page.name}:{block.line} failed (bash exit status {status}):\n"
                    f"{block.source()}\n--- stderr ---\n{stderr[-3000:]}")

    for number, (line, expected) in enumerate(block.groups):
        actual = regions[f"B{block.index}-G{number}"]
        matched = pattern_of(expected).fullmatch(actual) is not None
        assert matched, \
            f"{page.name}:{line}: the output differs\nexpected: {expected}\nactual:   {actual}"
    unchecked = [regions[f"B{block.index}-{label}"] for label in ("start", "end")
                 if regions[f"B{block.index}-{label}"]]
    assert not unchecked, f"{page.name}:{block.line}: output that no '# =>' line shows: " + \
        "; ".join(text[:300] for text in unchecked)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_all_examples_ran(runs, page):
    regions, stderr, status = runs(page)
    assert status == 0, f"bash exited with {status}:\n{stderr[-3000:]}"
