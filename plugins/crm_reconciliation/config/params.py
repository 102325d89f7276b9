"""The run params of every object DAG (the trigger form), also the defaults of a step run outside a DAG."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import Any

from airflow.sdk import Param

from crm_reconciliation.config.paths import DEFAULT_BRONZE_DIR


def run_params() -> dict[str, Param]:
    """The trigger form: every field optional, the defaults are the nightly run's."""
    return {
        "bronze_dir": Param(
            DEFAULT_BRONZE_DIR,
            type="string",
            minLength=1,
            title="Bronze folder",
            description="Folder holding the Bronze_<Table>.csv exports: a local path (absolute, or relative to "
            "the project) or an object-storage URL naming its Airflow connection before the @ "
            "(s3://<connection id>@bucket/prefix; s3://bucket/prefix uses the worker's default AWS credentials; "
            "file:///folder). A dated sub-folder <bronze_dir>/YYYY-MM-DD/ matching the run's logical date "
            "is used instead when it exists.",
        ),
        "limit": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Row limit",
            description="Process only the first N legacy rows of the file; empty for all.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="When on, the push step builds and records every payload but sends nothing.",
        ),
        "min_confidence": Param(
            90,
            type="number",
            minimum=0,
            maximum=100,
            title="Minimum confidence",
            description="Lowest match confidence (0-100) that may be pushed to HubSpot.",
        ),
        "push_target": Param(
            "workflow",
            type="string",
            enum=["workflow", "hubspot"],
            title="Push target",
            description="workflow: the workflow API (connection workflow_api); hubspot: HubSpot's CRM "
            "batch API (connection hubspot_api).",
        ),
        "verify": Param(
            "mirror",
            type="string",
            enum=["mirror", "sample", "every"],
            title="Verify the push",
            description="mirror: no read-back request, the next run checks what was written against the mirror "
            "once the sync tool has caught up (pending, then verified or mismatch); sample: also read back a random "
            "share of the writes (push_verify_sample_share); every: read back every write (one more request per "
            "batch).",
        ),
        "create_missing": Param(
            False,
            type="boolean",
            title="Create missing records",
            description="When on, push also creates the records HubSpot lacks (status new), upserted on their "
            "legacy-id property so that a replay never creates a second; a dry run counts them.",
        ),
        "create_properties": Param(
            False,
            type="boolean",
            title="Create missing custom properties",
            description="When on, a live push to HubSpot first creates the mapped custom properties the portal "
            "lacks (group icalps; the legacy id with unique values); off, it stops and lists them.",
        ),
        "create_options": Param(
            False,
            type="boolean",
            title="Add missing enumeration options",
            description="When on, a live push to HubSpot first adds to the portal's enumerations (industry, type, "
            "dealtype, …) the legacy values that are neither an option nor in a value map; off, those values are "
            "held back (staging.push_held_values) and listed in the report and the review page.",
        ),
        "link_probable": Param(
            False,
            type="boolean",
            title="Link probable twins",
            description="When on, push writes the legacy id onto each probable twin at or above min_confidence "
            "(with its differences), so that the two stay linked; off, probable twins wait for review.",
        ),
        "require_approval": Param(
            True,
            type="boolean",
            title="Require approval of a big push",
            description="When on, a live push that would create or overwrite more than approval_min_records "
            "records, or an object's first live push, waits in approve_push for a person to approve it in the UI. "
            "Off for a trusted automated run (its log says the gate was skipped).",
        ),
        "when_busy": Param(
            "wait",
            type="string",
            enum=["wait", "fail"],
            title="When another run holds the object",
            description="One run of an object at a time, from load_bronze to report. wait: this run's steps wait "
            "(rescheduled every 30 s, no worker slot held) until the other run's report frees the object; fail: "
            "this run fails at once, naming the run that holds it.",
        ),
        "allow_snapshot_drop": Param(
            False,
            type="boolean",
            title="Allow a shrinking snapshot",
            description="When on, load_bronze replaces the previous snapshot even when the new one drops more "
            "than max_drop_rate (include/config/objects.yaml) of its live records; leave off for the nightly run.",
        ),
        "allow_missing_columns": Param(
            False,
            type="boolean",
            title="Allow mapped columns to vanish",
            description="When on, load_bronze replaces the previous snapshot even when the new file's header lacks "
            "mapped columns the previous snapshot held values in (their properties become empty); leave off for the "
            "nightly run.",
        ),
    }


def run_param_defaults() -> dict[str, Any]:
    """Each run param's default: what a step run outside a DAG reads."""
    return {name: param.value for name, param in run_params().items()}


def revert_params(objects: Iterable[str]) -> dict[str, Param]:
    """The trigger form of crm_revert: which push run of which object to undo."""
    return {
        "object_type": Param("companies", type="string", enum=list(objects), title="Object type"),
        "run_id": Param(
            "", type="string", minLength=1, title="Push run to undo", description="The DAG run id of the push."
        ),
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description="Read HubSpot and record what would be restored or skipped; send nothing.",
        ),
        "archive_created": Param(
            False, type="boolean", title="Archive created records", description="Also archive what the run created."
        ),
    }


def flag(value: bool | str) -> bool:
    """A boolean run param as a task holds it: a bool, or its text when rendered from ``{{ params.x }}``."""
    return value in (True, "True", "true")


def check_run_conf(conf: Mapping[str, Any] | None, known: Iterable[str]) -> None:
    """Refuse a run conf key the DAG has no param for: Airflow would keep it and run on the
    default (``{"dryrun": true}`` would push live), so a typo fails the run, naming the param meant."""
    from crm_reconciliation.config.errors import ConfigurationError

    known = sorted(known)
    unknown = sorted(set(conf or {}) - set(known))
    if not unknown:
        return
    named = []
    for key in unknown:
        close = get_close_matches(key, known, n=1, cutoff=0.6)
        named.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    raise ConfigurationError(
        f"unknown run parameter{'s' if len(unknown) > 1 else ''} {', '.join(named)}; this DAG takes: {', '.join(known)}"
    )
