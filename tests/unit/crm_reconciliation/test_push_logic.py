"""The pusher's decisions, against a scripted client (no network)."""

from __future__ import annotations

import pytest
import requests

from crm_reconciliation.hooks.crm_api import ApiResponse
from crm_reconciliation.push import DailyLimitReached, Pusher, PushInput
from crm_reconciliation.rate_limit import RollingWindowLimiter

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

    def read_current(self, key, ids, properties):
        self.reads += 1
        return {record_id: self.current[record_id] for record_id in ids if record_id in self.current}


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


def test_daily_limit_stops_the_push():
    client = ScriptedClient([ApiResponse(429, {"policyName": "DAILY", "message": "daily"}, {})])
    with pytest.raises(DailyLimitReached):
        pusher(client).push(ITEMS)


def test_a_4xx_is_recorded_not_retried():
    client = ScriptedClient([ApiResponse(400, {"message": "Property 'x' does not exist"}, {})])
    outcomes = pusher(client).push(ITEMS)
    assert {o.outcome for o in outcomes} == {"rejected"}
    assert outcomes[0].error == "HTTP 400: Property 'x' does not exist"
    assert len(client.sent) == 1


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
    assert client.sent[1] == [{"id": "102", "properties": {"city": "Ville 2"}}]  # only the one not applied


def test_207_sorts_inputs_by_their_own_outcome():
    body = {
        "results": [{"id": "100"}, {"id": "102"}],
        "errors": [{"category": "VALIDATION_ERROR", "message": "bad", "context": {"ids": ["101"]}}],
    }
    outcomes = pusher(ScriptedClient([ApiResponse(207, body, {})])).push(ITEMS)
    assert {o.item.hubspot_id: o.outcome for o in outcomes} == {"100": "sent", "101": "rejected", "102": "sent"}
