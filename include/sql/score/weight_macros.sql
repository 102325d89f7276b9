{#- reads: nothing / creates: nothing

    Macros of the score task: whether a pair's comparisons agree, how its levels' weights add up
    (correlated groups counting once), and whether it shows identity evidence. -#}
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
