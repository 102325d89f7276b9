from __future__ import annotations

from datetime import date

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.load.snapshots import choose_snapshot


def test_dated_folder_wins_when_present(tmp_path):
    (tmp_path / "2026-03-01").mkdir()
    snapshot = choose_snapshot(tmp_path, date(2026, 3, 1))
    assert snapshot.dated
    assert snapshot.file("Bronze_Company.csv") == tmp_path / "2026-03-01" / "Bronze_Company.csv"


def test_base_folder_without_a_dated_folder(tmp_path):
    (tmp_path / "2026-03-01").mkdir()
    snapshot = choose_snapshot(tmp_path, date(2026, 3, 2))
    assert not snapshot.dated
    assert snapshot.folder == tmp_path
    assert snapshot.snapshot_date == date(2026, 3, 2)


def test_relative_folders_are_relative_to_the_project():
    snapshot = choose_snapshot("include/bronze_layer/", date(1999, 1, 1))
    assert snapshot.folder == PROJECT_ROOT / "include" / "bronze_layer"
