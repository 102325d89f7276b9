{#- reads: bronze.<legacy table> / creates: nothing -#}
-- The live records of the snapshot about to be replaced: a new snapshot that drops too many of
-- them is refused. previous_values: for each mapped column the new file lacks (in the layout's
-- order), how many of those records hold a value in it; the new snapshot would empty them.
select jsonb_build_object(
    'previous_live', count(*),
    'previous_values', jsonb_build_array(
        {%- for column in layout.missing_columns %}
        count(*) filter (where btrim(bronze_row.{{ column | lower | identifier }}) <> ''){{ "," if not loop.last }}
        {%- endfor %}
    )
)
from bronze.{{ object.bronze_table | identifier }} as bronze_row
where not bronze_row._is_deleted
