#!/usr/bin/env bash
# Make sure Debian's Chromium is there for the browser tests. Installs it when we are root with apt;
# in CI (CI=true) a missing browser is a failure, elsewhere the browser tests are skipped with a notice.
set -u
chromium=${PORTAL_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}
if [ -x "$chromium" ]; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "Installing Chromium from Debian's packages for the browser tests..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || true
  [ -x /usr/bin/chromium ] && exit 0
fi
if [ -n "${CI:-}" ]; then
  echo "Chromium is missing and could not be installed: browser tests cannot run in CI." >&2
  exit 1
fi
echo "NOTE: Chromium is not installed (sudo apt-get install chromium); the browser tests will be skipped." >&2
