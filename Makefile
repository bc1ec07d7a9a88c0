# The two commands: `make demo` and `make test`. Each creates .venv if it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint unit usecases heavy chaos bench audit flower-check clean recovery-heavy

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "convsync needs Python 3.11 or newer: set PYTHON=python3.11")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,emulator]'
	@touch $(STAMP)

## demo: a real end-to-end sync on the embedded default (no server needed)
demo: $(STAMP)
	$(BIN)/convsync demo

## test: linters, type checks, import contracts, then the test suite in two processes
## (a module's tests stay together: they share its worker; `make heavy` is separate)
test: lint
	$(BIN)/pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/pytest tests/unit

## usecases: the use cases on SQLite and an in-process Salesforce, every server pointed at
## a closed port to prove none is needed (seconds)
usecases: $(STAMP)
	CONVSYNC_DATABASE_URL=postgresql+psycopg://nobody@127.0.0.1:9/none \
	CONVSYNC_BROKER_URL=redis://127.0.0.1:9/0 CONVSYNC_REDIS_URL=redis://127.0.0.1:9/0 \
	$(BIN)/pytest tests/usecases -q -p no:cacheprovider

## flower-check: headless Chromium logs in to Flower during a real sync and saves screenshots
flower-check: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "flower-check: installing chromium and chromium-driver with apt-get"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	      || echo "flower-check: could not install chromium: the browser check will be SKIPPED"; \
	  else \
	    echo "flower-check: chromium is not installed (apt-get install -y chromium chromium-driver): the browser check will be SKIPPED"; \
	  fi
	rm -rf .convsync/flower-check
	CONVSYNC_BROWSER_CHECK=1 $(BIN)/pytest tests/e2e/test_flower.py -k browser -rs -p no:cacheprovider
	@ls .convsync/flower-check/*.png 2>/dev/null | sed 's/^/flower-check: screenshot /' || true

## recovery-heavy: SIGKILL recovery at 20,000 + 5,000 members, every kill combination
recovery-heavy: $(STAMP)
	CONVSYNC_HEAVY_RECOVERY=1 $(BIN)/pytest tests/e2e/test_recovery.py -k heavy

## heavy: the tests that wait minutes of real time (a day in a real org, writes visible
## two minutes late, a skip older than the re-read overlap); left out of `make test`
heavy: $(STAMP)
	$(BIN)/pytest -m heavy tests/e2e

## chaos: the chaos suite at full scale (20,200 members; SIGKILLs, Redis and PostgreSQL
## restarts, 5 % Salesforce faults; prints its figures) and 500 property-test examples
chaos: $(STAMP)
	CONVSYNC_CHAOS=full CONVSYNC_PROPERTY_EXAMPLES=500 $(BIN)/pytest tests/chaos tests/property \
	  -s -p no:cacheprovider --timeout=3600
	$(MAKE) heavy

## bench: the default benchmark (10,000 members, 100 campaigns); see docs/performance.md
bench: $(STAMP)
	$(BIN)/convsync bench

## audit: dependency bounds and `pip check` (offline), then pip-audit; exits 3 (and says so)
## when PyPI's vulnerability data is unreachable and nothing could be audited
audit: $(STAMP)
	$(BIN)/python scripts/audit.py

clean:
	rm -rf .convsync .pytest_cache .mypy_cache .ruff_cache
