# Two commands on a fresh machine: `make run` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench corpus clean lock

# Python packages come from requirements-dev.lock: every package at the version the suite was run
# with, each file checked against its hash (`make lock` writes it anew from pyproject.toml; see
# README, "Updating dependencies"). LOCK=requirements.lock installs the service without the test
# tools (the Dockerfile does).
LOCK ?= requirements-dev.lock
# This workplace's pip configuration names package index folders that hold only some packages;
# pip says so for every other package. Those lines are about the machine, not the install.
PIP_QUIET := 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c

NPM ?= npm
# The service alone (LOCK=requirements.lock, the Dockerfile) needs no test tools from npm either:
# the OpenID provider the tests run (oidc-provider) is a dev dependency.
NPM_OMIT := $(if $(filter requirements.lock,$(LOCK)),--omit=dev,)
CHROMIUM ?= chromium

# Set-up: the virtualenv; the pages' front-end libraries (bpmn-js, htmx) from npm, exactly as
# package-lock.json pins them, into node_modules/ (never copied into the repository); Debian's
# Chromium for the browser tests (installed when missing and running as root, else a message:
# the browser tests then fail and say why).
$(STAMP): pyproject.toml $(LOCK) $(wildcard package.json package-lock.json)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK) $(PIP_QUIET)
	$(BIN)/python -m pip install --quiet --no-deps -e . $(PIP_QUIET)
	@if [ -f package.json ] && ! command -v $(NPM) >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y nodejs npm || { apt-get update && apt-get install -y nodejs npm; }; \
	  else echo "npm is missing: the pages need bpmn-js and htmx from npm. Install Node.js and npm" \
	    "(e.g. sudo apt-get install -y nodejs npm) and run make again."; exit 1; fi; fi
	@if [ -f package-lock.json ]; then echo "$(NPM) ci $(NPM_OMIT)"; $(NPM) ci --no-audit --no-fund $(NPM_OMIT); \
	elif [ -f package.json ]; then echo "$(NPM) install"; $(NPM) install --no-audit --no-fund; fi
	@command -v $(CHROMIUM) >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y chromium || { apt-get update && apt-get install -y chromium; } \
	      || echo "Chromium could not be installed: the browser tests (tests/test_pages.py) will fail."; \
	  else echo "Chromium is missing: the browser tests (tests/test_pages.py) need it." \
	    "Install it with: sudo apt-get install -y chromium"; fi; }
	touch $(STAMP)

# The E-ARK validator the tests run on every package Rutin writes, in a virtualenv of its own: it
# pins an lxml other than Rutin's (tools/eark-validator.in says why).
EARK_VENV := .venv-eark
EARK_STAMP := $(EARK_VENV)/.installed
$(EARK_STAMP): tools/eark-validator.lock
	test -x $(EARK_VENV)/bin/python || $(PYTHON) -m venv $(EARK_VENV)
	$(EARK_VENV)/bin/python -m pip install --quiet --require-hashes -r tools/eark-validator.lock $(PIP_QUIET)
	touch $(EARK_STAMP)

run: $(STAMP)
	$(BIN)/rutin db upgrade
	$(BIN)/rutin demo --if-empty
	$(BIN)/rutin serve

# ruff, then the import contracts in pyproject.toml ([tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check bpmn engine webapp tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

# Coverage of bpmn/, engine/ and webapp/ is measured on every run; under the floor in
# pyproject.toml ([tool.coverage.report] fail_under) the run fails.
unit: $(STAMP) $(EARK_STAMP)
	$(BIN)/pytest -q --cov --cov-report=term --durations=25

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

corpus: $(STAMP)
	$(BIN)/python -m bench.corpus

# Writes the lock files anew from pyproject.toml: the newest releases its ranges allow (pins stay
# pins). Run the whole suite (`make test`) before committing the result.
lock: $(STAMP)
	$(BIN)/python -m pip install --quiet pip-tools $(PIP_QUIET)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links --extra dev -o requirements-dev.lock pyproject.toml $(PIP_QUIET)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o requirements.lock pyproject.toml $(PIP_QUIET)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url \
	  --no-emit-find-links -o tools/eark-validator.lock tools/eark-validator.in $(PIP_QUIET)

clean:
	rm -rf $(VENV) $(EARK_VENV) var .pytest_cache .mypy_cache .ruff_cache
