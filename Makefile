# The README's commands. `make` sets everything up, plans prod and deploys the local stack;
# `make test` runs every test. Both work on a fresh machine: they install what they need.
SHELL := bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENGINE := source scripts/engine-env &&
# The local stack keeps its state in the repo's ignored .state/ folder, encrypted with a
# passphrase that protects nothing real: it holds no cloud credentials or production secrets.
LOCAL := $(ENGINE) export PULUMI_BACKEND_URL=file://$(CURDIR)/.state \
	PULUMI_CONFIG_PASSPHRASE=$${PULUMI_CONFIG_PASSPHRASE:-deploypaths-local} &&

.PHONY: all venv setup plan up test lint clean

all: setup plan up

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# The Pulumi engine built from Go modules, for machines that cannot download the CLI.
setup: venv
	scripts/install-engine

plan: $(VENV)/.installed
	$(PY) -m ops plan --stack prod

up: setup
	mkdir -p .state
	$(LOCAL) (pulumi stack select local 2>/dev/null || pulumi stack init local) && \
	  pulumi up --stack local --yes --skip-preview

test: setup lint
	$(ENGINE) $(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf rendered out .state
