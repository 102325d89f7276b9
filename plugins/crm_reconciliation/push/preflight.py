"""Read a HubSpot portal's catalogue and check it before a push sends anything.

HubSpot refuses a whole batch for one property it does not have, or one that is read-only
(HTTP 400), and an upsert keyed on a property without unique values. So before a live push,
every property the run writes must exist and be writable on each object it writes, and the
legacy-id property must exist with ``hasUniqueValue``. The problems are reported together,
each with its fix; on request the missing custom properties are created first.

What the portal accepts as values is read here too and kept in the warehouse (properties with
their options, the pipelines and their stages, the owners): the push converts every value to
it or holds it back (``include/sql/push/payloads.sql``). On request (``create_options``) the
legacy values no option names are added to the portal's enumerations first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm_reconciliation.config.errors import NotRetryable
from crm_reconciliation.config.registry import ObjectSpec

# A created custom property's HubSpot type and field type, by the mapping's transform.
PROPERTY_TYPES = {"number": ("number", "number"), "date": ("date", "date"), "datetime": ("datetime", "date")}


class PreflightFailed(NotRetryable):
    """The portal cannot take this push as configured; nothing was sent."""


@dataclass(frozen=True)
class Problem:
    api_object: str
    property: str
    issue: str  # missing | read_only | not_unique | missing_unique
    fix: str

    def __str__(self) -> str:
        return f"{self.api_object}.{self.property}: {self.issue.replace('_', ' ')} — {self.fix}"


def required_properties(spec: ObjectSpec) -> dict[str, dict[str, str]]:
    """Per HubSpot object the run writes: property → its transform ('legacy_id' for the key)."""
    transforms = {mapping.property: mapping.transform for mapping in spec.mappings}
    if spec.activities:
        wanted = {
            name: {prop: transforms.get(target.sources[0], "text") for prop, target in activity.properties.items()}
            for name, activity in spec.activities.objects.items()
        }
    else:
        wanted = {spec.api_object: {prop: transforms[prop] for prop in spec.writable_properties}}
    return {name: {**props, spec.legacy_id_property: "legacy_id"} for name, props in wanted.items()}


def problems(spec: ObjectSpec, catalogues: dict[str, list[dict[str, Any]]], group: str) -> list[Problem]:
    """What stands between this object's push and the portal (``catalogues``: object → properties)."""
    found = []
    for api_object, wanted in required_properties(spec).items():
        catalogue = {prop["name"]: prop for prop in catalogues.get(api_object, [])}
        for name, transform in wanted.items():
            prop = catalogue.get(name)
            is_key = transform == "legacy_id"
            if prop is None:
                fix = (
                    f"create it (a text property with unique values, group {group}), or run with create_properties"
                    if is_key
                    else "create it, map another property, or run with create_properties"
                )
                found.append(Problem(api_object, name, "missing_unique" if is_key else "missing", fix))
            elif (prop.get("modificationMetadata") or {}).get("readOnlyValue"):
                fix = "HubSpot sets it: mark the mapping writable: false"
                found.append(Problem(api_object, name, "read_only", fix))
            elif is_key and not prop.get("hasUniqueValue"):
                found.append(
                    Problem(
                        api_object,
                        name,
                        "not_unique",
                        "it must have unique values (hasUniqueValue) so that a record is created once: "
                        "recreate it as a unique property",
                    )
                )
    return found


def definition(name: str, transform: str, group: str) -> dict[str, Any]:
    """The body that creates a missing custom property (the legacy id: text, unique values)."""
    kind, field = PROPERTY_TYPES.get(transform, ("string", "text"))
    return {
        "name": name,
        "label": name.replace("_", " "),
        "type": kind,
        "fieldType": field,
        "groupName": group,
        **({"hasUniqueValue": True} if transform == "legacy_id" else {}),
    }


class Catalogue:
    """The portal as a push of ``spec`` needs it: read through ``client`` (each request within the
    rate limit: ``call`` is ``Pusher.call``), kept through ``store(properties=, pipelines=, owners=)``."""

    def __init__(self, spec: ObjectSpec, call: Callable[[Callable[[], Any]], Any], client: Any, store: Callable):
        self.spec, self.call, self.client, self.store = spec, call, client, store
        self.properties: dict[str, list[dict[str, Any]]] = {}

    def _read(self, what: str, request: Callable[[], Any]) -> Any:
        response = self.call(request)
        if response.status != 200:
            raise PreflightFailed(
                f"could not read {what} (HTTP {response.status}: {str(response.body)[:300]}); "
                "the token needs the crm.schemas.*.read and crm.objects.owners.read scopes"
            )
        return response.body or {}

    def read_properties(self, api_objects: list[str]) -> None:
        for api_object in api_objects:
            body = self._read(f"the properties of {api_object}", lambda o=api_object: self.client.properties(o))
            self.properties[api_object] = body.get("results", [])
        self.store(properties={name: self.properties[name] for name in api_objects})

    def read(self) -> None:
        """Every object's properties, the deal pipelines when deals are written, and the owners."""
        api_objects = list(required_properties(self.spec))
        self.read_properties(api_objects)
        pipelines = {
            name: self._read(f"the pipelines of {name}", lambda o=name: self.client.pipelines(o)).get("results", [])
            for name in api_objects
            if name == "deals"
        }
        owners: list[dict[str, Any]] = []
        after = None
        while True:
            body = self._read("the owners", lambda after=after: self.client.owners(after))
            owners += body.get("results", [])
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        self.store(pipelines=pipelines, owners=owners)

    def add_options(self, missing: list[tuple[str, str, list[str]]], log: Any) -> list[str]:
        """Add each legacy value as an option (label and value as written) to its enumeration;
        HubSpot replaces an enumeration's options with the list given, so the list is the old one plus these."""
        added = []
        for api_object, name, values in missing:
            described = next(p for p in self.properties[api_object] if p["name"] == name)
            options = list(described.get("options") or [])
            start = len(options)
            options += [
                {"label": value, "value": value, "displayOrder": start + n, "hidden": False}
                for n, value in enumerate(values)
            ]
            body = {"options": options}
            response = self.call(
                lambda api_object=api_object, name=name, body=body: self.client.update_property(api_object, name, body)
            )
            if response.status != 200:
                raise PreflightFailed(
                    f"could not add options {values} to {api_object}.{name}: HTTP {response.status}: "
                    f"{str(response.body)[:300]}"
                )
            log.info("Added %d options to %s.%s: %s", len(values), api_object, name, values)
            added += [f"{api_object}.{name}={value}" for value in values]
        if missing:
            self.read_properties(sorted({api_object for api_object, _, _ in missing}))
        return added


def run_preflight(catalogue: Catalogue, group: str, create: bool, log: Any) -> list[str]:
    """Read the portal's catalogue; create what is missing when ``create``; raise if anything remains.

    Returns the properties created.
    """
    spec, call, client = catalogue.spec, catalogue.call, catalogue.client
    catalogue.read()
    catalogues = catalogue.properties
    found = problems(spec, catalogues, group)
    created: list[str] = []
    if create and any(problem.issue in ("missing", "missing_unique") for problem in found):
        wanted = required_properties(spec)
        for api_object in sorted({problem.api_object for problem in found}):
            response = call(lambda api_object=api_object: client.create_property_group(api_object, group, group))
            if response.status not in (200, 201, 409):
                log.warning("Could not create property group %s on %s: HTTP %s", group, api_object, response.status)
        for problem in [problem for problem in found if problem.issue in ("missing", "missing_unique")]:
            body = definition(problem.property, wanted[problem.api_object][problem.property], group)
            response = call(lambda problem=problem, body=body: client.create_property(problem.api_object, body))
            if response.status not in (200, 201):
                raise PreflightFailed(
                    f"could not create {problem.api_object}.{problem.property}: HTTP {response.status}: "
                    f"{str(response.body)[:300]}"
                )
            created.append(f"{problem.api_object}.{problem.property}")
            log.info("Created the custom property %s.%s in group %s", problem.api_object, problem.property, group)
        catalogue.read_properties(sorted({problem.api_object for problem in found}))
        found = [problem for problem in found if problem.issue not in ("missing", "missing_unique")]
    if found:
        # One line: the step log keeps a failure's first line.
        raise PreflightFailed(
            f"the HubSpot portal cannot take the {spec.name} push, nothing was sent: "
            + "; ".join(str(problem) for problem in found)
        )
    return created
