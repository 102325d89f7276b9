-- reads: staging.reconciliation_log / creates: nothing
-- The steps of one run as its report lists them (also read alone: the report of a run that never
-- held its object shows these and nothing of the tables).
select coalesce(jsonb_agg(jsonb_build_object(
    'step', step,
    'outcome', outcome,
    'message', message,
    'finished_at', to_char(finished_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS "UTC"'),
    'seconds', round(extract(epoch from finished_at - started_at)::numeric, 1)
) order by started_at, step), '[]'::jsonb)
from staging.reconciliation_log
where object_type = %(object_type)s and run_id = %(run_id)s
