# One command surface. CI calls the same targets (.ci/run).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format clean serve deploy worker automations bench bench-quick

$(STAMP): pyproject.toml
	bash scripts/system-deps.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv
	# Bytecode now, not at each import: uv writes none by default, and where PYTHONDONTWRITEBYTECODE is set
	# (containers, these machines) every command would compile pandas, Prefect and GX again (3 s per CLI call).
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[dev]'
	$(BIN)/python -m compileall -q analytics cli flows loyalty tasks reports bench demo
	touch $(STAMP)

install: $(STAMP)

## Make demo data, run the nightly flow over every day on SQLite, print what it did.
demo: $(STAMP)
	$(BIN)/loyalty demo

## The whole test suite (PostgreSQL tests run when 127.0.0.1:5432 answers; required under CI=true).
test: $(STAMP)
	$(BIN)/pytest

## A local Prefect server (UI on http://127.0.0.1:4200) serving the deployments of prefect.yaml with their
## schedules; Ctrl-C stops the runner and the server. LOYALTY_PREFECT_SERVER_* settings pick port and database.
serve: $(STAMP)
	$(BIN)/loyalty serve

## Deploy prefect.yaml to the server at PREFECT_API_URL (creates the loyalty-process work pool if missing).
deploy: $(STAMP)
	$(BIN)/loyalty deploy

## A process worker for those deployments (it runs each flow from this directory) that names runs while they wait.
worker: $(STAMP)
	LOYALTY_PROJECT_DIR=$(CURDIR) $(BIN)/loyalty worker

## Apply the failure alerts of ops/automations.yaml (needs PREFECT_API_URL and LOYALTY_ALERT_WEBHOOK_URL).
automations: $(STAMP)
	$(BIN)/loyalty automations

## The pipeline at a year's scale (SCALE=year: 100k customers, ~4M transactions, ~400k responses) next to its
## load floor and a naive pandas pipeline, on SQLite and PostgreSQL (database bench); table + state/bench/*.json.
SCALE ?= year
bench: $(STAMP)
	$(BIN)/python -m bench --scale $(SCALE)

## The same measures at a small scale (8 days, 3k customers), for everyday use: about 2 minutes.
bench-quick: $(STAMP)
	$(BIN)/python -m bench --scale quick

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint sql
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf state .pytest_cache .ruff_cache
