"""Adapters that run the workload through one engine each, behind one small protocol.

The row drives every engine the same way: `sources` translates the workload into the engine's
own input (untimed), `cold` resets process-wide caches, `build` compiles/loads it (timed as the
compile figure), `prepare` turns each request into a ready call (untimed), and only that call is
timed. `outcome` reads an engine's answer after timing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from bench.workload import AccessRequest, Workload

# A ready-to-time call: the function and its positional arguments.
Call = tuple[Callable[..., Any], tuple[Any, ...]]


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    detail: str  # the engine's own word for the decision, e.g. "ExplicitDeny"
    problem: str | None = None  # an evaluation error the engine reported (the run aborts on any)


class Built(Protocol):
    def prepare(self, request: AccessRequest) -> Call: ...

    def outcome(self, output: Any) -> Outcome: ...


@runtime_checkable
class BatchBuilt(Built, Protocol):
    """An engine with a native batch call; the call returns one output per request."""

    def prepare_batch(self, requests: Sequence[AccessRequest]) -> Call: ...


class Engine(Protocol):
    key: str  # stable identifier, used on the command line of the memory probe
    label: str  # name in the tables

    def sources(self, workload: Workload) -> Any: ...

    def cold(self) -> None: ...

    def build(self, sources: Any) -> Built: ...

    def describe(self, sources: Any) -> str: ...
