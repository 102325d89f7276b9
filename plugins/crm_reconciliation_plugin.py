"""Airflow plugin: each run's reconciliation report and the review page in the Airflow UI.

``/crm-reports/<dag id>/<run id>`` serves the report of that run (``latest`` for the newest),
behind Airflow's own authentication and DAG-run read permission; the ``report`` task of every
object DAG links to it ("Reconciliation report"). ``/crm-review/`` (an entry "CRM review" in the
navigation) is the review queue, where a verdict is recorded under the logged-in user's name.
"""

from __future__ import annotations

import re
from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from crm_reconciliation.operators.report import ReportLink
from crm_reconciliation.review_app import create_app as create_review_app

_OBJECT = re.compile(r"^crm_reconcile_([a-z0-9_]+)$")


def _reports_app():
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


class CrmReconciliationPlugin(AirflowPlugin):
    name = "crm_reconciliation"
    fastapi_apps: ClassVar[list] = [
        {"app": _reports_app(), "url_prefix": "/crm-reports", "name": "CRM reconciliation reports"},
        {"app": create_review_app(), "url_prefix": "/crm-review", "name": "CRM review"},
    ]
    # An entry in Airflow's navigation opening the review page inside the UI.
    external_views: ClassVar[list] = [
        {
            "name": "CRM review",
            "href": "/crm-review/",
            "destination": "nav",
            "url_route": "crm-review",
            "nav_top_level": True,
        }
    ]
    operator_extra_links: ClassVar[list] = [ReportLink()]
