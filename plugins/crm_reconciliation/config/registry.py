"""Load and validate the object registry (``include/config/objects.yaml``).

Every DAG, SQL template and command is driven by these specs, so a typo in the YAML must
fail loudly at parse time rather than produce a half-working DAG.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_reconciliation.config.paths import REGISTRY_PATH

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
TRANSFORMS = (
    "text",
    "email",
    "domain",
    "phone",
    "number",
    "date",
    "datetime",
    "deal_stage",
    "option",
    "note_body",
    "company_ref",
    "contact_ref",
    "deal_ref",
)


COMPARATORS = ("name", "text", "folded", "exact", "email", "number", "date", "datetime", "legacy_id")
# A reference transform resolves a legacy id of another object to that object's HubSpot id.
REFERENCES = {"company_ref": "companies", "contact_ref": "contacts", "deal_ref": "deals"}


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Mapping(_Strict):
    """One legacy column → one HubSpot property."""

    source: str
    property: str
    transform: Literal[TRANSFORMS]  # type: ignore[valid-type]
    required: bool = False
    writable: bool = True
    # An empty legacy value never clears HubSpot's, unless this says clearing is meant.
    clear_when_empty: bool = False
    # A reference (*_ref) is an association in HubSpot, never a property: this one is the
    # record's primary one (a contact's or a deal's primary company).
    primary: bool = False

    _check_names = field_validator("source", "property")(_identifier)


class Level(_Strict):
    """One level of a comparison (as in Splink): when it applies, and its m and u.

    ``exact``: the values agree once normalised by the comparison's kind; ``similar``: their
    similarity (0-1, by kind) is at least ``threshold``; ``else``: any other pair of values;
    ``agree``/``disagree``: the legacy-id comparison. A pair with a value missing on either side
    hits the implicit null level, which weighs nothing. ``m`` is the share of true matches at
    this level, ``u`` the share of random pairs: the configured values start the learning and
    are the fallback when it fails.
    """

    level: Literal["exact", "similar", "else", "agree", "disagree"]
    threshold: float | None = Field(None, gt=0, lt=1)
    m: float = Field(gt=0, lt=1)
    u: float = Field(gt=0, lt=1)

    @model_validator(mode="after")
    def _threshold_for_similar(self) -> Level:
        if (self.level == "similar") != (self.threshold is not None):
            raise ValueError("a 'similar' level needs a threshold, and only it takes one")
        return self

    @property
    def label(self) -> str:
        return f"similar >= {self.threshold:g}" if self.level == "similar" else self.level


class Comparison(_Strict):
    """One comparison of a record pair: over one or more properties (read as one text), its kind,
    its levels from strongest to weakest, and whether exact agreement weighs by how rare the
    value is (term frequency: agreeing on a rare surname says more than on "Martin")."""

    name: str
    compare: Literal[COMPARATORS]  # type: ignore[valid-type]
    properties: tuple[str, ...] = ()
    levels: tuple[Level, ...] = Field(min_length=2)
    term_frequency: bool = False
    # Another comparison of the same kind whose value may hold this one's (a first name written as
    # the last name): the agreement is also read across, this legacy value against the other's
    # HubSpot value, and the better of the two counts.
    crossed_with: str | None = None

    _check_name = field_validator("name")(_identifier)

    @field_validator("name")
    @classmethod
    def _not_prior(cls, value: str) -> str:
        if value == "prior":
            raise ValueError("'prior' names the model's prior, not a comparison")
        return value

    @model_validator(mode="after")
    def _levels_fit_the_kind(self) -> Comparison:
        kinds = [level.level for level in self.levels]
        if self.compare == "legacy_id":
            if kinds != ["agree", "disagree"] or self.properties:
                raise ValueError(f"comparison {self.name!r}: legacy_id takes levels agree, disagree and no properties")
        else:
            if not self.properties:
                raise ValueError(f"comparison {self.name!r} compares no property")
            if kinds[0] != "exact" or kinds.count("exact") != 1 or kinds[-1] != "else" or kinds.count("else") != 1:
                raise ValueError(f"comparison {self.name!r}: levels are exact, then similar ones, then one 'else'")
            thresholds = [level.threshold for level in self.levels if level.level == "similar"]
            if thresholds != sorted(thresholds, reverse=True):
                raise ValueError(f"comparison {self.name!r}: similar levels go from the highest threshold down")
        for side in ("m", "u"):
            total = sum(getattr(level, side) for level in self.levels)
            if abs(total - 1) > 0.01:
                raise ValueError(f"comparison {self.name!r}: the levels' {side} add up to {total:g}, not 1")
        if self.term_frequency and self.compare == "legacy_id":
            raise ValueError(f"comparison {self.name!r}: term_frequency is for value comparisons")
        return self


class Correlated(_Strict):
    """Comparisons that describe one underlying fact: ``key`` names it (a person's employer: the
    company), ``describe`` are its attributes (the employer's address, city, postcode,
    switchboard). Where the key agrees, every colleague agrees on the attributes too, so the
    group counts once — its strongest agreement plus its strongest disagreement — as one
    comparison over several columns does in Splink. Where it does not, each counts on its own
    (without an employer on record, an address is the person's own)."""

    key: str
    describe: tuple[str, ...] = Field(min_length=1)

    @property
    def members(self) -> tuple[str, ...]:
        return (self.key, *self.describe)


class Identity(_Strict):
    """What a probable twin must agree on about the record itself, beyond what it shares with its
    neighbours: colleagues share their employer's address, sister companies their group's domain.

    ``any_of``: at least one of these comparisons agrees (hits a level above ``else``); a pair
    where none does is never ``probable``, whatever else agrees. An attribute of a correlated
    group counts here only where its key is not comparable: an address identifies a person who
    has no employer on record, not one whose company agrees (every colleague shares it).
    ``not_all_different``: a pair where every one of these disagrees (hits ``else``) is never
    ``probable`` either: a person whose names both differ is another person, even on a shared
    mailbox (swapped first and last names agree through ``Comparison.crossed_with``).
    """

    any_of: tuple[str, ...] = Field(min_length=1)
    not_all_different: tuple[str, ...] = ()


class Model(_Strict):
    """The one match model of an object: every candidate pair (linked by the legacy id or found by
    blocking) is scored by it; ``match_confidence`` = 100 × the posterior match probability."""

    comparisons: tuple[Comparison, ...] = Field(min_length=1)
    # Comparisons that describe one underlying fact count once where it agrees (Correlated).
    correlated: dict[str, Correlated] = Field(default_factory=dict)
    identity: Identity | None = None
    # The share of candidate pairs that are true matches, before comparing them (learned by EM).
    prior: float = Field(0.05, gt=0, lt=1)
    # An id link at or above this confidence is matched, below it a conflict.
    match_threshold: float = Field(50, ge=0, le=100)
    # Random record pairs drawn to estimate u (each side sampled, deterministically).
    u_sample_pairs: int = Field(100_000, ge=10_000)
    # The chance that a legacy id sits on the wrong HubSpot record (a sync or data-entry error):
    # u of the legacy id's agreement is this times the chance that two random records share an id.
    id_error_rate: float = Field(0.001, gt=0, lt=1)
    em_max_iterations: int = Field(100, ge=0, le=1000)
    em_tolerance: float = Field(1e-4, gt=0)
    # A comparison whose learned m makes agreement weaker than configured by more than this
    # factor (or evidence against) keeps its configured m: EM followed a blocking artefact.
    max_m_drift: float = Field(0.25, gt=0, lt=1)

    @model_validator(mode="after")
    def _names_unique(self) -> Model:
        names = [comparison.name for comparison in self.comparisons]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"model names these comparisons twice: {repeated}")
        if sum(comparison.compare == "legacy_id" for comparison in self.comparisons) > 1:
            raise ValueError("model has more than one legacy_id comparison")
        values = {comparison.name for comparison in self.comparisons if comparison.compare != "legacy_id"}
        grouped: list[str] = []
        for group, correlated in self.correlated.items():
            _identifier(group)
            members = correlated.members
            if group in names:
                raise ValueError(f"correlated group {group!r} has the name of a comparison")
            unknown = sorted(set(members) - values)
            if unknown:
                raise ValueError(f"correlated group {group!r} names no value comparison {unknown}")
            grouped.extend(members)
        twice = sorted({name for name in grouped if grouped.count(name) > 1})
        if twice:
            raise ValueError(f"these comparisons are in two correlated groups: {twice}")
        by_name = {comparison.name: comparison for comparison in self.comparisons}
        for comparison in self.comparisons:
            other = by_name.get(comparison.crossed_with) if comparison.crossed_with else None
            if comparison.crossed_with and (
                other is None
                or other.compare != comparison.compare
                or comparison.compare == "legacy_id"
                or other is comparison
            ):
                raise ValueError(
                    f"comparison {comparison.name!r} is crossed_with {comparison.crossed_with!r}, "
                    "which is no other value comparison of the same kind"
                )
        if self.identity:
            unknown = sorted(set(self.identity.any_of + self.identity.not_all_different) - values)
            if unknown:
                raise ValueError(f"identity names no value comparison {unknown}")
        return self


class BlockingKey(_Strict):
    """Which HubSpot records are compared with a legacy record: those sharing this key.

    exact: the canonical values are equal; prefix: equal values of the first properties and the
    same first ``length`` characters of the last one (folded, words sorted); trigram: folded
    names at least ``trigram_threshold`` similar (pg_trgm), among the records sharing a word of
    the name that at most ``max_block_size`` HubSpot names hold (frequent words left out while a
    rarer one remains); local_part: the same e-mail address before the @ (a changed e-mail domain).
    """

    kind: Literal["exact", "prefix", "trigram", "local_part"]
    properties: tuple[str, ...] = Field(min_length=1)
    length: int = Field(4, ge=1, le=20)


class Matching(_Strict):
    """Similarity matching of legacy records no HubSpot record links by id."""

    blocking: tuple[BlockingKey, ...] = Field(min_length=1)
    # A candidate at or above this confidence (0-100) is the probable twin.
    probable_min_confidence: float = Field(80, ge=0, le=100)
    # Two candidates whose match weights differ by less than this many bits (3: one is less than
    # 8 times as likely as the other) are a tie: reported, never picked.
    tie_margin: float = Field(3, ge=0, le=60)
    trigram_threshold: float = Field(0.5, gt=0, le=1)
    # A trigram rule keeps, per legacy record, its most similar HubSpot records up to this many:
    # a common name would otherwise pair with hundreds of look-alikes that all score as non-matches.
    max_similar: int = Field(10, ge=1, le=1000)
    # Exact keys shared by more HubSpot records than this (a switchboard number) block nothing.
    max_block_size: int = Field(50, ge=1)
    # Words in more than this share of HubSpot names ("societe", "france") leave the trigram keys.
    common_word_share: float = Field(0.001, gt=0, le=1)
    # Off by default: when on, a probable twin at or above auto_link_min_confidence gets the legacy
    # id property in properties_to_update, so that the push links the two for good.
    auto_link: bool = False
    auto_link_min_confidence: float = Field(95, ge=0, le=100)


class AssociationType(_Strict):
    """HubSpot-defined association type ids from one object to another: the default (unlabelled)
    one, and the primary one where HubSpot has it."""

    default: int = Field(ge=1)
    primary: int | None = Field(None, ge=1)


class ActivityProperty(_Strict):
    """One property of an activity object, from canonical legacy properties: their values joined
    by a blank line (a note's body is the subject, then the text), or, with ``values``, the one
    source's value looked up there (case ignored; a value not listed is kept as it is, for the
    push to convert to one of the portal's options or hold back)."""

    sources: tuple[str, ...] = Field(min_length=1)
    values: dict[str, str] | None = None


class ActivityObject(_Strict):
    """A HubSpot activity object (calls, meetings, …): the legacy values that pick it, its properties."""

    when: tuple[str, ...] = ()
    properties: dict[str, ActivityProperty] = Field(min_length=1)


class Activities(_Strict):
    """Which HubSpot object each legacy row becomes: the first of ``picked_by`` (canonical
    properties, e.g. Comm_Action then Comm_Type) that has a value decides: the object listing
    that value in ``when``, else ``default`` (a later property is read only when the earlier ones
    are blank); each object with its own properties."""

    picked_by: tuple[str, ...] = Field(min_length=1)
    default: str
    objects: dict[str, ActivityObject] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_is_an_object(self) -> Activities:
        if self.default not in self.objects:
            raise ValueError(f"activities.default {self.default!r} is not one of {sorted(self.objects)}")
        for name in self.objects:
            _identifier(name)
        return self

    def binds(self) -> dict:
        """As the SQL reads it: ``when`` lower-cased (value maps are read case-insensitively)."""
        return {
            "picked_by": list(self.picked_by),
            "default": self.default,
            "objects": {
                name: {
                    "when": [value.lower() for value in spec.when],
                    "properties": {
                        prop: {
                            "sources": list(target.sources),
                            **({"values": dict(target.values)} if target.values else {}),
                        }
                        for prop, target in spec.properties.items()
                    },
                }
                for name, spec in self.objects.items()
            },
        }


class DealStages(_Strict):
    """Legacy stage (and won/lost outcome) → HubSpot dealstage id."""

    status_column: str
    stages: dict[str, str]
    outcomes: dict[str, str | None]

    _check_column = field_validator("status_column")(_identifier)

    @model_validator(mode="after")
    def _outcomes_name_stages(self) -> DealStages:
        unknown = sorted({target for target in self.outcomes.values() if target and target not in self.stages})
        if unknown:
            raise ValueError(f"deal_stages.outcomes lead to stages that are not in deal_stages.stages: {unknown}")
        return self


class DeletedFlag(_Strict):
    """What the values of the legacy soft-delete column mean (compared trimmed, case ignored).

    Sage leaves it empty for live rows and writes 1 (or a date) for deleted ones; exports that
    write 0/N for live rows are read right by default. A value in neither list, and not a date
    when dates mean deleted, rejects its row instead of guessing.
    """

    live: tuple[str, ...] = ("", "0", "n", "no", "non", "false", "f")
    deleted: tuple[str, ...] = ("1", "-1", "y", "yes", "o", "oui", "true", "t", "x")
    dates_mean_deleted: bool = True

    @model_validator(mode="after")
    def _lists_do_not_overlap(self) -> DeletedFlag:
        both = sorted({v.strip().lower() for v in self.live} & {v.strip().lower() for v in self.deleted})
        if both:
            raise ValueError(f"deleted_flag lists these values as both live and deleted: {both}")
        return self

    def binds(self) -> dict[str, object]:
        return {
            "deleted_live": [value.strip().lower() for value in self.live],
            "deleted_true": [value.strip().lower() for value in self.deleted],
            "deleted_dates": self.dates_mean_deleted,
        }


class Defaults(_Strict):
    retries: int = Field(2, ge=0, le=10)
    retry_delay_seconds: int = Field(120, ge=1)
    execution_timeout_minutes: int = Field(120, ge=1)
    max_reject_rate: float = Field(0.05, ge=0, le=1)
    # Share of the previous snapshot's live records (0-1) a new snapshot may drop before
    # load_bronze refuses it (run param allow_snapshot_drop overrides for one run).
    max_drop_rate: float = Field(0.25, ge=0, le=1)
    phone_country_code: str = Field("33", pattern=r"^[1-9][0-9]{0,3}$")
    legacy_timezone: str = "UTC"
    # Push: HubSpot batch size (at most 100), the client-side rolling rate limit, and whether
    # probable twins at or above min_confidence may be pushed (matched rows always may).
    push_batch_size: int = Field(100, ge=1, le=100)
    push_max_requests: int = Field(190, ge=1)
    push_window_seconds: float = Field(10, gt=0)
    push_probable: bool = False
    # Requests in flight at once (HubSpot answers a batch in 200-400 ms: one at a time reaches a
    # sixth of the limit); the share of a run's payloads HubSpot may refuse before the push task
    # fails; daily API calls left untouched for other integrations of the same app.
    push_concurrency: int = Field(8, ge=1, le=32)
    push_max_refused_share: float = Field(0.02, ge=0, le=1)
    push_daily_reserve: int = Field(0, ge=0)
    # Associations per request (HubSpot's v4 batch read takes at most 1,000 ids); the share of a
    # run's writes read back with run param verify=sample; how long a write may stay 'pending'
    # (the mirror still shows other values) before it is called a mismatch.
    push_association_batch_size: int = Field(1000, ge=1, le=1000)
    push_verify_sample_share: float = Field(0.05, gt=0, le=1)
    push_verify_pending_days: int = Field(3, ge=0)
    # A live push that would create or overwrite more records than this waits for a person's
    # approval (task approve_push), as does the first live push of an object.
    approval_min_records: int = Field(1000, ge=0)
    retention_days: int = Field(90, ge=1)
    # Memory the reconcile and score steps may use per sort or hash (work_mem) and for their
    # temporary tables (temp_buffers): PostgreSQL's defaults (4MB, 8MB) send them to disk.
    work_mem: str = Field("256MB", pattern=r"^[1-9][0-9]*(kB|MB|GB)$")
    temp_buffers: str = Field("1GB", pattern=r"^[1-9][0-9]*(kB|MB|GB)$")
    # HubSpot-defined association types, from object → to object (api object names).
    association_types: dict[str, dict[str, AssociationType]] = Field(default_factory=dict)
    # Group of the custom properties the push creates when a run asks it to (create_properties).
    property_group: str = "icalps"


class ObjectSpec(_Strict):
    """Everything the pipeline needs to know about one object type."""

    name: str
    entity: str
    hubspot_entity: str
    schedule: str
    legacy_table: str
    legacy_id_column: str
    deleted_column: str
    deleted_flag: DeletedFlag = Field(default_factory=DeletedFlag)
    hubspot_table: str
    hubspot_id_column: str = "hs_object_id"
    # The object type in HubSpot's CRM API paths (/crm/v3/objects/<api_object>/batch/update).
    api_object: str
    legacy_id_property: str
    column_aliases: dict[str, str] = Field(default_factory=dict)
    extra_columns: tuple[str, ...] = ()
    mappings: tuple[Mapping, ...]
    model: Model
    # A legacy row with none of these properties is unusable (rejected); others may be empty.
    usable_when_any: tuple[str, ...] = ()
    matching: Matching | None = None
    deal_stages: DealStages | None = None
    # Activities (communications): which HubSpot object each row becomes, with its properties.
    activities: Activities | None = None
    # Legacy vocabulary → the portal's option value, per HubSpot property written (an activity's
    # own names for activities). Read after the portal's own options (value or label, case,
    # accents and spaces ignored); a value found in neither is held back, never guessed.
    value_maps: dict[str, dict[str, str]] = Field(default_factory=dict)

    _check_names = field_validator(
        "name",
        "entity",
        "hubspot_entity",
        "legacy_table",
        "legacy_id_column",
        "deleted_column",
        "hubspot_table",
        "hubspot_id_column",
        "api_object",
        "legacy_id_property",
    )(_identifier)

    @field_validator("extra_columns")
    @classmethod
    def _check_extra_columns(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_identifier(column) for column in value)

    @field_validator("column_aliases")
    @classmethod
    def _check_aliases(cls, value: dict[str, str]) -> dict[str, str]:
        for alias, column in value.items():
            _identifier(alias)
            _identifier(column)
        return value

    @model_validator(mode="after")
    def _check_mappings(self) -> ObjectSpec:
        if not self.mappings:
            raise ValueError(f"object {self.name!r} has no mappings")
        properties = [m.property for m in self.mappings]
        duplicated = sorted({p for p in properties if properties.count(p) > 1})
        if duplicated:
            raise ValueError(f"object {self.name!r} maps these properties twice: {duplicated}")
        used = {p for comparison in self.model.comparisons for p in comparison.properties}
        used |= set(self.usable_when_any)
        if self.matching:
            used |= {p for key in self.matching.blocking for p in key.properties}
        unmapped = sorted(used - set(properties))
        if unmapped:
            raise ValueError(f"object {self.name!r} compares properties that are not mapped: {unmapped}")
        if self.activities:
            sources = set(self.activities.picked_by) | {
                source
                for target in self.activities.objects.values()
                for prop in target.properties.values()
                for source in prop.sources
            }
            unmapped = sorted(sources - set(properties))
            if unmapped:
                raise ValueError(f"object {self.name!r}: activities read properties that are not mapped: {unmapped}")
        activities = self.activities.objects.values() if self.activities else ()
        written = set(properties) | {name for activity in activities for name in activity.properties}
        unknown_maps = sorted(set(self.value_maps) - written)
        if unknown_maps:
            raise ValueError(f"object {self.name!r} has value_maps for properties it does not write: {unknown_maps}")
        if any(m.transform == "deal_stage" for m in self.mappings) and self.deal_stages is None:
            raise ValueError(f"object {self.name!r} uses the deal_stage transform but has no deal_stages map")
        return self

    @property
    def dag_id(self) -> str:
        return f"crm_reconcile_{self.name}"

    @property
    def csv_file(self) -> str:
        return f"Bronze_{self.legacy_table}.csv"

    @property
    def bronze_table(self) -> str:
        return self.legacy_table.lower()

    @property
    def api_objects(self) -> tuple[str, ...]:
        """The HubSpot objects this object's rows are written as (activities: one per type)."""
        return tuple(self.activities.objects) if self.activities else (self.api_object,)

    @property
    def writable_properties(self) -> tuple[str, ...]:
        """Mapped properties the push may write (references are associations, not properties)."""
        return tuple(m.property for m in self.mappings if m.writable and m.transform not in REFERENCES)

    @property
    def staging_table(self) -> str:
        return f"{self.name}_reconciliation"

    @property
    def legacy_key(self) -> str:
        return f"legacy_{self.entity}_id"

    @property
    def hubspot_key(self) -> str:
        return f"hubspot_{self.hubspot_entity}_id"

    @property
    def required_columns(self) -> tuple[str, ...]:
        """Columns a CSV must have: the id, the soft-delete flag and every required source."""
        required = [self.legacy_id_column, self.deleted_column]
        required += [m.source for m in self.mappings if m.required]
        return tuple(dict.fromkeys(required))

    @property
    def bronze_columns(self) -> tuple[str, ...]:
        """Legacy columns kept as their own bronze columns, id first; the loader adds the others as text columns."""
        columns = [self.legacy_id_column, self.deleted_column]
        columns += [m.source for m in self.mappings]
        columns += [self.deal_stages.status_column] if self.deal_stages else []
        columns += list(self.extra_columns)
        return tuple(dict.fromkeys(column.lower() for column in columns))

    def template_params(self) -> dict:
        """Plain values for Jinja ``params``; every identifier here was validated above."""
        return {
            "name": self.name,
            "entity": self.entity,
            "legacy_table": self.legacy_table,
            "bronze_table": self.bronze_table,
            "bronze_id_column": self.legacy_id_column.lower(),
            "bronze_columns": list(self.bronze_columns),
            "staging_table": self.staging_table,
            "legacy_key": self.legacy_key,
            "hubspot_key": self.hubspot_key,
            "hubspot_table": self.hubspot_table,
            "hubspot_id_column": self.hubspot_id_column,
            "legacy_id_property": self.legacy_id_property,
            "status_column": self.deal_stages.status_column.lower() if self.deal_stages else None,
            "status_column_name": self.deal_stages.status_column if self.deal_stages else None,
            "usable_when_any": list(self.usable_when_any),
            "api_object": self.api_object,
            "activities": bool(self.activities),
            "model": {
                "comparisons": [
                    {
                        "name": comparison.name,
                        "compare": comparison.compare,
                        "properties": list(comparison.properties),
                        "term_frequency": comparison.term_frequency,
                        "crossed_with": comparison.crossed_with,
                        "levels": [{"level": level.level, "label": level.label} for level in comparison.levels],
                    }
                    for comparison in self.model.comparisons
                ],
                "properties": sorted({p for c in self.model.comparisons for p in c.properties}),
                "correlated": {
                    group: {
                        "key": correlated.key,
                        "describe": list(correlated.describe),
                        "members": list(correlated.members),
                    }
                    for group, correlated in self.model.correlated.items()
                },
                "identity": {
                    "any_of": list(self.model.identity.any_of),
                    "not_all_different": list(self.model.identity.not_all_different),
                }
                if self.model.identity
                else None,
            },
            "matching": {
                "blocking": [
                    {**key.model_dump(), "properties": list(key.properties)} for key in self.matching.blocking
                ],
                "properties": sorted(
                    {p for key in self.matching.blocking for p in key.properties}
                    | {p for c in self.model.comparisons for p in c.properties}
                ),
            }
            if self.matching
            else None,
        }


class Registry(_Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    objects: dict[str, ObjectSpec]

    @model_validator(mode="before")
    @classmethod
    def _name_objects(cls, data: dict) -> dict:
        objects = data.get("objects") or {}
        if not isinstance(objects, dict):
            raise ValueError("'objects' must be a mapping of object name → spec")
        data["objects"] = {
            name: {**spec, "name": name} if isinstance(spec, dict) else spec for name, spec in objects.items()
        }
        return data

    @model_validator(mode="after")
    def _references_resolve(self) -> Registry:
        for spec in self.objects.values():
            for mapping in spec.mappings:
                target = REFERENCES.get(mapping.transform)
                if target and target not in self.objects:
                    raise ValueError(
                        f"object {spec.name!r}: {mapping.property} uses {mapping.transform}, "
                        f"but there is no {target!r} object to resolve it against"
                    )
                if target:
                    to_object = self.objects[target].api_object
                    missing = [
                        source
                        for source in spec.api_objects
                        if to_object not in self.defaults.association_types.get(source, {})
                    ]
                    if missing:
                        raise ValueError(
                            f"object {spec.name!r}: {mapping.property} links {missing} to {to_object}, but "
                            f"defaults.association_types has no type for it"
                        )
        return self

    def template_params(self, name: str, spec: ObjectSpec | None = None) -> dict:
        """Jinja ``params.object`` of one object: its names plus its mappings, references resolved.

        ``spec`` stands in for the registered entry (a variant under test, say)."""
        spec = spec or self.get(name)
        mappings = []
        for mapping in spec.mappings:
            target = self.objects.get(REFERENCES.get(mapping.transform, ""))
            mappings.append(
                {
                    **mapping.model_dump(),
                    "column": mapping.source.lower(),
                    "api_object": spec.api_object,
                    # An empty required value or an unparsable one makes the legacy row unusable.
                    "can_reject": mapping.required or mapping.transform in ("number", "date", "datetime", "deal_stage"),
                    "reference": {
                        "name": target.name,
                        "hubspot_table": target.hubspot_table,
                        "hubspot_id_column": target.hubspot_id_column,
                        "legacy_id_property": target.legacy_id_property,
                        "staging_table": target.staging_table,
                        "legacy_key": target.legacy_key,
                        "hubspot_key": target.hubspot_key,
                        "api_object": target.api_object,
                    }
                    if target
                    else None,
                }
            )
        return {**spec.template_params(), "mappings": mappings, "referenced_by": self.referenced_by(spec.name)}

    def referenced_by(self, name: str) -> list[dict[str, str]]:
        """The other objects' references to ``name`` (staging table, property): what waits on its records."""
        return [
            {"staging_table": other.staging_table, "property": mapping.property}
            for other in self.objects.values()
            for mapping in other.mappings
            if REFERENCES.get(mapping.transform) == name
        ]

    def sql_parameters(self, name: str) -> dict[str, str]:
        """Values the reconciliation SQL binds (never pastes): settings, weights, stage maps."""
        spec = self.get(name)
        stages = spec.deal_stages
        return {
            "object_type": spec.name,
            "settings": json.dumps(self.defaults.model_dump()),
            "model": json.dumps(
                {
                    **spec.model.model_dump(exclude={"comparisons"}),
                    # Bound, never pasted: comparison → its levels' labels and start values.
                    "levels": {
                        comparison.name: [
                            {"label": level.label, "m": level.m, "u": level.u} for level in comparison.levels
                        ]
                        for comparison in spec.model.comparisons
                    },
                    # Thresholds too: the lower bound of every level but the last, ascending, what
                    # width_bucket reads a level from (exact and agree are 1, similar their threshold).
                    "bounds": {
                        comparison.name: [
                            1.0 if level.threshold is None else level.threshold
                            for level in reversed(comparison.levels[:-1])
                        ]
                        for comparison in spec.model.comparisons
                    },
                }
            ),
            "deal_stages": json.dumps(stages.stages if stages else {}),
            "deal_outcomes": json.dumps(stages.outcomes if stages else {}),
            "matching": json.dumps(spec.matching.model_dump(exclude={"blocking"}) if spec.matching else {}),
            "activities": json.dumps(spec.activities.binds() if spec.activities else {}),
            "value_maps": json.dumps(spec.value_maps),
            "email_properties": [m.property for m in spec.mappings if m.transform == "email"],
            "association_types": json.dumps(
                {
                    source: {target: kind.model_dump() for target, kind in targets.items()}
                    for source, targets in self.defaults.association_types.items()
                }
            ),
            "mapping_version": self.mapping_version(name),
        }

    def mapping_version(self, name: str) -> str:
        """A fingerprint of the object's mappings and activity rules: a payload quarantined under
        one version is tried again once the mapping changes."""
        spec = self.get(name)
        described = [mapping.model_dump() for mapping in spec.mappings]
        activities = spec.activities.model_dump() if spec.activities else None
        text = json.dumps([described, activities, spec.value_maps], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def get(self, name: str) -> ObjectSpec:
        try:
            return self.objects[name]
        except KeyError:
            raise KeyError(f"unknown object type {name!r}; known: {sorted(self.objects)}") from None


def load_registry(path: Path | str = REGISTRY_PATH) -> Registry:
    """Read and validate a registry file; errors name the file and the offending entry."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    try:
        return Registry.model_validate(raw)
    except ValueError as error:
        raise ValueError(f"invalid object registry {path}: {error}") from error


@cache
def default_registry() -> Registry:
    return load_registry(REGISTRY_PATH)
