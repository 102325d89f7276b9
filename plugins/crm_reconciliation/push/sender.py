"""Send batches of property updates safely: within the rate limit, retried when the failure is
transient, confirmed before any re-send whose first send may have landed, and split when
HubSpot refuses a whole batch for the sake of a few of its inputs.

Pure logic over a ``client`` (``send_batch`` / ``read_records``, see ``hooks/crm_api.py``) so
that it is tested without Airflow; ``push_service`` adds the ledger and the pool around it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from crm_reconciliation.push.errors import DailyLimitReached, RequestFailed
from crm_reconciliation.push.limiter import RollingWindowLimiter

log = logging.getLogger(__name__)

# Without Retry-After, how long a 429 of each HubSpot policy asks us to hold.
POLICY_WAIT_SECONDS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}
DAILY_REMAINING_HEADER = "x-hubspot-ratelimit-daily-remaining"


class Client(Protocol):
    def send_batch(self, key: str, inputs: list[dict], action: str = "update") -> Any: ...

    def read_records(self, key: str, ids: list[str], properties: list[str], history: bool = False) -> Any: ...


@dataclass(frozen=True)
class PushInput:
    legacy_id: int
    hubspot_id: str
    properties: dict[str, str]
    payload_hash: str

    @property
    def trace_id(self) -> str:
        """HubSpot's ``objectWriteTraceId``: with one on every input, a refused input comes back
        in a 207 beside the applied ones instead of refusing the whole batch."""
        return str(self.legacy_id)

    def payload(self) -> dict[str, Any]:
        return {"id": self.hubspot_id, "properties": self.properties, "objectWriteTraceId": self.trace_id}


@dataclass(frozen=True)
class CreateInput:
    """A record HubSpot lacks, upserted on its legacy-id property: replayed, it updates the record
    it created instead of creating a second one."""

    legacy_id: int
    properties: dict[str, str]
    payload_hash: str
    id_property: str

    @property
    def hubspot_id(self) -> str:  # what a 207's errors name for an upsert: the unique value
        return str(self.legacy_id)

    @property
    def trace_id(self) -> str:
        return str(self.legacy_id)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.legacy_id),
            "idProperty": self.id_property,
            "properties": self.properties,
            "objectWriteTraceId": self.trace_id,
        }


@dataclass
class Outcome:
    item: PushInput | CreateInput
    # sent | rejected | failed | deferred (not sent: the daily quota) | in_flight (may have
    # landed, unconfirmed: its ledger row stays in flight for the next run to read back)
    outcome: str
    http_status: int | None = None
    error: str | None = None
    attempts: int = 0
    created_id: str | None = None  # an upsert's HubSpot record id


@dataclass
class PushStats:
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    confirmed_by_read: int = 0
    split_requests: int = 0  # requests spent isolating the inputs of refused batches
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            self.outcomes[outcome.outcome] = self.outcomes.get(outcome.outcome, 0) + 1


class Pusher:
    """Push one batch at a time (at most 100 inputs) for one object type."""

    def __init__(
        self,
        client: Client,
        key: str,
        limiter: RollingWindowLimiter,
        max_attempts: int = 6,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ):
        self.client, self.key, self.limiter = client, key, limiter
        self.max_attempts, self.backoff_base, self.backoff_cap = max_attempts, backoff_base, backoff_cap
        self._sleep, self._rng = sleep, rng or random.Random()  # noqa: S311 - jitter, not secrets
        self.stats = PushStats()

    def _backoff(self, attempt: int) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        self.stats.retries += 1
        self._sleep(delay * (0.5 + self._rng.random() / 2))

    def call(self, request: Callable[[], Any]) -> Any:
        """One request that is safe to repeat (a read, an upsert, an association), within the limit:
        429s wait as HubSpot asks, transport errors and 5xx are retried with backoff."""
        import requests

        error: str | None = None
        attempt = 0
        while attempt < self.max_attempts:
            attempt += 1
            self.limiter.acquire()
            self.stats.requests += 1
            try:
                response = request()
            except (requests.Timeout, requests.ConnectionError) as failure:
                error = f"{type(failure).__name__}: {failure}"
                self._backoff(attempt)
                continue
            self._note_quota(response)
            if response.status == 429:
                self._throttled(response)
                attempt -= 1
                continue
            if response.status >= 500:
                error = f"HTTP {response.status}: {str(response.body)[:300]}"
                self._backoff(attempt)
                continue
            return response
        raise RequestFailed(f"no answer after {attempt} attempts: {error}")

    def _note_quota(self, response: Any) -> None:
        remaining = next(
            (value for name, value in (response.headers or {}).items() if name.lower() == DAILY_REMAINING_HEADER), None
        )
        if remaining is not None and str(remaining).isdigit():
            self.limiter.note_daily(int(remaining))

    def _throttled(self, response: Any) -> None:
        self.stats.throttled += 1
        body = response.body if isinstance(response.body, dict) else {}
        policy = body.get("policyName", "")
        if policy == "DAILY":
            raise DailyLimitReached(f"HubSpot's daily limit is reached ({body.get('message', '')})")
        retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
        self.limiter.pause(float(retry_after) if retry_after else POLICY_WAIT_SECONDS.get(policy, 10.0))

    def upsert(self, batch: list[CreateInput]) -> list[Outcome]:
        """Create (or, replayed, update) ``batch`` by its legacy ids; each outcome carries the HubSpot id."""
        done = self._upsert(batch)
        self.stats.count(done)
        return done

    def _upsert(self, batch: list[CreateInput]) -> list[Outcome]:
        try:
            response = self.call(lambda: self.client.send_batch(self.key, [item.payload() for item in batch], "upsert"))
        except RequestFailed as error:
            return [Outcome(item, "failed", None, str(error), self.max_attempts) for item in batch]
        except DailyLimitReached as error:  # an upsert replayed later is harmless: nothing in doubt
            return [Outcome(item, "deferred", 429, str(error), 0) for item in batch]
        if response.status == 400 and len(batch) > 1:
            self.stats.split_requests += 2
            return self._upsert(batch[: len(batch) // 2]) + self._upsert(batch[len(batch) // 2 :])
        return self._upserted(batch, response)

    @staticmethod
    def _upserted(batch: list[CreateInput], response: Any) -> list[Outcome]:
        body = response.body if isinstance(response.body, dict) else {}
        if response.status not in (200, 201, 207):
            message = body.get("message") if body else str(response.body)[:300]
            error = f"HTTP {response.status}: {message}"
            return [Outcome(item, "rejected", response.status, error, 1) for item in batch]
        id_property = batch[0].id_property if batch else ""
        by_value = {
            str((result.get("properties") or {}).get(id_property)): str(result.get("id"))
            for result in body.get("results", [])
        }
        failed = Pusher._errors_by_input(body)
        outcomes = []
        for item in batch:
            error = Pusher._error_of(item, failed)
            if error is None and item.hubspot_id in by_value:
                outcomes.append(Outcome(item, "sent", response.status, None, 1, by_value[item.hubspot_id]))
            else:
                error = error or "neither in the results nor in the errors of the answer"
                outcomes.append(Outcome(item, "rejected", response.status, error, 1))
        return outcomes

    @staticmethod
    def _errors_by_input(body: dict) -> dict[tuple[str, str], str]:
        """A 207's errors by the input they name: ``("trace", objectWriteTraceId)`` or ``("id", id)``."""
        failed: dict[tuple[str, str], str] = {}
        for error in body.get("errors", []):
            context = error.get("context") or {}
            message = f"{error.get('category', 'error')}: {error.get('message', '')}"
            for value in context.get("objectWriteTraceId", []):
                failed["trace", str(value)] = message
            for record_id in [str(value) for key in ("id", "ids") for value in context.get(key, [])]:
                failed["id", record_id] = message
        return failed

    @staticmethod
    def _error_of(item: PushInput | CreateInput, failed: dict[tuple[str, str], str]) -> str | None:
        """The error a 207 names for ``item``: by its trace id, else by its id."""
        return failed.get(("trace", item.trace_id)) or failed.get(("id", item.hubspot_id))

    def read(
        self, ids: list[str], properties: list[str], history: bool = False
    ) -> dict[str, tuple[dict[str, Any], dict[str, list[dict]]]]:
        """``{id: (properties, propertiesWithHistory)}`` of records ``ids`` through the client's one read
        (``read_records``), within the limit and retried as ``call`` retries."""
        from crm_reconciliation.hooks.crm_api import records_read

        response = self.call(lambda: self.client.read_records(self.key, ids, properties, history))
        if response.status not in (200, 207):
            raise RequestFailed(f"batch/read answered {response.status}: {str(response.body)[:300]}")
        return records_read(response)

    def confirm(self, items: list[PushInput]) -> tuple[list[PushInput], list[PushInput]]:
        """Split ``items`` into (already applied in HubSpot, still to send) by reading them back."""
        if not items:
            return [], []
        properties = sorted({name for item in items for name in item.properties})
        read = self.read([item.hubspot_id for item in items], properties)
        current = {record_id: values for record_id, (values, _) in read.items()}
        applied = [
            item
            for item in items
            if all((current.get(item.hubspot_id) or {}).get(name) == value for name, value in item.properties.items())
        ]
        self.stats.confirmed_by_read += len(applied)
        return applied, [item for item in items if item not in applied]

    def push(self, batch: list[PushInput], maybe_sent: bool = False) -> list[Outcome]:
        """Send ``batch`` until each input is sent, rejected, or out of attempts.

        ``maybe_sent``: an earlier attempt may have landed (a killed run): confirm first. Every
        input carries its trace id, so HubSpot answers a refused input in a 207 beside the applied
        ones; a batch it still refuses whole (400) is split in halves until the refused inputs
        stand alone, each with HubSpot's message; the rest is sent.
        """
        done = self._push(batch, maybe_sent)
        self.stats.count(done)
        return done

    def _push(self, batch: list[PushInput], maybe_sent: bool) -> list[Outcome]:
        import requests

        done: list[Outcome] = []
        pending = list(batch)
        ambiguous = maybe_sent
        attempt = 0
        last_error, last_status = None, None
        while pending and attempt < self.max_attempts:
            try:
                if ambiguous:
                    try:
                        applied, pending = self.confirm(pending)
                    except DailyLimitReached:
                        raise  # to the outer handler: these inputs stay in flight
                    except RequestFailed as error:  # the read had its attempts: sending blind could apply twice
                        log.warning("Could not read back %d records before re-sending: %s", len(pending), error)
                        last_error = str(error)
                        break
                    except requests.RequestException as error:
                        log.warning("Could not read back %d records before re-sending: %s", len(pending), error)
                        attempt += 1
                        self._backoff(attempt)
                        continue
                    done += [
                        Outcome(item, "sent", None, "confirmed by reading HubSpot back", attempt) for item in applied
                    ]
                    ambiguous = False
                    if not pending:
                        break
                attempt += 1
                self.limiter.acquire()
                self.stats.requests += 1
                response = self.client.send_batch(self.key, [item.payload() for item in pending])
            except DailyLimitReached as error:
                # Unconfirmed inputs stay in flight (the next run reads them back); the rest waits.
                kind = "in_flight" if ambiguous else "deferred"
                return done + [Outcome(item, kind, 429, str(error), attempt) for item in pending]
            except (requests.Timeout, requests.ConnectionError) as error:
                last_error, last_status, ambiguous = f"{type(error).__name__}: {error}", None, True
                self._backoff(attempt)
                continue
            self._note_quota(response)
            status, body = response.status, response.body if isinstance(response.body, dict) else {}
            if status == 429:
                try:
                    self._throttled(response)
                except DailyLimitReached as error:
                    return done + [Outcome(item, "deferred", 429, str(error), attempt) for item in pending]
                attempt -= 1  # a throttled request was not processed: it does not use up an attempt
                continue
            if status >= 500:
                last_error, last_status, ambiguous = f"HTTP {status}: {str(response.body)[:300]}", status, True
                self._backoff(attempt)
                continue
            if status in (200, 201):
                done += [Outcome(item, "sent", status, None, attempt) for item in pending]
            elif status == 207:
                done += self._multi_status(pending, body, attempt)
            elif status == 400 and len(pending) > 1:
                self.stats.split_requests += 2
                half = len(pending) // 2
                done += self._push(pending[:half], False) + self._push(pending[half:], False)
            else:
                message = body.get("message") if body else str(response.body)[:300]
                done += [Outcome(item, "rejected", status, f"HTTP {status}: {message}", attempt) for item in pending]
            pending = []
        done += [Outcome(item, "failed", last_status, last_error, attempt) for item in pending]
        return done

    @staticmethod
    def _multi_status(pending: list[PushInput], body: dict, attempt: int) -> list[Outcome]:
        """HubSpot's 207: ``results`` were applied, each of ``errors`` names the ids it failed."""
        failed = Pusher._errors_by_input(body)
        applied = {str(result.get("id")) for result in body.get("results", [])}
        outcomes = []
        for item in pending:
            error = Pusher._error_of(item, failed)
            if error:
                outcomes.append(Outcome(item, "rejected", 207, error, attempt))
            elif item.hubspot_id in applied:
                outcomes.append(Outcome(item, "sent", 207, None, attempt))
            else:
                outcomes.append(Outcome(item, "failed", 207, "neither in results nor in errors of a 207", attempt))
        return outcomes
