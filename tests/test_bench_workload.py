"""The benchmark's workload is deterministic and the three engines decide it identically.

A correctness test of the benchmark harness (bench/), not a timing test: it runs the smallest
scale through iamguard (both setups), pycasbin and cedarpy and cross-checks every decision.
"""

from __future__ import annotations

from collections import Counter

import pytest

from bench.catalog import matches
from bench.crosscheck import CrossCheckError, cross_check
from bench.engines import BatchBuilt, Outcome
from bench.engines.registry import ENGINES
from bench.measure import summarize
from bench.workload import DEFAULT_SEED, generate

REQUESTS = 400


@pytest.mark.parametrize("abac", [False, True], ids=["rbac", "abac"])
def test_same_inputs_generate_the_same_workload(abac: bool) -> None:
    first = generate(100, abac=abac, requests=50)
    second = generate(100, abac=abac, requests=50)
    other_seed = generate(100, abac=abac, requests=50, seed=DEFAULT_SEED + 1)
    assert first == second
    assert first.fingerprint() == second.fingerprint()
    assert first.fingerprint() != other_seed.fingerprint()


@pytest.mark.parametrize(("scale", "abac"), [(100, False), (100, True), (1_000, False), (1_000, True)])
def test_workload_has_exactly_the_requested_statements_and_its_shape(scale: int, abac: bool) -> None:
    workload = generate(scale, abac=abac, requests=10)
    assert workload.statement_count == scale
    for user in workload.users:
        job_roles = [role_id for role_id in user.roles if not role_id.endswith("/guardrails")]
        assert 1 <= len(job_roles) <= 3, user
        assert all(role_id.startswith(user.tenant + "/") for role_id in user.roles), user
    has_conditions = any(statement.conditions for role in workload.roles for statement in role.statements)
    assert has_conditions is abac
    for role in workload.roles:
        for statement in role.statements:
            for pattern in (*statement.actions, *statement.resources):
                assert "*" not in pattern[:-1], f"only trailing wildcards are portable: {pattern}"


@pytest.mark.parametrize("abac", [False, True], ids=["rbac", "abac"])
def test_iamguard_pycasbin_and_cedarpy_return_identical_decisions(abac: bool) -> None:
    workload = generate(100, abac=abac, requests=REQUESTS)
    outcomes: dict[str, list[Outcome]] = {}
    for engine in ENGINES:
        built = engine.build(engine.sources(workload))
        calls = [built.prepare(request) for request in workload.requests]
        outcomes[engine.label] = [built.outcome(fn(*args)) for fn, args in calls]
        if isinstance(built, BatchBuilt):
            fn, args = built.prepare_batch(workload.requests)
            outcomes[f"{engine.label} (batch)"] = [built.outcome(output) for output in fn(*args)]

    agreement = cross_check(workload, outcomes)

    assert agreement.by_all == REQUESTS
    assert len(outcomes) == 5
    mix = Counter(outcome.detail for outcome in outcomes["iamguard, one set"])
    # The workload must exercise all three IAM outcomes, or the agreement proves little.
    assert mix["Allow"] >= REQUESTS // 5
    assert mix["ExplicitDeny"] >= REQUESTS // 10
    assert mix["ImplicitDeny"] >= REQUESTS // 10
    assert [outcome.detail for outcome in outcomes["iamguard, one set"]] == \
        [outcome.detail for outcome in outcomes["iamguard, per principal"]]


def test_cross_check_reports_every_disagreement_with_the_request() -> None:
    workload = generate(100, abac=False, requests=3)
    allow, deny = Outcome(True, "Allow"), Outcome(False, "Deny")
    with pytest.raises(CrossCheckError) as raised:
        cross_check(workload, {"a": [allow, deny, allow], "b": [allow, allow, deny]})
    message = str(raised.value)
    assert "disagree on 2 requests" in message
    assert "request #1: a=Deny, b=Allow" in message
    assert workload.requests[2].resource in message


def test_cross_check_refuses_evaluation_errors_even_when_engines_agree() -> None:
    workload = generate(100, abac=False, requests=1)
    with pytest.raises(CrossCheckError) as raised:
        cross_check(workload, {"a": [Outcome(False, "Deny", "bad key")], "b": [Outcome(False, "Deny")]})
    assert str(raised.value).startswith("evaluation errors")
    assert "a on request #0: bad key" in str(raised.value)


@pytest.mark.parametrize(("samples", "median_us", "p99_us", "per_second"), [
    ([1000], 1.0, 1.0, 1_000_000.0),
    ([1000, 3000], 2.0, 3.0, 500_000.0),
    (list(range(1000, 101_000, 1000)), 50.5, 99.0, 100 / 5.05e-3),
])
def test_summary_statistics(samples: list[int], median_us: float, p99_us: float, per_second: float) -> None:
    stats = summarize(samples)
    assert stats.count == len(samples)
    assert stats.median_us == pytest.approx(median_us)
    assert stats.p99_us == pytest.approx(p99_us)
    assert stats.per_second == pytest.approx(per_second)


@pytest.mark.parametrize(("pattern", "text", "expected"), [
    ("orders:Get*", "orders:GetOrder", True),
    ("orders:Get*", "orders:ListOrders", False),
    ("*", "anything", True),
    ("arn:app:orders:us-east-1:1:order/5", "arn:app:orders:us-east-1:1:order/5", True),
    ("arn:app:orders:us-east-1:1:order/5", "arn:app:orders:us-east-1:1:order/50", False),
])
def test_catalog_wildcard_form(pattern: str, text: str, expected: bool) -> None:
    assert matches(pattern, text) is expected
