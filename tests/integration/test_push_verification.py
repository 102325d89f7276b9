"""Verification without a read per batch (issue 25): with verify=mirror a push spends one request
per batch, and the next run checks its writes against the mirror once the sync tool has caught up;
verify=sample reads back a random share."""

from __future__ import annotations

import pytest

from crm_reconciliation.config.registry import default_registry
from crm_reconciliation_dev.fake_hubspot import FakeCrm
from tests.helpers import create_mirror, create_staging, insert_rows, run_reconcile_and_score
from tests.integration.test_push import portal, push, stage, updates

pytestmark = pytest.mark.integration

COMPANIES = default_registry().get("companies")
LONG_AGO = "2026-01-01T00:00:00.000Z"


def mirror_row(hubspot_id: str, legacy_id: int, modified: str, **properties: str) -> dict:
    return {
        "hs_object_id": hubspot_id,
        "icalps_company_id": str(legacy_id),
        "name": f"Société {legacy_id}",
        "city": "Lyon",
        "hs_lastmodifieddate": modified,
        **properties,
    }


def test_verify_mirror_marks_pending_then_verified_or_mismatch_on_the_next_run(db, connections):
    create_staging(db, COMPANIES)
    insert_rows(
        db,
        "bronze.company",
        [{"comp_companyid": n, "comp_name": f"Société {n}", "addr_city": "Grenoble"} for n in (1, 2, 3, 4)],
    )
    create_mirror(db, "companies", [mirror_row(str(100 + n), n, LONG_AGO) for n in (1, 2, 3, 4)])
    run_reconcile_and_score(db, COMPANIES, "run_a")
    with FakeCrm(seed={"companies": {str(100 + n): {"city": "Lyon"} for n in (1, 2, 3, 4)}}) as server:
        connections(server)
        first = push(run_id="run_a", verify="mirror")
        assert first["updates"]["outcomes"] == {"sent": 4}
        assert first["verification"]["outcomes"] == {"pending": 4}
        reads = [path for _, path, _, _ in server.requests if path.endswith("/companies/batch/read")]
        assert reads == []  # nothing read back

        # The sync tool catches up with 101 and 102 (a person changed 102's city again since);
        # 103 is not synced yet; 104 is not either, and its write is older than the pending limit.
        for hubspot_id, city in (("101", "Grenoble"), ("102", "Paris")):
            db.execute(
                "update hubspot.companies set city = %s, hs_lastmodifieddate = now()::text where hs_object_id = %s",
                [city, hubspot_id],
            )
        db.execute("update staging.push_log set created_at = now() - interval '4 days' where hubspot_id = '104'")
        second = push(run_id="run_b", verify="mirror")
    assert second["mirror_verification"] == {"verified": 1, "mismatch": 2, "pending": 1}
    verdicts = dict(
        db.execute(
            "select hubspot_id, array[verification, verified_values::text] from staging.push_log where run_id = 'run_a'"
        ).fetchall()
    )
    assert verdicts == {
        "101": ["verified", None],
        "102": ["mismatch", '{"city": "Paris"}'],
        "103": ["pending", None],
        "104": ["mismatch", '{"city": "Lyon"}'],
    }


def test_verify_sample_reads_back_a_share_and_leaves_the_rest_pending(db, connections):
    wanted = updates(1000)
    stage(db, wanted)
    with portal(wanted) as server:
        connections(server)
        summary = push(max_requests=100, verify="sample")
    outcomes = summary["verification"]["outcomes"]
    assert default_registry().defaults.push_verify_sample_share == 0.05
    assert outcomes["verified"] + outcomes["pending"] == 1000
    # 5 % of 1,000: 50 on average, 10 or fewer or 120 or more about never (binomial, sd 7).
    assert 10 < outcomes["verified"] < 120, outcomes
    reads = [path for _, path, _, _ in server.requests if path.endswith("/companies/batch/read")]
    assert len(reads) == -(-outcomes["verified"] // 100)  # the sampled writes, 100 a request
