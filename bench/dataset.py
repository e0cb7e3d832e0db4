#!/usr/bin/python3
"""Seed a running froth server (examples/todo/app.json) with the benchmark data set.

Signs up the users through the Workflow API, creates their tasks through the Data API bulk
route, creates an admin token with `froth admin-token create`, and writes the data file that
the wrk scripts in bench/ read. The same seed gives the same emails, passwords and task
contents; ids and tokens are new on every run because the server generates them.

Data file format, one record per line, fields separated by single spaces:
    admin <token>
    user <token> <task_id> <email> <password>
"""

import argparse
import concurrent.futures
import json
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request

REQUEST_TIMEOUT_S = 30
# froth returns 503 when every password-hashing slot stays busy; sign-ups retry after a pause.
BUSY_RETRIES = 20
BUSY_PAUSE_S = 0.2
PRIORITIES = ["Low", "Medium", "High"]
WORDS = ["write", "review", "plan", "fix", "call", "buy", "send", "read", "test", "ship",
         "report", "invoice", "garden", "kitchen", "budget", "meeting", "draft", "backup"]
TAGS = ["home", "work", "urgent", "later", "errand", "idea"]


def request(base_url, method, path, body=None, token=None, content_type="application/json"):
    """Send one request and return the response body; retry on 503, raise on other non-2xx."""
    for _ in range(BUSY_RETRIES):
        try:
            return send(base_url, method, path, body, token, content_type)
        except urllib.error.HTTPError as e:
            if e.code != 503:
                raise RuntimeError(f"{method} {path} failed with status {e.code}: "
                                   f"{e.read()[:300]!r}")
            time.sleep(BUSY_PAUSE_S)
    raise RuntimeError(f"{method} {path} still got 503 after {BUSY_RETRIES} attempts")


def send(base_url, method, path, body, token, content_type):
    """Send one request and return the response body; raise HTTPError on a non-2xx status."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(base_url + path, data=data, method=method)
    req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT_S) as resp:
        return resp.read().decode()


def make_task(rng, user_index, task_index):
    """Return the fields of one task; every value comes from rng so the seed fixes them."""
    task = {
        "title": f"{rng.choice(WORDS)} {rng.choice(WORDS)} {user_index}-{task_index}",
        "done": rng.random() < 0.3,
        "estimate": rng.randint(1, 40),
        "priority": rng.choice(PRIORITIES),
        "tags": rng.sample(TAGS, rng.randint(0, 3)),
        "due": f"2027-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}T12:00:00.000Z",
    }
    if rng.random() < 0.5:
        task["notes"] = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
    return task


def sign_up(base_url, email, password):
    """Sign one user up and return its session token."""
    text = request(base_url, "POST", "/api/1.1/wf/signup",
                   {"email": email, "password": password, "name": email.split("@")[0]})
    return json.loads(text)["response"]["token"]


def create_tasks(base_url, token, tasks):
    """Create the tasks in one bulk request and return their ids in input order."""
    body = "\n".join(json.dumps(t) for t in tasks).encode()
    text = request(base_url, "POST", "/api/1.1/obj/task/bulk", body, token, "text/plain")
    ids = []
    for line in text.splitlines():
        result = json.loads(line)
        if result.get("status") != "success":
            raise RuntimeError(f"bulk create failed on a line: {line[:300]}")
        ids.append(result["id"])
    if len(ids) != len(tasks):
        raise RuntimeError(f"bulk create returned {len(ids)} ids for {len(tasks)} tasks")
    return ids


def create_admin_token(froth, db):
    """Create an admin token named "bench" with the froth binary and return it."""
    out = subprocess.run([froth, "admin-token", "create", "--label", "bench", "--db", db],
                         check=True, capture_output=True, text=True, timeout=60)
    token = out.stdout.strip()
    if not token or " " in token:
        raise RuntimeError(f"unexpected output from froth admin-token create: {out.stdout!r}")
    return token


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="server base URL, http://127.0.0.1:PORT")
    parser.add_argument("--out", required=True, help="data file to write")
    parser.add_argument("--froth", required=True, help="path of the froth binary")
    parser.add_argument("--db", required=True, help="database URL the server uses")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--users", type=int, default=50, help="users to sign up (default 50)")
    parser.add_argument("--tasks-per-user", type=int, default=100,
                        help="tasks each user creates, at most 1000 (default 100)")
    args = parser.parse_args()
    if not 1 <= args.tasks_per_user <= 1000:
        parser.error("--tasks-per-user must be between 1 and 1000, the bulk route's limit")

    rng = random.Random(args.seed)
    users = []
    for i in range(args.users):
        password = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(16))
        tasks = [make_task(rng, i, j) for j in range(args.tasks_per_user)]
        users.append({"email": f"bench-user-{i:03d}@example.com", "password": password,
                      "tasks": tasks})

    # Sign-ups are bound by the password hash, so several run at once.
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        tokens = list(pool.map(lambda u: sign_up(args.url, u["email"], u["password"]), users))

    lines = [f"admin {create_admin_token(args.froth, args.db)}"]
    for user, token in zip(users, tokens):
        ids = create_tasks(args.url, token, user["tasks"])
        lines.append(f"user {token} {ids[0]} {user['email']} {user['password']}")

    with open(args.out, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"seeded {len(users)} users and {len(users) * args.tasks_per_user} tasks; "
          f"data file {args.out}")


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
