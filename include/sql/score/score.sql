{#- score: how sure each id link is. Compares the identity fields of the registry (weights
    bound as %(weights)s), stores every component, and turns an id link whose records clearly
    disagree into a conflict. Reads and writes staging only; re-running it gives the same rows. -#}
{%- from "score/macros.sql" import agreement -%}
{%- from "macros/summary.sql" import status_counts -%}
{%- set o = params.object -%}

with settings as (
    select
        (%(settings)s::jsonb ->> 'matched_min_confidence')::numeric as matched_min,
        (%(settings)s::jsonb ->> 'id_only_confidence')::numeric as id_only,
        %(weights)s::jsonb as weights
),

linked as (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id,
        reconciliation.{{ o.hubspot_key }} as hubspot_id,
        reconciliation.legacy_properties as legacy,
        reconciliation.hubspot_properties as hubspot,
        regexp_replace(reconciliation.notes, ' Identity: .*$', '') as link_notes
    from staging.{{ o.staging_table }} as reconciliation
    where
        reconciliation.reconciliation_status in ('matched', 'conflict')
        and reconciliation.{{ o.hubspot_key }} is not null
        and cardinality(reconciliation.candidate_hubspot_ids) = 1
),

-- Materialised: each agreement is computed once, not once per reference below.
compared as materialized (
    select
        linked.*,
        settings.matched_min,
        settings.id_only
        {%- for field in o.identity %},
        ({{ agreement(field, "linked.legacy ->> '" ~ field.property ~ "'", "linked.hubspot ->> '" ~ field.property ~ "'") | indent(8) }})::numeric
            as s_{{ field.property }},
        (settings.weights ->> '{{ field.property }}')::numeric as w_{{ field.property }}
        {%- endfor %}
    from linked
    cross join settings
),

scored as materialized (
    select
        compared.*,
        (
            {%- for field in o.identity %}
            coalesce(w_{{ field.property }} * s_{{ field.property }}, 0){{ " +" if not loop.last }}
            {%- endfor %}
        ) / nullif(
            {%- for field in o.identity %}
            case when s_{{ field.property }} is not null then w_{{ field.property }} else 0 end{{ " +" if not loop.last }}
            {%- endfor %}
        , 0) as agreement
    from compared
)

update staging.{{ o.staging_table }} as reconciliation
set
    match_confidence = round(coalesce(100 * scored.agreement, scored.id_only), 2),
    reconciliation_status = case
        when scored.agreement is null or 100 * scored.agreement >= scored.matched_min then 'matched'
        else 'conflict'
    end,
    score_components = '{}'::jsonb
    {%- for field in o.identity %}
        || jsonb_build_object('{{ field.property }}', jsonb_build_object(
            'compare', '{{ field.compare }}',
            'legacy', scored.legacy ->> '{{ field.property }}',
            'hubspot', scored.hubspot ->> '{{ field.property }}',
            'agreement', round(scored.s_{{ field.property }}, 3),
            'weight', scored.w_{{ field.property }}
        ))
    {%- endfor %},
    notes = scored.link_notes || ' Identity: ' || concat_ws(', '
        {%- for field in o.identity %},
        '{{ field.property }} ' || coalesce(round(100 * scored.s_{{ field.property }}) || '%%', 'not comparable')
        {%- endfor %}
    ) || case
        when scored.agreement is null
            then ' — nothing to compare, confidence ' || round(scored.id_only) || '.'
        when 100 * scored.agreement >= scored.matched_min
            then ' — confidence ' || round(100 * scored.agreement) || '.'
        else ' — confidence ' || round(100 * scored.agreement) || ', below ' || round(scored.matched_min)
            || ': the legacy id links records that look like different entities.'
    end
from scored
where reconciliation.{{ o.legacy_key }} = scored.legacy_id;

select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'confidence_deciles', coalesce((
        select jsonb_object_agg(decile, rows)
        from (
            select least(floor(match_confidence / 10) * 10, 90)::integer as decile, count(*) as rows
            from staging.{{ o.staging_table }}
            where reconciliation_status in ('matched', 'conflict')
            group by 1
        ) as histogram
    ), '{}'::jsonb)
) as summary
