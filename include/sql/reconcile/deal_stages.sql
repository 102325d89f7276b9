{#- reads: nothing / creates: _deal_stages, _deal_outcomes

    The stage maps of an object with a status column (deals): nothing for the others. -#}
{%- set o = params.object %}
{%- if o.status_column %}
-- The deal stage map, keys folded (case and accents ignored).
create temp table _deal_stages on commit drop as
select staging.crm_fold(stage.key) as key, stage.value as stage_id
from jsonb_each_text(%(deal_stages)s::jsonb) as stage;

create temp table _deal_outcomes on commit drop as
select staging.crm_fold(outcome.key) as key, outcome.value as target
from jsonb_each_text(%(deal_outcomes)s::jsonb) as outcome;
{%- else %}
-- {{ o.name }} has no status column: no stage maps.
{%- endif %}
