"""Load one object's legacy CSV export into its bronze table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from crm_reconciliation.config.paths import CONN_ID
from crm_reconciliation.operators.base import ObjectStepOperator

# Every template the loader runs (include/sql/load/), shown as the step's Rendered Template, in
# the order BronzeLoader runs them: a file COPY reads (replace_rows to number_lines) or one read
# record by record (replace_rows, copy_records, copy_parse_rejects), then the flags and rejects;
# save_rejects, forget_rejects and restore_rejects when the snapshot is refused, apply_flags when
# it is not.
LOAD_TEMPLATES = (
    "source_settings",
    "parse_rejects",
    "previous_live",
    "replace_rows",
    "first_line",
    "copy_file",
    "copy_totals",
    "number_lines",
    "copy_records",
    "copy_parse_rejects",
    "flag_records",
    "record_rejects",
    "count_records",
    "save_rejects",
    "apply_flags",
    "forget_rejects",
    "restore_rejects",
)


class BronzeLoadOperator(ObjectStepOperator):
    """Stream ``Bronze_<Table>.csv`` into ``bronze.<table>`` with COPY, rejects kept aside.

    For a run whose logical date is D, ``<bronze_dir>/D/`` is read when it exists; ``bronze_dir``
    is a local folder or an object-storage URL (``s3://<connection id>@bucket/prefix``). A snapshot
    with too many rejects, one that drops more than ``max_drop_rate`` of the live records
    (unless ``allow_snapshot_drop``), or one whose header lacks mapped columns the previous
    snapshot held values in (unless ``allow_missing_columns``) is refused and the previous one kept.

    :param object_type: the registry object loaded.
    :param bronze_dir: folder or object-storage URL of the exports (unset: the run's param of that name, as
        are the next three).
    :param limit: load only the first N legacy rows.
    :param allow_snapshot_drop: accept a snapshot that drops more than ``max_drop_rate``.
    :param allow_missing_columns: accept a header that lacks mapped columns.
    :param max_reject_rate: share of rejected rows that refuses the snapshot (default: the registry's).
    :param conn_id: the warehouse connection.
    """

    template_fields: Sequence[str] = ("bronze_dir", "limit", "allow_snapshot_drop", "allow_missing_columns", "sql")
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "json"}
    ui_color = "#fde9c8"

    def __init__(
        self,
        *,
        object_type: str,
        bronze_dir: str | None = None,
        limit: int | str | None = None,
        allow_snapshot_drop: bool | str | None = None,
        allow_missing_columns: bool | str | None = None,
        max_reject_rate: float | None = None,
        conn_id: str = CONN_ID,
        **kwargs: Any,
    ):
        super().__init__(object_type=object_type, conn_id=conn_id, **kwargs)
        self.bronze_dir = bronze_dir
        self.limit = limit
        self.allow_snapshot_drop = allow_snapshot_drop
        self.allow_missing_columns = allow_missing_columns
        self.max_reject_rate = max_reject_rate
        self.sql = {name: f"load/{name}.sql" for name in LOAD_TEMPLATES}

    def template_context(self) -> dict[str, Any]:
        """The loader renders these templates for each file's header and dialect; the Rendered
        Template shows them for a UTF-8, comma-separated file with the registry's columns."""
        from crm_reconciliation.load.loader import expected_layout

        return {
            "object": self.spec.template_params(),
            "layout": expected_layout(self.spec),
            "delimiter": ",",
            "encoding": "UTF8",
        }

    def execute_step(self, context: Any, step: Any) -> dict[str, Any]:
        from crm_reconciliation.config.errors import NotRetryable
        from crm_reconciliation.load.dialect import BronzeFileError
        from crm_reconciliation.load.loader import MissingColumnsRefused, SnapshotRefused
        from crm_reconciliation.load.snapshots import choose_snapshot

        run_date = (context.get("logical_date") or context["dag_run"].run_after).date()
        try:
            # A local folder or an object-storage URL (s3://<connection id>@bucket/prefix, file:///…).
            snapshot = choose_snapshot(self.run_param(context, "bronze_dir"), run_date)
            path = snapshot.file(self.spec.csv_file)
            step.record(snapshot_date=snapshot.snapshot_date, source=str(path))
            self.log.info("%s", snapshot.describe())
            result = self._load(context, path, snapshot.snapshot_date)
        except (BronzeFileError, SnapshotRefused) as error:
            if isinstance(error, MissingColumnsRefused):
                step.record(details=error.as_details())  # for the report of the failed run
            if getattr(error, "retryable", False):
                raise
            raise NotRetryable(str(error)) from error  # same file, same result: fails without retry
        step.record(**result.counts, details=result.as_details())
        self.log.info("%s", result.summary(self.spec.bronze_table))
        summary = {"source_file": str(path), "snapshot_date": snapshot.snapshot_date.isoformat()}
        return {**result.counts, **summary, "method": result.method, "seconds": result.seconds}

    def _load(self, context: Any, path: Any, snapshot_date: Any) -> Any:
        """The bronze load of ``path`` under this run's params and the registry's thresholds."""
        from crm_reconciliation.config.params import flag
        from crm_reconciliation.load.loader import BronzeLoader

        max_reject_rate = self.max_reject_rate
        if max_reject_rate is None:
            max_reject_rate = self.registry.defaults.max_reject_rate
        return BronzeLoader(self.warehouse, self.spec).load(
            path,
            snapshot_date=snapshot_date,
            run_id=context["run_id"],
            limit=self.run_param(context, "limit"),
            max_reject_rate=max_reject_rate,
            max_drop_rate=self._max_drop_rate(flag(self.run_param(context, "allow_snapshot_drop"))),
            allow_missing_columns=flag(self.run_param(context, "allow_missing_columns")),
        )

    def _max_drop_rate(self, allow_snapshot_drop: bool) -> float | None:
        """The registry's max_drop_rate, or None (no limit) when ``allow_snapshot_drop`` is on."""
        max_drop_rate = self.registry.defaults.max_drop_rate
        if not allow_snapshot_drop:
            return max_drop_rate
        self.log.warning(
            "allow_snapshot_drop is on: this snapshot replaces the previous one even if it drops more "
            "than %.0f%% of its live records",
            max_drop_rate * 100,
        )
        return None
