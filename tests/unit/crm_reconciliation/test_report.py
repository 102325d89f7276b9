from __future__ import annotations

from crm_reconciliation.operators.report import render_report

REPORT = {
    "by_status": {"matched": 8, "conflict": 1, "new": 3},
    "confidence_histogram": {"90": 8, "20": 1},
    "properties_to_update": 2,
    "conflicts": [
        {
            "legacy_id": 7,
            "hubspot_id": None,
            "candidate_hubspot_ids": ["101", "102"],
            "match_confidence": 0,
            "notes": "Société <script>alert(1)</script>",
            "field_diffs": {"name": {"legacy": "A&B", "hubspot": "C"}},
        }
    ],
    "probable": [],
    "rejects": [{"outcome": "rejected", "reason": "empty id", "rows": 2, "first_line": 14}],
    "unusable": 0,
    "push": {"dry_run": 2},
    "orphans": 1,
}


def page() -> str:
    return render_report(
        REPORT,
        object="companies",
        run_id="manual__1",
        legacy_table="Company",
        hubspot_table="companies",
        generated="2026-03-01 00:00 UTC",
    )


def test_values_are_escaped():
    html = page()
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert "A&amp;B → C" in html


def test_charts_scale_to_the_largest_count():
    html = page()
    assert 'class="matched" x="90" y="6" height="20" width="520.0"' in html  # the largest bar is full width
    assert 'class="new" x="90" y="96" height="20" width="195.0"' in html  # 3 of 8
    assert "101, 102" in html  # a duplicate-id conflict names every candidate
    assert '<td>empty id</td><td class="num">2</td><td class="num">14</td>' in html
