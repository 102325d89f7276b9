"""The load_bronze operator outside a DAG run: which failures Airflow may retry."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowFailException

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.load.dialect import BronzeFileError
from crm_reconciliation.load.loader import mapped_columns
from crm_reconciliation.operators.bronze_load import BronzeLoadOperator
from tests.helpers import create_staging

pytestmark = pytest.mark.integration

CONTEXT = {"logical_date": datetime(2026, 4, 2, 1, tzinfo=UTC), "run_id": "operator_test", "dag_run": None}


@pytest.fixture
def operator(db, tmp_path):
    create_staging(db, default_registry().get("companies"))
    return BronzeLoadOperator(task_id="load_bronze", object_type="companies", bronze_dir=str(tmp_path), limit=None)


def test_too_many_rejects_fail_without_retry(operator, tmp_path, db):
    (tmp_path / "Bronze_Company.csv").write_text("Comp_CompanyId,Comp_Name,Comp_Deleted\n1,a,\nx,b,\n")
    with pytest.raises(AirflowFailException, match="rows rejected"):
        operator.execute(CONTEXT)
    outcome, message = db.execute(
        "select outcome, message from staging.reconciliation_log where run_id = 'operator_test'"
    ).fetchone()
    assert outcome == "failed"
    assert "staging.bronze_rejects" in message


def test_a_missing_file_stays_retryable(operator, tmp_path):
    with pytest.raises(BronzeFileError, match="file not found") as error:
        operator.execute(CONTEXT)
    assert error.value.retryable


def test_success_returns_the_counts_for_xcom(operator, tmp_path):
    (tmp_path / "Bronze_Company.csv").write_text("Comp_CompanyId;Comp_Name;Comp_Deleted\n1;a;\n2;b;1\n")
    returned = operator.execute(CONTEXT)
    assert set(returned.pop("seconds")) == {"copy", "checks_and_commit"}
    assert returned.pop("method") == "copy"
    assert returned == {
        "rows_read": 2,
        "rows_loaded": 2,
        "rows_rejected": 0,
        "rows_deleted": 1,
        "source_file": str(tmp_path / "Bronze_Company.csv"),
        "snapshot_date": "2026-04-02",
    }


def _shrink(operator, tmp_path, db):
    """Load four live companies, then an export holding one of them."""
    (tmp_path / "Bronze_Company.csv").write_text("Comp_CompanyId;Comp_Name;Comp_Deleted\n1;a;\n2;b;\n3;c;\n4;d;\n")
    operator.execute(CONTEXT)
    (tmp_path / "Bronze_Company.csv").write_text("Comp_CompanyId;Comp_Name;Comp_Deleted\n1;a;\n")


def test_a_shrinking_snapshot_is_refused_and_logged(operator, tmp_path, db):
    _shrink(operator, tmp_path, db)
    with pytest.raises(AirflowFailException, match="allow_snapshot_drop"):
        operator.execute({**CONTEXT, "run_id": "shrinking"})
    assert db.execute("select count(*) from bronze.company").fetchone()[0] == 4  # the previous snapshot kept
    outcome, message = db.execute(
        "select outcome, message from staging.reconciliation_log where run_id = 'shrinking'"
    ).fetchone()
    assert outcome == "failed"
    assert "max_drop_rate" in message


def test_allow_snapshot_drop_lets_one_run_through(operator, tmp_path, db, capfd):
    _shrink(operator, tmp_path, db)
    operator.allow_snapshot_drop = True  # as the param renders it
    assert operator.execute({**CONTEXT, "run_id": "allowed"})["rows_loaded"] == 1
    assert "allow_snapshot_drop is on" in "".join(capfd.readouterr())  # the task log (structlog) writes there
    assert db.execute("select outcome from staging.reconciliation_log where run_id = 'allowed'").fetchone() == (
        "success",
    )


def test_vanished_mapped_columns_fail_without_retry_until_allowed(operator, tmp_path, db, caplog):
    path = tmp_path / "Bronze_Company.csv"
    path.write_text("Comp_CompanyId;Comp_Name;Addr_City;Comp_Deleted\n1;a;Lyon;\n2;b;Nice;\n")
    operator.execute(CONTEXT)
    path.write_text("Comp_CompanyId;Comp_Name;ville;Comp_Deleted\n1;a;Lyon;\n2;b;Nice;\n")
    with pytest.raises(AirflowFailException, match=r"lacks the mapped column\(s\) Addr_City, .*allow_missing_columns"):
        operator.execute({**CONTEXT, "run_id": "vanished"})
    assert db.execute("select count(addr_city) from bronze.company").fetchone() == (2,)  # the previous one kept
    # The step log names them for the report: every mapped column the header lacks, and the one refused.
    absent = [column for column in mapped_columns(operator.spec) if column != "Comp_Name"]
    outcome, details = db.execute(
        "select outcome, details from staging.reconciliation_log where run_id = 'vanished'"
    ).fetchone()
    assert (outcome, details) == (
        "failed",
        {"missing_columns": absent, "missing_columns_refused": {"Addr_City": 2}},
    )
    operator.allow_missing_columns = True  # as the param renders it
    with caplog.at_level(logging.WARNING):
        assert operator.execute({**CONTEXT, "run_id": "allowed"})["rows_loaded"] == 2
    assert "allow_missing_columns is on" in caplog.text  # the loader's log, in the task log
    outcome, details = db.execute(
        "select outcome, details from staging.reconciliation_log where run_id = 'allowed'"
    ).fetchone()
    assert (outcome, details["missing_columns"]) == ("success", absent)
