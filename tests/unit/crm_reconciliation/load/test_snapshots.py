from __future__ import annotations

from datetime import date

import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.load.dialect import BronzeFileError, sniff
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


def test_a_file_url_follows_the_same_dated_rule(tmp_path):
    (tmp_path / "2026-03-01").mkdir()
    (tmp_path / "2026-03-01" / "Bronze_Company.csv").write_text("a\n")
    dated = choose_snapshot(f"file://{tmp_path}", date(2026, 3, 1))
    assert dated.dated
    assert str(dated.file("Bronze_Company.csv")) == f"file://{tmp_path}/2026-03-01/Bronze_Company.csv"
    base = choose_snapshot(f"file://{tmp_path}/", date(2026, 3, 2))
    assert not base.dated
    assert str(base.folder) == f"file://{tmp_path}"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://AKIAX:s3cr3t@bucket/prefix", "s3://***@bucket/prefix: the part before '@' names an Airflow connection"),
        ("nosuch://bucket/prefix", "nosuch://bucket/prefix: no installed Airflow provider reads nosuch:// URLs"),
        ("s3://never_defined_conn@bucket/prefix", "Airflow connection 'never_defined_conn' is not defined"),
    ],
    ids=["credentials-in-url", "unknown-scheme", "undefined-connection"],
)
def test_unreadable_urls_are_refused_before_any_request(url, message):
    with pytest.raises(BronzeFileError) as raised:
        choose_snapshot(url, date(2026, 3, 1))
    assert message in str(raised.value)
    assert "s3cr3t" not in str(raised.value)
    assert not raised.value.retryable


def test_a_missing_file_behind_a_file_url_is_named_by_its_url(tmp_path):
    (tmp_path / "folder.csv").mkdir()
    for name, message, retryable in (
        ("absent.csv", "file not found", True),
        ("folder.csv", "is a folder, not a file", False),
    ):
        with pytest.raises(BronzeFileError) as raised:
            sniff(choose_snapshot(f"file://{tmp_path}", date(2026, 3, 1)).file(name))
        assert str(raised.value) == f"file://{tmp_path}/{name}: {message}"
        assert raised.value.retryable is retryable
