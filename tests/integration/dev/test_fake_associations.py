"""The fake portal's association batches: HubSpot's 1,000-input limit, and reads from its index.

The fake answers a batch/read from an index of the links (not a scan of every link per input);
these tests pin that its answers are what a scan of ``crm.associations`` gives, through creations,
a primary company replaced, an archive and a link a test adds by hand.
"""

from __future__ import annotations

import pytest

from crm_reconciliation_dev.fake_hubspot import MAX_ASSOCIATION_BATCH_INPUTS, FakeCrm
from tests.integration.dev import test_fake_portal as legacy
from tests.integration.dev.test_fake_portal import associate, call, link

pytestmark = pytest.mark.integration
portal = legacy.portal  # the fixture: portals whose requests are checked against the specs at the end

NOTES = 1_200


def scanned(crm: FakeCrm, kind: str, target: str, record_id: str) -> list[dict]:
    """What batch/read answers for one record, from a scan of every link (the fake's former way)."""
    linked: dict[str, list[int]] = {}
    for held in sorted(crm.associations):
        if held[:3] == (kind, record_id, target):
            linked.setdefault(held[3], []).append(held[4])
    return [
        {
            "toObjectId": target_id,
            "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": "Primary" if type_id in (1, 2) else None}
                for type_id in sorted(type_ids)
            ],
        }
        for target_id, type_ids in linked.items()
    ]


def read_matches_scan(crm: FakeCrm, kind: str, target: str, ids: list[str]) -> None:
    status, answer = associate(crm, kind, target, "read", [{"id": record_id} for record_id in ids])
    assert status in (200, 207)
    got = {result["from"]["id"]: result["to"] for result in answer["results"]}
    assert got == {record_id: scanned(crm, kind, target, record_id) for record_id in ids if record_id in got}
    assert set(got) == {record_id for record_id in ids if record_id in crm.objects[kind]}


@pytest.mark.parametrize(
    ("action", "item"),
    [
        ("read", {"id": "201"}),
        ("create", legacy.link("201", "101", 279)),
        ("associate/default", {"from": {"id": "201"}, "to": {"id": "101"}}),
    ],
)
def test_an_association_batch_over_the_limit_is_refused_whole(portal, action, item):
    crm = portal()
    status, answer = associate(crm, "contacts", "companies", action, [item] * (MAX_ASSOCIATION_BATCH_INPUTS + 1))
    assert status == 400
    assert answer["category"] == "VALIDATION_ERROR"
    assert answer["message"] == (
        f"Batch size {MAX_ASSOCIATION_BATCH_INPUTS + 1} exceeds the limit of {MAX_ASSOCIATION_BATCH_INPUTS} inputs"
    )
    assert crm.associations == set()
    status, _ = associate(crm, "contacts", "companies", action, [item] * MAX_ASSOCIATION_BATCH_INPUTS)
    assert status in (200, 201)


def test_reads_answer_what_the_links_hold_through_every_change(portal):
    crm = portal()
    notes = {str(1000 + n): {"hs_note_body": f"Note {n}", "hs_timestamp": legacy.TIMESTAMP} for n in range(NOTES)}
    crm.seed("notes", notes)
    ids = sorted(notes)
    # Notes on company 101 (two batches, the first at the limit), every third one on 102 too.
    for start in range(0, NOTES, MAX_ASSOCIATION_BATCH_INPUTS):
        chunk = ids[start : start + MAX_ASSOCIATION_BATCH_INPUTS]
        assert associate(crm, "notes", "companies", "create", [link(n, "101", 190) for n in chunk])[0] == 201
    assert associate(crm, "notes", "companies", "create", [link(n, "102", 190) for n in ids[::3]])[0] == 201
    assert associate(crm, "contacts", "companies", "create", [link("201", "101", 1)])[0] == 201
    read_matches_scan(crm, "companies", "notes", ["101", "102", "999"])
    read_matches_scan(crm, "notes", "companies", ids[:MAX_ASSOCIATION_BATCH_INPUTS])
    read_matches_scan(crm, "contacts", "companies", ["201"])

    # A contact's primary company replaced: the old primary link goes, the default one stays.
    assert associate(crm, "contacts", "companies", "create", [link("201", "102", 1)])[0] == 201
    read_matches_scan(crm, "contacts", "companies", ["201"])
    read_matches_scan(crm, "companies", "contacts", ["101", "102"])

    # A link added by hand (as a test does) is read; an archived record's links are gone both ways.
    crm.associations.add(("deals", "301", "companies", "101", 341))
    crm.associations.add(("companies", "101", "deals", "301", 342))
    read_matches_scan(crm, "companies", "deals", ["101"])
    assert (
        call(crm, "POST", "/crm/v3/objects/notes/batch/archive", {"inputs": [{"id": ids[0]}, {"id": ids[3]}]})[0] == 204
    )
    assert not crm.associations.touching("notes", ids[0])
    read_matches_scan(crm, "companies", "notes", ["101", "102"])
    _, answer = associate(crm, "companies", "notes", "read", [{"id": "102"}])
    assert ids[3] not in {to["toObjectId"] for to in answer["results"][0]["to"]}
    assert len(answer["results"][0]["to"]) == len(ids[::3]) - 2

    crm.associations -= crm.associations.touching("companies", "101")
    read_matches_scan(crm, "companies", "notes", ["101"])
    read_matches_scan(crm, "notes", "companies", ids[:10])
