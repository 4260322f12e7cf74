#!/usr/bin/env bash
# Make sure the HTML checker the suite runs is there: Java (Debian's default-jre-headless) and the
# npm packages pinned in package.json/package-lock.json (vnu-jar; lighthouse for scripts/lighthouse.sh).
# Installs them when it can (root with apt; npm on the PATH). In CI (CI=true) a missing piece is a
# failure; elsewhere the HTML validity test is skipped with a notice.
set -u
cd "$(dirname "$0")/.."
fail() {
  if [ -n "${CI:-}" ]; then echo "$1" >&2; exit 1; fi
  echo "NOTE: $1; the HTML validity test will be skipped." >&2; exit 0
}
if ! command -v java >/dev/null || ! command -v npm >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Java (and Node.js if missing) from Debian's packages for the HTML checker..."
    packages="default-jre-headless"
    command -v npm >/dev/null || packages="$packages nodejs npm"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null) || true
  fi
fi
command -v java >/dev/null || fail "Java is missing (apt-get install default-jre-headless)"
command -v npm >/dev/null || fail "npm is missing (apt-get install nodejs npm)"
if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  # --ignore-scripts: no install script may download anything (lighthouse's do not need to run).
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error || fail "npm ci failed"
  touch node_modules/.installed
fi
[ -f node_modules/vnu-jar/build/dist/vnu.jar ] || fail "node_modules/vnu-jar/build/dist/vnu.jar is missing"
