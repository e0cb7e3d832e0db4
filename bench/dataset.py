#!/usr/bin/python3
"""Make the benchmark data set for examples/todo/app.json, through the API or as a dump.

API mode (--url) seeds a running froth server: it signs up the users through the Workflow API,
creates their tasks through the Data API bulk route and creates an admin token with
`froth admin-token create`. The same seed gives the same emails, passwords and task contents;
ids and tokens are new on every run because the server generates them.

Dump mode (--things N --dump FILE) writes N things (users and the tasks they created) in the
format of `froth export`, for `froth import` to load into an empty database. Seeding a million
things through the API would take hours because every sign-up costs a password hash; import
inserts through the same store code in one transaction. Everything in the dump, ids and tokens
included, follows from the seed, so the same seed writes the same bytes. Its users have no
password (they cannot log in) but each has a session whose token the data file holds. One user,
the "heavy" user, created a tenth of the tasks, so that the cost of reading all of one user's
rows shows up as the table grows; every other user created --tasks-per-user tasks.

Data file format, one record per line, fields separated by single spaces:
    admin <token>
    user <token> <task_id> <email> <password>
In dump mode the password is "-", and the heavy user's line goes to a second data file
(--heavy-out) so that a wrk run can send that user's requests alone.
"""

import argparse
import base64
import concurrent.futures
import datetime
import hashlib
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


def make_users(seed, count, tasks_per_user):
    """Return count users as {email, password, tasks}; the seed fixes every value. API mode and
    the peers of bench/peers/ seed these same users and tasks."""
    rng = random.Random(seed)
    users = []
    for i in range(count):
        password = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(16))
        tasks = [make_task(rng, i, j) for j in range(tasks_per_user)]
        users.append({"email": f"bench-user-{i:03d}@example.com", "password": password,
                      "tasks": tasks})
    return users


def seed_through_api(args):
    """Sign the users up and create their tasks on the server at args.url."""
    users = make_users(args.seed, args.users, args.tasks_per_user)

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


# Dump mode. Created dates start here and grow by one millisecond a thing, so ids (which begin
# with their creation time) and the (Created Date, _id) order follow the order of the dump.
DUMP_EPOCH_MS = 1767225600000  # 2026-01-01T00:00:00Z
# Sessions in the dump never expire within a benchmark: both limits lie in the year 2100 or later.
SESSION_EXPIRES_MS = 4102444800000  # 2100-01-01T00:00:00Z
SESSION_IDLE_MS = 100 * 365 * 86400 * 1000
# Regular users whose lines go to the data file; the wrk scripts rotate over them.
DATA_FILE_USERS = 1000


def dump_id(rng, ms):
    """Return an id of Bubble's form (13 digits of epoch ms, 'x', 18 digits) drawn from rng."""
    return f"{ms:013d}x{rng.randrange(10**18):018d}"


def dump_token(rng):
    """Return a bearer token shaped like froth's (32 random bytes, URL-safe base64 without
    padding) and the hex SHA-256 of its text, which is what froth stores."""
    raw = rng.getrandbits(256).to_bytes(32, "big")
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    return token, hashlib.sha256(token.encode()).hexdigest()


def iso_to_ms(text):
    """Convert the ISO 8601 dates make_task writes to epoch milliseconds, as a dump holds them."""
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(moment.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


def dump_line(record):
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n"


def plan_users(things, tasks_per_user):
    """Split things into users and tasks: returns the task count of each user, the heavy user
    (a tenth of all things, plus what the even split leaves over) first."""
    heavy = things // 10
    regular = (things - heavy - 1) // (tasks_per_user + 1)
    if regular < 1:
        raise RuntimeError(f"--things {things} is too few for one regular user with "
                           f"{tasks_per_user} tasks besides the heavy user")
    heavy += things - 1 - heavy - regular * (tasks_per_user + 1)
    return [heavy] + [tasks_per_user] * regular


def write_dump(args, out):
    """Write the dump to the open text file out and the data files; return the user count."""
    rng = random.Random(args.seed)
    clock = DUMP_EPOCH_MS
    counts = plan_users(args.things, args.tasks_per_user)
    out.write(dump_line({"froth_export": 1, "app": "todo",
                         "exported_at": "2026-01-01T00:00:00.000Z"}))
    user_lines = []
    sessions = []
    for i, ntasks in enumerate(counts):
        user_id = dump_id(rng, clock)
        email = f"bench-user-{i:07d}@example.com"
        out.write(dump_line({"type": "User", "values": {
            "_id": user_id, "Created Date": clock, "Modified Date": clock,
            "Created By": user_id, "name": f"bench user {i}"}, "email": email}))
        token, token_hash = dump_token(rng)
        sessions.append({"id": dump_id(rng, clock), "user_id": user_id, "created_ms": clock,
                         "last_used_ms": clock, "expires_ms": SESSION_EXPIRES_MS,
                         "idle_ms": SESSION_IDLE_MS, "two_factor": False, "revoked": False,
                         "token_hash": token_hash})
        clock += 1
        first_task = None
        for j in range(ntasks):
            task = make_task(rng, i, j)
            task["due"] = iso_to_ms(task["due"])
            task_id = dump_id(rng, clock)
            first_task = first_task or task_id
            out.write(dump_line({"type": "Task", "values": {
                "_id": task_id, "Created Date": clock, "Modified Date": clock,
                "Created By": user_id, **task}}))
            clock += 1
        if i == 0 or len(user_lines) < DATA_FILE_USERS + 1:
            user_lines.append(f"user {token} {first_task} {email} -")
    for session in sessions:
        out.write(dump_line({"session": session}))
    admin_token, admin_hash = dump_token(rng)
    out.write(dump_line({"admin_token": {"label": "bench", "token_hash": admin_hash,
                                         "created_ms": DUMP_EPOCH_MS, "last_used_ms": 0}}))
    out.write(dump_line({"froth_export_end": {"things": args.things, "sessions": len(sessions),
                                              "admin_tokens": 1}}))

    with open(args.out, "w") as f:
        f.write(f"admin {admin_token}\n" + "\n".join(user_lines[1:]) + "\n")
    with open(args.heavy_out, "w") as f:
        f.write(f"admin {admin_token}\n{user_lines[0]}\n")
    return counts


def make_dump(args):
    """Write the dump for --things to --dump ("-" for standard output) and the data files."""
    if args.dump == "-":
        counts = write_dump(args, sys.stdout)
        sys.stdout.flush()
    else:
        with open(args.dump, "w") as f:
            counts = write_dump(args, f)
    print(f"wrote {args.things} things: {len(counts)} users, the heavy one with {counts[0]} "
          f"tasks and {len(counts) - 1} with {args.tasks_per_user} each; data files {args.out} "
          f"and {args.heavy_out}", file=sys.stderr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="data file to write")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--tasks-per-user", type=int, default=100,
                        help="tasks each user creates, at most 1000 in API mode (default 100)")
    api = parser.add_argument_group("API mode")
    api.add_argument("--url", help="server base URL, http://127.0.0.1:PORT")
    api.add_argument("--froth", help="path of the froth binary")
    api.add_argument("--db", help="database URL the server uses")
    api.add_argument("--users", type=int, default=50, help="users to sign up (default 50)")
    dump = parser.add_argument_group("dump mode")
    dump.add_argument("--things", type=int, help="things to write, users and tasks together")
    dump.add_argument("--dump", help="dump file to write, - for standard output")
    dump.add_argument("--heavy-out", help="data file for the heavy user alone")
    args = parser.parse_args()

    if args.things is not None:
        if args.dump is None or args.heavy_out is None:
            parser.error("--things needs --dump and --heavy-out")
        if args.tasks_per_user < 1:
            parser.error("--tasks-per-user must be at least 1")
        make_dump(args)
        return
    if args.url is None or args.froth is None or args.db is None:
        parser.error("give --url, --froth and --db to seed a server, or --things to write a dump")
    if not 1 <= args.tasks_per_user <= 1000:
        parser.error("--tasks-per-user must be between 1 and 1000, the bulk route's limit")
    seed_through_api(args)


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
