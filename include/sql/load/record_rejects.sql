{#- reads: _bronze_parse_rejects, _bronze_flags, bronze.<legacy table> / creates: nothing / updates:
    staging.bronze_rejects -#}
-- Keep every record that will not be loaded, with its file, line, field and reason.
-- Re-running the same logical date replaces that date's rejects for this object.
delete from staging.bronze_rejects
where object_type = %(object_type)s and snapshot_date = %(snapshot_date)s;

insert into staging.bronze_rejects (
    object_type, snapshot_date, run_id, source_file, line_number, field, reason, raw_text, outcome
)
select
    %(object_type)s,
    %(snapshot_date)s,
    %(run_id)s,
    %(source_file)s,
    parse_rejects._line,
    parse_rejects.field,
    parse_rejects.reason,
    parse_rejects.raw_text,
    parse_rejects.outcome
from _bronze_parse_rejects as parse_rejects

union all

select
    %(object_type)s,
    %(snapshot_date)s,
    %(run_id)s,
    %(source_file)s,
    flags._source_line,
    case when flags.id_problem is null and flags.flag_problem is not null then %(deleted_column)s else %(id_column)s end,
    coalesce(
        flags.id_problem,
        flags.flag_problem,
        'duplicate id ' || flags.legacy_id || ' (line ' || flags.first_line || ' kept)'
    ),
    array_to_string(array[
        {#- a % in a file's column name must not read as a placeholder: written %% #}
        {%- for column in layout.columns | map("identifier") | map("replace", "%", "%%") %}
        case
            when bronze_row.{{ column }} is null then ''
            when strpos(bronze_row.{{ column }}, %(delimiter)s) > 0
                or bronze_row.{{ column }} ~ '["\r\n]'
                then '"' || replace(bronze_row.{{ column }}, '"', '""') || '"'
            else bronze_row.{{ column }}
        end{{ "," if not loop.last }}
        {%- endfor %}
    ], %(delimiter)s),
    'rejected'
from bronze.{{ object.bronze_table | identifier }} as bronze_row
inner join _bronze_flags as flags on bronze_row.ctid = flags.row_ctid
where bronze_row.ctid = any(array(select rejected.row_ctid from _bronze_flags as rejected where rejected.rejected))
