{#- reads: staging."_<object>_legacy_named", staging."_<object>_hubspot_named" / creates:
    _common_words, _legacy_pool, _hubspot_pool, _crowded_b<n>, _hubspot_words_b<n>,
    _legacy_words_b<n>

    The blocking keys of both sides (registry ``matching.blocking``, key b<n> the n-th), and what
    keeps a key from blocking too much: words too common, values too many records share.
    Nothing for an object without matching. -#}
{%- from "score/macros.sql" import work_table -%}
{%- set o = params.object -%}
{%- set mm = o.matching -%}
{#- A property some name comparison folds on its own: its folded form is that comparison's
    prepared column (named.sql), which blocking keys reuse instead of folding the name again. -#}
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

{%- if mm %}

-- Words too frequent to tell records apart ("societe", "france") stay out of trigram keys.
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
{%- else %}
-- No matching configured for {{ o.name }}: no blocking keys.
{%- endif %}
