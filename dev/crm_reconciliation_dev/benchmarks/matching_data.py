"""Labelled data for the probable-match quality benchmark (deterministic for a seed).

For companies, contacts and deals it makes legacy records with no HubSpot link by id and a
HubSpot side holding, for most of them, a twin typed differently (case, accents, legal form,
word order, one typo, reformatted phone, changed e-mail domain, missing fields, rounded
amounts, missing close dates), plus decoys that are other entities sharing much with a legacy
record, and unrelated records. ``truth`` maps each legacy id to its twin's HubSpot id (absent:
no twin).

Decoys: companies of one group (same domain and city; the group decoys also the same
switchboard and postcode, a name of the same stem with another site, another street);
colleagues (same company, street, city, postcode, switchboard and e-mail domain, another first
and last name, e-mail local part and mobile); shared mailboxes (two people behind one generic
address such as contact@acme.fr); namesakes elsewhere; other deals of the same company (other
names and close dates). Hard twins too: a typo in the last name with the same e-mail. The
records added by the later cases (addresses, mobiles, group decoys, colleagues, mailboxes,
same-e-mail twins) are drawn from a second generator, so the records the first one draws are
the same as before they were added.
"""

from __future__ import annotations

import random
import unicodedata
import zlib
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


STREETS = ["rue", "avenue", "boulevard", "chemin", "place", "allée", "impasse", "quai"]
SITES = ["Lyon", "Grenoble", "Annecy", "Valence", "Chambéry", "Crolles", "Meylan", "Voiron", "Paris", "Nantes"]
POSTCODES = {
    "Grenoble": "38000",
    "Crolles": "38920",
    "Meylan": "38240",
    "Lyon": "69003",
    "Annecy": "74000",
    "Chambéry": "73000",
    "Valence": "26000",
    "Voiron": "38500",
    "Échirolles": "38130",
}
MAILBOXES = ["contact", "info", "accueil", "commercial", "achats"]


@dataclass
class Labelled:
    legacy: list[dict] = field(default_factory=list)
    hubspot: list[dict] = field(default_factory=list)
    truth: dict[int, str] = field(default_factory=dict)
    # Rows of other mirrors a reference resolves through (table -> rows), e.g. the companies
    # that deals' associatedcompanyid points to, linked by icalps_company_id.
    mirrors: dict[str, list[dict]] = field(default_factory=dict)


def _street(rng: random.Random) -> str:
    return f"{rng.randint(1, 180)} {rng.choice(STREETS)} {rng.choice(WORDS)}"


def _mobile(rng: random.Random) -> tuple[str, str]:
    digits = f"{rng.choice('67')}{rng.randint(0, 99999999):08d}"
    national = "0" + digits
    return " ".join(national[i : i + 2] for i in range(0, 10, 2)), "+33" + digits


def _other(rng: random.Random, choices: list[str], not_this: str) -> str:
    """A value of ``choices`` other than ``not_this`` (folded: no accent variant of it either)."""
    while True:
        value = rng.choice(choices)
        if _fold(value).lower() != _fold(not_this).lower():
            return value


def companies(
    count: int,
    seed: int = 7,
    twin_share: float = 0.7,
    decoys: float = 0.15,
    noise: int = 2,
    group_decoys: float = 0.12,
) -> Labelled:
    """``count`` legacy companies; HubSpot holds twins, decoys of the same group (``decoys``: same
    domain and city; ``group_decoys``: same domain, city, postcode and switchboard, the same name
    stem with another site, e.g. "… Lyon" vs "… Grenoble", at another street) and ``noise`` × count
    unrelated records."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    extra = random.Random(seed * 1000 + 1)  # noqa: S311 - the later cases (see the module's docstring)
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
        group = extra.random() < group_decoys
        site, other_site = extra.sample(SITES, 2)
        named = f"{core} {site}" if group else core
        street = _street(extra)
        data.legacy.append(
            {
                "comp_companyid": legacy_id,
                "comp_name": f"{named} {suffix}".strip(),
                "comp_website": website,
                "comp_phonenumber": phone,
                "addr_city": city,
                "addr_street1": street,
                "addr_postcode": POSTCODES[city],
            }
        )
        if rng.random() < twin_share:
            name = named
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
            data.hubspot[-1]["address"] = (
                None if extra.random() < 0.2 else street.upper() if extra.random() < 0.2 else street
            )
            data.hubspot[-1]["zip"] = None if extra.random() < 0.15 else POSTCODES[city]
        if rng.random() < decoys:
            # Another entity of the same group: same domain and city, its own name and phone.
            other, _ = new_name()
            hubspot(name=other, domain=f"{slug}.fr", phone=_phone(rng)[1], city=city)
            data.hubspot[-1].update(address=_street(extra), zip=POSTCODES[city])
        if group:
            # Another site of the group: its stem, another site name, the same domain, switchboard,
            # city and postcode, another street.
            hubspot(
                name=f"{core} {other_site}",
                domain=f"{slug}.fr",
                phone=phone_hubspot,
                city=city,
                address=_street(extra),
                zip=POSTCODES[city],
            )
    for _ in range(noise * count):
        other, slug = new_name()
        hubspot(name=other, domain=f"{slug}.fr", phone=_phone(rng)[1], city=rng.choice(CITIES))
        data.hubspot[-1].update(address=_street(extra), zip=POSTCODES[data.hubspot[-1]["city"]])
    return data


def _employer(company: str) -> dict[str, str]:
    """A company's street, city, postcode and switchboard (legacy and HubSpot formats), the same for
    everyone working there (a function of its name)."""
    code = zlib.crc32(_fold(company).encode())
    city = CITIES[code % len(CITIES)]
    digits = f"47{code % 10}{code // 10 % 1000000:06d}"
    national = "0" + digits
    return {
        "street": f"{code % 180 + 1} {STREETS[code // 7 % len(STREETS)]} {WORDS[code // 11 % len(WORDS)]}",
        "city": city,
        "zip": POSTCODES[city],
        "switchboard": " ".join(national[i : i + 2] for i in range(0, 10, 2)),
        "switchboard_hubspot": "+33" + digits,
    }


def contacts(
    count: int,
    seed: int = 11,
    twin_share: float = 0.7,
    decoys: float = 0.15,
    noise: int = 2,
    colleagues: float = 0.10,
    mailboxes: float = 0.04,
    same_email_typos: float = 0.08,
    mobiles: float = 0.5,
) -> Labelled:
    """``count`` legacy persons; twins (swapped names, new e-mail domain, a last-name typo with the
    same e-mail…), namesakes, colleagues (``colleagues``: same company, street, city, postcode,
    switchboard and e-mail domain, other names, local part and mobile), people sharing a generic
    mailbox (``mailboxes``), and unrelated persons. A share ``mobiles`` of legacy persons has a
    mobile (Pers_MobileNumber → mobilephone)."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    extra = random.Random(seed * 1000 + 1)  # noqa: S311 - the later cases (see the module's docstring)
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

    def located(company: str) -> dict[str, str]:
        employer = _employer(company)
        return {"address": employer["street"], "city": employer["city"], "zip": employer["zip"]}

    for index in range(count):
        legacy_id = 1 + index
        first, last, company, local = person()
        domain = _fold(company).lower().replace(" ", "") + ".fr"
        phone, phone_hubspot = _phone(rng)
        employer = _employer(company)
        colleague = extra.random() < colleagues
        mailbox = extra.choice(MAILBOXES) if extra.random() < mailboxes else None
        if colleague or mailbox:  # they call the switchboard
            phone, phone_hubspot = employer["switchboard"], employer["switchboard_hubspot"]
        mobile, mobile_hubspot = _mobile(extra) if extra.random() < mobiles else (None, None)
        email = f"{mailbox or local}@{domain}"
        data.legacy.append(
            {
                "pers_personid": legacy_id,
                "pers_firstname": first,
                "pers_lastname": last,
                "pers_emailaddress": email,
                "pers_phonenumber": phone,
                "pers_mobilenumber": mobile,
                "comp_name": company,
                "addr_street1": employer["street"],
                "addr_city": employer["city"],
                "addr_postcode": employer["zip"],
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
                email=f"{mailbox or local}@{h_domain}",
                phone=None if rng.random() < 0.3 else phone_hubspot,
                company=None if rng.random() < 0.2 else h_company,
            )
            twin = data.hubspot[-1]
            if extra.random() < same_email_typos:
                # Hard twin: a typo in the last name, everything else as in the legacy record.
                twin.update(firstname=first, lastname=_typo(extra, last), email=email, company=company)
            twin.update(
                address=None if extra.random() < 0.15 else employer["street"],
                city=None if extra.random() < 0.1 else employer["city"],
                zip=None if extra.random() < 0.15 else employer["zip"],
            )
            if mobile_hubspot and extra.random() < 0.7:
                twin["mobilephone"] = mobile_hubspot
            elif mobile_hubspot is None and extra.random() < 0.2:
                twin["mobilephone"] = _mobile(extra)[1]  # a mobile the legacy record does not know
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
                    **located(company),
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
                    **located(other_company),
                )
        if colleague:
            # A colleague at the same desk: company, street, city, postcode, switchboard and e-mail
            # domain agree; first and last name, local part and mobile do not.
            other_first, other_last = _other(extra, FIRST, first), _other(extra, LAST, last)
            hubspot(
                firstname=other_first,
                lastname=other_last,
                email=f"{_fold(other_first).lower()}.{_fold(other_last).lower()}{extra.randint(1, 999)}@{domain}",
                phone=employer["switchboard_hubspot"],
                mobilephone=_mobile(extra)[1],
                company=company,
                **located(company),
            )
        if mailbox:
            # Someone else reading the same generic mailbox.
            hubspot(
                firstname=_other(extra, FIRST, first),
                lastname=_other(extra, LAST, last),
                email=email,
                phone=employer["switchboard_hubspot"],
                company=company,
                **located(company),
            )
    for _ in range(noise * count):
        first, last, company, local = person()
        hubspot(
            firstname=first,
            lastname=last,
            email=f"{local}@{_fold(company).lower().replace(' ', '')}.fr",
            phone=_phone(rng)[1],
            company=company,
            **located(company),
        )
    return data


DEAL_KINDS = ["Renouvellement", "Extension", "Projet", "Licences", "Maintenance", "Étude", "Prototype", "Série"]
DEAL_PRODUCTS = ["capteurs", "banc de test", "optique", "automate", "logiciel", "carte électronique", "laser", "ASIC"]
HUBSPOT_STAGE = "85103753"  # Qualified, as the registry's deal_stages map it


def _amount(rng: random.Random) -> int:
    return rng.choice([rng.randint(1_000, 20_000), rng.randint(20_000, 200_000), rng.randint(200_000, 900_000)])


def deals(
    count: int,
    seed: int = 13,
    twin_share: float = 0.7,
    decoys: float = 0.3,
    noise: int = 2,
    deals_per_company: int = 3,
) -> Labelled:
    """``count`` legacy deals (Opportunity) of ``count / deals_per_company`` companies, each company
    in HubSpot and linked by icalps_company_id (``mirrors``), so that associatedcompanyid is
    compared. Twins: name variants (case, accents, a typo, a word dropped or added), the amount
    rounded to the thousand (12,345 → 12,000) or to the hundred, the close date missing on either
    side or moved a few days; decoys (``decoys``): other deals of the same company, another name,
    close date and amount; ``noise`` × count unrelated deals of other companies."""
    rng = random.Random(seed)  # noqa: S311 - reproducible, not secret
    data, next_id = Labelled(), 30_000_000
    companies_count = max(1, count // deals_per_company)
    legacy_companies = list(range(1, companies_count + 1))
    hubspot_company = {c: str(40_000_000 + c) for c in legacy_companies}
    # Companies that only HubSpot knows, for the unrelated deals.
    others = [str(41_000_000 + n) for n in range(max(1, companies_count))]
    data.mirrors["companies"] = [
        *({"hs_object_id": hubspot_company[c], "icalps_company_id": str(c)} for c in legacy_companies),
        *({"hs_object_id": o, "icalps_company_id": None} for o in others),
    ]
    used: set[str] = set()

    def new_name(company_word: str) -> str:
        while True:
            name = f"{rng.choice(DEAL_KINDS)} {rng.choice(DEAL_PRODUCTS)} {company_word} {rng.randint(2019, 2026)}"
            if rng.random() < 0.5:
                name += f" lot {rng.randint(1, 9)}"
            if name not in used:
                used.add(name)
                return name

    def new_date() -> str:
        return f"{rng.randint(2019, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"

    def hubspot(**properties) -> str:
        nonlocal next_id
        next_id += 1
        data.hubspot.append(
            {"hs_object_id": str(next_id), "icalps_deal_id": None, "dealstage": HUBSPOT_STAGE, **properties}
        )
        return str(next_id)

    company_words = {c: f"{rng.choice(WORDS)} {rng.choice(WORDS)}" for c in legacy_companies}
    for index in range(count):
        legacy_id = 1 + index
        company = legacy_companies[index % companies_count]
        name, amount, close = new_name(company_words[company]), _amount(rng), new_date()
        year, month, day = close.split("-")
        data.legacy.append(
            {
                "oppo_opportunityid": legacy_id,
                "oppo_description": name,
                "oppo_forecast": rng.choice([f"{amount}", f"{amount:,}".replace(",", " ") + ",00", f"{amount}.00"]),
                "oppo_targetclose": None if rng.random() < 0.1 else rng.choice([close, f"{day}/{month}/{year}"]),
                "oppo_stage": "Qualified",
                "oppo_status": "En cours",
                "oppo_primarycompanyid": company,
                "comp_name": company_words[company],
            }
        )
        legacy_close = data.legacy[-1]["oppo_targetclose"]
        if rng.random() < twin_share:
            h_name = name
            for change in rng.sample(["case", "accents", "typo", "drop", "add"], k=rng.randint(1, 2)):
                if change == "case":
                    h_name = h_name.upper()
                elif change == "accents":
                    h_name = _fold(h_name)
                elif change == "typo":
                    h_name = _typo(rng, h_name)
                elif change == "drop":
                    words = h_name.split(" ")
                    h_name = " ".join(words[:-1]) if len(words) > 3 else h_name
                else:
                    h_name = f"{h_name} - {rng.choice(['devis', 'v2', 'relance', 'AO'])}"
            rounding = rng.random()
            h_amount = round(amount, -3) if rounding < 0.3 else round(amount, -2) if rounding < 0.45 else amount
            dates = rng.random()
            if legacy_close is None or dates < 0.1:
                h_close = None if dates < 0.1 else close  # missing on one side (or on both)
            elif dates < 0.25:
                shifted = int(day) + rng.choice([-3, -1, 1, 2])
                h_close = f"{year}-{month}-{min(max(shifted, 1), 28):02d}"
            else:
                h_close = close
            data.truth[legacy_id] = hubspot(
                dealname=h_name,
                amount=str(h_amount),
                closedate=h_close,
                associatedcompanyid=None if rng.random() < 0.1 else hubspot_company[company],
            )
        if rng.random() < decoys:
            # Another deal of the same company: another name, close date and amount.
            hubspot(
                dealname=new_name(company_words[company]),
                amount=str(_amount(rng)),
                closedate=new_date(),
                associatedcompanyid=hubspot_company[company],
            )
    for _ in range(noise * count):
        hubspot(
            dealname=new_name(f"{rng.choice(WORDS)} {rng.choice(WORDS)}"),
            amount=str(_amount(rng)),
            closedate=None if rng.random() < 0.1 else new_date(),
            associatedcompanyid=rng.choice(others),
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


MIRRORS = {
    "companies": ("companies", "icalps_company_id"),
    "contacts": ("contacts", "icalps_contact_id"),
    "deals": ("deals", "icalps_deal_id"),
}
BRONZE = {"companies": "company", "contacts": "person", "deals": "opportunity"}
OBJECTS = {"companies": companies, "contacts": contacts, "deals": deals}


def run(connection: psycopg.Connection, name: str, data: Labelled) -> dict[int, tuple[str, str | None]]:
    """Load ``data`` into empty bronze/hubspot tables, run the real reconcile and score SQL, and
    return each legacy id's (status, HubSpot id)."""
    from psycopg import sql

    from crm_reconciliation.common.sql_templates import execute_script, render
    from crm_reconciliation.config.registry import default_registry
    from crm_reconciliation.dag_factory import CREATE_STAGING_SCRIPTS, RECONCILE_SCRIPTS, SCORE_SCRIPTS

    registry = default_registry()
    params = {"object": registry.template_params(name)}
    binds = {**registry.sql_parameters(name), "run_id": "matching_benchmark"}

    def script(*templates: str) -> None:
        with connection.transaction(), connection.cursor() as cursor:
            execute_script(cursor, [render(template, params=params) for template in templates], binds)

    for schema in ("bronze", "staging", "hubspot"):
        connection.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
    script(*CREATE_STAGING_SCRIPTS)
    connection.execute("create schema hubspot")
    for table, id_property in MIRRORS.values():
        rows = data.hubspot if table == MIRRORS[name][0] else data.mirrors.get(table, [])
        columns = ["hs_object_id", id_property]
        columns = [*columns, *sorted({key for row in rows for key in row} - set(columns))]
        connection.execute(
            sql.SQL("create table {} ({})").format(
                sql.Identifier("hubspot", table),
                sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(column)) for column in columns),
            )
        )
        if rows:
            _copy_rows(connection, sql.Identifier("hubspot", table), columns, rows)
    columns = sorted({key for row in data.legacy for key in row})
    _copy_rows(connection, sql.Identifier("bronze", BRONZE[name]), columns, data.legacy)
    connection.commit()
    script(*RECONCILE_SCRIPTS)
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
