"""Only what a real portal takes (issue 23): the four DAGs push live, with create_missing, into the
strict stand-in (options, pipelines, formats, unique e-mail, the closed-won rule, date-based
paths only), from exports that speak the legacy vocabulary.

The bundled exports get new records written here in the legacy's own words; what the portal
must hold afterwards is spelt out below from DOMAIN.md and the portal's catalogue, not from the
code under test.
"""

from __future__ import annotations

import csv
import re
import shutil

import pytest

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from tests.hubspot_spec import validate_all
from tests.integration.dags.test_migration import ORDER, by_legacy_id, dags, portal

pytestmark = pytest.mark.integration

__all__ = ["dags", "portal"]  # test_migration's fixtures: the DagBag, the portal the mirror describes

REGISTRY = default_registry()
BRONZE = PROJECT_ROOT / "include" / "bronze_layer"
DATED = re.compile(r"^/crm/(objects|associations|properties|pipelines|owners)/2026-09(/|$|\?)")

# New legacy records in the legacy's words: (file, encoding, delimiter, rows).
COMPANIES = [
    {
        "Comp_CompanyId": "9001",
        "Comp_Name": "Radiocom Alpes",
        "Comp_Type": "Client",
        "Comp_Sector": "Télécommunications",
        "Comp_Employees": "1 200",
        "Comp_WebSite": "radiocom-9001.fr",
    },
    {
        "Comp_CompanyId": "9002",
        "Comp_Name": "Fibres du Vercors",
        "Comp_Type": " prospect ",
        "Comp_Sector": "telecommunications",
        "Comp_WebSite": "fibres-9002.fr",
    },
    {
        "Comp_CompanyId": "9003",
        "Comp_Name": "Capteurs Connectés",
        "Comp_Type": "Partner",
        "Comp_Sector": "Industrial IoT",
        "Comp_WebSite": "capteurs-9003.fr",
    },
    {
        "Comp_CompanyId": "9004",
        "Comp_Name": "Objets Savoyards",
        "Comp_Type": "Fournisseur",
        "Comp_Sector": "Industrial IoT",
        "Comp_WebSite": "objets-9004.fr",
    },
    {
        "Comp_CompanyId": "9005",
        "Comp_Name": "Coopérative Silicium",
        "Comp_Type": "Coopérative",
        "Comp_Sector": "Semiconductors",
        "Comp_WebSite": "silicium-9005.fr",
    },
]
PERSONS = [
    {
        "pers_personid": "9101",
        "pers_firstname": "Anne",
        "pers_lastname": "Martinez-9101",
        "pers_emailaddress": "Anne Martinez <Anne.Martinez@radiocom-9001.fr>",
        "pers_companyid": "9001",
    },
    {
        "pers_personid": "9102",
        "pers_firstname": "Jean",
        "pers_lastname": "Dupontel-9102",
        "pers_emailaddress": "jean dupontel@radiocom-9001.fr",
        "pers_companyid": "9001",
    },
    {
        "pers_personid": "9103",
        "pers_firstname": "Léa",
        "pers_lastname": "Garnier-9103",
        "pers_emailaddress": "accueil@radiocom-9001.fr",
        "pers_companyid": "9001",
    },
    {
        "pers_personid": "9104",
        "pers_firstname": "Marc",
        "pers_lastname": "Fabre-9104",
        "pers_emailaddress": "ACCUEIL@radiocom-9001.fr",
        "pers_companyid": "9001",
    },
]
DEALS = [
    {
        "Oppo_OpportunityId": "9201",
        "Oppo_Description": "Antennes 5G Radiocom",
        "Oppo_PrimaryCompanyId": "9001",
        "Oppo_Stage": "Qualified",
        "Oppo_Status": "En cours",
        "Oppo_Type": "Nouveau client",
        "Oppo_Forecast": "12 500,50",
        "Oppo_TargetClose": "14/03/2027",
    },
    {
        "Oppo_OpportunityId": "9202",
        "Oppo_Description": "Modules fibre Vercors",
        "Oppo_PrimaryCompanyId": "9002",
        "Oppo_Stage": "Design Win",
        "Oppo_Status": "Gagnée",
        "Oppo_Type": "New Business",
    },
    {
        "Oppo_OpportunityId": "9203",
        "Oppo_Description": "Capteurs IoT lot 2",
        "Oppo_PrimaryCompanyId": "9003",
        "Oppo_Stage": "Design Win",
        "Oppo_Status": "Gagnée",
        "Oppo_Type": "Renouvellement",
        "Oppo_TargetClose": "2026-11-30",
    },
]
COMMUNICATIONS = [
    {
        "Comm_CommunicationId": "9301",
        "Comm_Type": "Appointment",
        "Comm_Action": "Letter",
        "Comm_Status": "Complete",
        "Comm_Subject": "Courrier de relance 9301",
        "Comm_DateTime": "2026-10-01 09:30:00.000",
        "CmLi_Comm_CompanyId": "9001",
    },
    {
        "Comm_CommunicationId": "9302",
        "Comm_Type": "Task",
        "Comm_Action": "PhoneOut",
        "Comm_Status": "Cancelled",
        "Comm_Subject": "Appel annulé 9302",
        "Comm_DateTime": "2026-10-02 10:00:00.000",
        "CmLi_Comm_CompanyId": "9001",
    },
    {
        "Comm_CommunicationId": "9303",
        "Comm_Type": "Task",
        "Comm_Action": "ToDo",
        "Comm_Status": "Cancelled",
        "Comm_Subject": "Tâche annulée 9303",
        "Comm_DateTime": "2026-10-03 11:00:00.000",
        "CmLi_Comm_CompanyId": "9001",
    },
    {
        "Comm_CommunicationId": "9304",
        "Comm_Type": "Appointment",
        "Comm_Action": "",
        "Comm_Status": "Complete",
        "Comm_Subject": "Rendez-vous 9304",
        "Comm_DateTime": "2026-10-04 14:00:00.000",
        "CmLi_Comm_CompanyId": "9001",
    },
]
EXTRA = {
    "Bronze_Company.csv": ("utf-8-sig", ",", COMPANIES),
    "Bronze_Person.csv": ("cp1252", ";", PERSONS),
    "Bronze_Opportunity.csv": ("utf-8", ",", DEALS),
    "Bronze_Communication.csv": ("utf-8", ",", COMMUNICATIONS),
}

# What the portal must hold for each new record (DOMAIN.md; the stand-in's catalogue): options by
# value, label or value map; numbers plain; one address; a stage with its pipeline.
EXPECTED = {
    ("companies", "9001"): {"type": "CUSTOMER", "industry": "TELECOMMUNICATIONS", "numberofemployees": "1200"},
    ("companies", "9002"): {"type": "PROSPECT", "industry": "TELECOMMUNICATIONS"},
    ("companies", "9003"): {"type": "PARTNER", "industry": None},
    ("companies", "9004"): {"type": "VENDOR", "industry": None},
    ("companies", "9005"): {"type": None, "industry": "SEMICONDUCTORS"},
    ("contacts", "9101"): {"email": "anne.martinez@radiocom-9001.fr"},
    ("contacts", "9102"): {"email": None, "lastname": "Dupontel-9102"},
    ("contacts", "9103"): {"email": "accueil@radiocom-9001.fr"},
    ("contacts", "9104"): {"email": None},
    ("deals", "9201"): {
        "dealstage": "85103753",
        "pipeline": "85103751",
        "dealtype": "newbusiness",
        "amount": "12500.5",
    },
    ("deals", "9202"): {"dealstage": None, "dealtype": "newbusiness"},
    ("deals", "9203"): {"dealstage": "85103757", "pipeline": "85103751", "dealtype": "existingbusiness"},
    ("notes", "9301"): {},
    ("calls", "9302"): {"hs_call_status": "CANCELED", "hs_call_direction": "OUTBOUND"},
    ("tasks", "9303"): {"hs_task_status": None},
    ("meetings", "9304"): {"hs_meeting_outcome": "COMPLETED"},
}
# (object, property, legacy value) → the new records whose value is held back, never sent.
HELD = {
    ("companies", "industry", "Industrial IoT"): {9003, 9004},
    ("companies", "type", "Coopérative"): {9005},
    ("contacts", "email", "jean dupontel@radiocom-9001.fr"): {9102},
    ("contacts", "email", "accueil@radiocom-9001.fr"): {9104},
    ("deals", "dealstage", "85103757"): {9202},
    ("communications", "hs_task_status", "Cancelled"): {9303},
}


def exports_in_legacy_words(folder):
    """The bundled exports plus the new records above, each file in its own encoding and delimiter."""
    for name, (encoding, delimiter, rows) in EXTRA.items():
        shutil.copy(BRONZE / name, folder / name)
        with (folder / name).open(encoding=encoding, newline="") as handle:
            header = next(csv.reader(handle, delimiter=delimiter))
        header = [column.removeprefix("\ufeff") for column in header]
        with (folder / name).open("a", encoding=encoding.removesuffix("-sig"), newline="") as handle:
            writer = csv.writer(handle, delimiter=delimiter, lineterminator="\r\n" if delimiter == ";" else "\n")
            for row in rows:
                writer.writerow([row.get(column, "") for column in header])
    return folder


def test_a_live_migration_writes_only_values_the_portal_takes(db, portal, dags, tmp_path):
    conf = {
        "bronze_dir": str(exports_in_legacy_words(tmp_path)),
        "push_target": "hubspot",
        "dry_run": False,
        "require_approval": False,
        "create_missing": True,
        "create_properties": True,
        "min_confidence": 90,
    }
    seeded = len(portal.requests)  # the portal's own set-up (its associations) is not the push's
    runs = {name: portal_run(dags, name, conf) for name in ORDER}
    assert {name: str(run.state) for name, run in runs.items()} == dict.fromkeys(ORDER, "success")

    # Zero refusals of values: no 400, no 409, and no input refused in a 207.
    assert portal.statuses[400] == 0, [r[2] for r in portal.requests if r[3] == 400][:2]
    assert portal.statuses[409] == 0
    refused = db.execute("select legacy_id, error from staging.push_log where outcome <> 'sent'").fetchall()
    assert refused == []
    assert max(portal.applied.values()) == 1  # every write landed once
    # The date-based API only, every body as HubSpot's 2026-09 specs describe it.
    assert [path for _, path, _, _ in portal.requests[seeded:] if not DATED.match(path)] == []
    assert validate_all(portal) == []

    # Every new record landed once, with the values converted to the portal's.
    for (api_object, legacy), wanted in EXPECTED.items():
        name = api_object if api_object in ORDER else "communications"
        places = by_legacy_id(portal, name).get(legacy, [])
        assert [place[0] for place in places] == [api_object], (legacy, places)
        record = portal.objects[api_object][places[0][1]]
        assert {key: record.get(key) or None for key in wanted} == wanted, (api_object, legacy, record)

    # Every value held back is listed with its count and reason, and was never sent.
    held = {}
    for object_type, prop, value, legacy_ids, reasons in db.execute(
        "select object_type, property, value, array_agg(legacy_id), array_agg(distinct reason)"
        " from staging.push_held_values group by 1, 2, 3"
    ):
        held[object_type, prop, value] = (set(legacy_ids), reasons)
    for key, legacy_ids in HELD.items():
        assert key in held, (key, sorted(held))
        assert legacy_ids <= held[key][0], (key, held[key])
    assert "not one of its options" in held["companies", "industry", "Industrial IoT"][1][0]
    assert "closedate" in held["deals", "dealstage", "85103757"][1][0]
    sent = [
        (item["id"], prop, value)
        for _, path, body, _ in portal.requests
        if "/batch/upsert" in path
        for item in body["inputs"]
        for prop, value in item["properties"].items()
    ]
    for (_, prop, value), legacy_ids in HELD.items():
        for legacy in legacy_ids:
            assert not [s for s in sent if s[0] == str(legacy) and s[1] == prop], (legacy, prop, value)


def portal_run(dags, name, conf):
    return dags[REGISTRY.get(name).dag_id].test(run_conf=conf)
