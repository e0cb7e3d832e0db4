"""Type names in /obj/<type> URLs, field names with spaces, and types that are not exposed.

Uses the example todo app and tests/api/apps/rental.json, whose "Rental Unit" type has no privacy
rules (public) and whose "Audit Log" type has expose set to false.
"""

import pytest

from conftest import assert_envelope, describe

TYPE_NOT_FOUND = "Type not found {}"


@pytest.mark.parametrize("segment", ["task", "Task", "TASK"])
def test_type_segment_ignores_case(server, segment):
    token = server.user("types")["token"]
    task_id = server.create("task", token, {"title": "case"})

    listing = server.search_ok(segment, token)
    assert [thing["_id"] for thing in listing["results"]] == [task_id]
    assert server.fetch(segment, task_id, token)["title"] == "case"

    created = server.post(f"/api/1.1/obj/{segment}", token, json={"title": "by segment"})
    assert created.status_code == 201, describe(created)
    response = server.patch(f"/api/1.1/obj/{segment}/{task_id}", token, json={"done": True})
    assert response.status_code == 204, describe(response)


def test_user_segment_ignores_case(server):
    user = server.user("types", name="Cased")
    for segment in ("user", "User", "USER"):
        assert server.fetch(segment, user["id"], user["token"])["name"] == "Cased"


def test_unknown_type_not_found(server):
    for token in (None, server.admin):
        response = server.get("/api/1.1/obj/nosuchtype", token)
        assert response.status_code == 404, describe(response)
        assert response.json() == {"statusCode": 404, "body": {
            "status": "NOT_FOUND", "message": TYPE_NOT_FOUND.format("nosuchtype")}}

    response = server.get("/api/1.1/obj/nosuchtype/1700000000000x100000000000000001", server.admin)
    assert_envelope(response, 404, "NOT_FOUND")
    response = server.post("/api/1.1/obj/nosuchtype", server.admin, json={"title": "x"})
    assert_envelope(response, 404, "NOT_FOUND")


def test_spaced_type_name_squashed(rental):
    admin = rental.admin
    unit_id = rental.create("rentalunit", admin, {"Unit name": "Unit A", "Unit number": 4,
                                                  "BA Ref #": "R-1"})
    for segment in ("rentalunit", "RentalUnit", "RENTALUNIT"):
        unit = rental.fetch(segment, unit_id, admin)
        assert unit["Unit name"] == "Unit A"
        assert unit["Unit number"] == 4
        assert unit["BA Ref #"] == "R-1"


def test_public_type_readable_anonymously(rental):
    unit_id = rental.create("rentalunit", rental.admin, {"Unit name": "Public", "Unit number": 1})
    unit = rental.fetch("rentalunit", unit_id, None)
    assert unit["Unit name"] == "Public"

    # A type without privacy rules is public to read, but the via-API write permissions are off.
    response = rental.post("/api/1.1/obj/rentalunit", json={"Unit name": "Anonymous"})
    assert response.status_code == 401, describe(response)
    assert response.json().get("error_class") == "Unauthorized", describe(response)


@pytest.mark.parametrize("key", ["Unit name", "unit_name_text", "unitname"])
def test_constraint_key_spellings_spaced(rental, key):
    admin = rental.admin
    marker = f"Unit {key}"
    unit_id = rental.create("rentalunit", admin, {"Unit name": marker, "Unit number": 7})
    listing = rental.search_ok("rentalunit", admin, constraints=[
        {"key": key, "constraint_type": "equals", "value": marker}])
    assert listing["count"] == 1
    assert [thing["_id"] for thing in listing["results"]] == [unit_id]


@pytest.mark.parametrize("key", ["Unit number", "unit_number_number", "unitnumber"])
def test_sort_field_spaced_name(rental, key):
    admin = rental.admin
    marker = f"sort {key}"
    created = [rental.create("rentalunit", admin, {"Unit name": marker, "Unit number": n})
               for n in (2, 9, 5)]
    listing = rental.search_ok("rentalunit", admin, sort_field="Unit number", descending="true",
                               constraints=[{"key": "Unit name", "constraint_type": "equals",
                                             "value": marker}])
    assert [thing["_id"] for thing in listing["results"]] == [created[1], created[2], created[0]]
    listing = rental.search_ok("rentalunit", admin, sort_field=key, descending="false",
                               constraints=[{"key": "Unit name", "constraint_type": "equals",
                                             "value": marker}])
    assert [thing["_id"] for thing in listing["results"]] == [created[0], created[2], created[1]]


def test_write_with_internal_id_rejected(rental):
    response = rental.post("/api/1.1/obj/rentalunit", rental.admin,
                           json={"unit_name_text": "Unit B"})
    assert response.status_code == 400, describe(response)
    assert response.json() == {"statusCode": 400, "body": {
        "status": "ERROR", "message": "Unrecognized field: unit_name_text"}}


def test_unexposed_type_not_found_for_admin(rental):
    admin = rental.admin
    for segment in ("auditlog", "AuditLog"):
        response = rental.get(f"/api/1.1/obj/{segment}", admin)
        assert response.status_code == 404, describe(response)
        assert response.json()["body"]["status"] == "NOT_FOUND", describe(response)
    response = rental.get("/api/1.1/obj/auditlog", admin)
    assert response.json() == {"statusCode": 404, "body": {
        "status": "NOT_FOUND", "message": TYPE_NOT_FOUND.format("auditlog")}}

    response = rental.post("/api/1.1/obj/auditlog", admin, json={"event": "x"})
    assert_envelope(response, 404, "NOT_FOUND")
    response = rental.get("/api/1.1/obj/auditlog/1700000000000x100000000000000001", admin)
    assert_envelope(response, 404, "NOT_FOUND")
    response = rental.get("/api/1.1/obj/auditlog")
    assert_envelope(response, 404, "NOT_FOUND")
