"""The app setting "timezone": dates written without an offset are clock times in that zone.

The server runs the todo example with "timezone": "America/New_York" (UTC-5 in winter, UTC-4 in
summer). Dates with Z, an offset or as epoch milliseconds name their instant in any zone.
"""

import json

import pytest

from conftest import describe, run_cli, start_froth, stop_and_check, todo_app


@pytest.fixture(scope="module")
def new_york(tmp_path_factory):
    work = tmp_path_factory.mktemp("timezone")
    with open(todo_app(), encoding="utf-8") as source:
        app = json.load(source)
    app["settings"]["timezone"] = "America/New_York"
    path = work / "app.json"
    path.write_text(json.dumps(app), encoding="utf-8")
    froth = start_froth(path, work)
    yield froth
    stop_and_check(froth)


@pytest.fixture(scope="module")
def owner(new_york):
    return new_york.user("owner")


@pytest.mark.parametrize("written, stored", [
    ("2025-01-15T10:00:00", "2025-01-15T15:00:00.000Z"),
    ("2025-07-15T10:00:00", "2025-07-15T14:00:00.000Z"),
    ("2025-01-15", "2025-01-15T05:00:00.000Z"),
    ("01/15/2025", "2025-01-15T05:00:00.000Z"),
    ("Wed Jan 15 2025 10:00:00", "2025-01-15T15:00:00.000Z"),
    ("2025-01-15T10:00:00Z", "2025-01-15T10:00:00.000Z"),
    ("2025-01-15T10:00:00+01:00", "2025-01-15T09:00:00.000Z"),
    ("1736935200000", "2025-01-15T10:00:00.000Z"),
])
def test_data_api_date_in_app_zone(new_york, owner, written, stored):
    task = new_york.create("task", owner["token"], {"title": "t", "due": written})
    assert new_york.fetch("task", task, owner["token"])["due"] == stored


def test_date_on_clock_change_day(new_york, owner):
    response = new_york.post("/api/1.1/wf/add-task", owner["token"],
                             json={"title": "spring forward", "due": "2025-03-09T12:00:00"})
    assert response.status_code == 200, describe(response)
    task = new_york.fetch("task", response.json()["response"]["task"], owner["token"])
    # 2025-03-09 is the day New York moves to summer time at 02:00, so noon is UTC-4.
    assert task["due"] == "2025-03-09T16:00:00.000Z"


@pytest.mark.parametrize("kind", ["multipart", "form", "json"])
def test_workflow_parameter_in_app_zone(new_york, owner, kind):
    params = {"title": f"from {kind}", "due": "01/15/2025"}
    if kind == "multipart":
        response = new_york.post("/api/1.1/wf/add-task", owner["token"],
                                 files={key: (None, value) for key, value in params.items()})
    elif kind == "form":
        response = new_york.post("/api/1.1/wf/add-task", owner["token"], data=params)
    else:
        response = new_york.post("/api/1.1/wf/add-task", owner["token"], json=params)
    assert response.status_code == 200, describe(response)
    task = new_york.fetch("task", response.json()["response"]["task"], owner["token"])
    assert task["due"] == "2025-01-15T05:00:00.000Z"


def test_search_constraint_in_app_zone(new_york, owner):
    task = new_york.create("task", owner["token"], {"title": "find me",
                                                    "due": "2025-11-02T01:30:00Z"})
    # 2025-11-02 01:30 happens twice in New York; froth takes the first, summer time (UTC-4),
    # which is 05:30Z, so the task at 01:30Z is before it.
    listing = new_york.search_ok("task", owner["token"], constraints=[
        {"key": "title", "constraint_type": "equals", "value": "find me"},
        {"key": "due", "constraint_type": "less than", "value": "2025-11-02T01:30:00"}])
    assert [thing["_id"] for thing in listing["results"]] == [task]
    listing = new_york.search_ok("task", owner["token"], constraints=[
        {"key": "title", "constraint_type": "equals", "value": "find me"},
        {"key": "due", "constraint_type": "less than", "value": "2025-11-01T21:30:00"}])
    assert listing["results"] == []


def test_unknown_timezone_rejected_at_load(tmp_path):
    with open(todo_app(), encoding="utf-8") as source:
        app = json.load(source)
    app["settings"]["timezone"] = "Mars/Olympus_Mons"
    path = tmp_path / "app.json"
    path.write_text(json.dumps(app), encoding="utf-8")
    result = run_cli("check", "--app", str(path))
    assert result.returncode != 0
    assert "settings.timezone: unknown time zone \"Mars/Olympus_Mons\"" in result.stderr
