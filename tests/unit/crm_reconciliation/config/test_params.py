"""The run conf is checked whole: a key the DAG has no param for is a typo, refused by name."""

from __future__ import annotations

import pytest

from crm_reconciliation.config.errors import ConfigurationError
from crm_reconciliation.config.params import check_run_conf, run_params

KNOWN = run_params()


def test_known_keys_and_an_empty_conf_pass():
    check_run_conf({"dry_run": True, "limit": 5}, KNOWN)
    check_run_conf(None, KNOWN)


def test_an_unknown_key_names_the_param_meant():
    with pytest.raises(ConfigurationError, match=r"unknown run parameter 'dryrun' \(did you mean 'dry_run'\?\)"):
        check_run_conf({"dryrun": True}, KNOWN)


def test_every_unknown_key_is_named_and_a_key_like_none_gets_no_guess():
    with pytest.raises(ConfigurationError) as raised:
        check_run_conf({"zzz": 1, "min-confidence": 80}, KNOWN)
    message = str(raised.value)
    assert "unknown run parameters 'min-confidence' (did you mean 'min_confidence'?), 'zzz';" in message
    assert "this DAG takes: allow_missing_columns, allow_snapshot_drop, bronze_dir" in message
