{#- reads: nothing / creates: nothing / updates: staging.review_decisions

    Record one decision (a new one on the same pair replaces it; the history keeps both). -#}
insert into staging.review_decisions as decision (
    object_type, legacy_id, hubspot_id, verdict, reviewer, comment
) values (
    %(object_type)s, %(legacy_id)s, %(hubspot_id)s, %(verdict)s, %(reviewer)s, %(comment)s
)
on conflict (object_type, legacy_id, coalesce(hubspot_id, '')) do update
set
    verdict = excluded.verdict,
    reviewer = excluded.reviewer,
    comment = excluded.comment,
    decided_at = now(),
    state = 'active',
    stale_reason = null
returning decision.decision_id
