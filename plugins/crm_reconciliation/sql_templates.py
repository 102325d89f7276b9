"""Render the SQL templates of ``include/sql`` outside a task (loader, commands, tests).

Inside DAGs Airflow renders the same files through ``template_searchpath``; this
environment mirrors it (strict undefined, same folder) for code that builds its SQL from
what it finds in a file, such as the bronze loader's column layout.
"""

from __future__ import annotations

from functools import cache

import jinja2

from crm_reconciliation.paths import SQL_DIR


@cache
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SQL_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # noqa: S701 - SQL, not HTML; values are bound, never pasted
    )


def render(template: str, **context: object) -> str:
    return _environment().get_template(template).render(**context)


def split_statements(script: str) -> list[str]:
    """Split a rendered script on top-level semicolons (not inside quotes or dollar quotes)."""
    import sqlparse

    return [statement.strip().rstrip(";") for statement in sqlparse.split(script) if statement.strip()]
