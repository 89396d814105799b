# The shop's two commands: `make run` serves it, `make test` tests it. Both set up .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1:8000

.PHONY: run test lint format bench audit chaos deploy-test messages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Stamp files: pip runs again only when a requirements file changes.
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

## run: migrate, load the demo catalog and serve the shop at http://$(HOST)
run: $(VENV)/.runtime-installed
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py runserver $(HOST)

## test: the whole suite, browser tests included (skipped where Chromium is missing), in one
## worker per core (TEST_WORKERS=0 runs it in this process)
TEST_WORKERS ?= auto
test: $(VENV)/.dev-installed
	$(BIN)/pytest --numprocesses $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

## lint: what CI checks besides the tests
lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit --quiet --recursive --severity-level medium \
	  --exclude './.venv,./bench/.venv,*/tests/*,*/migrations/*,./e2e,./staticfiles,./media' .
	DEBUG=true $(BIN)/python manage.py makemigrations --check --dry-run

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## bench: load-test the shop under gunicorn on PostgreSQL and Redis (not part of `make test`)
bench: $(VENV)/.runtime-installed
	$(BIN)/python bench/run.py $(BENCH_ARGS)

## audit: Lighthouse, axe, vnu, scroll and tap targets on the main pages (bench/results/audit.md)
audit: $(VENV)/.dev-installed
	$(BIN)/python bench/audit.py $(AUDIT_ARGS)

## deploy-test: deploy/'s nginx site in front of two gunicorn instances and a Celery worker on
## PostgreSQL and Redis (DATABASE_URL, REDIS_URL; Debian's nginx): a shopper's whole journey,
## one instance SIGKILLed mid-run, the worker's mails; and the compose file against its schema
deploy-test: $(VENV)/.dev-installed
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec deploy/docker-compose.yml
	$(BIN)/python bench/deploy_test.py $(DEPLOY_TEST_ARGS)
## chaos: fault runs (Redis killed, PostgreSQL restarted, worker killed, oversell, mixed load),
## each on services of its own; bench/results/reliability.md (not part of `make test`)
BENCH_VENV := bench/.venv
$(BENCH_VENV)/.installed: requirements-bench.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

chaos: $(VENV)/.runtime-installed $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/chaos.py $(CHAOS_ARGS)

## messages: refresh the translation catalogues after changing text
messages: $(VENV)/.runtime-installed
	DEBUG=true $(BIN)/python manage.py makemessages --all --ignore=.venv --ignore=bench --ignore=e2e
	DEBUG=true $(BIN)/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) staticfiles e2e/artifacts
