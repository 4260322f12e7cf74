#!/usr/bin/env bash
# The production topology of deploy/, brought up on loopback from Debian's packages and checked
# through nginx over HTTPS (tests/production/check.py says what it runs). Exit status 1 on any
# failure; everything it started is stopped and its folder removed (PRODUCTION_CHECK_KEEP=1 keeps
# the folder with the logs). Runs as root (CI) or as a normal user.
# usage: scripts/production-check.sh
# Ports (defaults): PRODUCTION_CHECK_PG_PORT (55435), _REDIS_PORT (6395), _SMTP_PORT (8159),
#   _HTTP_PORT (8080), _HTTPS_PORT (8443), _WEB_PORTS ("8150 8151").
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in nginx redis-server openssl; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install nginx redis-server openssl)" >&2; exit 1; }
done
[ -x .venv/bin/python ] && .venv/bin/python -c 'import httpx, aiosmtpd, redis' 2>/dev/null || make setup-test
[ -f translations/es/LC_MESSAGES/messages.mo ] || make translations

pg_port=${PRODUCTION_CHECK_PG_PORT:-55435}
work=$(mktemp -d "${TMPDIR:-/tmp}/portal-production-check.XXXXXX")
chmod 711 "$work"  # as root, PostgreSQL runs as the postgres user and must reach its folder inside
export PORTAL_TEST_PG_DIR="$work/pg"
cleanup() {
  local status=$?
  scripts/test-postgres.sh stop >/dev/null 2>&1 || true
  if [ "${PRODUCTION_CHECK_KEEP:-0}" = 1 ] || [ "$status" != 0 ]; then
    echo "[production-check] logs kept in $work/logs" >&2
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
eval "$(scripts/test-postgres.sh start "$pg_port")"
# shellcheck disable=SC2086
.venv/bin/python -m tests.production.check --workdir "$work" \
  --database-url "postgresql+psycopg://postgres@127.0.0.1:$pg_port/portal" \
  --pg-dir "$work/pg" --pg-port "$pg_port" \
  --redis-port "${PRODUCTION_CHECK_REDIS_PORT:-6395}" --smtp-port "${PRODUCTION_CHECK_SMTP_PORT:-8159}" \
  --http-port "${PRODUCTION_CHECK_HTTP_PORT:-8080}" --https-port "${PRODUCTION_CHECK_HTTPS_PORT:-8443}" \
  --web-ports ${PRODUCTION_CHECK_WEB_PORTS:-8150 8151}
