"""Where the project's files live, in a checkout and in the production image alike.

The package sits in ``<root>/plugins/crm_reconciliation``; ``include/`` is a sibling of
``plugins/``. ``CRM_RECON_HOME`` overrides the root for unusual layouts.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = Path(os.environ.get("CRM_RECON_HOME") or PACKAGE_DIR.parents[1]).resolve()
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
REGISTRY_PATH = INCLUDE_DIR / "config" / "objects.yaml"
DEFAULT_BRONZE_DIR = "include/bronze_layer/"


def resolve_project_path(path: str | os.PathLike[str]) -> Path:
    """Resolve a user-given path: absolute as is, relative to the project root otherwise."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate
