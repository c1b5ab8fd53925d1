"""Tables, footnotes and target checks for the engine comparison row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bench import report
from bench.memory import MemoryJob
from bench.suite import BenchConfig, Section, Target

if TYPE_CHECKING:
    from bench.rows.engine_comparison import Measurement, WorkloadRun
    from bench.rows.engine_growth import Growth

ONE_SET = "iamguard-oneset"
PER_PRINCIPAL = "iamguard-principal"
CASBIN = "pycasbin"
CEDAR = "cedarpy"
PEERS = (CASBIN, CEDAR)
IAMGUARD_MODES = (ONE_SET, PER_PRINCIPAL)
_MODE_NAME = {ONE_SET: "one set", PER_PRINCIPAL: "per principal"}


def _by_key(run: WorkloadRun) -> dict[str, Measurement]:
    return {measurement.engine: measurement for measurement in run.measurements}


def peer_median(run: WorkloadRun, peer: str) -> float:
    """A peer's fairest per-decision median: its batch call's when it has one and that is faster."""
    measured = _by_key(run)
    medians = [measured[key].stats.median_us for key in (peer, f"{peer}-batch") if key in measured]
    return min(medians)


def _latency_table(runs: Sequence[WorkloadRun], memory: Mapping[MemoryJob, float | None],
                   config: BenchConfig) -> str:
    rows = []
    for run in runs:
        for item in run.measurements:
            key = item.engine.removesuffix("-batch")
            peak = memory.get(MemoryJob(key, run.scale, run.abac, config.requests, config.seed))
            rows.append([
                run.variant, f"{run.scale:,}", item.label, report.millis(item.compile_s),
                report.micros(item.stats.median_us), report.micros(item.stats.p99_us),
                report.rate(item.stats.per_second), report.mib(peak), f"{item.stats.count:,}",
            ])
    headers = ["Variant", "Statements", "Engine", "Compile (ms)", "Median (µs)", "p99 (µs)", "Decisions/s",
               "Build memory (MiB)", "Timed decisions"]
    return report.table(headers, rows, right=(1, 3, 4, 5, 6, 7, 8))


def _ratio_table(runs: Sequence[WorkloadRun]) -> str:
    rows = []
    for run in runs:
        measured = _by_key(run)
        cells = [run.variant, f"{run.scale:,}"]
        for mode in IAMGUARD_MODES:
            for peer in PEERS:
                cells.append(report.ratio(peer_median(run, peer) / measured[mode].stats.median_us))
        rows.append(cells)
    headers = ["Variant", "Statements"] + [f"{peer} ÷ iamguard {_MODE_NAME[mode]}"
                                           for mode in IAMGUARD_MODES for peer in PEERS]
    return report.table(headers, rows, right=(1, 2, 3, 4, 5))


def _workload_table(runs: Sequence[WorkloadRun]) -> str:
    rows = []
    for run in runs:
        mix = run.mix
        rows.append([
            run.variant, f"{run.scale:,}", f"{run.tenants:,}", f"{run.roles:,}", f"{run.users:,}",
            f"{mix.get('Allow', 0):,} / {mix.get('ExplicitDeny', 0):,} / {mix.get('ImplicitDeny', 0):,}",
            f"{run.agreement.by_all:,} / {run.requests:,}",
            run.inputs.get(CASBIN, report.DASH), run.inputs.get(CEDAR, report.DASH),
        ])
    headers = ["Variant", "Statements", "Tenants", "Roles", "Users", "Allow / explicit / implicit deny",
               "Cross-checked (all engines / iamguard)", "pycasbin input", "cedarpy input"]
    return report.table(headers, rows, right=(1, 2, 3, 4))


def _find(runs: Sequence[WorkloadRun], variant: str, scale: int) -> WorkloadRun | None:
    return next((run for run in runs if run.variant == variant and run.scale == scale), None)


def targets(runs: Sequence[WorkloadRun], interleaved: Sequence[Growth] = ()) -> tuple[Target, ...]:
    variants = sorted({run.variant for run in runs}, reverse=True)  # RBAC, ABAC
    largest = [(variant, _find(runs, variant, 10_000)) for variant in variants]
    smallest = {variant: _find(runs, variant, 100) for variant in variants}
    checks: list[Target] = []

    at_10k = [(variant, _by_key(run)[ONE_SET]) for variant, run in largest if run is not None]
    if at_10k:
        checks.append(Target(
            "median decision <= 10 µs with all 10,000 statements in one PolicySet",
            all(item.stats.median_us <= 10 for _, item in at_10k),
            ", ".join(f"{variant} {item.stats.median_us:.2f} µs" for variant, item in at_10k)))
    growth = []
    for variant, run in largest:
        small = smallest[variant]
        if run is not None and small is not None:
            large_median = _by_key(run)[ONE_SET].stats.median_us
            growth.append((variant, large_median / _by_key(small)[ONE_SET].stats.median_us))
    apart = ", ".join(f"{variant} {value:.2f}x" for variant, value in growth)
    if interleaved:
        rounds = interleaved[0].rounds
        checks.append(Target(
            "that median within 2x of the one with 100 statements",
            all(item.ratio <= 2 for item in interleaved),
            f"interleaved, median over {rounds} rounds of each round's ratio: "
            + ", ".join(f"{item.variant} {item.ratio:.2f}x" for item in interleaved)
            + (f"; the table's medians, timed apart: {apart}" if apart else "")))
    elif growth:
        checks.append(Target("that median within 2x of the one with 100 statements",
                             all(value <= 2 for _, value in growth), apart))
    ratios = [(peer_median(run, peer) / _by_key(run)[mode].stats.median_us, run, peer, mode)
              for run in runs for peer in PEERS for mode in IAMGUARD_MODES]
    slowest = min(ratios, key=lambda item: item[0])
    checks.append(Target(
        "faster than pycasbin and cedarpy at every scale (both iamguard setups, both variants)",
        slowest[0] > 1,
        f"smallest lead {report.ratio(slowest[0])}: {slowest[2]} vs iamguard {_MODE_NAME[slowest[3]]}, "
        f"{slowest[1].variant} {slowest[1].scale:,}"))
    compiles = [(variant, _by_key(run)[ONE_SET].compile_s) for variant, run in largest if run is not None]
    if compiles:
        checks.append(Target(
            "compiling 10,000 statements (parse, compile, index into one PolicySet) <= 1 s",
            all(seconds <= 1 for _, seconds in compiles),
            ", ".join(f"{variant} {seconds:.2f} s" for variant, seconds in compiles)))
    return tuple(checks)


def _footnotes(config: BenchConfig, runs: Sequence[WorkloadRun], overhead_ns: float) -> str:
    per_tenant = sum(run.scale for run in runs) / max(1, sum(run.tenants for run in runs))
    return "\n".join([
        "What is timed, per decision, on one thread with the garbage collector paused (as `timeit` does):",
        "- iamguard: `PolicySet.evaluate(request)`; `iamguard.Request` objects are built before timing. "
        "*Per principal*: each user's own PolicySet (their role policies), built once per user and looked "
        "up before timing. *One set*: every role policy of the workload in one PolicySet; each statement "
        "is scoped to its role with `ForAnyValue:StringEquals` on `app:roles`, which the request context "
        "carries, so the decisions are the same as per principal.",
        "- pycasbin: `Enforcer.enforce(*args)` on one enforcer (RBAC with domains, `keyMatch`, "
        "allow-and-not-deny effect, ABAC conditions in the matcher); arguments built before timing.",
        "- cedarpy: `cedarpy.is_authorized(request, policy_set, entities)` with handles parsed once and the "
        "context serialized before timing. *(batch)*: `is_authorized_batch` over "
        f"{config.batch_size} requests, its time divided by {config.batch_size} (no p99: single decisions "
        "are not observable). Ratios use cedarpy's faster figure.",
        f"- Each sample includes the timer and call overhead (~{overhead_ns:.0f} ns on this machine). The "
        f"first {config.warmup} calls are untimed; when an engine completed more than one pass over the "
        "requests, the first pass is left out (iamguard builds each action's index bucket on first use). "
        f"Engines stop after {config.budget_s:g} s per workload once they have {config.min_calls} samples, "
        "so the slow ones time fewer decisions. Decisions/s = timed decisions ÷ summed decision time.",
        "- Compile: from each engine's own input (iamguard: JSON policy text with the compile cache "
        "cleared; pycasbin: rule lists through `add_policies`/`add_grouping_policies`; cedarpy: policy text "
        "and entity JSON into handles), "
        + (f"fastest of up to {config.build_repeats} builds. " if config.build_repeats > 1 else "one build. ")
        + ("Build memory: peak RSS growth while building, in a fresh process." if config.memory
           else "Build memory is measured only by the full run (`make bench`)."),
        "- Every request any two engines decided was cross-checked: all engines returned the same "
        "allow/deny, with no evaluation error.",
        "- Growth from the smallest to the largest one set (the 2x target): the table's medians are timed "
        "tens of seconds apart, so load from other processes during one of them moves their ratio as much "
        "as the growth itself. The target is therefore read from a separate, interleaved measurement: both "
        "sets built side by side, timed in alternating passes over their requests (order flipped every "
        "round), growth = median over rounds of each round's ratio. Both figures are shown.",
        f"- Workload: tenants of ~{per_tenant:.0f} statements each (more statements = more tenants); "
        "users hold 1-3 job roles plus the tenant's guardrail role of explicit denies; action and "
        "resource patterns are literal or end in `*`. ABAC: about 60% of Allow statements carry 1-2 "
        "conditions among team equality (`aws:ResourceTag/team` = `${aws:PrincipalTag/team}`), "
        "`IpAddress` on `aws:SourceIp` and `NumericLessThanEquals` on `app:amount`.",
    ])


def render(config: BenchConfig, runs: Sequence[WorkloadRun], memory: Mapping[MemoryJob, float | None],
           overhead_ns: float = 0.0, interleaved: Sequence[Growth] = ()) -> Section:
    checked = targets(runs, interleaved)
    markdown = "\n\n".join([
        "### Decision latency",
        _latency_table(runs, memory, config),
        "### iamguard's lead (peer median ÷ iamguard median, same run)",
        _ratio_table(runs),
        "### Workloads",
        _workload_table(runs),
        _footnotes(config, runs, overhead_ns),
    ])
    return Section("iamguard vs pycasbin vs cedarpy", markdown, checked)
