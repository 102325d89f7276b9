"""The plugin for an Astro-style layout: ``plugins/`` is Airflow's plugins folder (and on the path),
the package is not installed.

Airflow registers every plugin class it finds in a plugins-folder file, then every ``airflow.plugins``
entry point of the installed distributions. An installed package (a wheel, the image, ``make
install``'s editable install) declares the same plugin as such an entry point: were this file to
offer it too, every Airflow process would register it twice ("Plugin 'crm_reconciliation' already
registered, skipping", and a plugin import error in the UI). So this file offers the plugin only when
no installed distribution declares it; the entry point is then the one registration.
"""

from __future__ import annotations

from importlib.metadata import Distribution, EntryPoint, distributions

# The entry point pyproject.toml declares (a test checks that the two agree).
ENTRY_POINT = ("airflow.plugins", "crm_reconciliation.plugin", "CrmReconciliationPlugin")


def _entry_points(distribution: Distribution) -> tuple[EntryPoint, ...]:
    try:
        return tuple(distribution.entry_points)
    except Exception:  # unreadable metadata: Airflow skips such a distribution too
        return ()


def declared_by_an_installed_distribution() -> bool:
    """Whether Airflow will load the plugin through an entry point (it reads every distribution)."""
    return any(
        (entry_point.group, entry_point.module, entry_point.attr) == ENTRY_POINT
        for distribution in distributions()
        for entry_point in _entry_points(distribution)
    )


if not declared_by_an_installed_distribution():
    from crm_reconciliation.plugin import CrmReconciliationPlugin

    __all__ = ["CrmReconciliationPlugin"]
