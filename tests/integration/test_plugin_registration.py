"""One registration: every Airflow process loads the plugin (report and review pages) and the provider
(connection types) once, and says nothing about it ("Plugin 'crm_reconciliation' already registered,
skipping" was printed by every process of ``make airflow``).

Airflow registers the plugin classes of its plugins folder's files, then the ``airflow.plugins`` entry
points of the installed distributions. ``plugins/crm_reconciliation_plugin.py`` offers the plugin only
where no installed distribution declares it, so that exactly one of the two registers it:

- ``make airflow`` (and this test session): the package installed (editable) with its entry points
  and ``plugins/`` as the plugins folder: the entry point registers it;
- the Astro-style layout: the package not installed, a project folder (the Airflow home) holding
  ``dags/``, ``plugins/`` and ``include/``, nothing on PYTHONPATH: ``plugins/crm_reconciliation_plugin.py``
  registers it.

The installed wheel, with and without such a plugins folder, is checked in test_install.py. Each
command runs in a process group of its own, killed whole past its time limit (``run_command``).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import sys
import tomllib
from pathlib import Path

import pytest

from crm_reconciliation_dev import local_env
from tests.conftest import SESSION_ENV
from tests.helpers import run_command, ui_environment
from tests.integration.registrations import (
    ENTRY_POINT,
    PLUGIN,
    STUB_SOURCE,
    entry_point_source,
    registered,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
COMMAND_SECONDS = 120
# ``make airflow`` starts its own database; listing plugins and providers never connects to it.
UNUSED_DATABASE = "postgresql://nobody@127.0.0.1:1/none"
ASTRO_PROJECT = ("dags", "plugins", "include/sql", "include/config", "include/report", "include/review")


def copy_project(target: Path) -> Path:
    """An Astro-style project: the checkout's dags/, plugins/ and the include/ the package reads."""
    for part in ASTRO_PROJECT:
        shutil.copytree(ROOT / part, target / part, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def make_airflow(environment: dict[str, str], cwd: Path):
    """Airflow commands with this checkout's venv and ``environment`` (as ``make airflow`` sets it)."""

    def airflow(*arguments: str):
        command = [sys.executable, "-m", "airflow", *arguments]
        return run_command(command, COMMAND_SECONDS, env=environment, cwd=cwd)

    return airflow


def make_airflow_environment(airflow_home: Path, plugins_folder: Path | None = None) -> dict[str, str]:
    """The environment ``make airflow`` gives Airflow (local_env, as dev/…/standalone.py builds it)."""
    environment = local_env.airflow_environment(airflow_home, UNUSED_DATABASE)
    if plugins_folder is not None:
        environment["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(plugins_folder)
    return ui_environment(environment)


def test_the_stub_knows_the_entry_point_pyproject_declares():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["entry-points"]
    assert declared["airflow.plugins"] == {PLUGIN: ENTRY_POINT}
    spec = importlib.util.spec_from_file_location("stub_under_test", ROOT / "plugins" / "crm_reconciliation_plugin.py")
    stub = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(stub)
    group, module, attr = stub.ENTRY_POINT
    assert (group, f"{module}:{attr}") == ("airflow.plugins", ENTRY_POINT)
    # This session runs where make install put the package, entry points included: the stub steps aside.
    assert stub.declared_by_an_installed_distribution()
    assert not hasattr(stub, "CrmReconciliationPlugin")


def test_make_airflow_registers_the_plugin_and_the_provider_once(tmp_path):
    loaded = registered(make_airflow(make_airflow_environment(tmp_path / "airflow_home"), tmp_path))
    assert loaded.trouble() == []
    # The editable install's metadata carries the version it was installed at.
    assert [plugin["source"] for plugin in loaded.ours()] == [
        entry_point_source(importlib.metadata.version("crm-reconciliation"))
    ]
    assert len(loaded.our_providers()) == 1


def test_a_second_registration_would_be_seen(tmp_path):
    """The check above can fail: a plugins-folder file offering the plugin next to the entry point
    (what plugins/crm_reconciliation_plugin.py did) makes Airflow say so."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crm_reconciliation_plugin.py").write_text(
        "from crm_reconciliation.plugin import CrmReconciliationPlugin  # noqa: F401\n", encoding="utf-8"
    )
    loaded = registered(make_airflow(make_airflow_environment(tmp_path / "airflow_home", plugins), tmp_path))
    assert [plugin["source"] for plugin in loaded.ours()] == [STUB_SOURCE]
    assert [line for line in loaded.trouble() if f"Plugin '{PLUGIN}' already registered" in line], loaded.output


class AstroProject:
    """A virtual environment with the requirements only (the package not installed) and a project
    folder that is the Airflow home, as in an Astro image (dags/, plugins/, include/ inside it)."""

    def __init__(self, root: Path):
        self.root, self.venv, self.home = root, root / "venv", root / "project"

    def env(self) -> dict[str, str]:
        """A clean environment: no PYTHONPATH, no plugins or DAG folder setting (Airflow's defaults
        under AIRFLOW_HOME), nothing of this checkout but this session's mark."""
        return {
            SESSION_ENV: os.environ[SESSION_ENV],
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "HOME": str(self.root),
            "LC_ALL": "C.UTF-8",
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }

    def run(self, name: str, *arguments: str):
        return run_command([str(self.venv / "bin" / name), *arguments], COMMAND_SECONDS, env=self.env(), cwd=self.home)

    def airflow(self, *arguments: str):
        return self.run("airflow", *arguments)


@pytest.fixture(scope="module")
def astro(tmp_path_factory) -> AstroProject:
    assert UV.exists(), f"{UV} is missing: `make install` puts uv in the venv"
    project = AstroProject(tmp_path_factory.mktemp("astro"))
    copy_project(project.home)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "CRM_RECON_HOME")}
    created = run_command([str(UV), "venv", "--python", sys.executable, str(project.venv)], 60, env=env)
    assert created.returncode == 0, created.stderr
    install = [str(UV), "pip", "install", "--python", str(project.venv / "bin" / "python")]
    install += ["-r", str(ROOT / "requirements.txt")]
    install += ["-c", str(ROOT / "constraints.txt"), "--overrides", str(ROOT / "overrides.txt")]
    done = run_command(install, 600, env=env, cwd=project.root)
    assert done.returncode == 0, done.stderr
    return project


def test_the_astro_layout_registers_the_plugin_once_from_the_plugins_folder(astro):
    found = astro.run("python", "-c", "import importlib.util as u; print(u.find_spec('crm_reconciliation'))")
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "None"  # not installed: Airflow puts its plugins folder on the path itself
    loaded = registered(astro.airflow)
    assert loaded.trouble() == []
    [plugin] = loaded.ours()
    assert plugin["source"] == STUB_SOURCE
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/crm-reports", "/crm-review"]
    # The provider (connection types and their forms) comes with an installed distribution only.
    assert loaded.our_providers() == []
