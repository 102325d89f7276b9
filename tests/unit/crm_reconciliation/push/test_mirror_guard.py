"""The mirror guard's words: the approval request and the task log say why a push waits."""

from __future__ import annotations

from crm_reconciliation.push.mirror_guard import guard_reason

CHECK = {
    "mirror_records": 1323,
    "previous_run_id": "run_1",
    "previous_records": 1890,
    "links_before": 1575,
    "lost_links": 475,
    "shrunk": True,
    "carried_links": 0,
}


def test_a_shrink_and_lost_links_are_named_with_their_figures():
    reason = guard_reason(CHECK, 657, 0.25, "hubspot.companies")
    assert reason == (
        "the mirror guard: hubspot.companies holds 1,323 records, 567 fewer than at run run_1 (30% gone, more than "
        "max_drop_rate 25%): no creation can be trusted; 475 of the 1,575 HubSpot records the previous run linked are "
        "gone from the mirror (the sync dropped them, or they were deleted or merged in HubSpot): their legacy records "
        "are now new; 657 creations are held until a person approves"
    )


def test_links_still_held_from_an_earlier_run_are_named():
    check = {**CHECK, "shrunk": False, "lost_links": 0, "carried_links": 474}
    assert guard_reason(check, 474, 0.25, "hubspot.companies") == (
        "the mirror guard: 474 records the guard held in an earlier run are still held: no person has approved "
        "creating them; 474 creations are held until a person approves"
    )


def test_nothing_to_say_when_the_mirror_kept_its_links():
    check = {**CHECK, "shrunk": False, "lost_links": 0}
    assert guard_reason(check, 0, 0.25, "hubspot.companies") is None
    assert guard_reason(None, 0, 0.25, "hubspot.companies") is None
