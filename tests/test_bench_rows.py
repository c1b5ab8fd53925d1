"""The directory and middleware benchmark rows time what they claim to time.

Correctness tests of the harness (bench/), not timing tests: at a tiny scale, the directory
row's timed call is an Allow (and its deny probes deny), and every web app the middleware row
times answers 200 with the reader's token and 401/403 otherwise; a setup that would time an error
path is refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.measure import summarize
from bench.rows.directory import Shape, Tenant, opened, populate, time_cold, time_warm
from bench.rows.middleware import Schedule, render
from bench.suite import BenchConfig, RowError
from bench.web.clients import AsgiClient
from bench.web.frameworks import (
    BARE,
    BUILDERS,
    IAMGUARD,
    Contender,
    Framework,
    Unavailable,
    build,
    expectations,
    problems,
    quiet_denials,
)
from bench.web.starlette_apps import bare
from bench.web.tenant import HELLO, PATH, WebTenant, web_tenant
from iamguard.engine.decision import Effect
from iamguard.store.database import StoreError

TINY = Shape(users=20, groups=2, policies_per_group=3)


@pytest.fixture(params=["memory", "sqlite"])
def tiny_tenant(request: pytest.FixtureRequest) -> Iterator[Tenant]:
    with opened(request.param) as store:
        yield populate(store, TINY)


def test_the_measured_user_is_in_every_group_with_every_policy(tiny_tenant: Tenant) -> None:
    directory = tiny_tenant.directory
    groups = [group.group_name for group in directory.list_groups_for_user(TINY.member)]
    assert groups == [f"group{index}" for index in range(TINY.groups)]
    resolved = directory.resolve(tiny_tenant.arn)
    assert len(resolved.identity_policies) == TINY.groups * TINY.policies_per_group


def test_the_timed_call_allows_and_the_probes_get_their_effects(tiny_tenant: Tenant) -> None:
    assert tiny_tenant.call()().effect is Effect.ALLOW
    for probe in tiny_tenant.checks:
        decision = tiny_tenant.decide(probe)
        assert (decision.effect, decision.error) == (probe.expected, None), probe
    assert {probe.expected for probe in tiny_tenant.checks} == set(Effect)
    tiny_tenant.verify()  # raises on any mismatch
    assert time_warm(tiny_tenant, calls=20, warmup=2).count == 20


def test_a_cold_call_follows_a_write_and_still_allows(tiny_tenant: Tenant) -> None:
    before = tiny_tenant.directory.resolve(tiny_tenant.arn).generation
    tiny_tenant.touch()
    after = tiny_tenant.directory.resolve(tiny_tenant.arn).generation
    assert after > before  # the write moved the generation, so the next decision re-resolves
    assert time_cold(tiny_tenant, 3).count == 3
    assert time_cold(tiny_tenant, 2, clear_compiled=True).count == 2


def test_the_directory_row_refuses_to_time_a_deny(tiny_tenant: Tenant) -> None:
    group, index = TINY.groups - 1, TINY.policies_per_group - 1
    policy_arn = f"arn:aws:iam::{tiny_tenant.directory.tenant_id}:policy/g{group}p{index}"
    tiny_tenant.directory.detach_group_policy(f"group{group}", policy_arn)
    with pytest.raises(RowError, match="expected Allow"):
        tiny_tenant.verify()
    with pytest.raises(RowError, match="not Allow"):
        time_warm(tiny_tenant, calls=5, warmup=0)


class _BrokenRead:
    def __enter__(self) -> None:
        raise StoreError("database is locked")

    def __exit__(self, *exc: object) -> None:
        return None


def test_the_directory_row_refuses_to_time_an_error(tiny_tenant: Tenant,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    tiny_tenant.touch()  # empty the resolution cache, so the next decision reads the store
    monkeypatch.setattr(tiny_tenant.directory.store, "read", lambda: _BrokenRead())
    decision = tiny_tenant.call()()
    assert decision.effect is Effect.EXPLICIT_DENY and "database is locked" in (decision.error or "")
    with pytest.raises(RowError, match="database is locked"):
        tiny_tenant.verify()
    with pytest.raises(RowError, match="database is locked"):
        time_cold(tiny_tenant, 1)


@pytest.fixture(scope="module")
def seeded() -> Iterator[WebTenant]:
    with web_tenant() as tenant, quiet_denials():
        yield tenant


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_timed_app_answers_as_it_must(name: str, seeded: WebTenant) -> None:
    framework = build(name, seeded)
    assert not isinstance(framework, Unavailable), framework
    try:
        kinds = {contender.kind for contender in framework.contenders}
        assert {BARE, IAMGUARD} <= kinds
        for contender in framework.contenders:
            if contender.kind == BARE:
                assert contender.client.answer(None) == (200, HELLO)
                continue
            assert contender.token == seeded.reader_token
            assert contender.client.answer(seeded.reader_token) == (200, HELLO), contender.label
            assert contender.client.answer(None)[0] == 401, contender.label
            assert contender.client.answer(seeded.outsider_token)[0] == 403, contender.label
            timed = contender.client.run_for(contender.token, 0.005)
            assert timed.requests > 0 and timed.unexpected == 0, contender.label
            refused = contender.client.run_for(None, 0.005)  # an error path is counted, never hidden
            assert refused.unexpected == refused.requests > 0, contender.label
        assert problems(framework, seeded) == []
    finally:
        framework.close()


def test_an_unprotected_app_posing_as_protected_is_reported(seeded: WebTenant) -> None:
    client = AsgiClient(bare(), PATH)
    impostor = Contender("iamguard", IAMGUARD, client, seeded.reader_token)
    framework = Framework("Starlette", "ASGI", (impostor,), client.close)
    try:
        found = problems(framework, seeded)
    finally:
        framework.close()
    sent = [item for item in expectations(impostor, seeded) if item[2] != 200]
    assert len(found) == len(sent) == 2
    assert all("expected 40" in line for line in found)


def test_a_missing_integration_is_reported_not_measured(seeded: WebTenant,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(tenant: WebTenant) -> Framework:
        raise ImportError("No module named 'flask_iamguard'")

    monkeypatch.setitem(BUILDERS, "Flask", missing)
    built = build("Flask", seeded)
    assert built == Unavailable("Flask", "flask_iamguard: ImportError: No module named 'flask_iamguard'")
    section = render([], [built], Schedule.of(BenchConfig.quick_run()), summarize([1000]))
    assert [target.met for target in section.targets] == [False]
    assert "not measured: flask_iamguard: ImportError" in section.targets[0].measured


def test_growth_is_the_median_of_each_rounds_own_ratio() -> None:
    from bench.rows.engine_growth import Growth

    # A slow spell in round 2 hits both sides; the ratio of overall medians would read 2.5x.
    growth = Growth("RBAC", 100, 10_000, small_us=(2.0, 4.0, 2.0), large_us=(3.0, 6.0, 5.0))
    assert growth.rounds == 3
    assert growth.ratio == pytest.approx(1.5)


def test_growth_is_measured_on_both_scales_interleaved() -> None:
    from dataclasses import replace

    from bench.rows.engine_growth import measure_growth

    config = replace(BenchConfig.quick_run(), scales=(200, 100), requests=40)
    growth = measure_growth(config, abac=False, log=lambda line: None)
    assert growth is not None
    assert (growth.small_scale, growth.large_scale, growth.rounds) == (100, 200, 5)
    assert all(value > 0 for value in growth.small_us + growth.large_us)
    assert measure_growth(replace(config, scales=(100,)), abac=False, log=lambda line: None) is None


def test_the_load_generator_reads_responses_split_and_joined_anyhow() -> None:
    from bench.web.loadgen import ResponseReader

    first = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ndate: x\r\n\r\nhello"
    second = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
    third = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n\r\n\r\nabcdefgh"  # a body holding a blank line
    stream = first + second + third
    for cut in range(1, len(stream)):
        reader = ResponseReader()
        reader.feed(stream[:cut])
        reader.feed(stream[cut:])
        assert reader.statuses == [200, 401, 200], cut
    byte_by_byte = ResponseReader()
    for index in range(len(stream)):
        byte_by_byte.feed(stream[index:index + 1])
    assert byte_by_byte.statuses == [200, 401, 200]


def test_the_served_apps_get_the_same_bytes_and_no_target_reads_them(seeded: WebTenant) -> None:
    framework = build("Starlette on uvicorn", seeded)
    assert not isinstance(framework, Unavailable), framework
    try:
        assert not framework.in_process
        assert {contender.token for contender in framework.contenders} == {seeded.reader_token}
    finally:
        framework.close()
    from bench.rows.middleware import FrameworkRun, Rates

    def run(name: str, in_process: bool) -> FrameworkRun:
        return FrameworkRun(name, "driver", (Rates("bare", BARE, "", (100.0,), 1),
                                             Rates("iamguard", IAMGUARD, "", (50.0,), 1)), in_process)

    section = render([run("Starlette", True), run("Starlette on uvicorn", False)], [],
                     Schedule.of(BenchConfig.quick_run()), summarize([1000]))
    assert [target.description.split(":")[0] for target in section.targets] == ["Starlette"]
    assert "Starlette on uvicorn: a real server on loopback" in section.markdown
