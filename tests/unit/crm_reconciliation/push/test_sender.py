"""The pusher's decisions, against a scripted client (no network)."""

from __future__ import annotations

import requests

from crm_reconciliation.hooks.crm_api import ApiResponse
from crm_reconciliation.push.errors import DailyLimitReached
from crm_reconciliation.push.limiter import RollingWindowLimiter
from crm_reconciliation.push.sender import CreateInput, Pusher, PushInput

ITEMS = [PushInput(n, str(100 + n), {"city": f"Ville {n}"}, f"hash{n}") for n in range(3)]


class ScriptedClient:
    def __init__(self, answers, current=None):
        self.answers, self.current, self.sent, self.reads = list(answers), current or {}, [], 0

    def send_batch(self, key, inputs):
        self.sent.append(inputs)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def read_records(self, key, ids, properties, history=False):
        self.reads += 1
        results = [{"id": i, "properties": self.current[i]} for i in ids if i in self.current]
        return ApiResponse(200, {"results": results}, {})


def pusher(client, sleeps=None):
    sleeps = sleeps if sleeps is not None else []
    return Pusher(client, "companies", RollingWindowLimiter(100, 10), sleep=sleeps.append, backoff_base=0.01)


def test_429_waits_as_told_and_costs_no_attempt():
    client = ScriptedClient(
        [ApiResponse(429, {"policyName": "SECONDLY"}, {"Retry-After": "0"})] * 8
        + [ApiResponse(200, {"results": []}, {})]
    )
    outcomes = Pusher(client, "companies", RollingWindowLimiter(100, 10), max_attempts=2).push(ITEMS)
    assert [o.outcome for o in outcomes] == ["sent"] * 3


def test_daily_limit_defers_the_batch_without_retrying():
    client = ScriptedClient([ApiResponse(429, {"policyName": "DAILY", "message": "daily"}, {})])
    outcomes = pusher(client).push(ITEMS)
    assert [(o.outcome, o.http_status) for o in outcomes] == [("deferred", 429)] * 3
    assert len(client.sent) == 1


def test_daily_limit_leaves_an_unconfirmed_batch_in_flight():
    class Exhausted(RollingWindowLimiter):
        def acquire(self):
            raise DailyLimitReached("daily quota used")

    client = ScriptedClient([])
    outcomes = Pusher(client, "companies", Exhausted(100, 10)).push(ITEMS, maybe_sent=True)
    assert {o.outcome for o in outcomes} == {"in_flight"}  # may have landed: the next run reads it back
    assert client.sent == []


class RefusingClient(ScriptedClient):
    """Refuses a whole batch (400) when any input carries an invalid value, as HubSpot does."""

    def send_batch(self, key, inputs):
        self.sent.append(inputs)
        bad = [i["properties"]["city"] for i in inputs if i["properties"]["city"].startswith("?")]
        if bad:
            return ApiResponse(400, {"status": "error", "message": f"{bad[0]} was not a valid city"}, {})
        return ApiResponse(200, {"results": [{"id": i["id"]} for i in inputs]}, {})


def test_a_refused_batch_is_split_until_each_refused_input_stands_alone():
    items = [
        PushInput(n, str(100 + n), {"city": f"?{n}" if n in (3, 11, 12) else f"Ville {n}"}, f"hash{n}")
        for n in range(16)
    ]
    client = RefusingClient([])
    p = pusher(client)
    outcomes = p.push(items)
    refused = {o.item.legacy_id: o.error for o in outcomes if o.outcome == "rejected"}
    assert refused == {n: f"HTTP 400: ?{n} was not a valid city" for n in (3, 11, 12)}
    assert sum(o.outcome == "sent" for o in outcomes) == 13
    assert len(client.sent) < 2 * len(items)  # bounded by the bisection, not one request per input
    assert p.stats.split_requests == len(client.sent) - 1


def test_5xx_and_timeouts_back_off_then_give_up():
    sleeps = []
    client = ScriptedClient([ApiResponse(503, "busy", {}), requests.Timeout("slow")] * 3)
    outcomes = Pusher(
        client, "companies", RollingWindowLimiter(100, 10), max_attempts=4, backoff_base=1, sleep=sleeps.append
    ).push(ITEMS)
    assert {o.outcome for o in outcomes} == {"failed"}
    assert len(client.sent) == 4
    # exponential backoff with jitter: attempt i waits between half and all of base * 2^i
    assert all(0.5 * 2**i <= delay <= 2**i for i, delay in enumerate(sleeps))


def test_an_answer_lost_after_sending_is_read_back_before_any_resend():
    client = ScriptedClient(
        [requests.ConnectionError("dropped"), ApiResponse(200, {"results": []}, {})],
        current={"100": {"city": "Ville 0"}, "101": {"city": "Ville 1"}},
    )
    outcomes = pusher(client).push(ITEMS)
    assert [o.outcome for o in outcomes] == ["sent"] * 3
    # only the one not applied, with its trace id
    assert client.sent[1] == [{"id": "102", "properties": {"city": "Ville 2"}, "objectWriteTraceId": "2"}]


def test_207_sorts_inputs_by_their_own_outcome():
    body = {
        "results": [{"id": "100"}, {"id": "102"}],
        "errors": [{"category": "VALIDATION_ERROR", "message": "bad", "context": {"ids": ["101"]}}],
    }
    outcomes = pusher(ScriptedClient([ApiResponse(207, body, {})])).push(ITEMS)
    assert {o.item.hubspot_id: o.outcome for o in outcomes} == {"100": "sent", "101": "rejected", "102": "sent"}


def test_207_names_refused_inputs_by_their_trace_id():
    """Every input carries its trace id (multi-status mode): HubSpot's errors name it, and only it."""
    client = ScriptedClient(
        [
            ApiResponse(
                207,
                {
                    "results": [{"id": "100"}, {"id": "101"}],
                    "errors": [
                        {
                            "category": "VALIDATION_ERROR",
                            "message": 'Property values were not valid: [{"error":"INVALID_OPTION","name":"city"}]',
                            "context": {"objectWriteTraceId": ["2"], "propertyName": ["city"]},
                        }
                    ],
                },
                {},
            )
        ]
    )
    outcomes = pusher(client).push(ITEMS)
    assert {item["objectWriteTraceId"] for item in client.sent[0]} == {"0", "1", "2"}
    assert [(o.item.hubspot_id, o.outcome) for o in outcomes] == [("100", "sent"), ("101", "sent"), ("102", "rejected")]
    assert "INVALID_OPTION" in outcomes[2].error


class UpsertClient:
    """Answers upserts as HubSpot does: each result carries its unique value among its properties."""

    def __init__(self, answers):
        self.answers, self.sent = list(answers), []

    def send_batch(self, key, inputs, action="update"):
        self.sent.append((action, inputs))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


CREATES = [CreateInput(n, {"name": f"Société {n}"}, f"create{n}", "icalps_company_id") for n in (7, 8, 9)]


def _upserted(*legacy_ids, status=200, errors=()):
    results = [{"id": str(900 + n), "properties": {"icalps_company_id": str(n)}, "new": True} for n in legacy_ids]
    return ApiResponse(status, {"status": "COMPLETE", "results": results, "errors": list(errors)}, {})


def test_an_upsert_keys_on_the_legacy_id_and_returns_the_new_ids():
    client = UpsertClient([_upserted(9, 7, 8)])  # HubSpot does not keep the input order
    outcomes = pusher(client).upsert(CREATES)
    action, inputs = client.sent[0]
    assert action == "upsert"
    assert inputs[0] == {
        "id": "7",
        "idProperty": "icalps_company_id",
        "properties": {"name": "Société 7"},
        "objectWriteTraceId": "7",
    }
    assert [(o.item.legacy_id, o.outcome, o.created_id) for o in outcomes] == [
        (7, "sent", "907"),
        (8, "sent", "908"),
        (9, "sent", "909"),
    ]


def test_an_upsert_is_replayed_after_a_lost_answer_and_a_207_names_the_refused_input():
    error = {"category": "VALIDATION_ERROR", "message": "bad name", "context": {"ids": ["8"]}}
    client = UpsertClient([requests.ConnectionError("dropped"), _upserted(7, 9, status=207, errors=[error])])
    outcomes = pusher(client).upsert(CREATES)
    assert len(client.sent) == 2  # a replayed upsert updates the record it created: harmless
    assert [(o.outcome, o.error) for o in outcomes] == [
        ("sent", None),
        ("rejected", "VALIDATION_ERROR: bad name"),
        ("sent", None),
    ]


def test_an_upsert_refused_for_every_input_rejects_each_with_the_message():
    refusal = ApiResponse(400, {"message": 'Property "x" does not exist'}, {})
    client = UpsertClient([refusal] * 5)  # the batch of 3, then its halves (1 and 2), then the 2 split
    outcomes = pusher(client).upsert(CREATES)
    assert len(client.sent) == 5
    assert {(o.outcome, o.http_status) for o in outcomes} == {("rejected", 400)}
    assert outcomes[0].error == 'HTTP 400: Property "x" does not exist'
