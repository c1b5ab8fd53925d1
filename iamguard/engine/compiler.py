"""Compile a validated PolicyDocument into immutable matchers, and cache the result by content."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import cachetools

from iamguard.engine import conditions, wildcard
from iamguard.engine.conditions import compile_condition
from iamguard.engine.context import EvaluationState, Request
from iamguard.engine.patterns import arn_pattern, compile_action
from iamguard.engine.wildcard import Matcher, share_tuple
from iamguard.errors import EvaluationError, Finding, PolicyError
from iamguard.policy.arn import PRINCIPAL_ID, TENANT_ID, PrincipalName, read_principal, split_arn
from iamguard.policy.jsondoc import DEFAULT_LIMITS, Limits, load_document
from iamguard.policy.model import PolicyDocument, PolicyKind, PrincipalClause, Statement, StatementEffect
from iamguard.policy.parser import clear_check_caches, parse_document
from iamguard.policy.template import tokenize


class Grant:
    """How a resource-policy statement named the request's principal. Decides which other
    policies can still cap a same-tenant grant (IAM's evaluation table)."""

    EVERYONE = "everyone"
    USER = "user"
    SESSION = "session"
    ROLE = "role"
    ACCOUNT = "account"
    EXTERNAL = "external"  # a federated or service principal named exactly


# Strongest first: a grant lower in this list is capped by more of the other policies.
GRANT_STRENGTH = {
    Grant.EVERYONE: 0, Grant.USER: 0, Grant.SESSION: 0, Grant.EXTERNAL: 0, Grant.ROLE: 1, Grant.ACCOUNT: 2,
}


class CompiledPrincipal:
    __slots__ = ("clause", "everyone", "external", "federated", "names")

    def __init__(self, clause: PrincipalClause) -> None:
        self.clause = clause
        self.everyone = clause.everyone
        self.names: list[PrincipalName] = []
        self.external: frozenset[str] = frozenset(
            entry.value for entry in clause.entries if entry.type in ("Service", "Federated")
        )
        # An identity provider's ARN principal is named only as Federated (IAM keeps principal
        # types apart): a Service entry spelled like the provider's host must not let every
        # holder of that provider's tokens in.
        self.federated: frozenset[str] = frozenset(
            entry.value for entry in clause.entries if entry.type == "Federated"
        )
        for entry in clause.entries:
            if entry.type != "AWS" or PRINCIPAL_ID.fullmatch(entry.value):
                continue  # a unique id stands for a deleted principal: it names no one who can ask
            if TENANT_ID.fullmatch(entry.value) and split_arn(entry.value) is None:
                self.names.append(PrincipalName(entry.value, "root", "", entry.value))
            else:
                self.names.append(read_principal(entry.value))

    def grant_for(self, principal: PrincipalName) -> str | None:
        """The strongest way this clause names `principal`, or None."""
        if self.everyone:
            return Grant.EVERYONE
        if principal.kind in ("external", "oidc-provider"):
            return Grant.EXTERNAL if self._names_external(principal) else None
        best: str | None = None
        for name in self.names:
            grant = _names(name, principal)
            if grant is not None and (best is None or GRANT_STRENGTH[grant] < GRANT_STRENGTH[best]):
                best = grant
        return best

    def exempts(self, principal: PrincipalName) -> bool:
        """For NotPrincipal: is `principal` excluded? IAM may check the account, then the role,
        then the session, so a principal is exempt only when every link of its chain is listed:
        a user needs its ARN and its account; a role session needs the session ARN, the role ARN
        and the account. Anything less stays denied (fail closed)."""
        if self.everyone:
            return True
        if principal.kind in ("external", "oidc-provider"):
            return self._names_external(principal)
        listed = {name.text for name in self.names if name.kind != "root"}
        accounts = {(name.partition, name.account) for name in self.names if name.kind == "root"}
        account_listed = (principal.partition, principal.account) in accounts or ("", principal.account) in accounts
        if principal.kind == "root":
            return account_listed
        if not account_listed or principal.text not in listed:
            return False
        if principal.kind == "assumed-role":
            return any(name.kind == "role" and _role_of(name, principal) for name in self.names)
        return True

    def _names_external(self, principal: PrincipalName) -> bool:
        """A provider ARN (`...:oidc-provider/idp.example.com`) is named by a Federated entry with
        that ARN or with the provider's name; any other non-IAM name by a Service or Federated
        entry spelled the same."""
        if principal.kind == "oidc-provider":
            return principal.text in self.federated or principal.name in self.federated
        return principal.text in self.external


def _role_of(role: PrincipalName, session: PrincipalName) -> bool:
    return (role.account, role.partition, role.name) == (session.account, session.partition, session.name)


def _names(entry: PrincipalName, principal: PrincipalName) -> str | None:
    if entry.kind == "root":
        if not entry.account or entry.account != principal.account:
            return None
        if entry.partition and principal.partition and entry.partition != principal.partition:
            return None
        return Grant.ACCOUNT
    if entry.text == principal.text:
        return {"user": Grant.USER, "assumed-role": Grant.SESSION, "role": Grant.ROLE}.get(principal.kind, Grant.USER)
    if entry.kind == "role" and principal.kind == "assumed-role" and _role_of(entry, principal):
        return Grant.ROLE  # a role ARN covers every session of that role
    return None


class CompiledStatement:
    """One statement as matchers. Immutable after construction; safe to share across threads."""

    __slots__ = (
        "action_matchers", "conditions", "effect", "index_accounts", "is_deny", "not_action", "not_resource",
        "any_resource", "principal", "resource_patterns", "static_resources", "statement",
    )

    def __init__(self, statement: Statement, *, variables: bool) -> None:
        self.statement = statement
        self.effect = statement.effect
        self.is_deny = statement.effect is StatementEffect.DENY
        self.not_action = statement.not_action
        # Matchers, patterns and the tuples holding them are shared between statements (see
        # share_tuple): a large policy set repeats the same few shapes.
        self.action_matchers: tuple[Matcher, ...] = share_tuple(
            tuple([compile_action(action) for action in statement.actions]))
        self.not_resource = statement.not_resource
        self.resource_patterns = share_tuple(
            tuple([arn_pattern(text, variables=variables) for text in statement.resources]))
        # (head, tail) pairs for the common static patterns, tested inline on the hot path.
        pairs = [pattern.static_pair for pattern in self.resource_patterns if pattern.static_pair is not None]
        self.static_resources: tuple[tuple[str, Matcher], ...] | None = (
            share_tuple(tuple(pairs)) if len(pairs) == len(self.resource_patterns) else None
        )
        self.any_resource = any(pattern.matches_everything for pattern in self.resource_patterns)
        self.principal = CompiledPrincipal(statement.principal) if statement.principal else None
        self.conditions = share_tuple(
            tuple([compile_condition(entry, variables=variables) for entry in statement.conditions]))
        accounts = {pattern.account for pattern in self.resource_patterns}
        # Statements whose every resource names one literal tenant are indexed under it.
        self.index_accounts: tuple[str, ...] | None = (
            tuple(sorted(accounts))  # type: ignore[arg-type]
            if accounts and None not in accounts and not self.not_resource and "" not in accounts
            else None
        )

    def matches_action(self, action_lower: str) -> bool:
        hit = any(matcher(action_lower) for matcher in self.action_matchers)
        return hit != self.not_action

    def matches_resource(self, request: Request, state: EvaluationState | None) -> bool:
        if self.any_resource:  # "*" among the resources
            return not self.not_resource
        static = self.static_resources
        if static is not None:
            resource_head = request.resource_head
            for head, tail in static:
                if resource_head == head and tail(request.resource_parts[5]):  # type: ignore[index]
                    return not self.not_resource
            return self.not_resource if static else True  # no Resource at all: a trust policy
        parts, resource_head = request.resource_parts, request.resource_head
        for pattern in self.resource_patterns:
            if pattern.match(parts, resource_head, state):
                return not self.not_resource
        return self.not_resource

    def grant_for(self, state: EvaluationState) -> str | None:
        """For statements with a Principal element: how the request principal is named."""
        assert self.principal is not None
        principal = state.request.principal_name
        if not self.principal.clause.negated:
            return self.principal.grant_for(principal)
        # NotPrincipal: applies to everyone not exempt; a principal with a permissions boundary
        # is never exempt (IAM documents this for NotPrincipal with Deny).
        if state.has_boundary or not self.principal.exempts(principal):
            return Grant.EVERYONE
        return None

    def conditions_hold(self, state: EvaluationState) -> bool:
        """A Deny tests every condition, so that an error in one is never hidden behind another
        that is false: which one is tested first must not decide whether a Deny fails closed."""
        holds = True
        for condition in self.conditions:
            if not condition.evaluate(state):
                if not self.is_deny:
                    return False
                holds = False
        return holds

    def applies(self, request: Request, state: EvaluationState) -> bool:
        """Resource, principal and conditions (the action was matched by the index).
        An error counts as applying for Deny and as not applying for Allow: never fail open."""
        try:
            if not self.matches_resource(request, state):
                return False
        except EvaluationError as exc:
            state.errors.append(f"{self.statement.label}: {exc}")
            return self.is_deny
        return self.applies_to_resource(state)

    def applies_to_resource(self, state: EvaluationState) -> bool:
        """`applies` for a request whose resource this statement is already known to match."""
        try:
            if self.principal is not None and self.grant_for(state) is None:
                return False
            return self.conditions_hold(state)
        except EvaluationError as exc:
            state.errors.append(f"{self.statement.label}: {exc}")
            return self.is_deny


@dataclass(frozen=True)
class Policy:
    """A validated, compiled, immutable policy. `evaluate` and `PolicySet` take it as is."""

    document: PolicyDocument
    statements: tuple[CompiledStatement, ...]
    digest: str
    name: str | None = None

    @property
    def kind(self) -> PolicyKind:
        return self.document.kind

    def to_dict(self) -> dict[str, Any]:
        return self.document.to_dict()

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return f"<Policy{label} {self.kind.value} {len(self.statements)} statements {self.digest[:12]}>"


def compile_document(document: PolicyDocument, digest: str, name: str | None = None) -> Policy:
    variables = document.variables_enabled
    statements = tuple(CompiledStatement(statement, variables=variables) for statement in document.statements)
    return Policy(document, statements, digest, name)


def clear_shared_caches() -> None:
    """Forget the pieces that compiled policies share (tokens, matchers, condition tests and
    conditions). Policies compiled before keep theirs; this only makes the next compile cold."""
    tokenize.cache_clear()
    clear_check_caches()
    compile_action.cache_clear()
    arn_pattern.cache_clear()
    wildcard.clear_shared()
    conditions.clear_shared()


class PolicyCache:
    """Compiled documents keyed by (kind, content hash, limits), bounded LRU, thread-safe."""

    def __init__(self, maxsize: int = 4096) -> None:
        self._cache: cachetools.LRUCache[tuple[Any, ...], Policy] = cachetools.LRUCache(maxsize=maxsize)
        self._lock = threading.Lock()

    @property
    def maxsize(self) -> int:
        return int(self._cache.maxsize)

    def resize(self, maxsize: int) -> None:
        with self._lock:
            old = self._cache
            self._cache = cachetools.LRUCache(maxsize=maxsize)
            for key, value in list(old.items())[-maxsize:]:
                self._cache[key] = value

    def clear(self) -> None:
        """Forget every compiled document, and the matchers and conditions that compiled
        documents share, so that the next compile starts cold."""
        with self._lock:
            self._cache.clear()
        clear_shared_caches()

    def __len__(self) -> int:
        return len(self._cache)

    def get_or_compile(self, source: Any, kind: PolicyKind, limits: Limits) -> Policy:
        digest = _digest(source)
        key = (kind, digest, limits)
        if digest is not None:
            with self._lock:
                cached = self._cache.get(key)
            if cached is not None:
                return cached
        data = load_document(source, limits)
        document = parse_document(data, kind, limits)
        policy = compile_document(document, digest or _digest(json.dumps(data, sort_keys=True)) or "")
        if digest is not None:
            with self._lock:
                self._cache[key] = policy
        return policy


DEFAULT_CACHE = PolicyCache()


def _digest(source: Any) -> str | None:
    if isinstance(source, str):
        raw = source.encode("utf-8", "surrogatepass")
    elif isinstance(source, (bytes, bytearray, memoryview)):
        raw = bytes(source)
    elif isinstance(source, Mapping):
        try:
            raw = json.dumps(source, sort_keys=True, separators=(",", ":"), allow_nan=True).encode(
                "utf-8", "surrogatepass")
        except (TypeError, ValueError, RecursionError):
            return None  # the loader will report what is wrong with it
    else:
        return None  # paths are read fresh: the file may change
    return hashlib.sha256(raw).hexdigest()


_KINDS = {kind.value: kind for kind in PolicyKind}


def as_kind(kind: PolicyKind | str) -> PolicyKind:
    if isinstance(kind, PolicyKind):
        return kind
    try:
        return _KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown policy kind {kind!r}; use one of {', '.join(_KINDS)}") from None


def parse_policy(
    source: Any,
    kind: PolicyKind | str = PolicyKind.IDENTITY,
    *,
    name: str | None = None,
    limits: Limits | None = None,
    cache: PolicyCache | None = None,
) -> Policy:
    """Parse, validate and compile a policy given as JSON text, bytes, a mapping or a path.

    Raises PolicyError listing every problem. Results are cached by content, so parsing the same
    document twice costs one hash.
    """
    policy_kind = as_kind(kind)
    if isinstance(source, Policy):
        return coerce_policy(source, policy_kind, name)
    # `cache or DEFAULT_CACHE` would be wrong: an empty PolicyCache is falsy (it has __len__).
    chosen = cache if cache is not None else DEFAULT_CACHE
    compiled = chosen.get_or_compile(source, policy_kind, limits or DEFAULT_LIMITS)
    return replace(compiled, name=name) if name is not None else compiled


def coerce_policy(source: Any, kind: PolicyKind, name: str | None = None) -> Policy:
    """Accept anything `parse_policy` takes, or a Policy already compiled for a compatible use."""
    if isinstance(source, Policy):
        compatible = source.kind is kind or (
            {source.kind, kind} <= {PolicyKind.RESOURCE, PolicyKind.TRUST}
        ) or ({source.kind, kind} <= {PolicyKind.IDENTITY, PolicyKind.BOUNDARY, PolicyKind.SESSION})
        if not compatible:
            raise PolicyError([Finding("", f"a {source.kind.value} policy was given where a {kind.value} "
                                           "policy is expected", "WrongPolicyKind")])
        return replace(source, name=name) if name is not None and name != source.name else source
    if isinstance(source, (os.PathLike, str, bytes, bytearray, Mapping)):
        return parse_policy(source, kind, name=name)
    raise PolicyError([Finding("", f"cannot read a policy from a {type(source).__name__}", "InvalidType")])
