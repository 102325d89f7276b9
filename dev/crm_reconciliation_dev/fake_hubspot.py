"""A local stand-in for a HubSpot portal (CRM v3 objects, properties, v4 associations) and the
workflow API, on 127.0.0.1.

For tests and benchmarks only. Why strict: a lenient fake lets a push pass that a real portal
refuses. A real portal refuses a whole batch that names a property it does not have (or a
read-only one) or gives a property a value its type does not take, fails an update of a record
it does not hold, keeps unique-value properties unique (which is what makes an upsert by legacy
id safe to replay), and only links records with the association types it defines. This fake
does the same, from a property catalogue written out below as a real portal reports it
(HubSpot's standard properties plus the legacy design's ``icalps`` custom properties), not
derived from the project's registry: the registry is what is being checked.

It keeps records per object type in memory (archived ones apart), and each property's history
(who wrote which value when: the push, an import, a person in HubSpot's UI). It enforces a
rolling rate limit the way HubSpot does (429, policy TEN_SECONDLY_ROLLING) on every request,
and a daily quota if given (429, policy DAILY), with HubSpot's rate-limit headers on every
answer. It answers after a latency with jitter, requests overlapping as on a real network. It
injects faults on request into writes: 429s, 5xx, timeouts, dropped connections, 207 partial
failures. It counts what it applied, so a test can tell whether a write landed twice, and logs
every request it served.

Not modelled: the options of enumerations whose options depend on the portal (industry, type,
deal stages and pipelines, owners: those take any value unless a catalogue gives ``options``),
property groups, contacts' implicit unique e-mail, restoring archived records, search.
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
    options: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A property as ``GET /crm/v3/properties/{objectType}`` describes it; ``options``: an
    enumeration's option values (then the only values it takes)."""
    described = {
        "name": name,
        "label": label,
        "type": type_,
        "fieldType": field_type,
        "groupName": group,
        "description": "",
        "hasUniqueValue": unique,
        "hidden": False,
        "calculated": False,
        "modificationMetadata": {
            "readOnlyValue": read_only,
            "archivable": not hubspot_defined,
            "readOnlyDefinition": hubspot_defined,
        },
    }
    if options is not None:
        described["options"] = [
            {"label": value.replace("_", " ").capitalize(), "value": value, "displayOrder": order, "hidden": False}
            for order, value in enumerate(options)
        ]
    return (described | {"hubspotDefined": True}) if hubspot_defined else described


def _enumeration(name: str, label: str, group: str, field_type: str, *options: str) -> dict[str, Any]:
    """A HubSpot-defined enumeration whose options every portal has."""
    return _property(name, label, group, "enumeration", field_type, options=options)


# The options every portal has (HubSpot's defaults). Enumerations left without options (industry,
# type, deal stages, owners...) take any value: their options are the portal's own.
LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
CALL_STATUSES = (
    "BUSY",
    "CALLING_CRM_USER",
    "CANCELED",
    "COMPLETED",
    "CONNECTING",
    "FAILED",
    "IN_PROGRESS",
    "NO_ANSWER",
    "QUEUED",
    "RINGING",
)


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
        _property("hubspot_owner_id", "Activity assigned to", "engagement", "enumeration", "select"),
        _property("hs_attachment_ids", "Attachment IDs", "engagement", "enumeration", "checkbox"),
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
        _property("type", "Type", "companyinformation", "enumeration", "select"),
        _property("industry", "Industry", "companyinformation", "enumeration", "select"),
        _property("numberofemployees", "Number of Employees", "companyinformation", "number", "number"),
        _property("annualrevenue", "Annual Revenue", "companyinformation", "number", "number"),
        _property("description", "Description", "companyinformation", "string", "textarea"),
        _property("address", "Street Address", "companyinformation"),
        _property("address2", "Street Address 2", "companyinformation"),
        _property("city", "City", "companyinformation"),
        _property("state", "State/Region", "companyinformation"),
        _property("zip", "Postal Code", "companyinformation"),
        _property("country", "Country/Region", "companyinformation"),
        _enumeration("lifecyclestage", "Lifecycle Stage", "companyinformation", "radio", *LIFECYCLE_STAGES),
        _enumeration("hs_lead_status", "Lead Status", "sales_properties", "radio", *LEAD_STATUSES),
        _property("hubspot_owner_id", "Company owner", "companyinformation", "enumeration", "select"),
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
        _enumeration("lifecyclestage", "Lifecycle Stage", "contactinformation", "radio", *LIFECYCLE_STAGES),
        _enumeration("hs_lead_status", "Lead Status", "sales_properties", "radio", *LEAD_STATUSES),
        _property("hubspot_owner_id", "Contact owner", "contactinformation", "enumeration", "select"),
        *_system("contactinformation", modified="lastmodifieddate"),
    ],
    "deals": [
        _property("dealname", "Deal Name", "dealinformation"),
        _property("amount", "Amount", "dealinformation", "number", "number"),
        _property("dealstage", "Deal Stage", "dealinformation", "enumeration", "radio"),
        _property("pipeline", "Pipeline", "dealinformation", "enumeration", "select"),
        _property("dealtype", "Deal Type", "dealinformation", "enumeration", "radio"),
        _property("closedate", "Close Date", "dealinformation", "datetime", "date"),
        _property("description", "Deal Description", "dealinformation", "string", "textarea"),
        _enumeration("hs_priority", "Priority", "dealinformation", "select", "low", "medium", "high"),
        _property("hubspot_owner_id", "Deal owner", "dealinformation", "enumeration", "select"),
        *_system("dealinformation"),
    ],
    "notes": [
        _property("hs_note_body", "Note body", "engagement", "string", "html"),
        *_activity("Activity"),
    ],
    "calls": [
        _property("hs_call_title", "Call Title", "engagement"),
        _property("hs_call_body", "Call notes", "engagement", "string", "html"),
        _enumeration("hs_call_direction", "Call direction", "engagement", "select", "INBOUND", "OUTBOUND"),
        _enumeration("hs_call_status", "Call status", "engagement", "select", *CALL_STATUSES),
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
            "EMAIL",
            "INCOMING_EMAIL",
            "FORWARDED_EMAIL",
        ),
        _enumeration(
            "hs_email_status",
            "Email send status",
            "engagement",
            "select",
            "BOUNCED",
            "FAILED",
            "SCHEDULED",
            "SENDING",
            "SENT",
        ),
        *_activity("Activity"),
    ],
    "meetings": [
        _property("hs_meeting_title", "Meeting name", "engagement"),
        _property("hs_meeting_body", "Meeting description", "engagement", "string", "html"),
        _property("hs_meeting_start_time", "Start time", "engagement", "datetime", "date"),
        _property("hs_meeting_end_time", "End time", "engagement", "datetime", "date"),
        _enumeration(
            "hs_meeting_outcome",
            "Meeting outcome",
            "engagement",
            "select",
            *("SCHEDULED", "COMPLETED", "RESCHEDULED", "NO_SHOW", "CANCELED"),
        ),
        *_activity("Activity"),
    ],
    "tasks": [
        _property("hs_task_subject", "Task Title", "engagement"),
        _property("hs_task_body", "Notes", "engagement", "string", "html"),
        _enumeration(
            "hs_task_status",
            "Task Status",
            "engagement",
            "select",
            *("NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"),
        ),
        _enumeration("hs_task_priority", "Priority", "engagement", "select", "NONE", "LOW", "MEDIUM", "HIGH"),
        _enumeration("hs_task_type", "Task Type", "engagement", "select", "CALL", "EMAIL", "TODO"),
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
    )
    return described | {key: copy.deepcopy(value) for key, value in given.items() if key not in described}


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


def _input_error(category: str, message: str, **context: list[str]) -> dict[str, Any]:
    """One entry of a 207's ``errors``."""
    return {"status": "error", "category": category, "message": message, "context": context, "errors": [], "links": {}}


def _not_found(kind: str, ids: list[str]) -> dict[str, Any]:
    """The 207 error naming the ids a batch names but the portal does not hold."""
    message = f"Could not get some {kind} objects, they may be deleted or not exist. Check that ids are valid."
    return _input_error("OBJECT_NOT_FOUND", message, ids=ids)


def _invalid_properties(problems: list[tuple[str, str, str]]) -> dict[str, Any]:
    """HubSpot's 400 for a batch naming properties or values it refuses: (name, code, message) each.
    Like HubSpot's, it names the property and the value, never the input of the batch."""
    details = [
        {"isValid": False, "message": message, "error": code, "name": name, "localizedErrorMessage": message}
        for name, code, message in problems
    ]
    return _error(
        "VALIDATION_ERROR",
        f"Property values were not valid: {json.dumps(details)}",
        errors=[
            {"message": message, "code": code, "context": {"propertyName": [name]}} for name, code, message in problems
        ],
    )


NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?")
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?")
EPOCH_MS = re.compile(r"-?\d{1,16}")
DAY_MS = 86_400_000


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


def _value_problem(spec: dict[str, Any], value: Any) -> tuple[str, str] | None:
    """(HubSpot's error code, its message) when ``value`` does not fit the property ``spec``, else
    None. Empty (``""`` or null) clears a property of any type. Since 2025 HubSpot refuses
    surrounding spaces in non-string values: a value must be exactly its form."""
    if value is None or value == "":
        return None
    text, type_ = _text(value), spec.get("type")
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
    options = spec.get("options")
    if type_ == "enumeration" and isinstance(options, list):
        allowed = [option.get("value") for option in options if isinstance(option, dict)]
        # A multiple checkbox holds several options, ``;``-separated (a leading ``;`` adds to the held ones).
        chosen = [part for part in text.split(";") if part] if spec.get("fieldType") == "checkbox" else [text]
        wrong = [part for part in chosen if part not in allowed]
        if wrong:
            return "INVALID_OPTION", f"{wrong[0]} was not one of the allowed options: {allowed}"
    return None


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
    ):
        self.token, self.max_requests, self.window_seconds = token, max_requests, window_seconds
        self.timeout_seconds, self.latency_seconds = timeout_seconds, latency_seconds
        self.latency_jitter_seconds, self.daily_limit = latency_jitter_seconds, daily_limit
        self._random = random.Random(random_seed)  # noqa: S311 - jitter, not secrets
        given = catalogue if catalogue is not None else default_catalogue(custom_properties)
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            name: {prop["name"]: _described(prop, prop.get("hubspotDefined", True)) for prop in given.get(name, [])}
            for name in TYPE_ID_OF
        }
        self.objects: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TYPE_ID_OF}
        self.archived: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TYPE_ID_OF}
        self.history: dict[tuple[str, str, str], list[dict[str, Any]]] = {}  # (object, id, property) → writes
        self.associations: set[tuple[str, str, str, str, int]] = set()
        self.applied: Counter[str] = Counter()  # payload fingerprint → times applied
        self.created: Counter[str] = Counter()  # object type → records created
        self.faults: deque[str] = deque()  # consumed one per write request
        self.update_bodies: list[dict] = []
        self.requests: list[tuple[str, str, Any, int | None]] = []  # (method, path, body, status); None: dropped
        self.statuses: Counter[int | None] = Counter()
        self.request_times: deque[float] = deque()
        self.all_request_times: list[float] = []
        self.limit_violations = 0  # requests refused by the rolling limit
        self.daily_used = 0  # requests counted against today's quota
        self.daily_violations = 0  # requests refused by the daily quota
        self.lock = threading.RLock()
        self._stamps: dict[tuple[str, str], tuple[str, str]] = {}  # (object, id) → (createdAt, updatedAt)
        self._unique: dict[tuple[str, str], dict[str, str]] = {
            (name, prop): {}
            for name, props in self.properties.items()
            for prop, spec in props.items()
            if spec["hasUniqueValue"]
        }
        self._last_id = 0
        for name, records in (seed or {}).items():
            self.seed(name, records)
        self.server = _Server(("127.0.0.1", 0), self._handler())
        # A short poll: shutting down waits for one (tests start and stop many portals).
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

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
        refuses: an unknown record or property, a read-only one, a value of the wrong type, a
        unique value another record holds."""
        kind, record_id = _kind(object_type), str(record_id)
        with self.lock:
            if record_id not in self.objects[kind]:
                raise ValueError(f"the portal holds no {kind} record {record_id}")
            for name, value in properties.items():
                spec = self.properties[kind].get(name)
                if spec is None or spec["modificationMetadata"]["readOnlyValue"]:
                    raise ValueError(f"{kind} have no writable property {name!r} in this portal")
                problem = _value_problem(spec, value)
                if problem:
                    raise ValueError(problem[1])
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

    def _store(self, kind: str, record_id: str, properties: dict[str, Any], source: dict[str, Any]) -> None:
        """Set values, keep the unique indexes, and note each write in the history (``source``: who)."""
        record = self.objects[kind].setdefault(record_id, {})
        now = _now()
        for name, value in properties.items():
            entry = {"value": "" if value is None else _text(value), "timestamp": now, **source}
            self.history.setdefault((kind, record_id, name), []).append(entry)
            index, old = self._unique.get((kind, name)), record.get(name)
            if index is not None:
                if old not in (None, "") and index.get(str(old)) == record_id:
                    del index[str(old)]
                if value not in (None, ""):
                    index[str(value)] = record_id
            record[name] = value
        self._stamps[kind, record_id] = (self._stamps.get((kind, record_id), (now,))[0], now)

    def _apply(self, kind: str, record_id: str, properties: dict[str, Any]) -> None:
        self._store(kind, record_id, properties, {"sourceType": "INTEGRATION", "sourceId": INTEGRATION_ID})
        self.applied[self.fingerprint(record_id, properties, kind)] += 1

    def _conflict(self, kind: str, record_id: str | None, properties: dict[str, Any]) -> dict[str, Any] | None:
        """The 207 error when ``properties`` give a unique property a value another record holds."""
        for name, value in properties.items():
            holder = self._unique.get((kind, name), {}).get(str(value)) if value not in (None, "") else None
            if holder is not None and holder != record_id:
                return _input_error(
                    "VALIDATION_ERROR",
                    f'Property values were not valid: {name} "{value}" already exists on {kind} {holder} '
                    f"({name} has unique values)",
                    **({"ids": [record_id]} if record_id else {}),
                    propertyName=[name],
                )
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
        given = str(item["id"])
        if id_property:
            return self._unique[kind, id_property].get(given)
        return given if given in self.objects[kind] else None

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
        spec = self.properties[kind].get(id_property)
        if spec is None or not spec["hasUniqueValue"]:
            return _error("VALIDATION_ERROR", f"Unable to perform update/upsert by non-unique {id_property} property")
        return None

    def _refusal(self, kind: str, action: str, inputs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The 400 that refuses a whole write batch, or None."""
        if len(inputs) > MAX_BATCH_INPUTS:
            return _error(
                "VALIDATION_ERROR", f"Batch size {len(inputs)} exceeds the limit of {MAX_BATCH_INPUTS} inputs"
            )
        problems: dict[str | tuple[str, str], tuple[str, str, str]] = {}
        for item in inputs:
            for name, value in item["properties"].items():
                spec = self.properties[kind].get(name)
                if spec is None:
                    problems[name] = (name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                elif spec["modificationMetadata"]["readOnlyValue"]:
                    message = f"{name} is a read only property; its value cannot be set."
                    problems[name] = (name, "READ_ONLY_VALUE", message)
                elif problem := _value_problem(spec, value):
                    problems.setdefault((name, _text(value)), (name, *problem))
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

    @staticmethod
    def _association_target(kind: str, spec: Any) -> str | None:
        """The object type a HUBSPOT_DEFINED association type from ``kind`` leads to, else None."""
        type_id = spec.get("associationTypeId") if isinstance(spec, dict) else None
        pair = TYPE_PAIR.get(type_id) if isinstance(type_id, int) else None
        if pair is None or spec.get("associationCategory") != "HUBSPOT_DEFINED" or pair[0] != kind:
            return None
        return pair[1]

    # --- v3 objects batches --------------------------------------------------------------------

    def write(self, kind: str, action: str, body: Any, reject_first: bool = False) -> tuple[int, dict[str, Any]]:
        """batch/update, batch/create or batch/upsert: (status, answer). ``reject_first``: the 207 fault."""
        fields = {"create": {"properties": dict}}.get(action, {"id": (str, int), "properties": dict})
        malformed = self._malformed(body, fields)
        if malformed:
            return 400, _error("VALIDATION_ERROR", f"Invalid input JSON: {malformed}")
        inputs = body["inputs"]
        with self.lock:
            refusal = self._refusal(kind, action, inputs)
            if refusal:
                return 400, refusal
            results, errors, missing = [], [], []
            for number, item in enumerate(inputs):
                if reject_first and number == 0:
                    ids = [str(item["id"])] if "id" in item else []
                    message = f"Property values were not valid for {ids[0] if ids else 'the first input'}"
                    errors.append(_input_error("VALIDATION_ERROR", message, ids=ids))
                    continue
                result, error = getattr(self, f"_{action}_one")(kind, item)
                if result is not None:
                    results.append(result)
                elif error is not None:
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
        self._last_id += 1
        record_id = str(self._last_id)
        self._apply(kind, record_id, properties)
        self.created[kind] += 1
        return record_id

    def _create_one(self, kind: str, item: dict[str, Any]) -> tuple[dict | None, dict | None]:
        properties = item["properties"]
        trace = {"objectWriteTraceId": [item["objectWriteTraceId"]]} if "objectWriteTraceId" in item else {}
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
            problem["context"] |= trace
            return None, problem
        record_id = self._new_record(kind, properties)
        for target, target_id, type_id in links:
            self._link(kind, record_id, target, target_id, type_id)
        extra = {"objectWriteTraceId": item["objectWriteTraceId"]} if trace else {}
        return self._result(kind, record_id, **extra), None

    def _upsert_one(self, kind: str, item: dict[str, Any]) -> tuple[dict | None, dict | None]:
        id_property, value = item["idProperty"], str(item["id"])
        record_id = self._unique[kind, id_property].get(value)
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
                    index = self._unique.get((kind, name))
                    if index is not None and value not in (None, "") and index.get(str(value)) == record_id:
                        del index[str(value)]
                self.associations = {
                    link
                    for link in self.associations
                    if link[:2] != (kind, record_id) and (link[2], link[3]) != (kind, record_id)
                }
        return 204, None

    # --- properties ----------------------------------------------------------------------------

    def create_property(self, kind: str, body: Any) -> tuple[int, dict[str, Any]]:
        """POST /crm/v3/properties/{objectType}: 201 with the property, 409 if it exists."""
        given = body if isinstance(body, dict) else {}
        fields = ("name", "label", "type", "fieldType", "groupName")
        absent = [field for field in fields if not isinstance(given.get(field), str) or not given[field]]
        if absent:
            return 400, _error("VALIDATION_ERROR", f"Missing required fields: {absent}")
        name = given["name"]
        if not PROPERTY_NAME.fullmatch(name) or name.startswith("hs_"):
            message = f"{name!r} is not a valid property name (lower case, digits, underscores; hs_ is HubSpot's)"
            return 400, _error("VALIDATION_ERROR", message)
        if given["type"] not in PROPERTY_TYPES:
            return 400, _error("VALIDATION_ERROR", f"{given['type']!r} is not a property type: {PROPERTY_TYPES}")
        with self.lock:
            if name in self.properties[kind]:
                return 409, _error("OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
            described = _described({key: value for key, value in given.items() if key != "modificationMetadata"}, False)
            self.properties[kind][name] = described
            if described["hasUniqueValue"]:
                self._unique[kind, name] = {}
            return 201, copy.deepcopy(described)

    def list_properties(self, kind: str) -> tuple[int, dict[str, Any]]:
        """GET /crm/v3/properties/{objectType}."""
        with self.lock:
            return 200, {"results": copy.deepcopy(list(self.properties[kind].values()))}

    # --- v4 associations ----------------------------------------------------------------------

    def _link(self, kind: str, record_id: str, target: str, target_id: str, type_id: int) -> None:
        """Associate both ways; a primary company also gets the default type and replaces the old one."""
        if type_id in PRIMARY_FROM_COMPANY:
            self._link(target, target_id, kind, record_id, INVERSE_TYPE[type_id])
            return
        if type_id in PRIMARY_TO_COMPANY:
            for old in [link for link in self.associations if link[:3] == (kind, record_id, target)]:
                if old[4] == type_id and old[3] != target_id:
                    self.associations -= {old, (target, old[3], kind, record_id, INVERSE_TYPE[type_id])}
            self._link(kind, record_id, target, target_id, DEFAULT_TYPE[kind, target])
        self.associations |= {
            (kind, record_id, target, target_id, type_id),
            (target, target_id, kind, record_id, INVERSE_TYPE[type_id]),
        }

    @staticmethod
    def _label(type_id: int) -> str | None:
        return "Primary" if type_id in PRIMARY_TO_COMPANY + PRIMARY_FROM_COMPANY else None

    def associate(self, kind: str, target: str, action: str, body: Any) -> tuple[int, dict[str, Any]]:
        """v4 batch/create (typed), batch/associate/default and batch/read between two object types."""
        fields: dict[str, Any] = {"read": {"id": (str, int)}, "create": {"from": dict, "to": dict, "types": list}}
        malformed = self._malformed(body, fields.get(action, {"from": dict, "to": dict}))
        if malformed:
            return 400, _error("VALIDATION_ERROR", f"Invalid input JSON: {malformed}")
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
        return self._batch_answer(results, errors, 201 if action == "create" else 200)

    def _read_associations(self, kind: str, target: str, inputs: list[dict]) -> tuple[int, dict[str, Any]]:
        results, errors = [], []
        with self.lock:
            for item in inputs:
                record_id = str(item["id"])
                if record_id not in self.objects[kind]:
                    message = f"No {kind} record {record_id}"
                    errors.append(_input_error("OBJECT_NOT_FOUND", message, ids=[record_id]))
                    continue
                linked: dict[str, list[int]] = {}
                for link in sorted(self.associations):
                    if link[:3] == (kind, record_id, target):
                        linked.setdefault(link[3], []).append(link[4])
                to = [
                    {
                        "toObjectId": target_id,
                        "associationTypes": [
                            {"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": self._label(type_id)}
                            for type_id in sorted(type_ids)
                        ],
                    }
                    for target_id, type_ids in linked.items()
                ]
                results.append({"from": {"id": record_id}, "to": to})
        return self._batch_answer(results, errors, 200)

    # --- HTTP ----------------------------------------------------------------------------------

    def _record(self, method: str, path: str, body: Any, status: int | None) -> None:
        with self.lock:
            self.requests.append((method, path, body, status))
            self.statuses[status] += 1

    def _admit(self) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Count a request against the limits: (the 429 body refusing it or None, the rate-limit
        headers of its answer). Every request counts in the rolling window; all but those it
        refuses count against the day (whatever their answer, as HubSpot counts them)."""
        now = time.monotonic()
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
        from crm_reconciliation.common.registry import default_registry

        objects = default_registry().objects
        return object_type(objects[name].api_object) if name in objects else None

    def _handler(self):
        crm = self
        batch_route = re.compile(r"/crm/v3/objects/([^/]+)/batch/(read|create|update|upsert|archive)")
        properties_route = re.compile(r"/crm/v3/properties/([^/]+)")
        associations_route = re.compile(r"/crm/v4/associations/([^/]+)/([^/]+)/batch/(create|associate/default|read)")
        workflow_run = ":latest_draft/triggers/post_trigger/run_wait_result"

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                return

            def _send(self, status: int, body: object, headers: dict | None = None) -> None:
                """Answer ``body`` as JSON (None: no body, as a 204), with the rate-limit headers."""
                crm._record(self.command, self.path, self.body, status)
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
                crm._record(self.command, self.path, self.body, None)
                self.close_connection = True
                self.connection.shutdown(2)

            def do_GET(self) -> None:
                self._serve()

            def do_POST(self) -> None:
                self._serve()

            def _serve(self) -> None:
                self.rate_headers: dict[str, str] = {}
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    self.body, parsed = (json.loads(raw) if raw else None), True
                except ValueError:
                    self.body, parsed = raw.decode(errors="replace"), False
                authenticated = self.headers.get("Authorization") == f"Bearer {crm.token}"
                # An unknown caller is no app of the portal: it counts against no limit.
                refusal, self.rate_headers = crm._admit() if authenticated else (None, {})
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
                path, post = url.path, self.command == "POST"
                if (match := batch_route.fullmatch(path)) and post:
                    if kinds := self._objects(match.group(1)):
                        if match.group(2) == "read":
                            self._send(*crm.read(kinds[0], self.body))
                        elif match.group(2) == "archive":
                            self._send(*crm.archive(kinds[0], self.body))
                        else:
                            self._write(kinds[0], match.group(2))
                elif match := properties_route.fullmatch(path):
                    if kinds := self._objects(match.group(1)):
                        listed = crm.list_properties(kinds[0]) if not post else crm.create_property(kinds[0], self.body)
                        self._send(*listed)
                elif (match := associations_route.fullmatch(path)) and post:
                    if kinds := self._objects(match.group(1), match.group(2)):
                        self._send(*crm.associate(kinds[0], kinds[1], match.group(3), self.body))
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

            def _lookup(self, query: dict[str, list[str]]) -> None:
                """The lookup workflow (companies): ``?ids=1,2&properties=a,b``."""
                ids = query.get("ids", [""])[0].split(",")
                properties = query.get("properties", [""])[0].split(",")
                _, answer = crm.read("companies", {"inputs": [{"id": i} for i in ids], "properties": properties})
                self._send(200, {"status": "COMPLETE", "results": answer["results"]})

            def _write(self, kind: str, action: str) -> None:
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
                    status, answer = crm.write(kind, action, self.body, reject_first=fault == "207")
                    if fault == "timeout_after_apply":
                        time.sleep(crm.timeout_seconds * 3)
                    if fault == "drop_after_apply":
                        self._drop()
                        return
                    self._send(status, answer)

        return Handler
