# The few commands people run. Everything installs into .venv; nothing global is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Schema generation touches no server: point it at an address nothing listens on.
OFFLINE := REDIS_URL=redis://127.0.0.1:9/0
TEST_REDIS_DIR := var/test-redis

.PHONY: install lock upgrade run run-prod test lint format schema bench chaos chaos-ci attack clean

install: $(STAMP)

# Installs exactly the versions and hashes in requirements/lock.txt (pyproject.toml keeps the
# ranges, for library users). uv is itself installed from a hashed pin, then syncs the venv to
# the lock: nothing newer, nothing extra. `make upgrade` re-resolves the lock; nothing else moves it.
LOCK := requirements/lock.txt
UV := $(BIN)/uv
UV_RESOLVE := --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
	--index-url https://pypi.org/simple --generate-hashes --no-header --quiet

$(STAMP): $(LOCK) requirements/uv.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	PIP_CONFIG_FILE=/dev/null $(BIN)/python -m pip install --quiet --require-hashes --no-deps \
		-r requirements/uv.txt
	$(UV) pip sync --quiet --require-hashes --python $(BIN)/python $(LOCK)
	touch $(STAMP)

# After editing pyproject.toml: add what is new, keep every other pin.
lock: install
	$(UV) pip compile pyproject.toml --extra dev $(UV_RESOLVE) -o $(LOCK)
	$(MAKE) install

# Move every pin to the newest release the ranges allow.
upgrade: install
	$(UV) pip compile pyproject.toml --extra dev --upgrade $(UV_RESOLVE) -o $(LOCK)
	@echo "Review 'git diff $(LOCK)', run make test, commit."
	$(MAKE) install

run: install
	$(BIN)/python -m config.runstack

# The production profile on one machine: DEBUG off (SECRET_KEY and ALLOWED_HOSTS required),
# `check --deploy` clean or no start, gunicorn with WEB_CONCURRENCY uvicorn workers, no demo user.
# README "Deploying" has the same processes for a real deployment (Procfile).
run-prod: install
	DEBUG=false $(BIN)/python -m config.runstack --prod

# Tests use real Redis: the embedded one in $(TEST_REDIS_DIR) unless REDIS_URL is set.
test: install
	EMBEDDED_REDIS_DIR=$(TEST_REDIS_DIR) $(BIN)/pytest $(PYTEST_ARGS); \
	status=$$?; $(BIN)/python -m config.embedded_redis stop $(TEST_REDIS_DIR) >/dev/null; exit $$status

# openapi-typescript, pinned by package-lock.json.
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: install node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(OFFLINE) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/schema.check.yaml
	@diff -u openapi/schema.yaml var/schema.check.yaml > /dev/null || \
		{ echo "openapi/schema.yaml is stale: run 'make schema' and commit it."; \
		  diff -u openapi/schema.yaml var/schema.check.yaml | head -40; exit 1; }
	@npx --no-install openapi-typescript openapi/schema.yaml --output var/schema.check.d.ts > /dev/null
	@diff -u openapi/schema.d.ts var/schema.check.d.ts > /dev/null || \
		{ echo "openapi/schema.d.ts is stale: run 'make schema' and commit it."; exit 1; }
	@echo "OpenAPI schema and TypeScript types are up to date."

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: install node_modules/.installed
	$(OFFLINE) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi/schema.yaml
	npx --no-install openapi-typescript openapi/schema.yaml --output openapi/schema.d.ts
	@echo "Wrote openapi/schema.yaml and openapi/schema.d.ts"

# Starts its own processes on loopback; each part writes its table to docs/benchmarks.md.
# bench.creates and bench.inflight run on PostgreSQL (DATABASE_URL's server, else a throwaway
# one). bench.inflight drains 20,000 generations by default (about half an hour on 2 cores;
# BENCH_INFLIGHT_ARGS="--generations 500" for a quick look). Run one benchmark at a time on a
# shared machine.
bench: install
	$(BIN)/python -m bench.creates $(BENCH_CREATES_ARGS)
	$(BIN)/python -m bench.inflight $(BENCH_INFLIGHT_ARGS)
	$(BIN)/python -m bench.polling $(BENCH_ARGS)
	$(BIN)/python -m bench.demo_time
	$(BIN)/python -m bench.audio $(BENCH_AUDIO_ARGS)
	$(BIN)/python -m bench.events $(BENCH_EVENTS_ARGS)

# Kills and restarts every process and server under vendor faults, then checks the README's
# Guarantees (CHAOS_SHAPE=production|embedded, default: production when installed here).
# Loopback only, bounded; exits 1 when a guarantee is broken.
chaos: install
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# CI's short chaos run (about 3 minutes): the running PostgreSQL and RabbitMQ, a database and a
# vhost of its own; exits 1 when an invariant breaks (docs/chaos.md).
chaos-ci: install
	$(BIN)/python -m bench.chaos --shape shared --generations 40 --rate 2 --rounds 8 --settle-limit 150

# schemathesis (pinned) against the whole stack with DEBUG=0, every operation and check, stateful
# links; bounded (ATTACK_ARGS="--max-time 60 --seed 1"); exits 1 on any failure or 5xx.
attack: install
	$(BIN)/python -m tests.attack $(ATTACK_ARGS)

clean:
	rm -rf $(VENV) var node_modules
