# Two commands on a fresh machine: `make run` and `make test`. Each does its own set-up.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck unit bench corpus clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/rutin db upgrade
	$(BIN)/rutin demo --if-empty
	$(BIN)/rutin serve

lint: $(STAMP)
	$(BIN)/ruff check bpmn engine webapp tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python bench/run.py

corpus: $(STAMP)
	$(BIN)/python -m bench.corpus

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
