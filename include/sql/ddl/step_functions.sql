{#- reads: nothing / creates: staging.crm_set_local(), staging.crm_pool_levels()

    What the steps call for themselves: a transaction's memory settings (macros/session.sql), and
    the pooling of a comparison's levels whose weights invert (score/pooled.sql). -#}

-- A setting for the current transaction, or NULL when the server refuses it (temp_buffers
-- cannot change once the session has used a temporary table): a step asks for memory and
-- keeps working without it.
create or replace function staging.crm_set_local(setting text, value text) returns text
language plpgsql volatile
as $fn$
begin
    return set_config(setting, value, true);
exception when others then
    return null;
end
$fn$;

-- A comparison's m per level made monotone against its u (pool adjacent violators): levels go
-- from the closest to the loosest, and where a looser level weighs more (log m/u) than a closer
-- one, the two are pooled into one weight, keeping their total m. Returns the new m per level.
create or replace function staging.crm_pool_levels(m float8 [], u float8 []) returns float8 []
language plpgsql immutable parallel safe
as $fn$
declare
    block_m float8 [] := '{}';
    block_u float8 [] := '{}';
    block_start integer [] := '{}';
    blocks integer := 0;
    pooled float8 [] := m;
    block_end integer;
begin
    for level in 1..cardinality(m) loop
        blocks := blocks + 1;
        block_m[blocks] := m[level];
        block_u[blocks] := u[level];
        block_start[blocks] := level;
        while blocks > 1 and block_m[blocks] / block_u[blocks] > block_m[blocks - 1] / block_u[blocks - 1] * (1 + 1e-9) loop
            block_m[blocks - 1] := block_m[blocks - 1] + block_m[blocks];
            block_u[blocks - 1] := block_u[blocks - 1] + block_u[blocks];
            blocks := blocks - 1;
        end loop;
    end loop;
    for block in 1..blocks loop
        block_end := case when block < blocks then block_start[block + 1] - 1 else cardinality(m) end;
        if block_end > block_start[block] then
            for level in block_start[block]..block_end loop
                pooled[level] := u[level] * block_m[block] / block_u[block];
            end loop;
        end if;
    end loop;
    return pooled;
end
$fn$;
