#!/usr/bin/env bash
# Runs the benchmark: the nginx ceiling, then froth on SQLite with the seeded data set, one wrk
# run per scenario, and the memory of 1,000 open keep-alive connections. --peers adds the same
# scenarios on Parse Server and Directus (bench/peers/run.sh), and --scale the scaling runs of
# bench/scale.sh. Then it writes docs/benchmarks.md. Every server listens on
# 127.0.0.1 only and every wrk run is bounded by -d. Raw wrk output and samples stay in
# build/bench/. Needs wrk, nginx and python3 (bench/install-deps.sh) and the release build
# (make bench does both).
#
# Usage: bench/run.sh [--scale] [--scale-sizes "10000 100000 1000000"] [--peers] [--quick]
#   --scale        also measure search and GET at each size of --scale-sizes (takes minutes)
#   --peers        also run the peers, installing them from the npm registry when missing
#   --quick        1 s of warm-up and 2 s measured per run, to check the harness itself
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
login_s=5
hold_connections=1000
scale=0
peers=0
scale_sizes="10000 100000 1000000"
while [[ $# -gt 0 ]]; do
    case $1 in
    --scale) scale=1 ;;
    --peers) peers=1 ;;
    --scale-sizes)
        scale_sizes=${2:?--scale-sizes needs a list of sizes}
        shift
        ;;
    --quick) warmup_s=1 measure_s=2 login_s=2 ;;
    *)
        echo "error: unknown option \"$1\"; see the usage at the top of bench/run.sh" >&2
        exit 2
        ;;
    esac
    shift
done
wrk_base=(wrk "-t$threads" "-c$connections" --latency)

[[ -x $froth ]] || { echo "error: $froth not found; build it with: make build" >&2; exit 1; }
command -v wrk >/dev/null || { echo "error: wrk not found; run bench/install-deps.sh" >&2; exit 1; }
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
[[ -x $nginx_bin ]] || { echo "error: nginx not found; run bench/install-deps.sh" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/results"
# Other processes on the machine skew every figure; the report prints this load average.
start_loadavg=$(cut -d' ' -f1 /proc/loadavg)
froth_pid=""
nginx_pid=""

# scenario NAME SCRIPT URL PID WARMUP_S MEASURE_S [WRK_OPTION...]
scenario() {
    run_scenario "$out/results" "$out/data.txt" "$@"
}

cleanup() {
    stop_pid "$nginx_pid"
    stop_pid "$froth_pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The nginx ceiling: a fixed JSON body for every path, one worker per core, no access log.
nginx_port=$(free_port)
mkdir -p "$out/nginx/logs"
cat >"$out/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $out/nginx/nginx.pid;
error_log $out/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $out/nginx/body;
    proxy_temp_path $out/nginx/proxy;
    fastcgi_temp_path $out/nginx/fastcgi;
    uwsgi_temp_path $out/nginx/uwsgi;
    scgi_temp_path $out/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        default_type application/json;
        location / {
            return 200 '{"status":"success","response":{"id":"1796422980083x470878011790065996","done":true}}';
        }
    }
}
EOF

# The data file only supplies the Authorization header and path to get.lua here; nginx ignores them.
/usr/bin/python3 - "$out/data.txt" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(50):
        f.write(f"user {'t' * 43} 1796422980083x{i:015d} u{i}@example.com pw\n")
EOF
"$nginx_bin" -p "$out/nginx" -e "$out/nginx/logs/error.log" -c "$out/nginx/nginx.conf" &
nginx_pid=$!
wait_for_port "$nginx_port" "$nginx_pid"
scenario nginx get.lua "http://127.0.0.1:$nginx_port" "$nginx_pid" "$warmup_s" "$measure_s"
stop_pid "$nginx_pid"
nginx_pid=""

# froth on a fresh SQLite database, seeded through its API.
froth_port=$(free_port)
db="sqlite:$out/bench.db"
"$froth" serve --app "$app" --db "$db" --port "$froth_port" --files-dir "$out/files" \
    --login-limit 0 --signup-limit 0 --log-level warn 2>"$out/froth.log" &
froth_pid=$!
wait_for_port "$froth_port" "$froth_pid"
url="http://127.0.0.1:$froth_port"
start_rss_kb=$(status_kb "$froth_pid" VmRSS)

/usr/bin/python3 bench/dataset.py --url "$url" --out "$out/data.txt" --froth "$froth" --db "$db" \
    --seed 1 --users 50 --tasks-per-user 100
sleep 1
idle_rss_kb=$(status_kb "$froth_pid" VmRSS)

# Scenarios that add tasks run last so that every search finds the same 100 tasks per user.
scenario get get.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
scenario search search.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
scenario search_exclude search_exclude_remaining.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
scenario invalid_token invalid_token.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
scenario patch patch.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
scenario create create.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
scenario workflow workflow.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
# Login is bound by argon2id, so a short run without warm-up is enough for its p99. wrk's
# default 2 s timeout would drop the slowest logins from the latency figures.
scenario login login.lua "$url" "$froth_pid" 0 "$login_s" --timeout 10s
peak_rss_kb=$(status_kb "$froth_pid" VmHWM)

stop_pid "$froth_pid"
froth_pid=""

# Memory with 1,000 keep-alive connections open, each having had one GET answered, measured on a
# fresh froth serving the seeded database: run in the process above, the connections' freed
# memory would stay mapped and inflate every later figure. froth closes idle connections after
# 30 s (--timeout), so they are held for 5 s.
froth_port=$(free_port)
"$froth" serve --app "$app" --db "$db" --port "$froth_port" --files-dir "$out/files" \
    --login-limit 0 --signup-limit 0 --log-level warn 2>>"$out/froth.log" &
froth_pid=$!
wait_for_port "$froth_port" "$froth_pid"
echo "== $hold_connections keep-alive connections"
/usr/bin/python3 bench/hold_connections.py --port "$froth_port" --pid "$froth_pid" \
    --data "$out/data.txt" --connections "$hold_connections" --hold 5 |
    tee "$out/results/connections.env"
echo "fd_soft_limit=$(awk '$1 == "Max" && $3 == "files" { print $4 }' "/proc/$froth_pid/limits")" \
    >>"$out/results/connections.env"

stop_pid "$froth_pid"
froth_pid=""

{
    echo "start_loadavg=$start_loadavg"
    echo "start_rss_kb=$start_rss_kb"
    echo "idle_rss_kb=$idle_rss_kb"
    echo "last_peak_rss_kb=$peak_rss_kb"
    echo "threads=$threads"
    echo "connections=$connections"
    echo "warmup_s=$warmup_s"
    echo "measure_s=$measure_s"
    echo "login_s=$login_s"
} >"$out/results/run.env"

# A failed peer does not discard froth's figures: the page then shows the peers that ran.
if [[ $peers -eq 1 ]] && ! bench/peers/run.sh --out "$out/peers" --warmup "$warmup_s" \
    --measure "$measure_s" --login "$login_s"; then
    echo "warning: the peers' run failed (output above); their table shows what ran" >&2
fi

if [[ $scale -eq 1 ]]; then
    # shellcheck disable=SC2086 # the sizes are separate arguments
    bench/scale.sh --warmup "$warmup_s" --measure "$measure_s" $scale_sizes
fi

/usr/bin/python3 bench/report.py --results "$out/results" --scale "$out/scale" \
    --peers "$out/peers" --out docs/benchmarks.md
echo "wrote docs/benchmarks.md; raw wrk output in build/bench/results"
