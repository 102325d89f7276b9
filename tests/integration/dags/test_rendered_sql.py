"""The SQL of every step is what Airflow shows: ``airflow tasks render`` prints it, values bound."""

from __future__ import annotations

import subprocess
import sys

import pytest

from crm_reconciliation.cli import main as cli_main

pytestmark = pytest.mark.integration


def test_airflow_tasks_render_shows_the_reconcile_sql(airflow_db):
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "tasks", "render", "crm_reconcile_deals", "reconcile", "2026-03-01"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rendered = result.stdout
    assert "merge into staging.deals_reconciliation" in rendered
    assert "left join _deal_stages as stage" in rendered
    assert "%(deal_stages)s::jsonb" in rendered  # the stage map is bound, not pasted
    assert "85103752" not in rendered


@pytest.mark.parametrize(
    ("task_id", "shown"),
    [
        # every template of the push ledger, the associations among them (contacts reference companies)
        ("push", ["insert into staging.push_log", "push_associations", "verification", "revert_of"]),
        ("approve_push", ["pushed_before", "from staging.contacts_reconciliation"]),
        ("report", ["from staging.contacts_reconciliation", "'by_status'"]),
    ],
)
def test_the_push_approval_and_report_sql_is_the_rendered_template(airflow_db, task_id, shown):
    """Not only the SQL steps: what push, approve_push and report run is shown before they run."""
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "tasks", "render", "crm_reconcile_contacts", task_id, "2026-03-01"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for text in shown:
        assert text in result.stdout
    assert "{{" not in result.stdout.split("# property: sql", 1)[-1]
    assert "push/select.sql" not in result.stdout


def test_mappings_command_prints_all_59(capsys):
    assert cli_main(["mappings"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("59 mappings")
    assert "  Comp_WebSite            domain                  domain" in out
    assert "  Pers_CreatedDate        createdate              datetime               no (read only)" in out


def test_render_command_prints_a_step(capsys):
    assert cli_main(["render", "companies", "score/score.sql"]) == 0
    assert "update staging.companies_reconciliation as reconciliation" in capsys.readouterr().out
