{#- Agreement (0-1) of one identity field; NULL when either side is empty (not comparable). -#}
{%- macro agreement(field, legacy, hubspot) -%}
case
    when {{ legacy }} is null or {{ hubspot }} is null then null
    {%- if field.compare == "name" %}
    when staging.crm_fold_name({{ legacy }}) = staging.crm_fold_name({{ hubspot }}) then 1
    else similarity(staging.crm_fold_name({{ legacy }}), staging.crm_fold_name({{ hubspot }}))
    {%- elif field.compare == "text" %}
    when staging.crm_fold({{ legacy }}) = staging.crm_fold({{ hubspot }}) then 1
    else similarity(staging.crm_fold({{ legacy }}), staging.crm_fold({{ hubspot }}))
    {%- elif field.compare == "folded" %}
    else (staging.crm_fold({{ legacy }}) = staging.crm_fold({{ hubspot }}))::integer
    {%- elif field.compare == "email" %}
    when lower({{ legacy }}) = lower({{ hubspot }}) then 1
    when split_part(lower({{ legacy }}), '@', 1) = split_part(lower({{ hubspot }}), '@', 1) then 0.8
    else 0
    {%- elif field.compare == "exact" %}
    else (lower({{ legacy }}) = lower({{ hubspot }}))::integer
    {%- elif field.compare == "number" %}
    when staging.crm_number({{ legacy }}) = staging.crm_number({{ hubspot }}) then 1
    else greatest(0, 1 - abs(staging.crm_number({{ legacy }}) - staging.crm_number({{ hubspot }}))
        / greatest(abs(staging.crm_number({{ legacy }})), abs(staging.crm_number({{ hubspot }}))))
    {%- elif field.compare == "date" %}
    else greatest(0, 1 - abs(
        staging.crm_timestamp({{ legacy }}, 'UTC')::date - staging.crm_timestamp({{ hubspot }}, 'UTC')::date
    ) / 30.0)
    {%- elif field.compare == "datetime" %}
    else greatest(0, 1 - abs(extract(epoch from
        staging.crm_timestamp({{ legacy }}, 'UTC') - staging.crm_timestamp({{ hubspot }}, 'UTC')
    )) / 86400.0)
    {%- endif %}
end
{%- endmacro -%}
