{#- reads: nothing / creates: staging.review_decisions, staging.review_decision_history,
    staging.crm_review_history()

    What reviewers decided, and every change of it. -#}

-- What reviewers decided about a pair (legacy record, HubSpot record): 'same' (matched, the
-- legacy id queued for HubSpot), 'different' (never proposed again), 'create_new' (the push may
-- create it), 'leave_aside' (out of the queue). One decision per pair (a new one replaces it);
-- score applies the active ones on every run and marks 'stale', saying why, those whose records
-- changed since. model_confidence: the model's confidence for the pair at the last score (the
-- labels the report measures precision and recall against).
create table if not exists staging.review_decisions (
    decision_id bigint generated always as identity primary key,
    object_type text not null,
    legacy_id bigint not null,
    hubspot_id text,
    verdict text not null check (verdict in ('same', 'different', 'create_new', 'leave_aside')),
    reviewer text not null,
    decided_at timestamptz not null default now(),
    comment text,
    state text not null default 'active' check (state in ('active', 'stale')),
    stale_reason text,
    model_confidence numeric(5, 2)
);

create unique index if not exists review_decisions_pair_idx
on staging.review_decisions (object_type, legacy_id, coalesce(hubspot_id, ''));

-- Every change of a decision, by whom and when (written by a trigger: no path around it).
create table if not exists staging.review_decision_history (
    history_id bigint generated always as identity primary key,
    decision_id bigint not null,
    object_type text not null,
    legacy_id bigint not null,
    hubspot_id text,
    change text not null,
    verdict text,
    state text,
    reviewer text,
    comment text,
    stale_reason text,
    changed_at timestamptz not null default clock_timestamp()
);

create or replace function staging.crm_review_history() returns trigger
language plpgsql
as $fn$
declare
    row staging.review_decisions := case when tg_op = 'DELETE' then old else new end;
begin
    insert into staging.review_decision_history (
        decision_id, object_type, legacy_id, hubspot_id, change, verdict, state, reviewer, comment, stale_reason
    ) values (
        row.decision_id, row.object_type, row.legacy_id, row.hubspot_id,
        case
            when tg_op = 'INSERT' then 'recorded'
            when tg_op = 'DELETE' then 'withdrawn'
            when new.state = 'stale' and old.state = 'active' then 'stale'
            else 'changed'
        end,
        row.verdict, row.state, row.reviewer, row.comment, row.stale_reason
    );
    return null;
end
$fn$;

create or replace trigger review_decisions_history
after insert or update or delete on staging.review_decisions
for each row execute function staging.crm_review_history();
