"""The SQL of every step is what Airflow shows: ``airflow tasks render`` prints it, values bound."""

from __future__ import annotations

import sys

import pytest

from crm_reconciliation.cli import main as cli_main
from tests.helpers import run_command

pytestmark = pytest.mark.integration


def test_airflow_tasks_render_shows_the_reconcile_sql(airflow_db):
    result = run_command(
        [sys.executable, "-m", "airflow", "tasks", "render", "crm_reconcile_deals", "reconcile", "2026-03-01"],
        timeout=180,
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
        ("report", ["from staging.contacts_reconciliation", "by_status", "from staging.mirror_checks"]),
        ("load_bronze", ['copy bronze."person" ("pers_personid"', "create temp table _bronze_flags"]),
    ],
)
def test_the_push_approval_and_report_sql_is_the_rendered_template(airflow_db, task_id, shown):
    """Not only the SQL steps: what push, approve_push and report run is shown before they run."""
    result = run_command(
        [sys.executable, "-m", "airflow", "tasks", "render", "crm_reconcile_contacts", task_id, "2026-03-01"],
        timeout=180,
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


def test_every_sql_file_a_task_runs_is_one_of_its_templates():
    """The files of include/sql that tasks run are all in some task's templated ``sql`` (what the
    Rendered Template tab shows), or included by one; the rest are the hooks' statements, the
    run claims' (every step's, before its own SQL), the review and report pages' queries."""
    import re

    from airflow.dag_processing.dagbag import DagBag

    from crm_reconciliation.config.paths import PROJECT_ROOT, SQL_DIR

    files = {str(path.relative_to(SQL_DIR)) for path in SQL_DIR.rglob("*.sql")}
    by_text = {(SQL_DIR / name).read_text(): name for name in files}  # parsing reads a file's text in
    named = set()
    for dag in DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags.values():
        for task in dag.tasks:
            sql = getattr(task, "sql", None) if "sql" in task.template_fields else None
            sources = sql.values() if isinstance(sql, dict) else [sql] if isinstance(sql, str) else sql or []
            named |= {by_text.get(source, source) for source in sources}
    shown, todo = set(), list(named)
    while todo:  # what the rendered templates include or import is in the rendered text too
        name = todo.pop()
        shown.add(name)
        todo += set(re.findall(r"\{%-?\s*(?:include|from|import)\s+\"([^\"]+)\"", (SQL_DIR / name).read_text())) - shown
    not_for_tasks = {name for name in files if name.split("/")[0] in ("hook", "review", "runs")}
    not_for_tasks |= {"load/show_rejects.sql"}  # a query quoted in an error message, never run
    # The report app's query, and the statement storing a page (its one value: the page itself).
    not_for_tasks |= {"report/page.sql", "report/store.sql"}
    assert files - not_for_tasks - shown == set()
    assert named <= files
