"""Push the reconciled changes to HubSpot: updates, creations, associations, within the shared limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator, PushSelection

OPTIONS = (
    "max_requests",
    "window_seconds",
    "concurrency",
    "daily_reserve",
    "max_refused_share",
    "max_attempts",
    "backoff_base",
    "progress_seconds",
)


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

    def __init__(
        self,
        *,
        object_type: str,
        push_target: str = "{{ params.push_target }}",
        dry_run: bool | str = "{{ params.dry_run }}",
        min_confidence: float | str = "{{ params.min_confidence }}",
        create_missing: bool | str = "{{ params.create_missing }}",
        create_properties: bool | str = "{{ params.create_properties }}",
        create_options: bool | str = "{{ params.create_options }}",
        link_probable: bool | str = "{{ params.link_probable }}",
        verify: str = "{{ params.verify }}",
        conn_id: str = CONN_ID,
        target_conn_ids: dict[str, str] | None = None,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        progress_seconds: float = 10.0,
        max_requests: int | None = None,
        window_seconds: float | None = None,
        concurrency: int | None = None,
        max_refused_share: float | None = None,
        daily_reserve: int | None = None,
        **kwargs: Any,
    ):
        super().__init__(object_type=object_type, conn_id=conn_id, **kwargs)
        self.init_selection(push_target, dry_run, min_confidence, create_missing, link_probable, target_conn_ids)
        self.create_properties = create_properties
        self.create_options = create_options
        self.verify = verify
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.progress_seconds = progress_seconds
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.concurrency = concurrency
        self.max_refused_share = max_refused_share
        self.daily_reserve = daily_reserve

    def execute_step(self, context: Any, step: Any) -> dict[str, Any]:
        from crm_reconciliation.config.errors import ConfigurationError
        from crm_reconciliation.config.params import flag
        from crm_reconciliation.push.run import PushRun, dry_run_reason

        if self.push_target not in self.target_conn_ids:
            raise ConfigurationError(
                f"push_target must be one of {sorted(self.target_conn_ids)}, not {self.push_target!r}"
            )
        options = {name: getattr(self, name) for name in OPTIONS}
        run = PushRun(
            self.warehouse, self.registry, self.spec, self.push_sql(), self.binds(context), self.log, **options
        )
        conn_id = self.target_conn_ids[self.push_target]
        reason = dry_run_reason(self.dry_run, conn_id)
        if reason:
            summary = run.dry_run(reason)
        else:
            run.connect(self.push_target, conn_id)
            summary = run.live(flag(self.create_properties), flag(self.create_options))
        step.record(rows_read=summary.get("updates", {}).get("selected", summary.get("dry_run")), details=summary)
        run.raise_for_losses(summary)
        return summary
