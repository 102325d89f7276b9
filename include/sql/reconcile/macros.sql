{#- reads: nothing / creates: nothing

    How each transform turns a value into the canonical text that is compared and pushed. -#}

{#- An enumeration's value as the portal's option (staging.crm_option_lookup: its values and
    labels as the last preflight read them, then the registry's value maps), else as written.
    The lookup is an uncorrelated subquery: computed once per statement, not per row; a value
    written as a name is found as written, the others folded. -#}
{%- macro option_value(mapping, source) -%}
{%- set lookup = "(select staging.crm_option_lookup('" ~ mapping.api_object ~ "', '" ~ mapping.property ~ "', %(value_maps)s::jsonb))" -%}
coalesce(
    {{ lookup }} ->> ('=' || staging.crm_text({{ source }})),
    {{ lookup }} ->> staging.crm_option_key({{ source }}),
    staging.crm_text({{ source }})
)
{%- endmacro -%}

{%- macro legacy_value(mapping, source) -%}
{%- set t = mapping.transform -%}
{%- if t == "text" -%} staging.crm_text({{ source }})
{%- elif t == "email" -%} staging.crm_email({{ source }})
{%- elif t == "domain" -%} staging.crm_domain({{ source }})
{%- elif t == "phone" -%} staging.crm_phone({{ source }}, settings.phone_country_code)
{%- elif t == "number" -%} staging.crm_number_text(staging.crm_number({{ source }}))
{%- elif t == "date" -%} staging.crm_iso_date(staging.crm_timestamp({{ source }}, 'UTC'))
{%- elif t == "datetime" -%} staging.crm_iso_datetime(staging.crm_timestamp({{ source }}, settings.legacy_timezone))
{%- elif t == "note_body" -%} left(staging.crm_text({{ source }}), 65536)
{%- elif t == "deal_stage" -%} deal_stage.hubspot_stage_id
{%- elif t == "option" -%} {{ option_value(mapping, source) }}
{%- elif mapping.reference -%} ref_{{ mapping.property }}.hubspot_id
{%- endif -%}
{%- endmacro -%}

{%- macro hubspot_value(mapping, source) -%}
{%- set t = mapping.transform -%}
{%- if t == "option" -%} {{ option_value(mapping, source) }}
{%- elif t == "email" -%} staging.crm_email({{ source }})
{%- elif t == "domain" -%} staging.crm_domain({{ source }})
{%- elif t == "phone" -%} staging.crm_phone({{ source }}, settings.phone_country_code)
{%- elif t == "number" -%} staging.crm_number_text(staging.crm_number({{ source }}))
{%- elif t == "date" -%} staging.crm_iso_date(staging.crm_timestamp({{ source }}, 'UTC'))
{%- elif t == "datetime" -%} staging.crm_iso_datetime(staging.crm_timestamp({{ source }}, 'UTC'))
{%- elif mapping.reference -%} staging.crm_legacy_id({{ source }})::text
{%- else -%} staging.crm_text({{ source }})
{%- endif -%}
{%- endmacro -%}

{#- Why a legacy value cannot be used (NULL when it can), from its source text and value. -#}
{%- macro problem(mapping, source, value) -%}
case
    {%- if mapping.required %}
    when {{ value }} is null then 'required {{ mapping.source }} is empty'
    {%- endif %}
    {%- if mapping.transform in ("number", "date", "datetime") %}
    when {{ source }} is not null and {{ value }} is null
        then '{{ mapping.source }} ' || quote_literal({{ source }}) || ' is not a valid {{ mapping.transform }}'
    {%- elif mapping.transform == "deal_stage" %}
    when {{ source }} is not null then {{ source }}
    {%- endif %}
end
{%- endmacro -%}


{#- A legacy row none of whose properties in usable_when_any has a value is unusable (NULL when
    the rule is empty or a value is there); columns <prefix><property> hold the values. -#}
{%- macro usable_problem(properties, prefix) -%}
{%- if properties -%}
case when {% for p in properties %}{{ prefix ~ p }} is null{{ " and " if not loop.last }}{% endfor %}
    then 'none of {{ properties | join(", ") }} is given'
end
{%- else -%}
null::text
{%- endif -%}
{%- endmacro -%}

{#- The column list that turns a properties JSON object back into columns (jsonb_to_record). -#}
{%- macro property_record(mappings) -%}
{%- for m in mappings %}"{{ m.property }}" text{{ ", " if not loop.last }}{% endfor -%}
{%- endmacro -%}


{#- The JSON columns of a reconciliation row, from columns v_<property> (legacy, canonical) and
    h_<property> (HubSpot, canonical) and a boolean column saying a HubSpot twin is known.
    One json_object call per column, not a chain of one-key objects joined with ||: each ||
    copies the object built so far, which at 16 properties costs three times as much. -#}
{%- macro hubspot_json(mappings, twin) -%}
case when {{ twin }} then json_object(
    {%- for m in mappings %}
    '{{ m.property }}': h_{{ m.property }}{{ "," if not loop.last }}
    {%- endfor %}
    null on null returning jsonb
) end
{%- endmacro -%}

{%- macro field_diffs_json(mappings, twin) -%}
json_object(
    {%- for m in mappings %}
    '{{ m.property }}': case when {{ twin }} and v_{{ m.property }} is distinct from h_{{ m.property }} then jsonb_build_object(
        'legacy', v_{{ m.property }},
        'hubspot', h_{{ m.property }},
        'action', {% if m.reference %}'association: linked, never pushed as a property'
            {%- elif not m.writable %}'read-only: compared, never pushed'
            {%- elif m.clear_when_empty %}case when v_{{ m.property }} is null then 'clear' else 'update' end
            {%- else %}case when v_{{ m.property }} is null then 'kept: the legacy value is empty' else 'update' end
            {%- endif %}
    ) end{{ "," if not loop.last }}
    {%- endfor %}
    absent on null returning jsonb
)
{%- endmacro -%}

{#- Only mapped, writable properties that differ; an empty legacy value clears only when asked.
    References are associations in HubSpot, never properties (push/associations.sql). -#}
{%- macro updates_json(mappings, twin) -%}
json_object(
    {%- for m in mappings if m.writable and not m.reference %}
    '{{ m.property }}': case
        when {{ twin }} and v_{{ m.property }} is distinct from h_{{ m.property }}
            {%- if not m.clear_when_empty %} and v_{{ m.property }} is not null{% endif %}
            then coalesce(v_{{ m.property }}, '')
    end{{ "," if not loop.last }}
    {%- endfor %}
    absent on null returning jsonb
)
{%- endmacro -%}

{#- What the push writes for a row: the changed properties as they are (companies, …), or, for
    activities, in the names of the object the row becomes (registry activities). -#}
{%- macro pushed_properties(o, updates, properties, api_object) -%}
{%- if o.activities -%}
staging.crm_activity_properties({{ api_object }}, {{ properties }}, {{ updates }}, %(activities)s::jsonb)
{%- else -%}
{{ updates }}
{%- endif -%}
{%- endmacro -%}

{#- The HubSpot object a row is written as: the object's, or its activity's (crm_activity_object). -#}
{%- macro api_object_of(o, properties) -%}
{%- if o.activities -%}
staging.crm_activity_object({{ properties }}, %(activities)s::jsonb)
{%- else -%}
'{{ o.api_object }}'::text
{%- endif -%}
{%- endmacro -%}

{#- The legacy ids a row refers to (its associations to be), one JSON object: property → id. -#}
{%- macro references_json(mappings, prefix) -%}
{%- if not mappings | selectattr("reference") | list -%}
'{}'::jsonb
{%- else -%}
json_object(
    {%- for m in mappings if m.reference %}
    '{{ m.property }}': staging.crm_legacy_id({{ prefix }}{{ m.column }}){{ "," if not loop.last }}
    {%- endfor %}
    absent on null returning jsonb
)
{%- endif -%}
{%- endmacro -%}
