"""The Data API across every field type of tests/api/apps/matrix.json: which constraint types apply
to which field, every value format in and out, paging arithmetic with and without privacy, Unicode
round trips, and the structure of the Swagger document.

The Item type has one field of every type. Geographic search and equals on lists are left to
test_search_semantics.py.
"""

import base64
import json
import re

import pytest

from conftest import APPS_DIR, DATE_RE, assert_envelope, describe, start_froth, stop_and_check


@pytest.fixture(scope="module")
def matrix(tmp_path_factory):
    froth = start_froth(APPS_DIR / "matrix.json", tmp_path_factory.mktemp("matrix"))
    yield froth
    stop_and_check(froth)


def ids(listing):
    return [thing["_id"] for thing in listing["results"]]


# Each field of Item with Bubble's internal id, which the 404 for a constraint type that does not
# apply names.
FIELD_IDS = {
    "words": "words_text",
    "amount": "amount_number",
    "flag": "flag_boolean",
    "when": "when_date",
    "span": "span_date_range",
    "place": "place_geographic_address",
    "doc": "doc_file",
    "pic": "pic_image",
    "level": "level_option_level",
    "peer": "peer_custom_peer",
    "tags": "tags_list_text",
    "scores": "scores_list_number",
    "days": "days_list_date",
    "peers": "peers_list_custom_peer",
    "levels": "levels_list_option_level",
}
LIST_FIELDS = {"tags", "scores", "days", "peers", "levels"}

CONSTRAINT_TYPES = ["equals", "not equal", "is_empty", "is_not_empty", "text contains",
                    "not text contains", "greater than", "less than", "in", "not in", "contains",
                    "not contains", "empty", "not empty", "geographic_search"]


def applies(field, constraint_type):
    """Return whether a constraint type applies to a field, as Bubble's table has it."""
    if constraint_type in ("equals", "not equal", "is_empty", "is_not_empty", "in", "not in"):
        return True
    if constraint_type in ("text contains", "not text contains"):
        return field == "words"
    if constraint_type in ("greater than", "less than"):
        return field in ("words", "amount", "when")
    if constraint_type in ("contains", "not contains", "empty", "not empty"):
        return field in LIST_FIELDS
    return field == "place"  # geographic_search


# -- constraint type x field type --------------------------------------------------------------

# Three peers that the thing fields refer to, by name.
PEERS = ("p1", "p2", "p3")

JAN = "2024-01-01T00:00:00.000Z"
FEB = "2024-02-01T00:00:00.000Z"
JUN = "2024-06-01T00:00:00.000Z"
DEC = "2024-12-31T00:00:00.000Z"
PARIS = {"address": "Paris", "lat": 48.8566, "lng": 2.3522}
BERLIN = {"address": "Berlin", "lat": 52.52, "lng": 13.405}


def item_rows(peer):
    """Return the four things of the constraint dataset, with peer mapping p1..p3 to ids.

    A, B and C ascend on every ordered field, and D has no field set. The lists are A = [x, y],
    B = [z] and C = [y, w], so contains y selects A and C, and in [z] selects B."""
    return {
        "A": {"label": "A", "words": "apple pie", "amount": 1, "flag": True, "when": JAN,
              "span": {"start": JAN, "end": "2024-01-31T00:00:00.000Z"}, "place": PARIS,
              "doc": "https://files.example.com/a.pdf", "pic": "//files.example.com/a.png",
              "level": "Low", "peer": peer["p1"],
              "tags": ["red", "green"], "scores": [1, 2], "days": [JAN, FEB],
              "peers": [peer["p1"], peer["p2"]], "levels": ["Low", "Medium"]},
        "B": {"label": "B", "words": "banana split", "amount": 5, "flag": False, "when": JUN,
              "span": {"start": FEB, "end": "2024-02-29T00:00:00.000Z"}, "place": BERLIN,
              "doc": "https://files.example.com/b.pdf", "pic": "//files.example.com/b.png",
              "level": "Medium", "peer": peer["p2"],
              "tags": ["blue"], "scores": [3], "days": [JUN],
              "peers": [peer["p3"]], "levels": ["High"]},
        "C": {"label": "C", "words": "cherry tart", "amount": 10, "flag": True, "when": DEC,
              "span": {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-31T00:00:00.000Z"},
              "place": "Rome",
              "doc": "https://files.example.com/c.pdf", "pic": "//files.example.com/c.png",
              "level": "High", "peer": peer["p3"],
              "tags": ["green", "yellow"], "scores": [2, 4], "days": [FEB, DEC],
              "peers": [peer["p2"], peer["p1"]], "levels": ["Medium", "Low"]},
        "D": {"label": "D"},
    }


@pytest.fixture(scope="module")
def peers(matrix):
    # Peer has no privacy rules, so only an admin may create one through the API.
    return {name: matrix.create("peer", matrix.admin, {"label": name}) for name in PEERS}


@pytest.fixture(scope="module")
def dataset(matrix, peers):
    """One user's four items; returns (token, {name: id}). The user finds only its own items, so
    things that other tests create never show up in its searches."""
    token = matrix.user("constraints")["token"]
    return token, {name: matrix.create("item", token, fields)
                   for name, fields in item_rows(peers).items()}


def selection_cases():
    """Return (field, constraint type, value, expected names) for every constraint type that
    applies to a field, except geographic_search and equals or not equal on lists. A value that
    is a peer name stands for that peer's id."""
    cases = []
    scalar = {
        # field: (A's value, B's value, C's value)
        "words": ("apple pie", "banana split", "cherry tart"),
        "amount": (1, 5, 10),
        "flag": (True, False, True),
        "when": (JAN, JUN, DEC),
        "span": ({"start": JAN, "end": "2024-01-31T00:00:00.000Z"},
                 {"start": FEB, "end": "2024-02-29T00:00:00.000Z"},
                 {"start": "2024-03-01T00:00:00.000Z", "end": "2024-03-31T00:00:00.000Z"}),
        "place": (PARIS, BERLIN, "Rome"),
        "doc": ("https://files.example.com/a.pdf", "https://files.example.com/b.pdf",
                "https://files.example.com/c.pdf"),
        "pic": ("//files.example.com/a.png", "//files.example.com/b.png",
                "//files.example.com/c.png"),
        "level": ("Low", "Medium", "High"),
        "peer": ("p1", "p2", "p3"),
    }
    for field, (a, b, c) in scalar.items():
        cases += [
            (field, "equals", b, {"B"}),
            (field, "not equal", b, {"A", "C", "D"}),
            (field, "is_empty", None, {"D"}),
            (field, "is_not_empty", None, {"A", "B", "C"}),
            (field, "in", [a, c], {"A", "C"}),
            (field, "not in", [a, c], {"B", "D"}),
        ]
        if applies(field, "greater than"):
            cases += [(field, "greater than", b, {"C"}), (field, "less than", b, {"A"})]
    cases += [
        ("words", "text contains", "banana", {"B"}),
        ("words", "not text contains", "banana", {"A", "C", "D"}),
    ]
    lists = {
        # field: (an element of A and C only, the element of B only)
        "tags": ("green", "blue"),
        "scores": (2, 3),
        "days": (FEB, JUN),
        "peers": ("p2", "p3"),
        "levels": ("Medium", "High"),
    }
    for field, (shared, only_b) in lists.items():
        cases += [
            (field, "contains", shared, {"A", "C"}),
            (field, "not contains", shared, {"B", "D"}),
            (field, "empty", None, {"D"}),
            (field, "not empty", None, {"A", "B", "C"}),
            (field, "is_empty", None, {"D"}),
            (field, "is_not_empty", None, {"A", "B", "C"}),
            (field, "in", [only_b], {"B"}),
            (field, "not in", [only_b], {"A", "C", "D"}),
        ]
    return cases


# Constraints on thing fields and lists of things get their own test at the end of the module,
# so that a server failing on them cannot take the other tests down with it.
THING_FIELDS = {"peer", "peers"}
SELECTION_CASES = [case for case in selection_cases() if case[0] not in THING_FIELDS]
THING_SELECTION_CASES = sorted((case for case in selection_cases() if case[0] in THING_FIELDS),
                               key=lambda case: case[2] is not None)


def resolve_peers(value, peer):
    if isinstance(value, list):
        return [resolve_peers(item, peer) for item in value]
    if isinstance(value, str) and value in peer:
        return peer[value]
    return value


def selected(froth, dataset, constraints):
    """Return the names of the dataset things a search returns, checking count and remaining."""
    token, item_ids = dataset
    listing = froth.search_ok("item", token, constraints=constraints)
    assert listing["count"] == len(listing["results"])
    assert listing["remaining"] == 0
    by_id = {thing_id: name for name, thing_id in item_ids.items()}
    names = {by_id[thing_id] for thing_id in ids(listing) if thing_id in by_id}
    assert len(names) == listing["count"], "the search returned a thing outside the dataset"
    return names


def test_selection_cases_cover_matrix():
    covered = {(field, ctype) for field, ctype, _, _ in SELECTION_CASES + THING_SELECTION_CASES}
    for field in FIELD_IDS:
        for ctype in CONSTRAINT_TYPES:
            if not applies(field, ctype) or ctype == "geographic_search":
                continue
            if field in LIST_FIELDS and ctype in ("equals", "not equal"):
                continue
            assert (field, ctype) in covered, f"no selection case for {ctype} on {field}"


@pytest.mark.parametrize("field,constraint_type,value,expected", SELECTION_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in SELECTION_CASES])
def test_constraint_selects_subset(matrix, dataset, peers, field, constraint_type, value,
                                   expected):
    constraint = {"key": field, "constraint_type": constraint_type}
    if value is not None:
        constraint["value"] = resolve_peers(value, peers)
    assert selected(matrix, dataset, [constraint]) == expected


NOT_APPLICABLE = [(field, ctype) for field in FIELD_IDS for ctype in CONSTRAINT_TYPES
                  if not applies(field, ctype)]


@pytest.mark.parametrize("field,constraint_type", NOT_APPLICABLE,
                         ids=[f"{f}-{c}" for f, c in NOT_APPLICABLE])
def test_constraint_not_applicable(matrix, dataset, field, constraint_type):
    token, _ = dataset
    constraint = {"key": field, "constraint_type": constraint_type, "value": "x"}
    response = matrix.search("item", token, constraints=[constraint])
    assert response.status_code == 404, describe(response)
    assert response.json() == {"statusCode": 404, "body": {
        "status": "NOT_FOUND",
        "message": f"Constraint type not found {constraint_type} for field {FIELD_IDS[field]} "
                   "and type item"}}


@pytest.mark.parametrize("field", sorted(FIELD_IDS))
def test_constraint_key_internal_id(matrix, dataset, field):
    assert selected(matrix, dataset, [{"key": FIELD_IDS[field],
                                       "constraint_type": "is_empty"}]) == {"D"}


# Constraint values take the same formats as writes.
CONSTRAINT_FORMAT_CASES = [
    ("amount", "equals", "5", {"B"}),
    ("amount", "greater than", " 4.5 ", {"B", "C"}),
    ("flag", "equals", "no", {"B"}),
    ("flag", "equals", "yes", {"A", "C"}),
    ("flag", "not equal", "true", {"B", "D"}),
    ("when", "equals", 1717200000000, {"B"}),
    ("when", "equals", "1717200000000", {"B"}),
    ("when", "equals", "06/01/2024", {"B"}),
    ("when", "equals", "2024-06-01T02:00:00+02:00", {"B"}),
    ("when", "equals", "Sat Jun 01 2024 02:00:00 GMT+0200 (Central European Summer Time)",
     {"B"}),
    ("when", "less than", "Sat, 01 Jun 2024 00:00:00 +0000", {"A"}),
    ("span", "equals", {"start": "02/01/2024", "end": 1709164800000}, {"B"}),
    ("place", "equals", "Rome", {"C"}),
    ("place", "equals", {"address": "Rome"}, {"C"}),
    ("scores", "contains", "3", {"B"}),
    ("days", "contains", "02/01/2024", {"A", "C"}),
    ("days", "contains", 1717200000000, {"B"}),
    ("levels", "in", ["High", "Low"], {"A", "B", "C"}),
]


@pytest.mark.parametrize("field,constraint_type,value,expected", CONSTRAINT_FORMAT_CASES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in CONSTRAINT_FORMAT_CASES])
def test_constraint_value_formats(matrix, dataset, field, constraint_type, value, expected):
    constraint = {"key": field, "constraint_type": constraint_type, "value": value}
    assert selected(matrix, dataset, [constraint]) == expected


INVALID_CONSTRAINT_VALUES = [
    ("amount", "equals", "five"),
    ("amount", "greater than", None),
    ("flag", "equals", "maybe"),
    ("when", "less than", "tomorrow"),
    ("level", "equals", "Urgent"),
    ("peer", "equals", "abc"),
    ("tags", "contains", None),
    ("scores", "in", 3),
    ("place", "equals", {"lat": 91, "lng": 0}),
]


@pytest.mark.parametrize("field,constraint_type,value", INVALID_CONSTRAINT_VALUES,
                         ids=[f"{c[0]}-{c[1]}-{c[2]}" for c in INVALID_CONSTRAINT_VALUES])
def test_invalid_constraint_value_rejected(matrix, dataset, field, constraint_type, value):
    token, _ = dataset
    constraint = {"key": field, "constraint_type": constraint_type, "value": value}
    response = matrix.search("item", token, constraints=[constraint])
    inner = assert_envelope(response, 400, "INVALID_DATA")
    assert inner["message"].startswith(f"Invalid constraint value for field {field}: "), \
        describe(response)


# Sorting by each field that can be sorted on. Empty values sort first ascending and last
# descending; options sort by display text; date ranges by start, then end.
SORT_CASES = [
    ("words", False, ["D", "A", "B", "C"]),
    ("words", True, ["C", "B", "A", "D"]),
    ("amount", False, ["D", "A", "B", "C"]),
    ("amount", True, ["C", "B", "A", "D"]),
    ("when", False, ["D", "A", "B", "C"]),
    ("when", True, ["C", "B", "A", "D"]),
    ("span", False, ["D", "A", "B", "C"]),
    ("doc", True, ["C", "B", "A", "D"]),
    ("pic", False, ["D", "A", "B", "C"]),
    ("level", False, ["D", "C", "A", "B"]),
    ("level", True, ["B", "A", "C", "D"]),
]


def sorted_names(froth, dataset, **params):
    token, item_ids = dataset
    by_id = {thing_id: name for name, thing_id in item_ids.items()}
    listing = froth.search_ok("item", token, **params)
    return [by_id[thing_id] for thing_id in ids(listing)]


@pytest.mark.parametrize("field,descending,expected", SORT_CASES,
                         ids=[f"{c[0]}-{'desc' if c[1] else 'asc'}" for c in SORT_CASES])
def test_sort_by_field(matrix, dataset, field, descending, expected):
    names = sorted_names(matrix, dataset, sort_field=field,
                         descending="true" if descending else "false")
    assert names == expected


def test_sort_with_additional_fields(matrix, dataset):
    more = json.dumps([{"sort_field": "amount", "descending": True}])
    names = sorted_names(matrix, dataset, sort_field="flag", descending="true",
                         additional_sort_fields=more)
    assert names == ["C", "A", "B", "D"]
    more = json.dumps([{"sort_field": "amount", "descending": "false"}])
    names = sorted_names(matrix, dataset, sort_field="flag", additional_sort_fields=more)
    assert names == ["D", "B", "A", "C"]


@pytest.mark.parametrize("field", sorted(LIST_FIELDS))
def test_sort_on_list_rejected(matrix, dataset, field):
    token, _ = dataset
    response = matrix.search("item", token, sort_field=field)
    assert_envelope(response, 400, "ERROR",
                    f"Invalid sort_field: {field} is a list field and cannot be sorted on")


# -- values in and out -------------------------------------------------------------------------

MAR10_NOON = "2024-03-10T12:00:00.000Z"
MAR10 = "2024-03-10T00:00:00.000Z"

# (field, value written, value read back). "p1" and "p2" stand for peer ids.
WRITE_CASES = [
    ("words", "plain text", "plain text"),
    ("words", "  spaces kept  ", "  spaces kept  "),
    ("words", "line\nbreak\ttab \"quoted\" \\", "line\nbreak\ttab \"quoted\" \\"),
    ("amount", 5, 5),
    ("amount", 2.5, 2.5),
    ("amount", -0.125, -0.125),
    ("amount", "5", 5),
    ("amount", " 7.25 ", 7.25),
    ("amount", "-3e2", -300),
    ("amount", 12345678901234, 12345678901234),
    ("flag", True, True),
    ("flag", False, False),
    ("flag", "yes", True),
    ("flag", "no", False),
    ("flag", "true", True),
    ("flag", "false", False),
    ("when", "2024-03-10T12:00:00Z", MAR10_NOON),
    ("when", "2024-03-10T12:00:00.000Z", MAR10_NOON),
    ("when", "2024-03-10T14:00:00+02:00", MAR10_NOON),
    ("when", "2024-03-10T06:30:00.250-05:30", "2024-03-10T12:00:00.250Z"),
    ("when", "2024-03-10T14:00+0200", MAR10_NOON),
    ("when", "2024-03-10", MAR10),
    ("when", 1710072000000, MAR10_NOON),
    ("when", "1710072000000", MAR10_NOON),
    ("when", -86400000, "1969-12-31T00:00:00.000Z"),
    ("when", "03/10/2024", MAR10),
    ("when", "Sun Mar 10 2024 13:00:00 GMT+0100 (Central European Standard Time)", MAR10_NOON),
    ("when", "Sun Mar 10 2024", MAR10),
    ("when", "Sun, 10 Mar 2024 12:00:00 +0000", MAR10_NOON),
    ("span", {"start": "2024-03-10T14:00:00+02:00", "end": 1710158400000},
     {"start": MAR10_NOON, "end": "2024-03-11T12:00:00.000Z"}),
    ("span", {"start": "03/10/2024", "end": "03/10/2024"}, {"start": MAR10, "end": MAR10}),
    ("place", {"address": "Paris", "lat": 48.8566, "lng": 2.3522},
     {"address": "Paris", "lat": 48.8566, "lng": 2.3522}),
    ("place", "10 Downing Street, London", {"address": "10 Downing Street, London"}),
    ("place", {"address": "Rome"}, {"address": "Rome"}),
    ("place", {"lat": -33.8688, "lng": 151.2093}, {"lat": -33.8688, "lng": 151.2093}),
    ("doc", "https://files.example.com/report.pdf", "https://files.example.com/report.pdf"),
    ("doc", "//cdn.example.com/f1/report.pdf", "//cdn.example.com/f1/report.pdf"),
    ("pic", "https://files.example.com/photo.png", "https://files.example.com/photo.png"),
    ("level", "Medium", "Medium"),
    ("peer", "p1", "p1"),
    ("tags", ["b", "a", "b"], ["b", "a", "b"]),
    ("tags", ["one"], ["one"]),
    ("scores", ["1", 2.5, -3], [1, 2.5, -3]),
    ("days", [1710072000000, "03/10/2024", "2024-03-10T14:00:00+02:00",
              "Sun Mar 10 2024 13:00:00 GMT+0100"],
     [MAR10_NOON, MAR10, MAR10_NOON, MAR10_NOON]),
    ("peers", ["p2", "p1", "p2"], ["p2", "p1", "p2"]),
    ("levels", ["High", "Low"], ["High", "Low"]),
]


@pytest.mark.parametrize("field,written,expected", WRITE_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in WRITE_CASES])
def test_value_written_and_read(matrix, peers, field, written, expected):
    thing_id = matrix.create("item", matrix.admin, {field: resolve_peers(written, peers)})
    thing = matrix.fetch("item", thing_id, matrix.admin)
    assert thing[field] == resolve_peers(expected, peers)

    # PATCH reads values exactly as POST does.
    other = matrix.create("item", matrix.admin, {"label": "patched"})
    response = matrix.patch(f"/api/1.1/obj/item/{other}", matrix.admin,
                            json={field: resolve_peers(written, peers)})
    assert response.status_code == 204, describe(response)
    assert matrix.fetch("item", other, matrix.admin)[field] == resolve_peers(expected, peers)


@pytest.mark.parametrize("field", ["doc", "pic"])
def test_file_object_uploaded(matrix, field):
    name = "note.txt" if field == "doc" else "dot.png"
    contents = b"hello, files" if field == "doc" else b"\x89PNG\r\n\x1a\n"
    upload = {"filename": name, "contents": base64.b64encode(contents).decode("ascii")}
    thing_id = matrix.create("item", matrix.admin, {field: upload})
    url = matrix.fetch("item", thing_id, matrix.admin)[field]
    assert re.fullmatch(rf"//127\.0\.0\.1:{matrix.port}/_froth/files/[^/]+/{re.escape(name)}",
                        url), url
    served = matrix.get(url[len(f"//127.0.0.1:{matrix.port}"):])
    assert served.status_code == 200, describe(served)
    assert served.content == contents


INVALID_WRITES = [
    ("words", 5),
    ("words", True),
    ("words", ["a"]),
    ("words", {"text": "a"}),
    ("amount", "five"),
    ("amount", True),
    ("amount", ""),
    ("amount", "1e999"),
    ("amount", [1]),
    ("flag", "maybe"),
    ("flag", 1),
    ("flag", ""),
    ("when", "tomorrow"),
    ("when", "2024-02-30"),
    ("when", "13/01/2024"),
    ("when", "2024-03-10T25:00:00Z"),
    ("when", "2024"),
    ("when", True),
    ("when", ""),
    ("span", {"start": "2024-03-10"}),
    ("span", {"start": "2024-03-11", "end": "2024-03-10"}),
    ("span", {"start": "2024-03-10", "end": "2024-03-11", "zone": "UTC"}),
    ("span", "2024-03-10"),
    ("place", 5),
    ("place", {"address": "Paris", "lat": 48.8}),
    ("place", {"lat": 91, "lng": 0}),
    ("place", {"lat": 0, "lng": 181}),
    ("place", {"city": "Paris"}),
    ("place", {"address": ""}),
    ("doc", 5),
    ("doc", ["https://files.example.com/a.pdf"]),
    ("doc", {"filename": "a.txt"}),
    ("pic", True),
    ("level", "Urgent"),
    ("level", "medium"),
    ("level", 1),
    ("peer", "abc"),
    ("peer", "1700000000000x123456789012345678"),
    ("peer", 5),
    ("tags", "a"),
    ("tags", ["a", None]),
    ("tags", ["a", 5]),
    ("scores", ["x"]),
    ("scores", [None]),
    ("days", ["tomorrow"]),
    ("peers", ["abc"]),
    ("levels", ["Urgent"]),
]


def item_count(froth):
    return froth.search_ok("item", froth.admin, limit=1)["count"] + \
        froth.search_ok("item", froth.admin, limit=1)["remaining"]


@pytest.mark.parametrize("field,written", INVALID_WRITES,
                         ids=[f"{c[0]}-{c[1]}" for c in INVALID_WRITES])
def test_invalid_value_rejected(matrix, field, written):
    before = item_count(matrix)
    response = matrix.post("/api/1.1/obj/item", matrix.admin, json={"label": "bad", field: written})
    inner = assert_envelope(response, 400, "INVALID_DATA")
    assert inner["message"].startswith(f"Invalid data for field {field}: "), describe(response)
    assert item_count(matrix) == before, "a rejected create stored a thing"


def test_thing_of_another_type_rejected(matrix, dataset):
    _, item_ids = dataset
    response = matrix.post("/api/1.1/obj/item", matrix.admin, json={"peer": item_ids["A"]})
    assert_envelope(response, 400, "INVALID_DATA",
                    "Invalid data for field peer: no thing of the referenced type has this id")


def test_invalid_patch_changes_nothing(matrix):
    thing_id = matrix.create("item", matrix.admin, {"label": "kept", "amount": 3})
    before = matrix.fetch("item", thing_id, matrix.admin)
    response = matrix.patch(f"/api/1.1/obj/item/{thing_id}", matrix.admin,
                            json={"label": "changed", "amount": "three"})
    assert_envelope(response, 400, "INVALID_DATA",
                    "Invalid data for field amount: expected a number")
    assert matrix.fetch("item", thing_id, matrix.admin) == before


@pytest.fixture
def full_item(matrix, peers):
    """A new item with every field set; returns its id."""
    fields = dict(item_rows(peers)["A"])
    return matrix.create("item", matrix.admin, fields)


def user_fields(thing):
    builtins = {"_id", "Created Date", "Modified Date", "Created By"}
    return {key for key in thing if key not in builtins}


def test_null_clears_every_field(matrix, full_item):
    assert user_fields(matrix.fetch("item", full_item, matrix.admin)) == \
        {"label"} | set(FIELD_IDS)
    response = matrix.patch(f"/api/1.1/obj/item/{full_item}", matrix.admin,
                            json={field: None for field in FIELD_IDS})
    assert response.status_code == 204, describe(response)
    assert user_fields(matrix.fetch("item", full_item, matrix.admin)) == {"label"}


def test_empty_list_clears_list(matrix, full_item):
    response = matrix.patch(f"/api/1.1/obj/item/{full_item}", matrix.admin,
                            json={field: [] for field in LIST_FIELDS})
    assert response.status_code == 204, describe(response)
    thing = matrix.fetch("item", full_item, matrix.admin)
    assert not LIST_FIELDS & set(thing)


@pytest.mark.parametrize("field", ["words", "doc", "pic"])
def test_empty_text_clears_text_field(matrix, dataset, full_item, field):
    response = matrix.patch(f"/api/1.1/obj/item/{full_item}", matrix.admin, json={field: ""})
    assert response.status_code == 204, describe(response)
    assert field not in matrix.fetch("item", full_item, matrix.admin)
    listing = matrix.search_ok("item", matrix.admin, constraints=[
        {"key": field, "constraint_type": "is_empty"},
        {"key": "label", "constraint_type": "equals", "value": "A"}])
    assert full_item in ids(listing)


def test_put_clears_fields_not_given(matrix, full_item):
    response = matrix.put(f"/api/1.1/obj/item/{full_item}", matrix.admin, json={"amount": 7})
    assert response.status_code == 204, describe(response)
    thing = matrix.fetch("item", full_item, matrix.admin)
    assert user_fields(thing) == {"amount"}
    assert thing["amount"] == 7


def test_patch_replaces_whole_list(matrix, full_item):
    response = matrix.patch(f"/api/1.1/obj/item/{full_item}", matrix.admin,
                            json={"tags": ["only"]})
    assert response.status_code == 204, describe(response)
    assert matrix.fetch("item", full_item, matrix.admin)["tags"] == ["only"]


def test_dates_returned_in_iso_form(matrix, full_item):
    thing = matrix.fetch("item", full_item, matrix.admin)
    for value in [thing["when"], thing["Created Date"], thing["Modified Date"],
                  thing["span"]["start"], thing["span"]["end"], *thing["days"]]:
        assert DATE_RE.match(value), value


# -- paging arithmetic -------------------------------------------------------------------------

ROWS = 237
PAGE_MAX = 100


@pytest.fixture(scope="module")
def rows(matrix):
    """237 rows created by one owner; n runs from 0 to 236 and bucket is n % 3. The owner finds
    every row. Any other user finds the rows whose bucket is under 2 (two in three) and may
    view only n and bucket on them."""
    owner = matrix.user("owner")
    other = matrix.user("other")
    lines = [json.dumps({"n": n, "bucket": n % 3, "note": f"row {n}"}) for n in range(ROWS)]
    response = matrix.post("/api/1.1/obj/row/bulk", owner["token"],
                           data="\n".join(lines).encode("utf-8"),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, describe(response)
    answers = [json.loads(line) for line in response.text.strip().split("\n")]
    assert [answer["status"] for answer in answers] == ["success"] * ROWS
    return {"owner": owner["token"], "other": other["token"], "admin": matrix.admin}


def visible_numbers(caller):
    if caller == "other":
        return [n for n in range(ROWS) if n % 3 != 2]
    return list(range(ROWS))


def walk(froth, token, limit, **params):
    """Walk every page with cursor += count until remaining is 0; return the pages."""
    pages = []
    cursor = 0
    while True:
        query = dict(params, cursor=cursor)
        if limit is not None:
            query["limit"] = limit
        page = froth.search_ok("row", token, **query)
        pages.append(page)
        if page["remaining"] == 0:
            return pages
        assert page["count"] > 0, f"page at cursor {cursor} is empty but remaining is " \
                                  f"{page['remaining']}"
        assert len(pages) <= ROWS, "paging does not end"
        cursor += page["count"]


def check_arithmetic(pages, limit, total):
    page_size = min(limit or PAGE_MAX, PAGE_MAX)
    cursor = 0
    for page in pages:
        assert page["cursor"] == cursor
        assert page["count"] == len(page["results"])
        assert page["count"] == min(page_size, total - cursor)
        assert page["remaining"] == total - cursor - page["count"]
        cursor += page["count"]
    assert cursor == total
    assert len(pages) == max(1, -(-total // page_size))


ORDERS = {
    "default": {},
    "n-ascending": {"sort_field": "n"},
    "n-descending": {"sort_field": "n", "descending": "true"},
}


@pytest.mark.parametrize("order", sorted(ORDERS))
@pytest.mark.parametrize("limit", [25, None], ids=["limit25", "default-limit"])
@pytest.mark.parametrize("caller", ["owner", "other", "admin"])
def test_pages_walk_visible_set(matrix, rows, caller, limit, order):
    expected = visible_numbers(caller)
    pages = walk(matrix, rows[caller], limit, **ORDERS[order])
    check_arithmetic(pages, limit, len(expected))
    things = [thing for page in pages for thing in page["results"]]
    numbers = [thing["n"] for thing in things]
    if order == "n-ascending":
        assert numbers == expected
    elif order == "n-descending":
        assert numbers == expected[::-1]
    else:
        assert sorted(numbers) == expected
        assert len(set(numbers)) == len(numbers), "a row appears on two pages"
        created = [thing["Created Date"] for thing in things]
        assert created == sorted(created), "default order is not by Created Date"
    if caller == "other":
        assert all("note" not in thing for thing in things), "a hidden field was returned"


@pytest.mark.parametrize("caller", ["owner", "other"])
def test_default_order_same_for_any_page_size(matrix, rows, caller):
    walks = [walk(matrix, rows[caller], limit) for limit in (7, 25, None)]
    sequences = [[thing["_id"] for page in pages for thing in page["results"]]
                 for pages in walks]
    assert sequences[0] == sequences[1] == sequences[2]


@pytest.mark.parametrize("caller", ["owner", "other"])
def test_cursor_past_end_empty(matrix, rows, caller):
    total = len(visible_numbers(caller))
    for cursor in (total, total + 1, total + 1000, 50000, 60000):
        page = matrix.search_ok("row", rows[caller], cursor=cursor, limit=25)
        assert (page["cursor"], page["count"], page["remaining"]) == (cursor, 0, 0)
        assert page["results"] == []


@pytest.mark.parametrize("caller", ["owner", "other"])
def test_limit_over_cap_gives_100(matrix, rows, caller):
    total = len(visible_numbers(caller))
    page = matrix.search_ok("row", rows[caller], cursor=10, limit=1000)
    assert (page["count"], page["remaining"]) == (100, total - 110)


def test_limit_zero_counts_only(matrix, rows):
    page = matrix.search_ok("row", rows["other"], cursor=5, limit=0)
    assert (page["cursor"], page["count"], page["remaining"]) == (5, 0, 153)
    assert page["results"] == []


def test_exclude_remaining_pages(matrix, rows):
    page = matrix.search_ok("row", rows["other"], cursor=150, limit=25, exclude_remaining="true")
    assert (page["cursor"], page["count"], page["remaining"]) == (150, 8, 0)


def test_hidden_constraint_ignored_in_counts(matrix, rows):
    """note is hidden from other users, so a constraint on it is ignored on every row they find,
    and count and remaining still add up to the rows they may find."""
    constraint = [{"key": "note", "constraint_type": "equals", "value": "row 4"}]
    owner = matrix.search_ok("row", rows["owner"], constraints=constraint)
    assert [thing["n"] for thing in owner["results"]] == [4]
    other = matrix.search_ok("row", rows["other"], constraints=constraint, limit=25)
    assert (other["count"], other["remaining"]) == (25, len(visible_numbers("other")) - 25)


def test_hidden_sort_ignored(matrix, rows):
    """Sorting on the hidden note leaves other users with the default order."""
    by_note = walk(matrix, rows["other"], None, sort_field="note", descending="true")
    default = walk(matrix, rows["other"], None)
    assert [t["_id"] for p in by_note for t in p["results"]] == \
        [t["_id"] for p in default for t in p["results"]]


def test_constraint_pages_count_matches(matrix, rows):
    """A constraint narrows the set before paging: rows with n under 100 that the other user
    finds, 67 of them, in pages of 25."""
    constraint = [{"key": "n", "constraint_type": "less than", "value": 100}]
    pages = walk(matrix, rows["other"], 25, constraints=constraint)
    expected = [n for n in visible_numbers("other") if n < 100]
    check_arithmetic(pages, 25, len(expected))
    assert sorted(t["n"] for p in pages for t in p["results"]) == expected


# -- Unicode -----------------------------------------------------------------------------------

UNICODE_TEXTS = {
    "emoji": "grinning \U0001F600 party \U0001F389",
    "zwj-sequence": "family \U0001F469\u200D\U0001F469\u200D\U0001F467",
    "combining": "e\u0301te\u0301 cafe\u0301",
    "hebrew": "\u05E9\u05DC\u05D5\u05DD \u05E2\u05D5\u05DC\u05DD",
    "arabic": "\u0645\u0631\u062D\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
    "bidi-mixed": "abc \u05D0\u05D1\u05D2 123 \u202Eevil\u202C",
}


@pytest.fixture(scope="module")
def unicode_items(matrix):
    token = matrix.user("unicode")["token"]
    return token, {name: matrix.create("item", token, {"words": text, "tags": [text, "plain"]})
                   for name, text in UNICODE_TEXTS.items()}


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
def test_unicode_round_trip(matrix, unicode_items, name):
    token, item_ids = unicode_items
    text = UNICODE_TEXTS[name]
    response = matrix.get(f"/api/1.1/obj/item/{item_ids[name]}", token)
    assert response.status_code == 200, describe(response)
    thing = response.json()["response"]
    assert thing["words"].encode("utf-8") == text.encode("utf-8")
    assert [tag.encode("utf-8") for tag in thing["tags"]] == [text.encode("utf-8"), b"plain"]


@pytest.mark.parametrize("name", sorted(UNICODE_TEXTS))
@pytest.mark.parametrize("key,constraint_type,as_list", [
    ("words", "equals", False), ("words", "in", True), ("tags", "contains", False),
    ("tags", "in", True)])
def test_unicode_constraint_values(matrix, unicode_items, name, key, constraint_type, as_list):
    token, item_ids = unicode_items
    text = UNICODE_TEXTS[name]
    value = [text] if as_list else text
    listing = matrix.search_ok("item", token, constraints=[
        {"key": key, "constraint_type": constraint_type, "value": value}])
    assert ids(listing) == [item_ids[name]]
    assert listing["results"][0]["words"] == text


def test_unicode_not_normalized(matrix, unicode_items):
    """Text is compared as stored: the precomposed é does not equal e plus a combining accent."""
    token, item_ids = unicode_items
    composed = "\u00E9t\u00E9 caf\u00E9"
    listing = matrix.search_ok("item", token, constraints=[
        {"key": "words", "constraint_type": "equals", "value": composed}])
    assert listing["count"] == 0
    listing = matrix.search_ok("item", token, constraints=[
        {"key": "words", "constraint_type": "not equal", "value": composed}])
    assert item_ids["combining"] in ids(listing)


def test_unicode_in_bulk_and_sort(matrix):
    token = matrix.user("unicode-bulk")["token"]
    texts = ["\U0001F600 z", "a\u0301", "\u05D0", "b"]
    body = "\n".join(json.dumps({"label": text}, ensure_ascii=False) for text in texts)
    response = matrix.post("/api/1.1/obj/item/bulk", token, data=body.encode("utf-8"),
                           headers={"Content-Type": "text/plain; charset=utf-8"})
    assert response.status_code == 200, describe(response)
    assert all(json.loads(line)["status"] == "success"
               for line in response.text.strip().split("\n"))
    listing = matrix.search_ok("item", token, sort_field="label")
    # Text sorts by code point (UTF-8 byte order) on both test stores.
    assert [thing["label"] for thing in listing["results"]] == sorted(texts)


# -- Swagger -----------------------------------------------------------------------------------

OPERATIONS = {"get", "put", "post", "delete", "options", "head", "patch"}
PARAMETER_PLACES = {"query", "header", "path", "formData", "body"}
PARAMETER_TYPES = {"string", "number", "integer", "boolean", "array", "file"}


@pytest.fixture(scope="module")
def swagger(matrix):
    response = matrix.get("/api/1.1/meta/swagger.json")
    assert response.status_code == 200, describe(response)
    return response.json()


def refs(value):
    """Return every $ref value anywhere in a JSON document."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "$ref":
                found.append(item)
            else:
                found.extend(refs(item))
    elif isinstance(value, list):
        for item in value:
            found.extend(refs(item))
    return found


def test_swagger_top_level(swagger, matrix):
    assert swagger["swagger"] == "2.0"
    assert isinstance(swagger["info"]["title"], str)
    assert isinstance(swagger["info"]["version"], str)
    assert swagger["basePath"] == "/api/1.1"
    assert swagger["host"] == f"127.0.0.1:{matrix.port}"
    assert isinstance(swagger["paths"], dict) and swagger["paths"]
    assert isinstance(swagger["definitions"], dict)


def test_swagger_refs_resolve(swagger):
    found = refs(swagger)
    assert found, "the document has no $ref at all"
    for ref in found:
        assert ref.startswith("#/definitions/"), ref
        assert ref[len("#/definitions/"):] in swagger["definitions"], f"{ref} does not resolve"


def test_swagger_security_defined(swagger):
    definitions = swagger["securityDefinitions"]
    for scheme in definitions.values():
        assert scheme["type"] in ("basic", "apiKey", "oauth2")
        if scheme["type"] == "apiKey":
            assert scheme["in"] in ("query", "header")
            assert isinstance(scheme["name"], str)
    requirements = list(swagger.get("security", []))
    for item in swagger["paths"].values():
        for method, operation in item.items():
            if method in OPERATIONS:
                requirements += operation.get("security", [])
    for requirement in requirements:
        for name in requirement:
            assert name in definitions, f"security scheme {name} is not defined"


def check_parameter(path, parameter):
    where = f"{path} parameter {parameter.get('name')!r}"
    assert isinstance(parameter.get("name"), str) and parameter["name"], where
    assert parameter.get("in") in PARAMETER_PLACES, where
    if parameter["in"] == "body":
        assert isinstance(parameter.get("schema"), dict), f"{where} has no schema"
    else:
        assert parameter.get("type") in PARAMETER_TYPES, f"{where} has no valid type"
        if parameter["type"] == "array":
            assert isinstance(parameter.get("items"), dict), f"{where} has no items"
    if parameter["in"] == "path":
        assert parameter.get("required") is True, f"{where} must be required"
        assert "{" + parameter["name"] + "}" in path, f"{where} is not in the path"


def test_swagger_paths_well_formed(swagger):
    for path, item in swagger["paths"].items():
        assert path.startswith("/"), path
        path_parameters = item.get("parameters", [])
        for parameter in path_parameters:
            check_parameter(path, parameter)
        operations = {key: value for key, value in item.items() if key != "parameters"}
        assert operations, f"{path} has no operation"
        for method, operation in operations.items():
            assert method in OPERATIONS or method.startswith("x-"), f"{path}: {method}"
            responses = operation.get("responses")
            assert isinstance(responses, dict) and responses, f"{method} {path} has no responses"
            for code, response in responses.items():
                assert code == "default" or re.fullmatch(r"[1-5]\d\d", code), code
                assert isinstance(response.get("description"), str), \
                    f"{method} {path} response {code} has no description"
            parameters = path_parameters + operation.get("parameters", [])
            for parameter in operation.get("parameters", []):
                check_parameter(path, parameter)
            keys = [(p["name"], p["in"]) for p in parameters]
            assert len(keys) == len(set(keys)), f"{method} {path} repeats a parameter"
            assert sum(1 for p in parameters if p["in"] == "body") <= 1, \
                f"{method} {path} has two body parameters"
            declared = {p["name"] for p in parameters if p["in"] == "path"}
            assert set(re.findall(r"\{([^}]+)\}", path)) == declared, \
                f"{method} {path} path parameters do not match the template"


def test_swagger_lists_exposed_api(swagger):
    paths = swagger["paths"]
    for type_name in ("user", "peer", "item", "row"):
        assert set(paths[f"/obj/{type_name}"]) == {"get", "post"}
        assert set(paths[f"/obj/{type_name}/{{UniqueID}}"]) == \
            {"parameters", "get", "patch", "put", "delete"}
        assert type_name in swagger["definitions"]
    assert set(paths["/wf/signup"]) == {"post"}
    assert set(paths["/wf/echo"]) == {"get"}
    echo = {p["name"]: p for p in paths["/wf/echo"]["get"]["parameters"]}
    assert echo["word"]["in"] == "query"
    assert echo["word"]["required"] is True
    assert echo["count"]["in"] == "query"
    assert echo["count"]["required"] is False


def test_swagger_item_schema_types(swagger):
    properties = swagger["definitions"]["item"]["properties"]
    assert properties["amount"] == {"type": "number"}
    assert properties["flag"] == {"type": "boolean"}
    assert properties["when"] == {"type": "string", "format": "date-time"}
    assert properties["tags"]["type"] == "array"
    assert properties["days"]["items"] == {"type": "string", "format": "date-time"}
    assert properties["place"]["type"] == "object"
    assert set(properties["span"]["properties"]) == {"start", "end"}
    for field in FIELD_IDS:
        assert field in properties, f"the item definition lacks {field}"


# -- constraints on thing fields ----------------------------------------------------------------


@pytest.mark.parametrize("field,constraint_type,value,expected", THING_SELECTION_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in THING_SELECTION_CASES])
def test_thing_constraint_selects_subset(matrix, dataset, peers, field, constraint_type, value,
                                         expected):
    constraint = {"key": field, "constraint_type": constraint_type}
    if value is not None:
        constraint["value"] = resolve_peers(value, peers)
    assert selected(matrix, dataset, [constraint]) == expected
