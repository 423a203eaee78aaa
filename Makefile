# TwinWeb: `make demo` runs the whole product on embedded defaults; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip --disable-pip-version-check

.PHONY: demo test venv venv-train venv-dev migrate seed services browser check lint lock clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime packages (server and CPU edge worker), exactly as locked: every version and hash (requirements.lock).
$(VENV)/.runtime-installed: requirements.lock | $(BIN)/python
	$(PIP) install -q --require-hashes -r requirements.lock
	touch $@

# Training (the model registry's "Train a candidate" and the torch baseline backend). torch goes in first, pinned,
# from the machine's CPU wheel or index (its hash differs between the CPU and CUDA builds, so it is not in the
# lock); then the ONNX exporter as locked.
$(VENV)/.train-installed: $(VENV)/.runtime-installed requirements-train.lock
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q --require-hashes -r requirements-train.lock
	touch $@

# Test and benchmark packages, as locked.
$(VENV)/.dev-installed: $(VENV)/.train-installed requirements-dev.lock
	$(PIP) install -q --require-hashes -r requirements-dev.lock
	touch $@

venv: $(VENV)/.runtime-installed
venv-train: $(VENV)/.train-installed
venv-dev: $(VENV)/.dev-installed

migrate: venv
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# The demo trains candidate models from the browser, so it installs the training packages too.
demo: venv-train seed
	$(BIN)/python manage.py run_demo

# Translations: extract the marked messages into locale/pt_BR/LC_MESSAGES/*.po (translate the new ones there),
# then compile them. The compiled .mo files are committed, so `make demo` and `make test` need no gettext tools;
# tests/twinweb/test_translations.py fails while a .po has an untranslated message or a .mo is older than its .po.
MAKEMESSAGES := $(BIN)/python manage.py makemessages -l pt_BR --no-obsolete --ignore=".venv/*" --ignore="staticfiles/*" --ignore="tests/*"
messages: venv
	$(MAKEMESSAGES) --ignore="bench/*" --ignore="edge_worker/*"
	$(MAKEMESSAGES) -d djangojs --ignore="static/vendor/*" --ignore="node_modules/*"
	$(BIN)/python manage.py compilemessages -l pt_BR

# Headless Chromium for the browser tests (Debian's package; Playwright drives it, it downloads no browser).
browser:
	@command -v chromium >/dev/null 2>&1 || bash .ci/install-chromium.sh

# PostgreSQL and Redis on 127.0.0.1: started if installed but stopped.
services:
	@bash .ci/services.sh

# ruff's rules are in pyproject.toml; `make test` (and so .ci/run) runs it before the suite.
lint: venv-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv-dev lint check browser services
	@bash .ci/test-suite.sh

check: venv-dev
	$(BIN)/python manage.py check
	$(BIN)/mypy --config-file mypy.ini twinweb traceability inspection live review profiling demo monitoring gateway spc accounts modelops edge_worker

# After changing a requirements*.txt: the locks again (tests/test_lock_files.py fails until then). The server's and
# the dev lock hold every platform's wheels (Python 3.11+); the edge lock targets a Jetson (aarch64, glibc 2.35, as
# JetPack 6) with Python 3.11.
UV_COMPILE := $(BIN)/uv pip compile --quiet --generate-hashes --python-version 3.11
lock: $(BIN)/python
	$(PIP) install -q uv==0.13.9
	$(UV_COMPILE) --universal requirements.txt -o requirements.lock
	$(UV_COMPILE) --universal --no-emit-package torch requirements.txt requirements-train.txt -o requirements-train.lock
	$(UV_COMPILE) --universal --no-emit-package torch requirements-dev.txt -o requirements-dev.lock
	$(UV_COMPILE) --python-platform aarch64-manylinux_2_35 requirements-edge.txt -o requirements-edge.lock

clean:
	rm -rf $(VENV) var staticfiles test-artifacts
