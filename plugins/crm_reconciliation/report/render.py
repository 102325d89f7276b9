"""The report page of one run: where it is stored and read back, what it shows when the tables
cannot be read, each step's outcome, and the HTML (self-contained: inline CSS and SVG, every
value escaped).

Pages live in the warehouse (``staging.reports``), where every worker and api-server reads them:
the report task of a run stores its page there, the report app (``views.report_page``) serves it.
A copy is written to this machine's ``reports/<object>/`` folder as well (``CRM_RECON_REPORTS_DIR``
moves it), for local runs: the demo points to it, ``make docs-pictures`` shoots it. Nothing serves
the copy.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crm_reconciliation.report.charts import label_chart, waterfall, weight_histogram, weight_threshold

log = logging.getLogger(__name__)

STATUSES = ("matched", "probable", "conflict", "new", "rejected")
LATEST = "latest"  # the run id the report app reads as "the object's latest page"


def reports_dir() -> Path:
    from crm_reconciliation.config.paths import PROJECT_ROOT

    return Path(os.environ.get("CRM_RECON_REPORTS_DIR") or PROJECT_ROOT / "reports")


def report_file_name(run_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", run_id) + ".html"


def write_report(hook: Any, object_type: str, dag_id: str, run_id: str, html: str, latest: bool = True) -> Path | None:
    """Store the run's page in the warehouse (``staging.reports``; a re-run overwrites it), then a
    copy on this machine as ``reports/<object>/<run>.html`` (and ``latest.html``); return the
    copy's path, None when this machine's folder cannot be written (the page is stored all the same).

    ``latest``: the page may be the object's latest (a run that never held its object, or whose
    tables a later run rewrote, shows none of them: it is not). On a database where create_staging
    never completed, the report creates its own table first (``ddl/report_tables.sql``): that
    run's page, which says so, is served too.
    """
    from crm_reconciliation.common.sql_templates import render, statement
    from crm_reconciliation.hooks.warehouse import InvalidSchemaName, UndefinedTable

    binds = {"object_type": object_type, "dag_id": dag_id, "run_id": run_id, "html": html, "counts_as_latest": latest}
    try:
        hook.run_script(statement("report/store.sql"), binds)  # run_script: the page is not logged
    except (UndefinedTable, InvalidSchemaName):
        hook.run_script([render("ddl/report_tables.sql"), statement("report/store.sql")], binds)
    try:
        return copy_report(object_type, run_id, html, latest)
    except OSError as error:
        log.warning(
            "The report is stored in the warehouse; its copy in %s could not be written: %s", reports_dir(), error
        )
        return None


def copy_report(object_type: str, run_id: str, html: str, latest: bool = True) -> Path:
    """Write the page as ``reports/<object>/<run>.html`` (and ``latest.html``) on this machine; its path."""
    folder = reports_dir() / object_type
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / report_file_name(run_id)
    path.write_text(html, encoding="utf-8")
    if latest:
        (folder / "latest.html").write_text(html, encoding="utf-8")
    return path


def read_report(hook: Any, object_type: str, run_id: str) -> tuple[str | None, bool]:
    """The page of ``run_id`` (``latest``: the object's latest page) as stored in the warehouse, or
    None; and whether the object has a latest page at all. Before any report was stored (no
    staging schema or no table yet): (None, False)."""
    from crm_reconciliation.common.sql_templates import statement

    if hook.existing_tables(["reports"]) != ["reports"]:
        return None, False
    binds = {"object_type": object_type, "run_id": None if run_id == LATEST else run_id}
    html, has_latest = hook.get_first(statement("report/page.sql"), parameters=binds)
    return html, bool(has_latest)


EMPTY_REPORT: dict[str, Any] = {
    "by_status": {},
    "confidence_histogram": {},
    "weight_histogram": [],
    "properties_to_update": 0,
    "conflicts": [],
    "probable": [],
    "rejects": [],
    "unusable": 0,
    "push": {},
    "creations": {},
    "associations": [],
    "verification": {},
    "mismatches": [],
    "quarantine": {"total": 0, "rows": []},
    "held_values": {"total": 0, "records": 0, "groups": 0, "rows": []},
    "labels": {"same": 0, "different": 0, "by_threshold": []},
    "steps": [],
    "orphans": None,
    "parameters": [],
    "mirror_guard": None,
    "missing_columns": [],
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
    return sorted(steps, key=lambda row: row["outcome"] in ("success", "skipped"))


def steps_summary(steps: Sequence[dict[str, Any]]) -> str:
    """One line for the task log and the alert: each failed step with its message, then those not run."""
    failed = [
        f"{row['step']} {row['outcome']}: {row['message'] or 'no message'}"
        for row in steps
        if row["outcome"] not in ("success", "skipped", "not run")
    ]
    not_run = [row["step"] for row in steps if row["outcome"] == "not run"]
    return "; ".join([*failed, *([f"not run: {', '.join(not_run)}"] if not_run else [])])


OPEN_WATERFALLS = 3  # per list, the others are folded (<details>)


def render_report(
    report: dict[str, Any],
    *,
    steps: Sequence[dict[str, Any]] = (),
    problem: str | None = None,
    owner: str | None = None,
    comparisons: Sequence[str] = (),
    match_threshold: float | None = None,
    probable_min_confidence: float | None = None,
    **context: Any,
) -> str:
    """The HTML page: inline CSS and SVG only, so it works offline; every value is escaped.

    ``owner``: the run whose results the tables hold, when not this one (its steps failed first).
    ``comparisons``: the object's comparison names in registry order (the waterfalls' bar order;
    jsonb does not keep the components' key order). The thresholds are confidences (0-100),
    drawn as match weights.
    """
    import jinja2
    import markupsafe

    from crm_reconciliation.config.paths import INCLUDE_DIR
    from crm_reconciliation.review.queue import held_value_fix

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(INCLUDE_DIR / "report")), autoescape=True, undefined=jinja2.StrictUndefined
    )
    status_max = max([report["by_status"].get(status, 0) for status in STATUSES] + [1])
    histogram_max = max([*report["confidence_histogram"].values(), 1])
    thresholds = [
        (f"{name} \u2265 {confidence:g}%", weight_threshold(confidence))
        for name, confidence in (("match", match_threshold), ("probable", probable_min_confidence))
        if weight_threshold(confidence) is not None
    ]
    explained: dict[str, Any] = {}
    for key in ("conflicts", "probable"):
        explained[key] = []
        for row in report.get(key) or []:
            chart = waterfall(row.get("score_components"), comparisons, thresholds)
            # The first few waterfalls of each list are drawn open, the others one click away.
            shown = sum(other["waterfall"] is not None for other in explained[key])
            explained[key].append({**row, "waterfall": chart, "open": chart is not None and shown < OPEN_WATERFALLS})
    # Values the portal cannot take, each group with the one sentence that says how to fix it.
    held = report.get("held_values") or EMPTY_REPORT["held_values"]
    object_type = str(context.get("object", ""))
    explained["held_values"] = {
        **held,
        "rows": [{**row, "fix": held_value_fix(object_type, row)} for row in held.get("rows") or []],
    }
    return environment.get_template("report.html.j2").render(
        report={**report, **explained},
        weights=weight_histogram(report.get("weight_histogram") or [], thresholds),
        parameters=report.get("parameters", []),
        statuses=STATUSES,
        status_max=status_max,
        histogram_max=histogram_max,
        steps=list(steps),
        failed_steps=[row for row in steps if row["outcome"] not in ("success", "skipped")],
        # Numbers only, drawn here: nothing in it comes from the data's text.
        label_chart=markupsafe.Markup(label_chart((report.get("labels") or {}).get("by_threshold") or [])),  # noqa: S704
        problem=problem,
        owner=owner,
        **context,
    )
