{#- reads: nothing / creates: nothing

    Macros of the score task: its work tables' names, and how a comparison reads, prepares and
    compares both sides' values and which level the agreement hits (weight_macros.sql weighs
    the levels, explain_macros.sql explains a pair's score). -#}
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
