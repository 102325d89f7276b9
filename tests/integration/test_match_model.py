"""The one match model over a real PostgreSQL: what it learns (EM, term frequencies) and how its
one probability scale decides statuses. Data is generated here with known parameters, so the
expected values are the generator's, not the code's."""

from __future__ import annotations

import random

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation_dev.benchmarks import matching_data as matching_benchmark
from tests.helpers import create_mirror, insert_rows, reset_object, run_reconcile_and_score

pytestmark = pytest.mark.integration

REGISTRY = default_registry()
COMPANIES = REGISTRY.get("companies")
CONTACTS = REGISTRY.get("contacts")
COMMUNICATIONS = REGISTRY.get("communications")
DEFAULT_MIN_CONFIDENCE = 90  # the push's default min_confidence param


def statuses(db, table: str, key: str) -> dict[int, tuple]:
    return {
        row[0]: row[1:]
        for row in db.execute(
            f"select {key}, reconciliation_status, match_confidence, properties_to_update, score_components"
            f" from staging.{table}"
        )
    }


def learned(db, object_type: str, run_id: str = "test_run") -> dict[tuple[str, str], tuple[float, float, str]]:
    return {
        (comparison, level): (m, u, source)
        for comparison, level, m, u, source in db.execute(
            "select comparison, level, m, u, m_source from staging.match_parameters"
            " where object_type = %s and run_id = %s",
            (object_type, run_id),
        )
    }


# -- EM -----------------------------------------------------------------------------------------

TRUE_M = {"domain": 0.9, "zip": 0.7, "city": 0.8}


def _word(rng: random.Random, length: int = 8) -> str:
    return "".join(rng.choice("bcdfghjklmnprstvz") + rng.choice("aeiou") for _ in range(length // 2))


def test_em_recovers_known_m_on_synthetic_pairs(db):
    """1,500 twins without a legacy id, each keeping a field equal with a known probability m,
    beside 1,500 decoys sharing only a phone: EM must find m within 0.05. The twins carry no
    name: agreeing on their domain, switchboard and site only (one correlated fact), they cannot
    be told from a sister company of the group, so none is probable, but each is named as its
    legacy record's best candidate, ahead of the decoy."""
    rng = random.Random(7)
    reset_object(db, COMPANIES)
    legacy, hubspot = [], []
    for n in range(1, 1501):
        phone = f"04 76 {n // 100:02d} {n % 100:02d} 11"
        values = {"domain": f"{_word(rng)}.fr", "zip": f"{rng.randint(10, 95)}{n:03d}", "city": _word(rng, 10).title()}
        legacy.append(
            {
                "comp_companyid": n,
                "comp_name": f"{_word(rng)} {_word(rng)}",
                "comp_website": values["domain"],
                "comp_phonenumber": phone,
                "addr_postcode": values["zip"],
                "addr_city": values["city"],
            }
        )
        twin = {
            key: value if rng.random() < TRUE_M[key] else (f"{_word(rng)}.fr" if key == "domain" else _word(rng, 10))
            for key, value in values.items()
        }
        hubspot.append({"hs_object_id": str(10_000 + n), "phone": f"+33476{n // 100:02d}{n % 100:02d}11", **twin})
        hubspot.append(  # a decoy: the same phone (a switchboard), nothing else
            {
                "hs_object_id": str(20_000 + n),
                "phone": f"+33476{n // 100:02d}{n % 100:02d}11",
                "domain": f"{_word(rng)}.com",
                "zip": str(rng.randint(10_000, 99_999)),
                "city": _word(rng, 10).title(),
                "name": f"{_word(rng)} {_word(rng)}",
            }
        )
    insert_rows(db, "bronze.company", legacy)
    create_mirror(db, "companies", [{"icalps_company_id": None, **row} for row in hubspot])
    summary = run_reconcile_and_score(db, COMPANIES)
    assert summary["em_converged"] is True
    parameters = learned(db, "companies")
    for comparison, m in TRUE_M.items():
        estimated, _, source = parameters[(comparison, "exact")]
        assert source.startswith("em"), source
        assert estimated == pytest.approx(m, abs=0.05), (comparison, estimated)
    # u of exact agreement on a random domain is tiny; the phone all pairs were found by is not
    # learned from its own session, and the decoys are told apart.
    assert parameters[("domain", "exact")][1] < 0.01
    rows = statuses(db, "companies_reconciliation", "legacy_company_id")
    assert {status for status, *_ in rows.values()} == {"new"}
    kept_domain = [
        n
        for n, (twin, own) in enumerate(zip(hubspot[0::2], legacy, strict=True), 1)
        if twin["domain"] == own["comp_website"]
    ]
    named_twin = [n for n in kept_domain if rows[n][3].get("candidate") == str(10_000 + n)]
    assert len(named_twin) >= 0.95 * len(kept_domain), (len(named_twin), len(kept_domain))


# -- One scale, statuses ---------------------------------------------------------------------------


def _linked_companies(db, changed: dict[int, dict]) -> dict[int, tuple]:
    """200 companies linked by id whose HubSpot twins agree on everything but ``changed``."""
    reset_object(db, COMPANIES)
    legacy, hubspot = [], []
    for n in range(1, 201):
        legacy.append(
            {
                "comp_companyid": n,
                "comp_name": f"Entreprise {n}",
                "comp_website": f"e{n}.fr",
                "comp_phonenumber": f"04 76 00 {n // 100:02d} {n % 100:02d}",
                "addr_city": "Grenoble",
                "addr_postcode": "38000",
                **changed.get(n, {}),
            }
        )
        hubspot.append(
            {
                "hs_object_id": str(100 + n),
                "icalps_company_id": str(n),
                "name": f"Entreprise {n}",
                "domain": f"e{n}.fr",
                "phone": f"+3347600{n // 100:02d}{n % 100:02d}",
                "city": "Grenoble",
                "zip": "38000",
            }
        )
    insert_rows(db, "bronze.company", legacy)
    create_mirror(db, "companies", hubspot)
    run_reconcile_and_score(db, COMPANIES)
    return statuses(db, "companies_reconciliation", "legacy_company_id")


def test_an_id_link_with_one_changed_property_stays_matched_and_is_pushed(db):
    result = _linked_companies(db, {7: {"comp_phonenumber": "04 99 99 99 99"}})
    status, confidence, updates, components = result[7]
    assert status == "matched"
    assert confidence >= DEFAULT_MIN_CONFIDENCE
    assert updates["phone"] == "+33499999999"
    assert components["comparisons"]["phone"]["weight"] < 0  # it did count against, barely


def test_an_id_link_that_disagrees_on_everything_is_a_conflict(db):
    elsewhere = {
        "comp_name": "Boulangerie Dupuis",
        "comp_website": "pain.fr",
        "comp_phonenumber": "01 45 00 00 00",
        "addr_city": "Paris",
        "addr_postcode": "75011",
    }
    result = _linked_companies(db, {9: elsewhere})
    assert result[9][0] == "conflict"
    assert result[9][1] < COMPANIES.model.match_threshold
    assert result[10][0] == "matched"


def test_edited_subjects_with_equal_timestamps_stay_matched(db):
    reset_object(db, COMMUNICATIONS)
    legacy, hubspot = [], []
    for n in range(1, 101):
        moment = f"2024-03-{1 + n % 28:02d} {8 + n % 10:02d}:{n % 60:02d}:00"
        legacy.append(
            {
                "comm_communicationid": n,
                "comm_subject": f"Relance devis {n}" if n % 4 else f"Devis {n} revu et corrigé",
                "comm_datetime": moment,
                "comm_note": f"Compte rendu {n}",
            }
        )
        hubspot.append(
            {
                "hs_object_id": str(5000 + n),
                "icalps_communication_id": str(n),
                "hs_engagement_subject": f"Relance devis {n}",
                "hs_timestamp": moment.replace(" ", "T") + "Z",
                "hs_note_body": f"Compte rendu {n}",
            }
        )
    insert_rows(db, "bronze.communication", legacy)
    create_mirror(db, "engagements", hubspot)
    run_reconcile_and_score(db, COMMUNICATIONS)
    result = statuses(db, "communications_reconciliation", "legacy_communication_id")
    edited = [result[n] for n in range(1, 101) if n % 4 == 0]
    assert len(edited) == 25
    for n, (status, confidence, updates, _) in zip(range(4, 101, 4), edited, strict=True):
        assert status == "matched"
        assert confidence >= DEFAULT_MIN_CONFIDENCE
        # No action given: a note, whose body opens with the subject (notes have none).
        assert updates == {"hs_note_body": f"Devis {n} revu et corrigé\n\nCompte rendu {n}"}


# -- Term frequencies --------------------------------------------------------------------------------


def test_agreeing_on_a_rare_surname_weighs_more_than_on_martin(db):
    reset_object(db, CONTACTS)
    legacy = [
        {"pers_personid": 1, "pers_firstname": "Paul", "pers_lastname": "Martin"},
        {"pers_personid": 2, "pers_firstname": "Paul", "pers_lastname": "Zylberstein"},
    ]
    hubspot = [
        {"hs_object_id": "11", "icalps_contact_id": "1", "firstname": "Paul", "lastname": "Martin"},
        {"hs_object_id": "12", "icalps_contact_id": "2", "firstname": "Paul", "lastname": "Zylberstein"},
        # Many other Martins in the portal, and other rare names.
        *({"hs_object_id": str(100 + n), "firstname": f"P{n}", "lastname": "Martin"} for n in range(60)),
        *({"hs_object_id": str(300 + n), "firstname": f"Q{n}", "lastname": _word(random.Random(n))} for n in range(60)),
    ]
    insert_rows(db, "bronze.person", legacy)
    create_mirror(db, "contacts", [{"icalps_contact_id": None, **row} for row in hubspot])
    run_reconcile_and_score(db, CONTACTS)
    result = statuses(db, "contacts_reconciliation", "legacy_contact_id")
    martin = result[1][3]["comparisons"]["lastname"]
    rare = result[2][3]["comparisons"]["lastname"]
    assert martin["level"] == rare["level"] == "exact"
    assert martin["term_frequency"]
    assert rare["term_frequency"]
    assert rare["weight"] > martin["weight"] + 4  # 1 in 122 against 61 in 122: log2(61) ≈ 5.9 bits


def test_names_written_differently_but_equal_once_folded_weigh_by_their_rarity(db):
    reset_object(db, CONTACTS)
    insert_rows(db, "bronze.person", [{"pers_personid": 1, "pers_firstname": "Zoé", "pers_lastname": "Zylberstein"}])
    hubspot = [
        {"hs_object_id": "11", "icalps_contact_id": "1", "firstname": "ZOE", "lastname": "ZYLBERSTEIN"},
        *({"hs_object_id": str(100 + n), "firstname": f"P{n}", "lastname": "Martin"} for n in range(60)),
    ]
    create_mirror(db, "contacts", [{"icalps_contact_id": None, **row} for row in hubspot])
    run_reconcile_and_score(db, CONTACTS)
    lastname = statuses(db, "contacts_reconciliation", "legacy_contact_id")[1][3]["comparisons"]["lastname"]
    assert lastname["level"] == "exact"
    assert lastname["term_frequency"]


# -- EM bounds -----------------------------------------------------------------------------------


def test_a_session_expects_no_more_matches_than_records_on_its_smaller_side(db):
    """One legacy company against twenty look-alikes of its group (same domain, city, similar
    names): at most one of the twenty pairs can be its twin, whatever EM would like to believe."""
    reset_object(db, COMPANIES)
    insert_rows(
        db,
        "bronze.company",
        [{"comp_companyid": 1, "comp_name": "Groupe Alpin Énergie", "comp_website": "alpin.fr", "addr_city": "Lyon"}],
    )
    hubspot = [
        {
            "hs_object_id": str(100 + n),
            "icalps_company_id": None,
            "name": f"Groupe Alpin Énergie {n}",
            "domain": "alpin.fr",
            "city": "Lyon",
        }
        for n in range(20)
    ]
    create_mirror(db, "companies", hubspot)
    summary = run_reconcile_and_score(db, COMPANIES)
    assert summary["em_sessions"]["exact:domain"] <= 1 / 20


def test_look_alikes_of_a_group_do_not_teach_the_name_comparison(db):
    """Labelled companies where group companies share a domain: the domain session calls them
    matches until its cap; m of an exact name comes from the other sessions, near the data's own
    share of true twins whose names agree once folded."""
    data = matching_benchmark.companies(1000, group_decoys=0)  # sister sites: the correlated group's test
    matching_benchmark.run(db, "companies", data)
    by_id = {row["hs_object_id"]: row["name"] for row in data.hubspot}
    legacy_names = {row["comp_companyid"]: row["comp_name"] for row in data.legacy}
    exact = sum(
        db.execute(
            "select staging.crm_fold_name(%s) = staging.crm_fold_name(%s)", (legacy_names[legacy_id], by_id[hubspot_id])
        ).fetchone()[0]
        for legacy_id, hubspot_id in data.truth.items()
    ) / len(data.truth)
    (m,) = db.execute("select m from staging.match_parameters where comparison = 'name' and level = 'exact'").fetchone()
    assert abs(m - exact) < 0.1, (m, exact)


def test_a_rerun_learns_the_same_parameters(db):
    _linked_companies(db, {7: {"comp_phonenumber": "04 99 99 99 99"}})
    first = learned(db, "companies")
    run_reconcile_and_score(db, COMPANIES, run_id="test_run_2")
    assert learned(db, "companies", "test_run_2") == first
