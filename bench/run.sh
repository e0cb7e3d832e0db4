#!/usr/bin/env bash
# Runs the benchmark: the nginx ceiling, then froth on SQLite with the seeded data set, one wrk
# run per scenario, and writes docs/benchmarks.md. Every server listens on 127.0.0.1 only and
# every wrk run is bounded by -d. Raw wrk output and samples stay in build/bench/.
# Needs wrk, nginx and python3 (bench/install-deps.sh) and the release build (make bench does both).
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)
froth=$root/build/froth
app=$root/examples/todo/app.json
out=$root/build/bench
threads=2
connections=32
warmup_s=3
measure_s=10
login_s=5
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

stop_pid() {
    local pid=$1
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "warning: process $pid did not stop within 12 s of SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    stop_pid "$nginx_pid"
    stop_pid "$froth_pid"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() {
    local port=$1 pid=$2
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || { echo "error: server exited during start-up" >&2; return 1; }
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: nothing listens on 127.0.0.1:$port after 10 s" >&2
    return 1
}

# Prints utime + stime of a process in clock ticks.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# Prints one /proc/PID/status value in kB, such as VmRSS or VmHWM.
status_kb() {
    awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/status"
}

# Writing 5 to clear_refs resets VmHWM to the current RSS (Linux 4.0 and later), so the peak
# read after a run belongs to that run alone.
reset_peak() {
    echo 5 >"/proc/$1/clear_refs" 2>/dev/null || echo "warning: cannot reset VmHWM of $1" >&2
}

# run_scenario NAME SCRIPT URL PID WARMUP_S MEASURE_S [WRK_OPTION...]
run_scenario() {
    local name=$1 script=$2 url=$3 pid=$4 warm=$5 measure=$6
    shift 6
    local args=("$@" -s "bench/$script" "$url" -- "$out/data.txt")
    echo "== $name: warm-up ${warm}s, measure ${measure}s"
    if [[ $warm -gt 0 ]]; then
        "${wrk_base[@]}" "-d${warm}s" "${args[@]}" >"$out/results/$name.warmup.txt"
    fi
    reset_peak "$pid"
    local before after
    before=$(cpu_ticks "$pid")
    "${wrk_base[@]}" "-d${measure}s" "${args[@]}" | tee "$out/results/$name.txt" |
        grep -E 'Requests/sec|Non-2xx|Socket errors' || true
    after=$(cpu_ticks "$pid")
    {
        echo "peak_kb=$(status_kb "$pid" VmHWM)"
        echo "cpu_ticks=$((after - before))"
        echo "clk_tck=$(getconf CLK_TCK)"
        echo "command=wrk -t$threads -c$connections -d${measure}s --latency ${args[*]//$out/build/bench}"
        echo "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
    } >"$out/results/$name.stats"
}

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
run_scenario nginx get.lua "http://127.0.0.1:$nginx_port" "$nginx_pid" "$warmup_s" "$measure_s"
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
run_scenario get get.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
run_scenario search search.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
run_scenario search_exclude search_exclude_remaining.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
run_scenario invalid_token invalid_token.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
run_scenario patch patch.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
run_scenario create create.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
run_scenario workflow workflow.lua "$url" "$froth_pid" "$warmup_s" "$measure_s"
# Login is bound by argon2id, so a short run without warm-up is enough for its p99. wrk's
# default 2 s timeout would drop the slowest logins from the latency figures.
run_scenario login login.lua "$url" "$froth_pid" 0 "$login_s" --timeout 10s
peak_rss_kb=$(status_kb "$froth_pid" VmHWM)

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

/usr/bin/python3 bench/report.py --results "$out/results" --out docs/benchmarks.md
echo "wrote docs/benchmarks.md; raw wrk output in build/bench/results"
