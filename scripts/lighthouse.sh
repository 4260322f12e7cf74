#!/usr/bin/env bash
# Lighthouse (npm `lighthouse`, pinned in package.json, on Debian's Chromium) over the public pages in
# English and Spanish: prints the four category scores per page. Not part of the test suite.
#
#   scripts/lighthouse.sh                 # starts a throwaway portal (gunicorn, SQLite) on loopback
#   scripts/lighthouse.sh https://host    # or measures a running portal
#
# Needs `make setup checkers` first (the .venv and node_modules). Reports go to lighthouse-reports/.
set -euo pipefail
cd "$(dirname "$0")/.."
lighthouse=node_modules/.bin/lighthouse
[ -x "$lighthouse" ] || { echo "lighthouse is not installed: run 'make checkers' (npm ci --ignore-scripts)" >&2; exit 1; }
export CHROME_PATH=${PORTAL_CHROMIUM:-$(command -v chromium || echo /usr/bin/chromium)}
[ -x "$CHROME_PATH" ] || { echo "Chromium not found at $CHROME_PATH (apt-get install chromium)" >&2; exit 1; }
pages=(/ /requests/new "/requests/new?type=opt_out" /status /agent/requests/new /inquiries/new /privacy /preferences)
reports=lighthouse-reports
mkdir -p "$reports"

base=${1:-}
if [ -z "$base" ]; then
  port=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  instance=$(mktemp -d)
  export PORTAL_INSTANCE_PATH=$instance PORTAL_BASE_URL=http://127.0.0.1:$port
  .venv/bin/flask --app portal db upgrade >/dev/null
  .venv/bin/gunicorn -w 2 -b "127.0.0.1:$port" wsgi:app >"$instance/server.log" 2>&1 &
  server=$!
  trap 'kill "$server" 2>/dev/null; wait "$server" 2>/dev/null; rm -rf "$instance"' EXIT
  for _ in $(seq 50); do
    .venv/bin/python -c "import urllib.request; urllib.request.urlopen('$PORTAL_BASE_URL/healthz')" 2>/dev/null && break
    sleep 0.2
  done
  base=$PORTAL_BASE_URL
fi

printf '%-34s %5s %5s %5s %5s\n' page perf a11y bp seo
for lang in en es; do
  for path in "${pages[@]}"; do
    url="$base$path$([[ $path == *\?* ]] && echo '&' || echo '?')lang=$lang"
    out="$reports/$(echo "$lang$path" | tr '/?=&' '____').json"
    "$lighthouse" "$url" --quiet --output=json --output-path="$out" \
      --only-categories=performance,accessibility,best-practices,seo \
      --chrome-flags="--headless=new --no-sandbox --disable-gpu --no-first-run" >/dev/null 2>&1 \
      || { echo "lighthouse failed on $url" >&2; continue; }
    .venv/bin/python - "$out" "$lang $path" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
scores = [report["categories"][c]["score"] for c in ("performance", "accessibility", "best-practices", "seo")]
print(f"{sys.argv[2]:<34} " + " ".join(f"{round(s * 100) if s is not None else '-':>5}" for s in scores))
for c in ("accessibility", "best-practices", "seo"):
    for ref in report["categories"][c]["auditRefs"]:
        audit = report["audits"][ref["id"]]
        if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
            print(f"    {c}: {audit['title']}")
PY
  done
done
