#!/usr/bin/env bash
# Runs froth's benchmark scenarios against the peers: Parse Server on PostgreSQL and Directus on
# SQLite, installed by bench/peers/install.sh. bench/peers/seed.py gives each peer froth's data
# model (users, and tasks that only their owner may read or write) and the data set of
# bench/dataset.py's API mode (seed 1, 50 users with 100 tasks each). Then the wrk scenarios of
# bench/peers/PEER/*.lua run with the options of bench/run.sh. Every server listens on 127.0.0.1
# only (PostgreSQL on a Unix socket alone), every wrk run is bounded by -d, and every server is
# stopped at the end. bench/run.sh --peers calls this; bench/report.py turns the results into
# the side-by-side table of docs/benchmarks.md.
#
# Usage: bench/peers/run.sh [--out DIR] [--quick] [--warmup S] [--measure S] [--login S]
#                           [parse] [directus]
#   --out DIR      results go to DIR/PEER (default build/bench/peers, emptied first)
#   --quick        1 s of warm-up and 2 s measured per run, to check the harness itself
#   parse, directus  run only the peers named (default both)
set -euo pipefail

cd "$(dirname "$0")/../.."
root=$(pwd)
source bench/lib.sh
out=$root/build/bench/peers
threads=2
connections=32
warmup_s=3
measure_s=10
login_s=5
# Node.js servers load thousands of modules at start, which takes seconds on a busy machine.
start_limit_s=60
peers=()
while [[ $# -gt 0 ]]; do
    case $1 in
    --out)
        out=${2:?--out needs a directory}
        shift
        ;;
    --quick) warmup_s=1 measure_s=2 login_s=2 ;;
    --warmup | --measure | --login)
        [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "error: $1 needs a whole number of seconds" >&2; exit 2; }
        case $1 in
        --warmup) warmup_s=$2 ;;
        --measure) measure_s=$2 ;;
        --login) login_s=$2 ;;
        esac
        shift
        ;;
    parse | directus) peers+=("$1") ;;
    *)
        echo "error: unknown option \"$1\"; see the usage at the top of bench/peers/run.sh" >&2
        exit 2
        ;;
    esac
    shift
done
[[ ${#peers[@]} -gt 0 ]] || peers=(parse directus)
wrk_base=(wrk "-t$threads" "-c$connections" --latency)
install=$root/bench/peers/install
command -v wrk >/dev/null || { echo "error: wrk not found; run bench/install-deps.sh" >&2; exit 1; }

bench/peers/install.sh "${peers[@]}"
mkdir -p "$out"
out=$(cd "$out" && pwd)

server_pid=""
db_pid=""
pg_state=""
cleanup() {
    stop_pid "$server_pid"
    if [[ -n $pg_state ]]; then
        tests/pg/cluster.sh stop "$pg_state" || true
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

random_secret() {
    /usr/bin/python3 -c 'import secrets; print(secrets.token_urlsafe(24))'
}

# Prints the summed proportional set size of a process and its direct children in kB: the
# memory of a PostgreSQL server, counting the shared buffers once rather than once a backend.
tree_pss_kb() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# run_peer PEER URL DATA_FILE: the scenarios in froth's order (those that add tasks last), then
# the memory and run parameters. The caller has started the server ($server_pid) and seeded it.
run_peer() {
    local peer=$1 url=$2 data=$3 results=$out/$1/results
    local scenario
    for scenario in get search search_exclude invalid_token patch create; do
        run_scenario "$results" "$data" "$scenario" "peers/$peer/$scenario.lua" "$url" \
            "$server_pid" "$warmup_s" "$measure_s"
    done
    # As for froth: login is hash-bound, so a short run without warm-up and a 10 s timeout.
    run_scenario "$results" "$data" login "peers/$peer/login.lua" "$url" "$server_pid" 0 \
        "$login_s" --timeout 10s
    {
        echo "last_peak_rss_kb=$(status_kb "$server_pid" VmHWM)"
        echo "threads=$threads"
        echo "connections=$connections"
        echo "warmup_s=$warmup_s"
        echo "measure_s=$measure_s"
        echo "login_s=$login_s"
        echo "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
    } >>"$results/run.env"
}

run_parse() {
    local dir=$out/parse
    rm -rf "$dir"
    mkdir -p "$dir/results"
    pg_state=$dir/pg
    tests/pg/cluster.sh start "$pg_state"
    local pg_dir
    pg_dir=$(awk -F= '$1 == "FROTH_PG_DIR" { print $2 }' "$pg_state/connection.env")
    db_pid=$(head -n 1 "$pg_dir/data/postmaster.pid")
    psql -X -q -h "$pg_dir" -p 5432 -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c 'CREATE DATABASE parse_bench'

    local port master_key
    port=$(free_port)
    master_key=$(random_secret)
    (cd "$dir" && exec env NODE_PATH="$install/parse/node_modules" PARSE_BENCH_PORT="$port" \
        PARSE_BENCH_PGHOST="$pg_dir" PARSE_BENCH_PGPORT=5432 PARSE_BENCH_DATABASE=parse_bench \
        PARSE_BENCH_MASTER_KEY="$master_key" \
        node "$root/bench/peers/parse/server.js") >"$dir/server.log" 2>&1 &
    server_pid=$!
    wait_for_port "$port" "$server_pid" "$start_limit_s"
    local url=http://127.0.0.1:$port
    local start_rss_kb
    start_rss_kb=$(status_kb "$server_pid" VmRSS)

    /usr/bin/python3 bench/peers/seed.py parse --url "$url" --out "$dir/data.txt" \
        --master-key "$master_key" --seed 1 --users 50 --tasks-per-user 100
    sleep 1
    {
        echo "version=$(node -p "require('$install/parse/node_modules/parse-server/package.json').version")"
        echo "node=$(node -v)"
        echo "postgres=$("$(awk -F= '$1 == "FROTH_PG_BINDIR" { print $2 }' "$pg_state/connection.env")/postgres" --version)"
        echo "start_rss_kb=$start_rss_kb"
        echo "idle_rss_kb=$(status_kb "$server_pid" VmRSS)"
        echo "db_idle_pss_kb=$(tree_pss_kb "$db_pid")"
    } >"$dir/results/run.env"

    run_peer parse "$url" "$dir/data.txt"
    echo "db_pss_kb=$(tree_pss_kb "$db_pid")" >>"$dir/results/run.env"

    stop_pid "$server_pid"
    server_pid=""
    db_pid=""
    tests/pg/cluster.sh stop "$pg_state"
    pg_state=""
}

run_directus() {
    local dir=$out/directus
    rm -rf "$dir"
    mkdir -p "$dir/results" "$dir/uploads" "$dir/extensions"
    local port admin_password
    port=$(free_port)
    admin_password=$(random_secret)
    # Directus reads its configuration from the environment. TELEMETRY=false keeps it from
    # reporting to its vendor; the directus command would also ask the npm registry for a newer
    # version, so the API's own CLI entry point is started instead.
    local -a config=(
        DB_CLIENT=sqlite3 DB_FILENAME="$dir/directus.db"
        KEY="$(random_secret)" SECRET="$(random_secret)"
        HOST=127.0.0.1 PORT="$port" PUBLIC_URL="http://127.0.0.1:$port"
        TELEMETRY=false SERVE_APP=false LOG_LEVEL=warn
        CACHE_ENABLED=false RATE_LIMITER_ENABLED=false
        ACCESS_TOKEN_TTL=24h
        STORAGE_LOCAL_ROOT="$dir/uploads" EXTENSIONS_PATH="$dir/extensions"
        ADMIN_EMAIL=admin@example.com ADMIN_PASSWORD="$admin_password"
    )
    local cli=$install/directus/node_modules/@directus/api/dist/cli/run.js
    # Directus looks for extensions in the package.json of its working directory.
    (cd "$install/directus" && env "${config[@]}" timeout 300 node "$cli" bootstrap) \
        >"$dir/bootstrap.log" 2>&1 ||
        { cat "$dir/bootstrap.log" >&2; echo "error: directus bootstrap failed" >&2; return 1; }
    # froth runs SQLite in WAL mode; Directus leaves the rollback journal, and WAL, once set,
    # stays in the database file.
    /usr/bin/python3 -c 'import sqlite3, sys; sqlite3.connect(sys.argv[1]).execute("PRAGMA journal_mode=WAL")' \
        "$dir/directus.db"

    (cd "$install/directus" && exec env "${config[@]}" node "$cli" start) >"$dir/server.log" 2>&1 &
    server_pid=$!
    wait_for_port "$port" "$server_pid" "$start_limit_s"
    local url=http://127.0.0.1:$port
    local start_rss_kb
    start_rss_kb=$(status_kb "$server_pid" VmRSS)

    /usr/bin/python3 bench/peers/seed.py directus --url "$url" --out "$dir/data.txt" \
        --admin-email admin@example.com --admin-password "$admin_password" \
        --seed 1 --users 50 --tasks-per-user 100
    sleep 1
    {
        echo "version=$(node -p "require('$install/directus/node_modules/directus/package.json').version")"
        echo "node=$(node -v)"
        echo "start_rss_kb=$start_rss_kb"
        echo "idle_rss_kb=$(status_kb "$server_pid" VmRSS)"
    } >"$dir/results/run.env"

    run_peer directus "$url" "$dir/data.txt"

    stop_pid "$server_pid"
    server_pid=""
}

for peer in "${peers[@]}"; do
    echo "=== peer: $peer"
    "run_$peer"
done
echo "peer results in $out"
