{#- What a live push would write, for the approval gate: records overwritten, records created,
    probable twins linked for good, and whether this object was ever pushed live before. -#}
{% include "push/plan.sql" %}

with overwrites as (
{% include "push/select.sql" %}
),

creations as (
{% include "push/select_create.sql" %}
),

final as (
    select
        (select count(*) from overwrites) as overwrites,
        (select count(*) from creations where %(create_missing)s) as creations,
        (select count(*) from overwrites where overwrites.properties ? %(id_property)s) as links,
        exists (
            select 1 from staging.push_log as ledger
            where ledger.object_type = %(object_type)s and ledger.outcome = 'sent'
        ) as pushed_before
)

select to_jsonb(final) from final
