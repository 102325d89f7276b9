"""Write the run's reconciliation report: one self-contained HTML page per object."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from airflow.sdk import BaseOperator, BaseOperatorLink

from crm_reconciliation.common.runs import release, run_steps, tables_owners
from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator
from crm_reconciliation.report.render import (
    EMPTY_REPORT,
    STATUSES,
    render_report,
    step_outcomes,
    steps_summary,
    write_report,
)


class ReportLink(BaseOperatorLink):
    """The run's report, served by the crm_reconciliation plugin behind Airflow's own login."""

    name = "Reconciliation report"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        return f"/crm-reports/{ti_key.dag_id}/{quote(ti_key.run_id, safe='')}"


# What the page shows when the staging tables cannot be read at all.


class ReportOperator(ObjectStepOperator):
    """Counts by status, the match-weight and confidence histograms, top conflicts and probable
    matches with their field differences and match-weight waterfalls, the run's learned match
    parameters, rejects by reason, the push outcome and every step's outcome, stored in the
    warehouse (``staging.reports``: every api-server serves it, whichever worker wrote it) with a
    copy in this machine's ``reports/<object>/<run id>.html`` (and ``latest.html``), summarised in
    the task log. The object's latest page is the one stored last by a run whose page shows the
    object's tables: not a run that never held the object, nor one whose tables a later run rewrote.

    It runs after a failure upstream too (trigger rule all_done), writes the page, then fails
    without retry if a step of the run did not succeed, so that the run's state tells the truth.

    :param object_type: the registry object reported on.
    :param steps: the run's steps whose success the report vouches for.
    :param conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#efe3f7"
    operator_extra_links = (ReportLink(),)

    def __init__(self, *, object_type: str, steps: Sequence[str] = (), conn_id: str = CONN_ID, **kwargs: Any):
        super().__init__(object_type=object_type, conn_id=conn_id, **kwargs)
        self.steps = list(steps)
        self.sql = ["report/report.sql", "report/push.sql", "report/mirror_guard.sql", "report/missing_columns.sql"]

    def execute_step(self, context: Any, step: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        spec = self.spec
        run_id = context["run_id"]
        try:
            report, problem, owner = self._read_own(run_id)
        finally:
            if self._held:
                release(self.warehouse, spec.name, run_id)
        steps = step_outcomes(self.steps, [row for row in report["steps"] if row["step"] != self.task_id])
        html = self._page(run_id, report, steps, problem, owner)
        # A page showing none of the object's tables is not the latest picture of it.
        path = write_report(self.warehouse, spec.name, spec.dag_id, run_id, html, latest=self._current)
        counts = ", ".join(f"{status} {report['by_status'].get(status, 0)}" for status in STATUSES)
        where = f"/crm-reports/{spec.dag_id}/{quote(run_id, safe='')}"
        self.log.info(
            "Report for %s: %s; push %s; stored in staging.reports (%s), copy at %s",
            spec.name,
            counts,
            report.get("push") or "none",
            where,
            path or "none (the reports folder cannot be written)",
        )
        step.record(details={"path": path and str(path), "page": where, "by_status": report["by_status"]})
        if problem:
            raise AirflowFailException(f"{problem} (report: {where})")
        if any(row["outcome"] not in ("success", "skipped") for row in steps):
            raise AirflowFailException(f"Run {run_id} did not succeed: {steps_summary(steps)} (report: {where})")
        return {"path": path and str(path), "page": where, "by_status": report["by_status"]}

    def _page(
        self, run_id: str, report: dict[str, Any], steps: list[dict[str, Any]], problem: str | None, owner: str | None
    ) -> str:
        spec = self.spec
        return render_report(
            report,
            steps=steps,
            problem=problem,
            owner=owner,
            object=spec.name,
            run_id=run_id,
            legacy_table=spec.legacy_table,
            hubspot_table=spec.hubspot_table,
            comparisons=[comparison.name for comparison in spec.model.comparisons],
            match_threshold=spec.model.match_threshold,
            probable_min_confidence=spec.matching.probable_min_confidence if spec.matching else None,
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        )

    checks_run_conf = False  # a run refused for its conf gets its page, naming why

    def hold_object(self, context: Any) -> bool:
        self._busy: Exception | None = None
        self._held = super().hold_object(context)
        return self._held

    def when_busy(self, context: Any, busy: Exception) -> bool:
        """A report never waits: its run did not hold the object, and the page says so."""
        self._busy = busy
        return False

    def upstream_steps(self) -> set[str]:
        return set()  # the report checks whose tables it reads itself (``_read_own``), and says so

    def _read_own(self, run_id: str) -> tuple[dict[str, Any], str | None, str | None]:
        """The report's data, why the run failed, and whose results the tables hold when not this run's.

        Tables rewritten by another run after this one wrote them are not shown (they are not
        this run's); tables this run never wrote (its steps failed first) are shown, named as the
        earlier run's.
        """
        self._current = True  # the page shows the object's tables (or why they cannot be read)
        if self._busy is not None:
            self._current = False
            busy = f"{self._busy}: this run's steps did not run, and that run's tables are not shown"
            return {**EMPTY_REPORT, "steps": self._steps_only(run_id)}, busy, None
        report, problem = self._read(run_id)
        if problem:
            return report, problem, None
        writers = tables_owners(self.warehouse, self.spec.name)
        done = {row["step"] for row in report["steps"] if row["outcome"] == "success"}
        rewritten = sorted(step for step, owner in writers.items() if owner != run_id and step in done)
        if rewritten:
            named = ", ".join(f"{step} by run {writers[step]}" for step in rewritten)
            self._current = False
            problem = f"The {self.spec.name} tables were rewritten after this run ({named}): they are not shown"
            return {**EMPTY_REPORT, "steps": report["steps"]}, problem, None
        others = sorted({owner for owner in writers.values() if owner != run_id})
        return report, None, ", ".join(others) or None

    def _steps_only(self, run_id: str) -> list[dict[str, Any]]:
        return run_steps(self.warehouse, self.spec.name, run_id)

    def _read(self, run_id: str) -> tuple[dict[str, Any], str | None]:
        """The report's data, or an empty one and why when the staging tables do not exist (yet)."""
        from crm_reconciliation.common.sql_templates import render
        from crm_reconciliation.hooks.warehouse import InvalidSchemaName, UndefinedTable

        registry, spec = self.registry, self.spec

        def read(match_parameters: bool) -> Any:
            # Rendered by Airflow; rendered here again only for a staging that predates match_parameters.
            sql = self.sql
            if not match_parameters:
                params = {"object": registry.template_params(spec.name), "match_parameters": False}
                sql = [render("report/report.sql", params=params), *self.sql[1:]]
            # The object's lock: a report never mixes the tables of two runs' writes.
            binds = {"object_type": spec.name, "run_id": run_id, "mapping_version": registry.mapping_version(spec.name)}
            return self.warehouse.run_script(sql, binds, lock=spec.name)

        try:
            try:
                report = read(match_parameters=True)
            except UndefinedTable as error:
                if "match_parameters" not in (error.diag.message_primary or str(error)):
                    raise
                # A database whose staging predates the learned parameters: the rest still reads.
                report = {**(read(match_parameters=False) or {}), "parameters": None}
        except (UndefinedTable, InvalidSchemaName) as error:
            primary = error.diag.message_primary or str(error)
            return dict(EMPTY_REPORT), (
                f"The staging tables of {spec.name} cannot be read ({primary}): create_staging did not complete, "
                "so no step of this run could be recorded"
            )
        return {**EMPTY_REPORT, **(report or {})}, None
