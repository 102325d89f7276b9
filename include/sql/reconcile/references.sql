{#- reads: hubspot.<referenced mirror table> / creates: ref_<property>_ids

    The references of this object's rows to other objects' records (a contact's company, say):
    legacy ids of other objects resolve to HubSpot ids through those objects' mirrors, when
    exactly one HubSpot record carries the id. Their columns are read as mirror_source.sql reads
    this object's. Nothing for an object without references. -#}
{%- set o = params.object -%}
{% for m in o.mappings if m.reference %}
do $reference$
declare
    mirror_types jsonb;
    id_column text;
    legacy_id_text text;
begin
    mirror_types := staging.crm_mirror_types('{{ m.reference.hubspot_table }}');
    id_column := staging.crm_mirror_key(mirror_types, '{{ m.reference.hubspot_id_column }}');
    if id_column is null or not mirror_types ? '{{ m.reference.legacy_id_property }}' then
        raise exception '{{ m.property }} refers to {{ m.reference.name }}, but hubspot.{{ m.reference.hubspot_table }} is missing or lacks its record id ({{ m.reference.hubspot_id_column }} or id) or {{ m.reference.legacy_id_property }}';
    end if;
    legacy_id_text := staging.crm_mirror_text(
        '{{ m.reference.legacy_id_property }}', mirror_types ->> '{{ m.reference.legacy_id_property }}'
    );
    execute format(
        'create temp table ref_{{ m.property }}_ids on commit drop as '
        'select staging.crm_legacy_id(%s) as legacy_id, min(%s) as hubspot_id '
        'from hubspot.{{ m.reference.hubspot_table }} where staging.crm_legacy_id(%s) is not null '
        'group by 1 having count(*) = 1',
        legacy_id_text, staging.crm_mirror_id(id_column, mirror_types ->> id_column), legacy_id_text
    );
end
$reference$;

create index on ref_{{ m.property }}_ids (legacy_id);
{% else %}
-- {{ o.name }} refers to no other object: no references to resolve.
{% endfor %}
