from __future__ import annotations

import pytest
import yaml

from crm_reconciliation.config.paths import REGISTRY_PATH
from crm_reconciliation.config.registry import default_registry, load_registry


def _raw() -> dict:
    return yaml.safe_load(REGISTRY_PATH.read_text(encoding="utf-8"))


def test_registry_holds_the_four_objects_and_the_59_mappings():
    registry = default_registry()
    assert list(registry.objects) == ["companies", "contacts", "deals", "communications"]
    assert sum(len(spec.mappings) for spec in registry.objects.values()) == 59


def test_contract_names_derive_from_the_registry():
    spec = default_registry().get("communications")
    assert spec.dag_id == "crm_reconcile_communications"
    assert spec.staging_table == "communications_reconciliation"
    assert (spec.legacy_key, spec.hubspot_key) == ("legacy_communication_id", "hubspot_engagement_id")
    assert spec.bronze_table == "communication"
    assert spec.csv_file == "Bronze_Communication.csv"


def test_required_columns_are_id_deleted_flag_and_required_sources():
    spec = default_registry().get("contacts")
    assert spec.required_columns == ("Pers_PersonId", "Pers_Deleted")  # a name or an e-mail suffices
    deals = default_registry().get("deals")
    assert deals.required_columns == ("Oppo_OpportunityId", "Oppo_Deleted", "Oppo_Description")


def test_read_only_createdate_is_not_writable():
    for spec in default_registry().objects.values():
        for mapping in spec.mappings:
            if mapping.property == "createdate":
                assert not mapping.writable, spec.name


def _write(tmp_path, raw):
    path = tmp_path / "objects.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda raw: raw["objects"]["companies"].update(legacy_table="Company; drop table x"), "plain SQL identifier"),
        (lambda raw: raw["objects"]["companies"]["mappings"][0].update(transform="magic"), "transform"),
        (
            lambda raw: raw["objects"]["companies"]["mappings"].append(
                {"source": "Comp_Name", "property": "name", "transform": "text"}
            ),
            "maps these properties twice",
        ),
        (lambda raw: raw["objects"]["companies"].update(surprise=True), "surprise"),
        (lambda raw: raw["objects"]["companies"].update(mappings=[]), "has no mappings"),
    ],
    ids=["unsafe-identifier", "unknown-transform", "duplicate-property", "unknown-key", "no-mappings"],
)
def test_invalid_registries_are_refused_with_the_file_named(tmp_path, mutate, message):
    raw = _raw()
    mutate(raw)
    path = _write(tmp_path, raw)
    with pytest.raises(ValueError, match=message) as error:
        load_registry(path)
    assert str(path) in str(error.value)


def test_a_fifth_object_is_a_config_entry(tmp_path):
    raw = _raw()
    raw["objects"]["tickets"] = {
        "entity": "ticket",
        "hubspot_entity": "ticket",
        "schedule": "0 3 * * *",
        "legacy_table": "Cases",
        "legacy_id_column": "Case_CaseId",
        "deleted_column": "Case_Deleted",
        "hubspot_table": "tickets",
        "api_object": "tickets",
        "legacy_id_property": "icalps_ticket_id",
        "mappings": [{"source": "Case_Description", "property": "subject", "transform": "text", "required": True}],
        "model": {
            "comparisons": [
                {
                    "name": "subject",
                    "compare": "text",
                    "properties": ["subject"],
                    "levels": [{"level": "exact", "m": 0.9, "u": 0.01}, {"level": "else", "m": 0.1, "u": 0.99}],
                }
            ]
        },
    }
    spec = load_registry(_write(tmp_path, raw)).get("tickets")
    assert spec.dag_id == "crm_reconcile_tickets"
    assert spec.bronze_columns == ("case_caseid", "case_deleted", "case_description")
