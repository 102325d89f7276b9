"""Undo one push run of one object: put back what it overwrote, archive what it created."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator
from crm_reconciliation.push.run import LEDGER_TEMPLATES, TARGETS


class RevertOperator(ObjectStepOperator):
    """Restore the values run ``revert_run_id`` overwrote (``before_values`` in ``staging.push_log``,
    read from HubSpot before that push), leaving any property someone changed in HubSpot since;
    with ``archive_created``, archive the records that run created.

    Under the push's rules: the shared limiter, the ledger (rows with action ``revert`` or
    ``archive``, ``revert_of`` naming the row undone), never twice (a killed revert resumes,
    reading back what was in flight), and ``dry_run`` (reads HubSpot, records the plan, sends nothing).

    :param object_type: the registry object whose run is reverted.
    :param revert_run_id: the DAG run id of the push to undo.
    :param dry_run: record what would be restored and skipped; send nothing.
    :param archive_created: also archive the records the run created.
    :param conn_id: the warehouse connection.
    :param target_conn_ids: connection id per push target (the run's own target is used).
    :param max_requests: requests per window (default: the registry's push_max_requests).
    :param window_seconds: the rolling window (default: the registry's push_window_seconds).
    :param concurrency: requests in flight at once (default: the registry's push_concurrency).
    """

    template_fields: Sequence[str] = ("object_type", "revert_run_id", "dry_run", "archive_created", "sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "json"}
    ui_color = "#fde2c8"
    uses_references = True  # its ledger templates include the dry run's associations

    def __init__(
        self,
        *,
        object_type: str = "{{ params.object_type }}",
        revert_run_id: str = "{{ params.run_id }}",
        dry_run: bool | str = "{{ params.dry_run }}",
        archive_created: bool | str = "{{ params.archive_created }}",
        conn_id: str = CONN_ID,
        target_conn_ids: dict[str, str] | None = None,
        max_requests: int | None = None,
        window_seconds: float | None = None,
        concurrency: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(object_type=object_type, conn_id=conn_id, **kwargs)
        self.revert_run_id = revert_run_id
        self.dry_run = dry_run
        self.archive_created = archive_created
        self.sql = {name: f"push/{name}.sql" for name in LEDGER_TEMPLATES}
        self.sql["run_target"] = "push/run_target.sql"
        self.target_conn_ids = target_conn_ids or TARGETS
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.concurrency = concurrency

    def execute_step(self, context: Any, step: Any) -> dict[str, Any]:
        from crm_reconciliation.config.params import flag
        from crm_reconciliation.push.run import PushRun, connection_missing, verify_binds

        target = self._target()
        conn_id = self.target_conn_ids[target]
        if connection_missing(conn_id):
            raise ValueError(f"a revert reads HubSpot before it writes: connection {conn_id!r} is not defined")
        binds = {
            **self.registry.sql_parameters(self.object_type),
            "run_id": context["run_id"],
            "target": target,
            "api_object": self.spec.api_object,
            # A revert reads back every restore: it is rare, and the user wants to know it held.
            **verify_binds(self.registry, "every"),
        }
        options = {"max_requests": self.max_requests, "window_seconds": self.window_seconds}
        run = PushRun(
            self.warehouse, self.registry, self.spec, self.sql, binds, self.log, concurrency=self.concurrency, **options
        )
        run.connect(target, conn_id)
        summary = run.revert(self.revert_run_id, flag(self.archive_created), flag(self.dry_run))
        step.record(rows_read=summary["revert"]["selected"], details=summary)
        run.raise_for_losses(summary)
        self.log.info("Revert of %s run %s: %s", self.object_type, self.revert_run_id, summary)
        return summary

    def _target(self) -> str:
        """The target the reverted run pushed to (a run pushes to one)."""
        binds = {"object_type": self.object_type, "run_id": self.revert_run_id}
        targets = self.warehouse.get_records(self.sql["run_target"], parameters=binds)
        if not targets:
            raise ValueError(f"run {self.revert_run_id!r} sent nothing for {self.object_type}: nothing to revert")
        return targets[0][0]
