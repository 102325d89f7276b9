"""Pytest plugin (``-p tests.markers``): every test is ``unit`` or ``integration``, by its folder.

A test under ``tests/unit`` is ``unit``: it may start a local HTTP server, but no database, no
Airflow metadata database and no subprocess of the project; asking for one of those fixtures
is a collection error, as is an ``integration`` mark there. Every other test is ``integration``.
``make test-unit`` runs ``-m unit``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT_DIR = Path(__file__).resolve().parent / "unit"
INTEGRATION_FIXTURES = {"database_uri", "db", "airflow_db"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    errors = []
    for item in items:
        unit = UNIT_DIR in Path(str(item.path)).resolve().parents
        if unit:
            if item.get_closest_marker("integration"):
                errors.append(f"{item.nodeid}: marked integration but lives under tests/unit")
            needs = INTEGRATION_FIXTURES & set(getattr(item, "fixturenames", ()))
            if needs:
                errors.append(f"{item.nodeid}: a unit test cannot use {sorted(needs)} (move it to tests/integration)")
            item.add_marker(pytest.mark.unit)
        else:
            if item.get_closest_marker("unit"):
                errors.append(f"{item.nodeid}: marked unit but lives outside tests/unit")
            item.add_marker(pytest.mark.integration)
    if errors:
        raise pytest.UsageError("test markers:\n  " + "\n  ".join(errors))
