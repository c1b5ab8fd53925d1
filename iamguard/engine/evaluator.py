"""IAM's decision logic over a compiled, action-indexed set of policies.

1. Any applicable Deny in any policy is an explicit deny.
2. Otherwise an Allow is needed: from the identity policies (capped by the permissions boundary
   and the session policies when present), or from a same-tenant resource policy whose grant
   the caps reach only as IAM's table says. Another tenant's principal needs both.
3. Otherwise the request is implicitly denied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from iamguard.engine.compiler import GRANT_STRENGTH, CompiledStatement, Grant, Policy, coerce_policy
from iamguard.engine.context import EvaluationState, Request
from iamguard.engine.decision import Decision, Effect, StatementRef
from iamguard.errors import EvaluationError
from iamguard.policy.model import PolicyKind

_MEMO_LIMIT = 4096


class Entry:
    """A statement together with the policy it came from (policies are shared, labels are not)."""

    __slots__ = ("_ref", "kind", "label", "position", "statement")

    def __init__(self, label: str, kind: PolicyKind, statement: CompiledStatement, position: int) -> None:
        self.label = label
        self.kind = kind
        self.statement = statement
        self.position = position
        self._ref: StatementRef | None = None

    @property
    def ref(self) -> StatementRef:
        """Built on first use: most statements never decide anything."""
        ref = self._ref
        if ref is None:
            source = self.statement.statement
            ref = self._ref = StatementRef(self.label, self.kind, source.index, source.sid, source.effect,
                                           source.pointer)
        return ref


class _Bucket:
    """The statements of one layer whose action pattern matches one action, split by effect and
    indexed by the tenant their resources name. Built once per (layer, action), then reused."""

    __slots__ = ("_allow_any", "_allows", "_deny_any", "_denies")

    def __init__(self, entries: Iterable[Entry]) -> None:
        deny_any: list[Entry] = []
        allow_any: list[Entry] = []
        deny_by_account: dict[str, list[Entry]] = {}
        allow_by_account: dict[str, list[Entry]] = {}
        for entry in entries:
            statement = entry.statement
            general = deny_any if statement.is_deny else allow_any
            indexed = deny_by_account if statement.is_deny else allow_by_account
            if statement.index_accounts is None:
                general.append(entry)
            else:
                for account in statement.index_accounts:
                    indexed.setdefault(account, []).append(entry)
        self._deny_any = tuple(deny_any)
        self._allow_any = tuple(allow_any)
        # Pre-joined per tenant so the hot path allocates nothing.
        self._denies = {account: self._deny_any + tuple(items) for account, items in deny_by_account.items()}
        self._allows = {account: self._allow_any + tuple(items) for account, items in allow_by_account.items()}

    def denies(self, account: str) -> tuple[Entry, ...]:
        return self._denies.get(account, self._deny_any)

    def allows(self, account: str) -> tuple[Entry, ...]:
        return self._allows.get(account, self._allow_any)


_EMPTY = _Bucket(())


class Layer:
    """All statements of one policy type, indexed by action so that a request visits only the
    statements whose action pattern can match it."""

    __slots__ = ("_exact", "_general", "_memo", "_prefixed", "entries", "kind", "present")

    def __init__(self, kind: PolicyKind, policies: Sequence[tuple[str, Policy]]) -> None:
        self.kind = kind
        self.present = bool(policies)
        self.entries = [
            Entry(label, kind, statement, position)
            for position, (label, statement) in enumerate(
                (label, statement) for label, policy in policies for statement in policy.statements
            )
        ]
        self._exact: dict[str, list[Entry]] = {}
        self._prefixed: dict[str, list[Entry]] = {}
        self._general: list[Entry] = []
        self._memo: dict[str, _Bucket] = {}
        for entry in self.entries:
            statement = entry.statement
            if statement.not_action:
                self._general.append(entry)
                continue
            for action in {text.lower() for text in statement.statement.actions}:
                cut = min((i for i in (action.find("*"), action.find("?")) if i >= 0), default=-1)
                if cut < 0:
                    self._exact.setdefault(action, []).append(entry)
                elif cut == 0:
                    self._general.append(entry)
                else:
                    self._prefixed.setdefault(action[:cut], []).append(entry)

    def bucket(self, action_lower: str) -> _Bucket:
        bucket = self._memo.get(action_lower)
        if bucket is None:
            bucket = self._build(action_lower)
            if len(self._memo) >= _MEMO_LIMIT:
                self._memo.clear()
            self._memo[action_lower] = bucket
        return bucket

    def _build(self, action_lower: str) -> _Bucket:
        if not self.entries:
            return _EMPTY
        candidates: dict[int, Entry] = {}
        for entry in self._exact.get(action_lower, ()):
            candidates[id(entry)] = entry
        for length in range(1, len(action_lower) + 1):
            for entry in self._prefixed.get(action_lower[:length], ()):
                candidates[id(entry)] = entry
        for entry in self._general:
            candidates[id(entry)] = entry
        ordered = sorted(candidates.values(), key=lambda entry: entry.position)
        return _Bucket(entry for entry in ordered if entry.statement.matches_action(action_lower))


def _same_tenant(request: Request) -> bool:
    """A resource without an account field, or a principal without one, counts as same-tenant."""
    account = request.resource_account
    if not account:
        return True
    principal_account = request.principal_account
    return not principal_account or principal_account == account


def _labelled(policies: Iterable[Any], kind: PolicyKind, prefix: str) -> list[tuple[str, Policy]]:
    labelled = []
    for position, source in enumerate(policies):
        policy = coerce_policy(source, kind)
        labelled.append((policy.name or f"{prefix}[{position}]", policy))
    return labelled


class PolicySet:
    """Policies compiled and indexed once; `evaluate` is thread-safe and allocation-light."""

    __slots__ = ("_identity_only", "_present", "boundary", "identity", "resource", "session")

    def __init__(
        self,
        identity_policies: Iterable[Any] = (),
        resource_policy: Any = None,
        permissions_boundary: Any = None,
        session_policies: Iterable[Any] | None = None,
    ) -> None:
        self._build(identity_policies, resource_policy, permissions_boundary, session_policies)

    def _build(
        self,
        identity_policies: Iterable[Any],
        resource_policy: Any,
        permissions_boundary: Any,
        session_policies: Iterable[Any] | None,
    ) -> None:
        self.identity = Layer(PolicyKind.IDENTITY, _labelled(identity_policies, PolicyKind.IDENTITY, "identity"))
        self.resource = Layer(
            PolicyKind.RESOURCE,
            _labelled([resource_policy] if resource_policy is not None else [], PolicyKind.RESOURCE, "resource"),
        )
        self.boundary = Layer(
            PolicyKind.BOUNDARY,
            _labelled([permissions_boundary] if permissions_boundary is not None else [], PolicyKind.BOUNDARY,
                      "boundary"),
        )
        self.session = Layer(PolicyKind.SESSION, _labelled(session_policies or (), PolicyKind.SESSION, "session"))
        self._present = tuple(layer for layer in self.layers if layer.present)
        self._identity_only = not (self.resource.present or self.boundary.present or self.session.present)

    @property
    def layers(self) -> tuple[Layer, ...]:
        return (self.identity, self.resource, self.boundary, self.session)

    def evaluate(self, request: Request) -> Decision:
        try:
            return self._evaluate(request)
        except Exception as exc:
            return Decision(Effect.EXPLICIT_DENY, request, error=f"evaluation failed: {type(exc).__name__}: {exc}",
                            source=self)

    def _first_allow(self, layer: Layer, request: Request, state: EvaluationState) -> Entry | None:
        for entry in layer.bucket(request.action_lower).allows(request.resource_account):
            if entry.statement.applies(request, state):
                return entry
        return None

    def _evaluate(self, request: Request) -> Decision:
        action, account = request.action_lower, request.resource_account
        if self._identity_only:  # the common case: no resource policy and nothing that caps
            return self._evaluate_identity_only(request, action, account)
        state = EvaluationState(request, self.boundary.present)
        for layer in self._present:
            for entry in layer.bucket(action).denies(account):
                if entry.statement.applies(request, state):
                    return self._decision(Effect.EXPLICIT_DENY, request, state, (entry,))

        identity_allow = self._first_allow(self.identity, request, state) if self.identity.present else None
        boundary_allow = self._first_allow(self.boundary, request, state) if self.boundary.present else None
        session_allow = self._first_allow(self.session, request, state) if self.session.present else None
        boundary_ok = not self.boundary.present or boundary_allow is not None
        session_ok = not self.session.present or session_allow is not None
        caps = tuple(entry for entry in (boundary_allow, session_allow) if entry is not None)
        identity_path = identity_allow is not None and boundary_ok and session_ok

        grant, grant_entry = self._resource_grant(request, state) if self.resource.present else (None, None)
        same_tenant = _same_tenant(request)

        allowed_by: tuple[Entry, ...] = ()
        if same_tenant and grant_entry is not None:
            if grant == Grant.ROLE and boundary_ok and session_ok:
                allowed_by = (grant_entry, *caps)
            elif grant in (Grant.EVERYONE, Grant.USER, Grant.SESSION, Grant.EXTERNAL):
                allowed_by = (grant_entry,)
        if not allowed_by and identity_path:
            assert identity_allow is not None
            if same_tenant:
                allowed_by = (identity_allow, *caps)
            elif grant_entry is not None:  # another tenant: both sides must allow
                allowed_by = (identity_allow, *caps, grant_entry)
        if allowed_by:
            return self._decision(Effect.ALLOW, request, state, allowed_by, grant)
        return self._decision(Effect.IMPLICIT_DENY, request, state, (), grant)

    def _evaluate_identity_only(self, request: Request, action: str, account: str) -> Decision:
        state = EvaluationState(request, False)
        bucket = self.identity.bucket(action)
        for entry in bucket.denies(account):
            if entry.statement.applies(request, state):
                return self._decision(Effect.EXPLICIT_DENY, request, state, (entry,))
        for entry in bucket.allows(account):
            if entry.statement.applies(request, state):
                if _same_tenant(request):
                    return self._decision(Effect.ALLOW, request, state, (entry,))
                break  # another tenant's resource needs a resource policy too
        return self._decision(Effect.IMPLICIT_DENY, request, state, ())

    def _resource_grant(self, request: Request, state: EvaluationState) -> tuple[str | None, Entry | None]:
        best: tuple[str | None, Entry | None] = (None, None)
        for entry in self.resource.bucket(request.action_lower).allows(request.resource_account):
            statement = entry.statement
            try:
                if not statement.matches_resource(request, state):
                    continue
                grant = statement.grant_for(state)
                if grant is None or not statement.conditions_hold(state):
                    continue
            except EvaluationError as exc:
                state.errors.append(f"{statement.statement.label}: {exc}")
                continue
            if best[0] is None or GRANT_STRENGTH[grant] < GRANT_STRENGTH[best[0]]:
                best = (grant, entry)
                if GRANT_STRENGTH[grant] == 0:
                    break
        return best

    def _decision(self, effect: Effect, request: Request, state: EvaluationState,
                  entries: tuple[Entry, ...], grant: str | None = None) -> Decision:
        return Decision(effect, request, tuple(entry.ref for entry in entries),
                        errors=tuple(state.errors) if state.errors else (), source=self, resource_grant=grant)

    def trace(self, request: Request) -> Any:
        """Every statement's outcome for `request` (slow; used for explanations)."""
        from iamguard.engine.explain import trace

        return trace(self, request)


def evaluate(
    request: Request,
    identity_policies: Iterable[Any] = (),
    resource_policy: Any = None,
    permissions_boundary: Any = None,
    session_policies: Iterable[Any] | None = None,
) -> Decision:
    """Evaluate one request. Documents are parsed once and cached by content; a malformed policy
    raises PolicyError before anything is decided."""
    policy_set = PolicySet(identity_policies, resource_policy, permissions_boundary, session_policies)
    return policy_set.evaluate(request)
