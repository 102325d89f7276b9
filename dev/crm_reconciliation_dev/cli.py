"""Development commands: ``demo`` (the main job on the embedded default), ``ui`` (Airflow
standalone on the embedded database), ``cluster`` (CeleryExecutor: Redis and Celery workers as
local processes), ``sample-data`` (regenerate the bundled sample files)."""

from __future__ import annotations

import argparse
import json
import logging

from crm_reconciliation.cli import OBJECTS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crm_reconciliation_dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="run every object DAG end to end on the sample data")
    demo.add_argument("--objects", nargs="+", default=OBJECTS, choices=OBJECTS)
    demo.add_argument("--conf", type=json.loads, default={}, help="run configuration (JSON), as in the trigger form")
    demo.add_argument("--keep", action="store_true", help="keep the temporary database and AIRFLOW_HOME")
    demo.add_argument(
        "--verbose",
        action="store_true",
        help="stream Airflow's and the tasks' logs here instead of writing them to .build/demo-logs/",
    )
    ui = commands.add_parser("ui", help="airflow standalone on 127.0.0.1:8080 with the embedded database")
    ui.add_argument("--port", type=int, default=8080)
    cluster = commands.add_parser(
        "cluster", help="Redis, PostgreSQL, Airflow's components and Celery workers as local processes"
    )
    cluster.add_argument("--workers", type=int, default=2)
    cluster.add_argument("--concurrency", type=int, default=2, help="task slots per worker")
    commands.add_parser("sample-data", help="regenerate include/bronze_layer and the demo mirror", add_help=False)
    args, rest = parser.parse_known_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.command == "demo":
        from crm_reconciliation_dev.demo import main as demo_main

        return demo_main(args.objects, args.conf, keep=args.keep, verbose=args.verbose)
    if args.command == "ui":
        from crm_reconciliation_dev.standalone import main as ui_main

        return ui_main(args.port)
    if args.command == "cluster":
        from crm_reconciliation_dev.cluster import main as cluster_main

        return cluster_main(args.workers, args.concurrency)
    from crm_reconciliation_dev.sample_data import main as sample_main

    sample_main(rest)
    return 0
