"""Real DAG runs (``dag.test()``) against the embedded PostgreSQL and the bundled sample data.

The expected counts come from pandas reading the same files on its own (an independent
parser), never from the code under test.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pandas as pd
import pytest
from airflow.dag_processing.dagbag import DagBag

from crm_reconciliation.config.paths import INCLUDE_DIR, PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseHook
from crm_reconciliation.report.render import read_report, reports_dir
from crm_reconciliation_dev.demo_mirror import load_demo_mirror

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
SAMPLE_DIR = INCLUDE_DIR / "bronze_layer"
ENCODINGS = ("utf-8-sig", "cp1252")


@pytest.fixture
def mirror(db):
    """A clean database holding the sample HubSpot mirror."""
    load_demo_mirror(db)
    return db


@pytest.fixture(scope="module")
def dags():
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags


def oracle(path, spec) -> dict[str, int]:
    """Counts a careful analyst would get from the file with pandas."""
    for encoding in ENCODINGS:
        try:
            frame = pd.read_csv(
                path,
                sep=None,
                engine="python",
                encoding=encoding,
                dtype=str,
                keep_default_na=False,
                on_bad_lines="skip",
            )
            break
        except UnicodeDecodeError:
            continue
    frame.columns = [column.strip().lower() for column in frame.columns]
    complete = frame[frame.iloc[:, -1].notna()] if frame.iloc[:, -1].isna().any() else frame
    ids = complete[spec.legacy_id_column.lower()].str.strip()
    numeric = ids.str.fullmatch(r"\d+(\.0+)?")
    kept = complete[numeric].assign(_id=ids[numeric].str.split(".").str[0].astype(int)).drop_duplicates("_id")
    deleted = kept[spec.deleted_column.lower()].str.strip() != ""
    return {
        "loaded": len(kept),
        "deleted": int(deleted.sum()),
        "first_name_by_id": dict(zip(kept["_id"], kept[spec.mappings[0].source.lower()], strict=True)),
    }


def log_row(db, name: str, run_id: str) -> dict:
    cursor = db.execute(
        "select rows_read, rows_loaded, rows_rejected, rows_deleted, source, snapshot_date, outcome, message"
        " from staging.reconciliation_log where object_type = %s and run_id = %s and step = 'load_bronze'",
        (name, run_id),
    )
    names = [column.name for column in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


@pytest.mark.parametrize("name", list(REGISTRY.objects))
def test_each_dag_loads_its_sample_file(airflow_db, mirror, dags, name):
    spec = REGISTRY.get(name)
    run = dags[spec.dag_id].test()
    assert str(run.state) == "success"

    expected = oracle(SAMPLE_DIR / spec.csv_file, spec)
    logged = log_row(mirror, name, run.run_id)
    assert logged["outcome"] == "success"
    assert logged["rows_loaded"] == expected["loaded"]
    assert logged["rows_deleted"] == expected["deleted"]
    assert logged["rows_read"] == logged["rows_loaded"] + logged["rows_rejected"]
    rejects = mirror.execute("select count(*) from staging.bronze_rejects where object_type = %s", (name,)).fetchone()[
        0
    ]
    assert rejects == logged["rows_rejected"]

    id_column, first_column = spec.legacy_id_column.lower(), spec.mappings[0].source.lower()
    loaded = dict(
        mirror.execute(
            f"select staging.crm_legacy_id({id_column}), coalesce({first_column}, '') from bronze.{spec.bronze_table}"
        )
    )
    assert loaded == expected["first_name_by_id"]
    steps = {
        row[0]
        for row in mirror.execute(
            "select step from staging.reconciliation_log where run_id = %s and outcome = 'success'", (run.run_id,)
        )
    }
    assert steps == {"create_staging", "load_bronze", "reconcile", "score", "approve_push", "push", "report"}
    # The sample is built so that every status occurs.
    statuses = {
        row[0] for row in mirror.execute(f"select distinct reconciliation_status from staging.{spec.staging_table}")
    }
    assert statuses == {"matched", "conflict", "probable", "new", "rejected"}
    # The page the UI serves (from the warehouse), the run's own and the latest; the worker's copy is the same.
    report, has_latest = read_report(WarehouseHook(), name, run.run_id)
    assert has_latest
    assert report is not None, "no report in staging.reports"
    assert read_report(WarehouseHook(), name, "latest")[0] == report
    assert (reports_dir() / name / "latest.html").read_text(encoding="utf-8") == report
    for status, count in mirror.execute(
        f"select reconciliation_status, count(*) from staging.{spec.staging_table} group by 1"
    ):
        assert f"<b>{count}</b>{status}</div>" in report
    assert report.count("<svg") >= 3  # status and confidence charts, match weights, one waterfall per top row
    for fetching in ("src=", "href=", "<link", "<script", "@import", "url("):  # nothing fetched: works offline
        assert fetching not in report
    live = mirror.execute(f"select count(*) from bronze.{spec.bronze_table}_live").fetchone()[0]
    assert mirror.execute(f"select count(*) from staging.{spec.staging_table}").fetchone()[0] == live


def _bronze_snapshot(db) -> list[tuple]:
    return db.execute(
        "select comp_companyid, comp_name, _is_deleted, comp_secterr, _source_line, _snapshot_date"
        " from bronze.company order by 1"
    ).fetchall()


def _staging_rows(db) -> dict[int, tuple]:
    """Staging rows without their timestamps and the id of the run that wrote them: what must not
    change when a date is run again."""
    cursor = db.execute("select * from staging.companies_reconciliation")
    names = [column.name for column in cursor.description]
    keep = [
        index for index, name in enumerate(names) if name not in ("created_at", "last_updated", "pushed_at", "run_id")
    ]
    snapshot = names.index("snapshot_date")
    return {row[0]: (str(row[snapshot]), *[row[index] for index in keep]) for row in cursor}


def test_dated_snapshot_is_used_and_a_rerun_gives_the_same_tables(airflow_db, mirror, dags, tmp_path):
    dated = tmp_path / "2026-03-01"
    dated.mkdir()
    shutil.copy(SAMPLE_DIR / "Bronze_Company.csv", dated / "Bronze_Company.csv")
    with (dated / "Bronze_Company.csv").open("a", encoding="utf-8") as handle:
        handle.write("777777,Ajoutée le 1er mars SAS,,,,,,,,,,,,,,,,,,\r\n")
    dag = dags["crm_reconcile_companies"]
    logical_date = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)

    run = dag.test(logical_date=logical_date, run_conf={"bronze_dir": str(tmp_path)})
    assert str(run.state) == "success"
    logged = log_row(mirror, "companies", run.run_id)
    assert logged["source"] == str(dated / "Bronze_Company.csv")
    assert str(logged["snapshot_date"]) == "2026-03-01"
    first = _bronze_snapshot(mirror)
    assert ("777777", "Ajoutée le 1er mars SAS") in {(row[0], row[1]) for row in first}

    staged = _staging_rows(mirror)
    again = dag.test(logical_date=logical_date, run_conf={"bronze_dir": str(tmp_path)})
    assert str(again.state) == "success"
    assert _bronze_snapshot(mirror) == first
    assert _staging_rows(mirror) == staged
    assert {row[0] for row in staged.values()} == {"2026-03-01"}  # the snapshot each row came from


def test_limit_param_reaches_the_loader(airflow_db, mirror, dags):
    run = dags["crm_reconcile_contacts"].test(run_conf={"limit": 5})
    assert str(run.state) == "success"
    assert log_row(mirror, "contacts", run.run_id)["rows_read"] == 5


@pytest.mark.parametrize(("typed", "meant"), [("dryrun", "dry_run"), ("bronze-dir", "bronze_dir")])
def test_a_mistyped_run_param_fails_the_run_before_any_work(airflow_db, mirror, dags, typed, meant):
    run = dags["crm_reconcile_deals"].test(run_conf={typed: True})
    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["create_staging"] == "failed"  # at once: a wrong setting is not retried
    assert {states[task] for task in ("load_bronze", "reconcile", "score", "approve_push", "push")} == {
        "upstream_failed"
    }
    # Nothing was done: not even the staging schema (the message is the task's error, named in
    # test_params: "unknown run parameter 'dryrun' (did you mean 'dry_run'?)").
    assert mirror.execute("select to_regclass('staging.reconciliation_log')").fetchone()[0] is None


def test_a_mistyped_run_param_is_named_in_the_step_log_and_the_report(airflow_db, mirror, dags):
    deals = dags["crm_reconcile_deals"]
    assert str(deals.test().state) == "success"  # a warehouse a run has set up

    run = deals.test(run_conf={"dryrun": True})

    assert str(run.state) == "failed"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert (states["create_staging"], states["load_bronze"], states["report"]) == (
        "failed",
        "upstream_failed",
        "failed",
    )
    message = "unknown run parameter 'dryrun' (did you mean 'dry_run'?)"
    outcome, logged = mirror.execute(
        "select outcome, message from staging.reconciliation_log where run_id = %s and step = 'create_staging'",
        [run.run_id],
    ).fetchone()
    assert outcome == "failed"
    assert logged.startswith(message)
    (page,) = mirror.execute("select html from staging.reports where run_id = %s", [run.run_id]).fetchone()
    assert message.replace("'", "&#39;") in page


def test_a_missing_file_fails_the_task_and_says_which(airflow_db, mirror, dags, tmp_path):
    run = dags["crm_reconcile_deals"].test(run_conf={"bronze_dir": str(tmp_path)})
    assert str(run.state) == "failed"
    logged = log_row(mirror, "deals", run.run_id)
    assert logged["outcome"] == "failed"
    assert logged["source"] == str(tmp_path / "Bronze_Opportunity.csv")
    assert logged["message"] == f"{tmp_path / 'Bronze_Opportunity.csv'}: file not found"
