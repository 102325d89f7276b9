"""Reviewers' decisions: the queue, one item, recording a verdict, and the CSV round trip; and
the values a push held back because the portal cannot take them.

Functions over a warehouse session (``WarehouseHook.transaction``) and the registry, so that the
UI (the plugin's review app), the tests and scripts share them; the SQL lives in
``include/sql/review/``. ``score`` applies what is recorded here on every run
(``score/review_check.sql``, ``score/review_apply.sql``).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

VERDICTS = ("same", "different", "create_new", "leave_aside")
CSV_COLUMNS = ("legacy_id", "hubspot_id", "status", "confidence", "label", "held_back", "verdict", "comment")
PAGE_LIMIT = 200
CONFIG_FILE = "include/config/objects.yaml"
HUBSPOT_MAX_CHARACTERS = 65_536  # of any value; staging.crm_portal_value holds a longer one back
# What the page shows when no run held a value back (or the table does not exist yet).
NO_HELD_VALUES: dict[str, Any] = {
    "run_id": None,
    "recorded_at": None,
    "total": 0,
    "records": 0,
    "groups": 0,
    "rows": [],
}


# OWASP's rule for CSV injection: a spreadsheet reads a cell starting with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """A cell no spreadsheet runs: text starting with a formula character (after any quotes it
    already starts with, so that the way back is exact) gets a leading quote. On the raw value:
    a spreadsheet may trim a leading space, never a quote."""
    if isinstance(value, str) and value.lstrip("'").startswith(FORMULA_START):
        return "'" + value
    return value


def from_spreadsheet(value: str) -> str:
    """A cell as ``spreadsheet_safe`` wrote it, back to the value (the import's side)."""
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_START):
        return value[1:]
    return value


class DecisionRefused(ValueError):
    """A decision that cannot be recorded, and why (the page and the CSV import show it)."""


@dataclass(frozen=True)
class Decision:
    legacy_id: int
    hubspot_id: str | None
    verdict: str
    comment: str | None = None


def _render(name: str, registry: Any, object_type: str) -> str:
    from crm_reconciliation.common.sql_templates import render

    return render(f"review/{name}.sql", params={"object": registry.template_params(object_type)})


def _status(status: str | None) -> str | None:
    if status not in (None, "conflict", "probable"):
        raise DecisionRefused(f"status must be conflict or probable, not {status!r}")
    return status


def queue(
    session: Any,
    registry: Any,
    object_type: str,
    status: str | None = None,
    search: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> dict[str, Any]:
    """One page of the queue and its total (``status``: conflict | probable | None)."""
    binds = {
        "object_type": object_type,
        "status": _status(status),
        "search": (search or "").strip() or None,
        "offset": max(int(offset), 0),
        "limit": min(max(int(limit), 1), PAGE_LIMIT),
    }
    return session.execute(_render("queue", registry, object_type), binds).fetchone()[0]


def item(session: Any, registry: Any, object_type: str, legacy_id: int) -> dict[str, Any] | None:
    row = session.execute(
        _render("item", registry, object_type), {"object_type": object_type, "legacy_id": legacy_id}
    ).fetchone()
    return row[0] if row else None


def check(session: Any, registry: Any, object_type: str, decision: Decision) -> None:
    """Refuse a decision that does not fit the record as the last run left it."""
    if decision.verdict not in VERDICTS:
        raise DecisionRefused(f"verdict {decision.verdict!r} is not one of {', '.join(VERDICTS)}")
    row = session.execute(_render("row", registry, object_type), {"legacy_id": decision.legacy_id}).fetchone()
    if row is None:
        raise DecisionRefused(f"legacy id {decision.legacy_id} is not a {object_type} record of the last run")
    status, linked, alternatives = row
    if decision.verdict in ("same", "different"):
        if not decision.hubspot_id:
            raise DecisionRefused(f"verdict {decision.verdict} needs the HubSpot id it is about")
        if decision.hubspot_id != linked and decision.hubspot_id not in alternatives:
            raise DecisionRefused(
                f"HubSpot {decision.hubspot_id} is not a candidate of legacy {decision.legacy_id} "
                f"(proposed: {linked or 'none'})"
            )
    if decision.verdict == "create_new" and status in ("matched", "conflict"):
        raise DecisionRefused(
            f"HubSpot {linked} carries legacy id {decision.legacy_id}: clear it there before creating a new record"
        )


def record(session: Any, registry: Any, object_type: str, decision: Decision, reviewer: str) -> int:
    """Record (or replace) the decision on its pair; returns its id. Checked first."""
    check(session, registry, object_type, decision)
    hubspot_id = decision.hubspot_id or None
    if decision.verdict == "create_new":
        hubspot_id = None  # about the legacy record, whichever candidate was shown
    values = {
        "object_type": object_type,
        "legacy_id": decision.legacy_id,
        "hubspot_id": hubspot_id,
        "verdict": decision.verdict,
        "reviewer": reviewer,
        "comment": (decision.comment or "").strip() or None,
    }
    return session.execute(_render("record", registry, object_type), values).fetchone()[0]


def export_csv(session: Any, registry: Any, object_type: str, status: str | None = None) -> str:
    """The whole queue as CSV (one query, no paging), with empty verdict and comment columns to fill
    in; no cell runs as a formula in a spreadsheet (``spreadsheet_safe``)."""
    binds = {"object_type": object_type, "status": _status(status), "search": None, "offset": 0, "limit": None}
    page = session.execute(_render("queue", registry, object_type), binds).fetchone()[0]
    out = io.StringIO()
    # CRLF, as RFC 4180 and spreadsheets write it: a field holding a carriage return is quoted.
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in page["rows"]:
        writer.writerow([spreadsheet_safe(row.get(column, "")) for column in CSV_COLUMNS])
    return out.getvalue()


def parse_csv(text: str) -> tuple[list[tuple[int, Decision]], list[str]]:
    """The decisions of a CSV (header: at least legacy_id, hubspot_id, verdict; comment optional),
    and an error per bad line (``line N: …``). Rows with an empty verdict are skipped."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [column for column in ("legacy_id", "hubspot_id", "verdict") if column not in (reader.fieldnames or [])]
    if missing:
        return [], [f"line 1: the header lacks {', '.join(missing)} (it has {', '.join(reader.fieldnames or [])})"]
    decisions, errors = [], []
    for raw in reader:
        line = reader.line_num
        row = {key: from_spreadsheet(value or "") for key, value in raw.items() if key is not None}
        verdict = (row.get("verdict") or "").strip().lower()
        if not verdict:
            continue
        legacy = (row.get("legacy_id") or "").strip()
        if not legacy.isdigit():
            errors.append(f"line {line}: legacy_id {legacy!r} is not a whole number")
            continue
        if verdict not in VERDICTS:
            errors.append(f"line {line}: verdict {verdict!r} is not one of {', '.join(VERDICTS)}")
            continue
        hubspot = (row.get("hubspot_id") or "").strip() or None
        decisions.append((line, Decision(int(legacy), hubspot, verdict, (row.get("comment") or "").strip() or None)))
    return decisions, errors


def import_csv(session: Any, registry: Any, object_type: str, text: str, reviewer: str) -> dict[str, Any]:
    """Record the decisions of a CSV, all or none: any bad line refuses the file, each bad line named."""
    decisions, errors = parse_csv(text)
    for line, decision in decisions:
        try:
            check(session, registry, object_type, decision)
        except DecisionRefused as refusal:
            errors.append(f"line {line}: {refusal}")
    if errors:
        return {"recorded": 0, "errors": sorted(errors, key=lambda e: int(e.split()[1].rstrip(":")))}
    with session.savepoint():
        for _, decision in decisions:
            record(session, registry, object_type, decision, reviewer)
    return {"recorded": len(decisions), "errors": []}


def held_value_fix(object_type: str, row: dict[str, Any]) -> str:
    """How to fix one held (property, value) group, in one sentence.

    An enumeration value (``allowed`` is the portal's options): a value map to one of them, or
    ``create_options``; any other value: corrected at the source, or a value map.
    """
    property_, value = row.get("property"), row.get("value")
    if value is None:
        return f"Fill in {property_} in the legacy CRM: the portal needs a value there."
    if (row.get("value_chars") or 0) > HUBSPOT_MAX_CHARACTERS:
        return (
            f"Shorten it in the legacy CRM ({row['value_chars']:,} characters): HubSpot keeps at most "
            f"{HUBSPOT_MAX_CHARACTERS:,} characters of a value."
        )
    quoted = json.dumps(value, ensure_ascii=False)
    value_map = f"value_maps: {{{property_}: {{{quoted}: …}}}} under {object_type} in {CONFIG_FILE}"
    if row.get("allowed") is not None:
        return (
            f"Map it to one of the allowed options ({value_map}), or run with create_options: true "
            f"to add {quoted} to the options of {property_}."
        )
    return f"Correct it in the legacy CRM, or map it to a value the portal takes ({value_map})."


def held_values(session: Any, registry: Any, object_type: str) -> dict[str, Any]:
    """The values the object's latest run that held any back could not send, grouped by
    (api_object, property, value), the most records first, each with how to fix it.

    Nothing held (an empty summary) when ``staging.push_held_values`` does not exist yet.
    """
    from crm_reconciliation.hooks.warehouse import InvalidSchemaName, UndefinedTable

    try:
        with session.savepoint():  # a missing table leaves the session usable
            found = session.execute(_render("held_values", registry, object_type), {"object_type": object_type})
            summary = found.fetchone()[0]
    except (UndefinedTable, InvalidSchemaName):
        return {**NO_HELD_VALUES, "rows": []}
    if not summary or not summary.get("total"):
        return {**NO_HELD_VALUES, "rows": []}
    return {**summary, "rows": [{**row, "fix": held_value_fix(object_type, row)} for row in summary["rows"]]}
