#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, reachable only through a Unix socket.
#
#   cluster.sh start STATE_DIR          create and start a cluster in a new directory under /tmp,
#                                       and write its connection parameters to
#                                       STATE_DIR/connection.env (KEY=VALUE lines)
#   cluster.sh stop STATE_DIR           stop that cluster at once and delete its directory
#   cluster.sh exec STATE_DIR CMD ARG...  run CMD with PGHOST, PGPORT, PGUSER and
#                                       FROTH_TEST_PG_URL set from STATE_DIR/connection.env
#
# As root, the server runs as the postgres user (initdb refuses root); as anyone else, it runs as
# that user. Durability is switched off (fsync, full_page_writes) because the data is thrown away.
# A cluster that cannot start is an error, never a skipped test. One STATE_DIR serves one ctest run
# at a time: start first stops the cluster recorded there, which a run that was killed may have
# left behind, so two runs in one build directory at once would stop each other's cluster.
set -euo pipefail

PORT=5432  # the socket directory is private to this cluster, so the default port cannot clash

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

usage() {
    echo "usage: cluster.sh start|stop STATE_DIR, or cluster.sh exec STATE_DIR COMMAND [ARG...]" >&2
    exit 2
}

# Prints the directory holding initdb and pg_ctl: FROTH_PG_BINDIR, else the newest
# /usr/lib/postgresql/<version>/bin (Debian's layout), else pg_config --bindir.
find_bindir() {
    if [[ -n "${FROTH_PG_BINDIR:-}" ]]; then
        echo "$FROTH_PG_BINDIR"
        return
    fi
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$dir" && -x "$dir/initdb" ]]; then
        echo "$dir"
        return
    fi
    if command -v pg_config >/dev/null && [[ -x "$(pg_config --bindir)/initdb" ]]; then
        pg_config --bindir
        return
    fi
    die "PostgreSQL server programs (initdb, pg_ctl) not found: install postgresql-15" \
        "(scripts/install-deps.sh --test does) or set FROTH_PG_BINDIR"
}

# Runs a command as the user that owns the cluster.
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# Reads KEY=VALUE lines from the connection file into variables of the same names.
load_env() {
    local file=$1/connection.env
    [[ -f "$file" ]] || die "no PostgreSQL test cluster: $file is missing (run" \
        "'cluster.sh start $1' first; ctest does it in the pg.start test)"
    local key value
    while IFS='=' read -r key value; do
        case "$key" in
            FROTH_PG_DIR | FROTH_PG_BINDIR | PGHOST | PGPORT | PGUSER | FROTH_TEST_PG_URL)
                printf -v "$key" '%s' "$value" ;;
        esac
    done <"$file"
}

stop_cluster() {
    local state=$1
    [[ -f "$state/connection.env" ]] || return 0
    load_env "$state"
    if [[ -d "$FROTH_PG_DIR/data" ]]; then
        as_owner "$FROTH_PG_BINDIR/pg_ctl" -D "$FROTH_PG_DIR/data" -m immediate -w stop \
            >/dev/null 2>&1 || echo "cluster.sh: the server in $FROTH_PG_DIR was not running" >&2
    fi
    # Only ever delete a directory this script created.
    case "$FROTH_PG_DIR" in
        /tmp/froth-pg.*) rm -rf -- "$FROTH_PG_DIR" ;;
        *) echo "cluster.sh: not deleting unexpected directory $FROTH_PG_DIR" >&2 ;;
    esac
    rm -f -- "$state/connection.env"
}

start_cluster() {
    local state=$1
    stop_cluster "$state"
    mkdir -p -- "$state"
    local bindir dir
    bindir=$(find_bindir)
    if [[ $(id -u) -eq 0 ]] && ! id postgres >/dev/null 2>&1; then
        die "there is no postgres user to run the server as (the postgresql-15 package creates it)"
    fi
    dir=$(mktemp -d /tmp/froth-pg.XXXXXX)
    if [[ $(id -u) -eq 0 ]]; then
        chown postgres: "$dir"
    fi

    if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
        cat "$dir/initdb.log" >&2
        rm -rf -- "$dir"
        die "initdb failed"
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$dir'
port = $PORT
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
dynamic_shared_memory_type = mmap
EOF
    if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
        >/dev/null; then
        cat "$dir/server.log" >&2 || true
        rm -rf -- "$dir"
        die "the PostgreSQL server did not start"
    fi

    local url="postgres://postgres@/froth_unit?host=$dir&port=$PORT"
    cat >"$state/connection.env" <<EOF
FROTH_PG_DIR=$dir
FROTH_PG_BINDIR=$bindir
PGHOST=$dir
PGPORT=$PORT
PGUSER=postgres
FROTH_TEST_PG_URL=$url
EOF
    if ! "$bindir/psql" -X -q -h "$dir" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
        -c 'CREATE DATABASE froth_unit'; then
        stop_cluster "$state"
        die "cannot create the froth_unit database"
    fi
    echo "PostgreSQL test cluster running in $dir"
}

[[ $# -ge 2 ]] || usage
command=$1
state=$2
shift 2
case "$command" in
    start) start_cluster "$state" ;;
    stop) stop_cluster "$state" ;;
    exec)
        [[ $# -ge 1 ]] || usage
        load_env "$state"
        export PGHOST PGPORT PGUSER FROTH_TEST_PG_URL
        exec "$@"
        ;;
    *) usage ;;
esac
