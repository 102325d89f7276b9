"""Two runs of one object never write its tables at once; other objects are not held up."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from crm_reconciliation.common.locks import lock_object
from crm_reconciliation.hooks.warehouse import WarehouseHook

pytestmark = pytest.mark.integration


def _run_in_thread(object_type: str) -> tuple[threading.Thread, list[float]]:
    finished: list[float] = []

    def work() -> None:
        WarehouseHook().run_script("select 1", lock=object_type)
        finished.append(time.monotonic())

    thread = threading.Thread(target=work)
    thread.start()
    return thread, finished


def test_a_step_waits_while_another_run_holds_the_object(db, database_uri):
    with psycopg.connect(database_uri) as holder:
        lock_object(holder, "companies")  # another run, mid-transaction
        waiting, waiting_done = _run_in_thread("companies")
        other, other_done = _run_in_thread("contacts")
        other.join(timeout=10)
        time.sleep(0.5)
        assert other_done, "another object was held up"
        assert not waiting_done, "the second run of companies did not wait"
        released = time.monotonic()
        holder.commit()
    waiting.join(timeout=10)
    assert waiting_done
    assert waiting_done[0] >= released
