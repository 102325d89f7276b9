{#- reads: nothing / creates: nothing / updates: staging.push_log, staging.push_associations,
    staging.<object>_reconciliation

    A dry run records every payload it would send (outcome 'dry_run'): updates, creations when
    the run asks for them (create_missing), and associations; it sends nothing. Re-running the
    same run replaces its records. -#}
{%- set o = params.object -%}
delete from staging.push_log
where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run';

delete from staging.push_associations
where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run';

insert into staging.push_log (
    object_type, run_id, target, legacy_id, hubspot_id, properties, payload_hash, outcome, action, api_object
)
select %(object_type)s, %(run_id)s, %(target)s, selected.legacy_id, selected.hubspot_id, selected.properties,
    selected.payload_hash, 'dry_run', 'update', selected.api_object
from (
{% include "push/select.sql" %}
) as selected;

insert into staging.push_log (
    object_type, run_id, target, legacy_id, hubspot_id, properties, payload_hash, outcome, action, api_object
)
select %(object_type)s, %(run_id)s, %(target)s, selected.legacy_id, null, selected.properties,
    selected.payload_hash, 'dry_run', 'create', selected.api_object
from (
{% include "push/select_create.sql" %}
) as selected
where %(create_missing)s;

{% if present %}
insert into staging.push_associations (
    object_type, run_id, legacy_id, property, from_object, from_id, to_object, to_id, type_ids, outcome
)
select %(object_type)s, %(run_id)s, selected.legacy_id, selected.property, selected.from_object, selected.from_id,
    selected.to_object, selected.to_id, selected.type_ids, 'dry_run'
from (
{% include "push/associations.sql" %}
) as selected;
{% endif %}

update staging.{{ o.staging_table }} as reconciliation
set push_status = 'dry_run'
where reconciliation.{{ o.legacy_key }} in (
    select ledger.legacy_id from staging.push_log as ledger
    where ledger.object_type = %(object_type)s and ledger.run_id = %(run_id)s and ledger.outcome = 'dry_run'
);

select jsonb_build_object(
    'dry_run', (
        select count(*) from staging.push_log
        where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run' and action = 'update'
    ),
    'dry_run_creations', (
        select count(*) from staging.push_log
        where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run' and action = 'create'
    ),
    'dry_run_associations', (
        select count(*) from staging.push_associations
        where object_type = %(object_type)s and run_id = %(run_id)s and outcome = 'dry_run'
    )
) as summary
