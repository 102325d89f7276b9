{#- A work table of the score task, unlogged rather than temporary: parallel workers can scan
    it (never a temporary table). Named per object: the task holds its object's lock, so no two
    runs share one. Created in the task's transaction (a failed run leaves none behind) and
    dropped at its end (score/review_apply.sql). -#}
{%- macro work_table(object, name) -%}
staging."_{{ object.name }}_{{ name }}"
{%- endmacro -%}

{#- A canonical value in the form a comparison's kind compares: folded names and texts, lower-
    case e-mails and codes, numbers, dates, instants. -#}
{%- macro prepare(compare, value) -%}
{%- if compare == "name" -%} staging.crm_fold_name({{ value }})
{%- elif compare in ("text", "folded") -%} staging.crm_fold({{ value }})
{%- elif compare in ("email", "exact") -%} lower({{ value }})
{%- elif compare == "number" -%} staging.crm_number({{ value }})
{%- elif compare == "date" -%} staging.crm_timestamp({{ value }}, 'UTC')::date
{%- elif compare == "datetime" -%} staging.crm_timestamp({{ value }}, 'UTC')
{%- else -%} {{ value }}
{%- endif -%}
{%- endmacro -%}

{#- Agreement (0-1) of two prepared values (see prepare); NULL when either is missing. Trigram
    similarity reads the first 4,096 characters of each (staging.crm_similarity). -#}
{%- macro similarity_of(compare, legacy, hubspot) -%}
case
    when {{ legacy }} is null or {{ hubspot }} is null then null
    when {{ legacy }} = {{ hubspot }} then 1
    {%- if compare == "name" %}
    -- As numeric: the real 0.7 is 0.69999999 as a float8, below a threshold of 0.7. A single word
    -- (a first or last name) one or two typos off also by edit distance: trigrams make one typo
    -- in "white" 0.33.
    else greatest(staging.crm_similarity({{ legacy }}, {{ hubspot }})::numeric, case
        when strpos({{ legacy }}, ' ') = 0 and strpos({{ hubspot }}, ' ') = 0
            and length({{ legacy }}) <= 40 and length({{ hubspot }}) <= 40
            and levenshtein_less_equal({{ legacy }}, {{ hubspot }}, 2) <= 2
            then 1 - levenshtein({{ legacy }}, {{ hubspot }})::numeric / greatest(length({{ legacy }}), length({{ hubspot }}))
        else 0
    end)
    {%- elif compare == "text" %}
    -- As numeric: the real 0.7 is 0.69999999 as a float8, below a threshold of 0.7.
    else staging.crm_similarity({{ legacy }}, {{ hubspot }})::numeric
    {%- elif compare == "email" %}
    when split_part({{ legacy }}, '@', 1) = split_part({{ hubspot }}, '@', 1) then 0.8
    else 0
    {%- elif compare == "number" %}
    else greatest(0, 1 - abs({{ legacy }} - {{ hubspot }}) / nullif(greatest(abs({{ legacy }}), abs({{ hubspot }})), 0))
    {%- elif compare == "date" %}
    else greatest(0, 1 - abs({{ legacy }} - {{ hubspot }}) / 30.0)
    {%- elif compare == "datetime" %}
    else greatest(0, 1 - abs(extract(epoch from {{ legacy }} - {{ hubspot }})) / 86400.0)
    {%- else %}
    else 0
    {%- endif %}
end
{%- endmacro -%}

{#- Agreement (0-1) of a value read across (registry: Comparison.crossed_with): this comparison's
    legacy value against the other comparison's HubSpot value (a first name written as the last
    name), when at least 0.8 (equal, or one typo in a long name: a loose resemblance across two
    fields is chance, "Morel" and "Maël"); NULL otherwise. -#}
{%- macro crossed_agreement(compare, legacy, hubspot_other) -%}
case
    -- NULL below 0.8, the agreement itself from 0.8 on (computed once).
    when {{ legacy }} is not null and {{ hubspot_other }} is not null then nullif(greatest(
        {{ similarity_of(compare, legacy, hubspot_other) | indent(8) }},
        0.799999
    ), 0.799999)
end
{%- endmacro -%}

{#- The better of the direct and the crossed agreement (greatest ignores the NULL of either). -#}
{%- macro with_crossed(comparison, agreement, legacy, hubspot) -%}
{%- if comparison.crossed_with -%}
greatest(
    {{ agreement | indent(4) }},
    {{ crossed_agreement(comparison.compare, legacy ~ comparison.name, hubspot ~ comparison.crossed_with) | indent(4) }}
)
{%- else -%}
{{ agreement }}
{%- endif -%}
{%- endmacro -%}

{#- Agreement (0-1) of a pair on one comparison; NULL when either side is empty. Equal values
    agree at once (most id-linked pairs); the others compare their prepared forms (see prepare),
    which the caller computes once per record, not once per pair. For the legacy id: 1 when
    equal, 0 when not. -#}
{%- macro comparison_agreement(comparison, legacy, hubspot, legacy_prepared, hubspot_prepared) -%}
case
    when {{ legacy }} is null or {{ hubspot }} is null then null
    when {{ legacy }} = {{ hubspot }} then 1
    {%- if comparison.compare == "legacy_id" %}
    else 0
    {%- else %}
    else {{ similarity_of(comparison.compare, legacy_prepared, hubspot_prepared) | indent(4) }}
    {%- endif %}
end
{%- endmacro -%}

{#- The level (1 = the first, strongest) an agreement hits in one comparison; 0 = the null level
    (a value missing on either side). The levels' lower bounds, ascending and bound from
    %(model)s (an init plan: read once per statement), give the level by width_bucket, so the
    agreement is written, and computed, once. -#}
{%- macro level_of(comparison, value) -%}
coalesce({{ comparison.levels | length }} - width_bucket(({{ value }})::float8, array(
    select bound::float8 from jsonb_array_elements_text(%(model)s::jsonb #> '{bounds,{{ comparison.name }}}') as bound
)), 0)
{%- endmacro -%}

{#- A comparison's value on one side: one property, or several read as one text; its first
    65,536 characters (staging.crm_compared), what every comparison reads. -#}
{%- macro comparison_value(comparison, prefix) -%}
{%- if comparison.compare == "legacy_id" -%}{{ prefix }}legacy_id
{%- elif comparison.properties | length == 1 -%}staging.crm_compared({{ prefix }}p_{{ comparison.properties[0] }})
{%- else -%}staging.crm_compared(nullif(concat_ws(' '{% for p in comparison.properties %}, {{ prefix }}p_{{ p }}{% endfor %}), ''))
{%- endif -%}
{%- endmacro -%}

{#- The same from a JSON object of canonical values (a staging row's legacy or HubSpot side). -#}
{%- macro comparison_json(comparison, column) -%}
{%- if comparison.properties | length == 1 -%}staging.crm_compared({{ column }} ->> '{{ comparison.properties[0] }}')
{%- else -%}staging.crm_compared(nullif(concat_ws(' '{% for p in comparison.properties %}, {{ column }} ->> '{{ p }}'{% endfor %}), ''))
{%- endif -%}
{%- endmacro -%}

{#- The number of levels of each comparison, by name. -#}
{%- macro _level_counts(model, into) -%}
{%- for c in model.comparisons %}{% set _ = into.update({c.name: c.levels | length}) %}{% endfor -%}
{%- endmacro -%}

{#- Whether a comparison agrees: hits a level above its last ('else'); the null level is 0. -#}
{%- macro agrees(model, name, pair) -%}
{%- set count = {} -%}{{ _level_counts(model, count) }}
{{- pair }}.g_{{ name }} between 1 and {{ count[name] - 1 }}
{%- endmacro -%}

{#- The terms of a pair's match weight after the prior: each comparison's weight, the members of
    a correlated group through the group's (group_weight). -#}
{%- macro counted_weights(model, pair) -%}
{%- set grouped = [] -%}
{%- for correlated in model.correlated.values() %}{% set _ = grouped.extend(correlated.members) %}{% endfor -%}
{%- for c in model.comparisons if c.name not in grouped %}
+ {{ pair }}.w_{{ c.name }}
{%- endfor %}
{%- for group in model.correlated %}
+ {{ pair }}.gw_{{ group }}
{%- endfor %}
{%- endmacro -%}

{#- A correlated group's weight (registry: Model.correlated). Where its key agrees, its
    strongest agreement plus its strongest disagreement, each once: colleagues' shared company,
    address, city and switchboard add up to one agreement, not four. Elsewhere the sum of its
    members. Weights are never NULL here (a null level weighs 0). -#}
{%- macro group_weight(model, group, pair) -%}
{%- set members = model.correlated[group].members -%}
case
    when {{ agrees(model, model.correlated[group].key, pair) }}
        then greatest(0{% for name in members %}, {{ pair }}.w_{{ name }}{% endfor %})
            + least(0{% for name in members %}, {{ pair }}.w_{{ name }}{% endfor %})
    else {% for name in members %}{{ pair }}.w_{{ name }}{{ " + " if not loop.last }}{% endfor %}
end
{%- endmacro -%}

{#- Whether every comparison of the identity's not_all_different disagrees (hits 'else'). -#}
{%- macro all_differ(model, pair) -%}
{%- set count = {} -%}{{ _level_counts(model, count) }}
({% for name in model.identity.not_all_different %}{{ pair }}.g_{{ name }} = {{ count[name] }}{{ " and " if not loop.last }}{% endfor %})
{%- endmacro -%}

{#- Whether one comparison of the identity's any_of agrees as identity evidence: an attribute of
    a correlated group only where the group's key is not comparable (no employer on record). -#}
{%- macro identity_agrees(model, name, pair) -%}
({{ agrees(model, name, pair) }}
{%- for correlated in model.correlated.values() if name in correlated.describe %} and {{ pair }}.g_{{ correlated.key }} = 0{% endfor %})
{%- endmacro -%}

{#- Whether a pair shows identity evidence (registry: Model.identity): one of any_of agrees, and
    not every one of not_all_different disagrees. TRUE when the model declares none. -#}
{%- macro identity_holds(model, pair) -%}
{%- if model.identity -%}
(({% for name in model.identity.any_of %}{{ identity_agrees(model, name, pair) }}{{ " or " if not loop.last }}{% endfor %})
{%- if model.identity.not_all_different %}
    and not {{ all_differ(model, pair) }}
{%- endif %})
{%- else -%}
true
{%- endif -%}
{%- endmacro -%}

{#- Why a pair lacks identity evidence, in words (NULL when it has it). -#}
{%- macro identity_reason(model, pair) -%}
{%- if model.identity -%}
case when not {{ pair }}.identity then
    'no identity evidence: ' || case
        {%- if model.identity.not_all_different %}
        when {{ all_differ(model, pair) }} then '{{ model.identity.not_all_different | join(", ") }} all differ'
        {%- endif %}
        when {% for name in model.identity.any_of %}{{ pair }}.g_{{ name }} = 0{{ " and " if not loop.last }}{% endfor %}
            then '{{ model.identity.any_of | join(", ") }} not comparable'
        else 'none of {{ model.identity.any_of | join(", ") }} agrees'
            {%- for correlated in model.correlated.values() if correlated.describe | select("in", model.identity.any_of) | list %}
            || case
                when {{ agrees(model, correlated.key, pair) }}
                    then ' ({{ correlated.describe | select("in", model.identity.any_of) | join(", ") }} shared by every {{ correlated.key }} record counts not)'
                else ''
            end
            {%- endfor %}
    end
end
{%- else -%}
null::text
{%- endif -%}
{%- endmacro -%}

{#- A scored pair's components (score_components): match weight, prior, rules, and per comparison
    the level, both values, the weight and whether the term frequency applied; per correlated
    group the weight it counts; whether the pair shows identity evidence. Built only for the
    pairs whose components are kept (id links, twins, best candidates), not for every candidate:
    a JSON object costs more than the whole weighing. `pair` is a row of the scored work
    table, `labels` of the score labels' (score/score.sql). -#}
{%- macro score_components(model, pair, labels) -%}
jsonb_build_object(
    'match_weight', {{ pair }}.match_weight,
    'prior', round({{ pair }}.prior_weight::numeric, 2),
    'rules', to_jsonb({{ pair }}.rules),
    'comparisons', jsonb_build_object(
        {%- for c in model.comparisons %}
        '{{ c.name }}', jsonb_build_object(
            'level', case
                when {{ pair }}.g_{{ c.name }} = 0 then 'null'
                else {{ labels }}.value -> '{{ c.name }}' ->> ({{ pair }}.g_{{ c.name }} - 1)
            end,
            'legacy', {{ pair }}.lv_{{ c.name }},
            'hubspot', {{ pair }}.hv_{{ c.name }},
            'weight', round({{ pair }}.w_{{ c.name }}::numeric, 2),
            'term_frequency', {{ pair }}.tf_{{ c.name }}
            {%- for group, correlated in model.correlated.items() if c.name in correlated.members %},
            'counted_in', '{{ group }}'
            {%- endfor %}
        ){{ "," if not loop.last }}
        {%- endfor %}
    ),
    'correlated', jsonb_build_object(
        {%- for group, correlated in model.correlated.items() %}
        '{{ group }}', jsonb_build_object(
            'comparisons', jsonb_build_array({% for name in correlated.members %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}),
            'counted_once', {{ agrees(model, correlated.key, pair) }},
            'weight', round({{ pair }}.gw_{{ group }}::numeric, 2)
        ){{ "," if not loop.last }}
        {%- endfor %}
    ),
    'identity', jsonb_build_object(
        'holds', {{ pair }}.identity,
        'any_of', {% if model.identity %}jsonb_build_array({% for name in model.identity.any_of %}'{{ name }}'{{ ", " if not loop.last }}{% endfor %}){% else %}null::jsonb{% endif %},
        'reason', {{ identity_reason(model, pair) | indent(8) }}
    )
)
{%- endmacro -%}

{#- The same in words, for notes: "match weight +37.1 (prior -19.6, name exact +12.0 (rare value), …;
    employer counted once +10.2)". -#}
{%- macro score_summary(model, pair, labels) -%}
'match weight ' || to_char({{ pair }}.weight, 'FMSG990.0') || ' (prior ' || to_char({{ pair }}.prior_weight, 'FMSG990.0')
{%- for c in model.comparisons %}
|| ', {{ c.name }} ' || case
    when {{ pair }}.g_{{ c.name }} = 0 then 'not comparable'
    else ({{ labels }}.value -> '{{ c.name }}' ->> ({{ pair }}.g_{{ c.name }} - 1)) || ' ' || to_char({{ pair }}.w_{{ c.name }}, 'FMSG990.0')
        || case when {{ pair }}.tf_{{ c.name }} then ' (rare value)' else '' end
end
{%- endfor %}
{%- for group, correlated in model.correlated.items() %}
|| case
    when {{ agrees(model, correlated.key, pair) }}
        then '; {{ group }} ({{ correlated.members | join(", ") }}) counted once ' || to_char({{ pair }}.gw_{{ group }}, 'FMSG990.0')
    else ''
end
{%- endfor %}
|| ')'
{%- endmacro -%}
