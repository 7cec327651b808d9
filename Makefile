# Huafei — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_WORKERS ?= auto
BENCH_POSTGRES_URL ?= postgresql://postgres@127.0.0.1:5432/huafei_bench
BENCH_SECONDS ?= 10
BENCH_ORDERS_URL ?= postgresql://postgres@127.0.0.1:5432/huafei_bench_orders
CHAOS_URL ?= postgresql://postgres@127.0.0.1:5432/huafei_chaos
CHAOS_SECONDS ?= 120
CHAOS_PG_RESTARTS ?= 1
CHAOS_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrate bench chaos lock messages clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36mmake %-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

run: $(STAMP) ## Run the platform: migrate SQLite, load demo data once, serve on :8000
	$(BIN)/huafei run

test: $(STAMP) ## Lint, type-check, run the whole suite (SQLite, and PostgreSQL when it answers) with coverage
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache
	rm -rf var/coverage
	$(BIN)/pytest -n $(PYTEST_WORKERS) -p no:cacheprovider --cov --cov-report=term-missing:skip-covered --cov-report=html
	$(BIN)/coverage report --include='src/huafei/ledger/*' --fail-under=100
	@cat var/test-backends.txt

lint: $(STAMP) ## Ruff lint and format check, mypy --strict, the import contracts
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo --no-cache

format: $(STAMP) ## Format the code
	$(BIN)/ruff format src tests
	$(BIN)/ruff check --fix src tests

migrate: $(STAMP) ## Migrate the database named by HUAFEI_DATABASE_URL (default: var/huafei.sqlite3)
	$(BIN)/huafei migrate

bench: $(STAMP) ## Benchmarks; figures go to var/bench/*.json
	@mkdir -p var/bench
	rm -f var/bench/ledger-sqlite.sqlite3*
	$(BIN)/huafei bench ledger --clients 1024 --seconds $(BENCH_SECONDS) --database-url sqlite:///var/bench/ledger-sqlite.sqlite3 --json var/bench/ledger-sqlite.json
	@if pg_isready -h 127.0.0.1 -q 2>/dev/null; then \
	  for c in 8 32 64; do \
	    $(BIN)/huafei bench ledger --clients $$c --seconds $(BENCH_SECONDS) --database-url $(BENCH_POSTGRES_URL) --json var/bench/ledger-postgres-$$c.json || exit 1; \
	  done; \
	  for r in 100 200; do \
	    $(BIN)/huafei bench orders --clients 8 --cards-per-request 10 --workers 2 --rate $$r --seconds $(BENCH_SECONDS) --database-url $(BENCH_ORDERS_URL) --json var/bench/orders-postgres-$$r.json || exit 1; \
	  done; \
	else echo "PostgreSQL not answering: PostgreSQL benchmarks skipped"; fi

chaos: $(STAMP) ## Kill servers and workers at random, restart PostgreSQL, then check every invariant
	@mkdir -p var/chaos
	$(BIN)/huafei bench chaos --seconds $(CHAOS_SECONDS) --pg-restarts $(CHAOS_PG_RESTARTS) \
	  --database-url $(CHAOS_URL) --json var/chaos/figures.json $(CHAOS_ARGS)

LOCALE_DIR := src/huafei/portal/locale
messages: $(STAMP) ## Portal catalogues: extract the messages, update every language, compile
	@mkdir -p var
	$(BIN)/pybabel extract -F src/huafei/portal/babel.cfg --no-location --sort-output \
	  --project Huafei --msgid-bugs-address "" -o var/messages.pot src/huafei/portal
	$(BIN)/pybabel update -i var/messages.pot -d $(LOCALE_DIR) -D messages --no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -d $(LOCALE_DIR) -D messages --statistics

lock: ## Re-resolve the pinned dependencies into requirements.lock
	rm -rf /tmp/huafei-lock && $(PYTHON) -m venv /tmp/huafei-lock
	/tmp/huafei-lock/bin/pip install --quiet --upgrade pip
	/tmp/huafei-lock/bin/pip install --quiet -e '.[dev]'
	/tmp/huafei-lock/bin/pip freeze --exclude-editable | grep -v '^huafei' > requirements.lock

clean: ## Remove the virtualenv and local data
	rm -rf $(VENV) var
