-- Swap in the new snapshot inside the load's transaction: readers see the old rows until
-- commit, and a failure anywhere leaves them untouched.
truncate bronze.{{ object.bronze_table }};

insert into bronze.{{ object.bronze_table }} (
    {{ object.bronze_id_column }},
    {%- for column in layout.known %}
    {{ column.name }},
    {%- endfor %}
    _is_deleted,
    _extra,
    _source_file,
    _source_line,
    _snapshot_date,
    _run_id
)
select
    classified.legacy_id,
    {%- for column in layout.known %}
    {% if column.position %}classified.c{{ column.position }}{% else %}null{% endif %},
    {%- endfor %}
    classified.is_deleted,
    {% if layout.extra_positions -%}
    jsonb_strip_nulls(jsonb_object(
        %(extra_keys)s::text [],
        array[{% for position in layout.extra_positions %}classified.c{{ position }}{{ ", " if not loop.last }}{% endfor %}]
    )),
    {%- else -%}
    '{}'::jsonb,
    {%- endif %}
    %(source_file)s,
    classified._line,
    %(snapshot_date)s,
    %(run_id)s
from _bronze_classified as classified
where classified.id_problem is null and classified.id_rank = 1
