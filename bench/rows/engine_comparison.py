"""Row for issue 2: iamguard against pycasbin and cedarpy on one equivalent workload.

For each variant (RBAC, ABAC) and scale, every engine is built from the same generated workload,
timed on the same requests, and cross-checked: any disagreement aborts the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from bench.crosscheck import Agreement, cross_check
from bench.engines import BatchBuilt, Built, Engine, Outcome
from bench.engines.registry import ENGINES
from bench.measure import Stats, best_build, time_batches, time_calls, timer_overhead_ns
from bench.memory import MemoryJob, run_jobs
from bench.rows.engine_comparison_report import render
from bench.rows.engine_growth import measure_growth
from bench.suite import BenchConfig, Log, Section
from bench.workload import Workload, generate


@dataclass(frozen=True)
class Measurement:
    engine: str  # engine key; a batch measurement adds "-batch"
    label: str
    compile_s: float
    stats: Stats


@dataclass(frozen=True)
class WorkloadRun:
    scale: int
    variant: str
    abac: bool
    tenants: int
    roles: int
    users: int
    requests: int
    inputs: dict[str, str]  # engine key -> what the engine was given
    agreement: Agreement
    mix: dict[str, int]  # iamguard's three outcomes over every request
    measurements: tuple[Measurement, ...]


Item = TypeVar("Item")


def _chunks(items: Sequence[Item], size: int) -> list[Sequence[Item]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def _measure_engine(engine: Engine, workload: Workload, config: BenchConfig,
                    outcomes: dict[str, list[Outcome]]) -> tuple[list[Measurement], str]:
    sources = engine.sources(workload)
    built: Built
    built, compile_s = best_build(lambda: engine.build(sources), engine.cold, budget_s=config.build_budget_s,
                                  max_repeats=config.build_repeats)
    calls = [built.prepare(request) for request in workload.requests]
    timed = time_calls(calls, warmup=config.warmup, rounds=config.rounds, budget_s=config.budget_s,
                       min_calls=config.min_calls)
    outcomes[engine.label] = [built.outcome(output) for output in timed.outputs]
    measurements = [Measurement(engine.key, engine.label, compile_s, timed.stats)]
    if isinstance(built, BatchBuilt):
        chunks = _chunks(workload.requests, config.batch_size)
        stats, outputs = time_batches([(built.prepare_batch(chunk), len(chunk)) for chunk in chunks],
                                      budget_s=config.budget_s)
        label = f"{engine.label} (batch)"
        outcomes[label] = [built.outcome(output) for output in outputs]
        measurements.append(Measurement(f"{engine.key}-batch", label, compile_s, stats))
    return measurements, engine.describe(sources)


def run_workload(config: BenchConfig, scale: int, abac: bool, log: Log,
                 engines: Sequence[Engine] = ENGINES) -> WorkloadRun:
    workload = generate(scale, abac=abac, requests=config.requests, seed=config.seed)
    outcomes: dict[str, list[Outcome]] = {}
    measurements: list[Measurement] = []
    inputs: dict[str, str] = {}
    for engine in engines:
        measured, inputs[engine.key] = _measure_engine(engine, workload, config, outcomes)
        measurements += measured
        for item in measured:
            log(f"  {workload.variant} {scale:>6,} {item.label:<26} compile {item.compile_s * 1000:9.1f} ms  "
                f"median {item.stats.median_us:10.2f} µs  ({item.stats.count:,} timed)")
    agreement = cross_check(workload, outcomes)
    reference = outcomes[engines[0].label]
    mix = Counter(outcome.detail for outcome in reference)
    return WorkloadRun(scale, workload.variant, abac, len(workload.tenants), len(workload.roles),
                       len(workload.users), len(workload.requests), inputs, agreement, dict(mix),
                       tuple(measurements))


class EngineComparison:
    name = "engines"

    def run(self, config: BenchConfig, log: Log) -> Section:
        overhead_ns = timer_overhead_ns()
        runs = []
        for abac in (False, True):
            for scale in config.scales:
                runs.append(run_workload(config, scale, abac, log))
        interleaved = [growth for abac in (False, True)
                       if (growth := measure_growth(config, abac, log)) is not None]
        memory: dict[MemoryJob, float | None] = {}
        if config.memory:
            log("  measuring build memory in child processes")
            jobs = [MemoryJob(engine.key, run.scale, run.abac, config.requests, config.seed)
                    for run in runs for engine in ENGINES]
            memory = run_jobs(jobs)
        return render(config, runs, memory, overhead_ns, interleaved)
