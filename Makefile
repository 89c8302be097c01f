# The few commands people run. Everything installs into .venv; nothing global is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Schema generation touches no server: point it at an address nothing listens on.
OFFLINE := REDIS_URL=redis://127.0.0.1:9/0
TEST_REDIS_DIR := var/test-redis

.PHONY: install run test lint format schema bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/python -m config.runstack

# Tests use real Redis: the embedded one in $(TEST_REDIS_DIR) unless REDIS_URL is set.
test: install
	EMBEDDED_REDIS_DIR=$(TEST_REDIS_DIR) $(BIN)/pytest $(PYTEST_ARGS); \
	status=$$?; $(BIN)/python -m config.embedded_redis stop $(TEST_REDIS_DIR) >/dev/null; exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(OFFLINE) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file var/schema.check.yaml
	@diff -u openapi/schema.yaml var/schema.check.yaml > /dev/null || \
		{ echo "openapi/schema.yaml is stale: run 'make schema' and commit it."; \
		  diff -u openapi/schema.yaml var/schema.check.yaml | head -40; exit 1; }
	@echo "OpenAPI schema is up to date."

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

schema: install
	$(OFFLINE) $(BIN)/python manage.py spectacular --validate --fail-on-warn --file openapi/schema.yaml
	@echo "Wrote openapi/schema.yaml"

# Starts its own processes on loopback; prints vendor calls per generation and latencies.
bench: install
	$(BIN)/python -m bench.polling $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var
