from __future__ import annotations

import pytest

from crm_reconciliation.config.errors import ConfigurationError
from crm_reconciliation.config.params import run_params
from crm_reconciliation.config.registry import default_registry
from crm_reconciliation.push.settings import PushSettings

pytestmark = pytest.mark.unit

REGISTRY = default_registry()
DEFAULTS = {name: param.value for name, param in run_params().items()}


def test_the_operator_argument_wins_then_the_run_param_then_the_registry():
    params = {**DEFAULTS, "push_target": "hubspot", "min_confidence": 95, "dry_run": True}
    settings = PushSettings.build(REGISTRY, params, min_confidence=80, dry_run=None, max_requests=7)
    assert settings.min_confidence == 80.0  # the operator's own
    assert settings.target == "hubspot"  # the run's
    assert settings.dry_run is True  # unset on the operator: the run's
    assert settings.max_requests == 7
    assert settings.window_seconds == REGISTRY.defaults.push_window_seconds
    assert settings.max_records == REGISTRY.defaults.approval_min_records
    assert settings.conn_id == "hubspot_api"


def test_a_step_outside_a_dag_runs_on_the_params_defaults():
    settings = PushSettings.build(REGISTRY, {})
    assert (settings.target, settings.dry_run, settings.verify, settings.require_approval) == (
        DEFAULTS["push_target"],
        DEFAULTS["dry_run"],
        DEFAULTS["verify"],
        DEFAULTS["require_approval"],
    )


def test_a_templated_argument_rendered_as_text_is_read_as_its_value():
    settings = PushSettings.build(REGISTRY, {}, create_missing="True", link_probable="false", min_confidence="92.5")
    assert (settings.create_missing, settings.link_probable, settings.min_confidence) == (True, False, 92.5)


def test_the_binds_carry_the_settings():
    settings = PushSettings.build(REGISTRY, {"push_target": "hubspot", "create_missing": True, "verify": "sample"})
    binds = settings.binds(REGISTRY, REGISTRY.get("deals"), "run_1")
    assert {key: binds[key] for key in ("object_type", "run_id", "target", "create_missing", "verify")} == {
        "object_type": "deals",
        "run_id": "run_1",
        "target": "hubspot",
        "create_missing": True,
        "verify": "sample",
    }
    assert binds["verify_sample_share"] == REGISTRY.defaults.push_verify_sample_share


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"push_target": "salesforce"}, "push_target must be one of ['hubspot', 'workflow'], not 'salesforce'"),
        ({"verify": "always"}, "verify must be one of mirror, sample, every, not 'always'"),
    ],
)
def test_a_wrong_setting_is_refused_naming_the_choices(given, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PushSettings.build(REGISTRY, {}, **given)
