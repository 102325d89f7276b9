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

{#- Agreement (0-1) of two prepared values (see prepare); NULL when either is missing. -#}
{%- macro similarity_of(compare, legacy, hubspot) -%}
case
    when {{ legacy }} is null or {{ hubspot }} is null then null
    when {{ legacy }} = {{ hubspot }} then 1
    {%- if compare in ("name", "text") %}
    -- As numeric: the real 0.7 is 0.69999999 as a float8, below a threshold of 0.7.
    else similarity({{ legacy }}, {{ hubspot }})::numeric
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

{#- A comparison's value on one side: one property, or several read as one text. -#}
{%- macro comparison_value(comparison, prefix) -%}
{%- if comparison.compare == "legacy_id" -%}{{ prefix }}legacy_id
{%- elif comparison.properties | length == 1 -%}{{ prefix }}p_{{ comparison.properties[0] }}
{%- else -%}nullif(concat_ws(' '{% for p in comparison.properties %}, {{ prefix }}p_{{ p }}{% endfor %}), '')
{%- endif -%}
{%- endmacro -%}

{#- The same from a JSON object of canonical values (a staging row's legacy or HubSpot side). -#}
{%- macro comparison_json(comparison, column) -%}
{%- if comparison.properties | length == 1 -%}{{ column }} ->> '{{ comparison.properties[0] }}'
{%- else -%}nullif(concat_ws(' '{% for p in comparison.properties %}, {{ column }} ->> '{{ p }}'{% endfor %}), '')
{%- endif -%}
{%- endmacro -%}

{#- A scored pair's components (score_components): match weight, prior, rules, and per comparison
    the level, both values, the weight and whether the term frequency applied. Built only for the
    pairs whose components are kept (id links, twins, best candidates), not for every candidate:
    a JSON object costs more than the whole weighing. `pair` is a row of _scored, `labels` of
    _score_labels. -#}
{%- macro score_components(comparisons, pair, labels) -%}
jsonb_build_object(
    'match_weight', {{ pair }}.match_weight,
    'prior', round({{ pair }}.prior_weight::numeric, 2),
    'rules', to_jsonb({{ pair }}.rules),
    'comparisons', jsonb_build_object(
        {%- for c in comparisons %}
        '{{ c.name }}', jsonb_build_object(
            'level', case
                when {{ pair }}.g_{{ c.name }} = 0 then 'null'
                else {{ labels }}.value -> '{{ c.name }}' ->> ({{ pair }}.g_{{ c.name }} - 1)
            end,
            'legacy', {{ pair }}.lv_{{ c.name }},
            'hubspot', {{ pair }}.hv_{{ c.name }},
            'weight', round({{ pair }}.w_{{ c.name }}::numeric, 2),
            'term_frequency', {{ pair }}.tf_{{ c.name }}
        ){{ "," if not loop.last }}
        {%- endfor %}
    )
)
{%- endmacro -%}

{#- The same in words, for notes: "match weight +37.1 (prior -19.6, name exact +12.0 (rare value), …)". -#}
{%- macro score_summary(comparisons, pair, labels) -%}
'match weight ' || to_char({{ pair }}.weight, 'FMSG990.0') || ' (prior ' || to_char({{ pair }}.prior_weight, 'FMSG990.0')
{%- for c in comparisons %}
|| ', {{ c.name }} ' || case
    when {{ pair }}.g_{{ c.name }} = 0 then 'not comparable'
    else ({{ labels }}.value -> '{{ c.name }}' ->> ({{ pair }}.g_{{ c.name }} - 1)) || ' ' || to_char({{ pair }}.w_{{ c.name }}, 'FMSG990.0')
        || case when {{ pair }}.tf_{{ c.name }} then ' (rare value)' else '' end
end
{%- endfor %}
|| ')'
{%- endmacro -%}
