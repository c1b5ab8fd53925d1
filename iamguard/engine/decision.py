"""The outcome of an evaluation and the references to the statements that decided it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from iamguard.policy.model import PolicyKind, StatementEffect

if TYPE_CHECKING:
    from iamguard.engine.context import Request
    from iamguard.engine.evaluator import PolicySet
    from iamguard.engine.explain import Trace


class Effect(str, enum.Enum):
    ALLOW = "Allow"
    EXPLICIT_DENY = "ExplicitDeny"
    IMPLICIT_DENY = "ImplicitDeny"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class StatementRef:
    """Names one statement: which policy (its name, or its kind and position), which statement."""

    policy: str
    kind: PolicyKind
    index: int
    sid: str | None
    effect: StatementEffect
    pointer: str

    def __str__(self) -> str:
        sid = f" {self.sid!r}" if self.sid else ""
        return f"{self.policy} statement #{self.index}{sid} ({self.effect.value})"


class Decision:
    """The answer to one request. Cheap to build; the explanation is computed only when asked."""

    __slots__ = ("_source", "_trace", "effect", "error", "errors", "request", "resource_grant", "statements")

    def __init__(
        self,
        effect: Effect,
        request: Request,
        statements: tuple[StatementRef, ...] = (),
        *,
        errors: tuple[str, ...] = (),
        error: str | None = None,
        source: PolicySet | None = None,
        resource_grant: str | None = None,
    ) -> None:
        self.effect = effect
        self.request = request
        self.statements = statements  # the statements that decided: the Deny, or the Allow(s)
        self.errors = errors  # conditions that could not be evaluated (each fails closed)
        self.error = error  # set when evaluation itself failed; the decision is then a deny
        self._source = source  # the policy set that decided, kept to trace it on demand
        # How an applying Allow of the resource policy named the principal ("everyone", "user",
        # "session", "role", "account", "external"), or None. A role's trust policy must itself
        # allow the caller, which this tells even when identity policies alone would allow.
        self.resource_grant = resource_grant
        self._trace: Trace | None = None

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    def __bool__(self) -> bool:
        return self.allowed

    def trace(self) -> Trace | None:
        if self._trace is None and self._source is not None:
            self._trace = self._source.trace(self.request)
        return self._trace

    @property
    def missing_context_keys(self) -> frozenset[str]:
        """Context keys (lowercased) that conditions or variables looked for but the request lacked."""
        trace = self.trace()
        return trace.missing_keys if trace is not None else frozenset()

    def explain(self) -> str:
        from iamguard.engine.explain import render

        return render(self)

    def __repr__(self) -> str:
        return f"<Decision {self.effect.value} {self.request.action} on {self.request.resource}>"
