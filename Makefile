# Every target builds its own virtual environment from pyproject.toml.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit crds monitoring image-check clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,sim]'
	touch $(STAMP)

## demo: run the operator against the built-in simulated datacenter
##       (arguments pass through: make demo ARGS=--keep-running)
demo: $(STAMP)
	$(BIN)/asr-operator demo $(ARGS)

## test: lint, type-check and run every test (what CI runs)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check operator tests .ci/image-check
	$(BIN)/ruff format --check operator tests .ci/image-check

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

## crds: regenerate crds/ (and its copies for kustomize and Helm) from the typed API
crds: $(STAMP)
	for d in crds deploy/crds charts/asr-operator/files/crds; do $(BIN)/asr-operator crds --output-dir $$d; done

## monitoring: regenerate the alert rules and dashboard (deploy/monitoring and the chart)
monitoring: $(STAMP)
	$(BIN)/python -m asr_operator.monitoring

## image-check: replay the Dockerfile's install steps without a container engine and start
## the installed entrypoint (--help, and a short run against the simulators)
image-check: $(STAMP)
	$(BIN)/python .ci/image-check

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
