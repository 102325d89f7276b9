{#- reads: pg_extension / creates: extension pg_trgm, extension fuzzystrmatch, schema bronze, schema
    staging

    The first file of create_staging: idempotent DDL for one object type, the shared schemas,
    functions and bookkeeping tables, then this object's bronze and staging tables, in the files
    dag_factory.CREATE_STAGING_SCRIPTS lists. Safe to run concurrently from several DAGs: the
    advisory lock serialises them for the length of the task's one transaction. -#}
select pg_advisory_xact_lock(hashtext('crm_reconciliation.ddl'));

-- pg_trgm (similarity of names and texts) and fuzzystrmatch (edit distance of single words)
-- power similarity matching; creating them needs a privileged role. Checked first, so that a
-- role without them learns this before anything else is created.
do $ddl$
declare
    needed text;
begin
    foreach needed in array array['pg_trgm', 'fuzzystrmatch'] loop
        if not exists (select 1 from pg_extension where extname = needed) then
            begin
                execute format('create extension %I', needed);
            exception
                when insufficient_privilege then
                    raise exception
                        'crm_reconciliation needs the PostgreSQL extension %, and role "%" may not create it',
                        needed, current_user
                        using hint = format(
                            'Ask a database owner or superuser to run: CREATE EXTENSION %s; in database %I',
                            needed, current_database()
                        );
                when undefined_file or feature_not_supported then
                    raise exception
                        'crm_reconciliation needs the PostgreSQL extension %, which this server does not ship', needed
                        using hint = 'Install the PostgreSQL contrib package on the database server.';
            end;
        end if;
    end loop;
end
$ddl$;

create schema if not exists bronze;
create schema if not exists staging;
