"""The gate before a big push: a person approves in the Airflow UI (Human-in-the-loop)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from airflow.providers.standard.operators.hitl import ApprovalOperator

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import PushSelection


class PushApprovalOperator(PushSelection, ApprovalOperator):
    """Wait for a person's approval (Airflow's "Required actions") when the run would create or
    overwrite more than ``max_records`` records, or it is the object's first live push; dry runs
    and small runs go straight through. The request shows the counts by action and a link to the
    object's latest report. A rejection skips ``push`` (recorded as ``skipped`` in the step log,
    so the run ends green with nothing sent); ``require_approval`` off skips the gate and says so.

    Every argument left unset (None) is the run's param of that name, else the registry's default
    (see ``push.settings``).

    :param object_type: the registry object pushed.
    :param require_approval: off: never wait (a trusted automated run); the log says so.
    :param max_records: creations + overwrites a run may make without approval (default: the
        registry's approval_min_records).
    :param push_target: as the push (``hubspot`` | ``workflow``).
    :param dry_run: as the push: a dry run is never held.
    :param min_confidence: as the push.
    :param create_missing: as the push.
    :param link_probable: as the push.
    :param conn_id: the warehouse connection.
    :param target_conn_ids: connection id per push target.
    """

    template_fields: Sequence[str] = (*ApprovalOperator.template_fields, *PushSelection.push_fields, "require_approval")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#fff1c9"
    uses_references = False

    setting_names: Sequence[str] = (*PushSelection.setting_names, "require_approval", "max_records")

    def __init__(
        self,
        *,
        object_type: str,
        require_approval: bool | str | None = None,
        max_records: int | None = None,
        push_target: str | None = None,
        dry_run: bool | str | None = None,
        min_confidence: float | str | None = None,
        create_missing: bool | str | None = None,
        link_probable: bool | str | None = None,
        conn_id: str = CONN_ID,
        target_conn_ids: dict[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(subject=f"Approve the {object_type} push", body=None, **kwargs)
        self.object_type = object_type
        self.conn_id = conn_id
        given = {name: value for name, value in locals().items() if name in self.setting_names}
        self.init_selection(target_conn_ids, **given)
        self.sql = "push/approval_counts.sql"

    def execute(self, context: Any) -> Any:
        self.ensure_rendered(context)
        held = self.hold_object(context)
        with self.step_log(context) as step:
            if held:
                self.check_own_tables(context)
            settings = self.push_settings(context)
            counts, reason = self._counts(context, settings)
            step.record(details={**counts, "approval": reason})
            if reason is None:
                return {"approval": "not needed", **counts}
            self.log.warning("The push waits for approval: %s", reason)
            self.subject = f"Approve the {self.object_type} push: {reason}"
            dag_id = context["dag"].dag_id if context.get("dag") else f"crm_reconcile_{self.object_type}"
            self.body = (
                f"**{counts['overwrites']}** records would be updated and "
                f"**{counts['creations'] + counts['guarded_creations']}** created in "
                f"HubSpot ({settings.target}), {counts['links']} probable twins linked for good.\n\n"
                f"Why it waits: {reason}.\n\n"
                f"The latest report: [/crm-reports/{dag_id}/latest](/crm-reports/{dag_id}/latest). "
                "Reject to end the run with nothing sent."
            )
        return super().execute(context)

    def _counts(self, context: Any, settings: Any) -> tuple[dict[str, Any], str | None]:
        """What the push would do, and why it must wait (None: it need not)."""
        from crm_reconciliation.push.mirror_guard import guard_reason

        dry = settings.dry_run_reason()
        if dry:
            return {"dry_run": dry}, None
        binds = settings.binds(self.registry, self.spec, context["run_id"])
        counts = self.warehouse.run_script(self.sql, {**binds, "id_property": self.spec.legacy_id_property})
        guard = guard_reason(
            counts["mirror_guard"],
            counts["guarded_creations"],
            self.registry.defaults.max_drop_rate,
            f"hubspot.{self.spec.hubspot_table}",
        )
        if not settings.require_approval:
            self.log.warning(
                "require_approval is off: the push of %s goes ahead without approval (%s)%s",
                self.object_type,
                counts,
                f"; {guard}: they stay held, listed in the report" if guard else "",
            )
            return counts, None
        writes = counts["overwrites"] + counts["creations"] + counts["guarded_creations"]
        reasons = [
            "the first live push of " + self.object_type if not counts["pushed_before"] else None,
            guard,
            f"{writes:,} records to write, more than {settings.max_records:,}"
            if writes > settings.max_records
            else None,
        ]
        return counts, "; ".join(reason for reason in reasons if reason) or None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Record the answer first: on a rejection the base class skips ``push`` by raising."""
        if "error" not in event:
            approved = self.APPROVE in (event.get("chosen_options") or [])
            by = (event.get("responded_by_user") or {}).get("name") or "someone"
            warehouse = self.warehouse
            started = context["ti"].start_date
            details = {"approved": approved, "by": by}
            step = {"object_type": self.object_type, "run_id": context["run_id"], "started_at": started}
            warehouse.log_step(**step, step=self.task_id, outcome="success", details=details)
            if not approved:
                self.log.warning("The push of %s was rejected by %s: nothing is sent", self.object_type, by)
                message = f"not run: the approval was rejected by {by}; nothing sent"
                warehouse.log_step(**step, step="push", outcome="skipped", message=message, details=details)
        return super().execute_complete(context, event)
