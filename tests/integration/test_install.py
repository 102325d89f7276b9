"""The package as users install it: ``uv pip install <checkout>`` (a built wheel, not editable) into
a fresh virtual environment, then its commands and Airflow's view of it, run from an unrelated
directory with a clean environment (no PYTHONPATH, no CRM_RECON_HOME): what works there reads the
SQL, registry and templates the wheel carries."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crm_reconciliation import __version__
from crm_reconciliation.cli import mapping_table
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.conftest import SESSION_ENV
from tests.helpers import run_command
from tests.integration.registrations import entry_point_source, registered

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")


class Installed:
    def __init__(self, root: Path):
        self.root, self.venv = root, root / "venv"
        self.seconds = 0.0

    def env(self, **variables: str) -> dict[str, str]:
        """A clean environment: the venv's commands first, nothing of this checkout or this session
        but its mark (by which the session finds any process left behind)."""
        return {
            SESSION_ENV: os.environ[SESSION_ENV],
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(self.root),
            "LC_ALL": "C.UTF-8",
            "AIRFLOW_HOME": str(self.root / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            **variables,
        }

    def run(self, name: str, *arguments: str, **variables: str) -> subprocess.CompletedProcess:
        """The venv's command ``name``, from the unrelated directory."""
        command = [str(self.venv / "bin" / name), *arguments]
        return run_command(command, timeout=120, env=self.env(**variables), cwd=self.root)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Installed:
    assert UV.exists(), f"{UV} is missing: `make install` puts uv in the venv"
    target = Installed(tmp_path_factory.mktemp("install"))
    # uv with this session's environment (its cache), minus what would point it at the checkout.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CRM_RECON_HOME")}
    started = time.monotonic()
    created = run_command([str(UV), "venv", "--python", sys.executable, str(target.venv)], 60, env=env, cwd=target.root)
    assert created.returncode == 0, created.stderr
    python = str(target.venv / "bin" / "python")
    install = [str(UV), "pip", "install", "--python", python, str(ROOT)]
    install += ["-c", str(ROOT / "constraints.txt"), "--overrides", str(ROOT / "overrides.txt")]
    done = run_command(install, 600, env=env, cwd=target.root)
    assert done.returncode == 0, done.stderr
    target.seconds = time.monotonic() - started
    return target


def test_it_installs_as_a_wheel_within_a_minute(installed, record_property):
    record_property("install_seconds", round(installed.seconds, 1))
    assert installed.seconds < 60, f"the install took {installed.seconds:.0f} s"
    located = installed.run(
        "python",
        "-c",
        "import json, importlib.metadata as m; from crm_reconciliation.config import paths; "
        "print(json.dumps({'version': m.version('crm-reconciliation'), 'include': str(paths.INCLUDE_DIR), "
        "'dirs': sorted(p.name for p in paths.INCLUDE_DIR.iterdir())}))",
    )
    assert located.returncode == 0, located.stderr
    found = json.loads(located.stdout)
    assert found["version"] == __version__
    assert Path(found["include"]).is_relative_to(installed.venv)  # the wheel's copy, not this checkout
    assert found["dirs"] == ["config", "report", "review", "sql"]


def test_the_mappings_come_from_the_packaged_registry(installed):
    printed = installed.run("python", "-m", "crm_reconciliation", "mappings")
    assert printed.returncode == 0, printed.stderr
    registry = default_registry()
    assert printed.stdout.rstrip("\n") == mapping_table(registry)
    total = sum(len(spec.mappings) for spec in registry.objects.values())
    assert printed.stdout.rstrip().endswith(f"\n{total} mappings")


def test_the_packaged_sql_renders(installed):
    rendered = installed.run("crm-reconciliation", "render", "companies", "ddl/staging_table.sql")
    assert rendered.returncode == 0, rendered.stderr
    assert "companies_reconciliation" in rendered.stdout


def test_one_version(installed):
    for command in (("python", "-m", "crm_reconciliation"), ("crm-reconciliation",)):
        shown = installed.run(*command, "--version")
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout.split()[-1] == __version__


def test_airflow_knows_both_connection_types_and_their_forms(installed):
    hooks = installed.run("airflow", "providers", "hooks", "-o", "json")
    assert hooks.returncode == 0, hooks.stderr
    listed = {hook["connection_type"]: hook for hook in json.loads(hooks.stdout)}
    assert listed["hubspot_api"]["class"] == "crm_reconciliation.hooks.crm_api.HubSpotApiHook"
    assert listed["workflow_api"]["class"] == "crm_reconciliation.hooks.crm_api.WorkflowApiHook"
    assert {listed[name]["package_name"] for name in ("hubspot_api", "workflow_api")} == {"crm-reconciliation"}
    widgets = installed.run("airflow", "providers", "widgets", "-o", "json")
    assert widgets.returncode == 0, widgets.stderr
    fields = {widget["connection_parameter_name"] for widget in json.loads(widgets.stdout)}
    assert {"extra__hubspot_api__timeout", "extra__workflow_api__workspace_id"} <= fields


@pytest.mark.parametrize("plugins_folder", ["none", "astro-style"])
def test_airflow_registers_the_plugin_and_the_provider_once(installed, plugins_folder, tmp_path):
    """Through the entry points, once and without a word, also with a plugins folder holding
    plugins/crm_reconciliation_plugin.py (an Astro-style project whose image installs the package)."""
    variables = {}
    if plugins_folder == "astro-style":
        shutil.copytree(ROOT / "plugins", tmp_path / "plugins", ignore=shutil.ignore_patterns("__pycache__"))
        variables["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(tmp_path / "plugins")
    loaded = registered(lambda *arguments: installed.run("airflow", *arguments, **variables))
    assert loaded.trouble() == []
    assert [plugin["source"] for plugin in loaded.ours()] == [entry_point_source(__version__)]
    assert [provider["version"] for provider in loaded.our_providers()] == [__version__]


def test_airflow_tests_the_hubspot_connection_against_the_stand_in(installed):
    with FakeCrm() as portal:

        def test(token: str) -> subprocess.CompletedProcess:
            connection = {"conn_type": "hubspot_api", "host": portal.url, "password": token}
            return installed.run(
                "airflow",
                "connections",
                "test",
                "hubspot_api",
                AIRFLOW_CONN_HUBSPOT_API=json.dumps(connection),
                AIRFLOW__CORE__TEST_CONNECTION="Enabled",
            )

        accepted, refused = test(portal.token), test("not-the-token")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "Connection success!" in accepted.stdout
    assert refused.returncode == 1
    assert "Connection failed!" in refused.stdout
    assert "401" in refused.stdout
    assert [(method, path, status) for method, path, _, status in portal.requests] == [
        ("GET", "/crm/properties/2026-09/companies", 200),
        ("GET", "/crm/properties/2026-09/companies", 401),
    ]
