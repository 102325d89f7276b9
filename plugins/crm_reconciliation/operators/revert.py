"""Undo one push run of one object: put back what it overwrote, archive what it created."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator
from crm_reconciliation.push.run import LEDGER_TEMPLATES


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
        object_type: str | None = None,
        revert_run_id: str | None = None,
        dry_run: bool | str | None = None,
        archive_created: bool | str | None = None,
        conn_id: str = CONN_ID,
        target_conn_ids: dict[str, str] | None = None,
        max_requests: int | None = None,
        window_seconds: float | None = None,
        concurrency: int | None = None,
        **kwargs: Any,
    ):
        # The object's name is needed to render the SQL, before the run's params are read.
        super().__init__(object_type=object_type or "{{ params.object_type }}", conn_id=conn_id, **kwargs)
        self.revert_run_id = revert_run_id
        self.dry_run = dry_run
        self.archive_created = archive_created
        self.sql = {name: f"push/{name}.sql" for name in LEDGER_TEMPLATES}
        self.sql["run_target"] = "push/run_target.sql"
        self.target_conn_ids = target_conn_ids
        self.limits = {"max_requests": max_requests, "window_seconds": window_seconds, "concurrency": concurrency}

    def execute_step(self, context: Any, step: Any) -> dict[str, Any]:
        from crm_reconciliation.config.params import flag
        from crm_reconciliation.push.run import PushRun
        from crm_reconciliation.push.settings import PushSettings, connection_missing

        revert_run_id = self.revert_run_id or context["params"]["run_id"]
        # A revert reads back every restore: it is rare, and the user wants to know it held.
        given = {"push_target": self._target(revert_run_id), "verify": "every", **self.limits}
        settings = PushSettings.build(self.registry, {}, target_conn_ids=self.target_conn_ids, **given)
        if connection_missing(settings.conn_id):
            raise ValueError(f"a revert reads HubSpot before it writes: connection {settings.conn_id!r} is not defined")
        binds = settings.binds(self.registry, self.spec, context["run_id"])
        run = PushRun(self.warehouse, self.registry, self.spec, self.sql, binds, self.log, settings)
        run.connect(settings.target, settings.conn_id)
        archive, dry = (flag(self.run_param(context, name)) for name in ("archive_created", "dry_run"))
        summary = run.revert(revert_run_id, archive, dry)
        step.record(rows_read=summary["revert"]["selected"], details=summary)
        run.raise_for_losses(summary)
        self.log.info("Revert of %s run %s: %s", self.object_type, revert_run_id, summary)
        return summary

    def _target(self, revert_run_id: str) -> str:
        """The target the reverted run pushed to (a run pushes to one)."""
        binds = {"object_type": self.object_type, "run_id": revert_run_id}
        targets = self.warehouse.get_records(self.sql["run_target"], parameters=binds)
        if not targets:
            raise ValueError(f"run {revert_run_id!r} sent nothing for {self.object_type}: nothing to revert")
        return targets[0][0]
