"""``make bench-matching`` at a tiny size: the labelled-data table, then FEBRL 4 through the contacts
DAG's tasks side by side with Splink, each row with its figures.

Figures are not asserted beyond their range (the contacts model may change; the machine is
shared): what is asserted is that both systems ran on the records asked for and printed a row.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

import pytest

from crm_reconciliation.paths import PROJECT_ROOT

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("splink") is None or importlib.util.find_spec("recordlinkage") is None,
        reason="splink or recordlinkage is not installed (requirements-dev.txt)",
    ),
]

RECORDS = 200


def _table(text: str, header: str) -> list[list[str]]:
    section = text.split(header, 1)[1]
    lines = []
    for line in section.splitlines()[1:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            lines.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return lines


def test_bench_matching_prints_the_dag_and_splink_on_febrl4():
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    result = subprocess.run(
        [sys.executable, "scripts/bench_matching.py", "--size", "200", "--febrl-records", str(RECORDS)],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment | {"PYTHONPATH": os.pathsep.join([str(PROJECT_ROOT / "plugins"), str(PROJECT_ROOT / "dags")])},
        cwd=PROJECT_ROOT,
        check=False,
    )
    output = result.stdout
    assert result.returncode == 0, output[-3000:] + result.stderr[-4000:]

    labelled = _table(output, "| object | legacy records |")
    assert [row[0] for row in labelled] == ["companies", "contacts"]

    assert f"FEBRL 4: {RECORDS} legacy (4A) vs {RECORDS} HubSpot (4B) records, {RECORDS} true pairs." in output
    assert "not date_of_birth nor soc_sec_id" in output
    rows = _table(output, "| system | pairs compared | precision | recall | F1 | seconds |")
    systems = [row[0] for row in rows]
    assert systems[0].startswith("contacts DAG")
    assert any(system.startswith("Splink") and "0.5" in system for system in systems)
    assert any(system.startswith("Splink") and "one-to-one" in system for system in systems)
    for row in rows:
        assert not row[1].startswith("failed"), row
        assert int(row[1].replace(",", "")) > 0, row  # pairs compared
        precision, recall, f1, seconds = (float(cell) for cell in row[2:6])
        assert 0 <= precision <= 1
        assert 0 <= recall <= 1
        assert 0 <= f1 <= 1
        assert seconds > 0
        if row[0].startswith("Splink"):  # set up right, it finds most of FEBRL's twins from names and addresses
            assert recall > 0.5, row
