{#- reads: pg_constraint / creates: nothing / updates: staging.reconciliation_log,
    staging.bronze_rejects, staging.push_log (their check constraints)

    Schema upgrades: the check constraints of an older schema widened to their current values. -#}

{#- A check constraint of an older schema widened to its current values: replaced unless its
    definition already names ``marker`` (a value the widening added). #}
{% macro widen_check(table, constraint, marker, check) %}
    if not exists (
        select 1 from pg_constraint
        where conname = '{{ constraint }}' and pg_get_constraintdef(oid) like '%{{ marker }}%'
    ) then
        alter table staging.{{ table }} drop constraint if exists {{ constraint }};
        alter table staging.{{ table }} add constraint {{ constraint }} check ({{ check }});
    end if;
{%- endmacro %}
do $ddl$
begin
    -- 'skipped': a step that did not run by decision (a push whose approval was rejected).
    {{- widen_check("reconciliation_log", "reconciliation_log_outcome_check", "skipped",
        "outcome in ('running', 'success', 'failed', 'skipped')") }}
    -- 'refused': a record rejected by a load whose snapshot was refused (issue 26), kept beside
    -- the rejects of the snapshot that stayed, which still add up to it.
    {{- widen_check("bronze_rejects", "bronze_rejects_outcome_check", "refused",
        "outcome in ('rejected', 'repaired', 'refused')") }}
    -- 'pending': verified later, from the mirror (issue 25).
    {{- widen_check("push_log", "push_log_verification_check", "pending",
        "verification in ('verified', 'mismatch', 'pending')") }}
    {{- widen_check("push_log", "push_log_outcome_check", "deferred",
        "outcome in ('in_flight', 'sent', 'rejected', 'failed', 'dry_run', 'deferred', 'skipped')") }}
    {{- widen_check("push_log", "push_log_action_check", "archive",
        "action in ('update', 'create', 'revert', 'archive')") }}
end
$ddl$;
