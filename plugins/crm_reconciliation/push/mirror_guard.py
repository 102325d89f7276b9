"""The mirror guard in words: why a run's push waits for a person, for the approval request,
the task log and the report (what it measured is in ``staging.mirror_checks``)."""

from __future__ import annotations

from typing import Any


def guard_reason(guard: dict[str, Any] | None, guarded: int, max_drop_rate: float, mirror: str) -> str | None:
    """Why the guard holds this run's push, or None when the mirror kept what earlier runs linked.

    ``guard``: this run's ``staging.mirror_checks`` row; ``guarded``: the creations it holds;
    ``mirror``: the mirror table's name.
    """
    if not guard:
        return None
    found = []
    before, now = guard.get("previous_records"), guard["mirror_records"]
    if guard["shrunk"] and before:
        found.append(
            f"{mirror} holds {now:,} records, {before - now:,} fewer than at run {guard['previous_run_id']} "
            f"({(before - now) / before:.0%} gone, more than max_drop_rate {max_drop_rate:.0%}): "
            "no creation can be trusted"
        )
    if guard["lost_links"]:
        found.append(
            f"{guard['lost_links']:,} of the {guard['links_before']:,} HubSpot records the previous run linked are "
            "gone from the mirror (the sync dropped them, or they were deleted or merged in HubSpot): their legacy "
            "records are now new"
        )
    if guard.get("carried_links"):
        found.append(
            f"{guard['carried_links']:,} records the guard held in an earlier run are still held: no person has "
            "approved creating them"
        )
    if guarded:
        found.append(f"{guarded:,} creations are held until a person approves")
    return "the mirror guard: " + "; ".join(found) if found else None
