"""Labelled data for the probable-match quality benchmark (deterministic for a seed).

For companies and contacts it makes legacy records with no HubSpot link by id and a HubSpot
side holding, for most of them, a twin typed differently (case, accents, legal form, word
order, one typo, reformatted phone, changed e-mail domain, missing fields), plus decoys that
share a domain, an e-mail domain or a name with a legacy record but are other entities, and
unrelated records. ``truth`` maps each legacy id to its twin's HubSpot id (absent: no twin).
"""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from crm_reconciliation_dev.sample_data import FIRST_NAMES, LAST_NAMES

if TYPE_CHECKING:
    import psycopg

WORDS = [
    "Alpine",
    "Dauphiné",
    "Vercors",
    "Chartreuse",
    "Belledonne",
    "Isère",
    "Rhône",
    "Savoie",
    "Léman",
    "Drac",
    "Microtechnique",
    "Photonique",
    "Robotique",
    "Électronique",
    "Capteurs",
    "Systèmes",
    "Ingénierie",
    "Optique",
    "Mécatronique",
    "Instruments",
    "Laser",
    "Silicium",
    "Énergie",
    "Hydraulique",
    "Numérique",
    "Précision",
    "Aéronautique",
    "Médical",
    "Plasturgie",
    "Automatismes",
    "Thermique",
    "Acoustique",
    "Nanotech",
    "Quantique",
    "Granier",
    "Taillefer",
    "Moucherotte",
    "Chamrousse",
    "Bastille",
    "Vizille",
    "Voiron",
    "Crolles",
    "Meylan",
]
LEGAL = ["SA", "SAS", "SARL", "GmbH", "Ltd", "Inc", ""]
CITIES = ["Grenoble", "Crolles", "Meylan", "Lyon", "Annecy", "Chambéry", "Valence", "Voiron", "Échirolles"]
FIRST = [*FIRST_NAMES, "Inès", "Léo"]
LAST = [
    *LAST_NAMES,
    "Brémond",
    "Vallée",
    "Rey",
    "Arnaud",
    "Blanc",
    "Guérin",
    "Roux",
    "Morel",
    "Gauthier",
    "Perret",
    "Masson",
    "Collet",
]


def _fold(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: a letter swapped with its neighbour, dropped, or doubled."""
    positions = [i for i in range(1, len(text) - 1) if text[i].isalpha() and text[i + 1].isalpha()]
    if not positions:
        return text
    i = rng.choice(positions)
    kind = rng.choice(["swap", "drop", "double"])
    if kind == "swap":
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == "drop":
        return text[:i] + text[i + 1 :]
    return text[:i] + text[i] + text[i:]


def _phone(rng: random.Random) -> tuple[str, str]:
    digits = f"47{rng.randint(0, 9)}{rng.randint(0, 999999):06d}"
    national = "0" + digits
    legacy = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    return legacy, rng.choice(
        ["+33" + digits, "+33 " + " ".join([digits[0], digits[1:3], digits[3:5], digits[5:7], digits[7:]])]
    )


@dataclass
class Labelled:
    legacy: list[dict] = field(default_factory=list)
    hubspot: list[dict] = field(default_factory=list)
    truth: dict[int, str] = field(default_factory=dict)


def companies(count: int, seed: int = 7, twin_share: float = 0.7, decoys: float = 0.15, noise: int = 2) -> Labelled:
    """``count`` legacy companies; HubSpot holds twins, decoys and ``noise`` × count unrelated records."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    data, next_id = Labelled(), 10_000_000
    used: set[str] = set()

    def new_name() -> tuple[str, str]:
        while True:
            tag = f"{rng.choice('BCDFGHJKLMNPRSTVZ')}{rng.choice('aeiouy')}{rng.choice('lnrstx')}{rng.randint(1, 99)}"
            core = " ".join([*rng.sample(WORDS, 2), tag])
            if core not in used:
                used.add(core)
                return core, _fold(core).lower().replace(" ", "")[:18]

    def hubspot(**properties) -> str:
        nonlocal next_id
        next_id += 1
        data.hubspot.append({"hs_object_id": str(next_id), "icalps_company_id": None, **properties})
        return str(next_id)

    for index in range(count):
        legacy_id = 1 + index
        core, slug = new_name()
        suffix = rng.choice(LEGAL)
        phone, phone_hubspot = _phone(rng)
        city = rng.choice(CITIES)
        website = rng.choice([f"https://www.{slug}.fr", f"http://{slug}.fr/contact", f"www.{slug}.fr"])
        data.legacy.append(
            {
                "comp_companyid": legacy_id,
                "comp_name": f"{core} {suffix}".strip(),
                "comp_website": website,
                "comp_phonenumber": phone,
                "addr_city": city,
            }
        )
        if rng.random() < twin_share:
            name = core
            for change in rng.sample(["case", "accents", "legal", "order", "typo"], k=rng.randint(1, 3)):
                if change == "case":
                    name = name.upper()
                elif change == "accents":
                    name = _fold(name)
                elif change == "legal":
                    name = f"{name} {rng.choice(['S.A.S.', 'SARL', 'SA', 'Ltd'])}"
                elif change == "order":
                    parts = name.split(" ")
                    name = " ".join(parts[1:] + parts[:1])
                else:
                    name = _typo(rng, name)
            data.truth[legacy_id] = hubspot(
                name=name,
                domain=None if rng.random() < 0.15 else f"{slug}.fr",
                phone=None if rng.random() < 0.2 else phone_hubspot,
                city=city if rng.random() < 0.9 else None,
            )
        if rng.random() < decoys:
            # Another entity of the same group: same domain and city, its own name and phone.
            other, _ = new_name()
            hubspot(name=other, domain=f"{slug}.fr", phone=_phone(rng)[1], city=city)
    for _ in range(noise * count):
        other, slug = new_name()
        hubspot(name=other, domain=f"{slug}.fr", phone=_phone(rng)[1], city=rng.choice(CITIES))
    return data


def contacts(count: int, seed: int = 11, twin_share: float = 0.7, decoys: float = 0.15, noise: int = 2) -> Labelled:
    """``count`` legacy persons; twins (swapped names, new e-mail domain…), namesakes and unrelated."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    data, next_id = Labelled(), 20_000_000

    def hubspot(**properties) -> str:
        nonlocal next_id
        next_id += 1
        data.hubspot.append({"hs_object_id": str(next_id), "icalps_contact_id": None, **properties})
        return str(next_id)

    def person() -> tuple[str, str, str, str]:
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = f"{rng.choice(WORDS)} {rng.choice(WORDS)}"
        local = f"{_fold(first).lower()}.{_fold(last).lower()}{rng.randint(1, 999)}"
        return first, last, company, local

    for index in range(count):
        legacy_id = 1 + index
        first, last, company, local = person()
        domain = _fold(company).lower().replace(" ", "") + ".fr"
        phone, phone_hubspot = _phone(rng)
        data.legacy.append(
            {
                "pers_personid": legacy_id,
                "pers_firstname": first,
                "pers_lastname": last,
                "pers_emailaddress": f"{local}@{domain}",
                "pers_phonenumber": phone,
                "comp_name": company,
            }
        )
        if rng.random() < twin_share:
            h_first, h_last, h_company, h_domain = first, last, company, domain
            for change in rng.sample(["swap", "accents", "email", "case", "typo"], k=rng.randint(1, 2)):
                if change == "swap":
                    h_first, h_last = h_last, h_first
                elif change == "accents":
                    h_first, h_last, h_company = _fold(h_first), _fold(h_last), _fold(h_company)
                elif change == "email":
                    h_domain = rng.choice(["gmail.com", "orange.fr", "groupe-" + domain])
                elif change == "case":
                    h_last = h_last.upper()
                else:
                    h_last = _typo(rng, h_last)
            data.truth[legacy_id] = hubspot(
                firstname=h_first,
                lastname=h_last,
                email=f"{local}@{h_domain}",
                phone=None if rng.random() < 0.3 else phone_hubspot,
                company=None if rng.random() < 0.2 else h_company,
            )
        if rng.random() < decoys:
            # A colleague (same e-mail domain and company) or a namesake elsewhere.
            if rng.random() < 0.5:
                other_first, other_last, _, other_local = person()
                hubspot(
                    firstname=other_first,
                    lastname=other_last,
                    email=f"{other_local}@{domain}",
                    phone=_phone(rng)[1],
                    company=company,
                )
            else:
                _, _, other_company, other_local = person()
                other_domain = _fold(other_company).lower().replace(" ", "") + ".fr"
                hubspot(
                    firstname=first,
                    lastname=last,
                    email=f"{other_local}@{other_domain}",
                    phone=_phone(rng)[1],
                    company=other_company,
                )
    for _ in range(noise * count):
        first, last, company, local = person()
        hubspot(
            firstname=first,
            lastname=last,
            email=f"{local}@{_fold(company).lower().replace(' ', '')}.fr",
            phone=_phone(rng)[1],
            company=company,
        )
    return data


def quality(predicted: dict[int, tuple[str, str | None]], truth: dict[int, str]) -> dict[str, float]:
    """Precision, recall and F1 of the probable links and of the ``new`` decisions.

    ``predicted`` maps each legacy id to (status, HubSpot id of the probable twin or None).
    """
    links = {legacy: hubspot for legacy, (status, hubspot) in predicted.items() if status == "probable"}
    correct = sum(1 for legacy, hubspot in links.items() if truth.get(legacy) == hubspot)
    news = {legacy for legacy, (status, _) in predicted.items() if status == "new"}
    lonely = set(predicted) - set(truth)

    def scores(hits: int, said: int, real: int) -> tuple[float, float, float]:
        precision = hits / said if said else 1.0
        recall = hits / real if real else 1.0
        return precision, recall, 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    link_p, link_r, link_f = scores(correct, len(links), len(truth))
    new_p, new_r, new_f = scores(len(news & lonely), len(news), len(lonely))
    return {
        "link_precision": link_p,
        "link_recall": link_r,
        "link_f1": link_f,
        "new_precision": new_p,
        "new_recall": new_r,
        "new_f1": new_f,
        "links": len(links),
        "twins": len(truth),
        "ties": sum(1 for s, _ in predicted.values() if s == "conflict"),
    }


MIRRORS = {"companies": ("companies", "icalps_company_id"), "contacts": ("contacts", "icalps_contact_id")}
BRONZE = {"companies": "company", "contacts": "person"}


def run(connection: psycopg.Connection, name: str, data: Labelled) -> dict[int, tuple[str, str | None]]:
    """Load ``data`` into empty bronze/hubspot tables, run the real reconcile and score SQL, and
    return each legacy id's (status, HubSpot id)."""
    from psycopg import sql

    from crm_reconciliation.common.registry import default_registry
    from crm_reconciliation.common.sql_templates import execute_script, render
    from crm_reconciliation.dag_factory import SCORE_SCRIPTS

    registry = default_registry()
    params = {"object": registry.template_params(name)}
    binds = {**registry.sql_parameters(name), "run_id": "matching_benchmark"}

    def script(*templates: str) -> None:
        with connection.transaction(), connection.cursor() as cursor:
            execute_script(cursor, [render(template, params=params) for template in templates], binds)

    for schema in ("bronze", "staging", "hubspot"):
        connection.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    script("ddl/create_staging.sql")
    connection.execute("create schema hubspot")
    for table, id_property in MIRRORS.values():
        columns = ["hs_object_id", id_property]
        if table == MIRRORS[name][0]:
            columns = [*columns, *sorted({key for row in data.hubspot for key in row} - set(columns))]
        connection.execute(
            sql.SQL("create table {} ({})").format(
                sql.Identifier("hubspot", table),
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(column)) for column in columns),
            )
        )
        if table == MIRRORS[name][0]:
            _copy_rows(connection, sql.Identifier("hubspot", table), columns, data.hubspot)
    columns = sorted({key for row in data.legacy for key in row})
    _copy_rows(connection, sql.Identifier("bronze", BRONZE[name]), columns, data.legacy)
    connection.commit()
    script("reconcile/reconcile.sql")
    script(*SCORE_SCRIPTS)
    spec = registry.get(name)
    query = sql.SQL("select {}, reconciliation_status, {} from {}").format(
        sql.Identifier(spec.legacy_key), sql.Identifier(spec.hubspot_key), sql.Identifier("staging", spec.staging_table)
    )
    return {legacy: (status, hubspot) for legacy, status, hubspot in connection.execute(query)}


def _copy_rows(connection: psycopg.Connection, table: object, columns: list[str], rows: list[dict]) -> None:
    from psycopg import sql

    statement = sql.SQL("copy {} ({}) from stdin").format(table, sql.SQL(", ").join(map(sql.Identifier, columns)))
    with connection.cursor().copy(statement) as copy:
        for row in rows:
            copy.write_row([row.get(column) for column in columns])
