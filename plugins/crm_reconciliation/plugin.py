"""Airflow plugin: each run's reconciliation report and the review page in the Airflow UI.

``/crm-reports/<dag id>/<run id>`` serves the report of that run (``latest`` for the newest),
behind Airflow's own authentication and DAG-run read permission; the ``report`` task of every
object DAG links to it ("Reconciliation report"). ``/crm-review/`` (an entry "CRM review" in the
navigation) is the review queue, where a verdict is recorded under the logged-in user's name.
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

from crm_reconciliation.operators.report import ReportLink
from crm_reconciliation.views.report_page import create_app as create_reports_app
from crm_reconciliation.views.review_page import create_app as create_review_app


class CrmReconciliationPlugin(AirflowPlugin):
    name = "crm_reconciliation"
    fastapi_apps: ClassVar[list] = [
        {"app": create_reports_app(), "url_prefix": "/crm-reports", "name": "CRM reconciliation reports"},
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
