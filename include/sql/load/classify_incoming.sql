-- One row per incoming record: its legacy id parsed, why the id is unusable, whether the
-- record is soft-deleted, and its rank among records sharing the id (1 = the one kept:
-- live before deleted, then the earliest line).
create temp table _bronze_classified on commit drop as
with parsed as (
    select
        incoming.*,
        nullif(btrim(incoming.c{{ layout.id_position }}), '') as raw_id,
        nullif(btrim(incoming.c{{ layout.deleted_position }}), '') is not null as is_deleted
    from _bronze_incoming as incoming
),

typed as (
    select
        parsed.*,
        case
            when parsed.raw_id ~ '^[0-9]{1,18}([.,]0*)?$'
                then split_part(replace(parsed.raw_id, ',', '.'), '.', 1)::bigint
        end as legacy_id
    from parsed
)

select
    typed.*,
    case
        when typed.raw_id is null then 'empty id'
        when typed.legacy_id is null then 'non-numeric id ' || quote_literal(typed.raw_id)
    end as id_problem,
    row_number() over by_id as id_rank,
    first_value(typed._line) over by_id as first_line
from typed
window by_id as (partition by typed.legacy_id order by typed.is_deleted, typed._line)
