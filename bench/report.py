#!/usr/bin/python3
"""Write docs/benchmarks.md from the wrk outputs and process samples that bench/run.sh saves."""

import argparse
import datetime
import os
import re
import subprocess

# (file name, work, target ratio to nginx or None, target text)
SCENARIOS = [
    ("get", "GET one task by id, owner's token, owner rule", 0.30, "≥ 30%"),
    ("search", "search 20 own tasks, exact `remaining`", 0.10, "≥ 10%"),
    ("search_exclude", "search 20 own tasks, `exclude_remaining=true`", None, "—"),
    ("invalid_token", "request with an invalid token (401)", 0.50, "≥ 50%"),
    ("patch", "PATCH one field of an own task", None, "—"),
    ("create", "create a task, create rule", 0.07, "≥ 7%"),
    ("workflow", "workflow add-task: creates a task, returns data", None, "—"),
    ("login", "login (argon2id)", None, "hash-bound, p99 bounded"),
]
# Scenarios whose every response is expected to be an error status.
ERROR_EXPECTED = {"invalid_token"}
# Scaling runs of bench/scale.sh, in table order: (file name, work, whose tokens it sends).
SCALE_SCENARIOS = [
    ("get", "GET one task by id", "regular users"),
    ("search", "search 20, exact `remaining`", "regular users"),
    ("search_exclude", "search 20, `exclude_remaining`", "regular users"),
    ("heavy_search", "search 20, exact `remaining`", "the heavy user"),
    ("heavy_search_exclude", "search 20, `exclude_remaining`", "the heavy user"),
]
# Cost per request counts as flat when the largest size costs at most this times the smallest.
FLAT_RATIO = 1.5
# Hand-written and generated parts of the page that survive a run that does not remake them.
KEPT_SECTIONS = ("peers", "scaling", "profile")
# Scenarios that bench/peers/run.sh runs on each peer, in table order (froth's names and works).
PEER_SCENARIOS = ["get", "search", "search_exclude", "invalid_token", "patch", "create", "login"]
# (directory under the peers results, column heading without versions)
PEERS = [("parse", "Parse Server"), ("directus", "Directus")]
IDLE_RSS_TARGET_KB = 20 * 1024
LOAD_RSS_TARGET_KB = 64 * 1024
# A run with more error responses than this share does not count as meeting its target.
MAX_ERROR_SHARE = 0.01

UNIT_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def parse_wrk(text):
    """Return requests/s, p50 and p99 in ms, total requests and error counts from wrk output."""
    result = {"rps": None, "p50": None, "p99": None, "requests": 0, "non2xx": 0, "socket": 0}
    match = re.search(r"^Requests/sec:\s+([\d.]+)", text, re.M)
    if match:
        result["rps"] = float(match.group(1))
    for pct, key in (("50", "p50"), ("99", "p99")):
        match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M)
        if match:
            result[key] = float(match.group(1)) * UNIT_TO_MS[match.group(2)]
    match = re.search(r"^\s+(\d+) requests in", text, re.M)
    if match:
        result["requests"] = int(match.group(1))
    match = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    if match:
        result["non2xx"] = int(match.group(1))
    match = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if match:
        result["socket"] = sum(int(g) for g in match.groups())
    return result


def read_env(path):
    """Return the key=value lines of a file as a dict of strings."""
    values = {}
    with open(path) as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                values[key] = value
    return values


def load(results, name):
    """Return the parsed wrk output and samples of one scenario, or None when it did not run."""
    wrk_path = os.path.join(results, name + ".txt")
    if not os.path.exists(wrk_path):
        return None
    with open(wrk_path) as f:
        run = parse_wrk(f.read())
    stats = read_env(os.path.join(results, name + ".stats"))
    run["peak_kb"] = int(stats["peak_kb"]) if stats.get("peak_kb") else None
    run["cpu_s"] = int(stats["cpu_ticks"]) / int(stats["clk_tck"])
    run["command"] = stats.get("command", "")
    run["loadavg"] = stats.get("loadavg", "?")
    return run


def command_output(args):
    """Return the stripped stdout and stderr of a command, or "unknown" when it fails."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=10)
        return (done.stdout + done.stderr).strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    """Return a one-line description of the CPU, core count, memory and kernel."""
    model = "unknown CPU"
    for line in command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    mem_gib = 0.0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / (1024 * 1024)
    return (f"{model}, `nproc` = {os.cpu_count()}, {mem_gib:.1f} GiB memory, "
            f"Linux {os.uname().release}")


def commit():
    """Return the short commit, noting uncommitted changes under src/ that the build included."""
    head = command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "status", "--porcelain", "--", "src", "CMakeLists.txt"])
    if dirty not in ("", "unknown"):
        return f"{head} plus uncommitted changes under src/"
    return head


def fmt_ms(value):
    if value is None:
        return "—"
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def fmt_mb(kb):
    return "—" if kb is None else f"{kb / 1024:.1f} MB"


def verdict(name, run, ceiling, target):
    """Return whether a scenario meets its target ratio, with errors disqualifying a run."""
    if target is None or run["rps"] is None or not ceiling:
        return "—"
    errors = run["socket"] + (0 if name in ERROR_EXPECTED else run["non2xx"])
    if run["requests"] and errors / run["requests"] > MAX_ERROR_SHARE:
        return "no (error responses)"
    return "yes" if run["rps"] / ceiling >= target else "no"


def table(results, ceiling):
    """Return the Markdown rows of the results table and the largest peak RSS under load,
    outside login and in login, whose argon2id hashes each take their own memory."""
    rows = ["| work | requests/s | % of nginx | p50 | p99 | non-2xx | peak RSS | CPU s "
            "| target | met |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    nginx = load(results, "nginx")
    if nginx:
        rows.append(f"| nginx ceiling: fixed JSON body | {nginx['rps']:,.0f} | 100% "
                    f"| {fmt_ms(nginx['p50'])} | {fmt_ms(nginx['p99'])} | {nginx['non2xx']:,} "
                    f"| — | — | | |")
    max_peak_kb = 0
    login_peak_kb = 0
    for name, work, target, target_text in SCENARIOS:
        run = load(results, name)
        if run is None:
            rows.append(f"| {work} | not run | | | | | | | {target_text} | — |")
            continue
        if name == "login":
            login_peak_kb = run["peak_kb"] or 0
        else:
            max_peak_kb = max(max_peak_kb, run["peak_kb"] or 0)
        share = f"{100 * run['rps'] / ceiling:.1f}%" if ceiling and run["rps"] else "—"
        rps = f"{run['rps']:,.0f}" if run["rps"] is not None else "—"
        rows.append(f"| {work} | {rps} | {share} | {fmt_ms(run['p50'])} | {fmt_ms(run['p99'])} "
                    f"| {run['non2xx']:,} | {fmt_mb(run['peak_kb'])} | {run['cpu_s']:.1f} "
                    f"| {target_text} | {verdict(name, run, ceiling, target)} |")
    return rows, max_peak_kb, login_peak_kb


def commands(results):
    """Return the wrk command of each scenario that ran, as Markdown list items."""
    lines = []
    for name in ["nginx"] + [s[0] for s in SCENARIOS]:
        run = load(results, name)
        if run:
            lines.append(f"- {name}: `{run['command']}`")
    return lines


def connections_section(results):
    """Return the Markdown of the 1,000-connection memory run, or "" when it did not run."""
    path = os.path.join(results, "connections.env")
    if not os.path.exists(path):
        return ""
    c = read_env(path)
    n = int(c["connections"])
    per_conn_kb = (int(c["open_rss_kb"]) - int(c["idle_rss_kb"])) / n
    met = "yes" if int(c["peak_rss_kb"]) < LOAD_RSS_TARGET_KB else "no"
    return f"""## Memory with {n:,} open keep-alive connections

`bench/hold_connections.py` opened {c['opened']} connections to a freshly started froth on the
seeded database (a process of its own, so that the memory those connections leave mapped
inflates no other figure),
sent one GET of a task by id on each and read the responses while keeping every connection
open: {c['first_ok']} of them got 2xx (other statuses: {c['first_other']}) within {c['first_s']} s.
After {c['hold_s']} s idle it sent a second request on each, and {c['second_ok']} got 2xx on the
same connection.

| | resident memory |
|---|---:|
| idle, before opening them | {fmt_mb(int(c['idle_rss_kb']))} |
| {n:,} connections open, each answered once | {fmt_mb(int(c['open_rss_kb']))} |
| after the second request on each | {fmt_mb(int(c['after_rss_kb']))} |
| peak (VmHWM) | {fmt_mb(int(c['peak_rss_kb']))} (target < 64 MB: {met}) |

That is about {per_conn_kb:.0f} kB per open connection. Most of it is libmicrohttpd's memory pool
for each connection, sized by `--max-header-bytes` (default 32 KiB), which the library clears
and so touches in full when the connection is set up. The defaults allow the load:
`--max-connections` is 1024 and froth's soft limit on open files was {c.get('fd_soft_limit', '?')}
in this run. A soft limit of 1024, still the default on many systems, leaves little room for
1,000 sockets besides the database files and epoll descriptors (not measured here), so raise
it with `ulimit -n` or `LimitNOFILE=`.

"""


def scale_runs(scale_dir):
    """Return [(things, env, {scenario: run}, plans)] for each size bench/scale.sh ran."""
    if not scale_dir or not os.path.isdir(scale_dir):
        return []
    runs = []
    for name in os.listdir(scale_dir):
        results = os.path.join(scale_dir, name, "results")
        if not os.path.exists(os.path.join(results, "scale.env")):
            continue
        env = read_env(os.path.join(results, "scale.env"))
        scenarios = {sc[0]: load(results, sc[0]) for sc in SCALE_SCENARIOS}
        # The steps of one statement, keyed by request id and operation, in logged order.
        plans = {}
        with open(os.path.join(scale_dir, name, "plans.log")) as f:
            for line in f:
                m = re.search(r'op="(get thing|search things)" step="([^"]*)" '
                              r'request_id="([^"]*)"', line)
                if m:
                    plans.setdefault((m.group(3), m.group(1)), []).append(m.group(2))
        runs.append((int(env["things"]), env, scenarios, plans))
    return sorted(runs, key=lambda r: r[0])


def cpu_us(run):
    """Return the server's CPU time per request in microseconds, or None."""
    if run is None or not run["requests"]:
        return None
    return 1e6 * run["cpu_s"] / run["requests"]


def plan_text(plans):
    """Return the distinct plans of GET and search, one block per statement."""
    blocks = []
    for (_, op), steps in plans.items():
        label = op
        if op == "search things":
            label += (" with the COUNT(*) subquery" if any("SUBQUERY" in s for s in steps)
                      else " without the COUNT(*) subquery (exclude_remaining)")
        block = "\n".join([label + ":"] + ["    " + s for s in steps])
        if block not in blocks:
            blocks.append(block)
    return "\n".join(blocks)


def superlinear_note(runs):
    """Return a sentence when the heavy user's search cost grew faster than its rows between the
    two largest sizes, else ""."""
    if len(runs) < 2:
        return ""
    (_, small_env, small, _), (_, large_env, large, _) = runs[-2], runs[-1]
    small_cpu, large_cpu = cpu_us(small["heavy_search"]), cpu_us(large["heavy_search"])
    small_rows, large_rows = int(small_env["heavy_tasks"]), int(large_env["heavy_tasks"])
    if not small_cpu or not large_cpu or large_cpu / small_cpu <= 1.5 * large_rows / small_rows:
        return ""
    return (f" Between the two largest sizes the cost grew {large_cpu / small_cpu:.0f}× while the "
            f"heavy user's rows grew {large_rows / small_rows:.0f}×. A likely cause, not checked "
            f"here, is that {large_rows:,} rows no longer fit SQLite's default page cache of "
            f"about 2 MB per connection.")


def scaling_section(scale_dir):
    """Return the Markdown of the scaling runs, or None when none ran."""
    runs = scale_runs(scale_dir)
    if not runs:
        return None
    sizes = [r[0] for r in runs]
    head = "| work | users | " + " | ".join(f"{n:,} things" for n in sizes) + " | largest / smallest |"
    rule = "|---|---|" + "---:|" * (len(sizes) + 1)
    rps_rows, cpu_rows, verdicts = [head, rule], [head, rule], []
    for name, work, caller in SCALE_SCENARIOS:
        rps = [r[2][name]["rps"] if r[2][name] else None for r in runs]
        cpu = [cpu_us(r[2][name]) for r in runs]
        rps_ratio = f"{rps[-1] / rps[0]:.2g}×" if rps[0] and rps[-1] else "—"
        cpu_ratio = cpu[-1] / cpu[0] if cpu[0] and cpu[-1] else None
        rps_rows.append(f"| {work} | {caller} | " +
                        " | ".join(f"{v:,.0f}" if v else "—" for v in rps) + f" | {rps_ratio} |")
        cpu_rows.append(f"| {work} | {caller} | " +
                        " | ".join(f"{v:,.0f} µs" if v else "—" for v in cpu) +
                        (f" | {cpu_ratio:.3g}× |" if cpu_ratio else " | — |"))
        if cpu_ratio:
            verdicts.append(f"- {work}, {caller}: " +
                            ("flat" if cpu_ratio <= FLAT_RATIO else f"grows {cpu_ratio:,.0f}×") +
                            f" from {sizes[0]:,} to {sizes[-1]:,} things.")
    data_rows = ["| things | users | tasks | the heavy user's tasks | database | dump and import |",
                 "|---:|---:|---:|---:|---:|---:|"]
    for n, env, _, _ in runs:
        data_rows.append(f"| {n:,} | {int(env.get('users', 0)):,} | {int(env.get('tasks', 0)):,} "
                         f"| {int(env.get('heavy_tasks', 0) or 0):,} "
                         f"| {int(env['db_bytes']) / 2**20:,.0f} MiB | {env['import_s']} s |")
    plans_same = all(plan_text(r[3]) == plan_text(runs[0][3]) for r in runs)
    loads = ", ".join(f"{n:,}: " + " ".join(r[name]["loadavg"] for name, _, _ in SCALE_SCENARIOS
                                            if r.get(name))
                      for n, _, r, _ in runs)
    any_run = next(r[2][name] for r in runs for name, _, _ in SCALE_SCENARIOS if r[2][name])
    return f"""## Scaling from {sizes[0]:,} to {sizes[-1]:,} things

Measured by `make bench SCALE=1` (`bench/run.sh --scale`, which runs `bench/scale.sh`). For each
size `bench/dataset.py --seed 1 --things N --dump -` writes a dump in the format of `froth export`.
`froth import` loads it into a fresh SQLite database through the store's insert code, because
signing up thousands of users through the API would cost a password hash each. One user, the
heavy user, created a tenth of the tasks. Every other user created 100, so a regular user's
rows stay the same while the table grows. The wrk scripts and options are those of the table
above (`{any_run['command'].split(' -s ')[0]}`), rotating over up to 1,000 regular users
or sending the heavy user's token alone. Load average after each run: {loads}.

{chr(10).join(data_rows)}

Requests per second:

{chr(10).join(rps_rows)}

froth's CPU time per request (utime + stime over the measured run, divided by the requests),
which depends less on what else runs on the machine:

{chr(10).join(cpu_rows)}

{chr(10).join(verdicts)}

Cost per request is flat where an index finds the caller's rows without reading others. GET by
id is a primary-key lookup at any size, and a regular user's search reads that user's 100 rows
whatever the table holds. It grows with the number of rows the caller may find, not with the
table, and the heavy user's rows are a tenth of the table. The todo app grants Task to
its creator ("mine") and to its assignee ("assigned"), so the privacy condition is
`_created_by = ? OR f_assignee = ?`. SQLite serves each side from its own index
(MULTI-INDEX OR) and then sorts all matches in a temporary B-tree for ORDER BY "_created", "_id"
before it can return the first 20. `exclude_remaining` drops the COUNT(*) subquery, which reads
every match a second time, but not the sort, so the heavy user's search costs in proportion to
that user's rows either way.{superlinear_note(runs)} An app whose find rule is a single condition on an indexed field
(creator alone) lets the `(_created_by, _created, _id)` index return rows in page order, so the
page stops after 20 rows. There only the exact `remaining` count still reads all of the user's
rows.

SQLite's plans, logged by froth at `--log-level debug` when each statement is first prepared
(`build/bench/scale/SIZE/plans.log`); they are {"the same at every size" if plans_same else "not the same at every size: see the logs"}:

```
{plan_text(runs[-1][3])}
```

"""


def error_share(name, run):
    """Return the share of error responses and socket errors of a run, 0 for none."""
    if not run or not run["requests"]:
        return 0.0
    errors = run["socket"] + (0 if name in ERROR_EXPECTED else run["non2xx"])
    return errors / run["requests"]


def peer_cell(name, run):
    """Return one cell of the side-by-side table: requests/s and p99, with any error share."""
    if run is None:
        return "not run"
    if not run["requests"]:
        return "no response in the run"
    cell = f"{run['rps']:,.0f}/s, p99 {fmt_ms(run['p99'])}"
    share = error_share(name, run)
    if share > MAX_ERROR_SHARE:
        cell += f" ({100 * share:.0f}% errors)"
    return cell


def peer_cpu_cell(run):
    """Return the server's CPU time per request in µs, the database server's included."""
    if run is None or not run["requests"]:
        return "—"
    return f"{1e6 * (run['cpu_s'] + run['db_cpu_s']) / run['requests']:,.0f} µs"


def load_peer(results, name):
    """Return load() of a peer's scenario with its database server's CPU seconds added."""
    run = load(results, name)
    if run is not None:
        stats = read_env(os.path.join(results, name + ".stats"))
        run["db_cpu_s"] = int(stats.get("db_cpu_ticks", 0)) / int(stats["clk_tck"])
    return run


def peers_section(peers_dir, froth_results):
    """Return the Markdown of the side-by-side table of froth and the peers, or None when no
    peer ran."""
    columns = []
    for key, title in PEERS:
        results = os.path.join(peers_dir or "", key, "results")
        if peers_dir and os.path.exists(os.path.join(results, "run.env")):
            columns.append((key, title, results, read_env(os.path.join(results, "run.env"))))
    if not columns:
        return None
    env = read_env(os.path.join(froth_results, "run.env"))
    heads = ["froth"] + [f"{title} {penv['version']}" for _, title, _, penv in columns]
    head = "| work | " + " | ".join(heads) + " |"
    rule = "|---|" + "---:|" * len(heads)
    rps_rows, cpu_rows = [head, rule], [head, rule]
    works = {name: work for name, work, _, _ in SCENARIOS}
    works["login"] = "login with email and password"
    works["invalid_token"] = "request with an invalid token (Parse: 400, others: 401)"
    for name in PEER_SCENARIOS:
        froth = load_peer(froth_results, name)
        peers = [load_peer(results, name) for _, _, results, _ in columns]
        rps_rows.append(f"| {works[name]} | " +
                        " | ".join(peer_cell(name, r) for r in [froth] + peers) + " |")
        cpu_rows.append(f"| {works[name]} | " +
                        " | ".join(peer_cpu_cell(r) for r in [froth] + peers) + " |")

    def memory_row(label, froth_kb, key):
        cells = [fmt_mb(froth_kb)] + [fmt_mb(int(penv[key])) if penv.get(key) else "—"
                                      for _, _, _, penv in columns]
        return f"| {label} | " + " | ".join(cells) + " |"

    def peak(results, names):
        peaks = [load(results, n)["peak_kb"] or 0 for n in names if load(results, n)]
        return max(peaks) if peaks else None

    others = [n for n in PEER_SCENARIOS if n != "login"]
    for _, _, results, penv in columns:
        penv["load_peak_kb"] = peak(results, others)
        penv["login_peak_kb"] = peak(results, ["login"])
    mem_head = "| | " + " | ".join(heads) + " |"
    mem_rows = [mem_head, rule,
                memory_row("idle after seeding", int(env["idle_rss_kb"]), "idle_rss_kb"),
                memory_row("peak under load, login aside", peak(froth_results, others),
                           "load_peak_kb"),
                memory_row("peak during the login run", peak(froth_results, ["login"]),
                           "login_peak_kb")]
    pg = next((penv for key, _, _, penv in columns if key == "parse"), None)
    pg_note = ""
    if pg and pg.get("db_pss_kb"):
        pg_note = (f"\nParse Server's PostgreSQL server (postmaster and backends, PSS, so the "
                   f"shared buffers count once) used {fmt_mb(int(pg['db_idle_pss_kb']))} idle and "
                   f"{fmt_mb(int(pg['db_pss_kb']))} after the runs, on top of the table's "
                   f"figures.")
    loads = ", ".join(f"{title} {penv.get('loadavg', '?')}" for _, title, _, penv in columns)
    versions = "; ".join(f"{title} {penv['version']} on Node.js {penv['node'].lstrip('v')}"
                         for _, title, _, penv in columns)
    if pg and pg.get("postgres"):
        versions += f"; {pg['postgres'].replace('postgres (PostgreSQL)', 'PostgreSQL')}"
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"""## froth beside Parse Server and Directus

Measured {date} by `make bench PEERS=1` (`bench/run.sh --peers`, which runs
`bench/peers/run.sh` after froth's runs), at commit {commit()}.
Without `PEERS=1` the page keeps the last run's table, so its froth column may be older than the
table above. `bench/peers/install.sh` installs the peers from the npm registry at the exact
versions of `bench/peers/*/package-lock.json` into `bench/peers/install/`:
{versions}.

Each peer gets froth's data model and the same data set (`bench/dataset.py`'s users and tasks
for seed 1, 50 users with 100 tasks each, through `bench/peers/seed.py`, which also checks that
a user cannot read another user's task). Then it runs the same scenarios through its own API
(`bench/peers/parse/*.lua`, `bench/peers/directus/*.lua`) with the same wrk options:
`wrk -t{env['threads']} -c{env['connections']}`, {env['warmup_s']} s of warm-up and
{env['measure_s']} s measured, login {env['login_s']} s without warm-up and with a 10 s timeout.
Each server listens on 127.0.0.1 and is stopped at the end.
Load average after the peers' runs: {loads}.

Requests per second and p99 latency:

{chr(10).join(rps_rows)}

Server CPU time per request (for Parse Server, its PostgreSQL server's time is included):

{chr(10).join(cpu_rows)}

Resident memory of the server process:

{chr(10).join(mem_rows)}
{pg_note}

How the peers are set up, so that the work matches froth's:

- Parse Server runs as one Node.js process (`bench/peers/parse/server.js`), as its own start
  command does, on PostgreSQL reached through a Unix socket. The PostgreSQL cluster is the test
  suite's (`tests/pg/cluster.sh`: fsync, synchronous_commit and full_page_writes off, so a commit
  waits for no disk flush; froth's SQLite runs with synchronous=NORMAL in WAL mode, which also
  flushes only at checkpoints). Parse uses its default pool of 10 database connections.
- Parse access rule: the Task class requires a logged-in user for every operation and lets no
  client add fields (class-level permissions), and every task carries an ACL that grants read and
  write to its owner alone. Parse's default is no ACL, which would make every task public. The
  search sends `where={{"owner": <pointer to the caller>}}` with `order=createdAt` and `count=1`,
  served by an index on (owner, createdAt) created through the schema API. The ACL condition is
  checked on top of it. froth sends no constraint: its owner rule does the filtering.
- Parse logging is off (`silent`, no log files): at any log level Parse Server logs each rejected
  session token as an error with a stack trace. Parse hashes passwords with bcryptjs, in
  JavaScript on the event loop. Parse Server 9.10.0's `/batch` route fails on task creation
  (a TypeError in its router), so the seed creates tasks one request at a time.
- Directus 11.3.5 is the newest release whose `engines` field accepts Node.js 20; later
  releases need Node.js 22. It runs as one Node.js process started through its API's CLI entry
  point (the `directus` command would first ask the npm registry for updates), with telemetry
  off, the admin app not served, the data cache off (`CACHE_ENABLED=false`, its default; the
  schema cache stays on, also its default) and the rate limiter off (its default).
- Directus access rule: a role whose policy grants create on `task`, and read, update and
  delete only where `user_created` is `$CURRENT_USER`. Directus sets `user_created` and
  `date_created` on create, as froth sets Creator and Created Date. `user_created` has an index.
  The search sends `filter[user_created][_eq]=$CURRENT_USER`, `sort=date_created` and
  `meta=filter_count`. Activity and revision records are off for the collection
  (`accountability: null`), since froth keeps none.
- Directus's SQLite database is switched to WAL mode after bootstrap, as froth's is; Directus
  itself leaves the rollback journal. Its tokens are the JWT access tokens of `/auth/login`,
  valid for 24 hours (`ACCESS_TOKEN_TTL`) so that none expires during the run. A login also
  takes at least `LOGIN_STALL_TIME` (500 ms by default), which Directus adds against timing
  attacks. It verifies the password with argon2 and records the login in its activity table.
- Only froth runs the workflow scenario; neither peer has an equivalent without custom code.

"""


def kept_sections(path):
    """Return the text between the BEGIN and END markers of each kept section of the old page."""
    kept = {}
    if not os.path.exists(path):
        return kept
    with open(path) as f:
        text = f.read()
    for name in KEPT_SECTIONS:
        m = re.search(rf"<!-- BEGIN {name} -->\n(.*?)<!-- END {name} -->\n", text, re.S)
        if m:
            kept[name] = m.group(1)
    return kept


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="directory that bench/run.sh filled")
    parser.add_argument("--scale", help="directory that bench/scale.sh filled, if it ran")
    parser.add_argument("--peers", help="directory that bench/peers/run.sh filled, if it ran")
    parser.add_argument("--out", required=True, help="Markdown file to write")
    args = parser.parse_args()
    kept = kept_sections(args.out)
    scaling = scaling_section(args.scale)
    if scaling is not None:
        kept["scaling"] = scaling
    peers = peers_section(args.peers, args.results)
    if peers is not None:
        kept["peers"] = peers

    env = read_env(os.path.join(args.results, "run.env"))
    nginx = load(args.results, "nginx")
    ceiling = nginx["rps"] if nginx else None
    rows, max_peak_kb, login_peak_kb = table(args.results, ceiling)
    idle_kb = int(env["idle_rss_kb"])
    idle_met = "yes" if idle_kb < IDLE_RSS_TARGET_KB else "no"
    load_met = "yes" if max_peak_kb < LOAD_RSS_TARGET_KB else "no"
    login_met = "yes" if login_peak_kb < LOAD_RSS_TARGET_KB else "no"
    nginx_version = command_output(["nginx", "-v"]).replace("nginx version: ", "")
    wrk_version = command_output(["wrk", "-v"]).split(" [")[0].replace("debian/", "")
    loads = ", ".join(f"{name} {load(args.results, name)['loadavg']}"
                      for name in ["nginx"] + [s[0] for s in SCENARIOS]
                      if load(args.results, name))
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")

    text = f"""# Benchmarks

froth's throughput is reported as a share of nginx serving a fixed small JSON body under the same
wrk load on the same machine, so the figures compare across machines. Reproduce with `make bench`:
it installs wrk and nginx-light when missing, builds the release preset, runs every server on
127.0.0.1 only, and rewrites this page. Raw wrk output stays in `build/bench/results/`. The
benchmark is never a CI gate. `make bench SCALE=1` adds the scaling runs (10k to 1M things),
which take several minutes more; without it the page keeps the scaling section of the last run
that made one. `make bench PEERS=1` adds Parse Server and Directus, installed from the npm
registry, for a side-by-side table; without it the page keeps the table of the last run that
made one. The profile section is written by hand from callgrind runs and kept as it is.

## {date}, commit {commit()}

- Machine: {machine()}.
  wrk shares the cores with the server under test.
- Software: {wrk_version}; {nginx_version}; froth release preset on SQLite.
- One-minute load average before the run: {env.get('start_loadavg', '?')}.
  After each measured run: {loads}.
  A load average above `nproc` means other processes took CPU time from the servers and wrk,
  so the figures of that run are low.
- Data: 50 users with 100 tasks each (5,000 tasks), made by `bench/dataset.py --seed 1` through the
  API; the owner rule "This Task's Creator is Current User" grants each user its own tasks.
- Server: `build/froth serve --app examples/todo/app.json --db sqlite:build/bench/bench.db
  --port PORT --login-limit 0 --signup-limit 0 --log-level warn`, default threads.
- Load: wrk with {env['threads']} threads and {env['connections']} connections.
  Each scenario first runs {env['warmup_s']} s of warm-up that is not counted,
  then {env['measure_s']} s measured. Login runs {env['login_s']} s without warm-up and with a
  10 s wrk timeout. The scripts rotate requests over the 50 users.
- nginx ceiling: `worker_processes auto`, `access_log off`, `return 200` with a 91-byte JSON body
  and `default_type application/json`, driven by the same `get.lua` so requests carry the same
  Authorization header and path length.
- Peak RSS is VmHWM of the server process, reset through `/proc/PID/clear_refs` after warm-up.
  CPU s is the server's utime + stime during the measured run.

"""
    text += "\n".join(rows) + "\n\n"
    text += f"""Resident memory of froth:

- {fmt_mb(int(env['start_rss_kb']))} just after start;
- {fmt_mb(idle_kb)} idle after seeding (target < 20 MB: {idle_met});
- {fmt_mb(max_peak_kb)} at most under load outside login (target < 64 MB: {load_met});
- {fmt_mb(login_peak_kb)} during the login run (target < 64 MB: {login_met}), where each
  concurrent argon2id hash uses its own memory.

Every 2xx response of the login row cost one argon2id verification. Its non-2xx responses are
503s: froth turns a login away at once when no hashing slot frees up within a short wait or when
SQLite stays locked; `build/bench/froth.log` records which. Requests with an invalid token are
expected to get 401, so their non-2xx count does not disqualify that row; in every other row more
than 1% error responses or socket errors does.

Commands, from the repository root, with `build/bench/data.txt` written by `bench/dataset.py`:

""" + "\n".join(commands(args.results)) + "\n\n"
    text += connections_section(args.results)
    for name in KEPT_SECTIONS:
        if name in kept:
            text += f"<!-- BEGIN {name} -->\n{kept[name]}<!-- END {name} -->\n"
    text = text.rstrip("\n") + "\n"
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
