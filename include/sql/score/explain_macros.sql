{#- reads: nothing / creates: nothing

    Macros of the score task: a scored pair explained, as JSON (score_components) and in words
    (score_summary). -#}
{%- from "score/weight_macros.sql" import agrees, identity_reason -%}
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
