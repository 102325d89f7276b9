"""One lock per object type, held by every step that writes the object's tables.

Two runs of one object (two DAG runs, or one started by hand next to the scheduler's) never
write the same tables at once: the second waits for the first. A PostgreSQL advisory lock, so
it holds across processes and machines, and ends with the transaction that took it.
"""

from __future__ import annotations

from typing import Any

OBJECT_LOCK = "select pg_advisory_xact_lock(hashtext('crm_reconciliation'), hashtext(%(object_type)s))"


def lock_object(cursor: Any, object_type: str) -> None:
    """Take the object's lock for the rest of the current transaction (waiting if it is held).

    The steps take it through ``WarehouseHook.transaction(lock=object_type)``."""
    cursor.execute(OBJECT_LOCK, {"object_type": object_type})
