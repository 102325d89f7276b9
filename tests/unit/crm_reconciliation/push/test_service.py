"""The push service's loop, against an in-memory ledger and client (no database, no network)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from crm_reconciliation.hooks.crm_api import ApiResponse
from crm_reconciliation.push.errors import DailyLimitReached
from crm_reconciliation.push.limiter import RollingWindowLimiter
from crm_reconciliation.push.sender import Pusher
from crm_reconciliation.push.service import PushService, same_value


class MemoryLedger:
    """The ledger's interface over lists: selections given, writes kept in order."""

    def __init__(self, selections: dict[str, list[tuple]], pending: int = 0):
        self.selections, self.events, self.pending = selections, [], pending
        self.lock = threading.Lock()

    def rows(self, name, size, total=None, **binds):
        rows = self.selections[name]
        if total:
            total(len(rows))
        for start in range(0, len(rows), size):
            yield rows[start][-1], rows[start : start + size]

    def mark_pending(self):
        with self.lock:
            self.events.append(("pending", self.pending))
        return self.pending

    def in_flight(self, action, api_object, items, before=None, revert_of=None):
        with self.lock:
            self.events.append(("in_flight", action, [i.payload_hash for i in items], before, revert_of))

    def outcomes(self, action, outcomes, skipped=None):
        with self.lock:
            kept = [(o.item.payload_hash, o.outcome) for o in outcomes if o.outcome != "in_flight"]
            self.events.append(("outcomes", action, kept, skipped))

    def verification(self, push_ids, verdicts, found):
        with self.lock:
            self.events.append(("verification", list(zip(push_ids, verdicts, found, strict=True))))


class MemoryPortal:
    """Answers batch reads and updates after ``latency`` seconds; counts requests in flight."""

    def __init__(self, records: dict[str, dict], latency: float = 0.0, daily: int | None = None):
        self.records, self.latency, self.daily = records, latency, daily
        self.history: dict[tuple[str, str], list[dict]] = {}
        self.in_flight = self.most_in_flight = 0
        self.sent: list[list[dict]] = []
        self.reads = 0
        self.lock = threading.Lock()

    def _answer(self, work):
        with self.lock:
            if self.daily is not None:
                if self.daily == 0:
                    return ApiResponse(429, {"policyName": "DAILY", "message": "daily"}, {})
                self.daily -= 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.latency)
        with self.lock:
            self.in_flight -= 1
            return work()

    def read_records(self, api_object, ids, properties, history=False):
        def work():
            self.reads += 1
            results = [
                {
                    "id": i,
                    "properties": {p: self.records[i].get(p) for p in properties},
                    "propertiesWithHistory": {p: self.history.get((i, p), []) for p in properties} if history else {},
                }
                for i in ids
                if i in self.records
            ]
            return ApiResponse(200, {"results": results}, {})

        return self._answer(work)

    def send_batch(self, api_object, inputs, action="update"):
        def work():
            self.sent.append(inputs)
            for item in inputs:
                self.records[item["id"]].update(item["properties"])
            return ApiResponse(200, {"results": [{"id": item["id"]} for item in inputs]}, {})

        return self._answer(work)


def service(ledger, portal, concurrency=4):
    limiter = RollingWindowLimiter(1000, 1.0)
    pushers = {}

    def pusher(api_object):
        return pushers.setdefault(api_object, Pusher(portal, api_object, limiter, backoff_base=0.001))

    return PushService(ledger, portal, pusher, concurrency=concurrency, batch_size=10, progress_seconds=60)


def update_rows(count: int, maybe_sent: bool = False) -> list[tuple]:
    """select.sql's rows: legacy id, HubSpot id, properties, hash, maybe_sent, the mirror's before-values, object."""
    return [
        (n, str(100 + n), {"city": f"Ville {n}"}, f"h{n}", maybe_sent, {"city": "Avant"}, "companies")
        for n in range(count)
    ]


def test_several_batches_are_in_flight_at_once_and_each_is_recorded_before_it_leaves():
    portal = MemoryPortal({str(100 + n): {"city": "Avant"} for n in range(80)}, latency=0.05)
    ledger = MemoryLedger({"select": update_rows(80)})
    summary = service(ledger, portal, concurrency=4).updates()
    assert summary["outcomes"] == {"sent": 80}
    assert 2 <= portal.most_in_flight <= 4
    flights = [e for e in ledger.events if e[0] == "in_flight"]
    assert len(flights) == 8
    assert flights[0][3][0] == {"city": "Avant"}  # the value the mirror held, kept without a request
    assert portal.reads == 0  # one request per batch: the write
    for flight in flights:  # every payload is in flight before it has an outcome
        first_outcome = next(
            i for i, e in enumerate(ledger.events) if e[0] == "outcomes" and e[2][0][0] == flight[2][0]
        )
        assert ledger.events.index(flight) < first_outcome


def test_a_resumed_payload_keeps_the_values_its_first_run_read():
    portal = MemoryPortal({str(100 + n): {"city": f"Ville {n}"} for n in range(3)})  # it had landed
    ledger = MemoryLedger({"select": update_rows(3, maybe_sent=True)})
    summary = service(ledger, portal).updates()
    assert summary["outcomes"] == {"sent": 3}
    assert portal.sent == []  # confirmed by reading back
    assert ledger.events[0][3] == [None, None, None]  # the ledger keeps the first run's before-values


def test_the_daily_quota_stops_new_batches_and_says_what_waits():
    portal = MemoryPortal({str(100 + n): {} for n in range(100)}, daily=5)
    ledger = MemoryLedger({"select": update_rows(100)})
    run = service(ledger, portal, concurrency=1)
    summary = run.updates()
    assert run.stopped
    assert summary["outcomes"].get("sent", 0) == 50  # five batches, one request each
    assert summary["waiting"] == 50


def test_verification_names_the_value_found():
    portal = MemoryPortal({"101": {"city": "Grenoble"}, "102": {"city": "Lyon", "phone": "5001"}})
    rows = [
        (1, "101", {"city": "Ville"}, "companies"),
        (2, "102", {"city": "Lyon", "phone": "5001.0"}, "companies"),  # HubSpot drops the .0
        (3, "103", {"city": "Nice"}, "companies"),
    ]
    ledger = MemoryLedger({"verify_select": rows})
    summary = service(ledger, portal).verify("every")
    assert summary["outcomes"] == {"mismatch": 2, "verified": 1}
    (_, checked) = ledger.events[0]
    assert checked == [
        (1, "mismatch", {"city": "Grenoble"}),
        (2, "verified", None),
        (3, "mismatch", {"record": "not found"}),
    ]


def test_a_revert_restores_what_is_still_ours_and_skips_what_a_person_changed():
    pushed_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    later = (pushed_at + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    portal = MemoryPortal(
        {
            "101": {"city": "Nouvelle", "industry": "Aerospace"},
            "102": {"city": "À la main", "industry": "Aerospace"},
            "103": {"city": "Nouvelle", "industry": "Aerospace"},
        }
    )
    portal.history[("102", "city")] = [{"value": "À la main", "timestamp": later, "sourceType": "CRM_UI"}]
    portal.history[("103", "industry")] = [{"value": "Aerospace", "timestamp": later, "sourceType": "CRM_UI"}]
    sent = {"city": "Nouvelle", "industry": "Aerospace"}
    rows = [
        (
            10 + n,
            n,
            str(100 + n),
            sent,
            {"city": "Ancienne", "industry": None},
            pushed_at,
            "update",
            False,
            None,
            None,
            pushed_at - timedelta(seconds=1),
            "companies",
        )
        for n in (1, 2, 3)
    ]
    ledger = MemoryLedger({"revert_select": rows})
    summary = service(ledger, portal).revert("push_run", archive_created=False, dry_run=False)
    assert summary["outcomes"] == {"sent": 3}
    assert portal.records["101"] == {"city": "Ancienne", "industry": ""}
    assert portal.records["102"] == {"city": "À la main", "industry": ""}  # edited since: left alone
    # Set again by a person after the push (same value, later history entry): left alone as well.
    assert portal.records["103"] == {"city": "Ancienne", "industry": "Aerospace"}
    (_, _, _, skipped) = ledger.events[-1]
    assert [changed["city"]["source"] for changed in skipped.values() if "city" in changed] == ["CRM_UI"]


def test_verify_mirror_reads_nothing_back_and_leaves_the_writes_pending():
    portal = MemoryPortal({"101": {"city": "Ville"}})
    ledger = MemoryLedger({"verify_select": [(1, "101", {"city": "Ville"}, "companies")]}, pending=1)
    summary = service(ledger, portal).verify("mirror")
    assert summary["outcomes"] == {"pending": 1}
    assert portal.reads == 0
    assert ledger.events == [("pending", 1)]


def test_a_revert_restores_from_history_what_hubspot_held_when_the_mirror_was_older():
    sent_from = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def at(seconds: int) -> str:
        return (sent_from + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")

    portal = MemoryPortal({"101": {"city": "Nouvelle", "phone": "+33100"}})
    portal.history[("101", "city")] = [
        {"value": "Nouvelle", "timestamp": at(1), "sourceType": "INTEGRATION"},  # the push's write
        {"value": "Modifiée", "timestamp": at(-3600), "sourceType": "CRM_UI"},  # after the mirror was read
        {"value": "Ancienne", "timestamp": at(-86400), "sourceType": "IMPORT"},
    ]
    portal.history[("101", "phone")] = [{"value": "+33100", "timestamp": at(1), "sourceType": "INTEGRATION"}]
    row = (11, 1, "101", {"city": "Nouvelle", "phone": "+33100"}, {"city": "Ancienne", "phone": "+33999"})
    rows = [(*row, sent_from + timedelta(seconds=2), "update", False, None, None, sent_from, "companies")]
    summary = service(MemoryLedger({"revert_select": rows}), portal).revert("r", False, dry_run=False)
    assert summary["outcomes"] == {"sent": 1}
    # The history's value before the write, not the stale mirror's; no version before it: empty.
    assert portal.records["101"] == {"city": "Modifiée", "phone": ""}


def test_a_revert_dry_run_reads_but_sends_nothing():
    portal = MemoryPortal({"101": {"city": "Nouvelle"}})
    rows = [
        (
            11,
            1,
            "101",
            {"city": "Nouvelle"},
            {"city": "Ancienne"},
            datetime.now(UTC),
            "update",
            False,
            None,
            None,
            datetime.now(UTC),
            "companies",
        )
    ]
    summary = service(MemoryLedger({"revert_select": rows}), portal).revert("r", False, dry_run=True)
    assert summary["outcomes"] == {"dry_run": 1}
    assert portal.sent == []


@pytest.mark.parametrize(
    ("sent", "found", "same"),
    [("5001.0", "5001", True), ("true", "True", True), ("", None, True), ("Lyon", "lyon", False), ("1", None, False)],
)
def test_values_compare_as_hubspot_hands_them_back(sent, found, same):
    assert same_value(sent, found) is same


def test_a_daily_stop_before_the_write_defers_without_sending():
    class Exhausted(RollingWindowLimiter):
        def acquire(self):
            raise DailyLimitReached("daily quota used")

    portal = MemoryPortal({"100": {}})
    run = PushService(
        MemoryLedger({"select": update_rows(1)}), portal, lambda key: Pusher(portal, key, Exhausted(1, 1))
    )
    assert run.updates()["outcomes"] == {"deferred": 1}
    assert portal.sent == []
