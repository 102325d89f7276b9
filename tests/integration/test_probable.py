"""Probable matches over a real PostgreSQL: blocking, scoring, one-to-one assignment, ties,
the threshold edge, the linking setting, and quality on labelled data."""

from __future__ import annotations

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.dag_factory import SCORE_SCRIPTS
from crm_reconciliation_dev.benchmarks import matching_data as matching_benchmark
from tests.helpers import create_mirror, create_staging, insert_rows, run_reconcile_and_score, run_steps

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
MIRROR_COLUMNS = ["hs_object_id", "icalps_company_id", "name", "domain", "phone", "city", "industry", "zip"]


def legacy(legacy_id: int, name: str, **columns) -> dict:
    return {"comp_companyid": legacy_id, "comp_name": name, **columns}


def hubspot(hubspot_id: str, name: str, **properties) -> dict:
    return {"hs_object_id": hubspot_id, "icalps_company_id": None, "name": name, **properties}


def outcome(db) -> dict[int, dict]:
    cursor = db.execute(
        "select legacy_company_id, reconciliation_status, hubspot_company_id, match_confidence, notes,"
        " score_components, properties_to_update from staging.companies_reconciliation"
    )
    names = [column.name for column in cursor.description]
    return {row[0]: dict(zip(names[1:], row[1:], strict=True)) for row in cursor}


def scenario(db, legacy_rows: list[dict], hubspot_rows: list[dict], spec=COMPANIES) -> dict[int, dict]:
    for schema in ("bronze", "staging", "hubspot"):
        db.execute(f"drop schema if exists {schema} cascade")
    create_staging(db, spec)
    insert_rows(db, "bronze.company", legacy_rows)
    create_mirror(db, "companies", hubspot_rows, columns=MIRROR_COLUMNS)
    run_reconcile_and_score(db, spec)
    return outcome(db)


ACME = {"comp_website": "https://www.acme-isere.fr", "comp_phonenumber": "04 76 12 34 56", "addr_city": "Grenoble"}
NOISE = [hubspot(f"9{n:03d}", f"Boulangerie Numéro {n}", city="Lyon", domain=f"pain{n}.fr") for n in range(30)]


def test_each_blocking_key_finds_its_twin(db):
    result = scenario(
        db,
        [
            legacy(1, "Acme Électronique SAS", comp_website="https://www.acme-isere.fr"),  # found by domain
            legacy(2, "Zeta Optique", comp_phonenumber="04 76 99 88 77"),  # found by phone
            legacy(3, "Microtechnique Alpine Vercors", addr_city="Voiron"),  # found by trigram
            legacy(4, "Belledonne Robotique", addr_postcode="38000", addr_city="Meylan"),  # found by postcode + name
        ],
        [
            hubspot("101", "Zorglub Industries", domain="acme-isere.fr"),
            hubspot("102", "Société Zêta", phone="+33476998877"),
            hubspot("103", "MICROTECHNIQUE ALPIN VERCORS"),
            hubspot("104", "Belledonne Robots", zip="38000"),
            *NOISE,
        ],
    )
    assert {key: row["score_components"].get("candidate") for key, row in result.items()} == {
        1: "101",
        2: "102",
        3: "103",
        4: "104",
    }


def test_a_record_linked_by_id_to_a_live_row_is_no_candidate(db):
    result = scenario(
        db,
        [
            legacy(1, "Acme Électronique", **ACME),
            legacy(2, "Acme Électronique", **ACME),  # the same entity entered twice in the legacy CRM
        ],
        [
            {
                **hubspot("101", "Acme Électronique", domain="acme-isere.fr", phone="+33476123456", city="Grenoble"),
                "icalps_company_id": "1",
            },
            *NOISE,
        ],
    )
    assert result[1]["reconciliation_status"] == "matched"
    assert result[2]["reconciliation_status"] == "new"
    assert result[2]["notes"].endswith("No similar HubSpot record.")


def test_probable_twin_with_explained_score_and_diff(db):
    result = scenario(
        db,
        [legacy(1, "Acme Électronique SAS", comp_sector="Aerospace", **ACME)],
        [
            hubspot(
                "101",
                "ACME ELECTRONIQUE",
                domain="acme-isere.fr",
                phone="+33 4 76 12 34 56",
                city="grenoble",
                industry="Semiconductors",
            ),
            *NOISE,
        ],
    )
    row = result[1]
    assert row["reconciliation_status"] == "probable"
    assert row["hubspot_company_id"] == "101"
    assert row["match_confidence"] > 99
    parts = row["score_components"]["comparisons"]
    assert parts["name"]["level"] == "exact"  # folded: case, accents and the legal form ignored
    assert parts["domain"]["level"] == "exact"
    assert parts["domain"]["weight"] > 0
    assert parts["legacy_id"]["level"] == "null"  # the twin carries no legacy id
    assert row["score_components"]["rules"]  # which blocking rules found the pair
    assert "Probable twin: HubSpot 101 (confidence 100): match weight +" in row["notes"]
    assert "name exact +" in row["notes"]
    assert row["properties_to_update"]["industry"] == "AVIATION_AEROSPACE"  # through the value map of industry
    assert "icalps_company_id" not in row["properties_to_update"]  # linking is off by default


def test_one_to_one_the_best_pair_wins(db):
    result = scenario(
        db,
        [
            legacy(1, "Acme Électronique", **ACME),
            legacy(2, "Acme Électronique", addr_city="Grenoble"),  # less evidence: name and city only
        ],
        [hubspot("101", "Acme Électronique", domain="acme-isere.fr", phone="+33476123456", city="Grenoble"), *NOISE],
    )
    assert (result[1]["reconciliation_status"], result[1]["hubspot_company_id"]) == ("probable", "101")
    assert result[2]["reconciliation_status"] == "new"
    assert result[2]["hubspot_company_id"] is None
    assert "Best candidate: HubSpot 101" in result[2]["notes"]
    assert "the twin of another legacy record" in result[2]["notes"]


def test_near_ties_are_reported_not_picked(db):
    result = scenario(
        db,
        [
            legacy(1, "Acme Électronique", **ACME),
            legacy(2, "Vizille Laser", comp_website="https://vizille-laser.fr", addr_city="Vizille"),
            legacy(3, "Vizille Laser", comp_website="https://vizille-laser.fr", addr_city="Vizille"),
        ],
        [
            hubspot("101", "Acme Électronique", domain="acme-isere.fr", city="Grenoble"),
            hubspot("102", "Acme Electronique", domain="acme-isere.fr", city="Grenoble"),
            hubspot("103", "Vizille Laser", domain="vizille-laser.fr", city="Vizille"),
            *NOISE,
        ],
    )
    assert result[1]["reconciliation_status"] == "conflict"
    assert result[1]["hubspot_company_id"] is None
    assert "Tie: HubSpot " in result[1]["notes"]
    assert "HubSpot 101 (confidence" in result[1]["notes"]
    assert "HubSpot 102 (confidence" in result[1]["notes"]
    for key in (2, 3):  # two legacy records, one HubSpot record: neither gets it
        assert result[key]["reconciliation_status"] == "conflict"
        assert "HubSpot 103 is as likely the twin of legacy 2" in result[key]["notes"]


def _with_matching(**changes):
    return COMPANIES.model_copy(update={"matching": COMPANIES.matching.model_copy(update=changes)})


PAIR = (
    [legacy(1, "Acme Électronique", comp_website="https://acme-isere.fr", addr_city="Grenoble")],
    [hubspot("101", "Acme Electronique Groupe", domain="acme-isere.fr", city="Grenoble"), *NOISE],
)


def test_threshold_edge(db):
    confidence = scenario(db, *PAIR, spec=_with_matching(probable_min_confidence=0))[1]["match_confidence"]
    assert 0 < confidence < 100
    at_threshold = scenario(db, *PAIR, spec=_with_matching(probable_min_confidence=float(confidence)))[1]
    assert at_threshold["reconciliation_status"] == "probable"
    above = scenario(db, *PAIR, spec=_with_matching(probable_min_confidence=float(confidence) + 0.01))[1]
    assert above["reconciliation_status"] == "new"
    assert f"Best candidate: HubSpot 101 (confidence {round(confidence)}, below " in above["notes"]
    assert above["score_components"]["candidate"] == "101"


@pytest.mark.parametrize(
    ("auto_link", "minimum", "linked"), [(True, 95, True), (True, 100.01, False), (False, 0, False)]
)
def test_linking_setting(db, auto_link, minimum, linked):
    spec = _with_matching(auto_link=auto_link, auto_link_min_confidence=minimum)
    row = scenario(
        db,
        [legacy(7, "Acme Électronique", **ACME)],
        [
            hubspot("101", "Acme Électronique", domain="acme-isere.fr", phone="+33476123456", city="Grenoble"),
            *NOISE,
        ],
        spec=spec,
    )[7]
    assert row["reconciliation_status"] == "probable"
    assert (row["properties_to_update"].get("icalps_company_id") == "7") is linked


def test_rerunning_score_gives_the_same_rows(db):
    scenario(db, *PAIR)
    first = outcome(db)
    run_steps(db, SCORE_SCRIPTS, COMPANIES)
    assert outcome(db) == first


@pytest.mark.parametrize(
    ("name", "make"), [("companies", matching_benchmark.companies), ("contacts", matching_benchmark.contacts)]
)
def test_quality_on_labelled_data(db, name, make):
    data = make(400)
    scores = matching_benchmark.quality(matching_benchmark.run(db, name, data), data.truth)
    assert scores["link_precision"] >= 0.98, scores
    assert scores["link_recall"] >= 0.95, scores


def test_a_trigram_rule_keeps_only_the_most_similar_candidates(db):
    """A common name pairs with its max_similar closest look-alikes, the twin among them, not with all."""
    spec = COMPANIES.model_copy(
        update={"matching": COMPANIES.matching.model_copy(update={"max_similar": 3, "common_word_share": 1.0})}
    )
    look_alikes = [hubspot(f"20{n}", f"Microtechnique Alpine Vercors {'x' * n}", city="Lyon") for n in range(1, 9)]
    for schema in ("bronze", "staging", "hubspot"):
        db.execute(f"drop schema if exists {schema} cascade")
    create_staging(db, spec)
    insert_rows(db, "bronze.company", [legacy(1, "Microtechnique Alpine Vercors", addr_city="Voiron")])
    create_mirror(db, "companies", [hubspot("103", "MICROTECHNIQUE ALPINE VERCORS"), *look_alikes], MIRROR_COLUMNS)
    summary = run_reconcile_and_score(db, spec)
    assert summary["candidates"] == 3
    assert outcome(db)[1]["score_components"]["candidate"] == "103"
