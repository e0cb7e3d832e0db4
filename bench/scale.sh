#!/usr/bin/env bash
# Scaling runs: for each size, a fresh SQLite database with that many things (made by
# bench/dataset.py as a dump and loaded with froth import), then GET by id and the searches of
# run.sh, for regular users (100 tasks each) and for the heavy user (a tenth of all tasks).
# Records SQLite's query plan of each request from froth's debug log. Results go to
# build/bench/scale/SIZE/; bench/report.py turns them into the scaling table.
# Usually run by bench/run.sh --scale, which sources the same lib.sh; needs the release build.
#
# Usage: bench/scale.sh [--warmup S] [--measure S] SIZE...
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
source bench/lib.sh
froth=$root/build/froth
app=$root/examples/todo/app.json
out=$root/build/bench
threads=2
connections=32
warmup_s=3
measure_s=10
sizes=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --warmup)
        warmup_s=$2
        shift
        ;;
    --measure)
        measure_s=$2
        shift
        ;;
    [0-9]*) sizes+=("$1") ;;
    *)
        echo "error: unknown argument \"$1\"; usage: bench/scale.sh [--warmup S] [--measure S] SIZE..." >&2
        exit 2
        ;;
    esac
    shift
done
[[ ${#sizes[@]} -gt 0 ]] || { echo "error: give at least one size, such as 10000" >&2; exit 2; }
[[ -x $froth ]] || { echo "error: $froth not found; build it with: make build" >&2; exit 1; }
wrk_base=(wrk "-t$threads" "-c$connections" --latency)

froth_pid=""
trap 'stop_pid "$froth_pid"' EXIT
trap 'exit 130' INT TERM

# start_froth DB LOG_LEVEL LOG_FILE: starts froth serve in the background, sets froth_pid and url.
start_froth() {
    local port
    port=$(free_port)
    "$froth" serve --app "$app" --db "$1" --port "$port" --files-dir "$dir/files" \
        --log-level "$2" 2>"$3" &
    froth_pid=$!
    wait_for_port "$port" "$froth_pid"
    url="http://127.0.0.1:$port"
}

# Sends one request of each measured kind, for the query plans in the debug log.
one_of_each() {
    /usr/bin/python3 - "$url" "$dir/data.txt" "$dir/heavy.txt" <<'PYEOF'
import sys, urllib.request
url, data, heavy = sys.argv[1:]
def first_user(path):
    for line in open(path):
        f = line.split()
        if f[0] == "user":
            return f[1], f[2]
for path in (data, heavy):
    token, task = first_user(path)
    for route in (f"/api/1.1/obj/task/{task}", "/api/1.1/obj/task?limit=20",
                  "/api/1.1/obj/task?limit=20&exclude_remaining=true"):
        req = urllib.request.Request(url + route, headers={"Authorization": "Bearer " + token})
        urllib.request.urlopen(req, timeout=60).read()
PYEOF
}

for size in "${sizes[@]}"; do
    dir=$out/scale/$size
    rm -rf "$dir"
    mkdir -p "$dir/results"
    db="sqlite:$dir/bench.db"

    echo "== $size things: writing the dump and importing it"
    start_s=$(date +%s.%N)
    /usr/bin/python3 bench/dataset.py --seed 1 --things "$size" --dump - --out "$dir/data.txt" \
        --heavy-out "$dir/heavy.txt" 2>"$dir/dataset.log" | "$froth" import --app "$app" --db "$db" 2>"$dir/import.log"
    end_s=$(date +%s.%N)

    start_froth "$db" debug "$dir/plans.log"
    one_of_each
    stop_pid "$froth_pid"
    froth_pid=""

    start_froth "$db" warn "$dir/froth.log"
    run_scenario "$dir/results" "$dir/data.txt" get get.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
    run_scenario "$dir/results" "$dir/data.txt" search search.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
    run_scenario "$dir/results" "$dir/data.txt" search_exclude search_exclude_remaining.lua \
        "$url" "$froth_pid" "$warmup_s" "$measure_s"
    # The heavy user's searches take seconds at 1M things under 32 connections; wrk's default
    # 2 s timeout would drop the slowest from the latency figures.
    run_scenario "$dir/results" "$dir/heavy.txt" heavy_search search.lua "$url" "$froth_pid" \
        "$warmup_s" "$measure_s" --timeout 10s
    run_scenario "$dir/results" "$dir/heavy.txt" heavy_search_exclude search_exclude_remaining.lua \
        "$url" "$froth_pid" "$warmup_s" "$measure_s" --timeout 10s
    stop_pid "$froth_pid"
    froth_pid=""

    {
        echo "things=$size"
        echo "import_s=$(awk -v a="$start_s" -v b="$end_s" 'BEGIN { printf "%.1f", b - a }')"
        echo "db_bytes=$(stat -c %s "$dir/bench.db")"
        grep -E '^  (User|Task): ' "$dir/import.log" | sed -E 's/^  (User|Task): /\L\1s=/'
        echo "heavy_tasks=$(sed -nE 's/.*the heavy one with ([0-9]+) tasks.*/\1/p' "$dir/dataset.log")"
    } >"$dir/results/scale.env"
done
