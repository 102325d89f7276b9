"""What every object step shares: its registry entry, the warehouse hook and a step-log row on
success and on failure, so that no operator writes its own bookkeeping."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.push.run import LEDGER_TEMPLATES

BUSY_RECHECK_SECONDS = 30


class ObjectStep:
    """Mixed into an operator of one registry object (``object_type``) on the warehouse ``conn_id``.

    Its SQL templates are rendered by Airflow (``template_ext``), with ``params.object`` (the
    registry entry's template parameters) and ``present`` (the referenced objects' staging
    tables that exist) in their context, so the Rendered Template tab shows what the step runs.
    """

    template_ext: Sequence[str] = (".sql",)
    uses_references = False  # whether its templates need ``present`` (a database lookup at render)
    present: Sequence[str] = ()
    _rendered = False

    object_type: str
    conn_id: str
    task_id: str

    @cached_property
    def warehouse(self) -> Any:
        from crm_reconciliation.hooks.warehouse import WarehouseHook

        return WarehouseHook(postgres_conn_id=self.conn_id)

    @cached_property
    def registry(self) -> Any:
        from crm_reconciliation.config.registry import default_registry

        return default_registry()

    @property
    def spec(self) -> Any:
        return self.registry.get(self.object_type)

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        from crm_reconciliation.common.sql_templates import environment

        # The SQL in the project's own environment (plain text, the filters the templates use), the
        # same one the loader and the commands render with; the other fields as Airflow renders them.
        sql_env = environment()
        jinja_env = jinja_env or (self.get_template_env() if self.has_dag() else sql_env)  # type: ignore[attr-defined]
        self.object_type = self.render_template(self.object_type, context, jinja_env)  # type: ignore[attr-defined]
        extra: dict[str, Any] = {}
        if self.object_type in self.registry.objects:  # not for a step over every object (maintenance)
            params = self.registry.template_params(self.object_type)
            extra["params"] = {**context["params"], "object": params}
        extra.update(self.template_context())
        if self.uses_references:
            extra["present"] = self.warehouse.existing_tables(
                [m["reference"]["staging_table"] for m in params["mappings"] if m["reference"]]
            )
        full = {**context, **extra}
        others = [name for name in self.template_fields if name != "sql"]  # type: ignore[attr-defined]
        for name in others:  # Airflow's public renderer, field by field (a field unset is None)
            setattr(self, name, self.render_template(getattr(self, name), full, jinja_env))  # type: ignore[attr-defined]
        if "sql" in self.template_fields:  # type: ignore[attr-defined]
            self.sql = self.render_template(self.sql, full, sql_env)  # type: ignore[attr-defined]
        self.present = extra.get("present", [])
        self._rendered = True

    def template_context(self) -> dict[str, Any]:
        """More names for this step's templates (beyond ``params.object`` and ``present``)."""
        return {}

    def ensure_rendered(self, context: Any) -> None:
        """Render now, with the DAG params' defaults, when Airflow did not (``execute`` called
        directly, as the revert command does)."""
        if not self._rendered:
            from crm_reconciliation.config.params import run_param_defaults

            context.setdefault("params", run_param_defaults())
            self.render_template_fields(context)

    def run_param(self, context: Any, name: str) -> Any:
        """The operator's own ``name`` when it was given one, else the run's param."""
        value = getattr(self, name, None)
        return context["params"].get(name) if value is None else value

    def hold_object(self, context: Any) -> bool:
        """Claim the object for this run (see ``common.runs``); a step run outside its object's DAG
        (the revert, the maintenance DAG, a test calling ``execute``) holds nothing and returns False.
        """
        from crm_reconciliation.common.runs import ObjectBusy, claim

        if context.get("dag_run") is None or not self.has_dag() or self.object_type not in self.registry.objects:
            return False
        if self.dag_id != self.spec.dag_id:  # type: ignore[attr-defined]
            return False
        ti = context["ti"]

        def is_active(dag_id: str, run_id: str) -> bool:
            return ti.get_dr_count(dag_id=dag_id, run_ids=[run_id], states=["queued", "running"]) > 0

        try:
            claim(self.warehouse, self.object_type, self.dag_id, context["run_id"], is_active)  # type: ignore[attr-defined]
        except ObjectBusy as busy:
            return self.when_busy(context, busy)
        return True

    def when_busy(self, context: Any, busy: Exception) -> bool:
        """Another run holds the object: wait (rescheduled, no worker slot kept) or fail, as the
        run's ``when_busy`` param says."""
        from datetime import UTC, datetime, timedelta

        from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException

        if context["params"].get("when_busy") == "fail":
            raise AirflowFailException(f"{busy}; this run's when_busy is fail") from busy
        self.log.info("%s; waiting (when_busy is wait), checked again in %d s", busy, BUSY_RECHECK_SECONDS)  # type: ignore[attr-defined]
        raise AirflowRescheduleException(datetime.now(UTC) + timedelta(seconds=BUSY_RECHECK_SECONDS)) from busy

    def upstream_steps(self) -> set[str]:
        return set(self.get_flat_relative_ids(upstream=True))  # type: ignore[attr-defined]

    def check_own_tables(self, context: Any) -> None:
        """Fail without retry when a table this step reads was last written by another run."""
        from airflow.sdk.exceptions import AirflowFailException

        from crm_reconciliation.common.runs import TablesOfAnotherRun, check_own_tables

        try:
            check_own_tables(self.warehouse, self.object_type, context["run_id"], self.upstream_steps())
        except TablesOfAnotherRun as error:
            raise AirflowFailException(str(error)) from error

    @contextmanager
    def step_log(self, context: Any, **values: Any) -> Iterator[Any]:
        """The step's row in ``staging.reconciliation_log``: 'success' with what it recorded, else 'failed'."""
        with self.warehouse.step(
            object_type=self.object_type, run_id=context["run_id"], step=self.task_id, **values
        ) as step:
            yield step


class ObjectStepOperator(ObjectStep, BaseOperator):
    """An object step: ``execute_step`` runs inside the step log.

    :param object_type: the registry object the step works on.
    :param conn_id: the warehouse connection.
    """

    # A run conf key the DAG has no param for fails the step before any work (the report, which
    # says what happened to the run, still runs).
    checks_run_conf = True

    def __init__(self, *, object_type: str, conn_id: str = CONN_ID, **kwargs: Any):
        super().__init__(**kwargs)
        self.object_type = object_type
        self.conn_id = conn_id

    def execute(self, context: Any) -> Any:
        from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

        from crm_reconciliation.config.errors import NotRetryable
        from crm_reconciliation.config.params import check_run_conf

        self.ensure_rendered(context)
        try:
            dag_run = context.get("dag_run")
            if dag_run is not None and self.has_dag() and self.checks_run_conf:
                try:
                    check_run_conf(dag_run.conf, self.dag.params)
                except NotRetryable as refused:
                    with self.step_log(context):  # the run's report names it (when the step log exists)
                        raise refused from None
            # Before the step log: a step that waits for another run has not started.
            held = self.hold_object(context)
            with self.step_log(context) as step:
                if held:
                    self.check_own_tables(context)
                return self.execute_step(context, step)
        except (NotRetryable, AirflowNotFoundException) as error:
            # A refusal, a wrong setting or a missing connection fails the same way on every try.
            raise AirflowFailException(str(error)) from error

    def execute_step(self, context: Any, step: Any) -> Any:
        raise NotImplementedError


class PushSelection(ObjectStep):
    """What the push and its approval gate share: the push's settings (``push.settings``: these
    operator arguments, None where unset, over the run's params over the registry's defaults),
    built once per task; ``sql`` holds every push template, rendered by Airflow (what the Rendered
    Template tab shows)."""

    push_fields: Sequence[str] = ("push_target", "dry_run", "min_confidence", "create_missing", "link_probable", "sql")
    setting_names: Sequence[str] = ("push_target", "dry_run", "min_confidence", "create_missing", "link_probable")
    uses_references = True

    def init_selection(self, target_conn_ids: dict[str, str] | None, **given: Any) -> None:
        for name, value in given.items():
            setattr(self, name, value)
        self.target_conn_ids = target_conn_ids
        self.sql = {name: f"push/{name}.sql" for name in (*LEDGER_TEMPLATES, "associations")}

    def push_settings(self, context: Any) -> Any:
        from crm_reconciliation.push.settings import PushSettings

        given = {name: getattr(self, name) for name in self.setting_names}
        return PushSettings.build(self.registry, context["params"], target_conn_ids=self.target_conn_ids, **given)

    def push_sql(self) -> dict[str, str | None]:
        """The rendered templates; no associations when none of the objects referenced has a table."""
        return {**self.sql, "associations": self.sql["associations"] if self.present else None}
