"""Operators stay thin (issue 27): what a step does lives in its domain, an operator's execute only
wires the run's settings, the hook and the step log to it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import crm_reconciliation

pytestmark = pytest.mark.unit

OPERATORS = Path(crm_reconciliation.__file__).parent / "operators"
MAX_LINES = 30


def test_no_execute_of_an_operator_is_over_30_lines():
    long = {}
    for path in sorted(OPERATORS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("execute"):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    long[f"{path.name}:{node.name}"] = lines
    assert long == {}
