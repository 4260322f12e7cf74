#!/usr/bin/env bash
# Start a throwaway MariaDB server on loopback for the connector tests (a business database on
# MySQL/MariaDB) and print its URL. The portal's own database stays SQLite or PostgreSQL.
# usage: eval "$(scripts/test-mariadb.sh start [PORT])"   # exports PORTAL_TEST_MARIADB_URL
#        scripts/test-mariadb.sh stop
set -euo pipefail
port=${2:-${PORTAL_TEST_MARIADB_PORT:-55433}}
dir=${PORTAL_TEST_MARIADB_DIR:-/tmp/portal-test-mariadb}
server=$(command -v mariadbd || ls /usr/sbin/mariadbd 2>/dev/null || true)
install_db=$(command -v mariadb-install-db || true)
client=$(command -v mariadb || command -v mysql || true)
[ -n "$server" ] && [ -n "$install_db" ] && [ -n "$client" ] || {
  echo "MariaDB is not installed (apt-get install -y mariadb-server)" >&2; exit 1; }
socket="$dir/mariadb.sock"
# mariadbd refuses to run as root: as root it runs as the mysql user the Debian package creates.
user=$(id -un)
[ "$(id -u)" = 0 ] && user=mysql
as_db() { if [ "$(id -u)" = 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi; }
sql() { "$client" --no-defaults --protocol=socket --socket="$socket" -uroot "$@"; }
case "${1:-start}" in
  start)
    if [ ! -d "$dir/data/mysql" ]; then
      mkdir -p "$dir/data"; [ "$(id -u)" = 0 ] && chown -R "$user": "$dir"
      as_db "$install_db" --no-defaults --datadir="$dir/data" --user="$user" --auth-root-authentication-method=normal \
        --skip-test-db >"$dir/install.log" 2>&1 || { cat "$dir/install.log" >&2; exit 1; }
    fi
    if ! sql -e "SELECT 1" >/dev/null 2>&1; then
      as_db "$server" --no-defaults --datadir="$dir/data" --socket="$socket" --pid-file="$dir/mariadb.pid" \
        --port="$port" --bind-address=127.0.0.1 --user="$user" --skip-name-resolve --innodb-flush-log-at-trx-commit=0 \
        --innodb-buffer-pool-size=256M --max-connections=300 --log-error="$dir/server.log" >/dev/null 2>&1 &
      for _ in $(seq 1 60); do
        sql -e "SELECT 1" >/dev/null 2>&1 && break
        sleep 0.5
      done
      sql -e "SELECT 1" >/dev/null 2>&1 || { echo "MariaDB did not start; see $dir/server.log" >&2; exit 1; }
    fi
    # A user on loopback with every right on the test databases (each test makes its own).
    sql -e "CREATE USER IF NOT EXISTS 'portal'@'127.0.0.1' IDENTIFIED BY 'portal';
            GRANT ALL PRIVILEGES ON *.* TO 'portal'@'127.0.0.1';
            CREATE DATABASE IF NOT EXISTS portal_test CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
    echo "export PORTAL_TEST_MARIADB_URL=mysql+pymysql://portal:portal@127.0.0.1:$port/portal_test?charset=utf8mb4"
    ;;
  stop)
    if [ -f "$dir/mariadb.pid" ]; then
      pid=$(cat "$dir/mariadb.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    ;;
  *) echo "usage: $0 start|stop [PORT]" >&2; exit 2 ;;
esac
