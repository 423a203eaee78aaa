# TwinWeb: `make demo` runs the whole product on embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check

.PHONY: demo test venv venv-dev migrate seed services browser check lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime packages (server and CPU edge worker).
$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(PIP) install -q -r requirements.txt
	touch $@

# Test and training packages; torch goes in pinned, before anything that depends on it.
$(VENV)/.dev-installed: $(VENV)/.runtime-installed requirements-dev.txt requirements-train.txt
	$(PIP) install -q -r requirements-train.txt
	$(PIP) install -q -r requirements-dev.txt
	touch $@

venv: $(VENV)/.runtime-installed
venv-dev: $(VENV)/.dev-installed

migrate: venv
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

demo: seed
	$(BIN)/python manage.py run_demo

# Headless Chromium for the browser tests (Debian's package; Playwright drives it, it downloads no browser).
browser:
	@command -v chromium >/dev/null 2>&1 || bash .ci/install-chromium.sh

# PostgreSQL and Redis on 127.0.0.1: started if installed but stopped.
services:
	@bash .ci/services.sh

# ruff's rules are in pyproject.toml; `make test` (and so .ci/run) runs it before the suite.
lint: venv-dev
	$(BIN)/ruff check .

test: venv-dev lint browser services
	@bash .ci/test-suite.sh

check: venv-dev
	$(BIN)/python manage.py check
	$(BIN)/mypy --config-file mypy.ini twinweb traceability inspection live review profiling demo monitoring edge_worker

clean:
	rm -rf $(VENV) var staticfiles test-artifacts
