"""Push the reconciled changes to HubSpot: updates, creations, associations, within the rate limit."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import BaseOperator

TARGETS = {"workflow": "workflow_api", "hubspot": "hubspot_api"}


def _flag(value: bool | str) -> bool:
    return value in (True, "True", "true")


class PushOperator(BaseOperator):
    """Send ``properties_to_update`` in batches, within the rate limit, recorded in ``staging.push_log``;
    with ``create_missing``, create the ``new`` records (upserted on their legacy id); then make
    the associations their legacy references imply (``staging.push_associations``).

    Safe by default: a dry run (param ``dry_run``, or no connection for the target) records every
    payload and sends nothing. A live push to HubSpot first checks the portal's properties
    (``preflight``). A payload confirmed sent is never sent again; a retried task resumes where
    the previous try stopped.

    :param object_type: the registry object pushed.
    :param push_target: ``hubspot`` (the CRM API) or ``workflow`` (updates through the workflow API).
    :param dry_run: record what would be sent, send nothing.
    :param min_confidence: lowest match confidence pushed.
    :param create_missing: also create the records HubSpot lacks (``new`` rows).
    :param create_properties: let the preflight create missing custom properties.
    :param link_probable: write the legacy id onto probable twins at or above min_confidence.
    :param conn_id: the warehouse connection.
    :param target_conn_ids: connection id per push target.
    :param max_attempts: attempts per batch before its inputs are ``failed``.
    :param backoff_base: first retry delay (seconds), doubled per attempt.
    :param progress_seconds: how often the log reports progress.
    :param max_requests: requests per window (default: the registry's push_max_requests).
    :param window_seconds: the rolling window (default: the registry's push_window_seconds).
    """

    template_fields: Sequence[str] = (
        "push_target",
        "dry_run",
        "min_confidence",
        "create_missing",
        "create_properties",
        "link_probable",
    )
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
        link_probable: bool | str = "{{ params.link_probable }}",
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
        self.create_missing = create_missing
        self.create_properties = create_properties
        self.link_probable = link_probable
        self.conn_id = conn_id
        self.target_conn_ids = target_conn_ids or TARGETS
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.progress_seconds = progress_seconds
        self.max_requests = max_requests
        self.window_seconds = window_seconds

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

        warehouse = WarehouseHook(postgres_conn_id=self.conn_id)
        with warehouse.step(object_type=self.object_type, run_id=context["run_id"], step=self.task_id) as step:
            if self.push_target not in self.target_conn_ids:
                raise ValueError(f"push_target must be one of {sorted(self.target_conn_ids)}, not {self.push_target!r}")
            registry = default_registry()
            spec = registry.get(self.object_type)
            binds = {
                **registry.sql_parameters(self.object_type),
                "object_type": spec.name,
                "run_id": context["run_id"],
                "target": self.push_target,
                "min_confidence": float(self.min_confidence),
                "push_probable": registry.defaults.push_probable,
                "create_missing": _flag(self.create_missing),
                "link_probable": _flag(self.link_probable),
            }
            run = _PushRun(self, warehouse, registry, spec, binds)
            reason = "the dry_run param is on" if _flag(self.dry_run) else None
            if reason is None and self._connection_missing(self.target_conn_ids[self.push_target]):
                reason = f"connection {self.target_conn_ids[self.push_target]!r} is not defined"
            summary = run.dry_run(reason) if reason else run.live()
            step.record(rows_read=summary.get("selected"), details=summary)
            run.raise_for_losses(summary)
        return summary


class _PushRun:
    """One push of one object: the SQL it renders, the clients, and the three phases."""

    def __init__(self, operator: PushOperator, warehouse: Any, registry: Any, spec: Any, binds: dict[str, Any]):
        from crm_reconciliation.sql_templates import render

        self.operator, self.log, self.warehouse = operator, operator.log, warehouse
        self.registry, self.spec, self.settings, self.binds = registry, spec, registry.defaults, binds
        self.target = operator.push_target
        template_params = registry.template_params(spec.name)
        references = [m for m in template_params["mappings"] if m["reference"]]
        with warehouse.get_conn() as connection:
            self.present = [
                m["reference"]["staging_table"]
                for m in references
                if connection.execute(
                    "select to_regclass(%s) is not null", [f"staging.{m['reference']['staging_table']}"]
                ).fetchone()[0]
            ]
        context = {"params": {"object": template_params}, "present": self.present}
        self.sql = {
            name: render(f"push/{name}.sql", **context)
            for name in ("select", "select_create", "record_in_flight", "record_outcomes", "dry_run")
        }
        self.sql["associations"] = render("push/associations.sql", **context) if self.present else None
        self.sql["record_associations"] = render("push/record_associations.sql", **context)

    # -- dry run -----------------------------------------------------------------------------

    def dry_run(self, reason: str) -> dict[str, Any]:
        summary = self.warehouse.run_script(self.sql["dry_run"], self.binds, lock=self.spec.name) or {}
        self.log.warning(
            "DRY RUN (%s): for %s, %d updates, %d creations and %d associations recorded in staging.push_log and "
            "staging.push_associations with outcome 'dry_run'; nothing sent.",
            reason,
            self.spec.name,
            summary.get("dry_run", 0),
            summary.get("dry_run_creations", 0),
            summary.get("dry_run_associations", 0),
        )
        return {**summary, "reason": reason}

    # -- live --------------------------------------------------------------------------------

    def live(self) -> dict[str, Any]:
        from crm_reconciliation.hooks.crm_api import HubSpotApiHook, WorkflowApiHook
        from crm_reconciliation.preflight import run_preflight
        from crm_reconciliation.push import Pusher
        from crm_reconciliation.rate_limit import RollingWindowLimiter

        operator, hubspot = self.operator, self.target == "hubspot"
        if self.binds["create_missing"] and not hubspot:
            raise ValueError(
                "create_missing needs push_target=hubspot: the workflow API updates records, it cannot create them"
            )
        conn_id = operator.target_conn_ids[self.target]
        self.client = HubSpotApiHook(conn_id) if hubspot else WorkflowApiHook(conn_id)
        # 50 ms more than the server's window: our clock and its clock never count exactly alike.
        self.limiter = RollingWindowLimiter(
            operator.max_requests or self.settings.push_max_requests,
            (operator.window_seconds or self.settings.push_window_seconds) + 0.05,
        )
        self.pushers: dict[str, Pusher] = {}
        summary: dict[str, Any] = {}
        if hubspot:
            summary["properties_created"] = run_preflight(
                self.spec,
                self.pusher(self.spec.api_object).call,
                self.client,
                self.settings.property_group,
                _flag(operator.create_properties),
                self.log,
            )
        else:
            self.log.warning(
                "The workflow target cannot show the portal's properties: no preflight check; "
                "a batch naming a property the portal lacks is refused whole"
            )
        with self.warehouse.get_conn() as reader, self.warehouse.get_conn() as writer:
            writer.autocommit = True
            self.warehouse.lock_object(reader, self.spec.name)  # held by the reading transaction until the end
            summary.update(self._updates(reader, writer))
            if self.binds["create_missing"]:
                summary["creations"] = self._creations(reader, writer)
            if hubspot and self.sql["associations"]:
                summary["associations"] = self._associations(reader, writer)
            elif self.sql["associations"]:
                self.log.warning("The workflow target cannot make associations: run a push with push_target=hubspot")
        stats = [pusher.stats for pusher in self.pushers.values()]
        summary.update(
            requests=sum(s.requests for s in stats),
            throttled=sum(s.throttled for s in stats),
            retries=sum(s.retries for s in stats),
            confirmed_by_read=sum(s.confirmed_by_read for s in stats),
        )
        return summary

    def pusher(self, api_object: str) -> Any:
        from crm_reconciliation.push import Pusher

        key = api_object if self.target == "hubspot" else self.spec.name
        if key not in self.pushers:
            self.pushers[key] = Pusher(
                self.client,
                key,
                self.limiter,
                max_attempts=self.operator.max_attempts,
                backoff_base=self.operator.backoff_base,
            )
        return self.pushers[key]

    def _batches(self, reader: Any, sql: str, name: str) -> Iterator[tuple[str, list[tuple]]]:
        """The selected rows in batches of one HubSpot object each (rows come ordered by it; the
        api_object is their last column)."""
        size = self.settings.push_batch_size
        batch: list[tuple] = []
        with reader.cursor(name=name) as cursor:
            cursor.execute(sql, self.binds)
            for row in cursor:
                if batch and (row[-1] != batch[0][-1] or len(batch) == size):
                    yield batch[0][-1], batch
                    batch = []
                batch.append(row)
        if batch:
            yield batch[0][-1], batch

    def _count(self, reader: Any, sql: str) -> int:
        return reader.execute(f"select count(*) from ({sql}) as selected", self.binds).fetchone()[0]  # noqa: S608 - a rendered template, values bound

    def _in_flight(self, writer: Any, action: str, api_object: str, items: list) -> None:
        writer.execute(
            self.sql["record_in_flight"],
            {
                **self.binds,
                "action": action,
                "api_object": api_object,
                "legacy_ids": [item.legacy_id for item in items],
                "hubspot_ids": [item.hubspot_id if action == "update" else None for item in items],
                "properties": [json.dumps(item.properties) for item in items],
                "payload_hashes": [item.payload_hash for item in items],
            },
        )

    def _outcomes(self, writer: Any, outcomes: list) -> None:
        from crm_reconciliation.sql_templates import split_statements

        record = {
            "payload_hashes": [o.item.payload_hash for o in outcomes],
            "outcomes": [o.outcome for o in outcomes],
            "http_statuses": [o.http_status for o in outcomes],
            "errors": [o.error for o in outcomes],
            "attempts": [o.attempts for o in outcomes],
            "legacy_ids": [o.item.legacy_id for o in outcomes],
            "created_ids": [o.created_id for o in outcomes],
        }
        for statement in split_statements(self.sql["record_outcomes"]):
            writer.execute(statement, record)

    def _updates(self, reader: Any, writer: Any) -> dict[str, Any]:
        from crm_reconciliation.push import PushInput

        total = self._count(reader, self.sql["select"])
        total_batches = -(-total // self.settings.push_batch_size)
        self.log.info(
            "Pushing %d updates for %s to the %s target (limit %d requests / %g s)",
            total,
            self.spec.name,
            self.target,
            self.limiter.max_requests,
            self.limiter.window_seconds,
        )
        started, last_report, batches, outcomes_count = time.monotonic(), 0.0, 0, {}
        refused = 0
        for api_object, rows in self._batches(reader, self.sql["select"], "push_selection"):
            items = [PushInput(row[0], row[1], row[2], row[3]) for row in rows]
            self._in_flight(writer, "update", api_object, items)
            outcomes = self.pusher(api_object).push(items, maybe_sent=any(row[4] for row in rows))
            self._outcomes(writer, outcomes)
            refused += any(o.outcome == "rejected" and o.http_status == 400 for o in outcomes)
            for o in outcomes:
                outcomes_count[o.outcome] = outcomes_count.get(o.outcome, 0) + 1
            batches += 1
            elapsed = time.monotonic() - started
            if elapsed - last_report >= self.operator.progress_seconds or batches == total_batches:
                last_report = elapsed
                self.log.info(
                    "push %s: batches %d/%d, %.0f records/s, %d errors",
                    self.spec.name,
                    batches,
                    total_batches,
                    outcomes_count.get("sent", 0) / elapsed if elapsed else 0.0,
                    sum(v for k, v in outcomes_count.items() if k != "sent"),
                )
        return {
            "selected": total,
            "batches": batches,
            "seconds": round(time.monotonic() - started, 3),
            "outcomes": outcomes_count,
            "refused_batches": refused,
        }

    def _creations(self, reader: Any, writer: Any) -> dict[str, Any]:
        from crm_reconciliation.push import CreateInput

        total = self._count(reader, self.sql["select_create"])
        self.log.info(
            "Creating %d %s records HubSpot lacks (upsert on %s)", total, self.spec.name, self.spec.legacy_id_property
        )
        counts: dict[str, int] = {"selected": total}
        for api_object, rows in self._batches(reader, self.sql["select_create"], "create_selection"):
            items = [CreateInput(row[0], row[1], row[2], self.spec.legacy_id_property) for row in rows]
            self._in_flight(writer, "create", api_object, items)
            outcomes = self.pusher(api_object).upsert(items)
            self._outcomes(writer, outcomes)
            for o in outcomes:
                counts[o.outcome] = counts.get(o.outcome, 0) + 1
            counts["refused_batches"] = counts.get("refused_batches", 0) + any(
                o.outcome == "rejected" and o.http_status == 400 for o in outcomes
            )
        return counts

    def _associations(self, reader: Any, writer: Any) -> dict[str, Any]:
        from crm_reconciliation.push import RequestFailed

        counts: dict[str, int] = {}
        size = self.settings.push_batch_size
        rows = reader.execute(self.sql["associations"], self.binds).fetchall()
        groups: dict[tuple[str, str], list[tuple]] = {}
        for row in rows:
            groups.setdefault((row[2], row[4]), []).append(row)
        for (from_object, to_object), wanted in groups.items():
            for start in range(0, len(wanted), size):
                chunk = wanted[start : start + size]
                call = self.pusher(from_object).call
                try:
                    outcomes = self._associate(call, from_object, to_object, chunk)
                except RequestFailed as error:
                    outcomes = [("failed", None, str(error))] * len(chunk)
                self._record_associations(writer, chunk, outcomes)
                for outcome, _, _ in outcomes:
                    counts[outcome] = counts.get(outcome, 0) + 1
        counts["wanted"] = len(rows)
        self.log.info("Associations of %s: %s", self.spec.name, counts)
        return counts

    def _associate(self, call: Any, from_object: str, to_object: str, chunk: list[tuple]) -> list[tuple]:
        """Read what HubSpot has for these records, create the rest: (outcome, status, error) per row."""
        from_ids = sorted({row[3] for row in chunk})
        response = call(lambda: self.client.read_associations(from_object, to_object, from_ids))
        existing: set[tuple[str, str, int]] = set()
        if response.status in (200, 207):
            for result in (response.body or {}).get("results", []):
                for link in result.get("to", []):
                    for kind in link.get("associationTypes", []):
                        existing.add((str(result["from"]["id"]), str(link["toObjectId"]), int(kind["typeId"])))
        missing = [row for row in chunk if not all((row[3], row[5], t) in existing for t in row[6])]
        outcomes = {id(row): ("exists", response.status, None) for row in chunk if row not in missing}
        if missing:
            inputs = [
                {
                    "from": {"id": row[3]},
                    "to": {"id": row[5]},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t} for t in row[6]],
                }
                for row in missing
            ]
            answer = call(lambda: self.client.create_associations(from_object, to_object, inputs))
            body = answer.body if isinstance(answer.body, dict) else {}
            made = {
                (str(result.get("fromObjectId")), str(result.get("toObjectId"))) for result in body.get("results", [])
            }
            message = "; ".join(f"{e.get('category', 'error')}: {e.get('message', '')}" for e in body.get("errors", []))
            for row in missing:
                if answer.status in (200, 201) or (answer.status == 207 and (row[3], row[5]) in made):
                    outcomes[id(row)] = ("created", answer.status, None)
                else:
                    outcomes[id(row)] = ("rejected", answer.status, message or str(answer.body)[:300])
        return [outcomes[id(row)] for row in chunk]

    def _record_associations(self, writer: Any, chunk: list[tuple], outcomes: list[tuple]) -> None:
        writer.execute(
            self.sql["record_associations"],
            {
                **self.binds,
                "legacy_ids": [row[0] for row in chunk],
                "properties": [row[1] for row in chunk],
                "from_objects": [row[2] for row in chunk],
                "from_ids": [row[3] for row in chunk],
                "to_objects": [row[4] for row in chunk],
                "to_ids": [row[5] for row in chunk],
                "type_ids": [json.dumps(row[6]) for row in chunk],
                "outcomes": [o[0] for o in outcomes],
                "http_statuses": [o[1] for o in outcomes],
                "errors": [o[2] for o in outcomes],
            },
        )

    def raise_for_losses(self, summary: dict[str, Any]) -> None:
        """A run never ends green after a loss: failed sends, or batches HubSpot refused whole."""
        failed = summary.get("outcomes", {}).get("failed", 0) + summary.get("creations", {}).get("failed", 0)
        failed += summary.get("associations", {}).get("failed", 0)
        refused = summary.get("refused_batches", 0) + summary.get("creations", {}).get("refused_batches", 0)
        refused_links = summary.get("associations", {}).get("rejected", 0)
        if failed or refused or refused_links:
            raise RuntimeError(
                f"{self.spec.name}: {failed} payloads could not be sent, {refused} batches were refused whole by "
                f"HubSpot, {refused_links} associations were refused (see staging.push_log and "
                "staging.push_associations); a retry resends only what did not land"
            )
