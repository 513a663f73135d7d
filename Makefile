# Conveyor: `make demo` and `make test` are the quickstart; both set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
BOOT := .cache/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: demo test up down status kafka kafka-stop kafka-wipe venv lint chart contracts bench-loop clean console zipkin debian-tools debian-tools-try
CONSOLE_WEB := tools/console/web
CONSOLE_ASSETS := tools/console/src/conveyor_console/static/dist/app.js

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install -q "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml $(UV) $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	touch $@

venv: $(VENV)/.synced

## The console's browser code: npm packages (cached in .cache/npm), bundled by esbuild.
$(CONSOLE_WEB)/node_modules/.installed: $(CONSOLE_WEB)/package.json $(CONSOLE_WEB)/package-lock.json
	cd $(CONSOLE_WEB) && npm ci --cache $(CURDIR)/.cache/npm --prefer-offline --no-audit --no-fund
	touch $@

$(CONSOLE_ASSETS): $(CONSOLE_WEB)/node_modules/.installed $(wildcard $(CONSOLE_WEB)/src/*.js)
	cd $(CONSOLE_WEB) && npm run --silent build

console: $(CONSOLE_ASSETS)

## Zipkin's exec jar from Maven Central, once, into .cache/zipkin (the trace UI `conveyor up` starts).
zipkin:
	deploy/local/zipkin.sh fetch

## Prometheus and Chromium from Debian (installed when missing and root): the metrics server and the browser test.
debian-tools:
	deploy/local/debian-tools.sh install

# up and demo try, and carry on without them: Prometheus and Zipkin are optional (npm is not: the console's build)
debian-tools-try:
	-@deploy/local/debian-tools.sh install

kafka:
	deploy/local/kafka.sh start

kafka-stop:
	deploy/local/kafka.sh stop

kafka-wipe:
	deploy/local/kafka.sh wipe

## Start the platform and run the lifecycle scenario; leaves the platform running.
demo: venv debian-tools-try console zipkin kafka
	$(VENV)/bin/conveyor demo

## Every test: unit, integration (real Kafka, real SQLite) and end-to-end (six processes).
test: venv debian-tools console zipkin
	scripts/test.sh

up: venv debian-tools-try console zipkin kafka
	$(VENV)/bin/conveyor up

down:
	-@test -x $(VENV)/bin/conveyor && $(VENV)/bin/conveyor down
	deploy/local/kafka.sh stop

status: venv
	$(VENV)/bin/conveyor status

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

## The Helm chart, linted and rendered offline (helm is built from the Go module proxy on first use).
chart:
	deploy/helm/helm.sh lint --strict deploy/helm/conveyor
	deploy/helm/helm.sh lint --strict deploy/helm/conveyor -f deploy/helm/values-production.yaml
	deploy/helm/helm.sh template conveyor deploy/helm/conveyor -f deploy/helm/values-production.yaml > /dev/null

contracts: venv
	PATH=$(VENV)/bin:$$PATH scripts/gen-contracts.sh

bench-loop: venv kafka
	$(VENV)/bin/python bench/loop.py
