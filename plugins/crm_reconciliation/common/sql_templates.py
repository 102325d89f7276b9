"""Render the SQL templates of ``include/sql`` outside a task (loader, commands, tests).

Inside DAGs Airflow renders the same files through ``template_searchpath``; this
environment mirrors it (strict undefined, same folder) for code that builds its SQL from
what it finds in a file, such as the bronze loader's column layout.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2

from crm_reconciliation.config.paths import SQL_DIR


def quote_identifier(name: object) -> str:
    """``name`` as a PostgreSQL delimited identifier: in double quotes, a double quote doubled.

    Always quoted, so a name keeps its case and may be a keyword or hold any character; the
    Jinja filter ``identifier`` of the templates (column names come from the files themselves).
    """
    text = str(name)
    if not text or "\x00" in text:
        raise ValueError(f"not a PostgreSQL identifier: {text!r}")
    return '"' + text.replace('"', '""') + '"'


def quote_literal(value: object) -> str:
    """``value`` as a PostgreSQL string literal, as ``quote_literal()`` writes it: in single quotes,
    a single quote doubled, and with a backslash doubled in an ``E''`` string.

    The Jinja filter ``literal``, for the few places that take no bound value (the options of
    COPY); everywhere else values are bound.
    """
    text = str(value)
    if "\x00" in text:
        raise ValueError("a PostgreSQL string cannot hold a NUL character")
    quoted = "'" + text.replace("'", "''") + "'"
    return "E" + quoted.replace("\\", "\\\\") if "\\" in text else quoted


# The filters the SQL templates use.
SQL_FILTERS = {"identifier": quote_identifier, "literal": quote_literal}


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(SQL_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # noqa: S701 - SQL, not HTML; values are bound, never pasted
    )
    env.filters.update(SQL_FILTERS)
    return env


def render(template: str, **context: object) -> str:
    return environment().get_template(template).render(**context)


@cache
def statement(name: str) -> str:
    """A plain statement file of ``include/sql`` (bind parameters, no template), as hooks run it."""
    return (SQL_DIR / name).read_text(encoding="utf-8")


def split_statements(script: str) -> list[str]:
    """Split a rendered script on top-level semicolons (not inside quotes or dollar quotes)."""
    import sqlparse

    return [statement.strip().rstrip(";") for statement in sqlparse.split(script) if statement.strip()]


def execute_script(cursor: Any, script: str | list[str], parameters: dict[str, Any] | None = None) -> dict | None:
    """Run rendered scripts statement by statement on ``cursor``; merge the JSON objects their SELECTs return.

    Statements holding ``%(name)s`` placeholders get ``parameters`` bound (a literal ``%`` is
    written ``%%`` there); the others run as written, so PL/pgSQL bodies may use ``%`` freely.
    A script may end with a SELECT of one JSON object (its summary): the objects are merged.
    """
    summary: dict[str, Any] = {}
    for text in [script] if isinstance(script, str) else script:
        for statement in split_statements(text):
            cursor.execute(statement, parameters if "%(" in statement else None)
            if cursor.description:
                value = cursor.fetchone()[0]
                summary.update(value if isinstance(value, dict) else {})
    return summary or None
