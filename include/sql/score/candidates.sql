{#- reads: _legacy_pool, _hubspot_pool, _crowded_b<n>, _hubspot_words_b<n>, _legacy_words_b<n> /
    creates: _candidates, staging."_<object>_pairs"

    The blocked pairs: records sharing at least one blocking key, each once with every rule
    that found it (empty for an object without matching). -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object -%}
{%- set mm = o.matching -%}
{%- if mm %}
-- Candidate pairs: records sharing at least one blocking key, each with the rule that found it
-- (kind:properties, as the registry names it).
create temp table _candidates on commit drop as
select pairs.legacy_id, pairs.hubspot_id, pairs.rule
from (
    {%- for key in mm.blocking %}
    {%- set b = "b" ~ loop.index %}
    {%- if key.kind == "trigram" %}
    select nearest.legacy_id, nearest.hubspot_id, '{{ key.kind }}:{{ key.properties | join("+") }}' as rule
    from (
        select
            scored.legacy_id,
            scored.hubspot_id,
            row_number() over (
                partition by scored.legacy_id order by scored.similarity desc, scored.hubspot_id
            ) as position
        from (
            select shared.legacy_id, shared.hubspot_id, similarity(shared.hubspot_key, shared.legacy_key) as similarity
            from (
                select distinct
                    legacy.legacy_id, hubspot.hubspot_id, legacy.key as legacy_key, hubspot.key as hubspot_key
                from _legacy_words_{{ b }} as legacy
                inner join _hubspot_words_{{ b }} as hubspot on hubspot.word = legacy.word
            ) as shared
        ) as scored
        where scored.similarity >= (%(matching)s::jsonb ->> 'trigram_threshold')::real
    ) as nearest
    where nearest.position <= (%(matching)s::jsonb ->> 'max_similar')::integer
    {%- else %}
    select legacy.legacy_id, hubspot.hubspot_id, '{{ key.kind }}:{{ key.properties | join("+") }}' as rule
    from _legacy_pool as legacy
    inner join _hubspot_pool as hubspot
        on hubspot.{{ b }} = legacy.{{ b }}
    where legacy.{{ b }} not in (select crowded.key from _crowded_{{ b }} as crowded)
    {%- endif %}
    {{- "\n    union all" if not loop.last }}
    {%- endfor %}
) as pairs;

-- The pairs, each once, with every rule that found it.
create unlogged table {{ work_table(o, "pairs") }} as
select legacy_id, hubspot_id, array_agg(distinct rule order by rule) as rules
from _candidates
group by legacy_id, hubspot_id;

analyze {{ work_table(o, "pairs") }};
{%- else %}

create unlogged table {{ work_table(o, "pairs") }} (legacy_id bigint, hubspot_id text, rules text []);
{%- endif %}
