"""The package uses Airflow's public API only: a private name can change at any Airflow release
(issue 27: ``_do_render_template_fields``, HttpHook's ``_set_base_url``)."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import crm_reconciliation

pytestmark = pytest.mark.unit

PACKAGE = Path(crm_reconciliation.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))


def private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def own_names() -> set[str]:
    """Every private name the package defines itself (functions, classes, attributes it assigns)."""
    names: set[str] = set()
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                names.add(node.attr)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
    return {name for name in names if private(name)}


def test_no_import_of_a_private_airflow_module():
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow"):
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names if alias.name.startswith("airflow")]
            else:
                continue
            found += [
                f"{path.relative_to(PACKAGE)}:{node.lineno} {module}"
                for module in modules
                if any(private(part) for part in module.split(".")) or ".definitions." in f"{module}."
            ]
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow"):
                found += [
                    f"{path.relative_to(PACKAGE)}:{node.lineno} {alias.name}"
                    for alias in node.names
                    if private(alias.name)
                ]
    assert found == []


def test_no_private_attribute_of_airflow_is_used():
    """``x._name`` only for names the package defines: anything else is Airflow's (or a library's) private."""
    ours = own_names()
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and private(node.attr) and node.attr not in ours:
                found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} .{node.attr}")
    assert found == []


def test_no_class_overrides_a_private_method_of_airflow():
    found = []
    for module_info in pkgutil.walk_packages([str(PACKAGE)], "crm_reconciliation."):
        if module_info.name.endswith("__main__"):
            continue  # runs the command line
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            foreign = [base for base in cls.__mro__[1:] if not base.__module__.startswith("crm_reconciliation")]
            for name, value in vars(cls).items():
                if not inspect.isfunction(value) or not private(name):
                    continue  # a method of its own, not what ABC or dataclass adds
                if any(name in vars(base) for base in foreign):
                    found.append(f"{cls.__module__}.{cls.__qualname__}.{name}")
    assert found == []
