"""Timing: per-call latency with `perf_counter_ns`, single-threaded, garbage collector paused.

Every engine is timed by the same loop, calling `fn(*args)` prepared beforehand, so the loop's own
overhead is identical for all of them (and reported by `timer_overhead_ns`).
"""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bench.engines import Call


@dataclass(frozen=True)
class Stats:
    count: int
    median_us: float
    p99_us: float | None  # None when single decisions were not observable (batches)
    per_second: float


def summarize(samples_ns: Sequence[int]) -> Stats:
    """Median, nearest-rank p99 and throughput (decisions over the summed decision time)."""
    if not samples_ns:
        raise ValueError("no samples to summarize")
    ordered = sorted(samples_ns)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    total = sum(ordered)
    return Stats(len(ordered), statistics.median(ordered) / 1000, p99 / 1000,
                 len(ordered) * 1e9 / total if total else math.inf)


@contextmanager
def collector_paused() -> Iterator[None]:
    """As `timeit` does: a collection triggered by the harness's own heap must not land in a sample."""
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass(frozen=True)
class Timed:
    stats: Stats
    outputs: tuple[Any, ...]  # the first timed pass's outputs, in request order
    passes: int  # timed passes started (the first may have stopped early on the budget)


def time_calls(calls: Sequence[Call], *, warmup: int, rounds: int, budget_s: float, min_calls: int) -> Timed:
    """Warm up on the first `warmup` calls, then time up to `rounds` passes over all calls.

    Once `budget_s` is spent, the current pass stops as soon as it has `min_calls` samples and no
    further pass starts. The first pass gives the outputs (for the cross-check); it is left out
    of the statistics when later passes gathered at least `min_calls` samples, because it pays
    for whatever an engine builds lazily on first use.
    """
    clock = time.perf_counter_ns
    for fn, args in calls[:warmup]:
        fn(*args)
    budget_ns = int(budget_s * 1e9)
    outputs: list[Any] = []
    passes: list[list[int]] = []
    with collector_paused():
        started = clock()
        for index in range(rounds):
            if index and clock() - started > budget_ns:
                break
            samples: list[int] = []
            passes.append(samples)
            for fn, args in calls:
                begin = clock()
                output = fn(*args)
                samples.append(clock() - begin)
                if index == 0:
                    outputs.append(output)
                if len(samples) >= min_calls and clock() - started > budget_ns:
                    break
    later = [sample for samples in passes[1:] for sample in samples]
    steady = later if len(later) >= min_calls else passes[0]
    return Timed(summarize(steady), tuple(outputs), len(passes))


def time_batches(batches: Sequence[tuple[Call, int]], *, budget_s: float) -> tuple[Stats, list[Any]]:
    """Time native batch calls; each batch's time divided by its size is one per-decision sample.
    Returns the statistics and the outputs of every batch run, concatenated in order."""
    clock = time.perf_counter_ns
    samples: list[int] = []
    outputs: list[Any] = []
    decisions = 0
    total_ns = 0
    with collector_paused():
        started = clock()
        for (fn, args), size in batches:
            if samples and clock() - started > budget_s * 1e9:
                break
            begin = clock()
            result = fn(*args)
            elapsed = clock() - begin
            samples.append(elapsed // size)
            decisions += size
            total_ns += elapsed
            outputs.extend(result)
    median = statistics.median(samples) / 1000
    return Stats(decisions, median, None, decisions * 1e9 / total_ns if total_ns else math.inf), outputs


def timer_overhead_ns(repeat: int = 20000) -> float:
    """Median cost of one timed `fn(*args)` around a function that does nothing."""
    def noop(value: Any) -> Any:
        return value

    calls: list[Call] = [(noop, (index,)) for index in range(repeat)]
    return time_calls(calls, warmup=100, rounds=1, budget_s=10.0, min_calls=repeat).stats.median_us * 1000


def best_build(build: Callable[[], Any], reset: Callable[[], None], *, budget_s: float,
               max_repeats: int) -> tuple[Any, float]:
    """Build repeatedly while the summed build time stays under budget; keep the fastest time.
    `reset` runs (untimed) before every build, e.g. to clear a compile cache."""
    best = math.inf
    spent = 0.0
    built: Any = None
    for _ in range(max_repeats):
        built = None  # release the previous build before the next one
        reset()
        gc.collect()
        begin = time.perf_counter()
        built = build()
        elapsed = time.perf_counter() - begin
        best = min(best, elapsed)
        spent += elapsed
        if spent > budget_s:
            break
    return built, best
