"""Write the run's reconciliation report: one self-contained HTML page per object."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from airflow.sdk import BaseOperator, BaseOperatorLink

from crm_reconciliation.common.runs import release, run_steps, tables_owners
from crm_reconciliation.operators.base import CONN_ID, ObjectStepOperator

STATUSES = ("matched", "probable", "conflict", "new", "rejected")


def reports_dir() -> Path:
    from crm_reconciliation.common.paths import PROJECT_ROOT

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


def label_chart(points: Sequence[dict[str, Any]], width: int = 520, height: int = 220) -> str:
    """Precision and recall against the reviewers' labels, by confidence threshold: an inline SVG
    (two polylines over thresholds 50-100) to choose thresholds by."""
    if not points:
        return ""
    left, bottom, top, right = 40, height - 30, 10, width - 10

    def x(threshold: float) -> float:
        return left + (threshold - 50) / 50 * (right - left)

    def y(value: float) -> float:
        return bottom - value * (bottom - top)

    lines = []
    for name, colour in (("precision", "#2e8b57"), ("recall", "#4a90d9")):
        path = " ".join(f"{x(p['threshold']):.1f},{y(p[name]):.1f}" for p in points if p.get(name) is not None)
        lines.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{path}"><title>{name}</title></polyline>'
        )
    ticks = "".join(
        f'<text x="{x(t):.0f}" y="{height - 12}" font-size="10" text-anchor="middle">{t}</text>'
        for t in range(50, 101, 10)
    )
    axis = (
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#999"/>'
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#999"/>'
        f'<text x="4" y="{top + 8}" font-size="10">1.0</text><text x="4" y="{bottom}" font-size="10">0</text>'
    )
    legend = (
        f'<text x="{right - 150}" y="{top + 12}" font-size="11" fill="#2e8b57">precision</text>'
        f'<text x="{right - 80}" y="{top + 12}" font-size="11" fill="#4a90d9">recall</text>'
    )
    return (
        f'<svg class="labels" role="img" aria-label="precision and recall by threshold" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">{axis}{ticks}{"".join(lines)}{legend}</svg>'
    )


def weight_threshold(confidence: float | None) -> float | None:
    """The match weight (bits) at which the confidence (0-100) is reached: log2(c / (100 - c))."""
    if confidence is None or not 0 < confidence < 100:
        return None  # 0 and 100 are reached at minus/plus infinity: nothing to draw
    return math.log2(confidence / (100 - confidence))


def _signed(value: float) -> str:
    return f"{value:+.1f}".replace("-", "\u2212")


def _axis(low: float, high: float) -> tuple[float, float, list[float]]:
    """An axis from low to high (and zero), padded a little, and its round ticks."""
    low, high = min(low, 0.0), max(high, 0.0)
    pad = max((high - low) * 0.08, 1.0)
    low, high = low - pad, high + pad
    step = 5.0 if high - low <= 40 else 10.0 if high - low <= 100 else 20.0
    first = math.ceil(low / step)
    return low, high, [step * index for index in range(first, math.floor(high / step) + 1)]


WATERFALL = {"slot": 96, "bar": 60, "left": 52, "top": 20, "plot": 200, "labels": 44}


def waterfall(
    components: Any, order: Sequence[str] = (), thresholds: Sequence[tuple[str, float]] = ()
) -> dict[str, Any] | None:
    """The bars of a scored row's match weight: the prior, each comparison (in registry order,
    then any the registry does not name), the total; None for a row never scored."""
    if not isinstance(components, dict) or not isinstance(components.get("match_weight"), int | float):
        return None
    compared = components.get("comparisons") or {}
    names = [name for name in order if name in compared]
    names += sorted(name for name in compared if name not in names)
    prior = float(components.get("prior") or 0)
    total = float(components["match_weight"])
    steps = [{"kind": "prior", "name": "prior", "level": "log2-odds", "start": 0.0, "end": prior, "weight": prior}]
    running = prior
    for name in names:
        comparison = compared[name] if isinstance(compared[name], dict) else {}
        weight = float(comparison.get("weight") or 0)
        level = str(comparison.get("level") or "null")
        kind = "up" if weight > 0 else "down" if weight < 0 else "none"
        steps.append(
            {
                "kind": kind,
                "name": name,
                "level": level + (" (tf)" if comparison.get("term_frequency") else ""),
                "start": running,
                "end": running + weight,
                "weight": weight,
                "legacy": comparison.get("legacy"),
                "hubspot": comparison.get("hubspot"),
            }
        )
        running += weight
    steps.append(
        {"kind": "total", "name": "match weight", "level": "total", "start": 0.0, "end": total, "weight": total}
    )
    shown = [(label, value) for label, value in thresholds if value is not None]
    values = [value for step in steps for value in (step["start"], step["end"])] + [value for _, value in shown]
    low, high, ticks = _axis(min(values), max(values))  # padded: room for the weights written on the bars
    geometry = WATERFALL
    scale = geometry["plot"] / (high - low)

    def y(value: float) -> float:
        return round(geometry["top"] + (high - value) * scale, 1)

    bars = []
    for index, step in enumerate(steps):
        x = geometry["left"] + index * geometry["slot"] + (geometry["slot"] - geometry["bar"]) / 2
        top, bottom = y(max(step["start"], step["end"])), y(min(step["start"], step["end"]))
        title = f"{step['name']}: {step['level']}, weight {step['weight']:+.2f} bits"
        if step["kind"] not in ("prior", "total"):
            title += f"; legacy {step['legacy']!r}, HubSpot {step['hubspot']!r}".replace("None", "empty")
        bars.append(
            {
                **step,
                "x": x,
                "width": geometry["bar"],
                "center": x + geometry["bar"] / 2,
                "y": top,
                "height": max(round(bottom - top, 1), 1.5),
                "end_y": y(step["end"]),
                "text": _signed(step["weight"]),
                "title": title,
            }
        )
    width = geometry["left"] + len(steps) * geometry["slot"] + 8
    return {
        "bars": bars,
        "width": width,
        "height": geometry["top"] + geometry["plot"] + geometry["labels"],
        "plot_bottom": geometry["top"] + geometry["plot"],
        "left": geometry["left"],
        "right": width - 8,
        "zero": y(0),
        "ticks": [{"y": y(value), "label": f"{value:g}".replace("-", "\u2212")} for value in ticks],
        "thresholds": [{"y": y(value), "label": f"{label} {_signed(value)}"} for label, value in shown],
    }


OPEN_WATERFALLS = 3  # per list, the others are folded (<details>)
HISTOGRAM_STATUSES = ("matched", "conflict", "probable", "new")
HISTOGRAM = {"left": 44, "top": 34, "plot": 170, "width": 1000}


def weight_histogram(rows: Sequence[dict[str, Any]], thresholds: Sequence[tuple[str, float]] = ()) -> dict[str, Any]:
    """Stacked bars of the match weights in 5-bit bins, from the lowest bin to the highest."""
    counts: dict[int, dict[str, int]] = {}
    for row in rows:
        by_status = counts.setdefault(int(row["bin"]), {})
        by_status[row["status"]] = by_status.get(row["status"], 0) + int(row["rows"])
    shown = [(label, value) for label, value in thresholds if value is not None]
    if not counts:
        return {"bars": [], "total": 0}
    edges = list(counts) + [math.floor(value / 5) * 5 for _, value in shown]
    first, last = min(edges), max(edges)
    bins = list(range(first, last + 5, 5))
    geometry = HISTOGRAM
    slot = min(60.0, (geometry["width"] - geometry["left"] - 10) / len(bins))
    tallest = max(sum(by_status.values()) for by_status in counts.values())
    bottom = geometry["top"] + geometry["plot"]
    bars = []
    for index, start in enumerate(bins):
        x = round(geometry["left"] + index * slot, 1)
        level = bottom
        segments = []
        for status in HISTOGRAM_STATUSES:
            rows_here = counts.get(start, {}).get(status, 0)
            if rows_here:
                height = round(geometry["plot"] * rows_here / tallest, 1)
                level -= height
                segments.append({"status": status, "rows": rows_here, "y": round(level, 1), "height": height})
        bars.append(
            {
                "x": x,
                "width": round(slot * 0.86, 1),
                "bin": start,
                "label": f"{start}".replace("-", "\u2212"),
                "rows": sum(counts.get(start, {}).values()),
                "top": round(level, 1),
                "segments": segments,
                "title": f"{start} to {start + 5} bits: "
                + ", ".join(f"{status} {counts.get(start, {}).get(status, 0)}" for status in HISTOGRAM_STATUSES),
            }
        )
    # Labelled beside their line: the lowest threshold's to its left, the others' to their right.
    shown.sort(key=lambda threshold: threshold[1])
    lines = [
        {
            "x": round(geometry["left"] + (value - first) / 5 * slot, 1),
            "label": f"{label} {_signed(value)}",
            "anchor": "end" if index == 0 and len(shown) > 1 else "start",
            "row": max(index - 1, 0),
        }
        for index, (label, value) in enumerate(shown)
    ]
    return {
        "bars": bars,
        "lines": lines,
        "width": round(geometry["left"] + len(bins) * slot + 10),
        "height": bottom + 40,
        "bottom": bottom,
        "top": geometry["top"],
        "left": geometry["left"],
        "total": sum(sum(by_status.values()) for by_status in counts.values()),
        "statuses": HISTOGRAM_STATUSES,
    }


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

    from crm_reconciliation.common.paths import INCLUDE_DIR
    from crm_reconciliation.common.review_queue import held_value_fix

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


class ReportOperator(ObjectStepOperator):
    """Counts by status, the match-weight and confidence histograms, top conflicts and probable
    matches with their field differences and match-weight waterfalls, the run's learned match
    parameters, rejects by reason, the push outcome and every step's outcome, written to
    ``reports/<object>/<run id>.html`` (and ``latest.html``), summarised in the task log.

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
        self.sql = ["report/report.sql", "report/mirror_guard.sql", "report/missing_columns.sql"]

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
        html = render_report(
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
        folder = reports_dir() / spec.name
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / report_file_name(run_id)
        path.write_text(html, encoding="utf-8")
        if not self._busy:  # a run that never held its object is not the latest picture of it
            (folder / "latest.html").write_text(html, encoding="utf-8")
        counts = ", ".join(f"{status} {report['by_status'].get(status, 0)}" for status in STATUSES)
        self.log.info(
            "Report for %s: %s; push %s; written to %s", spec.name, counts, report.get("push") or "none", path
        )
        step.record(details={"path": str(path), "by_status": report["by_status"]})
        if problem:
            raise AirflowFailException(f"{problem} (report: {path})")
        if any(row["outcome"] not in ("success", "skipped") for row in steps):
            raise AirflowFailException(f"Run {run_id} did not succeed: {steps_summary(steps)} (report: {path})")
        return {"path": str(path), "by_status": report["by_status"]}

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
        if self._busy is not None:
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
            problem = f"The {self.spec.name} tables were rewritten after this run ({named}): they are not shown"
            return {**EMPTY_REPORT, "steps": report["steps"]}, problem, None
        others = sorted({owner for owner in writers.values() if owner != run_id})
        return report, None, ", ".join(others) or None

    def _steps_only(self, run_id: str) -> list[dict[str, Any]]:
        return run_steps(self.warehouse, self.spec.name, run_id)

    def _read(self, run_id: str) -> tuple[dict[str, Any], str | None]:
        """The report's data, or an empty one and why when the staging tables do not exist (yet)."""
        from psycopg import errors

        from crm_reconciliation.common.sql_templates import render

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
            except errors.UndefinedTable as error:
                if "match_parameters" not in (error.diag.message_primary or str(error)):
                    raise
                # A database whose staging predates the learned parameters: the rest still reads.
                report = {**(read(match_parameters=False) or {}), "parameters": None}
        except (errors.UndefinedTable, errors.InvalidSchemaName) as error:
            primary = error.diag.message_primary or str(error)
            return dict(EMPTY_REPORT), (
                f"The staging tables of {spec.name} cannot be read ({primary}): create_staging did not complete, "
                "so no step of this run could be recorded"
            )
        return {**EMPTY_REPORT, **(report or {})}, None
