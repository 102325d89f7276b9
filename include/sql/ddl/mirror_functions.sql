{#- reads: information_schema.columns / creates: staging.crm_legacy_id(), staging.crm_mirror_text(),
    staging.crm_mirror_id(), staging.crm_relation_types(), staging.crm_mirror_types(),
    staging.crm_mirror_key()

    Ids and mirror columns: a legacy id as a number, and how a HubSpot mirror's columns are read
    whatever types its sync tool gave them (the SQL expressions reconcile's dynamic SQL pastes). -#}

-- A legacy id as a number: '123', '123.0', ' 123' are the same id; '' and 'abc' are none.
create or replace function staging.crm_legacy_id(value text) returns bigint
language sql immutable parallel safe
as $fn$
    select case
        when length(value) between 1 and 18 and ltrim(value, '0123456789') = '' then value::bigint  -- no regex: cheaper
        when btrim(value) ~ '^[0-9]{1,18}([.,]0*)?$' then split_part(replace(btrim(value), ',', '.'), '.', 1)::bigint
    end
$fn$;

-- How a mirror column is read as text, whatever type the sync tool gave it: a SQL expression
-- for dynamic SQL (format's %s), NULL when there is no such column (no type). json and jsonb
-- values unquoted ('"5001"' and '5001' both read 5001), numbers without trailing zeros
-- (5001.0 reads 5001), anything else cast to text.
create or replace function staging.crm_mirror_text(column_name text, data_type text) returns text
language sql immutable parallel safe
as $fn$
    select case
        when data_type is null then null
        when data_type in ('json', 'jsonb') then format('(%I #>> ''{}'')', column_name)
        when data_type in ('numeric', 'real', 'double precision')
            then format('staging.crm_number_text(%I::numeric)', column_name)
        else format('%I::text', column_name)
    end
$fn$;

-- A mirror's record id as text: as crm_mirror_text, and a JSON number such as 5001.0 as 5001.
create or replace function staging.crm_mirror_id(column_name text, data_type text) returns text
language sql immutable parallel safe
as $fn$
    select case
        when data_type in ('json', 'jsonb') then format(
            'coalesce(staging.crm_legacy_id(%1$s)::text, %1$s)', staging.crm_mirror_text(column_name, data_type)
        )
        else staging.crm_mirror_text(column_name, data_type)
    end
$fn$;

-- The columns of a mirror table and their types (NULL when the table does not exist): how each
-- column is read depends on its type (staging.crm_mirror_text).
create or replace function staging.crm_relation_types(relation_schema text, relation_name text) returns jsonb
language sql stable parallel safe
as $fn$
    select jsonb_object_agg(column_name::text, data_type::text)
    from information_schema.columns
    where table_schema = relation_schema and table_name = relation_name
$fn$;

create or replace function staging.crm_mirror_types(mirror_table text) returns jsonb
language sql stable parallel safe
as $fn$ select staging.crm_relation_types('hubspot', mirror_table) $fn$;

-- A mirror's record-id column: the configured name, else "id" (some sync tools name it so).
create or replace function staging.crm_mirror_key(mirror_types jsonb, preferred text) returns text
language sql immutable parallel safe
as $fn$
    select case when mirror_types ? preferred then preferred when mirror_types ? 'id' then 'id' end
$fn$;
