"""Search constraints that compare as Bubble does: stemmed words for "text contains", distances
for geographic_search, and sets for equals on lists. Each runs on both stores."""

import math
import sqlite3
import subprocess
import urllib.parse

import pytest

from conftest import (APPS_DIR, CLI_TIMEOUT_S, Froth, assert_envelope, describe, pg_cluster,
                      start_froth, stop_and_check, store_kind)

EARTH_RADIUS_MILES = 3958.8
MILES_PER_KM = 1 / 1.609344


@pytest.fixture(scope="module")
def froth(tmp_path_factory):
    server = start_froth(APPS_DIR / "search.json", tmp_path_factory.mktemp("search"))
    yield server
    stop_and_check(server)


def ids(listing):
    return [thing["_id"] for thing in listing["results"]]


def make(froth, type_name, rows):
    """Create one thing per row as admin; return {name: id}."""
    return {name: froth.create(type_name, froth.admin, fields) for name, fields in rows.items()}


def selected(froth, type_name, names, constraints, token=None, others=False):
    """Return the names whose things a search with constraints returns. Unless others is set,
    the search must return no thing outside names."""
    listing = froth.search_ok(type_name, token or froth.admin, constraints=constraints)
    assert listing["count"] == len(listing["results"])
    assert listing["remaining"] == 0
    by_id = {thing_id: name for name, thing_id in names.items()}
    found = {by_id[thing_id] for thing_id in ids(listing) if thing_id in by_id}
    if not others:
        assert len(found) == listing["count"], "search returned a thing outside the dataset"
    return found


# -- text contains -----------------------------------------------------------------------------

NOTES = {
    "hat": {"body": "The cat in the hat"},
    "peppers": {"body": "Peter picked peppers"},
    "running": {"body": "Running shoes for runners"},
    "caps": {"body": "CATS and Dogs"},
    "cafe": {"body": "Bob's Café, open daily"},
    "punct": {"body": "red,green;blue"},
    "empty": {"label": "no body"},
}


@pytest.fixture(scope="module")
def notes(froth):
    return make(froth, "note", NOTES)


def words(froth, notes, query, constraint_type="text contains"):
    return selected(froth, "note", notes,
                    [{"key": "body", "constraint_type": constraint_type, "value": query}])


EVERY_NOTE = set(NOTES)
WITH_BODY = EVERY_NOTE - {"empty"}

TEXT_CONTAINS_CASES = [
    ("cat hat", {"hat"}),
    ("hat cat", {"hat"}),
    ("the cat in the hat", {"hat"}),
    ("The Cat", {"hat", "caps"}),
    ("cats", {"hat", "caps"}),
    ("CATS dog", {"caps"}),
    ("pepper", {"peppers"}),
    ("pepp", set()),
    ("peppers picking", {"peppers"}),
    ("run", {"running"}),
    ("runner", {"running"}),
    ("bob", {"cafe"}),
    ("bob's", {"cafe"}),
    ("CAFÉ", {"cafe"}),
    ("cafe", set()),
    ("green", {"punct"}),
    ("blue red", {"punct"}),
    ("hat zebra", set()),
    ("at", EVERY_NOTE),
    ("the in", EVERY_NOTE),
    ("...", EVERY_NOTE),
]


@pytest.mark.parametrize("query,expected", TEXT_CONTAINS_CASES,
                         ids=[case[0] for case in TEXT_CONTAINS_CASES])
def test_text_contains_words(froth, notes, query, expected):
    assert words(froth, notes, query) == expected


NOT_TEXT_CONTAINS_CASES = [
    ("cat", EVERY_NOTE - {"hat", "caps"}),
    ("hat cat", EVERY_NOTE - {"hat"}),
    ("pepp", EVERY_NOTE),
    ("the", {"empty"}),
]


@pytest.mark.parametrize("query,expected", NOT_TEXT_CONTAINS_CASES,
                         ids=[case[0] for case in NOT_TEXT_CONTAINS_CASES])
def test_not_text_contains_words(froth, notes, query, expected):
    assert words(froth, notes, query, "not text contains") == expected


def test_text_contains_long_query(froth, notes):
    """1,200 words pass SQLite's expression depth limit of 1,000 unless they are grouped."""
    query = "cat " + " ".join(f"w{n:04d}" for n in range(1199))
    assert words(froth, notes, query) == set()
    assert words(froth, notes, query, "not text contains") == EVERY_NOTE


def test_text_contains_follows_updates(froth):
    note_id = froth.create("note", froth.admin, {"body": "apples"})
    names = {"note": note_id}
    constraint = [{"key": "body", "constraint_type": "text contains", "value": "apple"}]
    assert selected(froth, "note", names, constraint) == {"note"}

    response = froth.patch(f"/api/1.1/obj/note/{note_id}", froth.admin, json={"body": "pears"})
    assert response.status_code == 204, describe(response)
    assert selected(froth, "note", names, constraint) == set()
    assert selected(froth, "note", names, [
        {"key": "body", "constraint_type": "text contains", "value": "pear"}]) == {"note"}

    response = froth.patch(f"/api/1.1/obj/note/{note_id}", froth.admin, json={"body": None})
    assert response.status_code == 204, describe(response)
    assert selected(froth, "note", names, [
        {"key": "body", "constraint_type": "not text contains", "value": "pear"}],
        others=True) == {"note"}


def test_text_contains_on_id(froth, notes):
    constraint = [{"key": "_id", "constraint_type": "text contains", "value": notes["hat"]}]
    assert selected(froth, "note", notes, constraint) == {"hat"}


def test_hidden_words_not_returned(froth, notes):
    thing = froth.fetch("note", notes["hat"], froth.admin)
    assert thing["body"] == "The cat in the hat"
    assert [key for key in thing if key.startswith("_w") or "word" in key.lower()] == []


# -- words filled at start for rows that lack them ----------------------------------------------


def pg_database(db_url):
    return urllib.parse.urlparse(db_url).path.lstrip("/")


def clear_words(db_url):
    """Set every hidden words column to NULL, as rows written before the columns existed have."""
    if store_kind() == "sqlite":
        path = db_url[len("sqlite:"):]
        with sqlite3.connect(path) as db:
            tables = [row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for column in db.execute(f'PRAGMA table_info("{table}")'):
                    if column[1].startswith("_w_"):
                        db.execute(f'UPDATE "{table}" SET "{column[1]}" = NULL')
        return
    cluster = pg_cluster()
    sql = ("DO $$ DECLARE c record; BEGIN "
           "FOR c IN SELECT table_name, column_name FROM information_schema.columns "
           "WHERE table_schema = current_schema() AND column_name LIKE '\\_w\\_%' LOOP "
           "EXECUTE format('UPDATE %I SET %I = NULL', c.table_name, c.column_name); "
           "END LOOP; END $$")
    psql = f"{cluster['FROTH_PG_BINDIR']}/psql"
    result = subprocess.run([psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", cluster["PGHOST"],
                             "-p", cluster["PGPORT"], "-U", cluster["PGUSER"],
                             "-d", pg_database(db_url), "-c", sql],
                            capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    assert result.returncode == 0, f"psql failed: {result.stderr}"


def test_missing_words_filled_at_start(tmp_path):
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = start_froth(APPS_DIR / "search.json", tmp_path / "first")
    token = first.admin
    names = {"hat": first.create("note", token, {"body": "The cat in the hat"}),
             "dogs": first.create("note", token, {"body": "Dogs"})}
    assert first.stop() == 0
    clear_words(first.db_url)

    second = Froth(APPS_DIR / "search.json", tmp_path / "second")
    second.drop_stores()
    second.db_url = first.db_url
    second._admin = token
    second.start()
    try:
        assert selected(second, "note", names, [
            {"key": "body", "constraint_type": "text contains", "value": "hats"}]) == {"hat"}
        assert selected(second, "note", names, [
            {"key": "body", "constraint_type": "not text contains", "value": "dog"}]) == {"hat"}
        assert "filled words column" in second.output()
    finally:
        stop_and_check(second)
        first.drop_stores()


# -- geographic_search ------------------------------------------------------------------------

ORIGIN = (40.0, -75.0)


def north(miles):
    """The point miles due north of ORIGIN: along a meridian the distance is R times the angle."""
    return ORIGIN[0] + math.degrees(miles / EARTH_RADIUS_MILES), ORIGIN[1]


def east(miles):
    """The point miles due east of ORIGIN, by the haversine formula solved for the longitude."""
    lat = math.radians(ORIGIN[0])
    dlng = 2 * math.asin(math.sin(miles / (2 * EARTH_RADIUS_MILES)) / math.cos(lat))
    return ORIGIN[0], ORIGIN[1] + math.degrees(dlng)


def address(text, point=None):
    value = {"address": text}
    if point is not None:
        value["lat"], value["lng"] = point
    return value


PLACES = {
    "origin": {"location": address("1 Origin Plaza", ORIGIN)},
    "near": {"location": address("Near", north(5))},
    "north_in": {"location": address("North In", north(9.9))},
    "north_out": {"location": address("North Out", north(10.1))},
    "east_in": {"location": address("East In", east(9.9))},
    "east_out": {"location": address("East Out", east(10.1))},
    "far": {"location": address("Far", (-33.9, 151.2))},
    "no_coordinates": {"location": "2 Nowhere Street"},
    "empty": {"label": "no location"},
}
WITHIN_10 = {"origin", "near", "north_in", "east_in"}
WITH_COORDINATES = set(PLACES) - {"no_coordinates", "empty"}


@pytest.fixture(scope="module")
def places(froth):
    return make(froth, "place", PLACES)


def geo(froth, places, value, key="location"):
    return selected(froth, "place", places,
                    [{"key": key, "constraint_type": "geographic_search", "value": value}])


def geo_response(froth, value, key="location", type_name="place", token=None):
    return froth.search(type_name, token or froth.admin, constraints=[
        {"key": key, "constraint_type": "geographic_search", "value": value}])


GEO_CASES = {
    "lat-lng": ({"range": 10, "lat": ORIGIN[0], "lng": ORIGIN[1]}, WITHIN_10),
    "origin-object": ({"range": 10, "origin": {"lat": ORIGIN[0], "lng": ORIGIN[1]}}, WITHIN_10),
    "origin-address": ({"range": 10, "origin_address": "1 origin plaza"}, WITHIN_10),
    "km": ({"range": 10 / MILES_PER_KM, "range_unit": "km", "lat": ORIGIN[0], "lng": ORIGIN[1]},
           WITHIN_10),
    "miles-unit": ({"range": 10, "range_unit": "miles", "origin_address": "1 Origin Plaza"},
                   WITHIN_10),
    "range-5.5": ({"range": 5.5, "lat": ORIGIN[0], "lng": ORIGIN[1]}, {"origin", "near"}),
    "range-zero": ({"range": 0, "lat": ORIGIN[0], "lng": ORIGIN[1]}, {"origin"}),
    "whole-globe": ({"range": 100000, "lat": ORIGIN[0], "lng": ORIGIN[1]}, WITH_COORDINATES),
    # From the antipode of ORIGIN, the places near ORIGIN are about 12,437 miles away, half the
    # circumference, and any range of that or more covers the globe.
    "antipode-12000": ({"range": 12000, "lat": -40.0, "lng": 105.0}, {"far"}),
    "antipode-12437": ({"range": 12437, "lat": -40.0, "lng": 105.0}, WITH_COORDINATES),
    "other-side": ({"range": 100, "lat": -33.8, "lng": 151.1}, {"far"}),
}


@pytest.mark.parametrize("name", sorted(GEO_CASES))
def test_geographic_search_selects(froth, places, name):
    value, expected = GEO_CASES[name]
    assert geo(froth, places, value) == expected


def test_geographic_search_other_field_empty(froth, places):
    assert geo(froth, places, {"range": 100000, "lat": 0, "lng": 0}, key="home") == set()


def test_geographic_search_combines_with_paging(froth, places):
    constraints = [{"key": "location", "constraint_type": "geographic_search",
                    "value": {"range": 10, "lat": ORIGIN[0], "lng": ORIGIN[1]}}]
    page = froth.search_ok("place", froth.admin, constraints=constraints, limit=3)
    assert (page["count"], page["remaining"]) == (3, 1)


GEO_INVALID = {
    "not-object": "1 Origin Plaza",
    "no-range": {"lat": 40, "lng": -75},
    "negative-range": {"range": -1, "lat": 40, "lng": -75},
    "text-range": {"range": "10", "lat": 40, "lng": -75},
    "no-origin": {"range": 10},
    "lat-out-of-range": {"range": 10, "lat": 91, "lng": -75},
    "lng-out-of-range": {"range": 10, "lat": 40, "lng": 181},
    "lat-only": {"range": 10, "lat": 40},
    "two-origins": {"range": 10, "lat": 40, "lng": -75, "origin_address": "1 Origin Plaza"},
    "unknown-key": {"range": 10, "lat": 40, "lng": -75, "radius": 3},
    "bad-unit": {"range": 10, "range_unit": "furlongs", "lat": 40, "lng": -75},
    "empty-address": {"range": 10, "origin_address": ""},
    "origin-not-object": {"range": 10, "origin": [40, -75]},
}


@pytest.mark.parametrize("name", sorted(GEO_INVALID))
def test_geographic_search_invalid_value(froth, places, name):
    inner = assert_envelope(geo_response(froth, GEO_INVALID[name]), 400, "INVALID_DATA")
    assert inner["message"].startswith("Invalid constraint value for field location: ")


@pytest.mark.parametrize("origin", ["9 Unknown Road", "2 Nowhere Street"])
def test_geographic_search_address_needs_coordinates(froth, places, origin):
    inner = assert_envelope(geo_response(froth, {"range": 10, "origin_address": origin}), 400,
                            "INVALID_DATA")
    assert "lat and lng" in inner["message"]


def test_geographic_search_on_text_not_found(froth, places):
    response = geo_response(froth, {"range": 10, "lat": 40, "lng": -75}, key="label")
    assert response.status_code == 404, describe(response)


def test_origin_address_respects_privacy(froth):
    owner = froth.user("owner")
    other = froth.user("other")
    hideout = froth.create("hideout", owner["token"],
                           {"label": "base", "location": address("Secret Base", ORIGIN)})
    value = {"range": 1, "origin_address": "Secret Base"}

    response = geo_response(froth, value, type_name="hideout", token=owner["token"])
    assert response.status_code == 200, describe(response)
    assert ids(response.json()["response"]) == [hideout]

    # The other user may find the hideout but not view its location, so its address cannot
    # serve as an origin: the answer is the same as for an address nobody stored.
    response = geo_response(froth, value, type_name="hideout", token=other["token"])
    inner = assert_envelope(response, 400, "INVALID_DATA")
    assert "lat and lng" in inner["message"]


# -- equals on lists --------------------------------------------------------------------------

BAGS = {
    "ab": {"tags": ["a", "b"], "scores": [1, 2],
           "days": ["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z"]},
    "ba": {"tags": ["b", "a"], "scores": [2, 1.5]},
    "aab": {"tags": ["a", "a", "b"]},
    "abc": {"tags": ["a", "b", "c"]},
    "a": {"tags": ["a"], "scores": [1]},
    "none": {"label": "empty lists"},
}


@pytest.fixture(scope="module")
def bags(froth):
    return make(froth, "bag", BAGS)


LIST_CASES = [
    ("tags", "equals", ["a", "b"], {"ab", "ba", "aab"}),
    ("tags", "equals", ["b", "a", "b"], {"ab", "ba", "aab"}),
    ("tags", "equals", ["a"], {"a"}),
    ("tags", "equals", ["c", "b", "a"], {"abc"}),
    ("tags", "equals", ["z"], set()),
    ("tags", "equals", [], {"none"}),
    ("tags", "not equal", ["a", "b"], {"abc", "a", "none"}),
    ("tags", "not equal", [], {"ab", "ba", "aab", "abc", "a"}),
    ("scores", "equals", [2, 1], {"ab"}),
    ("scores", "equals", ["1", 2.0], {"ab"}),
    ("scores", "equals", [1.5, 2], {"ba"}),
    ("scores", "equals", [1], {"a"}),
    ("days", "equals", ["2025-01-02T00:00:00.000Z", "2025-01-01T00:00:00Z"], {"ab"}),
    ("tags", "in", ["c", "z"], {"abc"}),
    ("tags", "in", ["b"], {"ab", "ba", "aab", "abc"}),
    ("tags", "not in", ["b"], {"a", "none"}),
    ("scores", "in", [1.5], {"ba"}),
]


@pytest.mark.parametrize("key,constraint_type,value,expected", LIST_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in LIST_CASES])
def test_list_constraint_selects(froth, bags, key, constraint_type, value, expected):
    constraint = [{"key": key, "constraint_type": constraint_type, "value": value}]
    assert selected(froth, "bag", bags, constraint) == expected


@pytest.mark.parametrize("value", ["a", ["a", None], {"a": 1}])
def test_list_equals_invalid_value(froth, bags, value):
    response = froth.search("bag", froth.admin, constraints=[
        {"key": "tags", "constraint_type": "equals", "value": value}])
    assert_envelope(response, 400, "INVALID_DATA")
