{#- pairs: every record pair the match model scores, and the rule that found it. A legacy row
    linked by its legacy id to exactly one HubSpot record gives one pair (rule legacy_id). For a
    legacy row no HubSpot record links, blocking keys find the HubSpot records it may be the
    twin of (created by hand, or imported without the legacy id) among those no live legacy row
    claims — far fewer pairs than legacy × HubSpot. Each rule is one named output. -#}
{%- from "reconcile/macros.sql" import hubspot_value -%}
{%- from "score/macros.sql" import comparison_json, comparison_value, prepare, work_table -%}
{%- from "macros/session.sql" import step_memory -%}
{%- set o = params.object -%}
{%- set compared = o.model.comparisons | rejectattr("compare", "equalto", "legacy_id") | list -%}
{%- set mm = o.matching -%}
{%- set props = mm.properties if mm else o.model.properties -%}
{%- set by_property = {} -%}
{%- for m in o.mappings %}{% set _ = by_property.update({m.property: m}) %}{% endfor -%}
{#- A property some name comparison folds on its own: its folded form is that comparison's
    prepared column, which blocking keys reuse instead of folding the name again. -#}
{%- set folded = {} -%}
{%- for c in o.model.comparisons if c.compare == "name" and c.properties | length == 1 -%}
{%- set _ = folded.update({c.properties[0]: "q_" ~ c.name}) -%}
{%- endfor -%}

{#- The name of a record folded (staging.crm_fold_name), read from its prepared column when
    there is one. -#}
{%- macro folded_name(prefix, properties) -%}
{%- if properties | length == 1 and properties[0] in folded -%}{{ prefix }}{{ folded[properties[0]] }}
{%- else -%}staging.crm_fold_name(concat_ws(' '{% for p in properties %}, {{ prefix }}p_{{ p }}{% endfor %}))
{%- endif -%}
{%- endmacro -%}

{#- Every comparison's value prepared once per record (score/macros.sql prepare): pairs
    compare these, so a record in a hundred pairs is folded once, not a hundred times. -#}
{%- macro prepared_columns(prefix) -%}
{%- for c in o.model.comparisons if c.compare != "legacy_id" %},
    {{ prepare(c.compare, comparison_value(c, prefix)) }} as q_{{ c.name }}
{%- endfor -%}
{%- endmacro -%}

{#- A blocking key; NULL (blocks nothing) when longer than 256 characters (staging.crm_key), so
    that a 20,000-character pasted value neither breaks an index nor makes a trigram search slow. -#}
{%- macro block_key(prefix, key) -%}
{%- if key.kind == "trigram" -%}
staging.crm_key({{ folded_name(prefix, key.properties) }})
{%- elif key.kind == "local_part" -%}
staging.crm_key(nullif(split_part(lower({{ prefix }}p_{{ key.properties[0] }}), '@', 1), ''))
{%- else -%}
staging.crm_key(case when {% for p in key.properties %}{{ prefix }}p_{{ p }} is not null{{ " and " if not loop.last }}{% endfor %} then
    {%- for p in key.properties %}
    {% if key.kind == "prefix" and loop.last %}left({{ folded_name(prefix, [p]) }}, {{ key.length }})
    {%- else %}lower({{ prefix }}p_{{ p }}){% endif %}{{ " || '|' ||" if not loop.last }}
    {%- endfor %}
end)
{%- endif -%}
{%- endmacro -%}

-- 0. Memory for the whole score task (its files run in one transaction).
{{ step_memory() }}

-- 1. The legacy side: live rows that no HubSpot record links by id (and that are usable). Each
--    value as comparisons read it, its first 65,536 characters (staging.crm_compared): blocking
--    keys fold it too.
create unlogged table {{ work_table(o, "legacy_named") }} as
select named.*{{ prepared_columns("named.") }}
from (
    select
        reconciliation.{{ o.legacy_key }} as legacy_id
        {%- for p in props %},
        staging.crm_compared(reconciliation.legacy_properties ->> '{{ p }}') as p_{{ p }}
        {%- endfor %}
    from staging.{{ o.staging_table }} as reconciliation
    where reconciliation.candidate_hubspot_ids is null and reconciliation.reconciliation_status <> 'rejected'
) as named;

-- 2. The HubSpot side: records that no live legacy row claims by id, values made canonical,
--    then bounded as the legacy side's.
create unlogged table {{ work_table(o, "hubspot_named") }} as
select named.*{{ prepared_columns("named.") }}
from (
    with settings as (select %(settings)s::jsonb ->> 'phone_country_code' as phone_country_code)
    select
        hubspot.hubspot_id,
        hubspot.legacy_id
        {%- for p in props %},
        staging.crm_compared({{ hubspot_value(by_property[p], "hubspot." ~ p) }}) as p_{{ p }}
        {%- endfor %}
    from staging.{{ o.name }}_hubspot_source as hubspot
    cross join settings
    -- A join, not "or not exists" (one scan of bronze per record); live legacy ids are unique.
    left join bronze.{{ o.bronze_table }}_live as live on hubspot.legacy_id = live.legacy_id
    where live.legacy_id is null
) as named;

analyze {{ work_table(o, "legacy_named") }};

analyze {{ work_table(o, "hubspot_named") }};

{%- if mm %}

-- 3. Words too frequent to tell records apart ("societe", "france") stay out of trigram keys.
create temp table _common_words on commit drop as
select word
from (
    {%- for key in mm.blocking if key.kind == "trigram" %}
    select unnest(string_to_array({{ block_key("", key) }}, ' ')) as word from {{ work_table(o, "hubspot_named") }}
    {{- " union all" if not loop.last }}
    {%- else %}
    select null::text as word
    {%- endfor %}
) as words
where word is not null
group by word
having count(*) > greatest(20, (%(matching)s::jsonb ->> 'common_word_share')::numeric * (select count(*) from {{ work_table(o, "hubspot_named") }}));

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
from {{ work_table(o, side ~ "_named") }} as named;
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

-- Similar names are looked for among the records sharing a token of the key, a word or a pair of
-- neighbouring words (token blocking: a hash join, linear in the records, where a trigram index
-- probe per record grows with the index too). A token more than max_block_size HubSpot keys
-- hold finds nothing, as a crowded key.
create temp table _hubspot_words_b{{ loop.index }} on commit drop as
with words as (
    select pool.hubspot_id, pool.b{{ loop.index }} as key, word
    from _hubspot_pool as pool
    cross join lateral unnest(staging.crm_block_tokens(pool.b{{ loop.index }})) as word
    where
        pool.b{{ loop.index }} is not null
        and pool.b{{ loop.index }} not in (select crowded.key from _crowded_b{{ loop.index }} as crowded)
)

select words.hubspot_id, words.key, words.word
from words
where words.word not in (
    select crowded.word
    from words as crowded
    group by crowded.word
    having count(*) > (%(matching)s::jsonb ->> 'max_block_size')::integer
);

create temp table _legacy_words_b{{ loop.index }} on commit drop as
select pool.legacy_id, pool.b{{ loop.index }} as key, word
from _legacy_pool as pool
cross join lateral unnest(staging.crm_block_tokens(pool.b{{ loop.index }})) as word
where pool.b{{ loop.index }} is not null;

analyze _hubspot_words_b{{ loop.index }};

analyze _legacy_words_b{{ loop.index }};
{%- else %}

create index on _hubspot_pool (b{{ loop.index }});
{%- endif %}
{%- endfor %}

analyze _hubspot_pool;

analyze _legacy_pool;

-- 4. Candidate pairs: records sharing at least one blocking key, each with the rule that found it
--    (kind:properties, as the registry names it).
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

-- 5. The pairs, each once, with every rule that found it.
create unlogged table {{ work_table(o, "pairs") }} as
select legacy_id, hubspot_id, array_agg(distinct rule order by rule) as rules
from _candidates
group by legacy_id, hubspot_id;

analyze {{ work_table(o, "pairs") }};
{%- else %}

create unlogged table {{ work_table(o, "pairs") }} (legacy_id bigint, hubspot_id text, rules text []);
{%- endif %}

-- 6. The id links: a live legacy row whose legacy id exactly one HubSpot record carries, and
--    both sides' values of each comparison as comparisons read them (not the whole JSON
--    objects: each copy of a 10 MB value is compressed anew, ~0.4 s).
create unlogged table {{ work_table(o, "linked") }} as
select
    reconciliation.{{ o.legacy_key }} as legacy_id,
    reconciliation.{{ o.hubspot_key }} as hubspot_id
    {%- for c in compared %},
    {{ comparison_json(c, "reconciliation.legacy_properties") }} as l_{{ c.name }},
    {{ comparison_json(c, "reconciliation.hubspot_properties") }} as h_{{ c.name }}
    {%- endfor %}
from staging.{{ o.staging_table }} as reconciliation
where
    reconciliation.reconciliation_status in ('matched', 'conflict')
    and reconciliation.{{ o.hubspot_key }} is not null
    and cardinality(reconciliation.candidate_hubspot_ids) = 1;

analyze {{ work_table(o, "linked") }};

select jsonb_build_object(
    'id_links', (select count(*) from {{ work_table(o, "linked") }}),
    'blocked_pairs', (select count(*) from {{ work_table(o, "pairs") }}),
    'unlinked', (select count(*) from {{ work_table(o, "legacy_named") }})
) as summary
