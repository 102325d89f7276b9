"""Commands users run: ``mappings`` (the property mappings per object), ``render`` (a step's SQL as
Airflow renders it), ``revert`` (undo one push run, as DAG ``crm_revert`` does, with the
connections of this environment). The demo and the local UI are development commands
(``python -m crm_reconciliation_dev``)."""

from __future__ import annotations

import argparse
import json
import logging

from crm_reconciliation import __version__

OBJECTS = ["companies", "contacts", "deals", "communications"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_reconciliation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    mappings = commands.add_parser("mappings", help="print the legacy → HubSpot property mappings")
    mappings.add_argument("objects", nargs="*", help="object types (default: all)")
    render_step = commands.add_parser("render", help="print the SQL of a step for an object, rendered")
    render_step.add_argument("object")
    render_step.add_argument("template", help="e.g. reconcile/reconcile.sql, score/score.sql, ddl/staging_table.sql")
    revert = commands.add_parser("revert", help="undo one push run of one object (a dry run unless --live)")
    revert.add_argument("object", choices=OBJECTS)
    revert.add_argument("run_id", help="the DAG run id of the push to undo")
    revert.add_argument("--live", action="store_true", help="send the restores (default: record the plan only)")
    revert.add_argument("--archive-created", action="store_true", help="also archive the records the run created")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "mappings":
        from crm_reconciliation.config.registry import default_registry

        print(mapping_table(default_registry(), args.objects or None))
        return 0
    if args.command == "render":
        from crm_reconciliation.common.sql_templates import render
        from crm_reconciliation.config.registry import default_registry

        registry = default_registry()
        print(render(args.template, params={"object": registry.template_params(args.object)}))
        return 0
    return run_revert(args.object, args.run_id, live=args.live, archive_created=args.archive_created)


def run_revert(object_type: str, run_id: str, live: bool, archive_created: bool) -> int:
    """The crm_revert task, run here: the same ledger, limiter and never-twice rules."""
    from datetime import UTC, datetime

    from crm_reconciliation.operators.revert import RevertOperator

    stamp = datetime.now(UTC)
    operator = RevertOperator(
        task_id="revert",
        object_type=object_type,
        revert_run_id=run_id,
        dry_run=not live,
        archive_created=archive_created,
    )
    summary = operator.execute({"run_id": f"cli_revert__{stamp:%Y-%m-%dT%H:%M:%S.%f}", "logical_date": stamp})
    print(json.dumps(summary, indent=2, default=str))
    return 0


def mapping_table(registry, objects: list[str] | None = None) -> str:
    """The mappings of each object as an aligned text table (what users printed in the old design)."""
    lines = []
    for name in objects or list(registry.objects):
        spec = registry.get(name)
        lines.append(
            f"{name}: {spec.legacy_table}.{spec.legacy_id_column} → hubspot.{spec.hubspot_table}"
            f".{spec.legacy_id_property} ({len(spec.mappings)} mappings)"
        )
        lines.append(f"  {'legacy column':<24}{'HubSpot property':<24}{'transform':<13}{'required':<10}writable")
        for mapping in spec.mappings:
            lines.append(
                f"  {mapping.source:<24}{mapping.property:<24}{mapping.transform:<13}"
                f"{'yes' if mapping.required else '':<10}{'yes' if mapping.writable else 'no (read only)'}"
            )
        lines.append("")
    total = sum(len(registry.get(name).mappings) for name in objects or registry.objects)
    lines.append(f"{total} mappings")
    return "\n".join(lines)
