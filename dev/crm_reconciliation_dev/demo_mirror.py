"""Load the bundled sample HubSpot mirror (``crm_reconciliation_dev/mirror/hubspot_<table>.csv``) into ``hubspot``.

Every column is text, as sync tools write them. Existing tables are never overwritten: a
database that already holds a real mirror keeps it.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
DEMO_DIR = Path(__file__).resolve().parent / "mirror"


def load_demo_mirror(connection: psycopg.Connection, folder: Path = DEMO_DIR, replace: bool = False) -> dict[str, int]:
    """Create ``hubspot.<table>`` from each CSV; returns rows loaded per table (skipped: -1)."""
    loaded: dict[str, int] = {}
    with connection.cursor() as cursor:
        cursor.execute("create schema if not exists hubspot")
        for path in sorted(folder.glob("hubspot_*.csv")):
            table = path.stem.removeprefix("hubspot_")
            cursor.execute("select to_regclass(%s) is not null", [f"hubspot.{table}"])
            if cursor.fetchone()[0] and not replace:
                log.info("hubspot.%s exists: left as it is", table)
                loaded[table] = -1
                continue
            with path.open(encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle))
            target = sql.Identifier("hubspot", table)
            cursor.execute(sql.SQL("drop table if exists {}").format(target))
            cursor.execute(
                sql.SQL("create table {} ({})").format(
                    target, sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in header)
                )
            )
            with (
                path.open("rb") as handle,
                cursor.copy(sql.SQL("copy {} from stdin (format csv, header match)").format(target)) as copy,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
            loaded[table] = cursor.rowcount
    connection.commit()
    return loaded
