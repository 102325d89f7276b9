"""The migration end to end: the four DAGs, run for real, push live into a strict HubSpot stand-in.

The stand-in starts as the portal the mirror describes (its records, its associations) and
enforces a portal's rules (property catalogue, unique legacy ids, v4 associations). The
expectations are built here from the legacy files and DOMAIN.md's rules, not from the code
under test: which legacy records must exist, which object an activity becomes, which
association type links what.
"""

from __future__ import annotations

import copy
import json
from collections import Counter

import pytest
import requests
from airflow.dag_processing.dagbag import DagBag

from crm_reconciliation.config.paths import PROJECT_ROOT
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.push.service import same_value
from crm_reconciliation_dev.demo_mirror import load_demo_mirror
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.hubspot_spec import validate_all

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
ORDER = ("companies", "contacts", "deals", "communications")
ACTIVITIES = ("notes", "calls", "emails", "meetings", "tasks")
# DOMAIN.md: Comm_Action picks the activity (Comm_Type confirms), anything else is a note.
BY_ACTION = {
    "meeting": "meetings",
    "emailout": "emails",
    "emailin": "emails",
    "phoneout": "calls",
    "phonein": "calls",
    "todo": "tasks",
}
BY_TYPE = {"appointment": "meetings", "task": "tasks"}
# DOMAIN.md's default association type ids (from → to).
DEFAULT_TYPES = {
    ("contacts", "companies"): 279,
    ("deals", "companies"): 341,
    ("deals", "contacts"): 3,
    **{
        (activity, "contacts"): type_id for activity, type_id in zip(ACTIVITIES, (202, 194, 198, 200, 204), strict=True)
    },
    **{
        (activity, "companies"): type_id
        for activity, type_id in zip(ACTIVITIES, (190, 182, 186, 188, 192), strict=True)
    },
    **{(activity, "deals"): type_id for activity, type_id in zip(ACTIVITIES, (214, 206, 210, 212, 216), strict=True)},
}
PRIMARY = {("contacts", "companies"): 1, ("deals", "companies"): 5}
# Legacy reference columns (bronze) per object: → the object they name.
REFERENCES = {
    "contacts": {"pers_companyid": "companies"},
    "deals": {"oppo_primarycompanyid": "companies", "pers_personid": "contacts"},
    "communications": {"comm_opportunityid": "deals", "comp_companyid": "companies", "pers_personid": "contacts"},
}
LIVE = {"conn_type": "http", "schema": "http"}


def activity_of(action: str | None, kind: str | None) -> str:
    return BY_ACTION.get((action or "").strip().lower()) or BY_TYPE.get((kind or "").strip().lower()) or "notes"


def seed_portal(db) -> dict[str, dict[str, dict]]:
    """The portal as the mirror shows it: each record with its legacy id (a unique property: a
    second record carrying an id keeps none), engagements under the object their type implies."""
    seen: set[tuple[str, str]] = set()
    portal: dict[str, dict[str, dict]] = {name: {} for name in ("companies", "contacts", "deals", *ACTIVITIES)}
    for name in ORDER:
        spec = REGISTRY.get(name)
        cursor = db.execute(f"select * from hubspot.{spec.hubspot_table}")
        columns = [column.name for column in cursor.description]
        for values in cursor:
            row = dict(zip(columns, values, strict=True))
            legacy = (row.get(spec.legacy_id_property) or "").strip().removesuffix(".0")
            target = (
                activity_of(row.get("hs_call_direction"), row.get("hs_engagement_type")) if name == ORDER[3] else name
            )
            record = {"hs_object_id": row["hs_object_id"]}
            if legacy.isdigit() and (target, legacy) not in seen and (name, legacy) not in seen:
                seen.add((name, legacy))
                record[spec.legacy_id_property] = legacy
            portal[target][row["hs_object_id"]] = record
    return portal


def seed_links(server: FakeCrm, db) -> None:
    """The associations the mirror shows (contact → company, deal → contact), made as a portal holds them."""
    for source, target, query in (
        ("contacts", "companies", "select hs_object_id, associatedcompanyid from hubspot.contacts"),
        ("deals", "contacts", "select hs_object_id, primary_contact_id from hubspot.deals"),
    ):
        inputs = [
            {"from": {"id": record}, "to": {"id": linked}}
            for record, linked in db.execute(query)
            if record in server.objects[source] and linked in server.objects[target]
        ]
        answer = requests.post(
            f"{server.url}/crm/v4/associations/{source}/{target}/batch/associate/default",
            json={"inputs": inputs},
            headers={"Authorization": f"Bearer {server.token}"},
            timeout=10,
        )
        assert answer.status_code in (200, 201), answer.text
        assert inputs


def run_all(dags) -> dict[str, str]:
    conf = {
        "push_target": "hubspot",
        "dry_run": False,
        "require_approval": False,
        "create_missing": True,
        "create_properties": True,
        "link_probable": True,
        # The lowest probable threshold of the registry: every probable twin is linked by this run.
        "min_confidence": min(
            spec.matching.probable_min_confidence for spec in REGISTRY.objects.values() if spec.matching
        ),
    }
    return {name: str(dags[REGISTRY.get(name).dag_id].test(run_conf=conf).state) for name in ORDER}


def by_legacy_id(server: FakeCrm, name: str) -> dict[str, list[tuple[str, str]]]:
    """Legacy id → the (object, record id) pairs carrying it in the stand-in."""
    spec = REGISTRY.get(name)
    found: dict[str, list[tuple[str, str]]] = {}
    for api_object in ACTIVITIES if name == "communications" else (name,):
        for record_id, properties in server.objects[api_object].items():
            legacy = properties.get(spec.legacy_id_property)
            if legacy:
                found.setdefault(str(legacy), []).append((api_object, record_id))
    return found


def staging(db, name: str) -> dict[int, str]:
    spec = REGISTRY.get(name)
    return dict(db.execute(f"select {spec.legacy_key}, reconciliation_status from staging.{spec.staging_table}"))


def writes(server: FakeCrm) -> list[str]:
    return [
        path
        for method, path, _, _ in server.requests
        if method == "POST" and ("/batch/update" in path or "/batch/upsert" in path or path.endswith("/batch/create"))
    ]


def point_at(server: FakeCrm, monkeypatch) -> None:
    """The hubspot_api connection, for the DAG runs of this test, at the stand-in."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUBSPOT_API",
        json.dumps({**LIVE, "host": server.url.removeprefix("http://"), "password": server.token}),
    )


@pytest.fixture
def portal(airflow_db, db, monkeypatch):
    load_demo_mirror(db)
    with FakeCrm(seed=seed_portal(db)) as server:
        seed_links(server, db)
        point_at(server, monkeypatch)
        yield server


@pytest.fixture(scope="module")
def dags():
    return DagBag(dag_folder=str(PROJECT_ROOT / "dags")).dags


def test_a_portal_that_lacks_the_custom_properties_gets_nothing_and_one_message(airflow_db, db, dags, monkeypatch):
    load_demo_mirror(db)
    # The mirror's records, without the custom properties this portal does not have yet.
    bare = {name: {record_id: {} for record_id in records} for name, records in seed_portal(db).items()}
    with FakeCrm(seed=bare, custom_properties=False) as server:
        point_at(server, monkeypatch)
        run = dags["crm_reconcile_companies"].test(
            run_conf={"push_target": "hubspot", "create_missing": True, "require_approval": False}
        )
    assert str(run.state) == "failed"
    assert writes(server) == []
    assert server.statuses[400] == 0
    message = db.execute(
        "select message from staging.reconciliation_log where run_id = %s and step = 'push'", (run.run_id,)
    ).fetchone()[0]
    for problem in ("companies.icalps_company_id: missing unique", "companies.territory: missing", "create_properties"):
        assert problem in message
    assert db.execute("select count(*) from staging.push_log").fetchone()[0] == 0


def test_missing_custom_properties_are_created_when_asked(airflow_db, db, dags, monkeypatch):
    load_demo_mirror(db)
    # The mirror's records, without the custom properties this portal does not have yet.
    bare = {name: {record_id: {} for record_id in records} for name, records in seed_portal(db).items()}
    with FakeCrm(seed=bare, custom_properties=False) as server:
        point_at(server, monkeypatch)
        conf = {"push_target": "hubspot", "create_missing": True, "create_properties": True, "require_approval": False}
        run = dags["crm_reconcile_companies"].test(run_conf=conf)
    assert str(run.state) == "success"
    created = server.properties["companies"]
    assert created["icalps_company_id"]["hasUniqueValue"] is True
    assert {created[name]["groupName"] for name in ("icalps_company_id", "territory", "lead_source")} == {"icalps"}
    assert server.statuses[400] == 0


def test_the_four_dags_finish_the_migration_and_a_rerun_sends_nothing(db, portal, dags):
    assert run_all(dags) == dict.fromkeys(ORDER, "success")
    assert portal.statuses[400] == 0, [r for r in portal.requests if r[3] == 400][:3]

    homes: dict[str, dict[str, list[tuple[str, str]]]] = {}
    linked_twins = 0
    for name in ORDER:
        homes[name] = found = by_legacy_id(portal, name)
        statuses = staging(db, name)
        spec = REGISTRY.get(name)
        linkable = {
            row[0]
            for row in db.execute(
                f"select {spec.legacy_key} from staging.{spec.staging_table}"
                " where reconciliation_status = 'probable' and match_confidence >= %s",
                [min(spec.matching.probable_min_confidence for spec in REGISTRY.objects.values() if spec.matching)],
            )
        }
        for legacy_id, status in statuses.items():
            if status in ("matched", "new"):
                assert len(found.get(str(legacy_id), [])) == 1, (
                    f"{name} {legacy_id} ({status}): {found.get(str(legacy_id))}"
                )
            elif status == "probable" and legacy_id in linkable:  # link_probable: the twin carries the id
                assert len(found.get(str(legacy_id), [])) == 1, f"{name} probable {legacy_id}"
            else:
                assert status in ("conflict", "rejected"), (name, legacy_id, status)
        linked_twins += len(linkable)
        created = [legacy for legacy, status in statuses.items() if status == "new"]
        assert created, f"the sample has {name} HubSpot lacks"
    assert linked_twins > 0

    # Every communication created is the object its action implies (a linked one stays what it is).
    bronze = {
        row[0]: row[1:]
        for row in db.execute(
            "select staging.crm_legacy_id(comm_communicationid), comm_action, comm_type from bronze.communication_live"
        )
    }
    created = [legacy for legacy, status in staging(db, "communications").items() if status == "new"]
    for legacy in created:
        (place,) = homes["communications"][str(legacy)]
        assert place[0] == activity_of(*bronze[legacy]), legacy
    assert len({homes["communications"][str(legacy)][0][0] for legacy in created}) > 1  # several types created

    # Every legacy reference whose two ends exist is an association of the default type (plus
    # primary where the legacy record names the primary company).
    types: dict[tuple[str, str, str, str], set[int]] = {}
    for from_object, from_id, to_object, to_id, type_id in portal.associations:
        types.setdefault((from_object, from_id, to_object, to_id), set()).add(type_id)
    pushed = {name: staging(db, name) for name in ORDER}
    expected = 0
    for name, columns in REFERENCES.items():
        spec = REGISTRY.get(name)
        selected = ", ".join(f"staging.crm_legacy_id({column})" for column in columns)
        query = f"select staging.crm_legacy_id({spec.legacy_id_column.lower()}), {selected} from bronze.{spec.bronze_table}_live"  # noqa: E501
        for legacy, *targets in db.execute(query):
            if pushed[name].get(legacy) not in ("matched", "new"):
                continue
            ((from_object, from_id),) = homes[name][str(legacy)]
            for target_name, target_legacy in zip(columns.values(), targets, strict=True):
                if pushed[target_name].get(target_legacy) not in ("matched", "new"):
                    continue
                ((to_object, to_id),) = homes[target_name][str(target_legacy)]
                wanted = {DEFAULT_TYPES[(from_object, to_object)], PRIMARY.get((from_object, to_object))} - {None}
                have = types.get((from_object, from_id, to_object, to_id), set())
                assert wanted <= have, f"{name} {legacy} → {target_name} {target_legacy}: {have}"
                expected += 1
    assert expected > 50  # the sample links most records
    exists = db.execute("select count(*) from staging.push_associations where outcome = 'exists'").fetchone()[0]
    assert exists > 0  # those the portal already had were read, not sent again

    validate_all(portal)
    before = len(writes(portal))
    counts = Counter(len(places) for name in ORDER for places in by_legacy_id(portal, name).values())
    assert run_all(dags) == dict.fromkeys(ORDER, "success")
    assert len(writes(portal)) == before, writes(portal)[before:]
    assert Counter(len(places) for name in ORDER for places in by_legacy_id(portal, name).values()) == counts


def test_the_revert_dag_undoes_a_live_push(db, portal, dags):
    before = copy.deepcopy(portal.objects["companies"])
    conf = {
        "push_target": "hubspot",
        "dry_run": False,
        "create_missing": False,
        "link_probable": False,
        "require_approval": False,
    }
    pushed = dags["crm_reconcile_companies"].test(run_conf=conf)
    assert str(pushed.state) == "success"
    changed = [key for key, record in before.items() if portal.objects["companies"][key] != record]
    assert changed, "the push changed nothing: nothing to revert"
    revert = dags["crm_revert"].test(run_conf={"object_type": "companies", "run_id": pushed.run_id, "dry_run": False})
    assert str(revert.state) == "success"
    for key in changed:
        now = portal.objects["companies"][key]
        assert all(same_value(before[key].get(name), now.get(name)) for name in set(before[key]) | set(now)), key
    details = db.execute(
        "select details from staging.reconciliation_log where run_id = %s and step = 'revert'", (revert.run_id,)
    ).fetchone()[0]
    assert details["revert"]["outcomes"] == {"sent": len(changed)}
