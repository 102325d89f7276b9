{#- reads: staging."_<object>_push_plan", staging.mirror_checks, staging.previous_links / creates:
    nothing / updates: staging.push_held_values

    The values this run holds back (push/plan.sql), recorded for the report and the review
    page: one row per record and property, with the reason and the options the portal allows.
    A rerun of the run replaces its rows. Returns how many, for the push summary, with the
    creations the mirror guard holds. -#}
{%- from "push/macros.sql" import guarded_creations -%}
delete from staging.push_held_values
where object_type = %(object_type)s and run_id = %(run_id)s;

insert into staging.push_held_values (
    object_type, run_id, legacy_id, action, api_object, property, value, reason, allowed
)
select %(object_type)s, %(run_id)s, held.legacy_id, held.action, held.api_object, held.property, held.staged,
    held.reason, held.allowed
from staging."_{{ params.object.name }}_push_plan" as held
where held.kind = 'held'
on conflict (object_type, run_id, legacy_id, api_object, property) do nothing;

select jsonb_build_object(
    'guarded_creations', {{ guarded_creations(params.object) }},
    'held_values', (
        select count(*) from staging.push_held_values
        where object_type = %(object_type)s and run_id = %(run_id)s
    ),
    'held_records', (
        select count(distinct legacy_id) from staging.push_held_values
        where object_type = %(object_type)s and run_id = %(run_id)s
    )
) as summary
