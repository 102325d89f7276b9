"""The reports app: ``/crm-reports/<dag id>/<run id>`` serves that run's report (``latest`` for
the newest), behind Airflow's authentication and DAG-run read permission."""

from __future__ import annotations

import re

_OBJECT = re.compile(r"^crm_reconcile_([a-z0-9_]+)$")


def create_app():
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException
    from fastapi.responses import FileResponse

    from crm_reconciliation.operators.report import report_file_name, reports_dir

    app = FastAPI(title="CRM reconciliation reports")

    @app.get("/{dag_id}/{run_id}", dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])
    def report(dag_id: str, run_id: str) -> FileResponse:
        match = _OBJECT.match(dag_id)
        name = "latest.html" if run_id == "latest" else report_file_name(run_id)
        path = reports_dir() / match.group(1) / name if match else None
        if path is None or not path.is_file():
            raise HTTPException(status_code=404, detail=f"no report for {dag_id} run {run_id}")
        return FileResponse(path, media_type="text/html")

    return app
