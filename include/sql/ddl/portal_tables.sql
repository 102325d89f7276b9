{#- reads: nothing / creates: staging.portal_properties, staging.portal_pipelines,
    staging.portal_owners, staging.crm_option_lookup()

    The portal's catalogue, as the push's preflight last read it (push_target=hubspot): each
    property's type, field type and options (label and value) per object; the pipelines and
    their stages; the owners. What the push converts values to, and what reconcile compares with. -#}

create table if not exists staging.portal_properties (
    api_object text not null,
    name text not null,
    type text not null,
    field_type text,
    options jsonb not null default '[]'::jsonb,
    external_options boolean not null default false,
    has_unique_value boolean not null default false,
    read_only boolean not null default false,
    fetched_at timestamptz not null default now(),
    primary key (api_object, name)
);

create table if not exists staging.portal_pipelines (
    api_object text not null,
    pipeline_id text not null,
    pipeline_label text,
    stage_id text not null,
    stage_label text,
    is_default boolean not null default false,
    is_closed boolean not null default false,
    probability numeric,
    fetched_at timestamptz not null default now(),
    primary key (api_object, pipeline_id, stage_id)
);

create table if not exists staging.portal_owners (
    owner_id text primary key,
    email text,
    first_name text,
    last_name text,
    fetched_at timestamptz not null default now()
);

-- An enumeration's keys (crm_option_key) → option value: each option's value and label as the
-- last preflight read them (staging.portal_properties), then the registry's value maps
-- (``value_maps``: property → legacy value → option value). An option's own value wins over a
-- label, a label over a value map. Names are also keyed as written, after '=' (option_value).
create or replace function staging.crm_option_lookup(api_object text, property text, value_maps jsonb) returns jsonb
language sql stable parallel safe
as $fn$
    select coalesce(jsonb_object_agg(keyed.key, named.value order by named.rank desc), '{}'::jsonb)
    from (
        select legacy.key as name, legacy.value, 2 as rank
        from jsonb_each_text(value_maps -> property) as legacy
        union all
        select choice.option ->> field.name, choice.option ->> 'value', field.rank
        from staging.portal_properties as catalogue
        cross join jsonb_array_elements(catalogue.options) as choice (option)
        cross join (values ('label', 1), ('value', 0)) as field (name, rank)
        where catalogue.api_object = crm_option_lookup.api_object and catalogue.name = crm_option_lookup.property
    ) as named
    -- Each name twice: folded, and as written after '=' (most values are written as a name is:
    -- found without folding them, which costs a regular expression a row).
    cross join lateral (values (staging.crm_option_key(named.name)), ('=' || staging.crm_text(named.name))) as keyed (key)
    where keyed.key is not null
$fn$;
