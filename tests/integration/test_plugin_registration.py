"""One registration: every Airflow process loads the plugin (report and review pages) and the provider
(connection types) once, and says nothing about it ("Plugin 'crm_reconciliation' already registered,
skipping" was printed by every process of ``make airflow``), nor prints any other warning.

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

No warning: the commands (``plugins``, ``providers list``, ``dags list``, a task run by ``tasks test``)
print none in either layout. Those every process printed came from the versions installed, and
requirements.txt pins the ones without them: pathspec (Airflow builds a deprecated GitWildMatchPattern
per line of plugins/.airflowignore), svcs (imports Starlette's test client, which asks for httpx2),
graphviz (every ``airflow dags`` command warns without it). The scheduler's and the triggerer's log
server still print uvicorn's "ASGI app factory detected" (Airflow's own call, outside these commands).
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
    printed_json,
    printed_warnings,
    registered,
)

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
UV = Path(sys.executable).with_name("uv")
COMMAND_SECONDS = 120
# ``make airflow`` starts its own database; listing plugins and providers never connects to it.
UNUSED_DATABASE = "postgresql://nobody@127.0.0.1:1/none"
ASTRO_PROJECT = ("dags", "plugins", "include/sql", "include/config", "include/report", "include/review")
SOME_DAGS = {"crm_reconcile_companies", "crm_revert", "crm_staging_maintenance"}
# What Airflow 3.3 commands printed with pathspec 1.1.1, svcs 26.2.0 and no graphviz (see the module's doc).
PRINTED_BEFORE = (
    "2026-12-07T06:26:16.884916Z [warning  ] GitWildMatchPattern ('gitwildmatch') is deprecated. Use 'gitignore'"
    " for GitIgnoreBasicPattern or GitIgnoreSpecPattern instead. [py.warnings] category=DeprecationWarning"
    " filename=/work/main/.venv/lib/python3.11/site-packages/airflow/_shared/module_loading/file_discovery.py",
    "2026-12-07T06:26:18.846851Z [warning  ] Using `httpx` with `starlette.testclient` is deprecated; install"
    " `httpx2` instead. [py.warnings] category=StarletteDeprecationWarning",
    "2026-12-07T06:26:29.284264Z [warning  ] Could not import graphviz. Rendering graph to the graphical format"
    " will not be possible. ",
)


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


def make_airflow_environment(
    airflow_home: Path, plugins_folder: Path | None = None, database: str = UNUSED_DATABASE
) -> dict[str, str]:
    """The environment ``make airflow`` gives Airflow (local_env, as dev/…/standalone.py builds it)."""
    environment = local_env.airflow_environment(airflow_home, database)
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
    assert loaded.warnings() == []
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


def test_the_warnings_once_printed_would_be_seen(tmp_path):
    """The no-warning checks can fail: the lines Airflow printed before the pins are warnings, and so is
    a warning a plugins-folder file raises while Airflow loads it (shown as Airflow shows warnings)."""
    assert printed_warnings("\n".join(PRINTED_BEFORE)) == list(PRINTED_BEFORE)
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "noisy.py").write_text(
        "import warnings\n\nwarnings.warn('a plugins-folder file warns', UserWarning, stacklevel=1)\n",
        encoding="utf-8",
    )
    loaded = registered(make_airflow(make_airflow_environment(tmp_path / "airflow_home", plugins), tmp_path))
    assert [line for line in loaded.warnings() if "a plugins-folder file warns" in line], loaded.output


def run_ok(airflow, *arguments: str) -> str:
    """Run one Airflow command, which must succeed; returns all it printed."""
    result = airflow(*arguments)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def parsed_and_listed(airflow) -> list[str]:
    """The DAGs parsed into a new metadata database (as the DAG processor does), then listed by
    ``airflow dags list`` (which reads that database); returns all the commands printed."""
    printed = [run_ok(airflow, "db", "migrate"), run_ok(airflow, "dags", "reserialize")]
    listed = airflow("dags", "list", "-o", "json")
    assert SOME_DAGS - {dag["dag_id"] for dag in printed_json(listed)} == set()
    return [*printed, listed.stdout, listed.stderr]


def test_make_airflow_commands_and_a_task_print_no_warning(tmp_path, database_uri):
    """``airflow dags reserialize`` (parsing every DAG file), ``dags list`` and a task run by ``tasks
    test`` (create_staging of the companies DAG, on the session's PostgreSQL) in ``make airflow``'s
    environment print no warning."""
    airflow = make_airflow(make_airflow_environment(tmp_path / "airflow_home", database=database_uri), tmp_path)
    printed = parsed_and_listed(airflow)
    task = run_ok(airflow, "tasks", "test", "crm_reconcile_companies", "create_staging")
    assert "new_state=success" in task, task[-3000:]
    assert printed_warnings(*printed, task) == []


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
    assert loaded.warnings() == []
    [plugin] = loaded.ours()
    assert plugin["source"] == STUB_SOURCE
    assert [app["url_prefix"] for app in plugin["fastapi_apps"]] == ["/crm-reports", "/crm-review"]
    # The provider (connection types and their forms) comes with an installed distribution only.
    assert loaded.our_providers() == []


def test_the_astro_layout_parses_and_lists_the_dags_without_a_warning(astro):
    assert printed_warnings(*parsed_and_listed(astro.airflow)) == []
