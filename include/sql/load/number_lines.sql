{#- reads: bronze.<legacy table> / creates: _bronze_lines / updates: bronze.<legacy table> -#}
-- COPY numbered records one line each; a record whose quoted fields hold line breaks spans
-- more, and every later record moves down by as many lines.
create temp table _bronze_lines on commit drop as
select
    counted.row_ctid,
    counted.breaks,
    counted._source_line + coalesce(sum(counted.breaks) over (
        order by counted._source_line rows between unbounded preceding and 1 preceding
    ), 0) as line
from (
    select
        ctid as row_ctid,
        _source_line,
        {%- for column in layout.columns | map("identifier") %}
        coalesce(regexp_count({{ column }}, '\r\n?|\n'), 0){{ " +" if not loop.last }}
        {%- endfor %}
        as breaks
    from bronze.{{ object.bronze_table | identifier }}
) as counted;

update bronze.{{ object.bronze_table | identifier }} as bronze_row
set _source_line = lines.line
from _bronze_lines as lines
where bronze_row.ctid = lines.row_ctid and bronze_row._source_line <> lines.line;

-- The line the last record ends on: the file's line count when no line was skipped.
select jsonb_build_object('last_line', coalesce(max(lines.line + lines.breaks), 1))
from _bronze_lines as lines
