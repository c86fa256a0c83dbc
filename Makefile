# make demo | make test | make lab | make lint — each sets itself up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install lint test test-fast demo lab clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check runbook_lib tests

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

demo: install
	$(BIN)/runbook validate params/example-go.yaml params/sandbox.yaml
	@echo "The parameters are valid. Provisioning on the sandbox (runbook up) arrives with the next issues."

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
