-- The records of the new snapshot that need more than loading: an unusable id, a soft-delete
-- flag, or an id that several records carry. Everything else stays as COPY wrote it, so the
-- common case costs one pass over the ids. Of records sharing an id, rank 1 is kept: live
-- before deleted, then the earliest line.
create temp table _bronze_flags on commit drop as
with parsed as (
    select
        bronze_row.ctid as row_ctid,
        bronze_row._source_line,
        staging.crm_legacy_id(bronze_row.{{ layout.id_column }}) as legacy_id,
        nullif(btrim(bronze_row.{{ layout.id_column }}), '') as raw_id,
        nullif(btrim(bronze_row.{{ layout.deleted_column }}), '') is not null as is_deleted
    from bronze.{{ object.bronze_table }} as bronze_row
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
        or parsed.is_deleted
        or parsed.legacy_id in (select shared_ids.legacy_id from shared_ids)
),

ranked as (
    select
        flagged.*,
        case
            when flagged.raw_id is null then 'empty id'
            when flagged.legacy_id is null then 'non-numeric id ' || quote_literal(flagged.raw_id)
        end as id_problem,
        row_number() over by_id as id_rank,
        first_value(flagged._source_line) over by_id as first_line
    from flagged
    window by_id as (partition by flagged.legacy_id order by flagged.is_deleted, flagged._source_line)
)

select
    ranked.*,
    ranked.id_problem is not null or ranked.id_rank > 1 as rejected
from ranked
