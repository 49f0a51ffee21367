# The front door. Every target installs what it needs into .venv first: `make run` only what
# running needs, every other target the rest (dev and CDK extras).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run
REDOC := node_modules/redoc/bundles/redoc.standalone.js
PYTEST_ARGS ?=
ARGS ?=

.PHONY: install install-run run test bench bench-cold fidelity bench-e2e load synth lint format clean redrive audit

# What running the stack needs (the local runtime, the CLI, HEIC/AVIF photos): `make run`.
$(RUN_STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --editable '.[local,photos]'
	touch $(RUN_STAMP)

# Everything else: tests, linters, the CDK (every other target).
$(STAMP): $(RUN_STAMP)
	$(PY) -m pip install --quiet --editable '.[dev,infra]'
	touch $(STAMP)

# ReDoc's page (/redoc) is npm's `redoc` (package-lock.json); without Node the stack serves the rest.
$(REDOC): package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $(REDOC); \
	else echo "npm not found: /redoc is off until \`npm ci\` (Swagger UI at /docs needs nothing)"; fi

install: $(STAMP) $(REDOC)

install-run: $(RUN_STAMP) $(REDOC)

## run: start the local stack (moto server + API on 127.0.0.1:3000), process the bundled sample, keep serving; flags in ARGS (ARGS="--port 3100 --aws-port 3101 --s3-port 3102")
run: install-run
	$(VENV)/bin/facesvg run $(ARGS)

## test: the whole suite (unit, integration on moto's server, infra)
test: install
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

## bench: per-stage render timings on the QOVES sample
bench: install
	$(VENV)/bin/facesvg bench

## fidelity: region scores on the QOVES sample, the example face and ../shared/faces (when present) against labels, skin, true ears and the customer's; exits 1 when a bar fails (FIDELITY_ARGS="--case 28181 --json out/fidelity.json")
FIDELITY_ARGS ?=
fidelity: install
	$(VENV)/bin/facesvg fidelity $(FIDELITY_ARGS)

## bench-cold: each handler's import vs import boto3, the process function's first-job extra, facesvg render wall time (median of 5 fresh processes)
bench-cold: install
	$(PY) -m facesvg.commands.bench_cold

## bench-e2e: submit→completed p50/p95 over 30 jobs + cache-hit p50 on the local stack (LOAD_TEST_MODE=true)
bench-e2e: install
	$(PY) -m facesvg.local.bench_e2e

## load: N submits (default 1000, 10 % duplicates, 20 clients) against the local stack (LOAD_TEST_MODE=true); checks every job completed exactly once
LOAD_ARGS ?=
load: install
	$(PY) -m facesvg.local.load $(LOAD_ARGS)

## synth: CloudFormation template + assets in cdk.out/ (layer bundled locally, no Docker); cdk-nag fails it on any unacknowledged finding
synth: install
	npm ci --no-audit --no-fund
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 npx --no-install cdk synth --quiet
	$(PY) -m infra.layer cdk.out  # the Lambda assets carry no local/, commands/, moto, rich or httpx

## redrive: move the jobs DLQ's messages back to the jobs queue (AWS_ENDPOINT_URL=… for the local stack; REDRIVE_ARGS=--dry-run)
redrive: install
	$(PY) -m facesvg.commands.redrive $(REDRIVE_ARGS)

## audit: pip-audit of the installed dependencies (fails on known vulnerabilities; skips if the service is unreachable)
audit: install
	$(PY) .ci/audit.py

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) out cdk.out .pytest_cache .mypy_cache .ruff_cache
