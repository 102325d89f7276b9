-- reads: nothing / creates: nothing / updates: staging.reconciliation_log
-- One step of one run in the step log; a re-run of the step overwrites its row.
insert into staging.reconciliation_log (
    object_type, run_id, step, snapshot_date, source, rows_read, rows_loaded, rows_rejected,
    rows_deleted, details, outcome, message, started_at, finished_at
) values (
    %(object_type)s, %(run_id)s, %(step)s, %(snapshot_date)s, %(source)s, %(rows_read)s,
    %(rows_loaded)s, %(rows_rejected)s, %(rows_deleted)s, %(details)s, %(outcome)s, %(message)s,
    %(started_at)s, clock_timestamp()
)
on conflict (object_type, run_id, step) do update set
    snapshot_date = excluded.snapshot_date, source = excluded.source,
    rows_read = excluded.rows_read, rows_loaded = excluded.rows_loaded,
    rows_rejected = excluded.rows_rejected, rows_deleted = excluded.rows_deleted,
    details = excluded.details, outcome = excluded.outcome, message = excluded.message,
    started_at = excluded.started_at, finished_at = excluded.finished_at
