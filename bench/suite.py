"""What a benchmark row is, the run's settings, and the targets rows check."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bench.workload import DEFAULT_SEED

Log = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    quick: bool
    scales: tuple[int, ...]
    requests: int  # requests generated per workload
    rounds: int  # timed passes over the requests, for engines fast enough to finish them
    budget_s: float  # timing budget per engine and workload (slow engines stop early)
    min_calls: int  # samples every engine gets, whatever the budget
    warmup: int  # untimed calls before timing
    batch_size: int
    build_budget_s: float  # builds repeat (fastest kept) while their summed time stays under this
    build_repeats: int
    memory: bool  # measure build memory in child processes
    seed: int = DEFAULT_SEED

    @classmethod
    def full(cls) -> BenchConfig:
        return cls(quick=False, scales=(100, 1_000, 10_000), requests=2_000, rounds=5, budget_s=12.0,
                   min_calls=100, warmup=50, batch_size=50, build_budget_s=3.0, build_repeats=3, memory=True)

    @classmethod
    def quick_run(cls) -> BenchConfig:
        return cls(quick=True, scales=(100, 1_000, 10_000), requests=200, rounds=3, budget_s=0.75,
                   min_calls=20, warmup=20, batch_size=20, build_budget_s=0.0, build_repeats=1, memory=False)


class RowError(RuntimeError):
    """A row found that it would time an error path (a denied request, a failed decision, an app
    answering the wrong status): the run stops rather than report a meaningless figure."""


@dataclass(frozen=True)
class Target:
    description: str
    met: bool
    measured: str

    def line(self) -> str:
        return f"- **{'met' if self.met else 'NOT MET'}**: {self.description} (measured: {self.measured})"


@dataclass(frozen=True)
class Section:
    """One row's contribution to the report: markdown (tables, footnotes) and checked targets."""

    title: str
    markdown: str
    targets: tuple[Target, ...]


class Row(Protocol):
    name: str

    def run(self, config: BenchConfig, log: Log) -> Section: ...
