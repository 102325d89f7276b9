"""Every SQL file of ``include/sql`` says what it reads and creates, and each step's files, in the
order the step runs them, read only what exists by then. No SQL file is over 200 lines.

The header is the file's first line, ``-- reads: … / creates: …`` (a plain statement file: the
hooks' and run claims'), or the first paragraph of its leading Jinja comment::

    {#- reads: A, B / creates: C [/ updates: D]

        What the file does … -#}

Each list is ``nothing`` or names separated by commas, each name optionally followed by a note
in parentheses. A name is a relation as the SQL writes it, the object's own names as
placeholders (``staging.<object>_reconciliation``, ``bronze.<legacy table>``,
``staging."_<object>_pairs"``, ``ref_<property>_ids``); ``staging.crm_text()`` a function;
``schema x`` / ``extension x`` what their words say; a trailing ``?`` a relation read only when
it exists (another object's staging table). ``creates`` lists what the file makes (tables,
views, functions), ``updates`` the existing relations whose rows (or definition) it changes,
``reads`` the rest of what it reads. A file that includes or imports another (``{% include %}``,
``{% from … import %}``) reads and creates what that one declares too: a macro file declares
the tables its macros read.

The rule, checked for every object over the DAG's steps in order (create_staging, load_bronze,
reconcile, score, approve_push, push, the revert), then over every other file alone:

- the mirror (``hubspot.*``) and PostgreSQL's catalogs (``pg_*``, ``information_schema.*``) are
  always there;
- a durable relation (schema-qualified, its name not starting with ``_``: the persistent tables
  create_staging's files create, the views reconcile creates) can be read by any file after the
  one that creates it, in its step or a later one;
- a work table (temporary: no schema; or a step's unlogged ``staging."_<object>_…"`` table) only
  by a later file of the step that creates it;
- a function the SQL calls (``staging.crm_…(``) must be created the same way (create_staging).

And the headers are true: every relation the rendered SQL reads or writes (after FROM, JOIN,
INTO, UPDATE, TABLE, VIEW, COPY, ANALYZE, TRUNCATE, an index's or trigger's ON) is in its
header, and every name of a header is in the SQL of the file (or of a file that includes it)
for some object.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

import pytest

from crm_reconciliation.common.sql_templates import environment
from crm_reconciliation.config.paths import SQL_DIR
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.operators.bronze_load import LOAD_TEMPLATES

MAX_LINES = 200
REGISTRY = default_registry()
OBJECTS = sorted(REGISTRY.objects)

# The order a push runs its templates in (push.run.PushRun, push.service): a dry run, a live run
# (verification from the mirror, preflight, plan, updates, creations, associations, quarantine,
# read-back), and the revert of a run. Their work table, the push plan, outlives each
# transaction: the step is the whole run.
PUSH_ORDERS = {
    "push (dry run)": ("verify_mirror", "plan", "held_values", "dry_run"),
    "push": (
        "verify_mirror",
        "store_catalogue",
        "plan",
        "held_values",
        "missing_options",
        "select",
        "record_in_flight",
        "record_outcomes",
        "select_create",
        "associations",
        "record_associations",
        "quarantine",
        "verify_select",
        "record_verification",
        "mark_pending",
    ),
    "revert": (
        "run_target",
        "revert_select",
        "record_in_flight",
        "record_outcomes",
        "verify_select",
        "record_verification",
        "mark_pending",
    ),
}

# -- headers -------------------------------------------------------------------------------------

_IDENT = r"(?:[a-z0-9_]|<[a-z ]+>)+"  # an identifier, placeholders in angle brackets
_NAME = rf'(?:(?:schema|extension) {_IDENT}|{_IDENT}(?:\.(?:"{_IDENT}"|{_IDENT}))?(?:\(\))?\??)'
_ITEM = re.compile(rf"^(?P<name>{_NAME})(?: \((?P<note>.*)\))?$")


@dataclass(frozen=True)
class Header:
    reads: frozenset[str] = frozenset()
    creates: frozenset[str] = frozenset()
    updates: frozenset[str] = frozenset()

    def __or__(self, other: Header) -> Header:
        return Header(self.reads | other.reads, self.creates | other.creates, self.updates | other.updates)

    @property
    def names(self) -> frozenset[str]:
        return self.reads | self.creates | self.updates


def _split_top(text: str, separator: str) -> list[str]:
    """``text`` split on ``separator`` outside parentheses."""
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and text.startswith(separator, index):
            parts.append(text[start:index])
            start = index + len(separator)
    return [*parts, text[start:]]


def _items(text: str) -> frozenset[str]:
    text = text.strip()
    if re.fullmatch(r"nothing(?: \(.*\))?", text):
        return frozenset()
    names = set()
    for item in _split_top(text, ", "):
        found = _ITEM.match(item.strip())
        if not found:
            raise ValueError(f"not a name (optionally followed by a note in parentheses): {item.strip()!r}")
        names.add(found["name"])
    return frozenset(names)


def parse_header(source: str) -> Header:
    """The header of a file's text: ``reads: … / creates: … [/ updates: …]`` (see the module)."""
    if source.startswith("--"):
        text = source.split("\n", 1)[0][2:]
    elif source.startswith("{#"):
        comment = source[2 : source.index("#}")].strip("-")
        text = re.split(r"\n\s*\n", comment.strip(), maxsplit=1)[0]
    else:
        raise ValueError("opens with neither '-- reads:' nor a leading {#- reads: … -#} comment")
    text = " ".join(text.split())
    parts = [part.strip() for part in _split_top(text, " / ")]
    labels = [part.split(":", 1)[0] for part in parts]
    if labels not in (["reads", "creates"], ["reads", "creates", "updates"]):
        raise ValueError(f"header is not 'reads: … / creates: … [/ updates: …]': {text!r}")
    lists = [_items(part.split(":", 1)[1]) for part in parts]
    return Header(*lists)


def sql_files() -> list[str]:
    return sorted(str(path.relative_to(SQL_DIR)) for path in SQL_DIR.rglob("*.sql"))


@cache
def source(name: str) -> str:
    return (SQL_DIR / name).read_text(encoding="utf-8")


@cache
def own_header(name: str) -> Header:
    return parse_header(source(name))


@cache
def used(name: str) -> frozenset[str]:
    """The files ``name`` includes or imports, and theirs."""
    found = set(re.findall(r"\{%-?\s*(?:include|from|import)\s+\"([^\"]+)\"", source(name)))
    for other in list(found):
        found |= used(other)
    return frozenset(found)


@cache
def header(name: str) -> Header:
    """What ``name`` declares, with what the files it includes or imports declare."""
    merged = own_header(name)
    for other in used(name):
        merged |= own_header(other)
    return merged


# -- names ---------------------------------------------------------------------------------------


def bare(name: str) -> str:
    return name.rstrip("?").replace('"', "")


def is_function(name: str) -> bool:
    return name.endswith("()")


def is_relation(name: str) -> bool:
    return not is_function(name) and not name.startswith(("schema ", "extension "))


def is_external(name: str) -> bool:
    return bare(name).startswith(("hubspot.", "pg_", "information_schema."))


def is_work(name: str) -> bool:
    """A temporary table (no schema) or a step's work table (``staging."_<object>_…"``)."""
    schema, _, relation = bare(name).rpartition(".")
    return not schema or relation.startswith("_")


def pattern(name: str) -> re.Pattern:
    """A header name as a regular expression over the SQL's names (placeholders: any identifier)."""
    text = bare(name).removesuffix("()").split(" ", 1)[-1] if not is_relation(name) else bare(name)
    parts = re.split(r"(<[^>]+>)", text)
    return re.compile("".join("[a-z0-9_]+" if part.startswith("<") else re.escape(part) for part in parts))


# -- the rendered SQL ----------------------------------------------------------------------------


def strip_comments(sql: str) -> str:
    """``sql`` without its ``--`` comments (quotes respected) and without double quotes."""
    out, index, quoted = [], 0, False
    while index < len(sql):
        char = sql[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and sql.startswith("--", index):
            index = sql.find("\n", index)
            if index < 0:
                break
            continue
        out.append(char)
        index += 1
    return "".join(out).replace('"', "").lower()


_REL = r"(?:(?:staging|bronze|hubspot)\s*\.\s*)?[a-z_][a-z0-9_$]*"
_CONTEXTS = (
    re.compile(
        rf"\b(?:from|join|into|update|truncate|analyze|copy|table|view)\s+"
        rf"(?:only\s+|if\s+(?:not\s+)?exists\s+)*({_REL})(?![a-z0-9_$(])"
    ),
    re.compile(rf"\bindex\s+(?:if\s+not\s+exists\s+)?(?:[a-z_][a-z0-9_]*\s+)?on\s+(?:only\s+)?({_REL})"),
    re.compile(rf"\b(?:insert|update|delete|truncate)\s+on\s+({_REL})"),
    re.compile(r"\bto_regclass\('((?:staging|bronze|hubspot)\.[a-z0-9_]+)'\)"),
)
_DROP_LIST = re.compile(rf"\bdrop\s+(?:table|view)\s+(?:if\s+exists\s+)?((?:{_REL}\s*,\s*)*{_REL})")
_CALL = re.compile(r"\bstaging\.(crm_[a-z0-9_]+)\s*\(")


def relations(sql: str) -> set[str]:
    """The relations ``sql`` (comments stripped) names where SQL names a relation: schema-qualified
    ones, and temporary tables (``_name``, ``ref_name``)."""
    found = {match.group(1) for context in _CONTEXTS for match in context.finditer(sql)}
    for match in _DROP_LIST.finditer(sql):
        found |= {name.strip() for name in match.group(1).split(",")}
    names = {re.sub(r"\s+", "", name) for name in found}
    return {name for name in names if "." in name or name.startswith(("_", "ref_"))}


def functions(sql: str) -> set[str]:
    return {f"staging.{name}()" for name in _CALL.findall(sql)}


def render_file(name: str, object_type: str, **changed: object) -> str:
    """``name`` rendered as its step renders it for ``object_type`` (``changed``: a variant of the
    object's template parameters)."""
    from crm_reconciliation.load.loader import expected_layout

    spec = REGISTRY.get(object_type)
    params = {"object": {**REGISTRY.template_params(object_type), **changed}, "match_parameters": True}
    context = {
        "params": params,
        "present": [m["reference"]["staging_table"] for m in params["object"]["mappings"] if m["reference"]],
        "object": spec.template_params(),
        "layout": expected_layout(spec),
        "delimiter": ",",
        "encoding": "UTF8",
        "object_type": object_type,
        "snapshot_date": "2026-03-01",
    }
    return environment().get_template(name).render(**context)


@cache
def rendered(name: str, object_type: str) -> str:
    """``name`` rendered for ``object_type``, comments stripped."""
    return strip_comments(render_file(name, object_type))


def is_macro_file(name: str) -> bool:
    """Macros only: renders nothing for any object (the files importing it run its SQL)."""
    return "macro " in source(name) and all(not rendered(name, object_type).strip() for object_type in OBJECTS)


def header_problems(name: str, object_type: str) -> list[str]:
    """What ``name``'s SQL reads or writes that its header (with its includes') does not name."""
    declared = [pattern(item) for item in header(name).names if is_relation(item)]
    sql = rendered(name, object_type)
    return [
        f"{name} ({object_type}): {relation} is in its SQL, not in its header"
        for relation in sorted(relations(sql))
        if not any(regex.fullmatch(relation) for regex in declared)
    ]


# -- the order -----------------------------------------------------------------------------------


@dataclass
class Checked:
    """What exists as the files run: durable relations and functions, and the step's work tables."""

    durable: set[str] = field(default_factory=set)
    problems: list[str] = field(default_factory=list)

    def step(self, step: str, files: Sequence[str], calls: dict[str, set[str]]) -> None:
        made: set[str] = set()
        for name in files:
            declared = header(name)
            needed = {bare(item) for item in declared.reads | declared.updates if not item.endswith("?")}
            needed |= calls.get(name, set())
            there = self.durable | made | {bare(item) for item in declared.creates}
            for item in sorted(needed - there):
                if not is_external(item):
                    self.problems.append(f"{step}: {name} reads {item}, which no earlier file creates")
            made |= {bare(item) for item in declared.creates}
        self.durable |= {item for item in made if not (is_relation(item) and is_work(item))}


@cache
def dag_steps(object_type: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """The DAG's steps in order, each with its files in the order it runs them."""
    from crm_reconciliation.dag_factory import build_dag

    dag = build_dag(REGISTRY, object_type)

    def files(task_id: str) -> tuple[str, ...]:
        sql = dag.get_task(task_id).sql
        return (sql,) if isinstance(sql, str) else tuple(sql)

    return (
        ("create_staging", files("create_staging")),
        ("load_bronze", tuple(f"load/{name}.sql" for name in LOAD_TEMPLATES)),
        ("reconcile", files("reconcile")),
        ("score", files("score")),
        ("approve_push", files("approve_push")),
        *((step, tuple(f"push/{name}.sql" for name in names)) for step, names in PUSH_ORDERS.items()),
        ("report", files("report")),
    )


def check_order(steps: Sequence[tuple[str, Sequence[str]]], object_type: str, alone: Sequence[str] = ()) -> list[str]:
    """Problems of the steps run in order, then of each of ``alone`` run by itself after them."""
    named = {name for _, files in steps for name in files} | set(alone)
    calls = {name: functions(rendered(name, object_type)) for name in named}
    checked = Checked()
    for step, files in steps:
        checked.step(step, files, calls)
    for name in alone:
        checked.step("run alone", [name], calls)
    return checked.problems


def outside_the_steps(steps: Sequence[tuple[str, Sequence[str]]]) -> list[str]:
    """Files no step of the DAG runs: the review page's, the maintenance DAG's, the hooks' and run
    claims' statements, a query quoted in an error message (macro files aside)."""
    run = {name for _, files in steps for name in files}
    covered = run | {other for name in run for other in used(name)}
    return [name for name in sql_files() if name not in covered and not is_macro_file(name)]


# -- tests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sql_files())
def test_every_sql_file_opens_with_what_it_reads_and_creates(name):
    own_header(name)  # raises, saying why, when the header is missing or malformed


@pytest.mark.parametrize("name", sql_files())
def test_no_sql_file_is_over_200_lines(name):
    lines = source(name).count("\n") + (not source(name).endswith("\n"))
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it along its sections (one output a file)"


@pytest.mark.parametrize("object_type", OBJECTS)
def test_each_file_reads_only_what_an_earlier_file_creates(object_type):
    steps = dag_steps(object_type)
    assert check_order(steps, object_type, alone=outside_the_steps(steps)) == []


@pytest.mark.parametrize("object_type", OBJECTS)
def test_headers_name_what_the_sql_reads_and_writes(object_type):
    problems = [problem for name in sql_files() for problem in header_problems(name, object_type)]
    assert problems == []


def test_every_name_of_a_header_is_in_the_sql():
    """No stale header: each name is found in the SQL of its file (or of a file including it)."""
    users = {name: {name} | {other for other in sql_files() if name in used(other)} for name in sql_files()}
    stale = []
    for name in sql_files():
        texts = [rendered(user, object_type) for user in users[name] for object_type in OBJECTS]
        for item in sorted(own_header(name).names):
            regex = re.compile(rf"(?<![a-z0-9_]){pattern(item).pattern}(?![a-z0-9_])")
            if not any(regex.search(text) for text in texts):
                stale.append(f"{name}: {item} is in its header, not in its SQL")
    assert stale == []


@pytest.mark.parametrize("object_type", OBJECTS)
@pytest.mark.parametrize("variant", [{}, {"matching": None}], ids=["as registered", "without matching"])
def test_no_file_a_task_runs_renders_empty(object_type, variant):
    """Airflow renders these DAGs' templates as native objects: an empty one becomes None, which
    no step can run. A file with nothing to do for an object says so in a comment."""
    empty = [
        name
        for _, files in dag_steps(object_type)
        for name in files
        if not render_file(name, object_type, **variant).strip()
    ]
    assert empty == []


def test_the_push_orders_cover_every_template_it_runs():
    """The orders above are the code's: they name every template of the push (the load's order is
    operators.bronze_load.LOAD_TEMPLATES itself)."""
    from crm_reconciliation.push.run import LEDGER_TEMPLATES

    pushed = {name for names in PUSH_ORDERS.values() for name in names}
    assert pushed == {*LEDGER_TEMPLATES, "associations", "run_target"}


# -- the checks can fail ---------------------------------------------------------------------------


def test_a_step_run_in_the_wrong_order_is_caught():
    steps = dag_steps("companies")
    backwards = [(step, files[::-1] if step == "score" else files) for step, files in steps]
    problems = check_order(backwards, "companies")
    assert "score: score/review_apply.sql reads staging._<object>_scored, which no earlier file creates" in problems
    assert "score: score/em.sql reads _pattern_evidence, which no earlier file creates" in problems
    # A work table does not outlive its step: the score's, read by a later step, is not there.
    moved = [(step, [name for name in files if name != "score/probable.sql"]) for step, files in steps]
    problems = check_order([*moved, ("later", ["score/probable.sql"])], "companies")
    assert "later: score/probable.sql reads _assigned, which no earlier file creates" in problems


def test_create_staging_out_of_order_is_caught():
    steps = dag_steps("deals")
    create = list(steps[0][1])
    upgrades_first = [name for name in create if name != "ddl/upgrades.sql"]
    upgrades_first.insert(1, "ddl/upgrades.sql")
    problems = check_order([("create_staging", upgrades_first), *steps[1:]], "deals")
    assert "create_staging: ddl/upgrades.sql reads staging.push_log, which no earlier file creates" in problems
    functions = [name for name in create if name.endswith("_functions.sql")]
    functions_last = [name for name in create if name not in functions] + functions
    problems = check_order([("create_staging", functions_last), *steps[1:]], "deals")
    assert (
        "create_staging: ddl/bronze_table.sql reads staging.crm_legacy_id(), which no earlier file creates" in problems
    )


def test_a_header_that_does_not_name_what_the_sql_reads_is_caught():
    sql = strip_comments(
        "create temp table _a on commit drop as select * from _b as b join staging.x_reconciliation as r on true;\n"
        "-- from _in_a_comment, the reviewer's\n"
        "insert into staging.push_log select 'it''s -- no comment' from bronze.\"person\";\n"
        'drop table staging."_x_one", _two;'
    )
    assert relations(sql) == {
        "_a",
        "_b",
        "staging.x_reconciliation",
        "staging.push_log",
        "bronze.person",
        "staging._x_one",
        "_two",
    }
    declared = parse_header('{#- reads: _b, bronze.<legacy table> / creates: _a, staging."_<object>_one" -#}')
    missing = [r for r in sorted(relations(sql)) if not any(pattern(n).fullmatch(r) for n in declared.names)]
    assert missing == ["_two", "staging.push_log", "staging.x_reconciliation"]


@pytest.mark.parametrize(
    "text",
    [
        "-- Creates a table.\nselect 1",
        "{#- creates: _x / reads: _y -#}",
        "{#- reads: the mirror, as reconcile reads it / creates: nothing -#}",
        "-- reads: a / creates: b / deletes: c",
    ],
)
def test_a_malformed_header_is_refused(text):
    with pytest.raises(ValueError, match=r"header|not a name|opens with"):
        parse_header(text)
