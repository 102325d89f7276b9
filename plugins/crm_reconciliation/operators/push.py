"""Push the reconciled updates to HubSpot, through the workflow API or HubSpot's batch API."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

TARGETS = {"workflow": "workflow_api", "hubspot": "hubspot_api"}


class PushOperator(BaseOperator):
    """Send ``properties_to_update`` in batches, within the rate limit, recorded in ``staging.push_log``.

    Safe by default: a dry run (param ``dry_run``, or no connection for the target) records every
    payload and sends nothing. A payload confirmed sent is never sent again; a retried task
    resumes where the previous try stopped.
    """

    template_fields: Sequence[str] = ("push_target", "dry_run", "min_confidence")
    ui_color = "#d7f5d3"

    def __init__(
        self,
        *,
        object_type: str,
        push_target: str = "{{ params.push_target }}",
        dry_run: bool | str = "{{ params.dry_run }}",
        min_confidence: float | str = "{{ params.min_confidence }}",
        conn_id: str = "hubspot_postgres",
        target_conn_ids: dict[str, str] | None = None,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        progress_seconds: float = 10.0,
        max_requests: int | None = None,
        window_seconds: float | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.object_type = object_type
        self.push_target = push_target
        self.dry_run = dry_run
        self.min_confidence = min_confidence
        self.conn_id = conn_id
        self.target_conn_ids = target_conn_ids or TARGETS
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.progress_seconds = progress_seconds
        self.max_requests = max_requests  # default: the registry's push_max_requests
        self.window_seconds = window_seconds  # default: the registry's push_window_seconds

    def _connection_missing(self, conn_id: str) -> bool:
        from airflow.sdk import BaseHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            BaseHook.get_connection(conn_id)
        except AirflowNotFoundException:
            return True
        return False

    def execute(self, context: Any) -> dict[str, Any]:
        from crm_reconciliation.hooks.warehouse import WarehouseHook
        from crm_reconciliation.registry import default_registry
        from crm_reconciliation.sql_templates import render

        warehouse = WarehouseHook(postgres_conn_id=self.conn_id)
        with warehouse.step(object_type=self.object_type, run_id=context["run_id"], step=self.task_id) as step:
            if self.push_target not in self.target_conn_ids:
                raise ValueError(f"push_target must be one of {sorted(self.target_conn_ids)}, not {self.push_target!r}")
            registry = default_registry()
            spec, settings = registry.get(self.object_type), registry.defaults
            params = {"object": registry.template_params(self.object_type)}
            target_conn_id = self.target_conn_ids[self.push_target]
            binds = {
                "object_type": spec.name,
                "run_id": context["run_id"],
                "target": self.push_target,
                "min_confidence": float(self.min_confidence),
                "push_probable": settings.push_probable,
            }
            reason = "the dry_run param is on" if self.dry_run in (True, "True", "true") else None
            if reason is None and self._connection_missing(target_conn_id):
                reason = f"connection {target_conn_id!r} is not defined"
            if reason:
                sql = render("push/dry_run.sql", params=params)
                summary = warehouse.run_script(sql, binds, lock=spec.name) or {}
                self.log.warning(
                    "DRY RUN (%s): %d payloads for %s recorded in staging.push_log with outcome 'dry_run'; "
                    "nothing sent.",
                    reason,
                    summary.get("dry_run", 0),
                    spec.name,
                )
                step.record(details={**summary, "reason": reason})
                return summary
            summary = self._push(warehouse, spec, settings, target_conn_id, params, binds)
            step.record(rows_read=summary["selected"], details=summary)
            failed = summary["outcomes"].get("failed", 0)
            if failed:
                raise RuntimeError(
                    f"{failed} payloads could not be sent (see staging.push_log); a retry resends only those"
                )
        return summary

    def _push(self, warehouse, spec, settings, target_conn_id, params, binds) -> dict[str, Any]:
        from crm_reconciliation.hooks.crm_api import HubSpotApiHook, WorkflowApiHook
        from crm_reconciliation.push import Pusher, PushInput
        from crm_reconciliation.rate_limit import RollingWindowLimiter
        from crm_reconciliation.sql_templates import render, split_statements

        if self.push_target == "hubspot":
            client, key = HubSpotApiHook(target_conn_id), spec.api_object
        else:
            client, key = WorkflowApiHook(target_conn_id), spec.name
        # 50 ms more than the server's window: our clock and its clock never count exactly alike.
        limiter = RollingWindowLimiter(
            self.max_requests or settings.push_max_requests,
            (self.window_seconds or settings.push_window_seconds) + 0.05,
        )
        pusher = Pusher(client, key, limiter, max_attempts=self.max_attempts, backoff_base=self.backoff_base)
        select_sql = render("push/select.sql", params=params)
        in_flight_sql = render("push/record_in_flight.sql", params=params)
        outcome_sql = split_statements(render("push/record_outcomes.sql", params=params))
        size = settings.push_batch_size
        started, last_report, batches, sent_records = time.monotonic(), 0.0, 0, 0
        with warehouse.get_conn() as reader, warehouse.get_conn() as writer:
            writer.autocommit = True
            warehouse.lock_object(reader, spec.name)  # held by the reading transaction until the end
            total = reader.execute(f"select count(*) from ({select_sql}) as selected", binds).fetchone()[0]  # noqa: S608 - a rendered template, values bound
            total_batches = -(-total // size)
            self.log.info(
                "Pushing %d payloads for %s in %d batches to the %s target (limit %d requests / %g s)",
                total,
                spec.name,
                total_batches,
                self.push_target,
                limiter.max_requests,
                limiter.window_seconds,
            )
            with reader.cursor(name="push_selection") as cursor:
                cursor.execute(select_sql, binds)
                while rows := cursor.fetchmany(size):
                    items = [PushInput(row[0], row[1], row[2], row[3]) for row in rows]
                    writer.execute(
                        in_flight_sql,
                        {
                            **binds,
                            "legacy_ids": [item.legacy_id for item in items],
                            "hubspot_ids": [item.hubspot_id for item in items],
                            "properties": [json.dumps(item.properties) for item in items],
                            "payload_hashes": [item.payload_hash for item in items],
                        },
                    )
                    outcomes = pusher.push(items, maybe_sent=any(row[4] for row in rows))
                    record = {
                        "payload_hashes": [o.item.payload_hash for o in outcomes],
                        "outcomes": [o.outcome for o in outcomes],
                        "http_statuses": [o.http_status for o in outcomes],
                        "errors": [o.error for o in outcomes],
                        "attempts": [o.attempts for o in outcomes],
                        "legacy_ids": [o.item.legacy_id for o in outcomes],
                    }
                    for statement in outcome_sql:
                        writer.execute(statement, record)
                    batches += 1
                    sent_records += sum(1 for o in outcomes if o.outcome == "sent")
                    elapsed = time.monotonic() - started
                    if elapsed - last_report >= self.progress_seconds or batches == total_batches:
                        last_report = elapsed
                        rate = batches / elapsed if elapsed else 0.0
                        errors = sum(v for k, v in pusher.stats.outcomes.items() if k != "sent")
                        eta = (total_batches - batches) / rate if rate else 0.0
                        self.log.info(
                            "push %s: batches %d/%d, %.0f records/s, %d errors, %d throttled, ETA %.0f s",
                            spec.name,
                            batches,
                            total_batches,
                            sent_records / elapsed if elapsed else 0.0,
                            errors,
                            pusher.stats.throttled,
                            eta,
                        )
        elapsed = time.monotonic() - started
        stats = pusher.stats
        return {
            "selected": total,
            "batches": batches,
            "requests": stats.requests,
            "seconds": round(elapsed, 3),
            "throttled": stats.throttled,
            "retries": stats.retries,
            "confirmed_by_read": stats.confirmed_by_read,
            "outcomes": dict(stats.outcomes),
        }
