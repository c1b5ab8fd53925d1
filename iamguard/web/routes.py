"""Mapping routes to IAM actions and resources.

A `RouteRule` says: requests the router dispatched to this route, with this method, ask for
`action` on the resource named by `resource` (a `ResourceTemplate`), or are public. Rules come
from a declarative `RouteMap` (method + route template) or are attached to the endpoint by a
decorator; both may be used in one app, and a route that has neither is denied.

Method rules (spec MAP-12, CSRF-02):
- HEAD is authorized exactly as GET of the same route; a rule may not name HEAD itself.
- OPTIONS never runs a protected handler: the guard answers it (204) unless a rule marks the
  route's OPTIONS public.
- A rule on GET or OPTIONS must name a read-only action: the action's verb must be one of
  `READ_VERBS` (Get, List, Describe, ...), unless the rule says `read_only=True` explicitly.
  Anything else is a startup error, so a safe method can never change state.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from iamguard.policy.arn import split_arn

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WEBSOCKET = "WEBSOCKET"  # the pseudo-method of a WebSocket handshake in rules and route maps
READ_VERBS = ("Get", "List", "Describe", "Read", "View", "Search", "Query", "Head", "Check", "Download",
              "Lookup", "Scan", "Select", "Show", "Export")
MAX_PARAMETER_LENGTH = 1024

_ACTION = re.compile(r"[A-Za-z0-9-]{1,64}:[A-Za-z][A-Za-z0-9]{0,127}", re.ASCII)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[A-Za-z_]+)?\}", re.ASCII)
_TEMPLATE_PIECE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}", re.ASCII)
_ROUTE_METHOD = re.compile(r"[A-Z]{1,20}", re.ASCII)


class RouteConfigError(ValueError):
    """A route rule or route map is inconsistent. Raised at startup, never per request."""


class TemplateError(ValueError):
    """A path value cannot be placed into a resource ARN (the request gets 400)."""


@dataclass(frozen=True)
class ResourceTemplate:
    """An ARN with `{name}` placeholders, filled per request with path values as literal text.

    The evaluator matches the request's resource as a value, never as a pattern, so `*`, `?` or
    `${` inside a path value are plain characters there. Two more rules keep a value inside the
    place the template gave it: a value may not contain `:` when it lands in one of the first
    five ARN segments (it would shift the tenant or service, spec PAT-05), and a value may not
    be empty or longer than 1 KiB.
    """

    text: str
    pieces: tuple[str | tuple[str, bool], ...]  # literal text, or (name, lands_in_a_head_segment)
    names: frozenset[str] = field(default=frozenset(), compare=False)

    @classmethod
    def parse(cls, text: str) -> ResourceTemplate:
        if not isinstance(text, str) or not text:
            raise RouteConfigError("a resource template must be a non-empty string")
        pieces: list[str | tuple[str, bool]] = []
        colons = 0
        position = 0
        for match in _TEMPLATE_PIECE.finditer(text):
            literal = text[position:match.start()]
            if literal:
                pieces.append(literal)
                colons += literal.count(":")
            pieces.append((match.group(1), colons < 5))
            position = match.end()
        tail = text[position:]
        if tail:
            pieces.append(tail)
        literals = "".join(piece for piece in pieces if isinstance(piece, str))
        if "{" in literals or "}" in literals:
            raise RouteConfigError(f"resource template {text!r}: placeholders are written {{name}}")
        if "*" in literals or "?" in literals:
            raise RouteConfigError(f"resource template {text!r}: a request names one resource; "
                                   "wildcards belong in policies")
        sample = "".join(piece if isinstance(piece, str) else "x" for piece in pieces)
        if split_arn(sample) is None:
            raise RouteConfigError(f"resource template {text!r} is not an ARN "
                                   "(arn:partition:service:region:account:resource)")
        names = frozenset(piece[0] for piece in pieces if not isinstance(piece, str))
        return cls(text, tuple(pieces), names)

    def render(self, values: Mapping[str, Any]) -> str:
        return _fill(self.text, self.pieces, values)

    def bind(self, fixed: Mapping[str, str]) -> BoundTemplate | None:
        """This template with `fixed` values (the guard's `{tenant}`, ...) put in once, leaving
        only the path parameters for each request. None when a fixed value would be refused by
        `render`: the caller then renders in full and gets that error on every request."""
        pieces: list[str | tuple[str, bool]] = []
        for piece in self.pieces:
            if not isinstance(piece, str) and piece[0] in fixed:
                try:
                    piece = _checked_value(piece[0], piece[1], fixed[piece[0]])
                except TemplateError:
                    return None
            last = pieces[-1] if pieces else None
            if isinstance(piece, str) and isinstance(last, str):
                pieces[-1] = last + piece
            else:
                pieces.append(piece)
        return BoundTemplate(self.text, tuple(pieces), self.names & frozenset(fixed))


@dataclass(frozen=True)
class BoundTemplate:
    """A `ResourceTemplate` whose fixed values are already in place (see `ResourceTemplate.bind`).
    `render(params)` gives what the template's `render({**fixed, **params})` gives, with the same
    errors, as long as no path parameter is one of `fixed_names` (the guard refuses that clash)."""

    text: str
    pieces: tuple[str | tuple[str, bool], ...]
    fixed_names: frozenset[str]

    def render(self, params: Mapping[str, Any]) -> str:
        pieces = self.pieces
        if len(pieces) == 2 and isinstance(pieces[0], str) and not isinstance(pieces[1], str):
            # The common shape, "arn:...:order/{order_id}": one literal then one parameter.
            name, in_head = pieces[1]
            if name in params:
                return pieces[0] + _checked_value(name, in_head, params[name])
        return _fill(self.text, pieces, params)


def _checked_value(name: str, in_head: bool, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if not text:
        raise TemplateError(f"path parameter {name!r} is empty")
    if len(text) > MAX_PARAMETER_LENGTH:
        raise TemplateError(f"path parameter {name!r} is too long")
    if in_head and ":" in text:
        raise TemplateError(f"path parameter {name!r} may not contain ':'")
    return text


def _fill(template_text: str, pieces: tuple[str | tuple[str, bool], ...], values: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for piece in pieces:
        if isinstance(piece, str):
            parts.append(piece)
            continue
        name, in_head = piece
        if name not in values:
            raise RouteConfigError(f"resource template {template_text!r} needs {{{name}}}, which neither the "
                                   "route's path parameters nor the guard's template values provide")
        parts.append(_checked_value(name, in_head, values[name]))
    return "".join(parts)


ContextProvider = Callable[..., Any]  # (ContextInput) -> Mapping | Awaitable[Mapping]; see guard.py


def _verb(action: str) -> str:
    return action.split(":", 1)[1]


def is_read_action(action: str) -> bool:
    verb = _verb(action)
    return any(verb.startswith(prefix) and (len(verb) == len(prefix) or verb[len(prefix)].isupper()
                                            or verb[len(prefix)].isdigit())
               for prefix in READ_VERBS)


@dataclass(frozen=True)
class RouteRule:
    """What one route (or one method of it) requires. Build with `rule()` or `public()`."""

    action: str | None
    resource: ResourceTemplate | None
    methods: frozenset[str] | None = None  # None: every method of the route it is attached to
    path: str | None = None  # the route template, for route maps; None for decorators
    public: bool = False
    read_only: bool | None = None
    context: tuple[ContextProvider, ...] = field(default=(), compare=False)

    def covers(self, method: str) -> bool:
        return self.methods is None or method in self.methods

    def describe(self) -> str:
        if self.public:
            return "public"
        return f"{self.action} on {self.resource.text if self.resource else '?'}"


def _methods(methods: str | Iterable[str] | None) -> frozenset[str] | None:
    if methods is None:
        return None
    names = [methods] if isinstance(methods, str) else list(methods)
    result = set()
    for name in names:
        if not isinstance(name, str) or not _ROUTE_METHOD.fullmatch(name):
            raise RouteConfigError(f"method {name!r} must be an upper-case name such as 'GET'")
        if name == "HEAD":
            raise RouteConfigError("HEAD is authorized as GET of the same route; map GET instead")
        result.add(name)
    if not result:
        raise RouteConfigError("a rule needs at least one method (or None for every method)")
    return frozenset(result)


def _check_safe_methods(action: str, methods: frozenset[str] | None, read_only: bool | None) -> None:
    if read_only is True or is_read_action(action):
        return
    safe = (methods or frozenset()) & SAFE_METHODS
    if methods is not None and safe:
        raise RouteConfigError(
            f"action {action!r} does not look read-only (its verb is not one of {', '.join(READ_VERBS)}) "
            f"but is mapped to {', '.join(sorted(safe))}: safe methods must not change state (CSRF-02). "
            "Use POST/PUT/PATCH/DELETE, or pass read_only=True if the action really changes nothing.")


def rule(action: str, resource: str | ResourceTemplate, *, methods: str | Iterable[str] | None = None,
         path: str | None = None, read_only: bool | None = None,
         context: Sequence[ContextProvider] = ()) -> RouteRule:
    """A protected rule. `methods=None` (decorators only) covers every method of the route; the
    safe-method check then runs when the route's methods are known (see `check_route_method`)."""
    if not isinstance(action, str) or not _ACTION.fullmatch(action):
        raise RouteConfigError(f"action {action!r} must look like 'service:ActionName' (no wildcards)")
    template = resource if isinstance(resource, ResourceTemplate) else ResourceTemplate.parse(resource)
    method_set = _methods(methods)
    _check_safe_methods(action, method_set, read_only)
    if path is not None:
        _check_path_template(path)
    return RouteRule(action, template, method_set, path, False, read_only, tuple(context))


def public(*, methods: str | Iterable[str] | None = None, path: str | None = None) -> RouteRule:
    """A rule that lets requests through unauthenticated, with an anonymous principal."""
    if path is not None:
        _check_path_template(path)
    return RouteRule(None, None, _methods(methods), path, True)


def _check_path_template(path: str) -> None:
    if not isinstance(path, str) or not (path == "" or path.startswith("/")):
        raise RouteConfigError(f"route template {path!r} must start with '/'")


def path_parameters(route_template: str) -> frozenset[str]:
    return frozenset(match.group(1) for match in _PLACEHOLDER.finditer(route_template))


def check_route_method(rule_: RouteRule, method: str) -> None:
    """Raise RouteConfigError when a rule attached without methods lands on a safe method."""
    if rule_.public or rule_.action is None:
        return
    if method in SAFE_METHODS:
        _check_safe_methods(rule_.action, frozenset({method}), rule_.read_only)


def lookup_method(method: str) -> str:
    """HEAD is decided as GET (MAP-12)."""
    return "GET" if method == "HEAD" else method


# Versions are drawn from one counter for every map, so that no two states of any two maps share a
# version: a map put in place of another (`guard.routes = RouteMap(...)`) never looks unchanged to
# a caller that kept only the number (the VerdictMemo).
_VERSIONS = itertools.count(1)


class RouteMap:
    """Rules keyed by (method, route template). Templates are compared exactly as the router
    spells them (case-sensitive, `{name}` or `{name:convertor}` as written on the route)."""

    def __init__(self, rules: Iterable[RouteRule] = ()) -> None:
        self._rules: dict[tuple[str, str], RouteRule] = {}
        self._any_method: dict[str, RouteRule] = {}
        self.version = next(_VERSIONS)  # moves on every add: lets callers keep lookup results until it does
        for item in rules:
            self.add(item)

    def add(self, item: RouteRule) -> None:
        self.version = next(_VERSIONS)
        if item.path is None:
            raise RouteConfigError("a route map rule needs path=... (the route template it protects)")
        if item.methods is None:
            if item.path in self._any_method or any(path == item.path for _, path in self._rules):
                raise RouteConfigError(f"route {item.path!r} is mapped twice")
            self._any_method[item.path] = item
            return
        if item.path in self._any_method:
            raise RouteConfigError(f"route {item.path!r} is mapped twice")
        for method in item.methods:
            key = (method, item.path)
            if key in self._rules:
                raise RouteConfigError(f"{method} {item.path} is mapped twice")
            self._rules[key] = item

    def lookup(self, method: str, path: str | None) -> RouteRule | None:
        if path is None:
            return None
        found = self._rules.get((lookup_method(method), path))
        return found if found is not None else self._any_method.get(path)

    def __iter__(self) -> Any:
        seen: set[int] = set()
        for item in (*self._rules.values(), *self._any_method.values()):
            if id(item) not in seen:
                seen.add(id(item))
                yield item

    def __len__(self) -> int:
        return len(list(iter(self)))


# Decorator metadata: adapters attach rules to endpoints with `attach_rule` and read them back
# with `rules_of`, so every framework shares one representation.
_RULES_ATTRIBUTE = "__iamguard_rules__"


def attach_rule(target: Any, item: RouteRule) -> None:
    existing: tuple[RouteRule, ...] = getattr(target, _RULES_ATTRIBUTE, ())
    for other in existing:
        overlap = other.methods is None or item.methods is None or (other.methods & item.methods)
        if overlap:
            raise RouteConfigError(f"{getattr(target, '__qualname__', target)!r} has two iamguard rules "
                                   "for the same method")
    setattr(target, _RULES_ATTRIBUTE, (*existing, item))


def rules_of(target: Any) -> tuple[RouteRule, ...]:
    rules: Any = getattr(target, _RULES_ATTRIBUTE, ())
    return rules if isinstance(rules, tuple) else ()


@dataclass(frozen=True)
class RouteReport:
    """One line of the route listing: what a route and method map to, and what is wrong."""

    method: str
    path: str
    name: str | None
    rule: RouteRule | None
    problem: str | None = None  # "unmapped", "conflict: ...", "ambiguous: ...", or a configuration error
    host: str | None = None  # the host pattern the route is under, when the router matches hosts

    @property
    def ok(self) -> bool:
        return self.problem is None

    def __str__(self) -> str:
        mapping = self.rule.describe() if self.rule else "-"
        flag = f"  !! {self.problem}" if self.problem else ""
        where = f"{self.host}{self.path}" if self.host else self.path
        return f"{self.method:<9} {where:<40} {mapping}{flag}"


class UnmappedRoutesError(RouteConfigError):
    def __init__(self, reports: Sequence[RouteReport]) -> None:
        self.reports = tuple(reports)
        lines = "\n".join(f"  {report}" for report in self.reports)
        super().__init__(f"{len(self.reports)} route(s) have no usable iamguard mapping:\n{lines}")


def protect(action: str, resource: str, *, methods: str | Iterable[str] | None = None,
            read_only: bool | None = None, context: Sequence[ContextProvider] = ()) -> Callable[[Any], Any]:
    """A decorator that attaches a rule to an endpoint without wrapping it (adapters read it back
    with `rules_of`). Framework decorators build on it."""
    item = rule(action, resource, methods=methods, read_only=read_only, context=context)

    def attach(target: Any) -> Any:
        attach_rule(target, item)
        return target

    return attach


def mark_public(target: Any = None, *, methods: str | Iterable[str] | None = None) -> Any:
    """`@mark_public` or `@mark_public(methods=[...])`: the endpoint needs no authentication."""
    item = public(methods=methods)

    def attach(endpoint: Any) -> Any:
        attach_rule(endpoint, item)
        return endpoint

    return attach(target) if target is not None else attach
