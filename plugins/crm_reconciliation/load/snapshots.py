"""Which folder of CSV exports a run reads: the dated snapshot of its logical date, if any."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from crm_reconciliation.config.paths import resolve_project_path


@dataclass(frozen=True)
class Snapshot:
    folder: Path
    snapshot_date: date
    dated: bool  # True when <bronze_dir>/<YYYY-MM-DD>/ was found and used

    def file(self, name: str) -> Path:
        return self.folder / name

    def describe(self) -> str:
        kind = "dated folder" if self.dated else "no dated folder, using the base folder"
        return f"Snapshot for {self.snapshot_date}: {self.folder} ({kind})"


def choose_snapshot(bronze_dir: str | Path, run_date: date) -> Snapshot:
    """``<bronze_dir>/<run_date>/`` when it exists (what a backfill re-reads), else ``bronze_dir``."""
    base = resolve_project_path(bronze_dir)
    dated = base / run_date.isoformat()
    if dated.is_dir():
        return Snapshot(folder=dated, snapshot_date=run_date, dated=True)
    return Snapshot(folder=base, snapshot_date=run_date, dated=False)
