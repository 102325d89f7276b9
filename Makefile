# The project's commands. Each installs what it needs into .venv first (uv, pinned by
# constraints.txt), so they work from a fresh clone.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
UV_VERSION := 0.13.9

.PHONY: install browser redis demo test test-unit test-distributed lint airflow cluster docs-pictures bench bench-matching bench-push bench-huge-value lock

$(STAMP): requirements.txt requirements-dev.txt constraints.txt overrides.txt pyproject.toml dev/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python --compile-bytecode \
		-r requirements-dev.txt -e . -e ./dev -c constraints.txt --overrides overrides.txt
	touch $(STAMP)

install: $(STAMP)

## The main job: all four DAGs end to end on the embedded PostgreSQL and the bundled sample data.
demo: install
	$(BIN)/python -m crm_reconciliation_dev demo $(ARGS)

## Headless Chromium (Debian's package) for the test that opens the report page; needs root, as on CI.
browser:
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium >/dev/null) || \
		echo "chromium could not be installed: the report screenshot test will be skipped"

## Redis (Debian's redis-server) for the distributed test and `make cluster`; needs root, as on CI. Only the
## binary is used: the test starts its own server on a free 127.0.0.1 port and stops it.
redis:
	@command -v redis-server >/dev/null 2>&1 || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends redis-server >/dev/null) || \
		echo "redis-server could not be installed: the distributed test will be skipped"

## The whole test suite (lint first). .ci/run calls exactly this.
test: install browser redis
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

## The unit lane: tests/unit only (no database, no DAG run), well under a minute.
test-unit: install
	$(BIN)/python -m pytest -m unit -q

## The distributed path alone (part of make test too): Redis, a PostgreSQL metadata database, the api-server,
## scheduler, dag-processor, triggerer and two Celery workers as local processes; the four DAGs at once (a few minutes).
test-distributed: install redis
	$(BIN)/python -m pytest -v tests/integration/distributed

lint: install
	$(BIN)/ruff check .

## Airflow UI (airflow standalone) on 127.0.0.1:8080, wired to the embedded database.
airflow: install
	$(BIN)/python -m crm_reconciliation_dev ui

## The same processes as the distributed test, until Ctrl-C: CeleryExecutor with ARGS="--workers N" Celery workers.
cluster: install redis
	$(BIN)/python -m crm_reconciliation_dev cluster $(ARGS)

## Every picture in docs/, from the demo's data (a few minutes): the companies report of a demo run, shot by
## headless Chromium, then the review page inside the Airflow UI, shot by the review UI test (CRM_RECON_SCREENSHOTS=1).
PICTURES := .build/docs-pictures
docs-pictures: install browser
	rm -rf $(PICTURES)
	CRM_RECON_REPORTS_DIR=$(CURDIR)/$(PICTURES)/reports $(BIN)/python -m crm_reconciliation_dev demo --objects companies
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --disable-quic --hide-scrollbars --window-size=1200,1700 \
		--user-data-dir=$(CURDIR)/$(PICTURES)/profile --screenshot=$(CURDIR)/docs/report-companies.png \
		file://$(CURDIR)/$(PICTURES)/reports/companies/latest.html
	CRM_RECON_SCREENSHOTS=1 $(BIN)/python -m pytest -q -p no:cacheprovider \
		tests/integration/ui/test_review_ui.py::test_review_in_the_browser_then_the_next_run_applies_it

## The benchmark: every step at scale next to the COPY floor and the old approach (docs/benchmarks.md).
## Default 1,000,000 legacy vs ~1,000,000 HubSpot companies; ARGS=--quick for a minute's run.
bench: install
	$(BIN)/python -m crm_reconciliation_dev.benchmarks.pipeline $(ARGS)

## Probable matches: precision/recall on labelled companies, contacts and deals, FEBRL 4 through the contacts DAG
## side by side with Splink (its own FEBRL 4 example) and GoldenMatch (crm_reconciliation_dev/benchmarks/febrl_*.py),
## then 100,000 unlinked vs 1,000,000 HubSpot companies. ARGS=--quick for a few minutes, ARGS=--no-goldenmatch.
bench-matching: install
	$(BIN)/python -m crm_reconciliation_dev.benchmarks.matching --scale $(ARGS)

## Push: records/s against a local HubSpot stand-in limited to 190 requests / 10 s (updates, creations, two objects at once). ARGS=--verify every to compare.
bench-push: install
	$(BIN)/python -m crm_reconciliation_dev.benchmarks.push $(ARGS)

## One huge value: companies reconcile and score with one 10 MB legacy field, next to the same run without it (goal:
## score ≤ 2×). ARGS="--field Addr_Street1" for another field, ARGS="--unbounded --megabytes 1" for the cost before the bound.
bench-huge-value: install
	$(BIN)/python -m crm_reconciliation_dev.benchmarks.huge_value $(ARGS)

## Re-freeze constraints.txt after editing requirements*.txt or overrides.txt (pins already there are kept).
lock: install
	$(BIN)/uv pip compile --python-version 3.11 --no-header requirements-dev.txt --overrides overrides.txt \
		-o constraints.txt
