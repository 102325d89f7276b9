"""The DAG folder as Airflow parses it: ids, task order, schedule, params, retries."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk.exceptions import ParamValidationError

from crm_reconciliation.common.sql_templates import render
from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import CREATE_STAGING_SCRIPTS, RECONCILE_SCRIPTS, SCORE_SCRIPTS, build_dag

DAG_IDS = {"crm_reconcile_companies", "crm_reconcile_contacts", "crm_reconcile_deals", "crm_reconcile_communications"}


@pytest.fixture(scope="module")
def dagbag() -> DagBag:
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_four_dags_without_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == DAG_IDS | {"crm_staging_maintenance", "crm_revert"}


def test_the_revert_dag_takes_an_object_a_run_and_is_a_dry_run_by_default(dagbag):
    dag = dagbag.dags["crm_revert"]
    assert [task.task_id for task in dag.tasks] == ["revert"]
    assert dag.schedule is None
    params = dag.params.dump()
    assert params["dry_run"] is True
    assert params["archive_created"] is False
    assert dag.params.get_param("object_type").schema["enum"] == ["companies", "contacts", "deals", "communications"]


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
def test_contract_shape(dagbag, dag_id):
    dag = dagbag.dags[dag_id]
    assert [task.task_id for task in dag.topological_sort()] == [
        "create_staging",
        "load_bronze",
        "reconcile",
        "score",
        "approve_push",
        "push",
        "report",
    ]
    assert dag.get_task("create_staging").downstream_task_ids == {"load_bronze"}
    assert dag.get_task("reconcile").downstream_task_ids == {"score"}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.schedule == default_registry().get(dag_id.removeprefix("crm_reconcile_")).schedule
    assert set(dag.params) == {
        "bronze_dir",
        "limit",
        "dry_run",
        "min_confidence",
        "push_target",
        "create_missing",
        "create_properties",
        "create_options",
        "link_probable",
        "verify",
        "require_approval",
        "when_busy",
        "allow_snapshot_drop",
        "allow_missing_columns",
    }
    report = dag.get_task("report")
    assert report.trigger_rule == "all_done"  # it runs after a failure too, and then fails the run
    assert report.steps == ["create_staging", "load_bronze", "reconcile", "score", "approve_push", "push"]
    # No argument fixes what a run param decides: the load and the push read the run's params.
    load, push = dag.get_task("load_bronze"), dag.get_task("push")
    loaded = ("bronze_dir", "limit", "allow_snapshot_drop", "allow_missing_columns")
    assert [getattr(load, name) for name in loaded] == [None] * 4
    pushed = set(push.setting_names) & set(dag.params)
    assert len(pushed) == 8, pushed
    assert {name: getattr(push, name) for name in pushed} == dict.fromkeys(pushed)
    assert dag.get_task("score").downstream_task_ids == {"approve_push"}
    assert dag.get_task("approve_push").downstream_task_ids == {"push"}
    for task in dag.tasks:
        assert task.conn_id == "hubspot_postgres"


def test_tasks_retry_with_backoff_and_time_out(monkeypatch):
    monkeypatch.delenv("CRM_RECON_RETRIES", raising=False)
    registry = default_registry()
    dag = build_dag(registry, "deals")
    for task in dag.tasks:
        assert task.retries == registry.defaults.retries
        assert task.retry_delay == timedelta(seconds=registry.defaults.retry_delay_seconds)
        assert task.retry_exponential_backoff
        assert task.execution_timeout == timedelta(minutes=registry.defaults.execution_timeout_minutes)
        assert task.on_failure_callback  # failure summaries: task log, and the alerts_webhook when defined


def test_param_defaults_serve_the_nightly_run(dagbag):
    params = dagbag.dags["crm_reconcile_companies"].params.validate()
    assert params == {
        "bronze_dir": "include/bronze_layer/",
        "limit": None,
        "dry_run": False,
        "min_confidence": 90,
        "push_target": "workflow",
        "create_missing": False,
        "create_properties": False,
        "create_options": False,
        "link_probable": False,
        "verify": "mirror",
        "require_approval": True,
        "when_busy": "wait",
        "allow_snapshot_drop": False,
        "allow_missing_columns": False,
    }


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", 0),
        ("limit", "ten"),
        ("min_confidence", 101),
        ("push_target", "ftp"),
        ("when_busy", "skip"),
        ("dry_run", "yes"),
        ("allow_snapshot_drop", "yes"),
        ("allow_missing_columns", "yes"),
        ("create_missing", "yes"),
    ],
)
def test_invalid_params_are_refused(dagbag, name, value):
    params = copy.deepcopy(dagbag.dags["crm_reconcile_companies"].params)
    with pytest.raises(ParamValidationError, match=name):
        params[name] = value


def test_the_package_is_not_loaded_file_by_file_as_plugins():
    from airflow._shared.module_loading.file_discovery import find_path_from_directory

    found = list(find_path_from_directory(PROJECT_ROOT / "plugins", ".airflowignore"))
    assert not [path for path in found if "/crm_reconciliation/" in path]


@pytest.mark.parametrize("dag_id", sorted(DAG_IDS))
@pytest.mark.parametrize("task_id", ["create_staging", "reconcile", "score"])
def test_airflow_renders_the_sql_as_the_helpers_do(dagbag, dag_id, task_id):
    """What the UI's Rendered Template shows is what the integration tests run.

    Airflow renders these DAGs with its native environment; a template that behaves
    differently there (a macro's output compared as text, say) is caught here.
    """
    task = copy.deepcopy(dagbag.dags[dag_id].get_task(task_id))
    task.render_template_fields({"params": task.dag.params.dump(), "run_id": "render"})
    rendered = [task.sql] if isinstance(task.sql, str) else task.sql
    name = dag_id.removeprefix("crm_reconcile_")
    templates = {
        "create_staging": list(CREATE_STAGING_SCRIPTS),
        "reconcile": list(RECONCILE_SCRIPTS),
        "score": list(SCORE_SCRIPTS),
    }[task_id]
    params = {"object": default_registry().template_params(name)}
    assert [text.strip() for text in rendered] == [render(template, params=params).strip() for template in templates]
