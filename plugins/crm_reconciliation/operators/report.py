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


def render_report(report: dict[str, Any], **context: Any) -> str:
    """The HTML page: inline CSS and SVG only, so it works offline; every value is escaped."""
    import jinja2

    from crm_reconciliation.paths import INCLUDE_DIR

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(INCLUDE_DIR / "report")), autoescape=True, undefined=jinja2.StrictUndefined
    )
    status_max = max([report["by_status"].get(status, 0) for status in STATUSES] + [1])
    histogram_max = max([*report["confidence_histogram"].values(), 1])
    return environment.get_template("report.html.j2").render(
        report=report, statuses=STATUSES, status_max=status_max, histogram_max=histogram_max, **context
    )


class ReportOperator(BaseOperator):
    """Counts by status, a confidence histogram, top conflicts and probable matches with their
    field differences, rejects by reason and the push outcome, written to
    ``reports/<object>/<run id>.html`` (and ``latest.html``), summarised in the task log."""

    template_fields: Sequence[str] = ()
    ui_color = "#efe3f7"
    operator_extra_links = (ReportLink(),)

    def __init__(self, *, object_type: str, conn_id: str = "hubspot_postgres", **kwargs: Any):
        super().__init__(**kwargs)
        self.object_type = object_type
        self.conn_id = conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from crm_reconciliation.hooks.warehouse import WarehouseHook
        from crm_reconciliation.registry import default_registry
        from crm_reconciliation.sql_templates import render

        registry = default_registry()
        spec = registry.get(self.object_type)
        run_id = context["run_id"]
        sql = render("report/report.sql", params={"object": registry.template_params(self.object_type)})
        report = (
            WarehouseHook(postgres_conn_id=self.conn_id).run_script(sql, {"object_type": spec.name, "run_id": run_id})
            or {}
        )
        html = render_report(
            report,
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
        return {"path": str(path), "by_status": report["by_status"]}
