#!/usr/bin/python3
"""Send a fixed number of requests of one kind to froth on one keep-alive connection.

For bench/profile.sh: counts of instructions per request need a known number of requests,
which wrk (bounded by time) does not give. Runs --warmup requests, then the --before-measure
command, then --requests requests, and fails on any unexpected status.
"""

import argparse
import http.client
import shlex
import subprocess
import sys

EXPECTED = {"invalid": 401, "create": 201}


def load_users(path):
    users = []
    with open(path) as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] == "user":
                users.append((fields[1], fields[2]))
    return users


def make_request(kind, user, n):
    """Return method, path, body and token of the n-th request of a kind."""
    token, task = user
    if kind == "get":
        return "GET", f"/api/1.1/obj/task/{task}", None, token
    if kind == "search":
        return "GET", "/api/1.1/obj/task?limit=20", None, token
    if kind == "search_exclude":
        return "GET", "/api/1.1/obj/task?limit=20&exclude_remaining=true", None, token
    if kind == "create":
        body = f'{{"title":"bench task {n}","estimate":{n % 40},"priority":"Medium"}}'
        return "POST", "/api/1.1/obj/task", body, token
    if kind == "invalid":
        return "GET", f"/api/1.1/obj/task/{task}", None, "x" * 43
    raise ValueError(f"unknown kind {kind}")


def send(conn, kind, users, n):
    method, path, body, token = make_request(kind, users[n % len(users)], n)
    headers = {"Authorization": "Bearer " + token}
    if body is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    expected = EXPECTED.get(kind, 200)
    if resp.status != expected:
        raise RuntimeError(f"{method} {path} returned {resp.status}, expected {expected}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data", required=True, help="data file written by bench/dataset.py")
    parser.add_argument("--kind", required=True,
                        choices=["get", "search", "search_exclude", "create", "invalid"])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--before-measure", help="command to run between warm-up and measure")
    args = parser.parse_args()

    users = load_users(args.data)
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=120)
    for n in range(args.warmup):
        send(conn, args.kind, users, n)
    if args.before_measure:
        subprocess.run(shlex.split(args.before_measure), check=True, capture_output=True,
                       timeout=60)
    for n in range(args.warmup, args.warmup + args.requests):
        send(conn, args.kind, users, n)
    conn.close()


if __name__ == "__main__":
    try:
        main()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
