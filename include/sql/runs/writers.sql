-- reads: staging.reconciliation_log / creates: nothing
-- The run whose success is the latest of each step that writes the object's tables: the run
-- those tables belong to now.
select coalesce(json_object_agg(step, run_id), '{}'::json)
from (
    select distinct on (step) step, run_id
    from staging.reconciliation_log
    where object_type = %(object_type)s and step = any(%(steps)s) and outcome = 'success'
    order by step, finished_at desc
) as latest
