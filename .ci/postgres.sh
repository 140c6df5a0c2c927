#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster on a free loopback port, owned by
# the postgres user, and prints the URL to connect with. `stop` stops it;
# `start` on a DIR that already holds a cluster starts it again on its port
# (tests use that to take PostgreSQL away and bring it back).
#
#   url=$(.ci/postgres.sh start DIR)    .ci/postgres.sh stop DIR
set -euo pipefail
action=$1
dir=$2
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "no PostgreSQL server binaries under /usr/lib/postgresql" >&2; exit 1; }
as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi; }
case $action in
start)
    mkdir -p "$dir"
    chown postgres "$dir" 2>/dev/null || true
    if [ -f "$dir/data/PG_VERSION" ] && [ -f "$dir/port" ]; then
        port=$(cat "$dir/port")
    else
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
        as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres > "$dir/initdb.log" 2>&1
        echo "$port" > "$dir/port"
    fi
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start > /dev/null
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast stop > /dev/null 2>&1 || true
    ;;
esac
