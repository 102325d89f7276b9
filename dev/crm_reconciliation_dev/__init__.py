"""Development tooling of crm-reconciliation: never imported by the product package.

The demo, the local UI runner, the embedded PostgreSQL helper, the HubSpot stand-in, the
sample-data generator and the benchmarks. They work from a checkout (``PROJECT_ROOT``).
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
