"""The reports app: ``/crm-reports/<dag id>/<run id>`` serves that run's report (``latest`` for
the object's latest), behind Airflow's authentication and DAG-run read permission.

Reports are pages a run's ``report`` task stores in the warehouse (``staging.reports``) when the
run ends, on whichever worker it ran: every api-server serves them, none reads a disk. Before the
first one ``latest`` answers a page saying there is none yet and which DAG to trigger (not an
error: it is where a new user lands); a run without a report, or a DAG that is not an object's,
answers a 404 page saying which.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoint's return annotation, a
# class local to ``create_app``.
from html import escape

from crm_reconciliation.config.paths import CONN_ID

NOTHING_YET = (
    "No report for {object} yet: the DAG {dag_id} has not finished a run. "
    "Trigger {dag_id} in Airflow; its report task writes the report shown here when the run ends."
)
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #1d2433; max-width: 50em; }}
h1 {{ font-size: 1.3em; }}
.message {{ padding: .6em .9em; border-radius: 4px; background: #eef3fb; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p id="message" class="message" role="status">{message}</p>
{more}
</body>
</html>
"""


def message_page(title: str, message: str, more: str = "") -> str:
    """A small page of its own (the report's styles live in its template): escaped, offline."""
    return PAGE.format(title=escape(title), message=escape(message), more=more)


def create_app():
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import requires_access_dag
    from fastapi import Depends, FastAPI
    from fastapi.responses import HTMLResponse, Response

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.hooks.warehouse import WarehouseHook
    from crm_reconciliation.report.render import LATEST, read_report

    app = FastAPI(title="CRM reconciliation reports")

    @app.get("/{dag_id}/{run_id}", dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))])
    def report(dag_id: str, run_id: str) -> Response:
        objects = default_registry().objects.values()
        spec = next((spec for spec in objects if spec.dag_id == dag_id), None)
        if spec is None:
            known = ", ".join(spec.dag_id for spec in objects)
            message = f"{dag_id} is not a reconciliation DAG: the reports are those of {known}."
            return HTMLResponse(message_page("Reconciliation reports", message), status_code=404)
        page, has_latest = read_report(WarehouseHook(postgres_conn_id=CONN_ID), spec.name, run_id)
        if page is not None:
            return HTMLResponse(page)
        title = f"Reconciliation report of {spec.name}"
        if has_latest:
            nothing_yet, more = "", '<p><a id="latest" href="latest">The latest report</a></p>'
        else:
            nothing_yet = NOTHING_YET.format(object=spec.name, dag_id=dag_id)
            # Relative, so that it holds under a base URL with a path too: /crm-reports/<dag>/<run> → /dags/<dag>.
            more = f'<p><a id="open-dag" href="../../dags/{escape(dag_id)}">Open {escape(dag_id)} in Airflow</a></p>'
        if run_id == LATEST:
            return HTMLResponse(message_page(title, nothing_yet, more))
        missing = (
            f"No report for run {run_id} of {dag_id}: its report task has not written one "
            f"(the run has not ended yet, or is not a run of {dag_id})."
        )
        return HTMLResponse(message_page(title, f"{missing} {nothing_yet}".rstrip(), more), status_code=404)

    return app
