"""What an Airflow process registers of this project, read through Airflow's own commands:
``airflow plugins`` and ``airflow providers list`` (``-v``: with the log lines Airflow prints while it
loads them, which the commands hide otherwise). Shared by the layout tests (test_install.py,
test_plugin_registration.py), with ``printed_warnings``: the warnings an Airflow process printed."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

PLUGIN = "crm_reconciliation"
PROVIDER = "crm-reconciliation"
ENTRY_POINT = "crm_reconciliation.plugin:CrmReconciliationPlugin"
STUB_SOURCE = "$PLUGINS_FOLDER/crm_reconciliation_plugin.py"
# What Airflow logs when it registers a plugin or a provider twice, or fails to load one.
TROUBLE = (
    "already registered",
    "Failed to import plugin",
    "Failed to load plugin",
    "is not a valid plugin",
    "could not be registered",
)

# A warning as an Airflow process prints it: a Python warning (Airflow logs them as
# "[warning  ] <message> [py.warnings] category=DeprecationWarning ...", Python itself as
# "<file>:<line>: UserWarning: <message>"), any log line at level warning (Airflow's structlog
# console format "[warning  ]", the standard library's "WARNING"), or one of TROUBLE.
WARNING_LINE = re.compile(r"[A-Za-z]*Warning\b|\[warning\s*\]|\bWARNING\b|" + "|".join(map(re.escape, TROUBLE)))


def printed_warnings(*outputs: str) -> list[str]:
    """The lines of ``outputs`` (what Airflow commands printed) that are warnings."""
    return [line for output in outputs for line in output.splitlines() if WARNING_LINE.search(line)]


@dataclass(frozen=True)
class Registered:
    plugins: list[dict]  # airflow plugins -o json
    providers: list[dict]  # airflow providers list -o json
    output: str  # all both commands printed, logs included

    def ours(self) -> list[dict]:
        """The registrations of this project's plugin (one expected)."""
        return [plugin for plugin in self.plugins if plugin["name"] == PLUGIN]

    def our_providers(self) -> list[dict]:
        return [provider for provider in self.providers if provider["package_name"] == PROVIDER]

    def trouble(self) -> list[str]:
        """The lines saying a plugin or provider was registered twice or failed to load."""
        return [line for line in self.output.splitlines() if any(words in line for words in TROUBLE)]

    def warnings(self) -> list[str]:
        """Every warning the two commands printed (``trouble`` included)."""
        return printed_warnings(self.output)


def printed_json(result: subprocess.CompletedProcess) -> list[dict]:
    """The JSON list a command printed (its last line starting with ``[``; warnings may come first)."""
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    if "No plugins loaded" in result.stdout:
        return []
    lines = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert lines, result.stdout[-3000:]
    return json.loads(lines[-1])


def registered(airflow: Callable[..., subprocess.CompletedProcess]) -> Registered:
    """``airflow`` runs one Airflow command (its arguments) in the layout under test."""
    plugins = airflow("plugins", "-v", "-o", "json")
    providers = airflow("providers", "list", "-v", "-o", "json")
    output = "\n".join(part for result in (plugins, providers) for part in (result.stdout, result.stderr))
    return Registered(printed_json(plugins), printed_json(providers), output)


def entry_point_source(version: str) -> str:
    """How ``airflow plugins`` names a plugin registered by this package's entry point."""
    return f"{PROVIDER}=={version}: EntryPoint(name='{PLUGIN}', value='{ENTRY_POINT}', group='airflow.plugins')"
