"""Row for issue 5: what protecting a route costs, in requests per second of a hello-world app.

Each framework serves `GET /orders/{order_id}` bare and protected, driven in-process by the same
client (`bench.web.clients`); Starlette is also shown behind a pycasbin middleware. The principal
is warm: its token has been verified and its policies resolved before timing, so the figure is
the steady-state cost of a protected request. Each protected app is measured twice: with the
default settings, where the repeated request is answered from the VerdictMemo, and with
`reuse_allows=False`, where every request is decided (what a request that repeats nothing costs).
Contenders take turns in short slices, in a rotating order, and the overhead is the median over
rounds of each round's own ratio, so a neighbour's burst of load on the shared machine hits both
sides of a ratio alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from dataclasses import dataclass

from bench import report
from bench.measure import Stats, collector_paused, summarize
from bench.suite import BenchConfig, Log, RowError, Section, Target
from bench.web.frameworks import (
    BARE,
    BUILDERS,
    DECIDED_LABEL,
    IAMGUARD,
    Contender,
    Framework,
    Unavailable,
    build,
    problems,
    quiet_denials,
)
from bench.web.tenant import ACTION, PATH, ROUTE, WebTenant, web_tenant

OVERHEAD_TARGET = 0.15


@dataclass(frozen=True)
class Schedule:
    rounds: int
    slice_s: float
    warmup_s: float
    token_calls: int  # timed calls of Credentials.authenticate, for the cost breakdown

    @classmethod
    def of(cls, config: BenchConfig) -> Schedule:
        if config.quick:
            return cls(rounds=3, slice_s=0.15, warmup_s=0.1, token_calls=300)
        return cls(rounds=7, slice_s=0.5, warmup_s=0.3, token_calls=3_000)


@dataclass(frozen=True)
class Rates:
    label: str
    kind: str
    note: str
    per_round: tuple[float, ...]  # requests per second, one per round
    requests: int

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)


@dataclass(frozen=True)
class FrameworkRun:
    name: str
    driver: str
    rates: tuple[Rates, ...]
    in_process: bool = True

    def bare(self) -> Rates:
        return next(rates for rates in self.rates if rates.kind == BARE)

    def overhead(self, rates: Rates) -> float:
        """Median over rounds of (bare rate / contender rate - 1): the extra time per request,
        as a fraction of the bare app's."""
        pairs = zip(self.bare().per_round, rates.per_round, strict=True)
        return statistics.median(bare / mine - 1 for bare, mine in pairs)

    def added_us(self, rates: Rates) -> float:
        pairs = zip(self.bare().per_round, rates.per_round, strict=True)
        return statistics.median((1 / mine - 1 / bare) * 1e6 for bare, mine in pairs)


def _timed_slice(contender: Contender, seconds: float) -> tuple[float, int]:
    gc.collect()  # each slice starts from the same heap state; collections inside it are its own cost
    measured = contender.client.run_for(contender.token, seconds)
    if measured.unexpected:
        raise RowError(f"middleware row: {contender.label} answered {measured.unexpected} of "
                       f"{measured.requests} timed requests with a status other than 200")
    return measured.per_second, measured.requests


def measure(framework: Framework, schedule: Schedule) -> FrameworkRun:
    contenders = framework.contenders
    for contender in contenders:  # warm: token verified and cached, policies resolved, code paths hot
        _timed_slice(contender, schedule.warmup_s)
    per_round: dict[str, list[float]] = {contender.label: [] for contender in contenders}
    requests = dict.fromkeys(per_round, 0)
    for index in range(schedule.rounds):
        shift = index % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            rate, count = _timed_slice(contender, schedule.slice_s)
            per_round[contender.label].append(rate)
            requests[contender.label] += count
    rates = tuple(Rates(contender.label, contender.kind, contender.note, tuple(per_round[contender.label]),
                        requests[contender.label]) for contender in contenders)
    return FrameworkRun(framework.name, framework.driver, rates, framework.in_process)


def time_authentication(tenant: WebTenant, calls: int) -> Stats:
    """`Credentials.authenticate(token)` alone for the warm reader: the token part of iamguard's cost."""
    authenticate, token = tenant.credentials.authenticate, tenant.reader_token
    for _ in range(max(50, calls // 10)):
        authenticate(token)
    clock = time.perf_counter_ns
    samples = []
    with collector_paused():
        for _ in range(calls):
            begin = clock()
            authenticate(token)
            samples.append(clock() - begin)
    return summarize(samples)


def _percent(value: float) -> str:
    return f"{value * 100:+,.0f}%" if abs(value) >= 1 else f"{value * 100:+.1f}%"


def render(runs: list[FrameworkRun], missing: list[Unavailable], schedule: Schedule, token: Stats) -> Section:
    rows = []
    for run in runs:
        for rates in run.rates:
            bare = rates.kind == BARE
            rows.append([run.name, rates.label, report.rate(rates.median), report.micros(1e6 / rates.median),
                         report.DASH if bare else report.micros(run.added_us(rates)),
                         report.DASH if bare else _percent(run.overhead(rates)), f"{rates.requests:,}"])
    for item in missing:
        rows.append([item.name, "not measured (see below)", *[report.DASH] * 5])
    headers = ["Framework", "App", "Requests/s", "µs per request", "Added µs per request",
               "Overhead vs bare", "Timed requests"]
    notes = [
        f"- Route `GET {ROUTE}`, request `GET {PATH}`, answering `hello` as plain text. Protected apps "
        f"map the route to `{ACTION}` on `arn:app:orders::<tenant>:order/{{order_id}}` (route map, one "
        "rule); the reader holds one managed policy allowing it. Every timed request carries the reader's "
        "session token (an EdDSA JWT from `get_session_token`).",
        "- `iamguard` rows: the default settings. The client repeats one request, so after the first request "
        "of each second the VerdictMemo (`iamguard.web.memo`) answers: the same request, under the same "
        "store generation (read on every request, so a revocation counts on the next one), in the same "
        "second of the clock, gets the allow again without the token check, the policies or the evaluator.",
        f"- `{DECIDED_LABEL}` rows: `reuse_allows=False`, so every request takes the whole production path: "
        "`Credentials.authenticate(token)` (with whatever it checks or caches per request), the principal's "
        "policies (resolution cached), the decision, and the audit step, which skips building the allow's "
        "record because the `iamguard.audit` logger is at its default level (INFO off). A request that "
        "repeats no earlier one in its second (another order, another client, a new second) costs this.",
        "- Drivers, the same for every app of a framework: "
        + "; ".join(f"{run.name}: {run.driver}" for run in runs)
        + ". In process, one request at a time and no sockets: the difference is the apps' own cost. "
        "Every response's status is checked (a non-200 aborts the run), and before timing each protected "
        "app is shown to answer 200 with the handler's body for the reader's token, 401 without a token "
        "and 403 with the token of a user allowed nothing.",
        f"- {schedule.rounds} rounds; in each, every app serves back-to-back requests for "
        f"{schedule.slice_s:g} s, in a rotating order, after one untimed warm-up slice each. "
        "Requests/s: median over rounds. Overhead: median over rounds of (bare rate ÷ app rate - 1), "
        "i.e. the extra time per request relative to the bare app; added µs: median of "
        "(1/app rate - 1/bare rate).",
        "- Of iamguard's added time, `Credentials.authenticate(token)` alone, for the warm reader's token, "
        f"takes {report.micros(token.median_us)} µs median (p99 {report.micros(token.p99_us)} µs, "
        f"{token.count:,} calls, timed on their own).",
    ]
    for run in runs:
        for rates in run.rates:
            if rates.note:
                notes.append(f"- {run.name}, {rates.label}: {rates.note}.")
    notes += [f"- {item.name} not measured: {item.reason}" for item in missing]
    served = [run.name for run in runs if not run.in_process]
    if served:
        notes.append(f"- {', '.join(served)}: a real server on loopback, shown to put the in-process figures in "
                     "proportion (HTTP parsing, the event loop and the socket included, as a deployed app pays "
                     "them); the bare and protected servers receive the same bytes, the reader's token included. "
                     "The target is read from the in-process rows.")
    targets = []
    for run in runs:
        if not run.in_process:
            continue
        mine = next(rates for rates in run.rates if rates.kind == IAMGUARD)
        overhead = run.overhead(mine)
        targets.append(Target(
            f"{run.name}: iamguard adds at most {OVERHEAD_TARGET:.0%} over the bare app for a warm principal",
            overhead <= OVERHEAD_TARGET,
            f"{_percent(overhead)} ({report.rate(run.bare().median)} → {report.rate(mine.median)} "
            f"requests/s, +{report.micros(run.added_us(mine))} µs per request)"))
    targets += [Target(f"{item.name}: iamguard adds at most {OVERHEAD_TARGET:.0%} over the bare app",
                       False, f"not measured: {item.reason}") for item in missing]
    markdown = "\n\n".join([report.table(headers, rows, right=(2, 3, 4, 5, 6)), "\n".join(notes)])
    return Section("Web middleware overhead (hello world, warm principal)", markdown, tuple(targets))


class MiddlewareOverhead:
    name = "middleware"

    def run(self, config: BenchConfig, log: Log) -> Section:
        schedule = Schedule.of(config)
        runs: list[FrameworkRun] = []
        missing: list[Unavailable] = []
        with web_tenant() as tenant, quiet_denials():
            for name in BUILDERS:
                built = build(name, tenant)
                if isinstance(built, Unavailable):
                    log(f"  {name}: not measured ({built.reason})")
                    missing.append(built)
                    continue
                try:
                    found = problems(built, tenant)
                    # Timing an app that answers wrongly would measure an error path: report it instead.
                    run = None if found else measure(built, schedule)
                finally:
                    built.close()
                if run is None:
                    reason = "its apps do not answer as they must: " + "; ".join(found)
                    log(f"  {name}: not measured ({reason})")
                    missing.append(Unavailable(name, reason))
                    continue
                runs.append(run)
                for rates in run.rates:
                    extra = "" if rates.kind == BARE else f"  overhead {_percent(run.overhead(rates))}"
                    log(f"  {name:<9} {rates.label:<44} {rates.median:10,.0f} requests/s{extra}")
            token = time_authentication(tenant, schedule.token_calls)
        return render(runs, missing, schedule, token)
