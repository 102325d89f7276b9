{#- probable: for legacy records that no HubSpot record links by id, find the HubSpot twin that
    was created by hand or imported without its legacy id. Blocking keys keep the comparisons
    far fewer than legacy × HubSpot; each candidate pair is scored field by field; a one-to-one
    assignment keeps the best pairs; near-ties are reported, never picked. -#}
{%- from "reconcile/macros.sql" import hubspot_value, hubspot_json, field_diffs_json, updates_json -%}
{%- from "score/macros.sql" import agreement -%}
{%- from "macros/summary.sql" import status_counts -%}
{%- set o = params.object -%}
{%- if o.matching -%}
{%- set mm = o.matching -%}
{%- set by_property = {} -%}
{%- for m in o.mappings %}{% set _ = by_property.update({m.property: m}) %}{% endfor -%}

{%- macro field_value(prefix, field) -%}
{%- if field.properties | length == 1 -%}{{ prefix }}p_{{ field.properties[0] }}
{%- else -%}nullif(concat_ws(' '{% for p in field.properties %}, {{ prefix }}p_{{ p }}{% endfor %}), '')
{%- endif -%}
{%- endmacro -%}

{#- A blocking key; NULL (blocks nothing) when longer than 256 characters (staging.crm_key), so
    that a 20,000-character pasted value neither breaks an index nor makes a trigram search slow. -#}
{%- macro block_key(prefix, key) -%}
{%- if key.kind == "trigram" -%}
staging.crm_key(staging.crm_fold_name(concat_ws(' '{% for p in key.properties %}, {{ prefix }}p_{{ p }}{% endfor %})))
{%- elif key.kind == "local_part" -%}
staging.crm_key(nullif(split_part(lower({{ prefix }}p_{{ key.properties[0] }}), '@', 1), ''))
{%- else -%}
staging.crm_key(case when {% for p in key.properties %}{{ prefix }}p_{{ p }} is not null{{ " and " if not loop.last }}{% endfor %} then
    {%- for p in key.properties %}
    {% if key.kind == "prefix" and loop.last %}left(staging.crm_fold_name({{ prefix }}p_{{ p }}), {{ key.length }})
    {%- else %}lower({{ prefix }}p_{{ p }}){% endif %}{{ " || '|' ||" if not loop.last }}
    {%- endfor %}
end)
{%- endif -%}
{%- endmacro -%}

-- 1. The legacy side: live rows that no HubSpot record links by id (and that are usable).
create temp table _legacy_named on commit drop as
select
    reconciliation.{{ o.legacy_key }} as legacy_id
    {%- for p in mm.properties %},
    reconciliation.legacy_properties ->> '{{ p }}' as p_{{ p }}
    {%- endfor %}
from staging.{{ o.staging_table }} as reconciliation
where reconciliation.candidate_hubspot_ids is null and reconciliation.reconciliation_status <> 'rejected';

-- 2. The HubSpot side: records that no live legacy row claims by id, values made canonical.
create temp table _hubspot_named on commit drop as
with settings as (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code)
select
    hubspot.hubspot_id
    {%- for p in mm.properties %},
    {{ hubspot_value(by_property[p], "hubspot." ~ p) }} as p_{{ p }}
    {%- endfor %}
from staging.{{ o.name }}_hubspot_source as hubspot
cross join settings
-- A join, not "or not exists" (one scan of bronze per record); live legacy ids are unique.
left join bronze.{{ o.bronze_table }}_live as live on hubspot.legacy_id = live.legacy_id
where live.legacy_id is null;

-- 3. Words too frequent to tell records apart ("societe", "france") stay out of trigram keys.
create temp table _common_words on commit drop as
select word
from (
    {%- for key in mm.blocking if key.kind == "trigram" %}
    select unnest(string_to_array({{ block_key("", key) }}, ' ')) as word from _hubspot_named
    {{- " union all" if not loop.last }}
    {%- else %}
    select null::text as word
    {%- endfor %}
) as words
where word is not null
group by word
having count(*) > greatest(20, (%(matching)s::jsonb ->> 'common_word_share')::numeric * (select count(*) from _hubspot_named));

{%- for side in ("legacy", "hubspot") %}

create temp table _{{ side }}_pool on commit drop as
select
    named.*
    {%- for key in mm.blocking %},
    {%- if key.kind == "trigram" %}
    coalesce((
        select string_agg(word, ' ' order by word)
        from unnest(string_to_array({{ block_key("named.", key) }}, ' ')) as word
        where word not in (select common.word from _common_words as common)
    ), {{ block_key("named.", key) }}) as b{{ loop.index }}
    {%- else %}
    {{ block_key("named.", key) | indent(4) }} as b{{ loop.index }}
    {%- endif %}
    {%- endfor %}
from _{{ side }}_named as named;
{%- endfor %}

{%- for key in mm.blocking %}

-- A key value shared by too many HubSpot records (a switchboard number, a million copies of one
-- record) blocks nothing.
create temp table _crowded_b{{ loop.index }} on commit drop as
select b{{ loop.index }} as key
from _hubspot_pool
where b{{ loop.index }} is not null
group by b{{ loop.index }}
having count(*) > (%(matching)s::jsonb ->> 'max_block_size')::integer;
{%- if key.kind == "trigram" %}

-- Similar names are found through an index, not by equality: crowded names stay out of it, else
-- every legacy name like them would pair with the whole crowd. A table of its own (no NULLs,
-- no crowd) also gives the planner true statistics for the similarity join.
create temp table _trigram_b{{ loop.index }} on commit drop as
select pool.hubspot_id, pool.b{{ loop.index }} as key
from _hubspot_pool as pool
where
    pool.b{{ loop.index }} is not null
    and pool.b{{ loop.index }} not in (select crowded.key from _crowded_b{{ loop.index }} as crowded);

create index on _trigram_b{{ loop.index }} using gin (key gin_trgm_ops);

analyze _trigram_b{{ loop.index }};
{%- else %}

create index on _hubspot_pool (b{{ loop.index }});
{%- endif %}
{%- endfor %}

analyze _hubspot_pool;

analyze _legacy_pool;

select set_config('pg_trgm.similarity_threshold', %(matching)s::jsonb ->> 'trigram_threshold', true);

-- 4. Candidate pairs: records sharing at least one blocking key.
create temp table _candidates on commit drop as
select distinct pairs.legacy_id, pairs.hubspot_id
from (
    {%- for key in mm.blocking %}
    {%- set b = "b" ~ loop.index %}
    select legacy.legacy_id, hubspot.hubspot_id
    from _legacy_pool as legacy
    {%- if key.kind == "trigram" %}
    inner join _trigram_{{ b }} as hubspot
        on
            hubspot.key %% legacy.{{ b }}
            and similarity(hubspot.key, legacy.{{ b }}) >= (%(matching)s::jsonb ->> 'trigram_threshold')::real
    {%- else %}
    inner join _hubspot_pool as hubspot
        on hubspot.{{ b }} = legacy.{{ b }}
    where legacy.{{ b }} not in (select crowded.key from _crowded_{{ b }} as crowded)
    {%- endif %}
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
) as pairs;

-- 5. Each pair scored (Fellegi-Sunter): per field an agreement s (0-1) adds
--    s·log2(m/u) + (1-s)·log2((1-m)/(1-u)) to the prior log-odds; a field empty on either side
--    adds nothing. confidence = 100 / (1 + 2^-(log-odds)).
create temp table _scored on commit drop as
with model as (
    select %(matching)s::jsonb as matching
),

fields as materialized (
    select
        candidates.legacy_id,
        candidates.hubspot_id
        {%- for field in mm.fields %},
        {{ field_value("legacy.", field) }} as l_f{{ loop.index }},
        {{ field_value("hubspot.", field) }} as h_f{{ loop.index }}
        {%- endfor %}
    from _candidates as candidates
    inner join _legacy_pool as legacy on legacy.legacy_id = candidates.legacy_id
    inner join _hubspot_pool as hubspot on hubspot.hubspot_id = candidates.hubspot_id
),

compared as materialized (
    select
        fields.*,
        (model.matching ->> 'prior_log_odds')::numeric as prior
        {%- for field in mm.fields %}
        {%- set f = "f" ~ loop.index %},
        {%- if field.compare in ("name", "text") %}
        -- Two different names often share a word (similarity ~0.5): only similarity above the
        -- floor counts as agreement, rescaled to 0-1.
        greatest(0, (({{ agreement(field, "fields.l_" ~ f, "fields.h_" ~ f) | indent(8) }})::numeric
            - (model.matching ->> 'similarity_floor')::numeric) / (1 - (model.matching ->> 'similarity_floor')::numeric))
            as s_{{ f }},
        {%- else %}
        ({{ agreement(field, "fields.l_" ~ f, "fields.h_" ~ f) | indent(8) }})::numeric as s_{{ f }},
        {%- endif %}
        log(2, ((model.matching #>> '{fields,{{ f }},m}')::numeric / (model.matching #>> '{fields,{{ f }},u}')::numeric))
            as agree_{{ f }},
        log(2, ((1 - (model.matching #>> '{fields,{{ f }},m}')::numeric)
            / (1 - (model.matching #>> '{fields,{{ f }},u}')::numeric))) as disagree_{{ f }}
        {%- endfor %}
    from fields
    cross join model
),

weighed as materialized (
    select
        compared.*
        {%- for field in mm.fields %}
        {%- set f = "f" ~ loop.index %},
        coalesce(s_{{ f }} * agree_{{ f }} + (1 - s_{{ f }}) * disagree_{{ f }}, 0) as w_{{ f }}
        {%- endfor %}
    from compared
)

select
    legacy_id,
    hubspot_id,
    round(100 / (1 + power(2::numeric, -greatest(least(
        prior {%- for field in mm.fields %} + w_f{{ loop.index }}{% endfor %}, 60), -60))), 2) as confidence,
    '{}'::jsonb
    {%- for field in mm.fields %}
    {%- set f = "f" ~ loop.index %}
    || jsonb_build_object('{{ field.properties | join("+") }}', jsonb_build_object(
        'compare', '{{ field.compare }}', 'legacy', l_{{ f }}, 'hubspot', h_{{ f }},
        'agreement', round(s_{{ f }}, 3), 'log_odds', round(w_{{ f }}, 2)
    ))
    {%- endfor %} as components,
    concat_ws(', '
        {%- for field in mm.fields %}
        {%- set f = "f" ~ loop.index %},
        '{{ field.properties | join("+") }} ' || coalesce(
            round(100 * s_{{ f }}) || '%% (' || case when w_{{ f }} >= 0 then '+' else '' end || round(w_{{ f }}, 1) || ')',
            'not comparable'
        )
        {%- endfor %}
    ) || ', prior ' || round(prior, 1) as summary
from weighed;

-- 6. Ties: a legacy record with two candidates, or a HubSpot record with two legacy records,
--    above the threshold and closer than the tie margin. Reported, never picked.
create temp table _eligible on commit drop as
select scored.*
from _scored as scored
where scored.confidence >= (%(matching)s::jsonb ->> 'probable_min_confidence')::numeric;

create temp table _ties on commit drop as
with margin as (select (%(matching)s::jsonb ->> 'tie_margin')::numeric as points),

by_legacy as (
    select
        eligible.legacy_id,
        eligible.hubspot_id,
        eligible.confidence,
        row_number() over win as position,
        lead(eligible.hubspot_id) over win as next_hubspot_id,
        lead(eligible.confidence) over win as next_confidence
    from _eligible as eligible
    window win as (partition by eligible.legacy_id order by eligible.confidence desc, eligible.hubspot_id)
),

by_hubspot as (
    select
        eligible.hubspot_id,
        eligible.legacy_id,
        eligible.confidence,
        row_number() over win as position,
        lead(eligible.legacy_id) over win as next_legacy_id,
        lead(eligible.confidence) over win as next_confidence
    from _eligible as eligible
    window win as (partition by eligible.hubspot_id order by eligible.confidence desc, eligible.legacy_id)
)

select
    by_legacy.legacy_id,
    by_legacy.confidence,
    'HubSpot ' || by_legacy.hubspot_id || ' (confidence ' || round(by_legacy.confidence) || ') and HubSpot '
    || by_legacy.next_hubspot_id || ' (confidence ' || round(by_legacy.next_confidence)
    || ') are equally likely twins' as reason
from by_legacy
cross join margin
where by_legacy.position = 1 and by_legacy.confidence - by_legacy.next_confidence < margin.points

union all

select
    tied.legacy_id,
    tied.confidence,
    'HubSpot ' || top.hubspot_id || ' is as likely the twin of legacy ' || top.legacy_id || ' (confidence '
    || round(top.confidence) || ') as of legacy ' || top.next_legacy_id || ' (confidence '
    || round(top.next_confidence) || ')' as reason
from by_hubspot as top
cross join margin
inner join by_hubspot as tied
    on tied.hubspot_id = top.hubspot_id and tied.legacy_id in (top.legacy_id, top.next_legacy_id)
where top.position = 1 and top.confidence - top.next_confidence < margin.points;

-- 7. One-to-one assignment: rounds of mutual best choices (the best remaining pair always is
--    one), tied records and their candidates left out.
create temp table _assigned (
    legacy_id bigint primary key,
    hubspot_id text not null,
    confidence numeric
) on commit drop;

-- A HubSpot id is a mirror value, of any length: unique on its hash, looked up by a hash index
-- (a btree on the id itself fails on a value over ~2,700 bytes).
create unique index on _assigned (md5(hubspot_id));

create index on _assigned using hash (hubspot_id);

do $assign$
declare
    added integer;
begin
    loop
        insert into _assigned (legacy_id, hubspot_id, confidence)
        select ranked.legacy_id, ranked.hubspot_id, ranked.confidence
        from (
            select
                eligible.*,
                row_number() over (
                    partition by eligible.legacy_id order by eligible.confidence desc, eligible.hubspot_id
                ) as legacy_rank,
                row_number() over (
                    partition by eligible.hubspot_id order by eligible.confidence desc, eligible.legacy_id
                ) as hubspot_rank
            from _eligible as eligible
            where
                not exists (select 1 from _ties as ties where ties.legacy_id = eligible.legacy_id)
                and not exists (select 1 from _assigned as taken where taken.legacy_id = eligible.legacy_id)
                and not exists (select 1 from _assigned as taken where taken.hubspot_id = eligible.hubspot_id)
        ) as ranked
        where ranked.legacy_rank = 1 and ranked.hubspot_rank = 1;
        get diagnostics added = row_count;
        exit when added = 0;
    end loop;
end
$assign$;

-- 8. Every unlinked row gets its outcome: probable (with the diff against its twin), a tie
--    (conflict), or new with the best candidate named.
with settings as (
    select
        %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code,
        %(matching)s::jsonb as matching
),

best as (
    select distinct on (scored.legacy_id) scored.*
    from _scored as scored
    order by scored.legacy_id, scored.confidence desc, scored.hubspot_id
),

twins as materialized (
    select
        assigned.legacy_id,
        assigned.hubspot_id,
        true as has_twin
        {%- for m in o.mappings %},
        reconciliation.legacy_properties ->> '{{ m.property }}' as v_{{ m.property }},
        {{ hubspot_value(m, "hubspot." ~ m.property) }} as h_{{ m.property }}
        {%- endfor %}
    from _assigned as assigned
    inner join staging.{{ o.staging_table }} as reconciliation on reconciliation.{{ o.legacy_key }} = assigned.legacy_id
    inner join staging.{{ o.name }}_hubspot_source as hubspot on hubspot.hubspot_id = assigned.hubspot_id
    cross join settings
),

outcomes as (
    select
        legacy.legacy_id,
        assigned.hubspot_id as twin_id,
        assigned.confidence as twin_confidence,
        ties.reason as tie_reason,
        ties.confidence as tie_confidence,
        best.hubspot_id as best_id,
        best.confidence as best_confidence,
        best.components as best_components,
        best.summary as best_summary,
        twin_score.summary as twin_summary,
        twin_score.components as twin_components,
        {{ hubspot_json(o.mappings, "twins.has_twin") | indent(8) }} as hubspot_properties,
        {{ field_diffs_json(o.mappings, "twins.has_twin") | indent(8) }} as field_diffs,
        {{ updates_json(o.mappings, "twins.has_twin") | indent(8) }}
        || case
            when (settings.matching ->> 'auto_link')::boolean
                and assigned.confidence >= (settings.matching ->> 'auto_link_min_confidence')::numeric
                then jsonb_build_object('{{ o.legacy_id_property }}', legacy.legacy_id::text)
            else '{}'::jsonb
        end as properties_to_update
    from _legacy_pool as legacy
    cross join settings
    left join _assigned as assigned on assigned.legacy_id = legacy.legacy_id
    left join twins on twins.legacy_id = legacy.legacy_id
    left join _scored as twin_score
        on twin_score.legacy_id = assigned.legacy_id and twin_score.hubspot_id = assigned.hubspot_id
    left join (
        select distinct on (ties.legacy_id) ties.* from _ties as ties order by ties.legacy_id, ties.confidence desc
    ) as ties on ties.legacy_id = legacy.legacy_id
    left join best on best.legacy_id = legacy.legacy_id
)

update staging.{{ o.staging_table }} as reconciliation
set
    reconciliation_status = case
        when outcomes.twin_id is not null then 'probable'
        when outcomes.tie_reason is not null then 'conflict'
        else 'new'
    end,
    {{ o.hubspot_key }} = outcomes.twin_id,
    match_confidence = coalesce(outcomes.twin_confidence, outcomes.tie_confidence, 0),
    score_components = case
        when outcomes.twin_id is not null
            then jsonb_build_object('candidate', outcomes.twin_id, 'fields', outcomes.twin_components)
        when outcomes.best_id is not null
            then jsonb_build_object('candidate', outcomes.best_id, 'fields', outcomes.best_components)
        else '{}'::jsonb
    end,
    hubspot_properties = outcomes.hubspot_properties,
    field_diffs = coalesce(outcomes.field_diffs, '{}'::jsonb),
    properties_to_update = case when outcomes.twin_id is not null then outcomes.properties_to_update else '{}'::jsonb end,
    notes = regexp_replace(reconciliation.notes, ' (Probable twin|Tie|Best candidate|No similar).*$', '')
        || case
            when outcomes.twin_id is not null then
                ' Probable twin: HubSpot ' || outcomes.twin_id || ' (confidence ' || round(outcomes.twin_confidence)
                || '): ' || outcomes.twin_summary || '.'
            when outcomes.tie_reason is not null then ' Tie: ' || outcomes.tie_reason || '; not picked.'
            when outcomes.best_id is not null then
                ' Best candidate: HubSpot ' || outcomes.best_id || ' (confidence ' || round(outcomes.best_confidence)
                || case
                    when outcomes.best_confidence < (%(matching)s::jsonb ->> 'probable_min_confidence')::numeric
                        then ', below ' || round((%(matching)s::jsonb ->> 'probable_min_confidence')::numeric)
                    else ', the twin of another legacy record'
                end
                || '): ' || outcomes.best_summary || '.'
            else ' No similar HubSpot record.'
        end
from outcomes
where reconciliation.{{ o.legacy_key }} = outcomes.legacy_id;

select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'candidates', (select count(*) from _candidates),
    'probable', (select count(*) from _assigned),
    'ties', (select count(distinct legacy_id) from _ties),
    'unlinked', (select count(*) from _legacy_pool)
) as summary
{%- else %}
select jsonb_build_object(
    'by_status', {{ status_counts("staging." ~ o.staging_table) | indent(4) }},
    'probable', 'no matching configured for {{ o.name }}'
) as summary
{%- endif %}
