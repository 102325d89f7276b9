"""Check a HubSpot portal's property catalogue before a push sends anything.

HubSpot refuses a whole batch for one property it does not have, or one that is read-only
(HTTP 400), and an upsert keyed on a property without unique values. So before a live push,
every property the run writes must exist and be writable on each object it writes, and the
legacy-id property must exist with ``hasUniqueValue``. The problems are reported together,
each with its fix; on request the missing custom properties are created first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crm_reconciliation.common.registry import ObjectSpec

# A created custom property's HubSpot type and field type, by the mapping's transform.
PROPERTY_TYPES = {"number": ("number", "number"), "date": ("date", "date"), "datetime": ("datetime", "date")}


class PreflightFailed(RuntimeError):
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


def run_preflight(
    spec: ObjectSpec,
    call: Callable[[Callable[[], Any]], Any],
    client: Any,
    group: str,
    create: bool,
    log: Any,
) -> list[str]:
    """Read each object's catalogue; create what is missing when ``create``; raise if anything remains.

    ``call`` sends one request within the rate limit (``Pusher.call``). Returns the properties created.
    """
    catalogues: dict[str, list[dict[str, Any]]] = {}
    for api_object in required_properties(spec):
        response = call(lambda api_object=api_object: client.properties(api_object))
        if response.status != 200:
            raise PreflightFailed(
                f"could not read the properties of {api_object} (HTTP {response.status}: {str(response.body)[:300]}); "
                "the token needs the crm.schemas.*.read scopes"
            )
        catalogues[api_object] = (response.body or {}).get("results", [])
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
        found = [problem for problem in found if problem.issue not in ("missing", "missing_unique")]
    if found:
        # One line: the step log keeps a failure's first line.
        raise PreflightFailed(
            f"the HubSpot portal cannot take the {spec.name} push, nothing was sent: "
            + "; ".join(str(problem) for problem in found)
        )
    return created
