#!/usr/bin/env bash
# The README's screenshots (home, request form, status page, preference center in English and
# Spanish; the console queue), taken by the browser test tests/browser/test_screenshots.py on
# Debian's Chromium and written to docs/screenshots/. Needs `make setup-test translations` first.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p docs/screenshots
PORTAL_SCREENSHOTS_DIR="$PWD/docs/screenshots" .venv/bin/python -m pytest -q -p no:cacheprovider \
  tests/browser/test_screenshots.py "$@"
ls -1 docs/screenshots
