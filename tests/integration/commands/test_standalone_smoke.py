"""Full stack: the README's UI command (airflow standalone on 127.0.0.1), driven as the UI does.

Gets a token, unpauses and triggers crm_reconcile_companies through /api/v2 with a run
configuration, waits for success, and fetches the run's report through the plugin (which
refuses callers without a token).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from crm_reconciliation.config.paths import INCLUDE_DIR
from crm_reconciliation_dev import local_env
from tests.helpers import call, run_command, running_ui

pytestmark = pytest.mark.integration

DAG_ID = "crm_reconcile_companies"


def test_trigger_through_the_api_and_read_the_report(tmp_path):
    with running_ui({"CRM_RECON_REPORTS_DIR": str(tmp_path / "reports")}) as ui:
        base, token = ui.base, ui.token
        assert call(base, "PATCH", f"/api/v2/dags/{DAG_ID}", token, {"is_paused": False})[0] == 200
        # The trigger form's checks: a value out of range is refused before any run, naming the param.
        status, body = call(
            base, "POST", f"/api/v2/dags/{DAG_ID}/dagRuns", token, {"logical_date": None, "conf": {"limit": 0}}
        )
        assert status == 400, body
        assert "limit" in body
        status, body = call(
            base,
            "POST",
            f"/api/v2/dags/{DAG_ID}/dagRuns",
            token,
            {"logical_date": None, "conf": {"min_confidence": 95, "push_target": "hubspot"}},
        )
        assert status == 200, body
        run_id = json.loads(body)["dag_run_id"]
        state, deadline = None, time.monotonic() + 300
        while state not in ("success", "failed") and time.monotonic() < deadline:
            time.sleep(2)
            state = json.loads(call(base, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", token)[1])["state"]
        assert state == "success"

        quoted = urllib.request.quote(run_id, safe="")
        status, report = call(base, "GET", f"/crm-reports/{DAG_ID}/{quoted}", token)
        assert status == 200
        assert "<h1>Reconciliation of companies</h1>" in report
        assert call(base, "GET", f"/crm-reports/{DAG_ID}/{quoted}")[0] in (401, 403)
        status, links = call(base, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{quoted}/taskInstances/report/links", token)
        assert status == 200, links
        assert f"/crm-reports/{DAG_ID}/{quoted}" in links

        backfill_two_dates(base, token, ui.airflow_home, ui.database, tmp_path)


def backfill_two_dates(base: str, token: str, airflow_home: Path, database: str, tmp_path: Path) -> None:
    """``airflow backfill create`` over two dated snapshots: each date reads its own folder, and a
    date run again leaves the same staging rows."""
    import psycopg

    bronze = tmp_path / "bronze"
    for day, extra in (("2026-03-01", None), ("2026-03-02", "888888,Ajoutée le 2 mars SAS")):
        (bronze / day).mkdir(parents=True)
        shutil.copy(INCLUDE_DIR / "bronze_layer" / "Bronze_Company.csv", bronze / day / "Bronze_Company.csv")
        if extra:
            with (bronze / day / "Bronze_Company.csv").open("a", encoding="utf-8") as handle:
                handle.write(extra + "," * 18 + "\r\n")
    cli_environment = {**os.environ, **local_env.airflow_environment(airflow_home, database)}

    def create_backfill(from_date: str, *options: str) -> Any:
        command = ["backfill", "create", "--dag-id", DAG_ID, "--from-date", from_date, "--to-date"]
        command += ["2026-03-02T23:00:00", "--max-active-runs", "1"]
        command += ["--dag-run-conf", json.dumps({"bronze_dir": str(bronze)}), *options]
        return run_command([sys.executable, "-m", "airflow", *command], env=cli_environment, timeout=120)

    def backfills_finished() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            backfills = json.loads(call(base, "GET", f"/api/v2/backfills?dag_id={DAG_ID}", token)[1])["backfills"]
            if backfills and all(backfill["completed_at"] for backfill in backfills):
                return
            time.sleep(2)
        raise AssertionError("the backfill did not finish")

    def backfill(from_date: str, *options: str) -> None:
        # SQLite refuses a second writer at once, busy timeout or not, when a reader upgrades: the
        # CLI beside a busy scheduler is told "database is locked" on a loaded machine, and tries again.
        # A try told so may still have created its backfill (seen once: the next try found it
        # running): then the next try waits for it to finish and creates the backfill anew.
        locked = False
        for _ in range(4):
            result = create_backfill(from_date, *options)
            output = result.stderr + result.stdout
            if result.returncode == 0:
                break
            if locked and "AlreadyRunningBackfill" in output:
                backfills_finished()
            elif "database is locked" in output:
                locked = True
                time.sleep(5)
            else:
                break
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        backfills_finished()
        runs = json.loads(call(base, "GET", f"/api/v2/dags/{DAG_ID}/dagRuns?run_type=backfill", token)[1])
        assert {run["state"] for run in runs["dag_runs"]} == {"success"}, runs
        assert len(runs["dag_runs"]) == 2, runs

    def staging() -> list[tuple]:
        with psycopg.connect(database) as connection:
            return connection.execute(
                "select legacy_company_id, hubspot_company_id, reconciliation_status, match_confidence,"
                " properties_to_update, snapshot_date::text from staging.companies_reconciliation order by 1"
            ).fetchall()

    def sources() -> dict[str, str]:
        with psycopg.connect(database) as connection:
            return dict(
                connection.execute(
                    "select snapshot_date::text, source from staging.reconciliation_log"
                    " where object_type = 'companies' and step = 'load_bronze'"
                    " and snapshot_date between '2026-03-01' and '2026-03-02'"
                ).fetchall()
            )

    backfill("2026-03-01")
    assert sources() == {day: str(bronze / day / "Bronze_Company.csv") for day in ("2026-03-01", "2026-03-02")}
    first = staging()
    assert {row[5] for row in first} == {"2026-03-02"}  # the latest snapshot, and it says so
    assert 888888 in {row[0] for row in first}
    backfill("2026-03-02", "--reprocess-behavior", "completed")  # the same date again
    assert staging() == first
