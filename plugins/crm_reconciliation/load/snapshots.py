"""Which folder of CSV exports a run reads: the dated snapshot of its logical date, if any.

``bronze_dir`` is a local folder (absolute, or relative to the project) or an object-storage URL
(``s3://<connection id>@bucket/prefix``, ``gs://…``, ``file:///…``, see ``load.source``); the
same dated sub-folder rule holds for both: on object storage a "folder" is a prefix with objects
under it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from crm_reconciliation.config.paths import resolve_project_path
from crm_reconciliation.load.source import BronzeFileError, is_url, object_path

if TYPE_CHECKING:
    from crm_reconciliation.load.source import ExportPath


@dataclass(frozen=True)
class Snapshot:
    folder: ExportPath
    snapshot_date: date
    dated: bool  # True when <bronze_dir>/<YYYY-MM-DD>/ was found and used

    def file(self, name: str) -> ExportPath:
        return self.folder / name

    def describe(self) -> str:
        kind = "dated folder" if self.dated else "no dated folder, using the base folder"
        return f"Snapshot for {self.snapshot_date}: {self.folder} ({kind})"


def choose_snapshot(bronze_dir: str | os.PathLike[str], run_date: date) -> Snapshot:
    """``<bronze_dir>/<run_date>/`` when it exists (what a backfill re-reads), else ``bronze_dir``.

    A URL that cannot be read raises ``BronzeFileError``: not worth a retry for no provider for its
    scheme, an undefined connection or a store that refuses the listing; worth one for a store that
    cannot be reached."""
    text = os.fspath(bronze_dir)
    if not is_url(text):
        base = resolve_project_path(text)
        dated = base / run_date.isoformat()
        found = dated.is_dir()
    else:
        base = object_path(text)
        dated = base / run_date.isoformat()
        try:
            found = dated.is_dir()
        except PermissionError as error:
            raise BronzeFileError(
                dated, f"the store refused the listing ({error}): check the connection's rights"
            ) from error
        except Exception as error:  # an unreachable store (botocore's errors are no OSError): worth a retry
            raise BronzeFileError(dated, f"cannot list the store: {error}", retryable=True) from error
    return Snapshot(folder=dated if found else base, snapshot_date=run_date, dated=found)
