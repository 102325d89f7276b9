"""Send batches of property updates safely: within the rate limit, retried when the failure is
transient, confirmed before any re-send whose first send may have landed.

Pure logic over a ``client`` (``send_batch`` / ``read_current``, see ``hooks/crm_api.py``) so
that it is tested without Airflow; the push operator adds the database ledger around it.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from crm_reconciliation.rate_limit import RollingWindowLimiter

log = logging.getLogger(__name__)

# Without Retry-After, how long a 429 of each HubSpot policy asks us to hold.
POLICY_WAIT_SECONDS = {"SECONDLY": 1.0, "TEN_SECONDLY_ROLLING": 10.0}


class Client(Protocol):
    def send_batch(self, key: str, inputs: list[dict]) -> Any: ...

    def read_current(self, key: str, ids: list[str], properties: list[str]) -> dict[str, dict[str, Any]]: ...


class DailyLimitReached(RuntimeError):
    """HubSpot's daily API limit is used up: stop, the rest waits for a later run."""


@dataclass(frozen=True)
class PushInput:
    legacy_id: int
    hubspot_id: str
    properties: dict[str, str]
    payload_hash: str

    def payload(self) -> dict[str, Any]:
        return {"id": self.hubspot_id, "properties": self.properties}


@dataclass
class Outcome:
    item: PushInput
    outcome: str  # sent | rejected | failed
    http_status: int | None = None
    error: str | None = None
    attempts: int = 0


@dataclass
class PushStats:
    requests: int = 0
    throttled: int = 0
    retries: int = 0
    confirmed_by_read: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)


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

    def confirm(self, items: list[PushInput]) -> tuple[list[PushInput], list[PushInput]]:
        """Split ``items`` into (already applied in HubSpot, still to send) by reading them back."""
        if not items:
            return [], []
        properties = sorted({name for item in items for name in item.properties})
        self.limiter.acquire()
        self.stats.requests += 1
        current = self.client.read_current(self.key, [item.hubspot_id for item in items], properties)
        applied = [
            item
            for item in items
            if all((current.get(item.hubspot_id) or {}).get(name) == value for name, value in item.properties.items())
        ]
        self.stats.confirmed_by_read += len(applied)
        return applied, [item for item in items if item not in applied]

    def push(self, batch: list[PushInput], maybe_sent: bool = False) -> list[Outcome]:
        """Send ``batch`` until each input is sent, rejected, or out of attempts.

        ``maybe_sent``: an earlier attempt may have landed (a killed run): confirm first.
        """
        import requests

        done: list[Outcome] = []
        pending = list(batch)
        ambiguous = maybe_sent
        attempt = 0
        last_error, last_status = None, None
        while pending and attempt < self.max_attempts:
            if ambiguous:
                try:
                    applied, pending = self.confirm(pending)
                except (requests.RequestException, RuntimeError) as error:
                    log.warning("Could not read back %d records before re-sending: %s", len(pending), error)
                    attempt += 1
                    self._backoff(attempt)
                    continue
                done += [Outcome(item, "sent", None, "confirmed by reading HubSpot back", attempt) for item in applied]
                ambiguous = False
                if not pending:
                    break
            attempt += 1
            self.limiter.acquire()
            self.stats.requests += 1
            try:
                response = self.client.send_batch(self.key, [item.payload() for item in pending])
            except (requests.Timeout, requests.ConnectionError) as error:
                last_error, last_status, ambiguous = f"{type(error).__name__}: {error}", None, True
                self._backoff(attempt)
                continue
            status, body = response.status, response.body if isinstance(response.body, dict) else {}
            if status == 429:
                self.stats.throttled += 1
                policy = body.get("policyName", "")
                if policy == "DAILY":
                    raise DailyLimitReached(f"HubSpot's daily limit is reached ({body.get('message', '')})")
                retry_after = response.headers.get("Retry-After") or response.headers.get("retry-after")
                wait = float(retry_after) if retry_after else POLICY_WAIT_SECONDS.get(policy, 10.0)
                self.limiter.pause(wait)
                attempt -= 1  # a throttled request was not processed: it does not use up an attempt
                continue
            if status >= 500:
                last_error, last_status, ambiguous = f"HTTP {status}: {str(response.body)[:300]}", status, True
                self._backoff(attempt)
                continue
            if status in (200, 201):
                done += [Outcome(item, "sent", status, None, attempt) for item in pending]
                pending = []
            elif status == 207:
                done += self._multi_status(pending, body, attempt)
                pending = []
            else:
                message = body.get("message") if body else str(response.body)[:300]
                done += [Outcome(item, "rejected", status, f"HTTP {status}: {message}", attempt) for item in pending]
                pending = []
        done += [Outcome(item, "failed", last_status, last_error, attempt) for item in pending]
        for outcome in done:
            self.stats.outcomes[outcome.outcome] = self.stats.outcomes.get(outcome.outcome, 0) + 1
        return done

    @staticmethod
    def _multi_status(pending: list[PushInput], body: dict, attempt: int) -> list[Outcome]:
        """HubSpot's 207: ``results`` were applied, each of ``errors`` names the ids it failed."""
        failed: dict[str, str] = {}
        for error in body.get("errors", []):
            context = error.get("context") or {}
            ids = [str(value) for key in ("id", "ids") for value in context.get(key, [])]
            for record_id in ids:
                failed[record_id] = f"{error.get('category', 'error')}: {error.get('message', '')}"
        applied = {str(result.get("id")) for result in body.get("results", [])}
        outcomes = []
        for item in pending:
            if item.hubspot_id in failed:
                outcomes.append(Outcome(item, "rejected", 207, failed[item.hubspot_id], attempt))
            elif item.hubspot_id in applied:
                outcomes.append(Outcome(item, "sent", 207, None, attempt))
            else:
                outcomes.append(Outcome(item, "failed", 207, "neither in results nor in errors of a 207", attempt))
        return outcomes
