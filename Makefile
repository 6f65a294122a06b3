# The README's commands. `make` sets everything up, plans prod, starts the local clusters and
# deploys the local stack onto them; `make test` runs every test; `make down` stops the clusters.
# All of them work on a fresh machine: they install what they need.
SHELL := bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ENGINE := source scripts/engine-env &&
# The local stack keeps its state in the repo's ignored .state/ folder, encrypted with a
# passphrase that protects nothing real: it holds no cloud credentials or production secrets.
LOCAL := $(ENGINE) export PULUMI_BACKEND_URL=file://$(CURDIR)/.state \
	PULUMI_CONFIG_PASSPHRASE=$${PULUMI_CONFIG_PASSPHRASE:-deploypaths-local} &&

.PHONY: all venv browser setup plan clusters up down test lint clean drills

# What `make` needs installed first, checked before anything runs: Python for the venv (every goal
# but `browser`), and Go for the engine the goals that build or run it need. A missing or too old
# one stops make with one line (scripts/check-prerequisites says which versions, and why).
GO_GOALS := all setup clusters up test drills
PREREQUISITES := $(if $(filter-out browser,$(or $(MAKECMDGOALS),all)),python) \
	$(if $(filter $(GO_GOALS),$(or $(MAKECMDGOALS),all)),go)
ifneq ($(strip $(PREREQUISITES)),)
MISSING := $(shell PYTHON='$(PYTHON)' scripts/check-prerequisites $(PREREQUISITES) 2>&1)
ifneq ($(MISSING),)
$(error $(MISSING))
endif
endif

all: setup plan up

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

# checkov, for the manifest checks of the tests (tests/engine/test_manifest_checks.py), in a venv
# of its own: it pins a boto3 that cannot share one with requirements.txt's.
CHECKOV_VENV := .venv-checkov
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements-checkov.txt
	touch $@

# The Pulumi engine, the Kubernetes provider and the local clusters' binaries, built from Go
# modules, for machines that cannot download them.
setup: venv
	scripts/install-engine

# Headless Chromium and its driver from Debian's packages, for the dashboard page's browser test
# (tests/engine/test_dashboard_page.py); Selenium is pointed at them and downloads nothing.
browser:
	@test -x /usr/bin/chromedriver || { \
	  sudo=$$(test "$$(id -u)" -eq 0 || echo sudo); \
	  $$sudo apt-get update -qq && \
	  $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; }

plan: $(VENV)/.installed
	$(PY) -m ops plan --stack prod

clusters: setup
	$(ENGINE) $(PY) -m ops local up --stack local

# Returns once every Deployment has rolled out and every migration Job has completed.
up: clusters
	mkdir -p .state
	$(LOCAL) (pulumi stack select local 2>/dev/null || pulumi stack init local) && \
	  $(PY) -m ops up --stack local --yes --refresh
	@$(ENGINE) echo "deployed; look: $$(command -v kubectl) --kubeconfig .clusters/local/us-east-1.yaml get deploy -A"

# Stops the clusters (no process is left); their data stays, so `make` brings them back as the
# local stack's state knows them. `make clean` deletes them with that state.
down: venv
	$(ENGINE) $(PY) -m ops local down --stack local

# The slowest tests are listed at the end: the suite must stay inside CI's time.
test: setup browser lint $(CHECKOV_VENV)/.installed
	$(ENGINE) $(PY) -m pytest --durations=20

# What fails here fails by races: the failure scenarios and the fault drills on the local
# clusters, three times in a row (CI runs each once, in `make test`).
DRILLS := tests/engine/test_path_failures.py tests/engine/test_fault_drills.py
drills: setup
	for round in 1 2 3; do $(ENGINE) $(PY) -m pytest $(DRILLS) || exit 1; done

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy deploypaths components policy __main__.py ops benchmarks

clean: venv
	$(ENGINE) $(PY) -m ops local delete --stack local
	rm -rf rendered out .state .events .clusters
