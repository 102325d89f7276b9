"""The package's import tree: product code never reaches into the development tooling, and each
layer imports only the layers below it: config ← common ← hooks ← the domains (load, push,
review; report, which reads the review's fix sentences) ← operators ← the DAG factory, views, CLI.
No exception: an upward import or a cycle fails here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import crm_reconciliation

PACKAGE = Path(crm_reconciliation.__file__).resolve().parent
DAGS = PACKAGE.parents[1] / "dags"
BASE = {"config", "common", "hooks"}
DOMAINS = {"load", "push", "review", "report"}
# What each layer may import from the package (besides itself).
ALLOWED = {
    "config": {"config"},
    "common": {"config", "common"},
    "hooks": BASE,
    "load": BASE | {"load"},
    "push": BASE | {"push"},
    "review": BASE | {"review"},
    "report": BASE | {"review", "report"},
    "operators": BASE | DOMAINS | {"operators"},
    "views": BASE | DOMAINS | {"views"},
}


def imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def edges() -> dict[str, set[str]]:
    files = [*PACKAGE.rglob("*.py"), *DAGS.glob("*.py"), PACKAGE.parent / "crm_reconciliation_plugin.py"]
    return {str(path.relative_to(PACKAGE.parents[1])): imports(path) for path in files}


def test_the_tree_is_drawn_from_every_module():
    tree = edges()
    assert "plugins/crm_reconciliation/operators/push.py" in tree
    assert "crm_reconciliation.operators.base" in tree["plugins/crm_reconciliation/operators/push.py"]


def test_product_code_never_imports_the_development_package():
    offenders = {
        module: sorted(name for name in names if name.split(".")[0] == "crm_reconciliation_dev")
        for module, names in edges().items()
    }
    assert {module: names for module, names in offenders.items() if names} == {}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_each_layer_imports_only_the_layers_below(layer):
    wrong = {}
    for path in (PACKAGE / layer).rglob("*.py"):
        reached = {
            name.split(".")[1]
            for name in imports(path)
            if name.startswith("crm_reconciliation.") and name.count(".") >= 1
        }
        reached -= {"__version__"}
        if reached - ALLOWED[layer]:
            wrong[path.name] = sorted(reached - ALLOWED[layer])
    assert wrong == {}


def test_every_package_has_its_place_in_the_order():
    packages = {path.parent.name for path in PACKAGE.glob("*/__init__.py")}
    assert packages == set(ALLOWED)


def test_no_module_imports_itself_back():
    """No cycle between the package's modules (imports inside functions count too)."""
    modules = {".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts): path for path in PACKAGE.rglob("*.py")}
    graph = {
        name: {
            target
            for imported in imports(path)
            for target in (imported, imported.rpartition(".")[0])
            if target in modules and target != name and not target.endswith(".__init__")
        }
        for name, path in modules.items()
    }
    cycles = []

    def visit(name: str, trail: list[str]) -> None:
        for target in graph[name]:
            if target in trail:
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in done:
                visit(target, [*trail, target])
        done.add(name)

    done: set[str] = set()
    for name in sorted(graph):
        if name not in done:
            visit(name, [name])
    assert cycles == []


# -- the connection ----------------------------------------------------------------------------------

# The only package that opens the warehouse connection or names its driver (issue 27: the hook owns
# the connection; the others get a WarehouseSession from it).
CONNECTION_OWNER = "hooks"
# get_conn that is not the warehouse's: HttpHook.get_conn is the webhook's requests session.
HTTP_GET_CONN = {"plugins/crm_reconciliation/alerts.py"}
DRIVERS = ("psycopg", "psycopg2")


def connection_uses(source: str) -> list[str]:
    """Where ``source`` imports the PostgreSQL driver or reaches for a connection (``get_conn``,
    called or passed on), as ``line N: …``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
            first = node.args[0] if node.args else None
            modules = [first.value] if isinstance(first, ast.Constant) and isinstance(first.value, str) else []
        elif isinstance(node, ast.Attribute) and node.attr == "get_conn":
            found.append(f"line {node.lineno}: get_conn")
        found += [f"line {node.lineno}: imports {name}" for name in modules if name.split(".")[0] in DRIVERS]
    return sorted(found)


def test_the_connection_check_sees_imports_and_get_conn():
    source = (
        "import psycopg\n"
        "from psycopg import errors\n"
        "def f(hook):\n"
        "    import psycopg2.extras\n"
        "    opener = hook.get_conn\n"
        "    return hook.get_conn(), __import__('psycopg')\n"
    )
    assert connection_uses(source) == [
        "line 1: imports psycopg",
        "line 2: imports psycopg",
        "line 4: imports psycopg2.extras",
        "line 5: get_conn",
        "line 6: get_conn",
        "line 6: imports psycopg",
    ]
    allowed = "from crm_reconciliation.hooks.warehouse import UndefinedTable\nhook.get_connection('x')\n"
    assert connection_uses(allowed) == []


def test_only_the_hooks_open_a_connection_or_import_psycopg():
    """No module outside ``hooks/`` imports psycopg or calls ``get_conn``: the domains, operators,
    views, the DAG factory and the DAG files go through ``WarehouseHook`` (its ``transaction``,
    ``autocommit_session``, streams, COPY and savepoints, and the error names of hooks.warehouse)."""
    files = [*PACKAGE.rglob("*.py"), *DAGS.glob("*.py"), PACKAGE.parent / "crm_reconciliation_plugin.py"]
    leaks = {}
    for path in files:
        name = str(path.relative_to(PACKAGE.parents[1]))
        if PACKAGE / CONNECTION_OWNER in path.parents:
            continue
        found = connection_uses(path.read_text(encoding="utf-8"))
        if name in HTTP_GET_CONN:
            found = [use for use in found if not use.endswith(": get_conn")]
        if found:
            leaks[name] = found
    assert leaks == {}
