"""Concurrent requests spread over nodes get the responses one node would give in some order.

Each race sends its requests from threads released together, each request to a chosen node, and
repeats for a few rounds because one round may not interleave the requests at all.
"""

import collections

from conftest import ID_RE, assert_envelope, describe, run_at_once, unique_email, \
    unique_password

SIGNUP_ROUNDS = 3
SIGNUP_THREADS = 10
FIELD_ROUNDS = 5
HANDOVER_ROUNDS = 20
OWNER_EDITS_PER_ROUND = 3
CREATES = 60


def no_exceptions(results):
    errors = [repr(result) for result in results if isinstance(result, Exception)]
    assert not errors, f"{len(errors)} concurrent request(s) failed: {errors[:3]}"


def email_search(node, admin, email):
    return node.search_ok("user", admin, [{"key": "email", "constraint_type": "equals",
                                            "value": email}])


def test_concurrent_signups_one_email_create_one_user(cluster):
    nodes = cluster.start_nodes(3)
    admin, _ = cluster.admin_token()
    # A second user, so that a search which ignored the email constraint would count 2.
    cluster.signup(nodes[0])

    for _ in range(SIGNUP_ROUNDS):
        email = unique_email("race")
        password = cluster.plant(unique_password())
        body = {"email": email, "password": password}
        calls = [lambda session, node=nodes[i % len(nodes)]:
                 node.send(session, "POST", "/api/1.1/wf/signup", json=body)
                 for i in range(SIGNUP_THREADS)]
        results = run_at_once(calls)
        no_exceptions(results)

        winners = [response for response in results if response.status_code == 200]
        for response in winners:
            cluster.plant(response.json()["response"]["token"])
        statuses = sorted(response.status_code for response in results)
        assert len(winners) == 1, f"{len(winners)} sign-ups of one email succeeded: {statuses}"
        for response in results:
            if response.status_code != 200:
                assert_envelope(response, 400, "USED_EMAIL")
        user_id = winners[0].json()["response"]["user_id"]
        assert ID_RE.match(user_id), describe(winners[0])

        for node in nodes:
            found = email_search(node, admin, email)
            assert found["count"] == 1, f"{node}: {found}"
            assert found["remaining"] == 0, f"{node}: {found}"
            assert found["results"][0]["_id"] == user_id, f"{node}: {found}"
            login = node.post("/api/1.1/wf/login", json=body)
            assert login.status_code == 200, f"{node}: {describe(login)}"
            cluster.plant(login.json()["response"]["token"])
            assert login.json()["response"]["user_id"] == user_id


def field_values(round_number):
    """Return one value for each field of a card, all different from other rounds' values."""
    values = {
        "title": f"title {round_number}",
        "notes": f"notes {round_number}",
        "done": round_number % 2 == 0,
        "due": f"2031-0{round_number + 1}-1{round_number}T08:30:00.000Z",
        "estimate": round_number * 10 + 1.5,
        "priority": ["Low", "Medium", "High"][round_number % 3],
        "tags": [f"tag {round_number}", "shared"],
    }
    for n in range(1, 9):
        values[f"note{n}"] = f"note {n} of round {round_number}"
    return values


def test_concurrent_patches_of_different_fields_all_land(board):
    nodes = board.start_nodes(3)
    admin, _ = board.admin_token()
    owner = board.signup(nodes[0])
    card_id = nodes[0].create("card", admin, {"owner": owner["id"], "title": "start"})

    for round_number in range(FIELD_ROUNDS):
        values = field_values(round_number)
        calls = [lambda session, node=nodes[i % len(nodes)], field=field, value=value:
                 node.send(session, "PATCH", f"/api/1.1/obj/card/{card_id}", owner["token"],
                           json={field: value})
                 for i, (field, value) in enumerate(values.items())]
        results = run_at_once(calls)
        no_exceptions(results)
        for response in results:
            assert response.status_code == 204, describe(response)

        for node in nodes:
            card = node.fetch("card", card_id, owner["token"])
            lost = {field: card.get(field) for field, value in values.items()
                    if card.get(field) != value}
            assert not lost, f"round {round_number} on {node}: fields lost their update: {lost}"
            assert card["owner"] == owner["id"]


def test_handover_race_leaves_only_serial_outcomes(board):
    """An admin hands a card from its owner to an heir while the owner and the heir edit its notes.

    The handover sets notes too. Any serial order of the requests then ends with the heir owning
    the card, and with notes from the handover unless the heir's edit ran after it. An owner's
    edit that ran after the handover would have been refused, so the owner's notes can never
    survive: if they do, a write was allowed by a permission that had already been taken away.
    """
    nodes = board.start_nodes(3)
    admin, _ = board.admin_token()
    owner = board.signup(nodes[0])
    heir = board.signup(nodes[1])

    tally = collections.Counter()
    for round_number in range(HANDOVER_ROUNDS):
        card_id = nodes[0].create("card", admin, {"owner": owner["id"], "notes": "original"})
        handover_notes = f"handed over in round {round_number}"
        heir_notes = f"heir edit in round {round_number}"
        path = f"/api/1.1/obj/card/{card_id}"

        calls = [lambda session, node=nodes[round_number % 3]:
                 node.send(session, "PATCH", path, admin,
                           json={"owner": heir["id"], "notes": handover_notes}),
                 lambda session, node=nodes[(round_number + 1) % 3]:
                 node.send(session, "PATCH", path, heir["token"], json={"notes": heir_notes})]
        calls += [lambda session, node=nodes[(round_number + k) % 3], k=k:
                  node.send(session, "PATCH", path, owner["token"],
                            json={"notes": f"owner edit {k} in round {round_number}"})
                  for k in range(OWNER_EDITS_PER_ROUND)]
        results = run_at_once(calls)
        no_exceptions(results)
        handover, heir_edit, owner_edits = results[0], results[1], results[2:]

        assert handover.status_code == 204, describe(handover)
        tally[f"heir {heir_edit.status_code}"] += 1
        tally.update(f"owner {response.status_code}" for response in owner_edits)
        assert heir_edit.status_code in (204, 401, 404), describe(heir_edit)
        for response in owner_edits:
            assert response.status_code in (204, 401, 404), describe(response)

        card = nodes[round_number % 3].fetch("card", card_id, admin)
        assert card["owner"] == heir["id"], f"round {round_number}: {card}"
        expected = heir_notes if heir_edit.status_code == 204 else handover_notes
        assert card["notes"] == expected, \
            f"round {round_number}: notes {card['notes']!r}, expected {expected!r} " \
            f"(heir's edit answered {heir_edit.status_code}, owner's edits answered " \
            f"{[response.status_code for response in owner_edits]})"

        for node in nodes:
            assert node.get(path, owner["token"]).status_code == 404
            assert node.fetch("card", card_id, heir["token"])["notes"] == expected

    # Edits that returned both 204 and 404 show that the rounds really interleaved.
    print(f"edit responses over {HANDOVER_ROUNDS} handovers: {dict(sorted(tally.items()))}")


def test_concurrent_creates_lose_nothing(cluster):
    nodes = cluster.start_nodes(3)
    user = cluster.signup(nodes[0])

    def create(i):
        node = nodes[i % len(nodes)]
        title = f"create {i}"
        # Half go through the Data API and half through a workflow's create_thing action.
        if i % 2:
            return lambda session: node.send(session, "POST", "/api/1.1/obj/task",
                                             user["token"], json={"title": title})
        return lambda session: node.send(session, "POST", "/api/1.1/wf/add-task",
                                         user["token"], json={"title": title})

    results = run_at_once([create(i) for i in range(CREATES)])
    no_exceptions(results)
    ids = []
    for i, response in enumerate(results):
        if i % 2:
            assert response.status_code == 201, describe(response)
            ids.append(response.json()["id"])
        else:
            assert response.status_code == 200, describe(response)
            ids.append(response.json()["response"]["task"])
    assert all(ID_RE.match(thing_id) for thing_id in ids), ids
    assert len(set(ids)) == CREATES, f"{CREATES - len(set(ids))} duplicate id(s)"

    for node in nodes:
        found = node.search_ok("task", user["token"], limit=100)
        assert found["count"] == CREATES, f"{node}: count {found['count']}"
        assert found["remaining"] == 0, f"{node}: remaining {found['remaining']}"
        assert {task["_id"] for task in found["results"]} == set(ids), f"{node}"
        assert {task["title"] for task in found["results"]} == \
            {f"create {i}" for i in range(CREATES)}, f"{node}"
