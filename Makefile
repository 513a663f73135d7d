# Conveyor: `make demo` and `make test` are the quickstart; both set up everything they need.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
BOOT := .cache/bootstrap
UV := $(BOOT)/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(CURDIR)/$(VENV)

.PHONY: demo test up down status kafka kafka-stop kafka-wipe venv lint chart contracts bench-loop clean

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/pip install -q "uv==$(UV_VERSION)"

$(VENV)/.synced: uv.lock pyproject.toml $(UV) $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	touch $@

venv: $(VENV)/.synced

kafka:
	deploy/local/kafka.sh start

kafka-stop:
	deploy/local/kafka.sh stop

kafka-wipe:
	deploy/local/kafka.sh wipe

## Start the platform and run the lifecycle scenario; leaves the platform running.
demo: venv kafka
	$(VENV)/bin/conveyor demo

## Every test: unit, integration (real Kafka, real SQLite) and end-to-end (six processes).
test: venv
	scripts/test.sh

up: venv kafka
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
