"""One run at a time per object, from its first step to its report.

The steps of one object share its tables (bronze, staging, the push plan): another run's load
between this run's score and push would make the push send the other run's matches, and a
report would show another run's rows. A step's own object lock (``locks``) serialises single
statements, not runs; so a run claims its object (``staging.object_runs``) at its first step
and frees it in its report. A step of another run finds the object held and waits or fails, as
that run's ``when_busy`` param says. A claim whose run has ended without its report (killed,
marked failed by hand) is taken over, with a warning.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from crm_reconciliation.common.sql_templates import statement
from crm_reconciliation.config.errors import NotRetryable

log = logging.getLogger(__name__)

# The steps that write an object's tables: a later step reads what they wrote.
WRITERS = ("load_bronze", "reconcile", "score")


class ObjectBusy(RuntimeError):
    """Another run holds the object."""

    def __init__(self, object_type: str, holder: dict[str, Any]):
        self.holder = holder
        super().__init__(
            f"{object_type} is held by run {holder['run_id']} of {holder['dag_id']} (since {holder['claimed_at']}): "
            "one run of an object at a time, from load_bronze to report"
        )


class TablesOfAnotherRun(NotRetryable):
    """The tables a step would read were last written by another run."""


def claim(hook: Any, object_type: str, dag_id: str, run_id: str, is_active: Callable[[str, str], bool]) -> None:
    """Hold ``object_type`` for this run, or raise ``ObjectBusy`` naming the run that holds it.

    ``is_active(dag_id, run_id)``: whether that run is still queued or running (Airflow's view).
    """
    binds = {"object_type": object_type, "dag_id": dag_id, "run_id": run_id, "replace": run_id}
    holder = hook.run_script(statement("runs/claim.sql"), binds)
    if holder["run_id"] == run_id:
        return
    if is_active(holder["dag_id"], holder["run_id"]):
        raise ObjectBusy(object_type, holder)
    log.warning(
        "Run %s of %s held %s but is no longer running (it ended before its report): this run takes it over",
        holder["run_id"],
        holder["dag_id"],
        object_type,
    )
    holder = hook.run_script(statement("runs/claim.sql"), {**binds, "replace": holder["run_id"]})
    if holder["run_id"] != run_id:  # a third run took it over first
        raise ObjectBusy(object_type, holder)


def release(hook: Any, object_type: str, run_id: str) -> None:
    """Free the object when this run holds it (a report of a run that never held it frees nothing)."""
    hook.run(statement("runs/release.sql"), parameters={"object_type": object_type, "run_id": run_id})


def tables_owners(hook: Any, object_type: str) -> dict[str, str]:
    """Each writing step with the run whose success of it is the latest: whose tables they are now."""
    return hook.run_script(statement("runs/writers.sql"), {"object_type": object_type, "steps": list(WRITERS)}) or {}


def check_own_tables(hook: Any, object_type: str, run_id: str, reads: Iterable[str]) -> None:
    """Fail when a step this one reads from last succeeded in another run: its tables are that run's."""
    reads = set(reads) & set(WRITERS)
    if not reads:  # the first steps read nothing another step wrote
        return
    owners = tables_owners(hook, object_type)
    foreign = {step: owner for step, owner in owners.items() if step in reads and owner != run_id}
    if foreign:
        named = ", ".join(f"{step} of run {owner}" for step, owner in sorted(foreign.items()))
        raise TablesOfAnotherRun(
            f"the {object_type} tables this step reads were last written by {named}, not by run {run_id}: "
            "clear this run from load_bronze, or trigger a new run"
        )


def run_steps(hook: Any, object_type: str, run_id: str) -> list[dict[str, Any]]:
    """The run's steps as its report lists them."""
    try:
        row = hook.get_first(statement("report/steps.sql"), parameters={"object_type": object_type, "run_id": run_id})
    except hook.errors.UndefinedTable:  # the holding run has not created the step log yet
        return []
    return row[0] if row else []
