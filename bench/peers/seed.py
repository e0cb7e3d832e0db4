#!/usr/bin/python3
"""Seed a peer server with froth's benchmark data model and data set, and write a data file.

The peers are Parse Server and Directus, started by bench/peers/run.sh on 127.0.0.1. This script
creates the Task class or collection and makes each task readable and writable by its owner
alone. It creates the users and their tasks from bench/dataset.py's make_users, so the same seed
gives the same emails, passwords and task contents as froth's data set. Each user's token comes
from sign-up (Parse) or login (Directus).

Data file format, one record per line, as bench/common.lua reads it:
    user <token> <first task id> <email> <password> <user id>
"""

import argparse
import concurrent.futures
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import dataset  # noqa: E402 (bench/dataset.py, found through the path set above)

REQUEST_TIMEOUT_S = 60
# Both peers hash passwords on sign-up and login, so two requests run at once, one per core.
HASH_WORKERS = 2
START_WAIT_S = 60


class HttpError(RuntimeError):
    pass


def send(url, method, body=None, headers=None):
    """Send one JSON request and return the decoded response; raise HttpError on a non-2xx."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    for key, value in (headers or {}).items():
        req.add_header(key, value)
    try:
        with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
            text = resp.read().decode()
    except urllib.error.HTTPError as e:
        raise HttpError(f"{method} {url} failed with status {e.code}: {e.read()[:400]!r}") from None
    return json.loads(text) if text else None


def wait_until_ready(url):
    """Poll a health URL until it returns 2xx, for at most START_WAIT_S."""
    deadline = time.monotonic() + START_WAIT_S
    while True:
        try:
            send(url, "GET")
            return
        except (HttpError, OSError) as e:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} not ready after {START_WAIT_S} s: {e}") from None
            time.sleep(0.5)


def write_data_file(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def expect_refused(url, headers, what):
    """Raise RuntimeError unless a GET of url fails with a 4xx status."""
    try:
        send(url, "GET", None, headers)
    except HttpError as e:
        if " status 4" in str(e):
            return
        raise
    raise RuntimeError(f"the access rule does not hold: {what} succeeded")


def check_search(results, count, owner_of, owner, tasks_per_user):
    """Raise RuntimeError unless a search returned the first page of the owner's tasks alone."""
    if count != tasks_per_user or len(results) != min(20, tasks_per_user):
        raise RuntimeError(f"search returned {len(results)} results and a count of {count}, "
                           f"expected {min(20, tasks_per_user)} and {tasks_per_user}")
    strangers = [r for r in results if owner_of(r) != owner]
    if strangers:
        raise RuntimeError(f"search returned another user's task: {strangers[0]!r}")


# Parse Server ------------------------------------------------------------------------------

PARSE_TASK_FIELDS = {
    "title": {"type": "String"},
    "done": {"type": "Boolean"},
    "due": {"type": "Date"},
    "estimate": {"type": "Number"},
    "priority": {"type": "String"},
    "tags": {"type": "Array"},
    "notes": {"type": "String"},
    "owner": {"type": "Pointer", "targetClass": "_User"},
}
# Every operation needs a logged-in user; which objects that user reaches is up to each object's
# ACL. No client may add fields.
PARSE_TASK_CLP = {op: {"requiresAuthentication": True}
                  for op in ("find", "count", "get", "create", "update", "delete")}
PARSE_TASK_CLP.update({"addField": {}, "protectedFields": {}})


def parse_task(task, user_id):
    """Return a Parse Task body: the task's fields, its owner and an owner-only ACL."""
    body = dict(task)
    body["due"] = {"__type": "Date", "iso": task["due"]}
    body["owner"] = {"__type": "Pointer", "className": "_User", "objectId": user_id}
    body["ACL"] = {user_id: {"read": True, "write": True}}
    return body


def seed_parse(args):
    base = args.url.rstrip("/") + "/parse"
    app = {"X-Parse-Application-Id": "bench"}
    master = dict(app, **{"X-Parse-Master-Key": args.master_key})
    wait_until_ready(base + "/health")

    # The index serves the owner filter and the createdAt order of the search in one scan.
    send(base + "/schemas/Task", "POST", {
        "className": "Task", "fields": PARSE_TASK_FIELDS, "classLevelPermissions": PARSE_TASK_CLP,
        "indexes": {"owner_createdAt": {"owner": 1, "createdAt": 1}}}, master)

    users = dataset.make_users(args.seed, args.users, args.tasks_per_user)

    def sign_up(user):
        name = user["email"].split("@")[0]
        return send(base + "/users", "POST", {"username": user["email"], "email": user["email"],
                                              "password": user["password"], "name": name}, app)

    with concurrent.futures.ThreadPoolExecutor(max_workers=HASH_WORKERS) as pool:
        accounts = list(pool.map(sign_up, users))

    # One request per task: /parse/batch of Parse Server 9.10.0 fails with a TypeError in its
    # router (PromiseRouter.match) on these requests.
    def create_tasks(user, account):
        headers = dict(app, **{"X-Parse-Session-Token": account["sessionToken"]})
        return [send(base + "/classes/Task", "POST", parse_task(task, account["objectId"]),
                     headers)["objectId"] for task in user["tasks"]]

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        task_ids = list(pool.map(create_tasks, users, accounts))

    # Before any measurement: the owner reads its task, another user cannot, and the search
    # returns the owner's tasks alone with their exact count.
    first, second = accounts[0], accounts[-1]
    own = dict(app, **{"X-Parse-Session-Token": first["sessionToken"]})
    other = dict(app, **{"X-Parse-Session-Token": second["sessionToken"]})
    send(f"{base}/classes/Task/{task_ids[0][0]}", "GET", None, own)
    if len(accounts) > 1:
        expect_refused(f"{base}/classes/Task/{task_ids[0][0]}", other,
                       "a GET of one user's task with another user's token")
    owner = json.dumps({"owner": {"__type": "Pointer", "className": "_User",
                                  "objectId": first["objectId"]}})
    query = urllib.parse.urlencode({"where": owner, "limit": 20, "count": 1,
                                    "order": "createdAt"})
    found = send(f"{base}/classes/Task?{query}", "GET", None, own)
    check_search(found["results"], found["count"], lambda r: r["owner"]["objectId"],
                 first["objectId"], args.tasks_per_user)

    lines = []
    for user, account, ids in zip(users, accounts, task_ids):
        lines.append(f"user {account['sessionToken']} {ids[0]} {user['email']} "
                     f"{user['password']} {account['objectId']}")
    write_data_file(args.out, lines)
    print(f"seeded Parse Server with {len(users)} users and "
          f"{len(users) * args.tasks_per_user} tasks; data file {args.out}")


# Directus ----------------------------------------------------------------------------------

# Directus needs a meta object on each field; a timestamp field without one fails validation.
DIRECTUS_TASK_FIELDS = [
    {"field": "id", "type": "integer", "meta": {"hidden": True, "readonly": True},
     "schema": {"is_primary_key": True, "has_auto_increment": True}},
    {"field": "title", "type": "string", "meta": {}},
    {"field": "done", "type": "boolean", "meta": {}, "schema": {"default_value": False}},
    {"field": "due", "type": "timestamp", "meta": {}},
    {"field": "estimate", "type": "integer", "meta": {}},
    {"field": "priority", "type": "string", "meta": {}},
    {"field": "tags", "type": "json", "meta": {"special": ["cast-json"]}},
    {"field": "notes", "type": "text", "meta": {}},
    # Directus sets these two itself on create, as froth sets Creator and Created Date.
    {"field": "user_created", "type": "uuid", "meta": {"special": ["user-created"]},
     "schema": {"is_indexed": True}},
    {"field": "date_created", "type": "timestamp", "meta": {"special": ["date-created"]}},
]
DIRECTUS_OWNER_FILTER = {"user_created": {"_eq": "$CURRENT_USER"}}


def directus_policy():
    """Return the policy of the benchmark users: their own tasks only, every field."""
    permissions = [{"collection": "task", "action": "create", "fields": ["*"],
                    "permissions": {}, "validation": {}}]
    for action in ("read", "update", "delete"):
        permissions.append({"collection": "task", "action": action, "fields": ["*"],
                            "permissions": DIRECTUS_OWNER_FILTER})
    return {"name": "bench user", "icon": "person", "app_access": False, "admin_access": False,
            "permissions": permissions}


def seed_directus(args):
    base = args.url.rstrip("/")
    wait_until_ready(base + "/server/health")
    admin_token = send(base + "/auth/login", "POST", {
        "email": args.admin_email, "password": args.admin_password})["data"]["access_token"]
    admin = {"Authorization": "Bearer " + admin_token}

    # accountability null turns off Directus's activity and revision records for the
    # collection, which froth does not keep either.
    send(base + "/collections", "POST", {
        "collection": "task", "meta": {"accountability": None}, "schema": {},
        "fields": DIRECTUS_TASK_FIELDS}, admin)
    send(base + "/relations", "POST", {
        "collection": "task", "field": "user_created", "related_collection": "directus_users",
        "schema": {"on_delete": "SET NULL"}}, admin)
    policy = send(base + "/policies", "POST", directus_policy(), admin)["data"]
    role = send(base + "/roles", "POST", {
        "name": "bench user", "policies": {"create": [{"policy": policy["id"]}]}}, admin)["data"]

    users = dataset.make_users(args.seed, args.users, args.tasks_per_user)

    def create_and_log_in(user):
        name = user["email"].split("@")[0]
        created = send(base + "/users", "POST", {
            "email": user["email"], "password": user["password"], "first_name": name,
            "role": role["id"], "status": "active"}, admin)["data"]
        token = send(base + "/auth/login", "POST", {
            "email": user["email"], "password": user["password"]})["data"]["access_token"]
        return created["id"], token

    with concurrent.futures.ThreadPoolExecutor(max_workers=HASH_WORKERS) as pool:
        accounts = list(pool.map(create_and_log_in, users))

    lines = []
    first_tasks = []
    for user, (user_id, token) in zip(users, accounts):
        created = send(base + "/items/task", "POST", user["tasks"],
                       {"Authorization": "Bearer " + token})["data"]
        if len(created) != len(user["tasks"]):
            raise RuntimeError(f"batch create for {user['email']} returned {len(created)} items")
        first_tasks.append(created[0]["id"])
        lines.append(f"user {token} {created[0]['id']} {user['email']} {user['password']} "
                     f"{user_id}")

    # Before any measurement: the owner reads its task, another user cannot, and the search
    # returns the owner's tasks alone with their exact count.
    (first_id, first_token), (_, second_token) = accounts[0], accounts[-1]
    own = {"Authorization": "Bearer " + first_token}
    send(f"{base}/items/task/{first_tasks[0]}", "GET", None, own)
    if len(accounts) > 1:
        expect_refused(f"{base}/items/task/{first_tasks[0]}",
                       {"Authorization": "Bearer " + second_token},
                       "a GET of one user's task with another user's token")
    query = urllib.parse.urlencode({"limit": 20, "sort": "date_created", "meta": "filter_count",
                                    "filter[user_created][_eq]": "$CURRENT_USER"})
    found = send(f"{base}/items/task?{query}", "GET", None, own)
    check_search(found["data"], found["meta"]["filter_count"], lambda r: r["user_created"],
                 first_id, args.tasks_per_user)
    write_data_file(args.out, lines)
    print(f"seeded Directus with {len(users)} users and "
          f"{len(users) * args.tasks_per_user} tasks; data file {args.out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("peer", choices=["parse", "directus"])
    parser.add_argument("--url", required=True, help="server base URL, http://127.0.0.1:PORT")
    parser.add_argument("--out", required=True, help="data file to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--users", type=int, default=50, help="users to create (default 50)")
    parser.add_argument("--tasks-per-user", type=int, default=100,
                        help="tasks each user creates (default 100)")
    parser.add_argument("--master-key", help="Parse Server's master key")
    parser.add_argument("--admin-email", help="Directus administrator's email")
    parser.add_argument("--admin-password", help="Directus administrator's password")
    args = parser.parse_args()
    if args.peer == "parse":
        if not args.master_key:
            parser.error("parse needs --master-key")
        seed_parse(args)
    else:
        if not args.admin_email or not args.admin_password:
            parser.error("directus needs --admin-email and --admin-password")
        seed_directus(args)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
