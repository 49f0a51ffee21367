# The front door. Every target installs what it needs into .venv first: `make run` only what
# running needs, every other target the rest (dev and CDK extras).
SHELL := /bin/bash
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PYTEST_ARGS ?=
ARGS ?=
# Every install comes from uv.lock (hashes checked), made and synced by this uv (pyproject [tool.uv]).
UV_VERSION := 0.13.10
UV := $(VENV)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(abspath $(VENV))
# Bytecode at install, as pip does (uv does not by default): nothing compiles at each start.
export UV_COMPILE_BYTECODE := 1
SYNC := $(UV) sync --locked --inexact --quiet
RUN_STAMP := $(VENV)/.installed-run
STAMP := $(VENV)/.installed
REDOC := node_modules/redoc/bundles/redoc.standalone.js
# What the Lambda artefacts install (infra/layer.py, functions/process/Dockerfile), exported from uv.lock.
EXPORT := $(UV) export --frozen --no-dev --no-emit-project --format requirements-txt --quiet
IMAGING := --no-emit-package numpy --no-emit-package opencv-python-headless --no-emit-package simplejpeg

.PHONY: install install-run lock run test bench bench-cold fidelity bench-e2e load synth lint format clean redrive audit

$(UV):
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet 'uv==$(UV_VERSION)'

# What running the stack needs (the local runtime, the CLI, HEIC/AVIF photos), exactly as locked: `make run`.
$(RUN_STAMP): uv.lock pyproject.toml | $(UV)
	$(SYNC) --extra local --extra photos
	touch $(RUN_STAMP)

# Everything (runtime, photos, CLI, emulator, dev and infra tools), exactly as locked: every other target.
$(STAMP): uv.lock pyproject.toml | $(UV)
	$(SYNC) --extra dev --extra infra
	touch $(RUN_STAMP) $(STAMP)

# ReDoc's page (/redoc) is npm's `redoc` (package-lock.json); without Node the stack serves the rest.
$(REDOC): package-lock.json
	@if command -v npm >/dev/null; then npm ci --no-audit --no-fund --loglevel=error && touch $(REDOC); \
	else echo "npm not found: /redoc is off until \`npm ci\` (Swagger UI at /docs needs nothing)"; fi

install: $(STAMP) $(REDOC)

install-run: $(RUN_STAMP) $(REDOC)

## lock: re-resolve uv.lock from pyproject.toml (keeps locked versions that still fit; LOCK_ARGS="--upgrade-package numpy") and re-export requirements/
LOCK_ARGS ?=
lock: $(UV)
	$(UV) lock --quiet $(LOCK_ARGS)
	$(EXPORT) --extra photos -o requirements/lambda-image.txt
	$(EXPORT) $(IMAGING) -o requirements/lambda-layer.txt

## run: start the local stack (moto server + API on 127.0.0.1:3000), process the bundled sample, keep serving; flags in ARGS (ARGS="--port 3100 --aws-port 3101 --s3-port 3102")
run: install-run
	FACESVG_VIA_MAKE=run $(VENV)/bin/facesvg run $(ARGS)

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

## synth: CloudFormation template + assets in cdk.out/ (layer bundled locally from the lock, no Docker); cdk-nag fails it on any unacknowledged finding, cfn-lint on any error, and any function with < 25 % headroom under Lambda's 250 MiB unzipped limit
synth: install
	npm ci --no-audit --no-fund
	npx --no-install cdk synth --quiet
	$(PY) -m infra.layer cdk.out  # the Lambda assets carry no local/, commands/, moto, rich or httpx
	$(VENV)/bin/cfn-lint --format parseable cdk.out/FaceSvg.template.json  # .cfnlintrc: the kept warnings
	$(PY) -m infra.sizes cdk.out

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
