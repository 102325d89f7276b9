"""Where the project's files live: a checkout, the production image and an installed wheel alike.

``include/`` (SQL, registry, report and review templates) is a sibling of ``plugins/`` in a
checkout and in the Astro-style image; an installed wheel carries its own copy inside the
package. ``CRM_RECON_HOME`` names the root holding ``include/`` for other layouts.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]


def _project_root() -> Path:
    if os.environ.get("CRM_RECON_HOME"):
        return Path(os.environ["CRM_RECON_HOME"]).resolve()
    checkout = PACKAGE_DIR.parents[1]
    return checkout if (checkout / "include" / "sql").is_dir() else PACKAGE_DIR


PROJECT_ROOT = _project_root()
INCLUDE_DIR = PROJECT_ROOT / "include"
SQL_DIR = INCLUDE_DIR / "sql"
REGISTRY_PATH = INCLUDE_DIR / "config" / "objects.yaml"
DEFAULT_BRONZE_DIR = "include/bronze_layer/"


def resolve_project_path(path: str | os.PathLike[str]) -> Path:
    """Resolve a user-given path: absolute as is, relative to the project root otherwise."""
    candidate = Path(path).expanduser()
    return candidate if candidate.is_absolute() else PROJECT_ROOT / candidate


# The warehouse connection (PostgreSQL holding the mirror, bronze and staging): every DAG, hook
# and page uses this one id.
CONN_ID = "hubspot_postgres"
