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
from iamguard.engine.conditions import CompiledCondition, EqualsCheck
from iamguard.engine.context import EvaluationState, Request
from iamguard.engine.decision import Decision, Effect, StatementRef
from iamguard.engine.wildcard import Matcher, share_tuple
from iamguard.errors import EvaluationError
from iamguard.policy.model import PolicyKind

_MEMO_LIMIT = 4096


class Entry:
    """A statement together with the policy it came from (policies are shared, labels are not)."""

    __slots__ = ("_checks", "_ref", "kind", "label", "position", "statement")

    def __init__(self, label: str, kind: PolicyKind, statement: CompiledStatement, position: int) -> None:
        self.label = label
        self.kind = kind
        self.statement = statement
        self.position = position
        self._ref: StatementRef | None = None
        self._checks: Check | tuple[Check, ...] | bool | None = False  # False: not built yet

    @property
    def checks(self) -> Check | tuple[Check, ...] | None:
        """What remains to test once the resource matched, for a statement without a Principal:
        its conditions, those that compare with one string as EqualsCheck copies. Built when the
        statement is first indexed, so that the copies sit with the index in memory."""
        checks = self._checks
        if checks is False:
            checks = self._checks = _checks(self.statement)
        return checks  # type: ignore[return-value]

    @property
    def ref(self) -> StatementRef:
        """Built on first use: most statements never decide anything."""
        ref = self._ref
        if ref is None:
            source = self.statement.statement
            ref = self._ref = StatementRef(self.label, self.kind, source.index, source.sid, source.effect,
                                           source.pointer)
        return ref


# One statement to try, as (tails, checks, statement, ref, is_deny):
# - tails: the resource-part matchers to test, when the statement's resources all carry the
#   literal head the probe is filed under; None when the whole resource must be tested;
# - checks: what remains to test after the resource when the statement has no Principal: its
#   one condition, or the tuple of its conditions, as `Entry.checks`; None when
#   `applies_to_resource` must decide;
# - the statement is touched only for errors and principals, the reference only when it decides.
Probe = tuple["tuple[Matcher, ...] | None", "Check | tuple[Check, ...] | None", CompiledStatement,
              StatementRef, bool]
# The statements to try for one request: every Deny, then every Allow, each in statement order.
Probes = tuple[Probe, ...]


def _head_tails(statement: CompiledStatement) -> dict[str, tuple[Matcher, ...]] | None:
    """For a statement whose every resource is a static pattern with a literal head, the
    resource-part matchers under each head; None for any other statement."""
    static = statement.static_resources
    if not static or statement.not_resource:
        return None
    tails: dict[str, tuple[Matcher, ...]] = {}
    for head, tail in static:
        tails[head] = (*tails.get(head, ()), tail)
    return {head: share_tuple(matchers) for head, matchers in tails.items()}


def _probes(entries: Iterable[Entry], tails: dict[int, dict[str, tuple[Matcher, ...]]], head: str | None,
            ) -> Probes:
    """Denies, then allows, each in statement order; under a `head`, a statement indexed by head
    tests only its tails there."""
    ordered = sorted(entries, key=lambda entry: (not entry.statement.is_deny, entry.position))
    return tuple(
        (
            tails[id(entry)][head] if head is not None and id(entry) in tails else None,
            entry.checks,
            entry.statement,
            entry.ref,
            entry.statement.is_deny,
        )
        for entry in ordered
    )


# A bucket joins the statements that apply to any tenant (and to a head's tenant) under every
# head; past this many probes per statement it indexes by tenant only.
_JOIN_FACTOR = 8
_JOIN_SLACK = 10_000


def _account_of(head: str) -> str:
    return head.split(":", 5)[4]


Check = CompiledCondition | EqualsCheck


def _checks(statement: CompiledStatement) -> Check | tuple[Check, ...] | None:
    if statement.principal is not None:
        return None
    conditions = statement.conditions
    if len(conditions) == 1:
        return conditions[0].check()
    checks = tuple([condition.check() for condition in conditions])
    if all(check is condition for check, condition in zip(checks, conditions, strict=True)):
        return conditions  # shared between statements, unlike the copies
    return checks


class _Bucket:
    """The statements of one layer whose action pattern matches one action, indexed by the exact
    ARN head (`arn:partition:service:region:account:`) or the tenant their resources name. Built
    once per (layer, action), then reused.

    A request finds its probes with one dict lookup on its resource head, and the probes are
    allocated together: at tens of thousands of statements, what a decision costs is mostly
    the memory it touches, not the statements it tests.
    """

    __slots__ = ("_any", "_by_account", "_by_head")

    def __init__(self, entries: Iterable[Entry]) -> None:
        entries = list(entries)
        general: list[Entry] = []  # statements that can apply to any tenant
        by_account: dict[str, list[Entry]] = {}
        by_head: dict[str, list[Entry]] = {}
        tails: dict[int, dict[str, tuple[Matcher, ...]]] = {}
        for entry in entries:
            statement = entry.statement
            head_tails = _head_tails(statement)
            if head_tails is not None:
                tails[id(entry)] = head_tails
                for head in head_tails:
                    by_head.setdefault(head, []).append(entry)
            elif statement.index_accounts is None:
                general.append(entry)
            else:
                for account in statement.index_accounts:
                    by_account.setdefault(account, []).append(entry)
        joined = sum(len(general) + len(by_account.get(_account_of(head), ())) + len(listed)
                     for head, listed in by_head.items())
        if joined > _JOIN_FACTOR * len(entries) + _JOIN_SLACK:
            # Many statements for every tenant and many heads: joining them under every head
            # would cost memory quadratic in the set. Index by tenant only (every statement is
            # then tested in full), as for statements without a literal head.
            tails.clear()
            by_head.clear()
            general.clear()
            by_account.clear()
            for entry in entries:
                accounts = entry.statement.index_accounts
                if accounts is None:
                    general.append(entry)
                for account in accounts or ():
                    by_account.setdefault(account, []).append(entry)
        self._any: Probes = _probes(general, tails, None)
        self._by_account: dict[str, Probes] = {
            account: _probes(general + listed, tails, None) for account, listed in by_account.items()
        }
        # Pre-joined per head (with the statements of the head's tenant and of every tenant) so
        # that the hot path allocates nothing and a resource's statements sit side by side.
        self._by_head: dict[str, Probes] = {
            head: _probes(general + by_account.get(_account_of(head), []) + listed, tails, head)
            for head, listed in by_head.items()
        }

    @property
    def size(self) -> int:
        """How many probes the bucket holds (its memory, give or take)."""
        return len(self._any) + sum(map(len, self._by_account.values())) + sum(map(len, self._by_head.values()))

    def probes(self, request: Request) -> Probes:
        """The statements that can apply to `request`'s resource: every Deny, then every Allow."""
        found = self._by_head.get(request.resource_head)
        if found is not None:
            return found
        return self._by_account.get(request.resource_account, self._any)


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


def _probe_applies(probe: Probe, request: Request, state: EvaluationState) -> bool:
    """`CompiledStatement.applies` for one probe (see `_first_applying`, which inlines it)."""
    tails = probe[0]
    if tails is None:
        return probe[2].applies(request, state)
    rest: str = request.resource_parts[5]  # type: ignore[index]  # a head implies an ARN
    for tail in tails:
        if tail(rest):
            return probe[2].applies_to_resource(state)
    return False


def _first_applying(probes: Probes, request: Request, state: EvaluationState) -> Probe | None:
    """The first probe whose statement applies to the request: with every Deny before every
    Allow, a Deny if any applies, else the first Allow that applies; None when none does.

    The hottest loop of the engine. At tens of thousands of statements most of them are not in
    the CPU's cache, so it reads a probe's fields by index and touches (and reference-counts) only
    what it tests: the statement object only for errors and principals, the reference only when
    the statement decides. The outcome is `CompiledStatement.applies`, errors included."""
    rest: str | None = None
    for probe in probes:
        tails = probe[0]
        if tails is None:
            if probe[2].applies(request, state):
                return probe
            continue
        if rest is None:
            rest = request.resource_parts[5]  # type: ignore[index]  # a head implies an ARN
        for tail in tails:
            if tail(rest):
                break
        else:
            continue
        checks = probe[1]
        if checks is None:
            if probe[2].applies_to_resource(state):
                return probe
            continue
        try:
            kind = checks.__class__
            if kind is EqualsCheck:  # EqualsCheck.evaluate inlined: the most common statement
                values = state.coerced_slot(checks.slot)  # type: ignore[union-attr]
                if values is None or (len(values) != 1 and not checks.any_value):  # type: ignore[union-attr]
                    holds = checks.condition.evaluate(state)  # type: ignore[union-attr]
                else:
                    expected, negated = checks.expected, checks.negated  # type: ignore[union-attr]
                    holds = False
                    for value in values:
                        if (value == expected) != negated:
                            holds = True
                            break
                if holds:
                    return probe
                continue
            if kind is not tuple:
                if checks.evaluate(state):  # type: ignore[union-attr]
                    return probe
                continue
            holds = True
            for check in checks:  # type: ignore[union-attr]
                if not check.evaluate(state):
                    holds = False
                    if not probe[4]:  # a Deny tests them all: an error in any one must apply it
                        break
            if holds:
                return probe
        except EvaluationError as exc:
            statement = probe[2]
            state.errors.append(f"{statement.statement.label}: {exc}")
            if probe[4]:  # an error never lets an Allow apply, and always lets a Deny
                return probe
    return None


def _first_deny(probes: Probes, request: Request, state: EvaluationState) -> StatementRef | None:
    for probe in probes:
        if not probe[4]:
            break  # the allows follow the denies
        if _probe_applies(probe, request, state):
            return probe[3]
    return None


def _first_allow(probes: Probes, request: Request, state: EvaluationState) -> StatementRef | None:
    for probe in probes:
        if not probe[4] and _probe_applies(probe, request, state):
            return probe[3]
    return None


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

    def _first_allow(self, layer: Layer, request: Request, state: EvaluationState) -> StatementRef | None:
        return _first_allow(layer.bucket(request.action_lower).probes(request), request, state)

    def _evaluate(self, request: Request) -> Decision:
        action = request.action_lower
        if self._identity_only:  # the common case: no resource policy and nothing that caps
            return self._evaluate_identity_only(request, action)
        state = EvaluationState(request, self.boundary.present)
        for layer in self._present:
            deny = _first_deny(layer.bucket(action).probes(request), request, state)
            if deny is not None:
                return self._decision(Effect.EXPLICIT_DENY, request, state, (deny,))

        identity_allow = self._first_allow(self.identity, request, state) if self.identity.present else None
        boundary_allow = self._first_allow(self.boundary, request, state) if self.boundary.present else None
        session_allow = self._first_allow(self.session, request, state) if self.session.present else None
        boundary_ok = not self.boundary.present or boundary_allow is not None
        session_ok = not self.session.present or session_allow is not None
        caps = tuple(ref for ref in (boundary_allow, session_allow) if ref is not None)
        identity_path = identity_allow is not None and boundary_ok and session_ok

        grant, grant_ref = self._resource_grant(request, state) if self.resource.present else (None, None)
        same_tenant = _same_tenant(request)

        allowed_by: tuple[StatementRef, ...] = ()
        if same_tenant and grant_ref is not None:
            if grant == Grant.ROLE and boundary_ok and session_ok:
                allowed_by = (grant_ref, *caps)
            elif grant in (Grant.EVERYONE, Grant.USER, Grant.SESSION, Grant.EXTERNAL):
                allowed_by = (grant_ref,)
        if not allowed_by and identity_path:
            assert identity_allow is not None
            if same_tenant:
                allowed_by = (identity_allow, *caps)
            elif grant_ref is not None:  # another tenant: both sides must allow
                allowed_by = (identity_allow, *caps, grant_ref)
        if allowed_by:
            return self._decision(Effect.ALLOW, request, state, allowed_by, grant)
        return self._decision(Effect.IMPLICIT_DENY, request, state, (), grant)

    def _evaluate_identity_only(self, request: Request, action: str) -> Decision:
        state = EvaluationState(request, False)
        probe = _first_applying(self.identity.bucket(action).probes(request), request, state)
        if probe is None:
            return self._decision(Effect.IMPLICIT_DENY, request, state, ())
        if probe[4]:
            return self._decision(Effect.EXPLICIT_DENY, request, state, (probe[3],))
        # Every Deny came first and none applied. Another tenant's resource needs a resource
        # policy too.
        if _same_tenant(request):
            return self._decision(Effect.ALLOW, request, state, (probe[3],))
        return self._decision(Effect.IMPLICIT_DENY, request, state, ())

    def _resource_grant(self, request: Request, state: EvaluationState,
                        ) -> tuple[str | None, StatementRef | None]:
        best: tuple[str | None, StatementRef | None] = (None, None)
        for tails, _, statement, ref, is_deny in self.resource.bucket(request.action_lower).probes(request):
            if is_deny:
                continue
            try:
                if tails is None:
                    if not statement.matches_resource(request, state):
                        continue
                elif not any(tail(request.resource_parts[5]) for tail in tails):  # type: ignore[index]
                    continue
                grant = statement.grant_for(state)
                if grant is None or not statement.conditions_hold(state):
                    continue
            except EvaluationError as exc:
                state.errors.append(f"{statement.statement.label}: {exc}")
                continue
            if best[0] is None or GRANT_STRENGTH[grant] < GRANT_STRENGTH[best[0]]:
                best = (grant, ref)
                if GRANT_STRENGTH[grant] == 0:
                    break
        return best

    def _decision(self, effect: Effect, request: Request, state: EvaluationState,
                  refs: tuple[StatementRef, ...], grant: str | None = None) -> Decision:
        return Decision(effect, request, refs,
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
