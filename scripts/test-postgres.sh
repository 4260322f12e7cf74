#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on loopback for the test suite and print its URL.
# usage: eval "$(scripts/test-postgres.sh start [PORT])"   # exports PORTAL_TEST_DATABASE_URL
#        scripts/test-postgres.sh stop
set -euo pipefail
port=${2:-${PORTAL_TEST_PG_PORT:-55432}}
dir=${PORTAL_TEST_PG_DIR:-/tmp/portal-test-pg}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || { echo "PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 1; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-start}" in
  start)
    if [ ! -f "$dir/PG_VERSION" ]; then
      mkdir -p "$dir"; [ "$(id -u)" = 0 ] && chown postgres: "$dir"
      as_pg "$bin/initdb" -D "$dir" --auth=trust --username=postgres -E UTF8 >/dev/null
    fi
    if ! as_pg "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
      as_pg "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null
    fi
    echo "export PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
    ;;
  stop) as_pg "$bin/pg_ctl" -D "$dir" -m fast stop >/dev/null ;;
  *) echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
