# make demo | make test | make lab | make lint — each sets itself up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
SANDBOX_PORT ?= $(or $(RUNBOOK_SANDBOX_PORT),4599)
LAB_ARGS ?=
LAB_TOKEN ?=
# JupyterLab's defaults for this project (no "news" pop-up): jupyter/lab-settings/overrides.json
LAB_SETTINGS := $(CURDIR)/jupyter/lab-settings

.PHONY: install lint test test-airflow demo lab stop clean bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --upgrade pip
	# the project and its dev extra (~2 min the first time; pip shows its progress)
	$(BIN)/python -m pip install --disable-pip-version-check -e '.[dev]'
	# the kernel papermill and JupyterLab use: this venv's python (`python3` kernelspec)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (runbook)" >/dev/null
	touch $(STAMP)

install: $(STAMP)

lint: install
	$(BIN)/ruff check runbook_lib tests

test: lint
	$(BIN)/pytest $(PYTEST_ARGS)

# Airflow in a virtualenv of its own (it pins its own dependencies; never in .venv): the example DAG
# end to end with `airflow dags test` on a sandbox started by the test (docs/airflow.md).
AIRFLOW_VENV ?= .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.installed-stamp

$(AIRFLOW_STAMP): pyproject.toml
	test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install --disable-pip-version-check --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install --disable-pip-version-check -e '.[airflow,dev]'
	$(AIRFLOW_VENV)/bin/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (runbook)" >/dev/null
	touch $(AIRFLOW_STAMP)

test-airflow: $(AIRFLOW_STAMP)
	$(AIRFLOW_VENV)/bin/pytest tests/airflow_dag -q -p no:cacheprovider

# The runbook on the local sandbox (a test double of AWS). The sandbox keeps running for `make lab`.
demo: install
	@$(BIN)/runbook sandbox start --port $(SANDBOX_PORT) --handshake auto >/dev/null
	$(BIN)/runbook up params/sandbox.yaml --sandbox
	@echo
	@echo "The sandbox keeps running: 'make lab' steps through the notebooks on it;"
	@echo "'$(BIN)/runbook history' lists the runs; '$(BIN)/runbook sandbox stop' ends it."

# JupyterLab on notebooks/, its kernels pointed at the sandbox (started if needed). As root it adds
# --allow-root; LAB_TOKEN=… sets the access token (IdentityProvider.token), else JupyterLab makes one.
lab: install
	@URL=$$($(BIN)/runbook sandbox start --port $(SANDBOX_PORT) --handshake auto) && \
	echo "JupyterLab on notebooks/; kernels use the local sandbox at $$URL (a test double of AWS)" && \
	env -u AWS_PROFILE -u AWS_SESSION_TOKEN AWS_ENDPOINT_URL=$$URL AWS_ACCESS_KEY_ID=testing \
	AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
	$(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 \
	--LabApp.app_settings_dir=$(LAB_SETTINGS) \
	$$([ "$$(id -u)" = 0 ] && echo --allow-root) \
	$(if $(LAB_TOKEN),--IdentityProvider.token=$(LAB_TOKEN)) $(LAB_ARGS)

# Overhead, API calls and batch scaling on a private sandbox, next to the AWS CLI script (docs/performance.md).
bench: install
	$(BIN)/python bench/run.py

stop: install
	$(BIN)/runbook sandbox stop

clean:
	rm -rf $(VENV) $(AIRFLOW_VENV) .pytest_cache .ruff_cache
