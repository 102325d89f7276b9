from __future__ import annotations

import re

from crm_reconciliation.report.charts import waterfall, weight_threshold
from crm_reconciliation.report.render import render_report

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


COMPARISONS = ["legacy_id", "name", "domain", "phone", "city"]


def comparison(level, legacy, hubspot, weight, term_frequency=False):
    return {"level": level, "legacy": legacy, "hubspot": hubspot, "weight": weight, "term_frequency": term_frequency}


EXPLAINED = {
    **REPORT,
    "conflicts": [
        {
            "legacy_id": 1042,
            "hubspot_id": "9001",
            "candidate_hubspot_ids": ["9001"],
            "match_confidence": 0.01,
            "notes": "the legacy id sits on another entity",
            "field_diffs": {},
            # jsonb's key order, not the registry's
            "score_components": {
                "match_weight": -8.8,
                "prior": -4.3,
                "rules": ["legacy_id"],
                "comparisons": {
                    "city": comparison("similar >= 0.7", "Grenoble", "Grenoble Cedex", 1.3, True),
                    "name": comparison("else", "Alpes <script>alert(1)</script>", "Dupont & Fils", -8.4),
                    "phone": comparison("null", None, "+33476000000", 0),
                    "domain": comparison("else", "alpes.fr", "dupont.fr", -7.4),
                    "legacy_id": comparison("agree", "1042", "1042", 10.0),
                },
            },
        },
        # a legacy id on two HubSpot records: never scored, so no waterfall
        {
            "legacy_id": 7,
            "hubspot_id": None,
            "candidate_hubspot_ids": ["101", "102"],
            "match_confidence": None,
            "notes": "on two records",
            "field_diffs": {},
            "score_components": {"hubspot_records": 2},
        },
    ],
    "weight_histogram": [
        {"bin": -10, "status": "conflict", "rows": 1},
        {"bin": 20, "status": "matched", "rows": 6},
        {"bin": 20, "status": "probable", "rows": 2},
        {"bin": 25, "status": "new", "rows": 1},
    ],
    "parameters": [
        {"comparison": "prior", "level_index": 0, "level": "prior", "m": 0.05, "u": None, "weight": -4.25,
         "m_configured": 0.05, "u_configured": None, "m_source": "em", "u_source": None, "pairs": 310},
        {"comparison": "name", "level_index": 1, "level": "exact <b>", "m": 0.64, "u": 0.0005, "weight": 10.32,
         "m_configured": 0.7, "u_configured": 0.0005, "m_source": "em", "u_source": "random pairs", "pairs": 310},
    ],
}  # fmt: skip


def explained_page(**options) -> str:
    return render_report(
        EXPLAINED,
        object="companies",
        run_id="manual__1",
        legacy_table="Company",
        hubspot_table="companies",
        generated="2026-03-01 00:00 UTC",
        comparisons=COMPARISONS,
        match_threshold=50,
        probable_min_confidence=80,
        **options,
    )


def waterfalls(html: str) -> list[str]:
    return re.findall(r'<svg class="waterfall".*?</svg>', html, flags=re.S)


def test_thresholds_are_match_weights():
    assert weight_threshold(50) == 0
    assert weight_threshold(80) == 2
    assert weight_threshold(100) is None  # reached at infinity: not drawn
    assert weight_threshold(None) is None


def test_the_waterfall_has_a_bar_per_comparison_between_prior_and_total_in_registry_order():
    html = explained_page()
    (chart,) = waterfalls(html)  # the row never scored has none
    assert html.count("<details open>") == 1
    names = re.findall(r'<text class="small name"[^>]*>([^<]*)</text>', chart)
    assert names == ["prior", *COMPARISONS, "match weight"]
    kinds = re.findall(r'<rect class="wf-([a-z]+)"', chart)
    assert kinds == ["prior", "up", "down", "down", "none", "up", "total"]
    levels = re.findall(r'<text class="small muted" x="[^"]*" y="[^"]*" text-anchor="middle">([^<]*)</text>', chart)
    assert levels == ["log2-odds", "agree", "else", "else", "null", "similar &gt;= 0.7 (tf)", "total"]
    assert "+10.0" in chart
    assert "\u22128.4" in chart
    assert "\u22128.8" in chart


def test_the_waterfall_is_cumulative():
    bars = waterfall(EXPLAINED["conflicts"][0]["score_components"], COMPARISONS, [("match", 0.0)])
    prior, legacy_id, name, *_, total = bars["bars"]
    assert (prior["start"], prior["end"]) == (0, -4.3)
    assert legacy_id["start"] == -4.3
    assert legacy_id["end"] == 5.7
    assert name["start"] == 5.7
    assert round(name["end"], 6) == -2.7
    assert legacy_id["y"] < bars["zero"] < legacy_id["y"] + legacy_id["height"]  # it crosses zero
    assert (total["start"], total["end"]) == (0, -8.8)
    assert bars["thresholds"][0]["y"] == bars["zero"]
    assert waterfall({"hubspot_records": 2}) is None


def test_the_explanations_are_escaped():
    html = explained_page()
    assert "<script>" not in html
    assert "Alpes &lt;script&gt;alert(1)&lt;/script&gt;" in html  # in the table of compared values
    assert "legacy &#39;Alpes &lt;script&gt;" in html  # and the bar's tooltip
    assert "Dupont &amp; Fils" in html
    assert "exact &lt;b&gt;" in html


def test_the_parameters_table_shows_the_prior_first():
    html = explained_page()
    table = re.search(r'<table class="parameters">.*?</table>', html, flags=re.S).group(0)
    rows = re.findall(r"<tr class=\"(\w+)\"><td>(\w+)</td>", table)
    assert rows == [("prior", "prior"), ("level", "name")]
    assert '<td class="num">0.05</td><td class="num">–</td><td class="num">-4.25</td>' in table


def test_a_comparison_whose_learned_weights_were_corrected_is_flagged():
    corrected = "corrected: EM weighed similar >= 0.5 +2.2 bits, above similar >= 0.7 +0.2; the configured m kept"
    parameters = [
        *EXPLAINED["parameters"],
        *(
            {"comparison": "lastname <i>", "level_index": index, "level": level, "m": m, "u": 0.01, "weight": 1.0,
             "m_configured": m, "u_configured": 0.01, "m_source": corrected, "u_source": "random pairs", "pairs": 9}
            for index, (level, m) in enumerate((("exact", 0.75), ("similar >= 0.7", 0.15), ("else", 0.1)), 1)
        ),
    ]  # fmt: skip
    html = explained_page()
    assert 'id="weights-corrected"' not in html
    html = render_report({**EXPLAINED, "parameters": parameters}, object="companies", run_id="r",
                         legacy_table="Company", hubspot_table="companies", generated="now")  # fmt: skip
    flag = re.search(r'<div class="alert" id="weights-corrected">.*?</div>', html, flags=re.S).group(0)
    assert flag.count("<li>") == 1  # one line per comparison, not per level
    assert f"<b>lastname &lt;i&gt;</b>: {corrected.replace('>', '&gt;')}" in flag


def test_a_database_without_the_parameters_table_says_so():
    html = render_report({**EXPLAINED, "parameters": None}, object="companies", run_id="r", legacy_table="Company",
                         hubspot_table="companies", generated="now")  # fmt: skip
    assert "has no <code>staging.match_parameters</code> table yet" in html
    assert 'class="parameters"' not in html


def test_the_weight_histogram_stacks_the_statuses_in_bins_of_five_bits():
    html = explained_page()
    chart = re.search(r'<svg [^>]*aria-label="match weight histogram">.*?</svg>', html, flags=re.S).group(0)
    labels = re.findall(r'<text class="small muted" x="[^"]*" y="[^"]*" text-anchor="middle">([^<]*)</text>', chart)
    assert labels == ["\u221210", "\u22125", "0", "5", "10", "15", "20", "25"]  # empty bins too
    assert re.findall(r'<rect class="(\w+)"', chart) == ["conflict", "matched", "probable", "new"]
    # the 8 rows of bin 20 fill the plot's 170 px: 6 matched, 2 probable stacked on them
    assert 'y="76.5" width="51.6" height="127.5"' in chart
    assert 'y="34.0" width="51.6" height="42.5"' in chart
    assert "match \u2265 50% +0.0 bits" in chart
    assert "probable \u2265 80% +2.0 bits" in chart


HELD = {
    "total": 6,
    "records": 5,
    "groups": 3,
    "rows": [
        {
            "api_object": "companies",
            "property": "industry",
            "value": "Industrial IoT",
            "records": 3,
            "reason": "not an option of industry, nor in the value map",
            "reasons": 1,
            "allowed": [f"OPTION_{index}" for index in range(12)],
            "allowed_total": 150,
            "actions": ["update"],
            "legacy_ids": [11, 12, 13],
        },
        {
            "api_object": "companies",
            "property": "type",
            "value": "<script>alert(1)</script>",
            "records": 2,
            "reason": "not an option of type & not mapped",
            "reasons": 2,
            "allowed": ["CUSTOMER", "PARTNER"],
            "allowed_total": 2,
            "actions": ["create", "update"],
            "legacy_ids": [11, 14],
        },
    ],
}


def held_page(held) -> str:
    return render_report(
        {**REPORT, "held_values": held},
        object="companies",
        run_id="manual__1",
        legacy_table="Company",
        hubspot_table="companies",
        generated="2026-03-01 00:00 UTC",
    )


def held_rows(html: str) -> list[str]:
    table = re.search(r'<table class="held">.*?</table>', html, flags=re.S).group(0)
    return re.findall(r"<tr>\n.*?</tr>", table, flags=re.S)


def test_held_values_are_listed_by_value_with_their_counts_and_how_to_fix_them():
    html = held_page(HELD)
    assert '<h2 id="held-values">Values the portal cannot take</h2>' in html
    assert "held back 6 values of 5 records" in html
    assert "(shown: the 2 of 3 with the most records)" in html
    first, second = held_rows(html)
    assert "<code>industry</code>" in first
    assert "<code>Industrial IoT</code>" in first
    assert '<td class="num">3<div class="note">legacy 11, 12, 13</div></td>' in first
    # the first 12 options, then how many more the portal allows
    assert re.findall(r'<span class="option">(\w+)</span>', first) == [f"OPTION_{index}" for index in range(12)]
    assert '<span class="option">OPTION_11</span> <i class="note">… 138 more</i>' in first
    assert (
        "value_maps: {industry: {&#34;Industrial IoT&#34;: …}} under companies in include/config/objects.yaml" in first
    )
    assert "create_options: true" in first
    assert '<td class="num">2<div class="note">legacy 11, 14</div></td>' in second
    assert "(and 1 other reason)" in second
    assert '<span class="option">PARTNER</span> </td>' in second  # all the options: nothing more


def test_held_values_are_escaped():
    html = held_page(HELD)
    assert "<script>" not in html
    (_, second) = held_rows(html)
    assert "<code>&lt;script&gt;alert(1)&lt;/script&gt;</code>" in second
    assert "not an option of type &amp; not mapped" in second
    assert "&#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;" in second  # in the fix sentence too


def test_a_value_outside_any_enumeration_is_corrected_at_the_source():
    row = {"api_object": "contacts", "property": "email", "value": "jean@@example", "records": 1,
           "reason": "not an e-mail address", "allowed": None, "legacy_ids": [5]}  # fmt: skip
    empty = {**row, "property": "closedate", "value": None, "reason": "a closed-won deal needs a close date"}
    html = held_page({"total": 2, "records": 2, "groups": 2, "rows": [row, empty]})
    email, closedate = held_rows(html)
    assert "Correct it in the legacy CRM" in email
    assert "create_options" not in email
    assert '<td class="options">–</td>' in email
    assert "<i>empty</i>" in closedate
    assert "Fill in closedate in the legacy CRM" in closedate


def test_no_held_values_no_section():
    assert "Values the portal cannot take" not in page()  # a report without the key at all
    assert "Values the portal cannot take" not in held_page({"total": 0, "records": 0, "groups": 0, "rows": []})
