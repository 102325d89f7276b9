{#- reads: staging.push_log, staging.<object>_hubspot_source (the mirror, as reconcile reads it) /
    creates: nothing / updates: staging.push_log (verification)

    What earlier runs wrote, checked against the mirror once the sync tool has caught up (verify
    'mirror' or 'sample': no request spent on reading back). A 'pending' write is 'verified' when
    the mirror holds every value sent; 'mismatch' (with the values found) when the mirror differs
    and has caught up with the write (the record's last modification in HubSpot, when the mirror
    carries it, is not older than the write), or still differs push_verify_pending_days after it;
    else it stays 'pending'. A property the mirror does not carry is not judged. -#}
{%- set o = params.object -%}
with pending as (
    select ledger.push_id, ledger.hubspot_id, ledger.properties, ledger.created_at
    from staging.push_log as ledger
    where ledger.object_type = %(object_type)s and ledger.verification = 'pending'
),

mirrored as (
    select
        pending.push_id,
        pending.created_at,
        mirror.hubspot_id is not null as in_mirror,
        staging.crm_timestamp(mirror.mirror_modified_at, 'UTC') as modified_at,
        (
            select jsonb_object_agg(sent.key, found.values ->> sent.key)
            from jsonb_each_text(pending.properties) as sent
            where found.values ? sent.key and not staging.crm_same_value(sent.value, found.values ->> sent.key)
        ) as differences
    from pending
    left join staging.{{ o.name }}_hubspot_source as mirror on mirror.hubspot_id = pending.hubspot_id
    cross join lateral (select to_jsonb(mirror) - 'hubspot_id' - 'mirror_modified_at' as values) as found
    -- With nothing pending (most runs) the mirror is not read at all: a one-time filter, where
    -- the join alone would scan the whole mirror to match no row.
    where exists (select 1 from pending)
),

judged as (
    select
        mirrored.push_id,
        case
            when mirrored.in_mirror and mirrored.differences is null then 'verified'
            when mirrored.in_mirror and mirrored.modified_at >= mirrored.created_at then 'mismatch'
            when mirrored.created_at < now() - make_interval(days => %(verify_pending_days)s) then 'mismatch'
            else 'pending'
        end as verification,
        case
            when mirrored.in_mirror then mirrored.differences
            else jsonb_build_object('record', 'not in the mirror')
        end as found
    from mirrored
),

updated as (
    update staging.push_log as ledger
    set verification = judged.verification, verified_values = judged.found, verified_at = now()
    from judged
    where ledger.push_id = judged.push_id and judged.verification <> 'pending'
    returning judged.verification
)

select jsonb_build_object('mirror_verification', jsonb_build_object(
    'verified', count(*) filter (where updated.verification = 'verified'),
    'mismatch', count(*) filter (where updated.verification = 'mismatch'),
    'pending', (select count(*) from judged where judged.verification = 'pending')
)) as summary
from updated
