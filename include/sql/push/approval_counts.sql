{#- reads: staging.mirror_checks, staging.push_log / creates: nothing

    What a live push would write, for the approval gate: records overwritten, records created,
    probable twins linked for good, whether this object was ever pushed live before, and what
    the mirror guard found (reconcile/mirror_links.sql) with the creations it holds until a
    person approves. -#}
{%- from "push/macros.sql" import guarded_creations -%}
{% include "push/plan.sql" %}

with overwrites as (
{% include "push/select.sql" %}
),

creations as (
{% include "push/select_create.sql" %}
),

final as (
    select
        {{ guarded_creations(params.object) }} as guarded_creations,
        (
            select to_jsonb(checks) - 'object_type' - 'run_id' - 'checked_at'
            from staging.mirror_checks as checks
            where checks.object_type = %(object_type)s and checks.run_id = %(run_id)s
        ) as mirror_guard,
        (select count(*) from overwrites) as overwrites,
        (select count(*) from creations where %(create_missing)s) as creations,
        (select count(*) from overwrites where overwrites.properties ? %(id_property)s) as links,
        exists (
            select 1 from staging.push_log as ledger
            where ledger.object_type = %(object_type)s and ledger.outcome = 'sent'
        ) as pushed_before
)

select to_jsonb(final) from final
