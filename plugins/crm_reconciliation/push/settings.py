"""What one push runs with, settled once per task: the operator's arguments over the run's params
over the registry's defaults. The push, its approval gate and a revert read nothing else."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crm_reconciliation.config.params import flag

TARGETS = {"workflow": "workflow_api", "hubspot": "hubspot_api"}
VERIFY_MODES = ("mirror", "sample", "every")
# Run param -> settings field; the rest of the fields come from the registry (or the operator).
RUN_PARAMS = {
    "push_target": "target",
    "dry_run": "dry_run",
    "min_confidence": "min_confidence",
    "create_missing": "create_missing",
    "link_probable": "link_probable",
    "create_properties": "create_properties",
    "create_options": "create_options",
    "verify": "verify",
    "require_approval": "require_approval",
}
REGISTRY_DEFAULTS = {
    "max_requests": "push_max_requests",
    "window_seconds": "push_window_seconds",
    "concurrency": "push_concurrency",
    "daily_reserve": "push_daily_reserve",
    "max_refused_share": "push_max_refused_share",
    "max_records": "approval_min_records",
}
FLAGS = ("dry_run", "create_missing", "link_probable", "create_properties", "create_options", "require_approval")


@dataclass(frozen=True)
class PushSettings:
    """One push's settings (see ``build``); ``conn_ids``: the Airflow connection of each target."""

    target: str
    dry_run: bool
    min_confidence: float
    create_missing: bool
    link_probable: bool
    create_properties: bool
    create_options: bool
    verify: str
    require_approval: bool
    max_records: int
    max_requests: int
    window_seconds: float
    concurrency: int
    daily_reserve: int
    max_refused_share: float
    max_attempts: int = 6
    backoff_base: float = 0.5
    progress_seconds: float = 10.0
    conn_ids: Mapping[str, str] = field(default_factory=lambda: dict(TARGETS))

    @classmethod
    def build(cls, registry: Any, params: Mapping[str, Any], **given: Any) -> PushSettings:
        """``given``: the operator's arguments by run param or field name, None where unset; each
        unset one is the run's param (``params``, as the trigger form gave it), else the registry's
        default, else the param's own default."""
        from crm_reconciliation.config.errors import ConfigurationError
        from crm_reconciliation.config.params import run_param_defaults

        declared = run_param_defaults()
        values: dict[str, Any] = {}
        for param, name in RUN_PARAMS.items():
            value = next((v for v in (given.get(param), given.get(name), params.get(param)) if v is not None), None)
            values[name] = declared[param] if value is None else value
        for name, default in REGISTRY_DEFAULTS.items():
            value = given.get(name)
            values[name] = getattr(registry.defaults, default) if value is None else value
        for name in ("max_attempts", "backoff_base", "progress_seconds"):
            if given.get(name) is not None:
                values[name] = given[name]
        values["conn_ids"] = dict(given.get("target_conn_ids") or TARGETS)
        for name in FLAGS:
            values[name] = flag(values[name])
        values["min_confidence"] = float(values["min_confidence"])
        if values["target"] not in values["conn_ids"]:
            raise ConfigurationError(
                f"push_target must be one of {sorted(values['conn_ids'])}, not {values['target']!r}"
            )
        if values["verify"] not in VERIFY_MODES:
            raise ConfigurationError(f"verify must be one of {', '.join(VERIFY_MODES)}, not {values['verify']!r}")
        return cls(**values)

    @property
    def conn_id(self) -> str:
        return self.conn_ids[self.target]

    def dry_run_reason(self) -> str | None:
        """Why the push sends nothing (the param, or no connection for its target); None when live."""
        if self.dry_run:
            return "the dry_run param is on"
        if connection_missing(self.conn_id):
            return f"connection {self.conn_id!r} is not defined"
        return None

    def verify_binds(self, registry: Any) -> dict[str, Any]:
        """What the verification SQL binds: the run's ``verify`` and the registry's sample share
        and pending limit."""
        return {
            "verify": self.verify,
            "verify_sample_share": registry.defaults.push_verify_sample_share,
            "verify_pending_days": registry.defaults.push_verify_pending_days,
        }

    def binds(self, registry: Any, spec: Any, run_id: str) -> dict[str, Any]:
        """What the push SQL binds for one run of object ``spec``."""
        return {
            **self.verify_binds(registry),
            **registry.sql_parameters(spec.name),
            "object_type": spec.name,
            "run_id": run_id,
            "target": self.target,
            "min_confidence": self.min_confidence,
            "push_probable": registry.defaults.push_probable,
            "create_missing": self.create_missing,
            "link_probable": self.link_probable,
            "api_object": spec.api_object,
        }


def connection_missing(conn_id: str) -> bool:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return True
    return False
