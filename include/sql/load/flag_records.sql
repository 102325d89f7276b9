{#- reads: bronze.<legacy table> / creates: _bronze_flags -#}
-- The records of the new snapshot that need more than loading: an unusable id, a soft-delete
-- flag (or a flag whose meaning is unknown), or an id that several records carry. Everything
-- else stays as COPY wrote it, so the common case costs one pass over the ids. Of records
-- sharing an id, rank 1 is kept: live before deleted, then the earliest line.
create temp table _bronze_flags on commit drop as
with source as (
    select
        bronze_row.ctid as row_ctid,
        bronze_row._source_line,
        staging.crm_legacy_id(bronze_row.{{ layout.id_column | identifier }}) as legacy_id,
        nullif(btrim(bronze_row.{{ layout.id_column | identifier }}), '') as raw_id,
        nullif(btrim(bronze_row.{{ layout.deleted_column | identifier }}), '') as raw_flag
    from bronze.{{ object.bronze_table | identifier }} as bronze_row
),

-- What the soft-delete column says, by the object's deleted_flag setting: false (live),
-- true (deleted) or null (a value the setting does not know: the row is rejected).
parsed as (
    select
        source.*,
        case
            when source.raw_flag is null or lower(source.raw_flag) = any(%(deleted_live)s::text []) then false
            when lower(source.raw_flag) = any(%(deleted_true)s::text []) then true
            when %(deleted_dates)s and staging.crm_timestamp(source.raw_flag, 'UTC') is not null then true
        end as is_deleted
    from source
),

shared_ids as (
    select parsed.legacy_id
    from parsed
    where parsed.legacy_id is not null
    group by parsed.legacy_id
    having count(*) > 1
),

flagged as (
    select parsed.*
    from parsed
    where
        parsed.legacy_id is null
        or parsed.is_deleted is distinct from false
        or parsed.legacy_id in (select shared_ids.legacy_id from shared_ids)
),

ranked as (
    select
        flagged.*,
        case
            when flagged.raw_id is null then 'empty id'
            when flagged.legacy_id is null then 'non-numeric id ' || quote_literal(flagged.raw_id)
        end as id_problem,
        case
            when flagged.is_deleted is null
                then 'soft-delete flag ' || quote_literal(left(flagged.raw_flag, 80))
                    || ' means neither live nor deleted (see deleted_flag in objects.yaml)'
        end as flag_problem,
        row_number() over by_id as id_rank,
        first_value(flagged._source_line) over by_id as first_line
    from flagged
    window by_id as (
        partition by flagged.legacy_id order by coalesce(flagged.is_deleted, true), flagged._source_line
    )
)

select
    ranked.*,
    ranked.id_problem is not null or ranked.flag_problem is not null or ranked.id_rank > 1 as rejected
from ranked
