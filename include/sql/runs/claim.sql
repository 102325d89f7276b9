-- reads: staging.object_runs / creates: staging.object_runs (the run holding each object)
-- Claims the object for a run, from its first step to its report. Granted when the object is
-- free, already this run's, or held by the run named to be replaced (one that ended without
-- releasing it); an upsert on the object's row, so two runs claiming at once cannot both win.
-- Returns the holder after the attempt: this run when granted.
do $claim$
begin
    if to_regclass('staging.object_runs') is null then
        perform pg_advisory_xact_lock(hashtext('crm_reconciliation.ddl'));
        create schema if not exists staging;
        create table if not exists staging.object_runs (
            object_type text primary key,
            dag_id text not null,
            run_id text not null,
            claimed_at timestamptz not null default clock_timestamp()
        );
    end if;
end
$claim$;

insert into staging.object_runs as held (object_type, dag_id, run_id)
values (%(object_type)s, %(dag_id)s, %(run_id)s)
on conflict (object_type) do update
    set dag_id = excluded.dag_id, run_id = excluded.run_id, claimed_at = clock_timestamp()
    where held.run_id = %(replace)s;

select json_build_object('dag_id', dag_id, 'run_id', run_id, 'claimed_at', claimed_at)
from staging.object_runs
where object_type = %(object_type)s
