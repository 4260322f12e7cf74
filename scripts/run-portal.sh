#!/bin/sh
# The portal's web process and its worker (mail, notices, DRP callbacks, the daily digest, due-date
# closing, retention) side by side: `make run` ends with this. Ctrl-C (or SIGTERM) stops both; if
# either ends on its own, the other is stopped too.
# Usage: scripts/run-portal.sh BIN PORT   (BIN: the virtualenv's bin folder)
set -u
bin="$1"; port="$2"
"$bin/flask" --app portal worker &
worker=$!
"$bin/flask" --app portal run --host 127.0.0.1 --port "$port" &
web=$!
stop() {
    trap - INT TERM EXIT
    kill -TERM "$web" "$worker" 2>/dev/null
    wait "$web" 2>/dev/null
    wait "$worker" 2>/dev/null
    exit 0
}
trap stop INT TERM EXIT
# Whichever ends first (a crash, or a signal to one of them), the other follows.
while kill -0 "$web" 2>/dev/null && kill -0 "$worker" 2>/dev/null; do
    sleep 1
done
stop
