{#- reads: information_schema.tables (and every table it lists) / creates: staging.crm_row_counts()

    Rows per table of the bronze and staging schemas (exact counts: these tables are the product). -#}
create or replace function staging.crm_row_counts() returns jsonb
language plpgsql stable
as $fn$
declare
    counts jsonb := '{}'::jsonb;
    tables record;
    rows bigint;
begin
    for tables in
        select table_schema, table_name from information_schema.tables
        where table_schema in ('bronze', 'staging') and table_type = 'BASE TABLE'
        order by 1, 2
    loop
        execute format('select count(*) from %I.%I', tables.table_schema, tables.table_name) into rows;
        counts := counts || jsonb_build_object(tables.table_schema || '.' || tables.table_name, rows);
    end loop;
    return counts;
end
$fn$;

select staging.crm_row_counts() as row_counts
