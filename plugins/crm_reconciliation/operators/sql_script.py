"""Run one templated SQL script of ``include/sql`` as a pipeline step."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator


class SqlScriptOperator(ObjectStepOperator):
    """Execute a rendered multi-statement script in one transaction and log the step.

    The script is rendered by Airflow (``template_ext``), so the exact SQL is visible in the
    UI's Rendered Template tab and with ``airflow tasks render``. Values are bound, never
    rendered: ``parameters`` plus ``run_id``. ``sql`` may list several files, run in order in
    the same transaction. A script ending with a SELECT of one JSON object (its summary) has
    it logged, kept in ``staging.reconciliation_log`` and returned; a failure is logged there too.
    """

    template_fields: Sequence[str] = ("sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql"}
    ui_color = "#cdeafe"

    def __init__(
        self,
        *,
        sql: str | list[str],
        object_type: str,
        parameters: dict[str, Any] | None = None,
        conn_id: str = CONN_ID,
        **kwargs: Any,
    ):
        super().__init__(object_type=object_type, conn_id=conn_id, **kwargs)
        self.sql = sql
        self.parameters = parameters or {}

    def execute_step(self, context: Any, step: Any) -> Any:
        from crm_reconciliation.hooks.warehouse import WarehouseError

        try:
            summary = self.warehouse.run_script(
                self.sql, {**self.parameters, "run_id": context["run_id"]}, lock=self.object_type
            )
        except WarehouseError as error:
            hint = error.diag.message_hint
            self.log.error(
                "%s failed: %s%s", self.task_id, error.diag.message_primary or error, f" — {hint}" if hint else ""
            )
            raise
        step.record(details=summary if isinstance(summary, dict) else None)
        self.log.info("%s done for %s%s", self.task_id, self.object_type, f": {summary}" if summary else "")
        return summary
