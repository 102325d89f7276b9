"""Push the reconciled changes to HubSpot: updates, creations, associations, within the shared limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator, PushSelection


class PushOperator(PushSelection, ObjectStepOperator):
    """Send ``properties_to_update`` in batches, within the rate limit, recorded in ``staging.push_log``;
    with ``create_missing``, create the ``new`` records (upserted on their legacy id); then make
    the associations their legacy references imply (``staging.push_associations``).

    Safe by default: a dry run (param ``dry_run``, or no connection for the target) records every
    payload and sends nothing. A live push to HubSpot first reads the portal's catalogue
    (``preflight``: properties, options, pipelines, owners); every value is converted to what the
    portal takes or held back (``staging.push_held_values``), never sent to be refused. Several
    requests are in flight at once within the limit every push of the same HubSpot app shares;
    each input carries a trace id, so HubSpot names a refused input in a 207 beside the applied
    ones (a batch still refused whole is split to find the inputs HubSpot refuses);
    what was written is verified (``verification``: against the mirror by the next run, or read
    back, param ``verify``) and what it overwrote kept (``before_values``, the mirror's; a revert
    restores from HubSpot's history) for ``crm_revert``. A payload confirmed sent is never sent
    again; a retried task resumes where the previous try stopped; HubSpot's daily quota ends the
    push cleanly, the rest waits.

    Every argument left unset (None) is the run's param of that name, else the registry's default
    (see ``push.settings``).

    :param object_type: the registry object pushed.
    :param push_target: ``hubspot`` (the CRM API) or ``workflow`` (updates through the workflow API).
    :param dry_run: record what would be sent, send nothing.
    :param min_confidence: lowest match confidence pushed.
    :param create_missing: also create the records HubSpot lacks (``new`` rows).
    :param create_properties: let the preflight create missing custom properties.
    :param create_options: let the preflight add missing options to the portal's enumerations.
    :param link_probable: write the legacy id onto probable twins at or above min_confidence.
    :param verify: ``mirror`` (one request per batch; the next run checks the writes against the
        mirror), ``sample`` (also read back a random share) or ``every`` (read back every write).
    :param conn_id: the warehouse connection.
    :param target_conn_ids: connection id per push target.
    :param max_attempts: attempts per batch before its inputs are ``failed``.
    :param backoff_base: first retry delay (seconds), doubled per attempt.
    :param progress_seconds: how often the log reports progress.
    :param max_requests: requests per window (default: the registry's push_max_requests).
    :param window_seconds: the rolling window (default: the registry's push_window_seconds).
    :param concurrency: requests in flight at once (default: the registry's push_concurrency).
    :param max_refused_share: share of the payloads HubSpot may refuse before the task fails
        (default: the registry's push_max_refused_share).
    :param daily_reserve: daily API calls left for others (default: the registry's push_daily_reserve).
    """

    template_fields: Sequence[str] = (*PushSelection.push_fields, "create_properties", "create_options", "verify")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "json"}
    ui_color = "#d7f5d3"

    setting_names: Sequence[str] = (
        *PushSelection.setting_names,
        "create_properties",
        "create_options",
        "verify",
        "max_attempts",
        "backoff_base",
        "progress_seconds",
        "max_requests",
        "window_seconds",
        "concurrency",
        "max_refused_share",
        "daily_reserve",
    )

    def __init__(
        self,
        *,
        object_type: str,
        push_target: str | None = None,
        dry_run: bool | str | None = None,
        min_confidence: float | str | None = None,
        create_missing: bool | str | None = None,
        create_properties: bool | str | None = None,
        create_options: bool | str | None = None,
        link_probable: bool | str | None = None,
        verify: str | None = None,
        conn_id: str = CONN_ID,
        target_conn_ids: dict[str, str] | None = None,
        max_attempts: int | None = None,
        backoff_base: float | None = None,
        progress_seconds: float | None = None,
        max_requests: int | None = None,
        window_seconds: float | None = None,
        concurrency: int | None = None,
        max_refused_share: float | None = None,
        daily_reserve: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(object_type=object_type, conn_id=conn_id, **kwargs)
        given = {name: value for name, value in locals().items() if name in self.setting_names}
        self.init_selection(target_conn_ids, **given)

    def execute_step(self, context: Any, step: Any) -> dict[str, Any]:
        from crm_reconciliation.push.run import PushRun

        settings = self.push_settings(context)
        binds = settings.binds(self.registry, self.spec, context["run_id"])
        run = PushRun(self.warehouse, self.registry, self.spec, self.push_sql(), binds, self.log, settings)
        reason = settings.dry_run_reason()
        if reason:
            summary = run.dry_run(reason)
        else:
            run.connect(settings.target, settings.conn_id)
            summary = run.live()
        step.record(rows_read=summary.get("updates", {}).get("selected", summary.get("dry_run")), details=summary)
        run.raise_for_losses(summary)
        return summary
