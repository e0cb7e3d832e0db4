#!/usr/bin/env bash
# Profiles froth with callgrind: instructions per request for GET by id, search (exact
# `remaining`), search with `exclude_remaining`, create and an invalid token, each over a fixed
# number of requests on one keep-alive connection after a warm-up, so the counts do not depend
# on the machine's load. The data set is the 10k-thing dump of bench/dataset.py. Writes
# build/bench/profile/KIND.callgrind and prints instructions per request and the top functions.
# Needs valgrind and the release build (RelWithDebInfo, so symbols are there).
#
# Usage: bench/profile.sh [--requests N] [KIND...]   KIND: get search search_exclude create invalid
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
source bench/lib.sh
froth=$root/build/froth
app=$root/examples/todo/app.json
dir=$root/build/bench/profile
requests=2000
kinds=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --requests)
        requests=$2
        shift
        ;;
    get | search | search_exclude | create | invalid) kinds+=("$1") ;;
    *)
        echo "error: unknown argument \"$1\"; usage: bench/profile.sh [--requests N] [KIND...]" >&2
        exit 2
        ;;
    esac
    shift
done
[[ ${#kinds[@]} -gt 0 ]] || kinds=(get search search_exclude create invalid)
command -v valgrind >/dev/null || { echo "error: valgrind not found; apt-get install valgrind" >&2; exit 1; }
[[ -x $froth ]] || { echo "error: $froth not found; build it with: make build" >&2; exit 1; }

froth_pid=""
trap 'stop_pid "$froth_pid"' EXIT
trap 'exit 130' INT TERM

mkdir -p "$dir"
for kind in "${kinds[@]}"; do
    rm -f "$dir/bench.db"* "$dir/$kind.callgrind"
    /usr/bin/python3 bench/dataset.py --seed 1 --things 10000 --dump - --out "$dir/data.txt" \
        --heavy-out "$dir/heavy.txt" 2>/dev/null |
        "$froth" import --app "$app" --db "sqlite:$dir/bench.db" 2>/dev/null
    port=$(free_port)
    # One worker thread and one database connection, so every request takes the same path.
    valgrind --tool=callgrind --callgrind-out-file="$dir/$kind.callgrind" \
        "$froth" serve --app "$app" --db "sqlite:$dir/bench.db" --port "$port" \
        --files-dir "$dir/files" --threads 1 --db-pool 1 --log-level warn 2>"$dir/$kind.log" &
    froth_pid=$!
    for _ in $(seq 1 300); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
        sleep 0.1
    done
    # callgrind_control finds the process by pid; -z zeroes the counts after the warm-up.
    /usr/bin/python3 bench/drive.py --port "$port" --data "$dir/data.txt" --kind "$kind" \
        --requests "$requests" --warmup 200 --before-measure "callgrind_control -z $froth_pid"
    stop_pid "$froth_pid"
    froth_pid=""
    total=$(callgrind_annotate "$dir/$kind.callgrind" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    echo "== $kind: $((total / requests)) instructions per request ($total over $requests requests)"
    callgrind_annotate "$dir/$kind.callgrind" 2>/dev/null | sed -n '/^Ir/,$p' | sed -n '3,17p'
done
