# Two commands: `make run` (the app on embedded defaults) and `make test` (the whole suite).
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench install

# The portal page: Preact sources in agent_portal/web/, bundled by Vite into agent_portal/static/portal/ (not committed).
PORTAL_SOURCES := $(shell find agent_portal/web -type f 2>/dev/null)
PORTAL_BUILD := agent_portal/static/portal/index.html

install: $(VENV)/.installed node_modules/.installed $(PORTAL_BUILD)

$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# `npm run build` after every npm ci above, and again whenever a source changes (or the output is missing).
$(PORTAL_BUILD): node_modules/.installed $(PORTAL_SOURCES)
	npm run build

run: install
	$(BIN)/chainlit run app.py --host $(HOST) --port $(PORT) --headless

# Lint, format and types first (what CI checks, as CI checks it), then the suite.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)
