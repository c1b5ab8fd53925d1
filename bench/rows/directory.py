"""Row for issue 3: resolve and evaluate through the identity directory, warm and cold.

One user in 5 groups with 10 attached managed policies each (50 policies, 100 statements), in a
tenant of 10,000 users, on the SQLite store (a temporary file) and the memory store. *Warm*: the
principal's compiled policy set is cached. *Cold*: the first request after a write to the tenant
(any write bumps the store generation, which empties the resolution cache), so the call re-reads
the user, groups and policies from the store and rebuilds the PolicySet; compiled documents still
come from the compile cache, as they do in a running process.
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import report
from bench.measure import Stats, collector_paused, summarize
from bench.suite import BenchConfig, Log, RowError, Section, Target
from iamguard.directory import Directory
from iamguard.engine.compiler import DEFAULT_CACHE
from iamguard.engine.decision import Decision, Effect
from iamguard.store.base import DirectoryStore
from iamguard.store.memory import MemoryStore
from iamguard.store.sqlite import SQLiteStore

TENANT = "123456789012"
WARM_TARGET_US = 20.0
COLD_TARGET_MS = 2.0


@dataclass(frozen=True)
class Shape:
    users: int = 10_000
    groups: int = 5
    policies_per_group: int = 10

    @property
    def member(self) -> str:
        """The user whose requests are timed: a member of every group, in the middle of the tenant."""
        return f"user{self.users * 4242 // 10_000:05d}"

    @property
    def bystander(self) -> str:
        """Another user, whose tags the cold measurement changes."""
        return "user00001" if self.member != "user00001" else "user00000"


def _policy(group: int, index: int) -> dict[str, object]:
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": [f"svc{group}:Action{index}", f"svc{group}:Get*"],
         "Resource": f"arn:aws:svc{group}:::res{index}/${{aws:username}}/*"},
        {"Effect": "Deny", "Action": f"svc{group}:Delete{index}", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ]}


@dataclass(frozen=True)
class Probe:
    """One request of the measured user, with the effect it must get."""

    action: str
    resource: str
    context: dict[str, object]
    expected: Effect


class Tenant:
    """The populated directory and the requests the row sends."""

    def __init__(self, directory: Directory, shape: Shape) -> None:
        self.directory = directory
        self.shape = shape
        self._writes = itertools.count(1)
        self.arn = f"arn:aws:iam::{TENANT}:user/{shape.member}"
        last_group, last_policy = shape.groups - 1, shape.policies_per_group - 1
        own = f"arn:aws:svc{last_group}:::res{last_policy}/{shape.member}/obj"
        self.allowed = Probe(f"svc{last_group}:Action{last_policy}", own, {"aws:SecureTransport": True},
                             Effect.ALLOW)
        self.checks = (
            self.allowed,
            # The Deny statement of the last policy: plain HTTP makes it match.
            Probe(f"svc{last_group}:Delete{last_policy}", own, {"aws:SecureTransport": False},
                  Effect.EXPLICIT_DENY),
            # ${aws:username} scopes the Allow to the user's own prefix.
            Probe(f"svc{last_group}:Action{last_policy}",
                  f"arn:aws:svc{last_group}:::res{last_policy}/{shape.bystander}/obj",
                  {"aws:SecureTransport": True}, Effect.IMPLICIT_DENY),
        )

    def decide(self, probe: Probe) -> Decision:
        return self.directory.authorize(self.arn, probe.action, probe.resource, probe.context)

    def call(self) -> Callable[[], Decision]:
        """The timed call: the allowed request, arguments bound beforehand."""
        authorize, arn, probe = self.directory.authorize, self.arn, self.allowed
        return lambda: authorize(arn, probe.action, probe.resource, probe.context)

    def verify(self) -> None:
        """Every probe gets its expected effect and none is an error (an error is a deny with
        `.error` set), so the row never times an error path."""
        for probe in self.checks:
            decision = self.decide(probe)
            if decision.effect is not probe.expected or decision.error is not None:
                raise RowError(f"directory row: {probe.action} on {probe.resource} gave "
                               f"{_failure(decision)}, expected {probe.expected.value}")

    def touch(self) -> None:
        """A write elsewhere in the tenant (a new tag value each time). Every write moves the store
        generation, which empties the resolution cache: the next decision is cold."""
        store = self.directory.store
        before = store.generation()
        self.directory.tag_user(self.shape.bystander, {"bench": str(next(self._writes))})
        if store.generation() == before:
            raise RowError("directory row: a write did not move the store generation, so the next call "
                           "would not be cold")


def populate(store: DirectoryStore, shape: Shape = Shape()) -> Tenant:
    """Create the tenant, its users, groups and policies in one transaction."""
    Directory.create_tenant(store, TENANT)
    directory = Directory(store, TENANT)
    with directory.batch():
        for index in range(shape.users):
            directory.create_user(f"user{index:05d}")
        for group in range(shape.groups):
            name = f"group{group}"
            directory.create_group(name)
            directory.add_user_to_group(name, shape.member)
            for index in range(shape.policies_per_group):
                policy = directory.create_policy(f"g{group}p{index}", _policy(group, index))
                directory.attach_group_policy(name, policy.arn)
    return Tenant(directory, shape)


@dataclass(frozen=True)
class StoreRun:
    store: str
    setup_s: float
    warm: Stats
    cold: Stats
    uncompiled: Stats  # cold with the compile cache emptied too


def _failure(decision: Decision) -> str:
    return f"{decision.effect.value} (error {decision.error!r})"


def time_warm(tenant: Tenant, calls: int, warmup: int) -> Stats:
    call = tenant.call()
    for _ in range(warmup):
        call()
    clock = time.perf_counter_ns
    samples: list[int] = []
    with collector_paused():
        for _ in range(calls):
            begin = clock()
            decision = call()
            samples.append(clock() - begin)
            if decision.effect is not Effect.ALLOW:
                raise RowError(f"directory row: the warm call was {_failure(decision)}, not Allow")
    return summarize(samples)


def time_cold(tenant: Tenant, repeats: int, *, clear_compiled: bool = False) -> Stats:
    call = tenant.call()
    clock = time.perf_counter_ns
    samples: list[int] = []
    with collector_paused():
        for _ in range(repeats):
            tenant.touch()
            if clear_compiled:
                DEFAULT_CACHE.clear()
            begin = clock()
            decision = call()
            samples.append(clock() - begin)
            if decision.effect is not Effect.ALLOW:
                raise RowError(f"directory row: the cold call was {_failure(decision)}, not Allow")
    return summarize(samples)


@contextmanager
def opened(kind: str) -> Iterator[DirectoryStore]:
    if kind == "memory":
        yield MemoryStore()
        return
    with tempfile.TemporaryDirectory(prefix="iamguard-bench-") as folder:
        store = SQLiteStore(Path(folder) / "directory.db")
        try:
            yield store
        finally:
            store.close()


@dataclass(frozen=True)
class Budget:
    warm_calls: int
    cold_repeats: int
    uncompiled_repeats: int
    warmup: int

    @classmethod
    def of(cls, config: BenchConfig) -> Budget:
        if config.quick:
            return cls(warm_calls=5_000, cold_repeats=50, uncompiled_repeats=10, warmup=200)
        return cls(warm_calls=50_000, cold_repeats=200, uncompiled_repeats=30, warmup=1_000)


def run_store(kind: str, budget: Budget, log: Log, shape: Shape = Shape()) -> StoreRun:
    with opened(kind) as store:
        begin = time.perf_counter()
        tenant = populate(store, shape)
        setup_s = time.perf_counter() - begin
        tenant.verify()
        warm = time_warm(tenant, budget.warm_calls, budget.warmup)
        cold = time_cold(tenant, budget.cold_repeats)
        uncompiled = time_cold(tenant, budget.uncompiled_repeats, clear_compiled=True)
        tenant.verify()
    log(f"  {kind:<6} setup {setup_s:5.2f} s  warm median {warm.median_us:7.2f} µs  "
        f"cold median {cold.median_us / 1000:6.3f} ms")
    return StoreRun(kind, setup_s, warm, cold, uncompiled)


def _ms(stats_us: float | None) -> str:
    return report.DASH if stats_us is None else f"{stats_us / 1000:.3f}"


def render(runs: list[StoreRun], shape: Shape, budget: Budget) -> Section:
    rows = [[run.store, report.micros(run.warm.median_us), report.micros(run.warm.p99_us),
             _ms(run.cold.median_us), _ms(run.cold.p99_us), _ms(run.uncompiled.median_us),
             f"{run.warm.count:,} / {run.cold.count:,} / {run.uncompiled.count:,}", f"{run.setup_s:.2f}"]
            for run in runs]
    headers = ["Store", "Warm median (µs)", "Warm p99 (µs)", "Cold median (ms)", "Cold p99 (ms)",
               "Cold, nothing compiled, median (ms)", "Timed warm / cold / nothing compiled", "Setup (s)"]
    policies = shape.groups * shape.policies_per_group
    notes = "\n".join([
        f"- Tenant: {shape.users:,} users; the measured user is in {shape.groups} groups with "
        f"{shape.policies_per_group} attached managed policies each ({policies} policies, "
        f"{policies * 2} statements, `${{aws:username}}` in every resource). Timed call: "
        "`Directory.authorize(user_arn, action, resource, {\"aws:SecureTransport\": True})`, which resolves "
        "the principal, adds its keys to the context and evaluates; every timed decision is checked to be "
        "Allow, and an explicit deny and an implicit deny of the same user are checked before and after.",
        "- *Warm*: resolution cached (the SQLite store still re-reads its generation once a second, the "
        f"cross-process freshness bound); {budget.warmup:,} untimed calls first. *Cold*: the first call "
        "after a write to another user of the tenant (`tag_user`, untimed); every write empties the "
        "resolution cache, so the call re-reads the user, its groups and their policies and builds a new "
        "PolicySet from already compiled documents. *Nothing compiled*: the same with the process-wide "
        "compile cache emptied too, as for a principal whose policies this process has never seen.",
        "- One thread, garbage collector paused while timing (as `timeit` does); each sample includes "
        "~0.1 µs of timer overhead. Setup: creating the tenant in one transaction (untimed by the targets).",
    ])
    targets = (
        Target(f"warm resolve-and-evaluate median <= {WARM_TARGET_US:g} µs (5 groups x 10 policies, "
               f"{shape.users:,} users)",
               all(run.warm.median_us <= WARM_TARGET_US for run in runs),
               ", ".join(f"{run.store} {run.warm.median_us:.2f} µs" for run in runs)),
        Target(f"cold (first request after a change) median <= {COLD_TARGET_MS:g} ms",
               all(run.cold.median_us <= COLD_TARGET_MS * 1000 for run in runs),
               ", ".join(f"{run.store} {_ms(run.cold.median_us)} ms (p99 {_ms(run.cold.p99_us)} ms)"
                         for run in runs)),
    )
    markdown = "\n\n".join([report.table(headers, rows, right=(1, 2, 3, 4, 5, 6, 7)), notes])
    return Section("Identity directory: resolve and evaluate", markdown, targets)


class DirectoryRow:
    name = "directory"

    def run(self, config: BenchConfig, log: Log) -> Section:
        budget = Budget.of(config)
        shape = Shape()
        runs = [run_store(kind, budget, log, shape) for kind in ("sqlite", "memory")]
        return render(runs, shape, budget)
