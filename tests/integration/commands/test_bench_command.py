"""``make bench`` at a tiny size: the benchmark must keep running every step it reports on.

Figures are not asserted (the machine is shared); what is asserted is that each table holds
the rows the run was asked for, measured through the real tasks.
"""

from __future__ import annotations

import os
import re
import sys

import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from tests.helpers import run_command

pytestmark = pytest.mark.integration

STEPS = ("create_staging", "load_bronze", "reconcile", "score", "approve_push", "push", "report")


def _table_rows(text: str, heading: str) -> list[list[str]]:
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("|---")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]


def test_bench_runs_every_step_next_to_the_floor_and_the_old_approach(tmp_path):
    output = tmp_path / "benchmarks.md"
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    result = run_command(
        [
            sys.executable,
            "-m",
            "crm_reconciliation_dev.benchmarks.pipeline",
            "--companies",
            "1500",
            "--small",
            "300",
            "--old-subset",
            "400",
            "--write",
            str(output),
        ],
        timeout=300,
        env=environment,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    written = output.read_text(encoding="utf-8")
    assert written.startswith("# Benchmarks")
    assert result.stdout.strip() in written

    steps = _table_rows(written, "## Steps")
    assert [(row[0], row[1]) for row in steps] == [("companies", step) for step in STEPS]
    by_step = {row[1]: row for row in steps}
    assert by_step["load_bronze"][2] == "1,500"  # every generated record read
    for row in steps:
        assert float(row[3]) > 0
        assert float(row[5]) > 50

    side = _table_rows(written, "## Load, side by side")
    assert [row[1].split(" (")[0] for row in side] == [
        "floor: bare COPY into an unlogged table",
        "load_bronze",
        "load_bronze, record by record",
        "old: read_csv + DataFrame.to_sql",
        "old: read_csv + executemany",
    ]
    assert "timed on 400, scaled" in side[3][1]
    assert re.search(r"load_bronze took the `copy` path; its phases: copy [0-9.]+ s", written)

    memory = _table_rows(written, "## Memory")
    assert [(row[1], row[2], row[4]) for row in memory if row[1] == "load_bronze"] == [("load_bronze", "300", "1,500")]

    parsed = {row[0]: row for row in _table_rows(written, "## DAG parse time")}
    assert parsed["dags/crm_reconcile.py"][1] == str(len(default_registry().objects))
    assert parsed["dags/crm_staging_maintenance.py"][1] == "1"
