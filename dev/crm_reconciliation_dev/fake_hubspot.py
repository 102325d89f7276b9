"""A local stand-in for a HubSpot portal of late 2026 and the workflow API, on 127.0.0.1: the
date-based API (``/crm/objects/2026-09/…``, ``/crm/associations/2026-09/…``,
``/crm/properties/2026-09/…``, ``/crm/pipelines/2026-09/…``, ``/crm/owners/2026-09``; any
``YYYY-MM`` version) beside the legacy paths (``/crm/v3/…``, ``/crm/v4/associations/…``).

For tests and benchmarks only. Why strict: a lenient fake lets a push pass that a real portal
refuses. A real portal refuses a whole batch that names a property it does not have (or a
read-only one) or gives a property a value it does not take, fails an update of a record it
does not hold, keeps unique-value properties unique (which is what makes an upsert by legacy
id safe to replay), and only links records with the association types it defines. This fake
does the same, from a property catalogue written out below as a real portal reports it
(HubSpot's standard properties with their options and labels, plus the legacy design's
``icalps`` custom properties), not derived from the project's registry: the registry is what
is being checked.

Values as a portal of late 2026 takes them: numbers plain decimals, dates ``YYYY-MM-DD`` or
epoch milliseconds at midnight UTC, datetimes ISO-8601 or epoch milliseconds, booleans
``true``/``false``, an enumeration an option's value (never its label; ``;``-joined for a
multiple checkbox), a contact's ``email`` one valid address, unique in the portal (compared
without case: a batch giving one another contact holds is refused, 409 CONFLICT). A non-text
value keeps no surrounding whitespace, invisible characters included; no value is longer than
65,536 characters. ``pipeline`` takes a
pipeline id, ``dealstage`` a stage of the deal's pipeline (the input's, else the record's, else
the default), ``hubspot_owner_id`` an owner's id. On the date-based API the portal's validation
rule holds too: a deal in a closed-won stage has a ``closedate``. A refused value refuses the
whole batch (400), unless every input carries an ``objectWriteTraceId``: then the valid inputs
are applied and the answer is a 207 naming each refused input by its trace id. Admins add
options to enumerations (PATCH the property with its full option list) and property groups.

It keeps records per object type in memory (archived ones apart), and each property's history
(who wrote which value when: the push, an import, a person in HubSpot's UI). It enforces a
rolling rate limit the way HubSpot does (429, policy TEN_SECONDLY_ROLLING) on every request,
and a daily quota if given (429, policy DAILY), with HubSpot's rate-limit headers on every
answer. It answers after a latency with jitter, requests overlapping as on a real network. It
injects faults on request into writes: 429s, 5xx, timeouts, dropped connections, 207 partial
failures. It counts what it applied, so a test can tell whether a write landed twice, and logs
every request it served.

Not modelled: pipelines of other objects than deals (listed empty), editing pipelines or owners
through the API, a property group having to exist before a property names it, values of
enumerations whose options live elsewhere without a reference the fake knows
(``hs_attachment_ids``: any value), e-mail addresses beyond ASCII (refused), validation rules
other than the close date of a won deal (and none on a UI edit), restoring archived records,
search, merge, single-record endpoints.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import random
import re
import threading
import time
import uuid
from collections import Counter, deque
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

UPDATE_FAULTS = ("ok", "429", "500", "timeout_after_apply", "drop_before_apply", "drop_after_apply", "207")

# HubSpot's object type ids; a path may name an object by plural name, singular name or type id.
OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-27": "tasks",
    "0-46": "notes",
    "0-47": "meetings",
    "0-48": "calls",
    "0-49": "emails",
}
TYPE_ID_OF = {name: type_id for type_id, name in OBJECT_TYPE_IDS.items()}
MAX_BATCH_INPUTS = 100
# The associations API's batch/read takes at most 1,000 inputs (HubSpot changelog "Batch Read Limit
# for HubSpot Associations API", February 2025); this portal holds batch/create and
# batch/associate/default to the same 1,000.
MAX_ASSOCIATION_BATCH_INPUTS = 1000
# The object write batches, whose inputs are the records written (``FakeCrm.object_writes``).
OBJECT_WRITE_ROUTE = re.compile(r"/crm/(?:v3/objects|objects/\d{4}-\d{2})/[^/]+/batch/(?:create|update|upsert)")
# Who a value's history names: the private app the token belongs to (API writes), an import (seed),
# the HubSpot user who edits in the UI (``edit``).
INTEGRATION_ID = "2468013"
IMPORT_ID = "import-1"
UI_USER_ID = 7654321
ENGAGEMENTS = ("notes", "calls", "emails", "meetings", "tasks")
# Engagements cannot be created without the time they sit at on the timeline.
REQUIRED_ON_CREATE = dict.fromkeys(ENGAGEMENTS, ("hs_timestamp",))
PROPERTY_TYPES = ("string", "number", "date", "datetime", "enumeration", "bool", "phone_number")
PROPERTY_NAME = re.compile(r"[a-z][a-z0-9_]*")
# A contact's e-mail: one valid address, unique in the portal (compared without case).
EMAIL_PROPERTY = ("contacts", "email")


SINGULAR = {("company" if name == "companies" else name.removesuffix("s")): name for name in TYPE_ID_OF}


def object_type(segment: str) -> str | None:
    """The object type a path segment names (``companies``, ``company``, ``0-2``), else None."""
    segment = segment.lower()
    return OBJECT_TYPE_IDS.get(segment) or (segment if segment in TYPE_ID_OF else SINGULAR.get(segment))


def _kind(name: str) -> str:
    """The object type ``name`` names; ValueError for one the portal does not have."""
    kind = object_type(name)
    if kind is None:
        raise ValueError(f"the fake portal has no object type {name!r}")
    return kind


# HUBSPOT_DEFINED association types: (from, to, default type id, its inverse, primary type id, its inverse).
ASSOCIATION_PAIRS = [
    ("contacts", "companies", 279, 280, 1, 2),
    ("deals", "companies", 341, 342, 5, 6),
    ("deals", "contacts", 3, 4, None, None),
    ("notes", "contacts", 202, 201, None, None),
    ("notes", "companies", 190, 189, None, None),
    ("notes", "deals", 214, 213, None, None),
    ("calls", "contacts", 194, 193, None, None),
    ("calls", "companies", 182, 181, None, None),
    ("calls", "deals", 206, 205, None, None),
    ("emails", "contacts", 198, 197, None, None),
    ("emails", "companies", 186, 185, None, None),
    ("emails", "deals", 210, 209, None, None),
    ("meetings", "contacts", 200, 199, None, None),
    ("meetings", "companies", 188, 187, None, None),
    ("meetings", "deals", 212, 211, None, None),
    ("tasks", "contacts", 204, 203, None, None),
    ("tasks", "companies", 192, 191, None, None),
    ("tasks", "deals", 216, 215, None, None),
]


def _association_tables() -> tuple[dict[tuple[str, str], int], dict[int, tuple[str, str]], dict[int, int]]:
    """(default type of each pair of objects, the pair of each type id, the inverse of each type id)."""
    default, pair, inverse = {}, {}, {}
    for source, target, default_id, inverse_id, primary_id, primary_inverse_id in ASSOCIATION_PAIRS:
        default |= {(source, target): default_id, (target, source): inverse_id}
        for type_id, reverse_id in ((default_id, inverse_id), (primary_id, primary_inverse_id)):
            if type_id:
                pair |= {type_id: (source, target), reverse_id: (target, source)}
                inverse |= {type_id: reverse_id, reverse_id: type_id}
    return default, pair, inverse


DEFAULT_TYPE, TYPE_PAIR, INVERSE_TYPE = _association_tables()
# A contact or a deal has one primary company (types 1 and 5; 2 and 6 are the company's side).
PRIMARY_TO_COMPANY = (1, 5)
PRIMARY_FROM_COMPANY = (2, 6)


def _property(
    name: str,
    label: str,
    group: str,
    type_: str = "string",
    field_type: str = "text",
    *,
    unique: bool = False,
    read_only: bool = False,
    hubspot_defined: bool = True,
    options: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A property as ``GET /crm/v3/properties/{objectType}`` describes it; ``options``: an
    enumeration's options (then the only values it takes; every property lists them, maybe none)."""
    described = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "options": _options(options or []),
        "hasUniqueValue": unique,
        "hidden": False,
        "calculated": False,
        "modificationMetadata": {
            "readOnlyValue": read_only,
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
        },
    }
    return (described | {"hubspotDefined": True}) if hubspot_defined else described


def _options(given: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Options as a portal lists them: each with its display order and whether it is hidden."""
    return [{"displayOrder": order, "hidden": False} | copy.deepcopy(option) for order, option in enumerate(given)]


def _labelled(options: dict[str, str]) -> list[dict[str, Any]]:
    """Options from ``{value: label}``: labels are HubSpot's own, never derived from the value."""
    return [{"label": label, "value": value} for value, label in options.items()]


def _enumeration(name: str, label: str, group: str, field_type: str, options: dict[str, str]) -> dict[str, Any]:
    """A HubSpot-defined enumeration and its options, ``{value: label}``."""
    return _property(name, label, group, "enumeration", field_type, options=_labelled(options))


def _external(name: str, label: str, group: str, field_type: str = "select") -> dict[str, Any]:
    """An enumeration whose options are the portal's records elsewhere (owners, pipelines, files):
    the portal fills them in (see ``REFERENCES``)."""
    return _property(name, label, group, "enumeration", field_type) | {"externalOptions": True}


# The options every portal has (HubSpot's defaults), ``{value: label}``.
LIFECYCLE_STAGES = {
    "subscriber": "Subscriber",
    "lead": "Lead",
    "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead",
    "opportunity": "Opportunity",
    "customer": "Customer",
    "evangelist": "Evangelist",
    "other": "Other",
}
LEAD_STATUSES = {
    "NEW": "New",
    "OPEN": "Open",
    "IN_PROGRESS": "In Progress",
    "OPEN_DEAL": "Open Deal",
    "UNQUALIFIED": "Unqualified",
    "ATTEMPTED_TO_CONTACT": "Attempted to Contact",
    "CONNECTED": "Connected",
    "BAD_TIMING": "Bad Timing",
}
CALL_STATUSES = {
    "BUSY": "Busy",
    "CALLING_CRM_USER": "Calling CRM User",
    "CANCELED": "Canceled",
    "COMPLETED": "Completed",
    "CONNECTING": "Connecting",
    "FAILED": "Failed",
    "IN_PROGRESS": "In Progress",
    "NO_ANSWER": "No Answer",
    "QUEUED": "Queued",
    "RINGING": "Ringing",
}
MEETING_OUTCOMES = {
    "SCHEDULED": "Scheduled",
    "COMPLETED": "Completed",
    "RESCHEDULED": "Rescheduled",
    "NO_SHOW": "No Show",
    "CANCELED": "Canceled",
}
TASK_STATUSES = {
    "NOT_STARTED": "Not started",
    "IN_PROGRESS": "In progress",
    "WAITING": "Waiting",
    "COMPLETED": "Completed",
    "DEFERRED": "Deferred",
}
# Company types: HubSpot's, and CUSTOMER, which this portal's admin added.
COMPANY_TYPES = {
    "PROSPECT": "Prospect",
    "PARTNER": "Partner",
    "RESELLER": "Reseller",
    "VENDOR": "Vendor",
    "OTHER": "Other",
    "CUSTOMER": "Customer",
}
DEAL_TYPES = {"newbusiness": "New Business", "existingbusiness": "Existing Business"}
# HubSpot's default industries (LinkedIn's former list).
INDUSTRIES = {
    "ACCOUNTING": "Accounting",
    "AIRLINES_AVIATION": "Airlines/Aviation",
    "ALTERNATIVE_DISPUTE_RESOLUTION": "Alternative Dispute Resolution",
    "ALTERNATIVE_MEDICINE": "Alternative Medicine",
    "ANIMATION": "Animation",
    "APPAREL_FASHION": "Apparel & Fashion",
    "ARCHITECTURE_PLANNING": "Architecture & Planning",
    "ARTS_AND_CRAFTS": "Arts and Crafts",
    "AUTOMOTIVE": "Automotive",
    "AVIATION_AEROSPACE": "Aviation & Aerospace",
    "BANKING": "Banking",
    "BIOTECHNOLOGY": "Biotechnology",
    "BROADCAST_MEDIA": "Broadcast Media",
    "BUILDING_MATERIALS": "Building Materials",
    "BUSINESS_SUPPLIES_AND_EQUIPMENT": "Business Supplies and Equipment",
    "CAPITAL_MARKETS": "Capital Markets",
    "CHEMICALS": "Chemicals",
    "CIVIC_SOCIAL_ORGANIZATION": "Civic & Social Organization",
    "CIVIL_ENGINEERING": "Civil Engineering",
    "COMMERCIAL_REAL_ESTATE": "Commercial Real Estate",
    "COMPUTER_NETWORK_SECURITY": "Computer & Network Security",
    "COMPUTER_GAMES": "Computer Games",
    "COMPUTER_HARDWARE": "Computer Hardware",
    "COMPUTER_NETWORKING": "Computer Networking",
    "COMPUTER_SOFTWARE": "Computer Software",
    "INTERNET": "Internet",
    "CONSTRUCTION": "Construction",
    "CONSUMER_ELECTRONICS": "Consumer Electronics",
    "CONSUMER_GOODS": "Consumer Goods",
    "CONSUMER_SERVICES": "Consumer Services",
    "COSMETICS": "Cosmetics",
    "DAIRY": "Dairy",
    "DEFENSE_SPACE": "Defense & Space",
    "DESIGN": "Design",
    "EDUCATION_MANAGEMENT": "Education Management",
    "E_LEARNING": "E-Learning",
    "ELECTRICAL_ELECTRONIC_MANUFACTURING": "Electrical/Electronic Manufacturing",
    "ENTERTAINMENT": "Entertainment",
    "ENVIRONMENTAL_SERVICES": "Environmental Services",
    "EVENTS_SERVICES": "Events Services",
    "EXECUTIVE_OFFICE": "Executive Office",
    "FACILITIES_SERVICES": "Facilities Services",
    "FARMING": "Farming",
    "FINANCIAL_SERVICES": "Financial Services",
    "FINE_ART": "Fine Art",
    "FISHERY": "Fishery",
    "FOOD_BEVERAGES": "Food & Beverages",
    "FOOD_PRODUCTION": "Food Production",
    "FUND_RAISING": "Fund-Raising",
    "FURNITURE": "Furniture",
    "GAMBLING_CASINOS": "Gambling & Casinos",
    "GLASS_CERAMICS_CONCRETE": "Glass, Ceramics & Concrete",
    "GOVERNMENT_ADMINISTRATION": "Government Administration",
    "GOVERNMENT_RELATIONS": "Government Relations",
    "GRAPHIC_DESIGN": "Graphic Design",
    "HEALTH_WELLNESS_AND_FITNESS": "Health, Wellness and Fitness",
    "HIGHER_EDUCATION": "Higher Education",
    "HOSPITAL_HEALTH_CARE": "Hospital & Health Care",
    "HOSPITALITY": "Hospitality",
    "HUMAN_RESOURCES": "Human Resources",
    "IMPORT_AND_EXPORT": "Import and Export",
    "INDIVIDUAL_FAMILY_SERVICES": "Individual & Family Services",
    "INDUSTRIAL_AUTOMATION": "Industrial Automation",
    "INFORMATION_SERVICES": "Information Services",
    "INFORMATION_TECHNOLOGY_AND_SERVICES": "Information Technology and Services",
    "INSURANCE": "Insurance",
    "INTERNATIONAL_AFFAIRS": "International Affairs",
    "INTERNATIONAL_TRADE_AND_DEVELOPMENT": "International Trade and Development",
    "INVESTMENT_BANKING": "Investment Banking",
    "INVESTMENT_MANAGEMENT": "Investment Management",
    "JUDICIARY": "Judiciary",
    "LAW_ENFORCEMENT": "Law Enforcement",
    "LAW_PRACTICE": "Law Practice",
    "LEGAL_SERVICES": "Legal Services",
    "LEGISLATIVE_OFFICE": "Legislative Office",
    "LEISURE_TRAVEL_TOURISM": "Leisure, Travel & Tourism",
    "LIBRARIES": "Libraries",
    "LOGISTICS_AND_SUPPLY_CHAIN": "Logistics and Supply Chain",
    "LUXURY_GOODS_JEWELRY": "Luxury Goods & Jewelry",
    "MACHINERY": "Machinery",
    "MANAGEMENT_CONSULTING": "Management Consulting",
    "MARITIME": "Maritime",
    "MARKET_RESEARCH": "Market Research",
    "MARKETING_AND_ADVERTISING": "Marketing and Advertising",
    "MECHANICAL_OR_INDUSTRIAL_ENGINEERING": "Mechanical or Industrial Engineering",
    "MEDIA_PRODUCTION": "Media Production",
    "MEDICAL_DEVICES": "Medical Devices",
    "MEDICAL_PRACTICE": "Medical Practice",
    "MENTAL_HEALTH_CARE": "Mental Health Care",
    "MILITARY": "Military",
    "MINING_METALS": "Mining & Metals",
    "MOBILE_GAMES": "Mobile Games",
    "MOTION_PICTURES_AND_FILM": "Motion Pictures and Film",
    "MUSEUMS_AND_INSTITUTIONS": "Museums and Institutions",
    "MUSIC": "Music",
    "NANOTECHNOLOGY": "Nanotechnology",
    "NEWSPAPERS": "Newspapers",
    "NON_PROFIT_ORGANIZATION_MANAGEMENT": "Non-Profit Organization Management",
    "OIL_ENERGY": "Oil & Energy",
    "ONLINE_MEDIA": "Online Media",
    "OUTSOURCING_OFFSHORING": "Outsourcing/Offshoring",
    "PACKAGE_FREIGHT_DELIVERY": "Package/Freight Delivery",
    "PACKAGING_AND_CONTAINERS": "Packaging and Containers",
    "PAPER_FOREST_PRODUCTS": "Paper & Forest Products",
    "PERFORMING_ARTS": "Performing Arts",
    "PHARMACEUTICALS": "Pharmaceuticals",
    "PHILANTHROPY": "Philanthropy",
    "PHOTOGRAPHY": "Photography",
    "PLASTICS": "Plastics",
    "POLITICAL_ORGANIZATION": "Political Organization",
    "PRIMARY_SECONDARY_EDUCATION": "Primary/Secondary Education",
    "PRINTING": "Printing",
    "PROFESSIONAL_TRAINING_COACHING": "Professional Training & Coaching",
    "PROGRAM_DEVELOPMENT": "Program Development",
    "PUBLIC_POLICY": "Public Policy",
    "PUBLIC_RELATIONS_AND_COMMUNICATIONS": "Public Relations and Communications",
    "PUBLIC_SAFETY": "Public Safety",
    "PUBLISHING": "Publishing",
    "RAILROAD_MANUFACTURE": "Railroad Manufacture",
    "RANCHING": "Ranching",
    "REAL_ESTATE": "Real Estate",
    "RECREATIONAL_FACILITIES_AND_SERVICES": "Recreational Facilities and Services",
    "RELIGIOUS_INSTITUTIONS": "Religious Institutions",
    "RENEWABLES_ENVIRONMENT": "Renewables & Environment",
    "RESEARCH": "Research",
    "RESTAURANTS": "Restaurants",
    "RETAIL": "Retail",
    "SECURITY_AND_INVESTIGATIONS": "Security and Investigations",
    "SEMICONDUCTORS": "Semiconductors",
    "SHIPBUILDING": "Shipbuilding",
    "SPORTING_GOODS": "Sporting Goods",
    "SPORTS": "Sports",
    "STAFFING_AND_RECRUITING": "Staffing and Recruiting",
    "SUPERMARKETS": "Supermarkets",
    "TELECOMMUNICATIONS": "Telecommunications",
    "TEXTILES": "Textiles",
    "THINK_TANKS": "Think Tanks",
    "TOBACCO": "Tobacco",
    "TRANSLATION_AND_LOCALIZATION": "Translation and Localization",
    "TRANSPORTATION_TRUCKING_RAILROAD": "Transportation/Trucking/Railroad",
    "UTILITIES": "Utilities",
    "VENTURE_CAPITAL_PRIVATE_EQUITY": "Venture Capital & Private Equity",
    "VETERINARY": "Veterinary",
    "WAREHOUSING": "Warehousing",
    "WHOLESALE": "Wholesale",
    "WINE_AND_SPIRITS": "Wine and Spirits",
    "WIRELESS": "Wireless",
    "WRITING_AND_EDITING": "Writing and Editing",
}


def _system(group: str, created: str = "createdate", modified: str = "hs_lastmodifieddate") -> list[dict[str, Any]]:
    """The read-only properties HubSpot keeps on every record."""
    return [
        _property(created, "Create Date", group, "datetime", "date", read_only=True),
        _property(modified, "Last Modified Date", group, "datetime", "date", read_only=True),
        _property("hs_object_id", "Record ID", group, "number", "number", read_only=True),
    ]


def _activity(prefix_label: str) -> list[dict[str, Any]]:
    """What every engagement has besides its own properties."""
    return [
        _property("hs_timestamp", f"{prefix_label} date", "engagement", "datetime", "date"),
        _external("hubspot_owner_id", "Activity assigned to", "engagement"),
        _external("hs_attachment_ids", "Attachment IDs", "engagement", "checkbox"),
        *_system("engagement", created="hs_createdate"),
    ]


# HubSpot's standard properties that matter here, as a portal reports them. Absent on purpose
# (a real portal has none of them, and names starting with hs_ cannot be custom): companies'
# hs_lead_source; deals' associatedcompanyid and primary_contact_id (deals link to companies
# and contacts by association); notes' hs_engagement_subject, hs_engagement_type,
# hs_engagement_status, hs_call_direction, hs_original_datetime and associated_*_id.
STANDARD_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "companies": [
        _property("name", "Company name", "companyinformation"),
        _property("domain", "Company Domain Name", "companyinformation"),
        _property("website", "Website URL", "companyinformation"),
        _property("phone", "Phone Number", "companyinformation", "string", "phonenumber"),
        _enumeration("type", "Type", "companyinformation", "select", COMPANY_TYPES),
        _enumeration("industry", "Industry", "companyinformation", "select", INDUSTRIES),
        _property("numberofemployees", "Number of Employees", "companyinformation", "number", "number"),
        _property("annualrevenue", "Annual Revenue", "companyinformation", "number", "number"),
        _property("description", "Description", "companyinformation", "string", "textarea"),
        _property("address", "Street Address", "companyinformation"),
        _property("address2", "Street Address 2", "companyinformation"),
        _property("city", "City", "companyinformation"),
        _property("state", "State/Region", "companyinformation"),
        _property("zip", "Postal Code", "companyinformation"),
        _property("country", "Country/Region", "companyinformation"),
        _enumeration("lifecyclestage", "Lifecycle Stage", "companyinformation", "radio", LIFECYCLE_STAGES),
        _enumeration("hs_lead_status", "Lead Status", "sales_properties", "radio", LEAD_STATUSES),
        _external("hubspot_owner_id", "Company owner", "companyinformation"),
        *_system("companyinformation"),
    ],
    "contacts": [
        _property("firstname", "First Name", "contactinformation"),
        _property("lastname", "Last Name", "contactinformation"),
        _property("email", "Email", "contactinformation"),
        _property("phone", "Phone Number", "contactinformation", "string", "phonenumber"),
        _property("mobilephone", "Mobile Phone Number", "contactinformation", "string", "phonenumber"),
        _property("jobtitle", "Job Title", "contactinformation"),
        _property("salutation", "Salutation", "contactinformation"),
        _property("company", "Company Name", "contactinformation"),
        _property("associatedcompanyid", "Primary Associated Company ID", "contactinformation", "number", "number"),
        _property("website", "Website URL", "contactinformation"),
        _property("address", "Street Address", "contactinformation"),
        _property("city", "City", "contactinformation"),
        _property("state", "State/Region", "contactinformation"),
        _property("zip", "Postal Code", "contactinformation"),
        _property("country", "Country/Region", "contactinformation"),
        _enumeration("lifecyclestage", "Lifecycle Stage", "contactinformation", "radio", LIFECYCLE_STAGES),
        _enumeration("hs_lead_status", "Lead Status", "sales_properties", "radio", LEAD_STATUSES),
        _external("hubspot_owner_id", "Contact owner", "contactinformation"),
        *_system("contactinformation", modified="lastmodifieddate"),
    ],
    "deals": [
        _property("dealname", "Deal Name", "dealinformation"),
        _property("amount", "Amount", "dealinformation", "number", "number"),
        _external("dealstage", "Deal Stage", "dealinformation", "radio"),
        _external("pipeline", "Pipeline", "dealinformation"),
        _enumeration("dealtype", "Deal Type", "dealinformation", "radio", DEAL_TYPES),
        _property("closedate", "Close Date", "dealinformation", "datetime", "date"),
        _property("description", "Deal Description", "dealinformation", "string", "textarea"),
        _enumeration(
            "hs_priority", "Priority", "dealinformation", "select", {"low": "Low", "medium": "Medium", "high": "High"}
        ),
        _external("hubspot_owner_id", "Deal owner", "dealinformation"),
        *_system("dealinformation"),
    ],
    "notes": [
        _property("hs_note_body", "Note body", "engagement", "string", "html"),
        *_activity("Activity"),
    ],
    "calls": [
        _property("hs_call_title", "Call Title", "engagement"),
        _property("hs_call_body", "Call notes", "engagement", "string", "html"),
        _enumeration(
            "hs_call_direction",
            "Call direction",
            "engagement",
            "select",
            {"INBOUND": "Inbound", "OUTBOUND": "Outbound"},
        ),
        _enumeration("hs_call_status", "Call status", "engagement", "select", CALL_STATUSES),
        _property("hs_call_duration", "Call duration", "engagement", "number", "number"),
        *_activity("Activity"),
    ],
    "emails": [
        _property("hs_email_subject", "Email subject", "engagement"),
        _property("hs_email_text", "Email body", "engagement", "string", "textarea"),
        _property("hs_email_html", "Email HTML body", "engagement", "string", "html"),
        _enumeration(
            "hs_email_direction",
            "Email direction",
            "engagement",
            "select",
            {"EMAIL": "Email", "INCOMING_EMAIL": "Incoming email", "FORWARDED_EMAIL": "Forwarded email"},
        ),
        _enumeration(
            "hs_email_status",
            "Email send status",
            "engagement",
            "select",
            {"BOUNCED": "Bounced", "FAILED": "Failed", "SCHEDULED": "Scheduled", "SENDING": "Sending", "SENT": "Sent"},
        ),
        *_activity("Activity"),
    ],
    "meetings": [
        _property("hs_meeting_title", "Meeting name", "engagement"),
        _property("hs_meeting_body", "Meeting description", "engagement", "string", "html"),
        _property("hs_meeting_start_time", "Start time", "engagement", "datetime", "date"),
        _property("hs_meeting_end_time", "End time", "engagement", "datetime", "date"),
        _enumeration("hs_meeting_outcome", "Meeting outcome", "engagement", "select", MEETING_OUTCOMES),
        *_activity("Activity"),
    ],
    "tasks": [
        _property("hs_task_subject", "Task Title", "engagement"),
        _property("hs_task_body", "Notes", "engagement", "string", "html"),
        _enumeration("hs_task_status", "Task Status", "engagement", "select", TASK_STATUSES),
        _enumeration(
            "hs_task_priority",
            "Priority",
            "engagement",
            "select",
            {"NONE": "None", "LOW": "Low", "MEDIUM": "Medium", "HIGH": "High"},
        ),
        _enumeration(
            "hs_task_type", "Task Type", "engagement", "select", {"CALL": "Call", "EMAIL": "Email", "TODO": "To-do"}
        ),
        *_activity("Due"),
    ],
}


def _custom(name: str, label: str, type_: str = "string", field_type: str = "text", unique: bool = False) -> dict:
    return _property(name, label, "icalps", type_, field_type, unique=unique, hubspot_defined=False)


# The legacy design's custom properties (group icalps): the legacy ids, unique so that records
# can be upserted and read by them, and the legacy fields HubSpot has no standard property for.
CUSTOM_PROPERTIES: dict[str, list[dict[str, Any]]] = {
    "companies": [
        _custom("icalps_company_id", "iCalps company id", unique=True),
        _custom("territory", "Territory"),
        _custom("lead_source", "Lead source"),
    ],
    "contacts": [
        _custom("icalps_contact_id", "iCalps contact id", unique=True),
        _custom("department", "Department"),
    ],
    "deals": [
        _custom("icalps_deal_id", "iCalps deal id", unique=True),
        _custom("deal_status", "Deal status"),
        _custom("deal_certainty", "Deal certainty (%)", "number", "number"),
        _custom("deal_source", "Deal source"),
        _custom("actual_close_date", "Actual close date", "date", "date"),
        _custom("deal_priority", "Deal priority"),
        _custom("deal_brand", "Brand"),
        _custom("deal_notes", "Deal notes", field_type="textarea"),
        _custom("company", "Company name"),
    ],
    **{name: [_custom("icalps_communication_id", "iCalps communication id", unique=True)] for name in ENGAGEMENTS},
}


def default_catalogue(custom_properties: bool = True) -> dict[str, list[dict[str, Any]]]:
    """The portal's properties per object; without the icalps ones when ``custom_properties`` is false."""
    return {
        name: copy.deepcopy(STANDARD_PROPERTIES[name] + (CUSTOM_PROPERTIES[name] if custom_properties else []))
        for name in TYPE_ID_OF
    }


def _reference(kind: str, name: str) -> str | None:
    """What the options of a property are the portal's records of (its ``referencedObjectType``)."""
    if name == "hubspot_owner_id":
        return "OWNER"
    return {"pipeline": "PIPELINE", "dealstage": "PIPELINE_STAGE"}.get(name) if kind == "deals" else None


# The labels of the property groups a catalogue names (a group HubSpot does not define is labelled by its name).
GROUP_LABELS = {
    "companyinformation": "Company information",
    "contactinformation": "Contact information",
    "dealinformation": "Deal information",
    "sales_properties": "Sales properties",
    "engagement": "Engagement",
    "icalps": "iCalps",
}


def _stage(stage_id: str, label: str, probability: float, closed: bool = False) -> dict[str, Any]:
    return {
        "id": stage_id,
        "label": label,
        "metadata": {"isClosed": "true" if closed else "false", "probability": str(probability)},
    }


# The portal's deal pipelines, as ``FakeCrm(pipelines=…)`` takes them; the first is the default one
# (where a deal created without ``pipeline`` goes): HubSpot's own, and the real portal's Hardware.
DEAL_PIPELINES = [
    {
        "id": "default",
        "label": "Sales Pipeline",
        "stages": [
            _stage("appointmentscheduled", "Appointment Scheduled", 0.2),
            _stage("qualifiedtobuy", "Qualified To Buy", 0.4),
            _stage("presentationscheduled", "Presentation Scheduled", 0.6),
            _stage("decisionmakerboughtin", "Decision Maker Bought-In", 0.8),
            _stage("contractsent", "Contract Sent", 0.9),
            _stage("closedwon", "Closed Won", 1.0, closed=True),
            _stage("closedlost", "Closed Lost", 0.0, closed=True),
        ],
    },
    {
        "id": "85103751",
        "label": "Hardware",
        "stages": [
            _stage("85103752", "Identified", 0.1),
            _stage("85103753", "Qualified", 0.2),
            _stage("85103754", "Design In", 0.5),
            _stage("85103756", "Design Win", 0.8),
            _stage("85103757", "Closed Won", 1.0, closed=True),
            _stage("85103758", "Closed Lost", 0.0, closed=True),
        ],
    },
]
# The portal's owners, as ``FakeCrm(owners=…)`` takes them (the first is the user who edits in the UI).
OWNERS = [
    {
        "id": "41000001",
        "email": "claire.martin@icalps.example.fr",
        "firstName": "Claire",
        "lastName": "Martin",
        "userId": UI_USER_ID,
    },
    {
        "id": "41000002",
        "email": "julien.roux@icalps.example.fr",
        "firstName": "Julien",
        "lastName": "Roux",
        "userId": 7654322,
    },
    {
        "id": "41000003",
        "email": "ines.girard@icalps.example.fr",
        "firstName": "Inès",
        "lastName": "Girard",
        "userId": 7654323,
    },
]


def _pipeline(given: dict[str, Any], order: int, now: str) -> dict[str, Any]:
    """A pipeline as ``GET /crm/pipelines/{version}/deals`` lists it, from its id, label and stages
    (a stage's metadata as strings: ``isClosed`` "true"/"false", ``probability`` "0.0" to "1.0")."""
    stages = [
        {"displayOrder": number, "archived": False, "createdAt": now, "updatedAt": now}
        | {"writePermissions": "CRM_PERMISSIONS_ENFORCEMENT"}
        | copy.deepcopy(stage)
        | {"metadata": {key: _text(value) for key, value in stage.get("metadata", {}).items()}}
        for number, stage in enumerate(given["stages"])
    ]
    pipeline = {"displayOrder": order, "archived": False, "createdAt": now, "updatedAt": now} | copy.deepcopy(given)
    return pipeline | {"stages": stages}


def _owner(given: dict[str, Any], now: str) -> dict[str, Any]:
    """An owner as ``GET /crm/owners/{version}`` lists it, from its id, e-mail, names and user id."""
    return {"type": "PERSON", "archived": False, "createdAt": now, "updatedAt": now} | copy.deepcopy(given)


def _closed_won(stage: dict[str, Any]) -> bool:
    metadata = stage.get("metadata", {})
    return metadata.get("isClosed") == "true" and float(metadata.get("probability", 0)) == 1.0


def _hubspot_defined(given: dict[str, Any]) -> bool:
    """Whether a property of a catalogue is HubSpot's (unless it says otherwise, as custom ones do)."""
    return given.get("hubspotDefined", given.get("modificationMetadata", {}).get("readOnlyDefinition", True))


def _described(given: dict[str, Any], hubspot_defined: bool) -> dict[str, Any]:
    """A property given by its name and some fields, completed as the portal would describe it."""
    described = _property(
        given["name"],
        given.get("label", given["name"]),
        given.get("groupName", ""),
        given.get("type", "string"),
        given.get("fieldType", "text"),
        unique=bool(given.get("hasUniqueValue")),
        read_only=bool(given.get("modificationMetadata", {}).get("readOnlyValue")),
        hubspot_defined=hubspot_defined,
        options=given.get("options"),
    )
    return described | {key: copy.deepcopy(value) for key, value in given.items() if key not in described}


FIELD_TYPES = (
    "booleancheckbox",
    "calculation_equation",
    "checkbox",
    "date",
    "file",
    "html",
    "number",
    "phonenumber",
    "radio",
    "select",
    "text",
    "textarea",
)
# What a PATCH of a property may change, and the JSON type of each.
UPDATABLE = {
    "label": str,
    "description": str,
    "groupName": str,
    "displayOrder": int,
    "hidden": bool,
    "formField": bool,
    "options": list,
    "type": str,
    "fieldType": str,
    "calculationFormula": str,
}


def _definition_problem(given: dict[str, Any]) -> str | None:
    """What makes a property's type, field type or options (as POSTed or PATCHed) wrong."""
    if "type" in given and given["type"] not in PROPERTY_TYPES:
        return f"{given['type']!r} is not a property type: {PROPERTY_TYPES}"
    if "fieldType" in given and given["fieldType"] not in FIELD_TYPES:
        return f"{given['fieldType']!r} is not a field type: {FIELD_TYPES}"
    options = given.get("options", [])
    if not isinstance(options, list) or not all(
        isinstance(option, dict) and isinstance(option.get("label"), str) and isinstance(option.get("value"), str)
        for option in options
    ):
        return "options must be a list of objects, each with a label and a value"
    repeated = sorted(value for value, times in Counter(option["value"] for option in options).items() if times > 1)
    return f"Options must have distinct values: {repeated} repeated" if repeated else None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _error(category: str, message: str, **extra: Any) -> dict[str, Any]:
    """A whole-request error body (4xx)."""
    return {"status": "error", "category": category, "message": message, "correlationId": str(uuid.uuid4()), **extra}


def _rate_limited(message: str, policy: str) -> dict[str, Any]:
    """HubSpot's 429 body (no ``category``: it is no CRM error)."""
    return {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": str(uuid.uuid4()),
        "policyName": policy,
    }


def _input_error(category: str, message: str, errors: list[dict] | None = None, **context: list[str]) -> dict[str, Any]:
    """One entry of a 207's ``errors``."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": errors or [],
        "links": {},
    }


def _not_found(kind: str, ids: list[str]) -> dict[str, Any]:
    """The 207 error naming the ids a batch names but the portal does not hold."""
    message = f"Could not get some {kind} objects, they may be deleted or not exist. Check that ids are valid."
    return _input_error("OBJECT_NOT_FOUND", message, ids=ids)


def _property_errors(problems: list[tuple[str, str, str]]) -> tuple[str, list[dict[str, Any]]]:
    """HubSpot's message and error details for properties or values it refuses: (name, code,
    message) each. Like HubSpot's, the message names the property and the value, never the input."""
    details = [
        {"isValid": False, "message": message, "error": code, "name": name, "localizedErrorMessage": message}
        for name, code, message in problems
    ]
    errors = [
        {"message": message, "code": code, "context": {"propertyName": [name]}} for name, code, message in problems
    ]
    return f"Property values were not valid: {json.dumps(details)}", errors


def _invalid_properties(problems: list[tuple[str, str, str]]) -> dict[str, Any]:
    """HubSpot's 400 for a batch naming properties or values it refuses."""
    message, errors = _property_errors(problems)
    return _error("VALIDATION_ERROR", message, errors=errors)


def _invalid_input(problems: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The 207 error of one input whose values the portal refuses (multi-status)."""
    message, errors = _property_errors(problems)
    return _input_error("VALIDATION_ERROR", message, errors, propertyName=sorted({name for name, _, _ in problems}))


# Forms are matched whole and in ASCII: a value with anything around it (spaces, tabs, newlines,
# U+00A0, zero-width characters, a BOM) or with other digits is refused, as HubSpot refuses it.
NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?", re.ASCII)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?", re.ASCII)
EPOCH_MS = re.compile(r"-?\d{1,16}", re.ASCII)
# One address: a dot-atom local part, @, a domain of labels ending in a top-level one of letters.
EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}",
    re.ASCII,
)
DAY_MS = 86_400_000
MAX_VALUE_CHARACTERS = 65_536  # HubSpot keeps at most this many characters of any value


def _text(value: Any) -> str:
    """A property value as HubSpot stores it (JSON numbers and booleans are taken as their text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _calendar(text: str, parse: Any) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def _value_problem(spec: dict[str, Any], value: Any, email: bool = False) -> tuple[str, str] | None:
    """(HubSpot's error code, its message) when ``value`` does not fit the property ``spec`` (an
    e-mail address if ``email``), else None. Empty (``""`` or null) clears a property of any type.
    Since 2025 HubSpot refuses surrounding whitespace in non-text values: a value must be exactly
    its form; no value is longer than 65,536 characters (HubSpot's limit for any text property)."""
    if value is None or value == "":
        return None
    text, type_ = _text(value), spec.get("type")
    if len(text) > MAX_VALUE_CHARACTERS:
        return "INVALID_STRING_LENGTH", f"{len(text)} characters: a value holds at most {MAX_VALUE_CHARACTERS}."
    if email:
        return None if EMAIL.fullmatch(text) else ("INVALID_EMAIL", f"Email address {text} is invalid")
    if type_ == "number":
        finite = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return None if finite or NUMBER.fullmatch(text) else ("INVALID_INTEGER", f"{text} was not a valid number.")
    if type_ == "bool":
        return None if text in ("true", "false") else ("INVALID_BOOLEAN", f"{text} was not a valid boolean.")
    if type_ == "date":
        if ISO_DATE.fullmatch(text) and _calendar(text, datetime.fromisoformat):
            return None
        if not EPOCH_MS.fullmatch(text):
            return "INVALID_DATE", f"{text} was not a valid date (YYYY-MM-DD or epoch milliseconds at midnight UTC)."
        rest = int(text) % DAY_MS
        if rest:
            hours, minutes, seconds, millis = rest // 3_600_000, rest // 60_000 % 60, rest // 1000 % 60, rest % 1000
            return "INVALID_DATE", f"{text} is at {hours}:{minutes}:{seconds}.{millis} UTC, not midnight!"
        return None
    if type_ == "datetime":
        if EPOCH_MS.fullmatch(text):
            return None
        if ISO_DATETIME.fullmatch(text) and _calendar(text, datetime.fromisoformat):
            return None
        return "INVALID_LONG", f"{text} was not a valid long."
    # Options kept elsewhere that the fake does not know (attachments' files) are not checked.
    if type_ == "enumeration" and not (spec.get("externalOptions") and "referencedObjectType" not in spec):
        allowed = [option.get("value") for option in spec.get("options") or [] if isinstance(option, dict)]
        # A multiple checkbox holds several options, ``;``-separated (a leading ``;`` adds to the held ones).
        chosen = [part for part in text.split(";") if part] if spec.get("fieldType") == "checkbox" else [text]
        wrong = [part for part in chosen if part not in allowed]
        if wrong:
            return "INVALID_OPTION", f"{wrong[0]} was not one of the allowed options: {allowed}"
    return None


Link = tuple[str, str, str, str, int]  # (from object, from id, to object, to id, association type id)


class _Links(set):
    """The portal's associations, each link one ``Link`` (a pair of records holds one each way),
    as a set, with two indexes every change this portal (or a test adding a link by hand) makes
    keeps in step (``add``, ``discard``, ``update``, ``|=``, ``-=``): ``targets`` for a batch/read, ``touching`` for an
    archive. Both answer in time of what one record holds, not of every link in the portal."""

    def __init__(self, links: Any = ()) -> None:
        super().__init__()
        self._from: dict[tuple[str, str, str], dict[str, set[int]]] = {}  # (object, id, to object) → {to id: types}
        self._touching: dict[tuple[str, str], set[Link]] = {}  # (object, id) → links at either end
        self.update(links)

    def targets(self, kind: str, record_id: str, target: str) -> dict[str, set[int]]:
        """The ``target`` records ``kind`` ``record_id`` is linked to: {their id: the type ids} (do not change it)."""
        return self._from.get((kind, record_id, target), {})

    def touching(self, kind: str, record_id: str) -> set[Link]:
        """The links from or to one record (a copy)."""
        return set(self._touching.get((kind, record_id), ()))

    def _index(self, link: Link) -> None:
        kind, record_id, target, target_id, type_id = link
        self._from.setdefault((kind, record_id, target), {}).setdefault(target_id, set()).add(type_id)
        for end in ((kind, record_id), (target, target_id)):
            self._touching.setdefault(end, set()).add(link)

    def _unindex(self, link: Link) -> None:
        kind, record_id, target, target_id, type_id = link
        targets = self._from[kind, record_id, target]
        targets[target_id].discard(type_id)
        if not targets[target_id]:
            del targets[target_id]
            if not targets:
                del self._from[kind, record_id, target]
        for end in ((kind, record_id), (target, target_id)):
            touching = self._touching.get(end)
            if touching is not None:
                touching.discard(link)
                if not touching:
                    del self._touching[end]

    def add(self, link: Link) -> None:
        if link not in self:
            super().add(link)
            self._index(link)

    def discard(self, link: Link) -> None:
        if link in self:
            super().discard(link)
            self._unindex(link)

    def update(self, *others: Any) -> None:
        for other in others:
            for link in list(other):
                self.add(link)

    def difference_update(self, *others: Any) -> None:
        for other in others:
            for link in list(other):
                self.discard(link)

    def __ior__(self, other: Any) -> _Links:
        if not isinstance(other, set | frozenset):
            return NotImplemented
        self.update(other)
        return self

    def __isub__(self, other: Any) -> _Links:
        if not isinstance(other, set | frozenset):
            return NotImplemented
        self.difference_update(other)
        return self


class _Server(ThreadingHTTPServer):
    """One thread per connection, and room for many connections at once (a push keeps several
    requests in flight; the default backlog of 5 would make the sixth wait for a SYN retry)."""

    daemon_threads = True
    request_queue_size = 128


class FakeCrm:
    """The portal: ``objects[object_type][record_id]`` holds each record's properties,
    ``archived[object_type][record_id]`` the archived ones, ``history[object_type, record_id,
    property]`` each property's writes (oldest first).

    ``seed``: records to start with, ``{object_type: {record_id: properties}}``;
    ``catalogue``: replaces the default property catalogue (object → list of property dicts);
    ``custom_properties=False``: the default catalogue without the ``icalps`` custom properties;
    ``pipelines``: replaces the deal pipelines (``DEAL_PIPELINES``: id, label, stages; the first is
    the default); ``owners``: replaces the owners (``OWNERS``: id, email, names, user id); the
    options of ``pipeline``, ``dealstage`` and ``hubspot_owner_id`` are these, whatever the catalogue;
    ``latency_seconds`` ± ``latency_jitter_seconds`` (uniform, drawn from ``random_seed``): how
    long each answer takes; ``daily_limit``: requests per day (None: no daily quota).
    """

    def __init__(
        self,
        token: str = "test-token",  # noqa: S107 - the fake's own test token
        max_requests: int = 190,
        window_seconds: float = 10.0,
        timeout_seconds: float = 1.0,
        latency_seconds: float = 0.0,
        *,
        latency_jitter_seconds: float = 0.0,
        random_seed: int = 0,
        daily_limit: int | None = None,
        seed: dict[str, dict[str, dict[str, Any]]] | None = None,
        catalogue: dict[str, list[dict[str, Any]]] | None = None,
        custom_properties: bool = True,
        pipelines: list[dict[str, Any]] | None = None,
        owners: list[dict[str, Any]] | None = None,
    ):
        self.token, self.max_requests, self.window_seconds = token, max_requests, window_seconds
        self.timeout_seconds, self.latency_seconds = timeout_seconds, latency_seconds
        self.latency_jitter_seconds, self.daily_limit = latency_jitter_seconds, daily_limit
        self._random = random.Random(random_seed)  # noqa: S311 - jitter, not secrets
        given = catalogue if catalogue is not None else default_catalogue(custom_properties)
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            name: {prop["name"]: _described(prop, _hubspot_defined(prop)) for prop in given.get(name, [])}
            for name in TYPE_ID_OF
        }
        now = _now()
        self.pipelines = [
            _pipeline(pipeline, order, now)
            for order, pipeline in enumerate(DEAL_PIPELINES if pipelines is None else pipelines)
        ]
        if not self.pipelines:
            raise ValueError("a portal has at least one deal pipeline")
        self.owners = [_owner(owner, now) for owner in (OWNERS if owners is None else owners)]
        for kind, props in self.properties.items():
            for name, spec in props.items():
                if reference := _reference(kind, name):
                    spec |= {
                        "externalOptions": True,
                        "referencedObjectType": reference,
                        "options": self._referenced_options(reference),
                    }
        self.groups: dict[str, dict[str, dict[str, Any]]] = {
            kind: {
                group: {"name": group, "label": GROUP_LABELS.get(group, group), "displayOrder": -1, "archived": False}
                for group in dict.fromkeys(spec["groupName"] for spec in props.values())
                if group
            }
            for kind, props in self.properties.items()
        }
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TYPE_ID_OF}
        self.archived: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TYPE_ID_OF}
        self.history: dict[tuple[str, str, str], list[dict[str, Any]]] = {}  # (object, id, property) → writes
        self.associations = _Links()  # each link both ways; indexed (see ``_Links``)
        self.applied: Counter[str] = Counter()  # payload fingerprint → times applied
        self.created: Counter[str] = Counter()  # object type → records created
        self.faults: deque[str] = deque()  # consumed one per write request
        self.update_bodies: list[dict] = []
        self.requests: list[tuple[str, str, Any, int | None]] = []  # (method, path, body, status); None: dropped
        self.arrivals: list[float] = []  # when each of ``requests`` arrived, on all_request_times' clock
        self.statuses: Counter[int | None] = Counter()
        self.request_times: deque[float] = deque()
        self.all_request_times: list[float] = []
        self.limit_violations = 0  # requests refused by the rolling limit
        self.daily_used = 0  # requests counted against today's quota
        self.daily_violations = 0  # requests refused by the daily quota
        self.lock = threading.RLock()
        self._stamps: dict[tuple[str, str], tuple[str, str]] = {}  # (object, id) → (createdAt, updatedAt)
        # Unique values → the record holding each; a contact's e-mail is unique too (without case).
        self._unique: dict[tuple[str, str], dict[str, str]] = {
            (name, prop): {}
            for name, props in self.properties.items()
            for prop, spec in props.items()
            if spec["hasUniqueValue"] or (name, prop) == EMAIL_PROPERTY
        }
        self._last_id = 0
        for name, records in (seed or {}).items():
            self.seed(name, records)
        self.server = _Server(("127.0.0.1", 0), self._handler())
        # A short poll: shutting down waits for one (tests start and stop many portals).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def associations(self) -> _Links:
        """The links, ``(from object, from id, to object, to id, type id)``, each way: a set."""
        return self._associations

    @associations.setter
    def associations(self, links: Any) -> None:
        self._associations = links if isinstance(links, _Links) else _Links(links)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def records(self) -> dict[str, dict[str, Any]]:
        """The companies (what the fake held before it knew other objects)."""
        return self.objects["companies"]

    def __enter__(self) -> FakeCrm:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def fingerprint(record_id: str, properties: dict, object_type: str = "companies") -> str:
        payload = f"{object_type} {record_id} {json.dumps(properties, sort_keys=True)}"
        return hashlib.md5(payload.encode()).hexdigest()  # noqa: S324

    def object_writes(self) -> list[tuple[float, int, int | None]]:
        """(when it arrived, its inputs, its status) of each object write batch (batch/create,
        batch/update, batch/upsert), in the order answered: those answered 200 or 201 wrote their
        inputs (a 207 some of them)."""
        with self.lock:
            return [
                (arrived, len(body["inputs"]), status)
                for arrived, (method, path, body, status) in zip(self.arrivals, self.requests, strict=True)
                if method == "POST"
                and OBJECT_WRITE_ROUTE.fullmatch(urlparse(path).path)
                and isinstance(body, dict)
                and isinstance(body.get("inputs"), list)
            ]

    def max_requests_in_any_window(self) -> int:
        times, best, start = sorted(self.all_request_times), 0, 0
        for end, moment in enumerate(times):
            while moment - times[start] >= self.window_seconds:
                start += 1
            best = max(best, end - start + 1)
        return best

    def seed(self, name: str, records: dict[str, dict[str, Any]]) -> None:
        """Put records in the portal as they are (no request, nothing counted as applied), as an
        import would: their values' history says ``IMPORT``."""
        kind = _kind(name)
        with self.lock:
            for record_id, properties in records.items():
                unknown = sorted(set(properties) - set(self.properties[kind]))
                if unknown:
                    raise ValueError(f"{kind} have no properties {unknown} in this portal")
                conflict = self._conflict(kind, str(record_id), properties)
                if conflict:
                    raise ValueError(conflict["message"])
                self._store(kind, str(record_id), properties, {"sourceType": "IMPORT", "sourceId": IMPORT_ID})
                if str(record_id).isdigit():
                    self._last_id = max(self._last_id, int(record_id))

    def edit(self, object_type: str, record_id: str, properties: dict[str, Any], source_type: str = "CRM_UI") -> None:
        """Change values as a person in HubSpot's UI would, behind the push's back: no request, not
        counted as applied; the history says ``source_type``. Refused (ValueError) as the UI
        refuses: an unknown record or property, a read-only one, a value the property does not
        take (a stage of another pipeline, an unknown owner...), a unique value another record holds."""
        kind, record_id = _kind(object_type), str(record_id)
        with self.lock:
            if record_id not in self.objects[kind]:
                raise ValueError(f"the portal holds no {kind} record {record_id}")
            for name in properties:
                spec = self.properties[kind].get(name)
                if spec is None or spec["modificationMetadata"]["readOnlyValue"]:
                    raise ValueError(f"{kind} have no writable property {name!r} in this portal")
            problems = self._value_problems(kind, {"properties": properties}, record_id)
            if problems:
                raise ValueError(problems[0][2])
            conflict = self._conflict(kind, record_id, properties)
            if conflict:
                raise ValueError(conflict["message"])
            user = (
                {"sourceId": f"userId:{UI_USER_ID}", "updatedByUserId": UI_USER_ID} if source_type == "CRM_UI" else {}
            )
            self._store(kind, record_id, properties, {"sourceType": source_type, **user})

    def reset_daily(self) -> None:
        """A new day: the daily quota starts again."""
        with self.lock:
            self.daily_used = 0

    # --- records -------------------------------------------------------------------------------

    @staticmethod
    def _key(kind: str, name: str, value: Any) -> str:
        """A unique value as its index holds it (an e-mail address without case)."""
        return str(value).lower() if (kind, name) == EMAIL_PROPERTY else str(value)

    def _store(self, kind: str, record_id: str, properties: dict[str, Any], source: dict[str, Any]) -> None:
        """Set values, keep the unique indexes, and note each write in the history (``source``: who)."""
        record = self.objects[kind].setdefault(record_id, {})
        now = _now()
        for name, value in properties.items():
            entry = {"value": "" if value is None else _text(value), "timestamp": now, **source}
            self.history.setdefault((kind, record_id, name), []).append(entry)
            index, old = self._unique.get((kind, name)), record.get(name)
            if index is not None:
                if old not in (None, "") and index.get(self._key(kind, name, old)) == record_id:
                    del index[self._key(kind, name, old)]
                if value not in (None, ""):
                    index[self._key(kind, name, value)] = record_id
            record[name] = value
        self._stamps[kind, record_id] = (self._stamps.get((kind, record_id), (now,))[0], now)

    def _apply(self, kind: str, record_id: str, properties: dict[str, Any]) -> None:
        self._store(kind, record_id, properties, {"sourceType": "INTEGRATION", "sourceId": INTEGRATION_ID})
        self.applied[self.fingerprint(record_id, properties, kind)] += 1

    def _holder(self, kind: str, name: str, value: Any) -> str | None:
        """The record holding a unique value, if any."""
        index = self._unique.get((kind, name))
        return None if index is None or value in (None, "") else index.get(self._key(kind, name, value))

    def _conflict(self, kind: str, record_id: str | None, properties: dict[str, Any]) -> dict[str, Any] | None:
        """The 207 error when ``properties`` give a unique property a value another record holds
        (a contact's e-mail: HubSpot's CONFLICT, the one its 409 names)."""
        for name, value in properties.items():
            holder = self._holder(kind, name, value)
            if holder is None or holder == record_id:
                continue
            ids = {"ids": [record_id]} if record_id else {}
            if (kind, name) == EMAIL_PROPERTY:
                return _input_error(
                    "CONFLICT", f"Contact already exists. Existing ID: {holder}", **ids, propertyName=[name]
                )
            message = (
                f'Property values were not valid: {name} "{value}" already exists on {kind} {holder} '
                f"({name} has unique values)"
            )
            return _input_error("VALIDATION_ERROR", message, **ids, propertyName=[name])
        return None

    def _result(self, kind: str, record_id: str, properties: dict[str, Any] | None = None, **extra: Any) -> dict:
        created, updated = self._stamps[kind, record_id]
        shown = dict(self.objects[kind][record_id]) if properties is None else properties
        return {
            "id": record_id,
            "properties": shown,
            "createdAt": created,
            "updatedAt": updated,
            "archived": False,
            **extra,
        }

    def _resolve(self, kind: str, item: dict[str, Any], id_property: str | None) -> str | None:
        """The record id an input names, by record id or by a unique property's value."""
        if id_property:
            return self._holder(kind, id_property, item["id"])
        given = str(item["id"])
        return given if given in self.objects[kind] else None

    def _target(self, kind: str, action: str, item: dict[str, Any]) -> str | None:
        """The record a write input would change (None: it creates one, or names none the portal holds)."""
        if action == "create":
            return None
        return self._resolve(kind, item, item.get("idProperty"))

    # --- pipelines and owners ------------------------------------------------------------------

    @property
    def default_pipeline(self) -> str:
        """Where a deal created without ``pipeline`` goes."""
        return self.pipelines[0]["id"]

    def _stages(self, pipeline_id: Any) -> dict[str, dict[str, Any]]:
        """The stages of a pipeline by id (none for a pipeline the portal lacks)."""
        pipeline = next((item for item in self.pipelines if item["id"] == _text(pipeline_id)), {"stages": []})
        return {stage["id"]: stage for stage in pipeline["stages"]}

    def _referenced_options(self, reference: str) -> list[dict[str, Any]]:
        """The options of a property whose values are the portal's owners, pipelines or stages."""
        if reference == "OWNER":
            named = [
                (owner["id"], f"{owner.get('firstName', '')} {owner.get('lastName', '')}") for owner in self.owners
            ]
        elif reference == "PIPELINE":
            named = [(pipeline["id"], pipeline["label"]) for pipeline in self.pipelines]
        else:
            named = [(stage["id"], stage["label"]) for pipeline in self.pipelines for stage in pipeline["stages"]]
        return _options([{"label": label.strip(), "value": value} for value, label in named])

    def _value_problems(self, kind: str, item: dict[str, Any], record_id: str | None) -> list[tuple[str, str, str]]:
        """(name, error code, message) of each value of a write input the portal refuses, the
        record it changes (``record_id``) considered: a deal's stage must be one of the pipeline
        the deal is in after the write (the input's, else the record's, else the default).
        Properties it lacks or cannot write are left to the whole-batch check."""
        properties, problems = item["properties"], []
        for name, value in properties.items():
            spec = self.properties[kind].get(name)
            if spec is None or spec["modificationMetadata"]["readOnlyValue"]:
                continue
            if problem := _value_problem(spec, value, email=(kind, name) == EMAIL_PROPERTY):
                problems.append((name, *problem))
        creates_by_email = (kind, item.get("idProperty")) == EMAIL_PROPERTY and record_id is None and "id" in item
        if creates_by_email and (problem := _value_problem({}, item["id"], email=True)):
            problems.append(("email", *problem))
        stage_fields = {"pipeline", "dealstage"}
        if kind == "deals" and stage_fields & set(properties) and not stage_fields & {name for name, _, _ in problems}:
            record = self.objects[kind].get(record_id, {}) if record_id else {}
            after = {**record, **properties}
            pipeline = after.get("pipeline") or self.default_pipeline
            stages = self._stages(pipeline)
            if after.get("dealstage") not in (None, "") and _text(after["dealstage"]) not in stages:
                message = f"{_text(after['dealstage'])} was not one of the allowed options: {list(stages)}"
                problems.append(("dealstage", "INVALID_OPTION", message + f" (the stages of pipeline {pipeline})"))
        return problems

    def _rule_problem(self, kind: str, item: dict[str, Any], record_id: str | None) -> str | None:
        """The portal's validation rule a write input breaks (the date-based API enforces them): a
        deal that sits in a closed-won stage after the write needs a close date."""
        if kind != "deals":
            return None
        after = {**(self.objects[kind].get(record_id, {}) if record_id else {}), **item["properties"]}
        stage = self._stages(after.get("pipeline") or self.default_pipeline).get(_text(after.get("dealstage")))
        if stage and _closed_won(stage) and after.get("closedate") in (None, ""):
            return "closedate is required when the deal is Closed Won (validation rule)"
        return None

    # --- whole-batch checks -------------------------------------------------------------------

    @staticmethod
    def _malformed(body: Any, fields: dict[str, type | tuple[type, ...]]) -> str | None:
        """What makes ``body`` no batch of inputs carrying ``fields`` (an association end is ``{"id": …}``)."""
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return "the body must be an object with an inputs array"
        for number, item in enumerate(body["inputs"]):
            for field, kinds in fields.items():
                if not isinstance(item, dict) or not isinstance(item.get(field), kinds):
                    return f"inputs[{number}].{field} is missing or of the wrong type"
                if field in ("from", "to") and "id" not in item[field]:
                    return f"inputs[{number}].{field}.id is missing"
        return None

    def _id_property_refusal(self, kind: str, id_property: Any) -> dict[str, Any] | None:
        if not isinstance(id_property, str):
            return _error("VALIDATION_ERROR", "Upserting needs an idProperty: a property with unique values")
        if (kind, id_property) not in self._unique:
            return _error("VALIDATION_ERROR", f"Unable to perform update/upsert by non-unique {id_property} property")
        return None

    def _refusal(self, kind: str, action: str, inputs: list[dict[str, Any]], values: bool) -> dict[str, Any] | None:
        """The 400 that refuses a whole write batch, or None; ``values``: a value the portal
        refuses refuses the batch too (outside multi-status)."""
        if len(inputs) > MAX_BATCH_INPUTS:
            return _error(
                "VALIDATION_ERROR", f"Batch size {len(inputs)} exceeds the limit of {MAX_BATCH_INPUTS} inputs"
            )
        problems: dict[str | tuple[str, str], tuple[str, str, str]] = {}
        for item in inputs:
            for name in item["properties"]:
                spec = self.properties[kind].get(name)
                if spec is None:
                    problems[name] = (name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                elif spec["modificationMetadata"]["readOnlyValue"]:
                    message = f"{name} is a read only property; its value cannot be set."
                    problems[name] = (name, "READ_ONLY_VALUE", message)
            for name, code, message in (
                self._value_problems(kind, item, self._target(kind, action, item)) if values else []
            ):
                problems.setdefault((name, message), (name, code, message))
        if problems:
            return _invalid_properties(list(problems.values()))
        for id_property in {item.get("idProperty") for item in inputs if action == "upsert" or "idProperty" in item}:
            refusal = self._id_property_refusal(kind, id_property)
            if refusal:
                return refusal
        if action in ("update", "upsert"):
            repeated = sorted(key for key, times in Counter(str(item["id"]) for item in inputs).items() if times > 1)
            if repeated:
                return _error("VALIDATION_ERROR", f"Duplicate IDs found in batch input: {repeated}. IDs must be unique")
        for item in inputs if action == "create" else []:
            for association in item.get("associations") or []:
                to, types = (
                    (association.get("to"), association.get("types")) if isinstance(association, dict) else ({}, [])
                )
                if not isinstance(to, dict) or "id" not in to or not types:
                    return _error(
                        "VALIDATION_ERROR", f"Invalid input JSON: an association needs to.id and types: {association}"
                    )
                for spec in types:
                    if self._association_target(kind, spec) is None:
                        return _error("VALIDATION_ERROR", f"{spec} is not an association type of {kind}")
        return None

    def _rule_or_email_refusal(
        self, kind: str, action: str, inputs: list[dict[str, Any]], validation_rules: bool
    ) -> tuple[int, dict[str, Any]] | None:
        """Outside multi-status, what else refuses the whole batch: the 400 of an input breaking a
        validation rule; HubSpot's 409 for a contact's e-mail another contact holds (or two inputs give)."""
        targets = [self._target(kind, action, item) for item in inputs]
        for item, record_id in zip(inputs, targets, strict=True):
            if validation_rules and (message := self._rule_problem(kind, item, record_id)):
                detail = {"message": message, "context": {"propertyName": ["closedate"]}}
                return 400, _error("VALIDATION_ERROR", message, errors=[detail])
        given: set[str] = set()
        for item, record_id in zip(inputs, targets, strict=True):
            value = item["properties"].get(EMAIL_PROPERTY[1]) if kind == EMAIL_PROPERTY[0] else None
            if value in (None, ""):
                continue
            holder = self._holder(*EMAIL_PROPERTY, value)
            if holder is not None and holder != record_id:
                return 409, _error("CONFLICT", f"Contact already exists. Existing ID: {holder}")
            if self._key(*EMAIL_PROPERTY, value) in given:
                return 409, _error("CONFLICT", f"Contact already exists: two inputs give the email {value}")
            given.add(self._key(*EMAIL_PROPERTY, value))
        return None

    def _input_refusal(
        self, kind: str, action: str, item: dict[str, Any], validation_rules: bool
    ) -> dict[str, Any] | None:
        """In multi-status, the error of one input whose values (or a validation rule) the portal refuses."""
        record_id = self._target(kind, action, item)
        if problems := self._value_problems(kind, item, record_id):
            error = _invalid_input(problems)
        elif validation_rules and (message := self._rule_problem(kind, item, record_id)):
            error = _input_error("VALIDATION_ERROR", message, propertyName=["closedate"])
        else:
            return None
        if action != "create":
            error["context"]["ids"] = [str(item["id"])]
        return error

    @staticmethod
    def _association_target(kind: str, spec: Any) -> str | None:
        """The object type a HUBSPOT_DEFINED association type from ``kind`` leads to, else None."""
        type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
        pair = TYPE_PAIR.get(type_id) if isinstance(type_id, int) else None
        if pair is None or spec.get("associationCategory") != "HUBSPOT_DEFINED" or pair[0] != kind:
            return None
        return pair[1]

    # --- objects batches -----------------------------------------------------------------------

    def write(
        self, kind: str, action: str, body: Any, reject_first: bool = False, validation_rules: bool = False
    ) -> tuple[int, dict[str, Any]]:
        """batch/update, batch/create or batch/upsert: (status, answer). ``reject_first``: the 207
        fault; ``validation_rules``: the portal's validation rules hold (the date-based API).

        Multi-status: with a string ``objectWriteTraceId`` on every input, an input whose values
        the portal refuses fails alone (a 207 error naming its trace id) and the others are
        applied; without, it refuses the whole batch. Unknown or read-only properties, a bad
        idProperty, repeated ids and too many inputs refuse the whole batch either way."""
        fields = {"create": {"properties": dict}}.get(action, {"id": (str, int), "properties": dict})
        malformed = self._malformed(body, fields)
        if malformed:
            return 400, _error("VALIDATION_ERROR", f"Invalid input JSON: {malformed}")
        inputs = body["inputs"]
        multi_status = bool(inputs) and all(isinstance(item.get("objectWriteTraceId"), str) for item in inputs)
        with self.lock:
            refusal = self._refusal(kind, action, inputs, values=not multi_status)
            if refusal:
                return 400, refusal
            refused = None if multi_status else self._rule_or_email_refusal(kind, action, inputs, validation_rules)
            if refused:
                return refused
            results, errors, missing = [], [], []
            for number, item in enumerate(inputs):
                trace = item.get("objectWriteTraceId")
                if reject_first and number == 0:
                    ids = [str(item["id"])] if "id" in item else []
                    message = f"Property values were not valid for {ids[0] if ids else 'the first input'}"
                    result, error = None, _input_error("VALIDATION_ERROR", message, ids=ids)
                elif multi_status and (error := self._input_refusal(kind, action, item, validation_rules)):
                    result = None
                else:
                    result, error = getattr(self, f"_{action}_one")(kind, item)
                if result is None and error is None and multi_status:
                    error = _not_found(kind, [str(item["id"])])
                if result is not None:
                    results.append(result | ({"objectWriteTraceId": str(trace)} if trace is not None else {}))
                elif error is not None:
                    error["context"] |= {"objectWriteTraceId": [str(trace)]} if trace is not None else {}
                    errors.append(error)
                else:
                    missing.append(str(item["id"]))
            if missing:
                errors.append(_not_found(kind, missing))
        return self._batch_answer(results, errors, 201 if action == "create" else 200)

    @staticmethod
    def _batch_answer(results: list[dict], errors: list[dict], ok_status: int) -> tuple[int, dict[str, Any]]:
        answer = {"status": "COMPLETE", "results": results, "startedAt": _now(), "completedAt": _now()}
        if errors:
            return 207, answer | {"errors": errors, "numErrors": len(errors)}
        return ok_status, answer

    def _update_one(self, kind: str, item: dict[str, Any]) -> tuple[dict | None, dict | None]:
        record_id = self._resolve(kind, item, item.get("idProperty"))
        if record_id is None:
            return None, None
        conflict = self._conflict(kind, record_id, item["properties"])
        if conflict:
            return None, conflict
        self._apply(kind, record_id, item["properties"])
        return self._result(kind, record_id), None

    @staticmethod
    def _missing_required(kind: str, properties: dict[str, Any]) -> dict | None:
        absent = [name for name in REQUIRED_ON_CREATE.get(kind, ()) if properties.get(name) in (None, "")]
        if absent:
            message = f"Property values were not valid: {absent[0]} is required to create {kind}"
            return _input_error("VALIDATION_ERROR", message, propertyName=absent)
        return None

    def _new_record(self, kind: str, properties: dict[str, Any]) -> str:
        """Create a record; a deal created without a pipeline is in the default one, as HubSpot puts it."""
        self._last_id += 1
        record_id = str(self._last_id)
        self._apply(kind, record_id, properties)
        if kind == "deals" and "pipeline" in self.properties[kind] and properties.get("pipeline") in (None, ""):
            source = {"sourceType": "INTEGRATION", "sourceId": INTEGRATION_ID}
            self._store(kind, record_id, {"pipeline": self.default_pipeline}, source)
        self.created[kind] += 1
        return record_id

    def _create_one(self, kind: str, item: dict[str, Any]) -> tuple[dict | None, dict | None]:
        properties = item["properties"]
        problem = self._missing_required(kind, properties) or self._conflict(kind, None, properties)
        links = [
            (self._association_target(kind, spec), str(association["to"]["id"]), spec["associationTypeId"])
            for association in item.get("associations") or []
            for spec in association["types"]
        ]
        absent = [target_id for target, target_id, _ in links if target_id not in self.objects[target]]
        if absent and not problem:
            message = f"Could not associate the new {kind} record: no records {absent}"
            problem = _input_error("OBJECT_NOT_FOUND", message, ids=absent)
        if problem:
            return None, problem
        record_id = self._new_record(kind, properties)
        for target, target_id, type_id in links:
            self._link(kind, record_id, target, target_id, type_id)
        return self._result(kind, record_id), None

    def _upsert_one(self, kind: str, item: dict[str, Any]) -> tuple[dict | None, dict | None]:
        id_property, value = item["idProperty"], str(item["id"])
        record_id = self._holder(kind, id_property, value)
        properties = item["properties"] if record_id else {**item["properties"], id_property: value}
        problem = self._conflict(kind, record_id, properties)
        if record_id is None:
            problem = problem or self._missing_required(kind, properties)
        if problem:
            problem["context"]["ids"] = [value]
            return None, problem
        if record_id is None:
            return self._result(kind, self._new_record(kind, properties), new=True), None
        self._apply(kind, record_id, properties)
        return self._result(kind, record_id, new=False), None

    def read(self, kind: str, body: Any) -> tuple[int, dict[str, Any]]:
        """batch/read by record id or by a unique property (``idProperty``): only the properties asked for."""
        malformed = self._malformed(body, {"id": (str, int)})
        if malformed:
            return 400, _error("VALIDATION_ERROR", f"Invalid input JSON: {malformed}")
        if len(body["inputs"]) > MAX_BATCH_INPUTS:
            return 400, _error("VALIDATION_ERROR", f"Batch size exceeds the limit of {MAX_BATCH_INPUTS} inputs")
        id_property = body.get("idProperty")
        with self.lock:
            refusal = id_property and self._id_property_refusal(kind, id_property)
            if refusal:
                return 400, refusal
            wanted = [name for name in body.get("properties") or [] if name in self.properties[kind]]
            with_history = [name for name in body.get("propertiesWithHistory") or [] if name in self.properties[kind]]
            results, missing = [], []
            for item in body["inputs"]:
                record_id = self._resolve(kind, item, id_property)
                if record_id is None:
                    missing.append(str(item["id"]))
                    continue
                record = {**self.objects[kind][record_id], "hs_object_id": record_id}
                histories = {
                    name: copy.deepcopy(self.history.get((kind, record_id, name), [])[::-1]) for name in with_history
                }
                extra = {"propertiesWithHistory": histories} if with_history else {}
                results.append(self._result(kind, record_id, {name: record.get(name) for name in wanted}, **extra))
        return self._batch_answer(results, [_not_found(kind, missing)] if missing else [], 200)

    def archive(self, kind: str, body: Any) -> tuple[int, dict[str, Any] | None]:
        """batch/archive: 204 and no body, unknown ids included (HubSpot does not say which it held).
        An archived record leaves ``objects`` for ``archived``: its unique values are free again
        (an upsert by its legacy id creates a new record) and its associations are gone."""
        malformed = self._malformed(body, {"id": (str, int)})
        if malformed:
            return 400, _error("VALIDATION_ERROR", f"Invalid input JSON: {malformed}")
        if len(body["inputs"]) > MAX_BATCH_INPUTS:
            return 400, _error("VALIDATION_ERROR", f"Batch size exceeds the limit of {MAX_BATCH_INPUTS} inputs")
        with self.lock:
            for item in body["inputs"]:
                record_id = str(item["id"])
                record = self.objects[kind].pop(record_id, None)
                if record is None:
                    continue
                self.archived[kind][record_id] = record
                for name, value in record.items():
                    if self._holder(kind, name, value) == record_id:
                        del self._unique[kind, name][self._key(kind, name, value)]
                self.associations -= self.associations.touching(kind, record_id)
        return 204, None

    # --- properties, groups, pipelines, owners -------------------------------------------------

    def create_property(self, kind: str, body: Any) -> tuple[int, dict[str, Any]]:
        """POST /crm/{v3/properties|properties/{version}}/{objectType}: 201 with the property, 409 if it exists."""
        given = body if isinstance(body, dict) else {}
        fields = ("name", "label", "type", "fieldType", "groupName")
        absent = [field for field in fields if not isinstance(given.get(field), str) or not given[field]]
        if absent:
            return 400, _error("VALIDATION_ERROR", f"Missing required fields: {absent}")
        name = given["name"]
        if not PROPERTY_NAME.fullmatch(name) or name.startswith("hs_"):
            message = f"{name!r} is not a valid property name (lower case, digits, underscores; hs_ is HubSpot's)"
            return 400, _error("VALIDATION_ERROR", message)
        problem = _definition_problem(given)
        if problem:
            return 400, _error("VALIDATION_ERROR", problem)
        with self.lock:
            if name in self.properties[kind]:
                return 409, _error("OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
            described = _described({key: value for key, value in given.items() if key != "modificationMetadata"}, False)
            self.properties[kind][name] = described
            if described["hasUniqueValue"]:
                self._unique[kind, name] = {}
            return 201, copy.deepcopy(described)

    def list_properties(self, kind: str) -> tuple[int, dict[str, Any]]:
        """GET /crm/{v3/properties|properties/{version}}/{objectType}."""
        with self.lock:
            return 200, {"results": copy.deepcopy(list(self.properties[kind].values()))}

    def get_property(self, kind: str, name: str) -> tuple[int, dict[str, Any]]:
        """GET …/properties/…/{objectType}/{propertyName}: the property, 404 if the portal lacks it."""
        with self.lock:
            spec = self.properties[kind].get(name)
            if spec is None:
                return 404, _error("OBJECT_NOT_FOUND", f"Unable to find property {name} of {kind}")
            return 200, copy.deepcopy(spec)

    def update_property(self, kind: str, name: str, body: Any) -> tuple[int, dict[str, Any]]:
        """PATCH …/properties/…/{objectType}/{propertyName}: 200 with the property. ``options``
        replaces an enumeration's options (how an admin adds one: the full list); a HubSpot-defined
        property takes no other change, and options kept elsewhere (owners, pipelines) none."""
        given = body if isinstance(body, dict) else {}
        wrong = sorted(
            field for field, value in given.items() if field not in UPDATABLE or not isinstance(value, UPDATABLE[field])
        )
        if not given or wrong:
            message = (
                f"Invalid input JSON: fields {wrong} cannot be updated or are of the wrong type; {list(UPDATABLE)}"
            )
            return 400, _error("VALIDATION_ERROR", message)
        problem = _definition_problem(given)
        if problem:
            return 400, _error("VALIDATION_ERROR", problem)
        with self.lock:
            spec = self.properties[kind].get(name)
            if spec is None:
                return 404, _error("OBJECT_NOT_FOUND", f"Unable to find property {name} of {kind}")
            if "options" in given and (given.get("type") or spec["type"]) != "enumeration":
                return 400, _error("VALIDATION_ERROR", f"{name} is no enumeration: it takes no options")
            if "options" in given and spec.get("externalOptions"):
                return 400, _error("VALIDATION_ERROR", f"The options of {name} are kept elsewhere: they cannot be set")
            fixed = sorted(set(given) - {"options"})
            if spec["modificationMetadata"]["readOnlyDefinition"] and fixed:
                message = f"{name} is HubSpot-defined: only its options can be changed, not {fixed}"
                return 400, _error("VALIDATION_ERROR", message)
            spec |= copy.deepcopy(given) | ({"options": _options(given["options"])} if "options" in given else {})
            return 200, copy.deepcopy(spec)

    def create_group(self, kind: str, body: Any) -> tuple[int, dict[str, Any]]:
        """POST …/properties/…/{objectType}/groups: 201 with the group, 409 if it exists."""
        given = body if isinstance(body, dict) else {}
        absent = [field for field in ("name", "label") if not isinstance(given.get(field), str) or not given[field]]
        if absent or not isinstance(given.get("displayOrder", -1), int):
            return 400, _error("VALIDATION_ERROR", f"Missing required fields: {absent}" if absent else "displayOrder")
        if not PROPERTY_NAME.fullmatch(given["name"]):
            return 400, _error("VALIDATION_ERROR", f"{given['name']!r} is not a valid group name")
        with self.lock:
            if given["name"] in self.groups[kind]:
                return 409, _error("OBJECT_ALREADY_EXISTS", f"A property group named '{given['name']}' already exists.")
            group = {"name": given["name"], "label": given["label"], "displayOrder": given.get("displayOrder", -1)}
            self.groups[kind][given["name"]] = group | {"archived": False}
            return 201, copy.deepcopy(self.groups[kind][given["name"]])

    def list_groups(self, kind: str) -> tuple[int, dict[str, Any]]:
        with self.lock:
            return 200, {"results": copy.deepcopy(list(self.groups[kind].values()))}

    def list_pipelines(self, kind: str) -> tuple[int, dict[str, Any]]:
        """GET /crm/{v3/pipelines|pipelines/{version}}/{objectType}: the deals' pipelines and stages."""
        return 200, {"results": copy.deepcopy(self.pipelines) if kind == "deals" else []}

    def list_owners(self, query: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        """GET /crm/{v3/owners|owners/{version}}: a page of owners (``limit``, ``after``; by ``email``)."""
        email = query.get("email", [None])[0]
        archived = query.get("archived", ["false"])[0] == "true"  # no owner is archived
        owners = [owner for owner in self.owners if not archived and email in (None, owner.get("email"))]
        try:
            start, limit = int(query.get("after", ["0"])[0]), int(query.get("limit", ["100"])[0])
        except ValueError:
            return 400, _error("VALIDATION_ERROR", "after and limit must be integers")
        answer: dict[str, Any] = {"results": copy.deepcopy(owners[start : start + limit])}
        if start + limit < len(owners):
            answer["paging"] = {"next": {"after": str(start + limit)}}
        return 200, answer

    def get_owner(self, owner_id: str) -> tuple[int, dict[str, Any]]:
        owner = next((owner for owner in self.owners if owner["id"] == owner_id), None)
        if owner is None:
            return 404, _error("OBJECT_NOT_FOUND", f"No owner {owner_id}")
        return 200, copy.deepcopy(owner)

    # --- associations --------------------------------------------------------------------------

    def _link(self, kind: str, record_id: str, target: str, target_id: str, type_id: int) -> None:
        """Associate both ways; a primary company also gets the default type and replaces the old one."""
        if type_id in PRIMARY_FROM_COMPANY:
            self._link(target, target_id, kind, record_id, INVERSE_TYPE[type_id])
            return
        if type_id in PRIMARY_TO_COMPANY:
            for old_id, type_ids in list(self.associations.targets(kind, record_id, target).items()):
                if type_id in type_ids and old_id != target_id:
                    old = (kind, record_id, target, old_id, type_id)
                    self.associations -= {old, (target, old_id, kind, record_id, INVERSE_TYPE[type_id])}
            self._link(kind, record_id, target, target_id, DEFAULT_TYPE[kind, target])
        self.associations |= {
            (kind, record_id, target, target_id, type_id),
            (target, target_id, kind, record_id, INVERSE_TYPE[type_id]),
        }

    @staticmethod
    def _label(type_id: int) -> str | None:
        return "Primary" if type_id in PRIMARY_TO_COMPANY + PRIMARY_FROM_COMPANY else None

    def associate(
        self, kind: str, target: str, action: str, body: Any, created: int = 201
    ) -> tuple[int, dict[str, Any]]:
        """batch/create (typed), batch/associate/default and batch/read between two object types;
        ``created``: the status of a batch/create done whole (v4 201, the date-based API 200). A
        batch of more than ``MAX_ASSOCIATION_BATCH_INPUTS`` inputs is refused whole (400)."""
        fields: dict[str, Any] = {"read": {"id": (str, int)}, "create": {"from": dict, "to": dict, "types": list}}
        malformed = self._malformed(body, fields.get(action, {"from": dict, "to": dict}))
        if malformed:
            return 400, _error("VALIDATION_ERROR", f"Invalid input JSON: {malformed}")
        if len(body["inputs"]) > MAX_ASSOCIATION_BATCH_INPUTS:
            message = f"Batch size {len(body['inputs'])} exceeds the limit of {MAX_ASSOCIATION_BATCH_INPUTS} inputs"
            return 400, _error("VALIDATION_ERROR", message)
        if action == "read":
            return self._read_associations(kind, target, body["inputs"])
        if (kind, target) not in DEFAULT_TYPE:
            return 400, _error("VALIDATION_ERROR", f"{kind} and {target} cannot be associated")
        for item in body["inputs"] if action == "create" else []:
            for spec in item["types"] or [None]:
                if self._association_target(kind, spec) != target:
                    return 400, _error("VALIDATION_ERROR", f"{spec} is not an association type from {kind} to {target}")
        results, errors = [], []
        with self.lock:
            for item in body["inputs"]:
                record_id, target_id = str(item["from"]["id"]), str(item["to"]["id"])
                absent = [
                    key for key, holder in ((record_id, kind), (target_id, target)) if key not in self.objects[holder]
                ]
                if absent:
                    message = f"Could not associate {kind} {record_id} with {target} {target_id}: no records {absent}"
                    errors.append(_input_error("OBJECT_NOT_FOUND", message, ids=absent))
                    continue
                types = [spec["associationTypeId"] for spec in item["types"]] if action == "create" else []
                for type_id in types or [DEFAULT_TYPE[kind, target]]:
                    self._link(kind, record_id, target, target_id, type_id)
                if action == "create":
                    labels = [label for label in map(self._label, types) if label]
                    ends = {"fromObjectId": record_id, "toObjectId": target_id}
                    types_of = {"fromObjectTypeId": TYPE_ID_OF[kind], "toObjectTypeId": TYPE_ID_OF[target]}
                    results.append(ends | types_of | {"labels": labels})
                else:
                    spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": DEFAULT_TYPE[kind, target]}
                    results.append({"from": {"id": record_id}, "to": {"id": target_id}, "associationSpec": spec})
        return self._batch_answer(results, errors, created if action == "create" else 200)

    def _read_associations(self, kind: str, target: str, inputs: list[dict]) -> tuple[int, dict[str, Any]]:
        results, errors = [], []
        with self.lock:
            for item in inputs:
                record_id = str(item["id"])
                if record_id not in self.objects[kind]:
                    message = f"No {kind} record {record_id}"
                    errors.append(_input_error("OBJECT_NOT_FOUND", message, ids=[record_id]))
                    continue
                linked = sorted(self.associations.targets(kind, record_id, target).items())
                to = [
                    {
                        "toObjectId": target_id,
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": self._label(type_id)}
                            for type_id in sorted(type_ids)
                        ],
                    }
                    for target_id, type_ids in linked
                ]
                results.append({"from": {"id": record_id}, "to": to})
        return self._batch_answer(results, errors, 200)

    # --- HTTP ----------------------------------------------------------------------------------

    def _record(self, method: str, path: str, body: Any, status: int | None, arrived: float | None = None) -> None:
        """Log a request answered ``status`` (None: dropped); ``arrived``: when it came (else now)."""
        with self.lock:
            self.requests.append((method, path, body, status))
            self.arrivals.append(time.monotonic() if arrived is None else arrived)
            self.statuses[status] += 1

    def _admit(self, now: float | None = None) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Count a request arriving ``now`` (default: now) against the limits: (the 429 body
        refusing it or None, the rate-limit headers of its answer). Every request counts in the
        rolling window; all but those it refuses count against the day (whatever their answer, as
        HubSpot counts them)."""
        now = time.monotonic() if now is None else now
        with self.lock:
            self.all_request_times.append(now)
            while self.request_times and self.request_times[0] <= now - self.window_seconds:
                self.request_times.popleft()
            self.request_times.append(now)
            refusal = None
            if len(self.request_times) > self.max_requests:
                self.limit_violations += 1
                refusal = _rate_limited("You have reached your ten_secondly_rolling limit.", "TEN_SECONDLY_ROLLING")
            elif self.daily_limit is not None and self.daily_used >= self.daily_limit:
                self.daily_violations += 1
                refusal = _rate_limited("You have reached your daily limit.", "DAILY")
            else:
                self.daily_used += 1
            headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(round(self.window_seconds * 1000)),
                "X-HubSpot-RateLimit-Max": str(self.max_requests),
                "X-HubSpot-RateLimit-Remaining": str(max(0, self.max_requests - len(self.request_times))),
            }
            if self.daily_limit is not None:
                headers["X-HubSpot-RateLimit-Daily"] = str(self.daily_limit)
                headers["X-HubSpot-RateLimit-Daily-Remaining"] = str(max(0, self.daily_limit - self.daily_used))
        return refusal, headers

    def _latency(self) -> float:
        """How long this answer takes: latency ± uniform jitter (never below 0)."""
        with self.lock:  # one draw at a time keeps the seeded sequence whole
            jitter = self._random.uniform(-1, 1) * self.latency_jitter_seconds if self.latency_jitter_seconds else 0.0
        return max(0.0, self.latency_seconds + jitter)

    @staticmethod
    def _workflow_object(name: Any) -> str | None:
        """The HubSpot object a workflow's ``object_type`` (an object type or a registry entry) writes."""
        if not isinstance(name, str):
            return None
        if object_type(name):
            return object_type(name)
        from crm_reconciliation.config.registry import default_registry

        objects = default_registry().objects
        return object_type(objects[name].api_object) if name in objects else None

    def _handler(self):
        crm = self
        # Each API on its legacy path and its date-based one (group ``version``: None on the legacy path).
        version = r"(?P<version>\d{4}-\d{2})"
        batch_route = re.compile(
            rf"/crm/(?:v3/objects|objects/{version})/([^/]+)/batch/(read|create|update|upsert|archive)"
        )
        associations_route = re.compile(
            rf"/crm/(?:v4/associations|associations/{version})/([^/]+)/([^/]+)/batch/(create|associate/default|read)"
        )
        properties_route = re.compile(rf"/crm/(?:v3/properties|properties/{version})/([^/]+)(?:/([^/]+))?")
        pipelines_route = re.compile(rf"/crm/(?:v3/pipelines|pipelines/{version})/([^/]+)")
        owners_route = re.compile(rf"/crm/(?:v3/owners|owners/{version})(?:/([^/]*))?")
        workflow_run = ":latest_draft/triggers/post_trigger/run_wait_result"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _send(self, status: int, body: object, headers: dict | None = None) -> None:
                """Answer ``body`` as JSON (None: no body, as a 204), with the rate-limit headers."""
                crm._record(self.command, self.path, self.body, status, self.arrived)
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                for name, value in {**self.rate_headers, **(headers or {})}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _drop(self) -> None:
                crm._record(self.command, self.path, self.body, None, self.arrived)
                self.close_connection = True
                self.connection.shutdown(2)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def do_PATCH(self) -> None:
                self._serve()

            def _serve(self) -> None:
                self.rate_headers: dict[str, str] = {}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    self.body, parsed = (json.loads(raw) if raw else None), True
                except ValueError:
                    self.body, parsed = raw.decode(errors="replace"), False
                self.arrived = time.monotonic()  # when it counts against the limit, and in arrivals
                authenticated = self.headers.get("Authorization") == f"Bearer {crm.token}"
                # An unknown caller is no app of the portal: it counts against no limit.
                refusal, self.rate_headers = crm._admit(self.arrived) if authenticated else (None, {})
                delay = crm._latency()
                if delay:
                    time.sleep(delay)  # outside the lock: requests in flight overlap
                if not authenticated:
                    message = "Authentication credentials not found."
                    self._send(401, _error("INVALID_AUTHENTICATION", message))
                    return
                if refusal:
                    self._send(429, refusal)
                    return
                if not parsed:
                    self._send(400, _error("VALIDATION_ERROR", "Invalid input JSON: the body is not JSON"))
                    return
                self._route(urlparse(self.path))

            def _objects(self, *segments: str) -> list[str] | None:
                """The object types the path names; None (after a 400) when one is unknown."""
                kinds = [object_type(segment) for segment in segments]
                unknown = [segment for segment, kind in zip(segments, kinds, strict=True) if kind is None]
                if unknown:
                    self._send(400, _error("VALIDATION_ERROR", f"Unable to infer object type from: {unknown[0]}"))
                    return None
                return kinds

            def _route(self, url) -> None:
                path, method = url.path, self.command
                post, get = method == "POST", method == "GET"
                if (match := batch_route.fullmatch(path)) and post:
                    if kinds := self._objects(match.group(2)):
                        if match.group(3) == "read":
                            self._send(*crm.read(kinds[0], self.body))
                        elif match.group(3) == "archive":
                            self._send(*crm.archive(kinds[0], self.body))
                        else:
                            self._write(kinds[0], match.group(3), dated=bool(match["version"]))
                elif (match := associations_route.fullmatch(path)) and post:
                    if kinds := self._objects(match.group(2), match.group(3)):
                        created = 200 if match["version"] else 201
                        self._send(*crm.associate(kinds[0], kinds[1], match.group(4), self.body, created))
                elif (match := properties_route.fullmatch(path)) and method in self._property_methods(match.group(3)):
                    if kinds := self._objects(match.group(2)):
                        self._properties(kinds[0], match.group(3))
                elif (match := pipelines_route.fullmatch(path)) and get:
                    if kinds := self._objects(match.group(2)):
                        self._send(*crm.list_pipelines(kinds[0]))
                elif (match := owners_route.fullmatch(path)) and get:
                    owner_id = match.group(2)
                    self._send(*(crm.get_owner(owner_id) if owner_id else crm.list_owners(parse_qs(url.query))))
                elif path.endswith(f"lookup{workflow_run}") and post:
                    self._lookup(parse_qs(url.query))
                elif path.endswith(f"update{workflow_run}") and post:
                    kind = crm._workflow_object(self.body.get("object_type") if isinstance(self.body, dict) else None)
                    if kind is None:
                        self._send(400, _error("VALIDATION_ERROR", "the update workflow needs a known object_type"))
                    else:
                        self._write(kind, "update")
                else:
                    self._send(404, {"status": "error", "message": f"no route {self.command} {path}"})

            @staticmethod
            def _property_methods(name: str | None) -> tuple[str, ...]:
                """What the properties API takes after the object type: nothing (the catalogue) or
                ``groups``, GET and POST; any other name (a property), GET and PATCH."""
                return ("GET", "POST") if name in (None, "groups") else ("GET", "PATCH")

            def _properties(self, kind: str, name: str | None) -> None:
                """The properties API: the catalogue (GET, POST), a property (GET, PATCH), the groups (GET, POST)."""
                if name is None:
                    self._send(
                        *(crm.list_properties(kind) if self.command == "GET" else crm.create_property(kind, self.body))
                    )
                elif name == "groups":
                    self._send(*(crm.list_groups(kind) if self.command == "GET" else crm.create_group(kind, self.body)))
                elif self.command == "GET":
                    self._send(*crm.get_property(kind, name))
                else:
                    self._send(*crm.update_property(kind, name, self.body))

            def _lookup(self, query: dict[str, list[str]]) -> None:
                """The lookup workflow (companies): ``?ids=1,2&properties=a,b``."""
                ids = query.get("ids", [""])[0].split(",")
                properties = query.get("properties", [""])[0].split(",")
                _, answer = crm.read("companies", {"inputs": [{"id": i} for i in ids], "properties": properties})
                self._send(200, {"status": "COMPLETE", "results": answer["results"]})

            def _write(self, kind: str, action: str, dated: bool = False) -> None:
                """A write batch, through the faults asked for; ``dated``: on the date-based API."""
                with crm.lock:
                    fault = crm.faults.popleft() if crm.faults else "ok"
                    if action == "update":
                        crm.update_bodies.append(self.body)
                if fault == "429":
                    self._send(
                        429,
                        {"status": "error", "policyName": "SECONDLY", "message": "slow down"},
                        {"Retry-After": "0.2"},
                    )
                elif fault == "500":
                    self._send(502, {"status": "error", "message": "Bad gateway"})
                elif fault == "drop_before_apply":
                    self._drop()
                else:
                    status, answer = crm.write(
                        kind, action, self.body, reject_first=fault == "207", validation_rules=dated
                    )
                    if fault == "timeout_after_apply":
                        time.sleep(crm.timeout_seconds * 3)
                    if fault == "drop_after_apply":
                        self._drop()
                        return
                    self._send(status, answer)

        return Handler
