"""The froth command line: check, help, unknown commands, and serve refusing a broken app."""

import subprocess

from conftest import APPS_DIR, free_port, froth_bin, froth_root, run_cli, todo_app


def output_of(result):
    return result.stdout + result.stderr


def test_check_example_app_passes():
    result = run_cli("check", "--app", todo_app())
    assert result.returncode == 0, output_of(result)


def test_check_notes_example_passes():
    result = run_cli("check", "--app", str(froth_root() / "examples" / "notes" / "app.json"))
    assert result.returncode == 0, output_of(result)


def test_check_test_apps_pass():
    result = run_cli("check", "--app", str(APPS_DIR / "rental.json"))
    assert result.returncode == 0, output_of(result)


def test_check_reports_each_error_path():
    result = run_cli("check", "--app", str(APPS_DIR / "broken.json"))
    text = output_of(result)
    assert result.returncode == 1, text
    # One error per problem, each with its JSON path: an unknown field type, a condition naming an
    # unknown field, and an unknown key.
    assert "types.Task.fields.owner" in text, text
    assert "types.Task.privacy[0].when" in text, text
    assert "exposed_typo" in text, text
    assert "Usr" in text, text
    assert "ownr" in text, text


def test_check_invalid_json_fails(tmp_path):
    app = tmp_path / "app.json"
    app.write_text('{"name": "x", "types": {')
    result = run_cli("check", "--app", str(app))
    assert result.returncode == 1, output_of(result)
    assert output_of(result).strip(), "no message for invalid JSON"


def test_check_missing_file_fails(tmp_path):
    result = run_cli("check", "--app", str(tmp_path / "absent.json"))
    assert result.returncode != 0, output_of(result)
    assert "absent.json" in output_of(result)


def test_help_lists_commands():
    result = run_cli("--help")
    text = output_of(result)
    assert result.returncode == 0, text
    for command in ("serve", "check", "admin-token"):
        assert command in text, f"--help does not mention {command}: {text}"


def test_unknown_command_fails():
    result = run_cli("frobnicate")
    assert result.returncode != 0, output_of(result)
    assert "frobnicate" in result.stderr, output_of(result)


def test_serve_refuses_broken_app(tmp_path):
    command = [froth_bin(), "serve", "--app", str(APPS_DIR / "broken.json"),
               "--db", f"sqlite:{tmp_path / 'broken.db'}", "--host", "127.0.0.1",
               "--port", str(free_port())]
    result = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False,
                            cwd=str(tmp_path))
    assert result.returncode != 0, output_of(result)
    assert "types.Task.fields.owner" in output_of(result)


def test_new_sqlite_database_is_private(tmp_path):
    """The database contains password hashes and reset links: only its owner may read it."""
    db = tmp_path / "private.db"
    result = run_cli("migrate", "--app", str(todo_app()), "--db", f"sqlite:{db}")
    assert result.returncode == 0, output_of(result)
    assert db.stat().st_mode & 0o777 == 0o600
