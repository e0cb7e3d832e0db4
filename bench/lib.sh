# Shell functions shared by bench/run.sh and bench/scale.sh; source it, do not run it.
# The caller sets out (the output directory), wrk_base (the wrk command and its fixed options)
# and threads and connections (for the recorded command line).

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

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT PID [LIMIT_S]: waits up to LIMIT_S seconds (default 10) for a listener.
wait_for_port() {
    local port=$1 pid=$2 limit_s=${3:-10}
    for _ in $(seq 1 $((limit_s * 10))); do
        kill -0 "$pid" 2>/dev/null || { echo "error: server exited during start-up" >&2; return 1; }
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "error: nothing listens on 127.0.0.1:$port after $limit_s s" >&2
    return 1
}

# Prints utime + stime of a process in clock ticks.
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    awk '{ print $12 + $13 }' <<<"$stat"
}

# Prints utime + stime of a process and of its direct children in clock ticks, such as a
# PostgreSQL server and its backends. A child that exits between two readings takes its ticks
# with it, so a difference of two readings can only understate.
tree_cpu_ticks() {
    local total=0 child
    total=$(cpu_ticks "$1")
    for child in $(pgrep -P "$1" || true); do
        total=$((total + $(cpu_ticks "$child" 2>/dev/null || echo 0)))
    done
    echo "$total"
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

# run_scenario RESULTS_DIR DATA_FILE NAME SCRIPT URL PID WARMUP_S MEASURE_S [WRK_OPTION...]
# Writes RESULTS_DIR/NAME.txt (wrk's output) and RESULTS_DIR/NAME.stats (server samples). When
# the caller sets db_pid to a database server's process id, the stats also record the CPU time
# of that server and its children during the measured run.
run_scenario() {
    local results=$1 data=$2 name=$3 script=$4 url=$5 pid=$6 warm=$7 measure=$8
    shift 8
    local args=("$@" -s "bench/$script" "$url" -- "$data")
    echo "== $name: warm-up ${warm}s, measure ${measure}s"
    if [[ $warm -gt 0 ]]; then
        "${wrk_base[@]}" "-d${warm}s" "${args[@]}" >"$results/$name.warmup.txt"
    fi
    reset_peak "$pid"
    local before after db_before=0 db_after=0
    before=$(cpu_ticks "$pid")
    [[ -n ${db_pid:-} ]] && db_before=$(tree_cpu_ticks "$db_pid")
    "${wrk_base[@]}" "-d${measure}s" "${args[@]}" | tee "$results/$name.txt" |
        grep -E 'Requests/sec|Non-2xx|Socket errors' || true
    after=$(cpu_ticks "$pid")
    [[ -n ${db_pid:-} ]] && db_after=$(tree_cpu_ticks "$db_pid")
    {
        [[ -n ${db_pid:-} ]] && echo "db_cpu_ticks=$((db_after - db_before))"
        echo "peak_kb=$(status_kb "$pid" VmHWM)"
        echo "cpu_ticks=$((after - before))"
        echo "clk_tck=$(getconf CLK_TCK)"
        echo "command=wrk -t$threads -c$connections -d${measure}s --latency ${args[*]//$PWD\//}"
        echo "loadavg=$(cut -d' ' -f1 /proc/loadavg)"
    } >"$results/$name.stats"
}
