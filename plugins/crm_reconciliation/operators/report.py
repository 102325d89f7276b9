"""Write the run's reconciliation report: one self-contained HTML page per object."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator, BaseOperatorLink

STATUSES = ("matched", "probable", "conflict", "new", "rejected")


def reports_dir() -> Path:
    from crm_reconciliation.paths import PROJECT_ROOT

    return Path(os.environ.get("CRM_RECON_REPORTS_DIR") or PROJECT_ROOT / "reports")


def report_file_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id) + ".html"


class ReportLink(BaseOperatorLink):
    """The run's report, served by the crm_reconciliation plugin behind Airflow's own login."""

    name = "Reconciliation report"

    def get_link(self, operator: BaseOperator, *, ti_key: Any) -> str:
        from urllib.parse import quote

        return f"/crm-reports/{ti_key.dag_id}/{quote(ti_key.run_id, safe='')}"


# What the page shows when the staging tables cannot be read at all.
EMPTY_REPORT: dict[str, Any] = {
    "by_status": {},
    "confidence_histogram": {},
    "properties_to_update": 0,
    "conflicts": [],
    "probable": [],
    "rejects": [],
    "unusable": 0,
    "push": {},
    "steps": [],
    "orphans": None,
}
NOT_LOGGED = "no step log for this run: an upstream step failed, or it crashed before logging"


def step_outcomes(expected: Sequence[str], logged: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each step of the run with its outcome, those that did not succeed first (then in DAG order).

    A step without a log row counts as not succeeded: upstream_failed, or killed mid-way.
    """
    by_step = {row["step"]: row for row in logged}
    missing = {"outcome": "not run", "message": NOT_LOGGED, "finished_at": None, "seconds": None}
    steps = [by_step.get(name) or {"step": name, **missing} for name in expected]
    steps += [row for name, row in by_step.items() if name not in expected]
    return sorted(steps, key=lambda row: row["outcome"] == "success")


def steps_summary(steps: Sequence[dict[str, Any]]) -> str:
    """One line for the task log and the alert: each failed step with its message, then those not run."""
    failed = [
        f"{row['step']} {row['outcome']}: {row['message'] or 'no message'}"
        for row in steps
        if row["outcome"] not in ("success", "not run")
    ]
    not_run = [row["step"] for row in steps if row["outcome"] == "not run"]
    return "; ".join([*failed, *([f"not run: {', '.join(not_run)}"] if not_run else [])])


def render_report(
    report: dict[str, Any], *, steps: Sequence[dict[str, Any]] = (), problem: str | None = None, **context: Any
) -> str:
    """The HTML page: inline CSS and SVG only, so it works offline; every value is escaped."""
    import jinja2

    from crm_reconciliation.paths import INCLUDE_DIR

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(INCLUDE_DIR / "report")), autoescape=True, undefined=jinja2.StrictUndefined
    )
    status_max = max([report["by_status"].get(status, 0) for status in STATUSES] + [1])
    histogram_max = max([*report["confidence_histogram"].values(), 1])
    return environment.get_template("report.html.j2").render(
        report=report,
        statuses=STATUSES,
        status_max=status_max,
        histogram_max=histogram_max,
        steps=list(steps),
        failed_steps=[row for row in steps if row["outcome"] != "success"],
        problem=problem,
        **context,
    )


class ReportOperator(BaseOperator):
    """Counts by status, a confidence histogram, top conflicts and probable matches with their
    field differences, rejects by reason, the push outcome and every step's outcome, written to
    ``reports/<object>/<run id>.html`` (and ``latest.html``), summarised in the task log.

    It runs after a failure upstream too (trigger rule all_done), writes the page, then fails
    without retry if a step of the run did not succeed, so that the run's state tells the truth.
    """

    template_fields: Sequence[str] = ()
    ui_color = "#efe3f7"
    operator_extra_links = (ReportLink(),)

    def __init__(
        self, *, object_type: str, steps: Sequence[str] = (), conn_id: str = "hubspot_postgres", **kwargs: Any
    ):
        super().__init__(**kwargs)
        self.object_type = object_type
        self.steps = list(steps)  # the run's steps whose success the report vouches for
        self.conn_id = conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow.sdk.exceptions import AirflowFailException

        from crm_reconciliation.hooks.warehouse import WarehouseHook
        from crm_reconciliation.registry import default_registry

        registry = default_registry()
        spec = registry.get(self.object_type)
        run_id = context["run_id"]
        hook = WarehouseHook(postgres_conn_id=self.conn_id)
        with hook.step(object_type=spec.name, run_id=run_id, step=self.task_id) as step:
            report, problem = self._read(hook, registry, spec, run_id)
            steps = step_outcomes(self.steps, [row for row in report["steps"] if row["step"] != self.task_id])
            html = render_report(
                report,
                steps=steps,
                problem=problem,
                object=spec.name,
                run_id=run_id,
                legacy_table=spec.legacy_table,
                hubspot_table=spec.hubspot_table,
                generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            )
            folder = reports_dir() / spec.name
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / report_file_name(run_id)
            path.write_text(html, encoding="utf-8")
            (folder / "latest.html").write_text(html, encoding="utf-8")
            counts = ", ".join(f"{status} {report['by_status'].get(status, 0)}" for status in STATUSES)
            self.log.info(
                "Report for %s: %s; push %s; written to %s", spec.name, counts, report.get("push") or "none", path
            )
            step.record(details={"path": str(path), "by_status": report["by_status"]})
            if problem:
                raise AirflowFailException(f"{problem} (report: {path})")
            if any(row["outcome"] != "success" for row in steps):
                raise AirflowFailException(f"Run {run_id} did not succeed: {steps_summary(steps)} (report: {path})")
        return {"path": str(path), "by_status": report["by_status"]}

    def _read(self, hook: Any, registry: Any, spec: Any, run_id: str) -> tuple[dict[str, Any], str | None]:
        """The report's data, or an empty one and why when the staging tables do not exist (yet)."""
        from psycopg import errors

        from crm_reconciliation.sql_templates import render

        sql = render("report/report.sql", params={"object": registry.template_params(spec.name)})
        try:
            # The object's lock: a report never mixes the tables of two runs' writes.
            report = hook.run_script(sql, {"object_type": spec.name, "run_id": run_id}, lock=spec.name)
        except (errors.UndefinedTable, errors.InvalidSchemaName) as error:
            primary = error.diag.message_primary or str(error)
            return dict(EMPTY_REPORT), (
                f"The staging tables of {spec.name} cannot be read ({primary}): create_staging did not complete, "
                "so no step of this run could be recorded"
            )
        return {**EMPTY_REPORT, **(report or {})}, None
