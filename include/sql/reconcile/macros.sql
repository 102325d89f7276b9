{#- How each transform turns a value into the canonical text that is compared and pushed. -#}

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
{%- elif mapping.reference -%} ref_{{ mapping.property }}.hubspot_id
{%- endif -%}
{%- endmacro -%}

{%- macro hubspot_value(mapping, source) -%}
{%- set t = mapping.transform -%}
{%- if t == "email" -%} staging.crm_email({{ source }})
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
