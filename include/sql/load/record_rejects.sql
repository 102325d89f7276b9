-- Keep every record that will not be loaded, with its file, line, field and reason.
-- Re-running the same logical date replaces that date's rejects for this object.
delete from staging.bronze_rejects
where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s;

insert into staging.bronze_rejects (
    object_type, snapshot_date, run_id, source_file, line_number, field, reason, raw_text
)
select
    %(object_type)s,
    %(snapshot_date)s,
    %(run_id)s,
    %(source_file)s,
    parse_rejects._line,
    parse_rejects.field,
    parse_rejects.reason,
    parse_rejects.raw_text
from _bronze_parse_rejects as parse_rejects

union all

select
    %(object_type)s,
    %(snapshot_date)s,
    %(run_id)s,
    %(source_file)s,
    classified._line,
    %(id_column)s,
    coalesce(
        classified.id_problem,
        'duplicate id ' || classified.legacy_id || ' (line ' || classified.first_line || ' kept)'
    ),
    array_to_string(array[
        {%- for position in layout.all_positions %}
        case
            when classified.c{{ position }} is null then ''
            when strpos(classified.c{{ position }}, %(delimiter)s) > 0
                or classified.c{{ position }} ~ '["\r\n]'
                then '"' || replace(classified.c{{ position }}, '"', '""') || '"'
            else classified.c{{ position }}
        end{{ "," if not loop.last }}
        {%- endfor %}
    ], %(delimiter)s)
from _bronze_classified as classified
where classified.id_problem is not null or classified.id_rank > 1
