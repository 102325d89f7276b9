"""Deterministic sample data: legacy Sage CRM exports and a matching HubSpot mirror.

The same seed always gives the same files. Small sizes give the bundled demo data
(``include/bronze_layer``, ``include/demo``); large sizes feed the benchmarks. Legacy files
are written in the shapes real exports take (BOM, Windows-1252, semicolons, quoted
multi-line notes, decimal commas, ids written ``123.0``), and each legacy record is given a
fate in the mirror so that every reconciliation status occurs: linked by id and agreeing,
linked by id but disagreeing, linked twice, present without its legacy id, absent, and
unusable on the legacy side.

Run ``python -m crm_reconciliation_dev.sample_data --help``.
"""

from __future__ import annotations

import argparse
import csv
import random
import unicodedata
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIRST_NAMES = [
    "Jérôme",
    "Hélène",
    "François",
    "Zoé",
    "Gaëlle",
    "Loïc",
    "Benoît",
    "Stéphanie",
    "Cécile",
    "Noël",
    "Chloé",
    "Maël",
    "Éric",
    "Frédéric",
    "Agnès",
    "Anaïs",
    "Thérèse",
    "Joël",
    "Mélanie",
    "Raphaël",
]
LAST_NAMES = [
    "Dupont",
    "Lefèvre",
    "Müller",
    "Girard",
    "Bénard",
    "Rousseau",
    "Lemaître",
    "Faure",
    "Chevallier",
    "Perrin",
    "Moreau",
    "Garnier",
    "Bouchard",
    "Mercier",
    "Bérard",
    "Fontaine",
    "Lacroix",
    "Giraud",
]
NAME_CORES = [
    "Société Générale d'Électronique",
    "Microtechnique Alpine",
    "Crolles Semiconducteurs",
    "Isère Capteurs",
    "Optique Dauphinoise",
    "Grésivaudan Systèmes",
    "Électronique du Vercors",
    "Précision Chartreuse",
    "Rhône Photonique",
    "Savoie Mécatronique",
    "Bürkert Fluid Control",
    "Lynx Embedded",
    "Nordic Silicon",
    "Hélios Énergie",
    "Bellecour Ingénierie",
    "Aiguille Robotique",
    "Mont-Blanc Instruments",
    "Vizille Laser",
]
LEGAL_SUFFIXES = ["SA", "SAS", "SARL", "GmbH", "Ltd", "Inc", ""]
CITIES = [
    ("Grenoble", "Isère", "38000"),
    ("Crolles", "Isère", "38920"),
    ("Meylan", "Isère", "38240"),
    ("Lyon", "Rhône", "69002"),
    ("Annecy", "Haute-Savoie", "74000"),
    ("Chambéry", "Savoie", "73000"),
    ("Saint-Égrève", "Isère", "38120"),
    ("Valence", "Drôme", "26000"),
]
STREETS = ["rue Général Mangin", "avenue de l'Europe", "chemin du Vieux Chêne", "boulevard Gambetta"]
SECTORS = ["Semiconductors", "Aerospace", "Automotive", "Medical Devices", "Industrial IoT"]
STAGES = ["Identified", "Qualified", "Design In", "Design Win"]
STAGE_IDS = {
    "Identified": "85103752",
    "Qualified": "85103753",
    "Design In": "85103754",
    "Design Win": "85103756",
    "Closed Won": "85103757",
    "Closed Lost": "85103758",
}
STATUSES = ["En cours", "En cours", "Gagnée", "Perdue", "Abandonnée", "No-go"]
ACTIONS = ["Meeting", "EmailOut", "EmailIn", "PhoneOut", "PhoneIn", "ToDo"]
EPOCH = datetime(2018, 1, 8, 9, 30, tzinfo=UTC)
DAY_SPAN = 3000  # dates wrap after ~8 years, so that millions of records stay in range

# Share of legacy records given each fate in the mirror (the rest are "new": absent).
FATES = [
    ("matched", 0.55),
    ("matched_stale", 0.12),
    ("conflict_identity", 0.05),
    ("conflict_duplicate", 0.04),
    ("probable", 0.10),
    ("unusable", 0.04),
]


@dataclass(frozen=True)
class FileShape:
    encoding: str
    delimiter: str
    header_case: str  # "sage" (as Sage writes it) or "lower"
    date_style: str  # "sql" (2019-03-14 09:30:00.000) or "fr" (14/03/2019)


SHAPES = {
    "Company": FileShape("utf-8-sig", ",", "sage", "sql"),
    "Person": FileShape("cp1252", ";", "lower", "fr"),
    "Opportunity": FileShape("utf-8", ",", "sage", "sql"),
    "Communication": FileShape("utf-8", ",", "sage", "sql"),
}

LEGACY_COLUMNS = {
    "Company": [
        "Comp_CompanyId",
        "Comp_Name",
        "Comp_WebSite",
        "Comp_PhoneNumber",
        "Comp_Type",
        "Comp_Territory",
        "Comp_Sector",
        "Comp_Employees",
        "Comp_Revenue",
        "Comp_Source",
        "Comp_PrimaryAddressId",
        "Addr_Street1",
        "Addr_City",
        "Addr_State",
        "Addr_Country",
        "Addr_PostCode",
        "Comp_CreatedDate",
        "Comp_UpdatedDate",
        "Comp_SecTerr",
        "Comp_Deleted",
    ],
    "Person": [
        "Pers_PersonId",
        "Pers_Salutation",
        "Pers_FirstName",
        "Pers_LastName",
        "Pers_Title",
        "Pers_Department",
        "Pers_EmailAddress",
        "Pers_PhoneNumber",
        "Pers_MobileNumber",
        "Pers_CompanyId",
        "Comp_Name",
        "Pers_PrimaryAddressId",
        "Addr_Street1",
        "Addr_City",
        "Addr_State",
        "Addr_Country",
        "Addr_PostCode",
        "Pers_CreatedDate",
        "Pers_UpdatedDate",
        "Pers_Deleted",
    ],
    "Opportunity": [
        "Oppo_OpportunityId",
        "Oppo_Description",
        "Oppo_PrimaryCompanyId",
        "Comp_Name",
        "Pers_PersonId",
        "Oppo_Stage",
        "Oppo_Status",
        "Oppo_Forecast",
        "Oppo_Certainty",
        "Oppo_Type",
        "Oppo_Source",
        "Oppo_Priority",
        "Oppo_Product",
        "Oppo_TargetClose",
        "Oppo_ActualClose",
        "Oppo_Note",
        "Oppo_CreatedDate",
        "Oppo_UpdatedDate",
        "Oppo_Deleted",
    ],
    "Communication": [
        "Comm_CommunicationId",
        "Comm_Type",
        "Comm_Action",
        "Comm_Status",
        "Comm_Subject",
        "Comm_Note",
        "Comm_DateTime",
        "Comm_OriginalDateTime",
        "Comm_OpportunityId",
        "Comm_CaseId",
        "CmLi_Comm_CompanyId",
        "CmLi_Comm_PersonId",
        "Comm_UpdatedDate",
        "Comm_Deleted",
    ],
}

MIRROR_TABLES = {"Company": "companies", "Person": "contacts", "Opportunity": "deals", "Communication": "engagements"}
LEGACY_ID_PROPERTY = {
    "Company": "icalps_company_id",
    "Person": "icalps_contact_id",
    "Opportunity": "icalps_deal_id",
    "Communication": "icalps_communication_id",
}
SYNC_COLUMN = "stacksync_record_id_7f3a9c"


@dataclass
class Sizes:
    companies: int = 40
    contacts: int = 60
    deals: int = 30
    communications: int = 50


@dataclass
class _State:
    """What later objects need to know of earlier ones (ids present in HubSpot, names)."""

    rng: random.Random
    company_names: dict[int, str] = field(default_factory=dict)
    hubspot_ids: dict[str, dict[int, str]] = field(default_factory=dict)
    next_hs_id: int = 10_000_001
    previous_hubspot: dict[str, dict] = field(default_factory=dict)
    deal_count: int = 0

    def start(self, table: str) -> tuple[random.Random, dict[int, str], list[int]]:
        """What a generator of a dependent object needs: the random source, its id map, companies."""
        return self.rng, self.hubspot_ids.setdefault(table, {}), sorted(self.company_names) or [1000]

    def new_hs_id(self) -> str:
        self.next_hs_id += 1
        return str(self.next_hs_id)


def _fate(rng: random.Random, index: int) -> str:
    """Every fate once among the first records (so small samples show every status), then by chance."""
    draw, total = rng.random(), 0.0
    if index < len(FATES) + 1:
        return [*(name for name, _ in FATES), "new"][index]
    for name, share in FATES:
        total += share
        if draw < total:
            return name
    return "new"


def _ascii(value: str) -> str:
    """Lower-case ASCII letters and digits only, accents folded: the stuff of e-mails and domains."""
    folded = unicodedata.normalize("NFKD", value.lower())
    return "".join(ch for ch in folded if ch.isascii() and (ch.isalnum() or ch == "."))


def _legacy_date(moment: datetime, style: str) -> str:
    return moment.strftime("%d/%m/%Y") if style == "fr" else moment.strftime("%Y-%m-%d %H:%M:%S.000")


def _legacy_decimal(value: float) -> str:
    """French export style: thousands separated by a space, decimal comma."""
    whole, cents = f"{value:,.2f}".split(".")
    return f"{whole.replace(',', ' ')},{cents}"


def _phone(rng: random.Random) -> tuple[str, str]:
    """A French number as the legacy CRM wrote it, and as HubSpot stores it."""
    pairs = [f"{rng.randint(0, 99):02d}" for _ in range(3)]
    national = f"04 7{rng.randint(0, 9)} " + " ".join(pairs)
    compact = national.replace(" ", "")
    return national, rng.choice(["+33" + compact[1:], "+33 " + compact[1] + " " + national[3:]])


def _epoch_ms(moment: datetime) -> str:
    return str(int(moment.timestamp() * 1000))


def _id_as_exported(rng: random.Random, legacy_id: int) -> str:
    return f"{legacy_id}.0" if rng.random() < 0.15 else str(legacy_id)


def _id_in_mirror(rng: random.Random, legacy_id: int) -> str:
    return rng.choice([str(legacy_id)] * 6 + [f"{legacy_id}.0", f" {legacy_id}"])


def _companies(state: _State, count: int, style: str) -> Iterator[tuple[dict, list[dict]]]:
    rng = state.rng
    hubspot_ids = state.hubspot_ids.setdefault("Company", {})
    for index in range(count):
        legacy_id = 1000 + index
        core = NAME_CORES[index % len(NAME_CORES)]
        if index >= len(NAME_CORES):
            core = f"{core} {CITIES[index % len(CITIES)][0]} {index // len(NAME_CORES)}"
        suffix = LEGAL_SUFFIXES[index % len(LEGAL_SUFFIXES)]
        name = f"{core} {suffix}".strip()
        slug = _ascii(core).replace(".", "")[:20]
        website = rng.choice([f"https://www.{slug}.fr", f"http://{slug}.fr/contact", f"www.{slug}.fr"])
        phone, phone_hubspot = _phone(rng)
        city, state_name, postcode = CITIES[index % len(CITIES)]
        created = EPOCH + timedelta(days=index * 3 % DAY_SPAN, minutes=index * 7 % 1440)
        employees = rng.choice([12, 45, 120, 850, 2300])
        revenue = rng.choice([450000.0, 1250000.5, 12500.5, 98000000.0])
        fate = _fate(rng, index)
        row = {
            "Comp_CompanyId": _id_as_exported(rng, legacy_id),
            "Comp_Name": name,
            "Comp_WebSite": website,
            "Comp_PhoneNumber": phone,
            "Comp_Type": rng.choice(["Customer", "Prospect", "Partner"]),
            "Comp_Territory": "France Sud-Est",
            "Comp_Sector": rng.choice(SECTORS),
            "Comp_Employees": str(employees),
            "Comp_Revenue": _legacy_decimal(revenue),
            "Comp_Source": rng.choice(["Salon", "Web", "Recommandation"]),
            "Comp_PrimaryAddressId": str(50000 + index),
            "Addr_Street1": f"{index + 1} {rng.choice(STREETS)}",
            "Addr_City": city,
            "Addr_State": state_name,
            "Addr_Country": "France",
            "Addr_PostCode": postcode,
            "Comp_CreatedDate": _legacy_date(created, style),
            "Comp_UpdatedDate": _legacy_date(created, style),
            "Comp_SecTerr": "",
            "Comp_Deleted": "",
        }
        if fate == "unusable":
            row["Comp_Employees"] = "beaucoup"
        state.company_names[legacy_id] = name
        hubspot = {
            "name": name,
            "domain": f"{slug}.fr",
            "website": website,
            "phone": phone_hubspot,
            "type": row["Comp_Type"],
            "territory": row["Comp_Territory"],
            "industry": row["Comp_Sector"],
            "numberofemployees": str(employees),
            "annualrevenue": f"{revenue:f}".rstrip("0").rstrip("."),
            "lead_source": row["Comp_Source"],
            "city": city,
            "state": state_name,
            "country": "France",
            "zip": postcode,
            "address": row["Addr_Street1"],
            "createdate": created.isoformat(),
        }
        yield row, _mirror_rows(state, "Company", legacy_id, fate, hubspot, "name", hubspot_ids)


def _mirror_rows(
    state: _State, table: str, legacy_id: int, fate: str, hubspot: dict, identity: str, ids: dict[int, str]
) -> list[dict]:
    """The HubSpot records a legacy record has, according to its fate."""
    rng = state.rng
    property_name = LEGACY_ID_PROPERTY[table]
    previous = state.previous_hubspot.get(table)
    state.previous_hubspot[table] = hubspot
    if previous is None and fate == "conflict_identity":
        fate = "matched"
    if fate in ("new", "unusable") and rng.random() < 0.7:
        return []
    record = {
        **hubspot,
        "hs_object_id": state.new_hs_id(),
        property_name: _id_in_mirror(rng, legacy_id),
        SYNC_COLUMN: f"ss-{rng.getrandbits(40):010x}",
    }
    ids[legacy_id] = record["hs_object_id"]
    if fate == "matched_stale":
        stale = [key for key in hubspot if key not in (identity, "createdate", "hs_timestamp", "email")]
        for key in rng.sample(stale, k=min(2, len(stale))):
            record[key] = "" if rng.random() < 0.4 else f"ancien {record[key]}".strip()
    elif fate == "conflict_identity":
        # The legacy id was typed onto a record of another entity: nothing else agrees.
        record.update({key: value for key, value in previous.items() if key != "createdate"})
        record[identity] = f"Autre {record[identity]}"
    elif fate == "conflict_duplicate":
        twin = {**record, "hs_object_id": state.new_hs_id(), SYNC_COLUMN: f"ss-{rng.getrandbits(40):010x}"}
        return [record, twin]
    elif fate == "probable":
        record[property_name] = ""
        record[identity] = _variant(rng, record[identity])
        del ids[legacy_id]
    return [record]


def _variant(rng: random.Random, value: str) -> str:
    """How a record typed by hand in HubSpot differs: case, accents, legal suffix."""
    folded = "".join(ch for ch in unicodedata.normalize("NFKD", value) if not unicodedata.combining(ch))
    for suffix in LEGAL_SUFFIXES:
        if suffix and folded.endswith(" " + suffix):
            folded = folded[: -len(suffix) - 1]
    return rng.choice([folded.upper(), folded, folded + " S.A.S."])


def _contacts(state: _State, count: int, style: str) -> Iterator[tuple[dict, list[dict]]]:
    rng, hubspot_ids, company_ids = state.start("Person")
    for index in range(count):
        legacy_id = 2000 + index
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index * 7) % len(LAST_NAMES)]
        company_id = company_ids[index % len(company_ids)]
        company = state.company_names.get(company_id, "")
        ascii_name = _ascii(f"{first}.{last}")
        email = f"{ascii_name}{index}@{company_id}.example.fr"
        phone, phone_hubspot = _phone(rng)
        mobile = _phone(rng)[0].replace("04 7", "06 1", 1)
        city, state_name, postcode = CITIES[index % len(CITIES)]
        created = EPOCH + timedelta(days=index * 2 % DAY_SPAN)
        fate = _fate(rng, index)
        row = {
            "Pers_PersonId": _id_as_exported(rng, legacy_id),
            "Pers_Salutation": rng.choice(["M.", "Mme"]),
            "Pers_FirstName": first,
            "Pers_LastName": last,
            "Pers_Title": rng.choice(["Directeur R&D", "Acheteur"]),
            "Pers_Department": rng.choice(["Achats", "Ingénierie", "Qualité"]),
            "Pers_EmailAddress": rng.choice([email, f" {email.upper()} "]),
            "Pers_PhoneNumber": phone,
            "Pers_MobileNumber": mobile,
            "Pers_CompanyId": str(company_id),
            "Comp_Name": company,
            "Pers_PrimaryAddressId": str(60000 + index),
            "Addr_Street1": f"{index + 3} {rng.choice(STREETS)}",
            "Addr_City": city,
            "Addr_State": state_name,
            "Addr_Country": "France",
            "Addr_PostCode": postcode,
            "Pers_CreatedDate": _legacy_date(created, style),
            "Pers_UpdatedDate": _legacy_date(created, style),
            "Pers_Deleted": "",
        }
        if fate == "unusable":  # neither a name nor an e-mail: nothing to reconcile it by
            row["Pers_FirstName"] = row["Pers_LastName"] = row["Pers_EmailAddress"] = ""
        hubspot = {
            "firstname": first,
            "lastname": last,
            "email": email,
            "phone": phone_hubspot,
            "mobilephone": "+33" + mobile.replace(" ", "")[1:],
            "jobtitle": row["Pers_Title"],
            "department": row["Pers_Department"],
            "salutation": row["Pers_Salutation"],
            "associatedcompanyid": state.hubspot_ids.get("Company", {}).get(company_id, ""),
            "company": company,
            "city": city,
            "state": state_name,
            "country": "France",
            "zip": postcode,
            "address": row["Addr_Street1"],
            "createdate": created.isoformat(),
        }
        yield row, _mirror_rows(state, "Person", legacy_id, fate, hubspot, "lastname", hubspot_ids)


def _deals(state: _State, count: int, style: str) -> Iterator[tuple[dict, list[dict]]]:
    rng, hubspot_ids, company_ids = state.start("Opportunity")
    for index in range(count):
        legacy_id = 3000 + index
        company_id = company_ids[(index * 3) % len(company_ids)]
        stage, status = STAGES[index % len(STAGES)], STATUSES[index % len(STATUSES)]
        amount = rng.choice([12500.5, 48000.0, 250000.0, 1500.75])
        close = EPOCH + timedelta(days=(200 + index * 5) % DAY_SPAN)
        created = EPOCH + timedelta(days=index * 4 % DAY_SPAN)
        product = rng.choice(["ASIC 28nm", "Capteur MEMS", "Module RF"])
        description = f"{product} — {state.company_names.get(company_id, 'Client')} {index}"
        note = f'Relance prévue.\nContact: "{FIRST_NAMES[index % len(FIRST_NAMES)]}"\nBudget validé'
        fate = _fate(rng, index)
        row = {
            "Oppo_OpportunityId": _id_as_exported(rng, legacy_id),
            "Oppo_Description": description,
            "Oppo_PrimaryCompanyId": str(company_id),
            "Comp_Name": state.company_names.get(company_id, ""),
            "Pers_PersonId": str(2000 + index),
            "Oppo_Stage": stage,
            "Oppo_Status": status,
            "Oppo_Forecast": _legacy_decimal(amount),
            "Oppo_Certainty": str(rng.choice([10, 25, 50, 75, 90])),
            "Oppo_Type": rng.choice(["New Business", "Renouvellement"]),
            "Oppo_Source": "Salon",
            "Oppo_Priority": rng.choice(["Haute", "Normale"]),
            "Oppo_Product": product,
            "Oppo_TargetClose": _legacy_date(close, style),
            "Oppo_ActualClose": _legacy_date(close, style) if status != "En cours" else "",
            "Oppo_Note": note,
            "Oppo_CreatedDate": _legacy_date(created, style),
            "Oppo_UpdatedDate": _legacy_date(created, style),
            "Oppo_Deleted": "",
        }
        if fate == "unusable":
            row["Oppo_Stage"], row["Oppo_Status"] = "Négociation spéciale", "En cours"
        outcome = {
            "Gagnée": "Closed Won",
            "Perdue": "Closed Lost",
            "Abandonnée": "Closed Lost",
            "No-go": "Closed Lost",
        }.get(status, stage)
        hubspot = {
            "dealname": description,
            "amount": f"{amount:f}".rstrip("0").rstrip("."),
            "dealstage": STAGE_IDS[outcome],
            "deal_status": status,
            "deal_certainty": row["Oppo_Certainty"],
            "dealtype": row["Oppo_Type"],
            "deal_source": "Salon",
            "closedate": close.date().isoformat(),
            "actual_close_date": close.date().isoformat() if row["Oppo_ActualClose"] else "",
            "deal_priority": row["Oppo_Priority"],
            "deal_brand": product,
            "deal_notes": note,
            "associatedcompanyid": state.hubspot_ids.get("Company", {}).get(company_id, ""),
            "company": row["Comp_Name"],
            "primary_contact_id": state.hubspot_ids.get("Person", {}).get(2000 + index, ""),
            "createdate": created.isoformat(),
        }
        yield row, _mirror_rows(state, "Opportunity", legacy_id, fate, hubspot, "dealname", hubspot_ids)


def _communications(state: _State, count: int, style: str) -> Iterator[tuple[dict, list[dict]]]:
    rng, hubspot_ids, company_ids = state.start("Communication")
    for index in range(count):
        legacy_id = 4000 + index
        deal_id = 3000 + index % max(1, state.deal_count)
        company_id = company_ids[(index * 5) % len(company_ids)]
        moment = EPOCH + timedelta(days=index % DAY_SPAN, hours=index % 8)
        action = ACTIONS[index % len(ACTIONS)]
        subject = f"Suivi {action} n°{index} — {state.company_names.get(company_id, '')}"
        note = (
            f"Bonjour,\n\nSuite à notre échange, voici le \"devis\" révisé ({index}).\nCordialement,\nL'équipe IC'ALPS"
        )
        fate = _fate(rng, index)
        row = {
            "Comm_CommunicationId": _id_as_exported(rng, legacy_id),
            "Comm_Type": "Appointment" if action == "Meeting" else "Task",
            "Comm_Action": action,
            "Comm_Status": rng.choice(["Complete", "Pending"]),
            "Comm_Subject": subject,
            "Comm_Note": note,
            "Comm_DateTime": _legacy_date(moment, style),
            "Comm_OriginalDateTime": _legacy_date(moment, style),
            "Comm_OpportunityId": str(deal_id),
            "Comm_CaseId": "",
            "CmLi_Comm_CompanyId": str(company_id),
            "CmLi_Comm_PersonId": str(2000 + index),
            "Comm_UpdatedDate": _legacy_date(moment, style),
            "Comm_Deleted": "",
        }
        if fate == "unusable":
            row["Comm_DateTime"] = "31/02/2019 25:61"
        hubspot = {
            "hs_engagement_subject": subject,
            "hs_note_body": note,
            "hs_timestamp": _epoch_ms(moment),
            "hs_engagement_type": row["Comm_Type"],
            "hs_call_direction": action,
            "hs_engagement_status": row["Comm_Status"],
            "hs_original_datetime": _epoch_ms(moment),
            "associated_deal_id": state.hubspot_ids.get("Opportunity", {}).get(deal_id, ""),
            "associated_ticket_id": "",
            "associated_company_id": state.hubspot_ids.get("Company", {}).get(company_id, ""),
            "associated_contact_id": state.hubspot_ids.get("Person", {}).get(2000 + index, ""),
        }
        yield row, _mirror_rows(state, "Communication", legacy_id, fate, hubspot, "hs_engagement_subject", hubspot_ids)


GENERATORS = {"Company": _companies, "Person": _contacts, "Opportunity": _deals, "Communication": _communications}


def _header(table: str, shape: FileShape) -> list[str]:
    columns = LEGACY_COLUMNS[table]
    return [c.lower() for c in columns] if shape.header_case == "lower" else list(columns)


def generate(
    bronze_dir: Path, mirror_dir: Path | None, sizes: Sizes, seed: int = 20190314, faults: bool = True
) -> None:
    """Write ``Bronze_<Table>.csv`` files (and the mirror's CSVs when ``mirror_dir`` is given).

    With ``faults``, each file also gets the soft-deleted and malformed rows a real export has,
    few enough to stay under the default 5% reject threshold. Rows are written as they are
    made, so millions of records take no more memory than a few.
    """
    state = _State(rng=random.Random(seed), deal_count=sizes.deals)  # noqa: S311 - reproducible, not secret
    counts = {
        "Company": sizes.companies,
        "Person": sizes.contacts,
        "Opportunity": sizes.deals,
        "Communication": sizes.communications,
    }
    bronze_dir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as files:
        mirrors = {table: _MirrorFile(files, mirror_dir, table) for table in GENERATORS} if mirror_dir else {}
        for table, generator in GENERATORS.items():
            shape = SHAPES[table]
            header = _header(table, shape)
            columns = LEGACY_COLUMNS[table]
            path = bronze_dir / f"Bronze_{table}.csv"
            with path.open("w", encoding=shape.encoding, newline="", errors="strict") as handle:
                writer = csv.writer(handle, delimiter=shape.delimiter, lineterminator="\r\n")
                writer.writerow(header)
                for position, (row, mirror) in enumerate(generator(state, counts[table], shape.date_style)):
                    writer.writerow([row[column] for column in columns])
                    if mirrors:
                        mirrors[table].write(mirror)
                    if faults and position == 7:
                        _write_faults(writer, table, columns, row)
        for mirror_file in mirrors.values():  # after every table: the random sequence stays as it was
            mirror_file.finish(state)


def _write_faults(writer: csv.writer, table: str, columns: list[str], row: dict) -> None:
    """A soft-deleted record, and one malformed record of a kind that differs per file."""
    id_column = columns[0]
    deleted = {**row, id_column: str(int(float(row[id_column])) + 500), columns[-1]: "1"}
    writer.writerow([deleted[column] for column in columns])
    if table == "Company":
        writer.writerow([{**row, id_column: "ABC-12"}[column] for column in columns])
    elif table == "Person":
        writer.writerow([row[column] for column in columns][:-3])
        writer.writerow([row[column] for column in columns])  # duplicate id
    elif table == "Opportunity":
        writer.writerow([{**row, id_column: ""}[column] for column in columns])


class _MirrorFile:
    """``hubspot_<table>.csv``, written row by row; its columns are those of the first record."""

    def __init__(self, files: ExitStack, mirror_dir: Path, table: str):
        mirror_dir.mkdir(parents=True, exist_ok=True)
        handle = files.enter_context(
            (mirror_dir / f"hubspot_{MIRROR_TABLES[table]}.csv").open("w", encoding="utf-8", newline="")
        )
        self.writer = csv.writer(handle, lineterminator="\n")
        self.property_name = LEGACY_ID_PROPERTY[table]
        self.columns: list[str] | None = None
        self.template: dict | None = None

    def write(self, rows: list[dict]) -> None:
        for row in rows:
            if self.columns is None:
                self.template = row
                special = ("hs_object_id", self.property_name, SYNC_COLUMN)
                self.columns = ["hs_object_id", *[k for k in row if k not in special], self.property_name, SYNC_COLUMN]
                self.writer.writerow(self.columns)
            self.writer.writerow([row.get(column, "") for column in self.columns])

    def finish(self, state: _State) -> None:
        """Orphans (a legacy id no live legacy row has) and a record that exists only in HubSpot."""
        if self.template is None:
            self.writer.writerow(["hs_object_id", self.property_name, SYNC_COLUMN])
            return
        rng = state.rng
        extras = [
            self.template
            | {
                "hs_object_id": state.new_hs_id(),
                self.property_name: str(990000 + offset),
                SYNC_COLUMN: f"ss-{rng.getrandbits(40):010x}",
            }
            for offset in range(2)
        ]
        extras.append(
            self.template
            | {"hs_object_id": state.new_hs_id(), self.property_name: "", SYNC_COLUMN: f"ss-{rng.getrandbits(40):010x}"}
        )
        self.write(extras)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bronze-dir", type=Path, required=True)
    parser.add_argument("--mirror-dir", type=Path)
    parser.add_argument("--companies", type=int, default=Sizes.companies)
    parser.add_argument("--contacts", type=int, default=Sizes.contacts)
    parser.add_argument("--deals", type=int, default=Sizes.deals)
    parser.add_argument("--communications", type=int, default=Sizes.communications)
    parser.add_argument("--seed", type=int, default=20190314)
    parser.add_argument("--no-faults", action="store_true")
    args = parser.parse_args(argv)
    sizes = Sizes(args.companies, args.contacts, args.deals, args.communications)
    generate(args.bronze_dir, args.mirror_dir, sizes, seed=args.seed, faults=not args.no_faults)


if __name__ == "__main__":
    main()
