{#- reads: nothing / creates: nothing

    Memory for a set-based step (registry defaults work_mem, temp_buffers), for its
    transaction only: with PostgreSQL's defaults a million-row join sorts on disk. The first
    statement of the step, before any temporary table. -#}
{%- macro step_memory() -%}
select
    staging.crm_set_local('temp_buffers', %(settings)s::jsonb ->> 'temp_buffers') as temp_buffers,
    staging.crm_set_local('work_mem', %(settings)s::jsonb ->> 'work_mem') as work_mem,
    staging.crm_set_local('maintenance_work_mem', %(settings)s::jsonb ->> 'work_mem') as maintenance_work_mem;
{%- endmacro -%}
