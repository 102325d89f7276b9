{#- A dry run records every payload it would send (outcome 'dry_run') and sends nothing;
    re-running the same run replaces its records. -#}
{%- set o = params.object -%}
delete from staging.push_log
where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run';

insert into staging.push_log (
    object_type, run_id, target, legacy_id, hubspot_id, properties, payload_hash, outcome
)
select %(object_type)s, %(run_id)s, %(target)s, selected.legacy_id, selected.hubspot_id, selected.properties,
    selected.payload_hash, 'dry_run'
from (
{% include "push/select.sql" %}
) as selected;

update staging.{{ o.staging_table }} as reconciliation
set push_status = 'dry_run'
where reconciliation.{{ o.legacy_key }} in (
    select ledger.legacy_id from staging.push_log as ledger
    where ledger.object_type = %(object_type)s and ledger.run_id = %(run_id)s and ledger.outcome = 'dry_run'
);

select jsonb_build_object(
    'dry_run', (
        select count(*) from staging.push_log
        where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run'
    )
) as summary
