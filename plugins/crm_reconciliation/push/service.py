"""The push loop as a service: the ledger in the warehouse (what to send, what is in flight, what
became of it) and the send loop (a small pool of requests in flight within one shared limit).

The operators wire it (hooks, settings, the step log); everything here runs, and is tested,
without Airflow. Phases: ``updates``, ``creations``, ``associations``, ``verify``, ``revert``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from crm_reconciliation.push.errors import DailyLimitReached, RequestFailed
from crm_reconciliation.push.sender import CreateInput, Outcome, Pusher, PushInput

log = logging.getLogger(__name__)


class PushLedger:
    """``staging.push_log`` and its neighbours, through rendered templates (``sql``) and bound values.

    Two warehouse sessions (``ledger_connections``): ``reader``, a transaction holding the object's
    lock for the whole push, streams the selections; ``writer`` (autocommit, shared by the pool's
    threads under a lock) records each batch as it goes.
    """

    def __init__(self, reader: Any, writer: Any, sql: dict[str, str], binds: dict[str, Any]):
        self.reader, self.writer, self.sql, self.binds = reader, writer, sql, binds
        self._lock = threading.Lock()

    def rows(
        self, name: str, size: int, total: Callable[[int], None] | None = None, **binds: Any
    ) -> Iterator[tuple[str, list[tuple]]]:
        """The rows of selection ``name`` in batches of at most ``size`` of one key each (rows come
        ordered by it; the key is their last column), streamed from a named cursor in one pass:
        the selection's ``selected`` column (how many rows, ``count(*) over ()``) goes to ``total``
        when the first row arrives, and is left out of the rows."""
        batch: list[tuple] = []
        counted = False
        with self.reader.stream(self.sql[name], {**self.binds, **binds}, name=f"{name}_rows") as stream:
            at = stream.columns.index("selected")
            for whole in stream:
                if not counted:
                    counted = True
                    if total:
                        total(whole[at])
                row = whole[:at] + whole[at + 1 :]
                if batch and (row[-1] != batch[0][-1] or len(batch) == size):
                    yield batch[0][-1], batch
                    batch = []
                batch.append(row)
        if not counted and total:
            total(0)
        if batch:
            yield batch[0][-1], batch

    def _write(self, name: str, values: dict[str, Any]) -> Any:
        from crm_reconciliation.common.sql_templates import split_statements

        with self._lock:
            result = None
            for statement in split_statements(self.sql[name]):
                cursor = self.writer.execute(statement, {**self.binds, **values})
                result = cursor.fetchone() if cursor.description else result
            return result

    def in_flight(
        self,
        action: str,
        api_object: str,
        items: list[PushInput | CreateInput],
        before: list[dict | None] | None = None,
        revert_of: list[int] | None = None,
    ) -> None:
        self._write(
            "record_in_flight",
            {
                "action": action,
                "api_object": api_object,
                "legacy_ids": [item.legacy_id for item in items],
                "hubspot_ids": [item.hubspot_id if action != "create" else None for item in items],
                "properties": [json.dumps(item.properties) for item in items],
                "payload_hashes": [item.payload_hash for item in items],
                "before_values": [None if b is None else json.dumps(b) for b in (before or [None] * len(items))],
                "revert_of": revert_of or [None] * len(items),
            },
        )

    def outcomes(self, action: str, outcomes: list[Outcome], skipped: dict[str, dict] | None = None) -> None:
        """Record what became of each input (an ``in_flight`` outcome leaves its row in flight)."""
        outcomes = [o for o in outcomes if o.outcome != "in_flight"]
        if not outcomes:
            return
        skipped = skipped or {}
        self._write(
            "record_outcomes",
            {
                "action": action,
                "payload_hashes": [o.item.payload_hash for o in outcomes],
                "outcomes": [o.outcome for o in outcomes],
                "http_statuses": [o.http_status for o in outcomes],
                "errors": [o.error for o in outcomes],
                "attempts": [o.attempts for o in outcomes],
                "legacy_ids": [o.item.legacy_id for o in outcomes],
                "created_ids": [o.created_id for o in outcomes],
                "skipped": [
                    json.dumps(skipped[o.item.payload_hash]) if o.item.payload_hash in skipped else None
                    for o in outcomes
                ],
            },
        )

    def verification(self, push_ids: list[int], verdicts: list[str], found: list[dict | None]) -> None:
        values = {
            "push_ids": push_ids,
            "verifications": verdicts,
            "found": [None if f is None else json.dumps(f) for f in found],
        }
        self._write("record_verification", values)

    def associations(self, chunk: list[tuple], outcomes: list[tuple]) -> None:
        self._write(
            "record_associations",
            {
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

    def mark_pending(self) -> int:
        """This run's writes not read back: ``pending``, for the mirror to verify; how many."""
        with self._lock:
            return self.writer.execute(self.sql["mark_pending"], self.binds).rowcount

    def quarantine(self) -> dict[str, Any]:
        row = self._write("quarantine", {})
        return row[0] if row else {}


def same_value(sent: Any, found: Any) -> bool:
    """HubSpot hands values back as strings, numbers without a trailing .0, booleans in lower case."""
    if sent == found:
        return True
    if sent in (None, "") and found in (None, ""):
        return True
    if sent is None or found is None:
        return False
    left, right = str(sent).strip(), str(found).strip()
    if left.lower() == right.lower() and left.lower() in ("true", "false"):
        return True
    try:
        return float(left) == float(right)
    except ValueError:
        return left == right


def held_before(versions: list[dict], sent_from: datetime, mirror_value: Any) -> Any:
    """What a property held in HubSpot just before a push's write left (``sent_from``): the newest
    version of its history (newest first) written before then, even where the mirror the push
    read was older; the mirror's value when the history holds none (empty when it has versions,
    all later: the property was empty)."""
    for version in versions:
        written_at = _timestamp(version.get("timestamp", ""))
        if written_at and written_at < sent_from:
            return version.get("value")
    return mirror_value if not versions else None


def _timestamp(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


@dataclass
class PhaseCounts:
    """What one phase did, by outcome, plus what it could not get to."""

    selected: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    batches: int = 0

    def add(self, outcomes: list[str]) -> None:
        for outcome in outcomes:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def summary(self) -> dict[str, Any]:
        """``waiting``: selected but not concluded (deferred by the daily quota, or never reached)."""
        concluded = sum(n for outcome, n in self.outcomes.items() if outcome not in ("deferred", "in_flight"))
        waiting = {"waiting": self.selected - concluded} if concluded < self.selected else {}
        return {"selected": self.selected, "batches": self.batches, "outcomes": self.outcomes, **waiting}


class PushService:
    """Send what the ledger selects, ``concurrency`` requests in flight, within the shared limit.

    ``pusher(api_object)`` returns the Pusher of an endpoint (they share one limiter); ``client``
    is the API hook. A daily-quota stop (``DailyLimitReached``) ends every phase cleanly: what
    was not sent waits for the next run, nothing is in doubt.
    """

    def __init__(
        self,
        ledger: PushLedger,
        client: Any,
        pusher: Callable[[str], Pusher],
        concurrency: int = 8,
        batch_size: int = 100,
        association_batch_size: int = 1000,
        progress_seconds: float = 10.0,
        logger: logging.Logger | logging.LoggerAdapter = log,
    ):
        self.ledger, self.client, self.pusher = ledger, client, pusher
        self.concurrency, self.batch_size, self.progress_seconds, self.log = (
            concurrency,
            batch_size,
            progress_seconds,
            logger,
        )
        self.association_batch_size = association_batch_size
        self.stopped: str | None = None

    # -- the loop ---------------------------------------------------------------------------------

    def _pooled(
        self, name: str, batches: Iterator[tuple[str, list[tuple]]], work: Callable, counts: PhaseCounts
    ) -> None:
        """Run ``work(api_object, rows) -> [outcome names]`` over ``batches``, a few at once."""
        started, last_report = time.monotonic(), 0.0
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"push-{name}") as pool:
            running: set[Future] = set()

            def collect(done: set[Future]) -> None:
                nonlocal last_report
                for future in done:
                    counts.add(future.result())
                    counts.batches += 1
                elapsed = time.monotonic() - started
                if elapsed - last_report >= self.progress_seconds:
                    last_report = elapsed
                    sent = counts.outcomes.get("sent", 0)
                    self.log.info(
                        "%s: %d of %d done, %.0f records/s, outcomes %s",
                        name,
                        sum(counts.outcomes.values()),
                        counts.selected,
                        sent / elapsed if elapsed else 0.0,
                        counts.outcomes,
                    )

            try:
                for api_object, rows in batches:
                    if self.stopped:
                        break
                    running.add(pool.submit(work, api_object, rows))
                    if len(running) >= self.concurrency * 2:
                        done, running = wait(running, return_when=FIRST_COMPLETED)
                        collect(done)
            finally:
                done, _ = wait(running)
                collect(done)

    def _stop_if_daily(self, outcomes: list[Outcome]) -> None:
        """Deferred (or left in flight) inputs mean HubSpot's daily quota is used: submit no more."""
        stop = next((o for o in outcomes if o.outcome in ("deferred", "in_flight")), None)
        if stop is not None and not self.stopped:
            self.stopped = stop.error or "HubSpot's daily limit"
            self.log.warning("Stopping: %s; what is left waits for the next run", self.stopped)

    # -- updates ------------------------------------------------------------------------------------

    def _read(self, api_object: str, ids: list[str], properties: list[str], history: bool = False) -> dict:
        return self.pusher(api_object).read(ids, properties, history)

    def _selected(self, counts: PhaseCounts, message: str, *args: Any) -> Callable[[int], None]:
        """What ``rows`` calls with the selection's size: counted and logged once, in the same pass."""

        def total(selected: int) -> None:
            counts.selected = selected
            self.log.info(message, selected, *args)

        return total

    def updates(self) -> dict[str, Any]:
        """One request per batch: the before-values are the mirror's (staging), not read back."""
        counts = PhaseCounts()
        total = self._selected(counts, "Pushing %d updates (%d requests in flight at most)", self.concurrency)
        self._pooled("updates", self.ledger.rows("select", self.batch_size, total), self._update_batch, counts)
        return counts.summary()

    def _update_batch(self, api_object: str, rows: list[tuple]) -> list[str]:
        items = [PushInput(row[0], row[1], row[2], row[3]) for row in rows]
        maybe_sent = any(row[4] for row in rows)
        # A payload resumed from a killed run keeps the before-values that run recorded.
        self.ledger.in_flight("update", api_object, items, [None if row[4] else row[5] for row in rows])
        outcomes = self.pusher(api_object).push(items, maybe_sent=maybe_sent)
        self.ledger.outcomes("update", outcomes)
        self._stop_if_daily(outcomes)
        return [o.outcome for o in outcomes]

    # -- creations ----------------------------------------------------------------------------------

    def creations(self, id_property: str) -> dict[str, Any]:
        counts = PhaseCounts()
        total = self._selected(counts, "Creating %d records HubSpot lacks (upsert on %s)", id_property)

        def work(api_object: str, rows: list[tuple]) -> list[str]:
            items = [CreateInput(row[0], row[1], row[2], id_property) for row in rows]
            self.ledger.in_flight("create", api_object, items)
            outcomes = self.pusher(api_object).upsert(items)
            self.ledger.outcomes("create", outcomes)
            self._stop_if_daily(outcomes)
            return [o.outcome for o in outcomes]

        self._pooled("creations", self.ledger.rows("select_create", self.batch_size, total), work, counts)
        return counts.summary()

    # -- associations -------------------------------------------------------------------------------

    def associations(self) -> dict[str, Any]:
        """The associations wanted, streamed in one pass, ``association_batch_size`` pairs of one
        object pair a request (HubSpot's v4 batch read and create take up to 1,000), several
        requests in flight within the shared limit like the writes."""
        counts = PhaseCounts()
        total = self._selected(counts, "Making %d associations (%d pairs a request)", self.association_batch_size)

        def work(_: str, chunk: list[tuple]) -> list[str]:
            try:
                outcomes = self._associate(chunk[0][2], chunk[0][4], chunk)
            except RequestFailed as error:
                outcomes = [("failed", None, str(error))] * len(chunk)
            except DailyLimitReached as error:
                self.stopped = self.stopped or str(error)
                return ["deferred"] * len(chunk)
            self.ledger.associations(chunk, outcomes)
            return [outcome for outcome, _, _ in outcomes]

        wanted = self.ledger.rows("associations", self.association_batch_size, total)
        self._pooled("associations", wanted, work, counts)
        return counts.summary()

    def _associate(self, from_object: str, to_object: str, chunk: list[tuple]) -> list[tuple]:
        """Read what HubSpot has for these records, create the rest: (outcome, status, error) per row."""
        call = self.pusher(from_object).call
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

    # -- verification -------------------------------------------------------------------------------

    def verify(self, mode: str = "every") -> dict[str, Any]:
        """Read back what the run wrote (``every``; a random share with ``sample``) and say, per
        ledger row, whether HubSpot holds it; the rest (all of it with ``mirror``) is ``pending``,
        verified from the mirror by the next run."""
        counts = PhaseCounts()

        def work(api_object: str, rows: list[tuple]) -> list[str]:
            properties = sorted({name for row in rows for name in row[2]})
            try:
                found = self._read(api_object, sorted({row[1] for row in rows}), properties)
            except (RequestFailed, DailyLimitReached) as error:
                self.log.warning("Could not read back %d %s to verify them: %s", len(rows), api_object, error)
                return ["unverified"] * len(rows)
            verdicts, differences = [], []
            for _, hubspot_id, sent, _ in rows:
                held = found.get(str(hubspot_id), ({}, {}))[0] if str(hubspot_id) in found else None
                different = (
                    {"record": "not found"}
                    if held is None
                    else {name: held.get(name) for name, value in sent.items() if not same_value(value, held.get(name))}
                )
                verdicts.append("mismatch" if different else "verified")
                differences.append(different or None)
            self.ledger.verification([row[0] for row in rows], verdicts, differences)
            return verdicts

        if mode != "mirror":
            total = self._selected(counts, "Reading back %d written records (verify %s)", mode)
            self._pooled("verify", self.ledger.rows("verify_select", self.batch_size, total, verify=mode), work, counts)
        pending = self.ledger.mark_pending()
        if pending:
            counts.add(["pending"] * pending)
        return counts.summary()

    # -- revert -------------------------------------------------------------------------------------

    def revert(self, revert_run_id: str, archive_created: bool, dry_run: bool) -> dict[str, Any]:
        """Put back what run ``revert_run_id`` overwrote (and archive what it created, when asked);
        a property someone changed in HubSpot since the push is left as it is."""
        binds = {"revert_run_id": revert_run_id, "archive_created": archive_created}
        counts = PhaseCounts()
        planning = "Planning the revert of" if dry_run else "Reverting"
        total = self._selected(counts, f"{planning} %d ledger entries of run %s", revert_run_id)

        def work(api_object: str, rows: list[tuple]) -> list[str]:
            updates = [row for row in rows if row[6] == "update"]
            created = [row for row in rows if row[6] == "create"]
            done: list[str] = []
            try:
                if updates:
                    done += self._revert_updates(api_object, updates, dry_run)
                if created:
                    done += self._archive(api_object, created, dry_run)
            except DailyLimitReached as error:
                self.stopped = self.stopped or str(error)
                done += ["deferred"] * (len(rows) - len(done))
            return done

        self._pooled("revert", self.ledger.rows("revert_select", self.batch_size, total, **binds), work, counts)
        return counts.summary()

    def _revert_updates(self, api_object: str, rows: list[tuple], dry_run: bool) -> list[str]:
        resumed = [row for row in rows if row[7] and not dry_run]
        fresh = [row for row in rows if row not in resumed]
        names = sorted({name for row in rows for name in row[3]})
        found = self._read(api_object, sorted({row[2] for row in rows}), names, history=True)
        items, before, revert_of, skipped, nothing_left = [], [], [], {}, []
        for push_id, legacy_id, hubspot_id, sent, values_before, pushed_at, _, _, _, _, sent_from, _ in fresh:
            current, history = found.get(str(hubspot_id), ({}, {}))
            restore, changed = {}, {}
            for name, value in sent.items():
                versions = history.get(name) or []
                latest = versions[0] if versions else {}
                changed_at = _timestamp(latest.get("timestamp", ""))
                if not same_value(value, current.get(name)) or (changed_at and changed_at > pushed_at):
                    changed[name] = {
                        "now": current.get(name),
                        "changed_at": latest.get("timestamp"),
                        "source": latest.get("sourceType"),
                    }
                    continue
                held = held_before(versions, sent_from, values_before.get(name))
                if same_value(held, value):
                    changed[name] = {"now": current.get(name), "reason": "HubSpot held this value before the push"}
                else:
                    restore[name] = "" if held is None else str(held)
            text = json.dumps(restore, sort_keys=True)
            digest = hashlib.md5(f"revert {push_id} {text}".encode()).hexdigest()  # noqa: S324 - a key, not a secret
            item = PushInput(legacy_id, str(hubspot_id), restore, digest)
            items.append(item)
            before.append({name: current.get(name) for name in sent})
            revert_of.append(push_id)
            if changed:
                skipped[item.payload_hash] = changed
            if not restore:
                nothing_left.append(item)
        if items:
            self.ledger.in_flight("revert", api_object, items, before, revert_of)
        outcomes = [
            Outcome(item, "skipped", None, "nothing to restore: each property changed since, or held its value before")
            for item in nothing_left
        ]
        to_send = [item for item in items if item not in nothing_left]
        if dry_run:
            outcomes += [Outcome(item, "dry_run") for item in to_send]
        elif to_send:
            outcomes += self.pusher(api_object).push(to_send)
        # A revert that was in flight when its run was killed: read back, sent only if it did not land.
        if resumed:
            pending = [PushInput(row[1], str(row[2]), row[8], row[9]) for row in resumed]
            outcomes += self.pusher(api_object).push(pending, maybe_sent=True)
        self.ledger.outcomes("revert", outcomes, skipped)
        return [o.outcome for o in outcomes]

    def _archive(self, api_object: str, rows: list[tuple], dry_run: bool) -> list[str]:
        items = [
            PushInput(row[1], str(row[2]), {}, hashlib.md5(f"archive {row[0]}".encode()).hexdigest())  # noqa: S324
            for row in rows
        ]
        self.ledger.in_flight("archive", api_object, items, None, [row[0] for row in rows])
        if dry_run:
            outcomes = [Outcome(item, "dry_run") for item in items]
        else:
            try:
                response = self.pusher(api_object).call(
                    lambda: self.client.archive(api_object, [item.hubspot_id for item in items])
                )
                ok = response.status in (200, 204)
                error = None if ok else f"HTTP {response.status}: {str(response.body)[:300]}"
                outcomes = [Outcome(item, "sent" if ok else "rejected", response.status, error, 1) for item in items]
            except RequestFailed as failure:
                outcomes = [Outcome(item, "failed", None, str(failure)) for item in items]
        self.ledger.outcomes("archive", outcomes)
        return [o.outcome for o in outcomes]


@contextmanager
def ledger_connections(warehouse: Any, object_type: str) -> Iterator[tuple[Any, Any]]:
    """The ledger's two sessions: a reader whose transaction holds the object's lock until the push
    ends, and an autocommit writer; both opened by the warehouse hook, closed when the block ends."""
    with warehouse.transaction(lock=object_type) as reader, warehouse.autocommit_session() as writer:
        yield reader, writer
