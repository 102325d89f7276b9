"""What the push and revert operators share: the API client, the limiter shared by every push of
one HubSpot app, the ledger's SQL, and the rule that decides when a push task fails."""

from __future__ import annotations

from typing import Any

WINDOW_MARGIN_SECONDS = 0.5
LEDGER_TEMPLATES = (
    "plan",
    "select",
    "select_create",
    "record_in_flight",
    "record_outcomes",
    "record_associations",
    "dry_run",
    "quarantine",
    "verify_select",
    "record_verification",
    "revert_select",
    "held_values",
    "store_catalogue",
    "missing_options",
    "mark_pending",
    "verify_mirror",
)


class PushRun:
    """One push (or revert) of one object: its SQL (``sql``: the push templates as Airflow rendered
    them), its ``settings`` (see ``push.settings``), client, shared limiter, one Pusher per endpoint."""

    def __init__(
        self,
        warehouse: Any,
        registry: Any,
        spec: Any,
        sql: dict[str, str | None],
        binds: dict[str, Any],
        log: Any,
        settings: Any,
    ):
        self.warehouse, self.registry, self.spec, self.log = warehouse, registry, spec, log
        self.sql, self.binds, self.settings = sql, binds, settings
        self.defaults = registry.defaults
        self.pushers: dict[str, Any] = {}

    # -- wiring -------------------------------------------------------------------------------------

    def connect(self, target: str, conn_id: str) -> None:
        """The API client of ``target`` and the limiter it shares with every push of the same app."""
        from crm_reconciliation.hooks.crm_api import HubSpotApiHook, WorkflowApiHook
        from crm_reconciliation.push.limiter import SharedLimiter

        self.target = target
        self.client = HubSpotApiHook(conn_id) if target == "hubspot" else WorkflowApiHook(conn_id)

        def database() -> Any:
            return self.warehouse.autocommit_session()

        # A margin on the server's window: a request is booked here before it leaves and counted
        # there when it arrives, and a thread may take a while between the two. 0.25 s let 11
        # requests of 615 through to a 429 with two pushes at once on a loaded 2-core machine
        # (make bench-push); 0.5 s costs 5 % of the limit at most.
        self.limiter = SharedLimiter(
            database,
            self.client.app_key,
            self.settings.max_requests,
            self.settings.window_seconds + WINDOW_MARGIN_SECONDS,
            self.settings.daily_reserve,
        )

    def pusher(self, api_object: str) -> Any:
        from crm_reconciliation.push.sender import Pusher

        key = api_object if self.target == "hubspot" else self.spec.name
        if key not in self.pushers:
            self.pushers[key] = Pusher(
                self.client,
                key,
                self.limiter,
                max_attempts=self.settings.max_attempts,
                backoff_base=self.settings.backoff_base,
            )
        return self.pushers[key]

    def service(self, reader: Any, writer: Any) -> Any:
        from crm_reconciliation.push.service import PushLedger, PushService

        return PushService(
            PushLedger(reader, writer, self.sql, self.binds),
            self.client,
            self.pusher,
            concurrency=self.settings.concurrency,
            batch_size=self.defaults.push_batch_size,
            association_batch_size=self.defaults.push_association_batch_size,
            progress_seconds=self.settings.progress_seconds,
            logger=self.log,
        )

    def request_stats(self) -> dict[str, int]:
        stats = [pusher.stats for pusher in self.pushers.values()]
        return {
            "requests": sum(s.requests for s in stats),
            "throttled": sum(s.throttled for s in stats),
            "retries": sum(s.retries for s in stats),
            "confirmed_by_read": sum(s.confirmed_by_read for s in stats),
            "split_requests": sum(s.split_requests for s in stats),
        }

    # -- push -------------------------------------------------------------------------------------

    def hold_values(self) -> dict[str, Any]:
        """Plan the run (every value converted once, push/plan.sql) and record the values it holds
        back (what the portal's catalogue cannot take), and count the creations the mirror guard
        holds. The summary names either only when there are some."""
        scripts = [self.sql["plan"], self.sql["held_values"]]
        found = self.warehouse.run_script(scripts, self.binds, lock=self.spec.name) or {}
        held = {}
        if found.get("guarded_creations"):
            held["guarded_creations"] = found["guarded_creations"]
            self.log.warning(
                "The mirror guard holds %d creations of %s: never sent without a person's approval "
                "(the report's Mirror guard section says why)",
                found["guarded_creations"],
                self.spec.name,
            )
        if found.get("held_values"):
            held.update(held_values=found["held_values"], held_records=found["held_records"])
            self.log.warning(
                "%d values of %d records are held back, never sent: the portal cannot take them as they are "
                "(staging.push_held_values; the report lists them by property and value: add a value map in "
                "include/config/objects.yaml, or run with create_options)",
                found["held_values"],
                found["held_records"],
            )
        return held

    def verify_from_mirror(self) -> dict[str, Any]:
        """Earlier runs' ``pending`` writes, checked against the mirror as it is now (no request)."""
        if not self.warehouse.existing_tables([f"{self.spec.name}_hubspot_source"]):
            return {}  # no reconcile has read the mirror yet
        found = self.warehouse.run_script(self.sql["verify_mirror"], self.binds, lock=self.spec.name) or {}
        judged = found.get("mirror_verification") or {}
        if not any(judged.values()):
            return {}
        self.log.info(
            "Earlier writes checked against the mirror: %d verified, %d mismatch, %d still pending",
            judged["verified"],
            judged["mismatch"],
            judged["pending"],
        )
        return {"mirror_verification": judged}

    def dry_run(self, reason: str) -> dict[str, Any]:
        summary = {**self.verify_from_mirror(), **self.hold_values()}
        summary.update(self.warehouse.run_script(self.sql["dry_run"], self.binds, lock=self.spec.name) or {})
        self.log.warning(
            "DRY RUN (%s): for %s, %d updates, %d creations and %d associations recorded in staging.push_log and "
            "staging.push_associations with outcome 'dry_run'%s; nothing sent.",
            reason,
            self.spec.name,
            summary.get("dry_run", 0),
            summary.get("dry_run_creations", 0),
            summary.get("dry_run_associations", 0),
            f", and {summary['guarded_creations']} creations the mirror guard holds until a person approves"
            if summary.get("guarded_creations")
            else "",
        )
        return {**summary, "reason": reason}

    def live(self) -> dict[str, Any]:
        """Preflight, then updates, creations and associations within the shared limit, then verification."""
        from crm_reconciliation.push.preflight import Catalogue, run_preflight
        from crm_reconciliation.push.service import ledger_connections

        hubspot = self.target == "hubspot"
        if self.binds["create_missing"] and not hubspot:
            from crm_reconciliation.config.errors import ConfigurationError

            raise ConfigurationError(
                "create_missing needs push_target=hubspot: the workflow API updates records, it cannot create them"
            )
        summary: dict[str, Any] = self.verify_from_mirror()
        if hubspot:
            catalogue = Catalogue(self.spec, self.pusher(self.spec.api_object).call, self.client, self.store_catalogue)
            summary["properties_created"] = run_preflight(
                catalogue, self.defaults.property_group, self.settings.create_properties, self.log
            )
            if self.settings.create_options:
                self.hold_values()
                summary["options_created"] = catalogue.add_options(self.missing_options(), self.log)
        else:
            self.log.warning(
                "The workflow target cannot show the portal's properties: no preflight check; "
                "a batch naming a property the portal lacks is refused whole"
            )
        self.log.info(
            "Limit %d requests / %g s shared by every push of this HubSpot app, %d in flight at most",
            self.settings.max_requests,
            self.settings.window_seconds,
            self.settings.concurrency,
        )
        summary.update(self.hold_values())
        try:
            with ledger_connections(self.warehouse, self.spec.name) as (reader, writer):
                service = self.service(reader, writer)
                summary["updates"] = service.updates()
                if self.binds["create_missing"] and not service.stopped:
                    summary["creations"] = service.creations(self.spec.legacy_id_property)
                if hubspot and self.sql["associations"] and not service.stopped:
                    summary["associations"] = service.associations()
                elif self.sql["associations"] and not hubspot:
                    self.log.warning(
                        "The workflow target cannot make associations: run a push with push_target=hubspot"
                    )
                summary.update(service.ledger.quarantine())
                summary["verification"] = service.verify(self.binds["verify"])
                if service.stopped:
                    summary["stopped"] = service.stopped
        finally:
            self.limiter.close()
        summary.update(self.request_stats())
        return summary

    def store_catalogue(self, **catalogue: Any) -> None:
        """Keep what the preflight read of the portal (``properties``, ``pipelines``, ``owners``)."""
        import json

        binds = {
            name: None if catalogue.get(name) is None else json.dumps(catalogue[name])
            for name in ("properties", "pipelines", "owners")
        }
        self.warehouse.run_script(self.sql["store_catalogue"], binds)

    def missing_options(self) -> list[tuple[str, str, list[str]]]:
        """(HubSpot object, enumeration, legacy values) this run holds back for want of an option."""
        rows = self.warehouse.get_records(self.sql["missing_options"], parameters=self.binds)
        return [(row[0], row[1], list(row[2])) for row in rows]

    def raise_for_losses(self, summary: dict[str, Any]) -> None:
        """A run never ends green after a loss (a payload that could not be sent), nor when HubSpot
        refused more than ``max_refused_share`` of what it was sent (after sending the rest)."""
        phases = [summary.get(name, {}).get("outcomes", {}) for name in ("updates", "creations", "revert")]
        links = summary.get("associations", {}).get("outcomes", {})
        failed = sum(p.get("failed", 0) for p in phases) + links.get("failed", 0)
        refused = sum(p.get("rejected", 0) for p in phases)
        handled = sum(p.get(k, 0) for p in phases for k in ("sent", "rejected", "failed"))
        share = refused / handled if handled else 0.0
        problems = []
        if failed:
            problems.append(f"{failed} payloads could not be sent (a retry resends only what did not land)")
        if share > self.settings.max_refused_share:
            problems.append(
                f"HubSpot refused {refused} of {handled} payloads ({share:.1%}, more than the "
                f"{self.settings.max_refused_share:.1%} allowed); each is in staging.push_log with HubSpot's message"
            )
        if links.get("rejected"):
            problems.append(f"{links['rejected']} associations were refused (see staging.push_associations)")
        if problems:
            raise RuntimeError(f"{self.spec.name}: " + "; ".join(problems))
        if refused:
            self.log.warning("HubSpot refused %d of %d payloads (within the share allowed)", refused, handled)
        if summary.get("stopped"):
            self.log.warning("%s stopped early: %s", self.spec.name, summary["stopped"])

    # -- revert -------------------------------------------------------------------------------------

    def revert(self, revert_run_id: str, archive_created: bool, dry_run: bool) -> dict[str, Any]:
        from crm_reconciliation.push.service import ledger_connections

        summary: dict[str, Any] = {"reverted_run": revert_run_id, "dry_run": dry_run}
        try:
            with ledger_connections(self.warehouse, self.spec.name) as (reader, writer):
                service = self.service(reader, writer)
                summary["revert"] = service.revert(revert_run_id, archive_created, dry_run)
                if not dry_run:
                    summary["verification"] = service.verify()
        finally:
            self.limiter.close()
        summary.update(self.request_stats())
        return summary
