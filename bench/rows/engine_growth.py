"""How one PolicySet's decision time grows from the smallest to the largest workload, measured
interleaved.

The latency table times each workload once, tens of seconds apart, so a neighbour's load on the
shared machine during one of them moves a ratio of two medians by as much as the growth being
measured. Here both sets are built side by side and timed in alternating passes over their
requests (the order flips every round); the growth is the median over rounds of each round's
own ratio, so load that lasts longer than a pass hits both sides alike.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.engines import Call
from bench.engines.registry import ENGINE_BY_KEY
from bench.measure import time_calls
from bench.suite import BenchConfig, Log
from bench.workload import generate

ONE_SET = "iamguard-oneset"


@dataclass(frozen=True)
class Growth:
    variant: str
    small_scale: int
    large_scale: int
    small_us: tuple[float, ...]  # the smaller set's median per round
    large_us: tuple[float, ...]

    @property
    def rounds(self) -> int:
        return len(self.small_us)

    @property
    def ratio(self) -> float:
        """Median over rounds of (large median ÷ small median) in that round."""
        return statistics.median(large / small for small, large in zip(self.small_us, self.large_us, strict=True))


def _pass_median(calls: list[Call]) -> float:
    return time_calls(calls, warmup=0, rounds=1, budget_s=3600.0, min_calls=len(calls)).stats.median_us


def measure_growth(config: BenchConfig, abac: bool, log: Log) -> Growth | None:
    scales = sorted(config.scales)
    if len(scales) < 2:
        return None
    engine = ENGINE_BY_KEY[ONE_SET]
    sides: list[list[Call]] = []
    variant = ""
    for scale in (scales[0], scales[-1]):
        workload = generate(scale, abac=abac, requests=config.requests, seed=config.seed)
        variant = workload.variant
        built = engine.build(engine.sources(workload))
        calls = [built.prepare(request) for request in workload.requests]
        _pass_median(calls)  # untimed: builds each action's index bucket, as the table's first pass does
        sides.append(calls)
    rounds = 5 if config.quick else 21
    small: list[float] = []
    large: list[float] = []
    for index in range(rounds):
        if index % 2:
            large.append(_pass_median(sides[1]))
            small.append(_pass_median(sides[0]))
        else:
            small.append(_pass_median(sides[0]))
            large.append(_pass_median(sides[1]))
    growth = Growth(variant, scales[0], scales[-1], tuple(small), tuple(large))
    log(f"  {variant} one set, interleaved: {scales[0]:,} vs {scales[-1]:,} statements: {growth.ratio:.2f}x "
        f"over {rounds} rounds")
    return growth
