# The two commands: `make run` (set up and run the portal) and `make test` (set up and run every test).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test test-fast lint setup setup-test worker browser checkers messages translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[test]'
	touch $@

setup: $(VENV)/.installed
setup-test: $(VENV)/.installed-test

## Set up, migrate and run the portal on its embedded defaults (SQLite and mail outbox in instance/),
## its worker beside it (staff mail, the digest, due-date closing, retention): Ctrl-C stops both.
## The first run also installs the Billgenix example (docs/datamap.md): its systems in
## instance/example/, their people in the identity index, and its data map in instance/datamap/.
run: setup translations
	$(BIN)/flask --app portal db upgrade
	@instance="$${PORTAL_INSTANCE_PATH:-instance}"; \
	if [ -e "$$instance/example" ]; then $(BIN)/python examples/billgenix/generate.py --instance "$$instance"; \
	else $(BIN)/python examples/billgenix/generate.py --instance "$$instance" && \
		$(BIN)/flask --app portal subjects import "$$instance/example/subjects.csv"; fi
	scripts/run-portal.sh $(BIN) $(PORT)

## Mail delivery and scheduled jobs as a separate process (production).
worker: setup
	$(BIN)/flask --app portal worker

## Chromium for the browser tests, from Debian's packages when we can install it.
browser:
	@scripts/ensure-chromium.sh

## Java and the npm packages (vnu-jar, lighthouse) pinned in package-lock.json, for the HTML checker.
checkers:
	@scripts/ensure-checkers.sh

## Every test on SQLite; then, when PORTAL_TEST_DATABASE_URL names a PostgreSQL server, again on it.
## PORTAL_TEST_MARIADB_URL (scripts/test-mariadb.sh) goes through to both runs: the connectors' tests
## against a MariaDB business database (they skip without it, and fail without it in CI).
test: setup-test translations browser checkers lint
	@[ -n "$$PORTAL_TEST_MARIADB_URL" ] || echo "PORTAL_TEST_MARIADB_URL is not set: the MariaDB connector tests skip (eval \"\$$(scripts/test-mariadb.sh start)\")"
	env -u PORTAL_TEST_DATABASE_URL PORTAL_TEST_MARIADB_URL="$$PORTAL_TEST_MARIADB_URL" $(BIN)/python -m pytest -n 2 -p no:cacheprovider
	@if [ -n "$$PORTAL_TEST_DATABASE_URL" ]; then \
		echo "== the same suite on PostgreSQL ($$PORTAL_TEST_DATABASE_URL), browser tests aside =="; \
		$(BIN)/python -m pytest -n 2 -p no:cacheprovider -m "not browser" tests; \
	fi

## The inner loop: every test but the browser ones and the Java/npm HTML checker, on SQLite.
test-fast: setup-test translations
	env -u PORTAL_TEST_DATABASE_URL $(BIN)/python -m pytest -n 2 -p no:cacheprovider -m "not browser and not checkers"

## ruff (configured in pyproject.toml).
lint: setup-test
	$(BIN)/ruff check .

## Extract the translatable strings (Flask-Babel) into translations/messages.pot and merge them into
## each language's messages.po (then translate the new or changed entries, and run `make test`).
messages: setup-test
	$(BIN)/pybabel extract -F babel.cfg -k _l --ignore-dirs ".* _* node_modules docs" --no-wrap --sort-by-file -o translations/messages.pot .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-wrap --ignore-obsolete

## Compile the catalogs (translations/*/LC_MESSAGES/messages.mo, not kept in git).
translations: setup
	$(BIN)/pybabel compile -d translations --statistics
