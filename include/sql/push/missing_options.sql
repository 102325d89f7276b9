{#- reads: staging.push_held_values, staging.portal_properties / creates: nothing

    Run param create_options: the legacy values this run holds back because an enumeration of the
    portal has no such option (not a stage, a pipeline or an owner: those are the portal's own
    records), per HubSpot object and property, for the preflight to add. -#}
select held.api_object, held.property, array_agg(distinct staging.crm_text(held.value) order by staging.crm_text(held.value))
from staging.push_held_values as held
join staging.portal_properties as catalogue
    on catalogue.api_object = held.api_object and catalogue.name = held.property
where
    held.object_type = %(object_type)s
    and held.run_id = %(run_id)s
    and catalogue.type = 'enumeration'
    and not catalogue.external_options
    and held.property not in ('dealstage', 'pipeline', 'hubspot_owner_id')
    -- No option takes it (a value held for another reason, a shared unique one, is an option).
    and held.allowed is not null
    and not held.allowed ? staging.crm_text(held.value)
    and staging.crm_text(held.value) is not null
    and length(held.value) <= 65536  -- held for its length: no option can take it
group by held.api_object, held.property
order by held.api_object, held.property
