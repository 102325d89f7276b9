"""The review page inside the Airflow UI (``/crm-review/``): the queue of conflicts and probable
twins per object, each item side by side, and a verdict recorded under the logged-in user; and
the values the object's latest push held back because the portal cannot take them
(``GET /api/{dag_id}/held-values``).

Behind Airflow's own authentication (its session cookie or a bearer token) and DAG
permissions: reading needs the DAG-run read permission of the object's DAG, recording the edit
one. Writes resist cross-site requests: they need the ``X-CRM-Review`` header (a cross-site
form cannot send it, a cross-site script cannot without a CORS preflight the server never
grants) and an ``Origin`` (or ``Referer``), when the browser sends one, naming this server.

Before the object's DAG has run (no staging schema, or no table of that object yet) the queue
answers empty with a message naming the DAG to trigger, and an item, the CSV export, a decision
or an import a 404 saying the same: a page, never a server error.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations, which
# name classes local to ``create_app``.
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from crm_reconciliation.config.paths import CONN_ID, INCLUDE_DIR

CSRF_HEADER = "x-crm-review"
# Created with the staging schema by the first task of any object's DAG (ddl/review_tables.sql).
REVIEW_TABLES = ("review_decisions", "review_decision_history")
NOTHING_YET = (
    "Nothing to review for {object} yet: the DAG {dag_id} has not run. "
    "Trigger {dag_id} in Airflow; the conflicts and probable twins of its run then appear here."
)


def create_app() -> Any:
    from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
    from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import HTMLResponse, PlainTextResponse
    from pydantic import BaseModel

    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.review import queue as review

    app = FastAPI(title="CRM review")
    readable = [Depends(requires_access_dag("GET", DagAccessEntity.RUN))]
    writable = [Depends(requires_access_dag("PUT", DagAccessEntity.RUN))]

    def object_of(dag_id: str) -> str:
        registry = default_registry()
        for name, spec in registry.objects.items():
            if spec.dag_id == dag_id:
                return name
        known = ", ".join(spec.dag_id for spec in registry.objects.values())
        raise HTTPException(status_code=404, detail=f"{dag_id} is not a reconciliation DAG (those are: {known})")

    def nothing_yet(object_type: str) -> str | None:
        """Why there is nothing to review, when the object's run has not created the tables the
        review reads; None once it has. Asked of the catalogue first, so that any error of the
        queries themselves stays the error it is."""
        from crm_reconciliation.hooks.warehouse import WarehouseHook

        spec = default_registry().get(object_type)
        needed = [spec.staging_table, *REVIEW_TABLES]
        if WarehouseHook(postgres_conn_id=CONN_ID).existing_tables(needed) == needed:
            return None
        return NOTHING_YET.format(object=object_type, dag_id=spec.dag_id)

    def reviewable(dag_id: str) -> str:
        """The object of ``dag_id`` once its run created its tables; else a 404 naming the DAG to trigger."""
        object_type = object_of(dag_id)
        message = nothing_yet(object_type)
        if message:
            raise HTTPException(status_code=404, detail=message)
        return object_type

    @contextmanager
    def database():
        """One transaction per request: committed when the request's work is done."""
        from crm_reconciliation.hooks.warehouse import WarehouseHook

        with WarehouseHook(postgres_conn_id=CONN_ID).transaction() as session:
            yield session

    def same_site(request: Request) -> None:
        if request.headers.get(CSRF_HEADER) != "1":
            raise HTTPException(status_code=403, detail="a decision is recorded from the review page only")
        origin = request.headers.get("origin") or request.headers.get("referer")
        if origin and urlsplit(origin).netloc != request.headers.get("host"):
            raise HTTPException(status_code=403, detail="a decision cannot come from another site")

    class DecisionBody(BaseModel):
        legacy_id: int
        hubspot_id: str | None = None
        verdict: str
        comment: str | None = None

    @app.get("/", response_class=HTMLResponse)
    def page(user: GetUserDep) -> HTMLResponse:
        html = (INCLUDE_DIR / "review" / "review.html").read_text(encoding="utf-8")
        headers = {"Content-Security-Policy": "frame-ancestors 'self'", "Cache-Control": "no-store"}
        return HTMLResponse(html, headers=headers)

    @app.get("/api/objects")
    def objects(user: GetUserDep) -> dict[str, Any]:
        registry = default_registry()
        listed = [{"name": name, "dag_id": spec.dag_id} for name, spec in registry.objects.items() if spec.matching]
        return {"objects": listed, "reviewer": user.get_name()}

    @app.get("/api/{dag_id}/queue", dependencies=readable)
    def queue(
        dag_id: str, status: str | None = None, search: str | None = None, offset: int = 0, limit: int = 50
    ) -> dict[str, Any]:
        object_type = object_of(dag_id)
        message = nothing_yet(object_type)
        if message:
            return {"total": 0, "rows": [], "nothing_yet": message}
        with database() as session:
            try:
                return review.queue(session, default_registry(), object_type, status, search, offset, limit)
            except review.DecisionRefused as refusal:
                raise HTTPException(status_code=400, detail=str(refusal)) from None

    @app.get("/api/{dag_id}/held-values", dependencies=readable)
    def held_values(dag_id: str) -> dict[str, Any]:
        """The values the object's latest run held back (the portal cannot take them), grouped
        by (api_object, property, value) with how to fix each; nothing when none (or no table yet)."""
        object_type = object_of(dag_id)
        with database() as session:
            return review.held_values(session, default_registry(), object_type)

    @app.get("/api/{dag_id}/items/{legacy_id}", dependencies=readable)
    def item(dag_id: str, legacy_id: int) -> dict[str, Any]:
        object_type = reviewable(dag_id)
        with database() as session:
            found = review.item(session, default_registry(), object_type, legacy_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"no legacy record {legacy_id}")
        return found

    @app.post("/api/{dag_id}/decisions", dependencies=writable)
    def decide(dag_id: str, body: DecisionBody, request: Request, user: GetUserDep) -> dict[str, Any]:
        same_site(request)
        object_type = reviewable(dag_id)
        decision = review.Decision(body.legacy_id, body.hubspot_id, body.verdict, body.comment)
        with database() as session:
            try:
                decision_id = review.record(session, default_registry(), object_type, decision, user.get_name())
            except review.DecisionRefused as refusal:
                raise HTTPException(status_code=400, detail=str(refusal)) from None
        return {"decision_id": decision_id, "reviewer": user.get_name()}

    @app.get("/api/{dag_id}/export.csv", dependencies=readable)
    def export(dag_id: str, status: str | None = None) -> PlainTextResponse:
        object_type = object_of(dag_id)
        message = nothing_yet(object_type)
        if message:  # opened as a link, not by the page's script: plain text a browser shows
            return PlainTextResponse(message, status_code=404)
        with database() as session:
            text = review.export_csv(session, default_registry(), object_type, status)
        disposition = f'attachment; filename="{dag_id}-review.csv"'
        return PlainTextResponse(text, media_type="text/csv", headers={"Content-Disposition": disposition})

    @app.post("/api/{dag_id}/import", dependencies=writable)
    async def import_(dag_id: str, request: Request, user: GetUserDep) -> Any:
        """A CSV as exported, verdicts filled in (the body, text/csv): all recorded, or none."""
        from starlette.concurrency import run_in_threadpool

        same_site(request)
        try:
            text = (await request.body()).decode("utf-8")
        except UnicodeDecodeError as error:
            raise HTTPException(status_code=400, detail=f"the CSV is not UTF-8: {error}") from None

        def run() -> dict[str, Any]:
            object_type = reviewable(dag_id)
            with database() as session:
                return review.import_csv(session, default_registry(), object_type, text, user.get_name())

        result = await run_in_threadpool(run)
        if result["errors"]:
            raise HTTPException(status_code=400, detail={"message": "; ".join(result["errors"]), **result})
        return result

    return app
