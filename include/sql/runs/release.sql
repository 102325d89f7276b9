-- reads: staging.object_runs / creates: nothing (frees the object when this run holds it)
delete from staging.object_runs
where object_type = %(object_type)s and run_id = %(run_id)s
