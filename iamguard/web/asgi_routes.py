"""Which route will a Starlette or FastAPI router dispatch this ASGI scope to?

The answer is computed with the router's own matching: every route's `matches(scope)` on the
scope the router will see (so `root_path`, mounts, hosts and converters behave exactly as in
dispatch), walked in the router's order: the first full match wins, else the first partial
match (405), else the trailing-slash redirect, else FastAPI's low-priority routes, else the
router's default (spec MAP-01, MAP-10). Nothing here parses the path itself.

This module is duck-typed so that it needs neither starlette nor fastapi to import; the only
private FastAPI API it touches is the included-router matching (`_IncludedRouter._match`,
`effective_candidates`, `APIRouter._match_low_priority`), and anything unexpected there makes the
request unmappable, which the guard denies.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from iamguard.web.inventory import RouteEntry
from iamguard.web.routes import WEBSOCKET, RouteRule, rules_of
from iamguard.web.target import DEFAULT_METHODS
from iamguard.web.values import quick_init

_FULL, _PARTIAL, _NONE = "FULL", "PARTIAL", "NONE"


def _starlette_classes() -> tuple[frozenset[type], frozenset[type], dict[int, str]]:
    """Route classes whose `matches(scope)` only reads the scope: starlette's own, exactly (a
    subclass may override it, and FastAPI's routes keep matching state in the scope); those of
    them that are endpoints (not mounts or hosts); and starlette's Match members by identity (an
    Enum member's `.name` goes through a Python-level descriptor)."""
    try:
        from starlette import routing
    except ImportError:  # this module is duck-typed; without starlette every route gets a copy
        return frozenset(), frozenset(), {}
    leaves = frozenset({routing.Route, routing.WebSocketRoute})
    names = {id(member): member.name for member in routing.Match}
    return leaves | {routing.Mount, routing.Host}, leaves, names


_PURE_MATCHERS, _PURE_LEAVES, _MATCH_NAMES = _starlette_classes()


@quick_init
@dataclass(frozen=True)
class RouteMatch:
    """The route the router will run: its template (mount prefixes included, converters
    dropped), the converted path parameters, and the rules its endpoint declares."""

    template: str
    params: dict[str, Any]
    declared: tuple[RouteRule, ...]
    route: Any = field(repr=False)
    partial: bool = False
    methods: frozenset[str] | None = None
    dependant: Any = field(default=None, repr=False, compare=False)  # FastAPI's, when the route has one


@quick_init
@dataclass(frozen=True)
class NoRoute:
    """No route matched. `safe` is True when the router's answer runs no endpoint (404 or a
    trailing-slash redirect); otherwise the request must be treated as unmapped."""

    safe: bool


def _match_name(match: Any) -> str:
    known = _MATCH_NAMES.get(id(match))  # enum members live as long as their class: ids are stable
    return known if known is not None else str(getattr(match, "name", match))


def _is_included_router(route: Any) -> bool:
    return hasattr(route, "_match") and hasattr(route, "original_router") and hasattr(route, "effective_candidates")


def _probe(scope: Mapping[str, Any]) -> dict[str, Any]:
    """A copy the routers may write into (FastAPI keeps matching state in scope["fastapi"])."""
    copy = dict(scope)
    if isinstance(copy.get("fastapi"), dict):
        copy["fastapi"] = dict(copy["fastapi"])
    return copy


def _mount_prefix(route: Any) -> str:
    path_format: str = getattr(route, "path_format", "")
    return path_format[: -len("/{path}")] if path_format.endswith("/{path}") else getattr(route, "path", "")


def _sub_routes(route: Any) -> list[Any] | None:
    """The routes behind a Mount or Host, or None when it wraps an opaque ASGI app."""
    routes = getattr(route, "routes", None)
    return list(routes) if routes else None


def _inner_router(route: Any) -> Any:
    app = getattr(route, "_base_app", None) or getattr(route, "app", None)
    return getattr(app, "router", app)


def _handler(endpoint: Any, method: str) -> Any:
    """For class-based endpoints, the method that will handle the request (as Starlette picks it)."""
    if not isinstance(endpoint, type):
        return None
    if method == "HEAD" and not hasattr(endpoint, "head"):
        return getattr(endpoint, "get", None)
    if method == WEBSOCKET:
        # A WebSocketEndpoint's handshake runs `on_connect`: a rule declared there is the route's.
        return getattr(endpoint, "on_connect", None)
    return getattr(endpoint, method.lower(), None)


def _dependency_rules(dependant: Any) -> list[RouteRule]:
    found: list[RouteRule] = []
    stack = [dependant] if dependant is not None else []
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for sub in getattr(current, "dependencies", ()) or ():
            found.extend(rules_of(getattr(sub, "call", None)))
            stack.append(sub)
    return found


_DECLARED: dict[tuple[int, int, int, str], tuple[Any, Any, Any, tuple[RouteRule, ...]]] = {}
_DECLARED_LIMIT = 4096


def declared_rules(endpoint: Any, method: str, dependant: Any = None, extra: Any = None) -> tuple[RouteRule, ...]:
    """The rules attached to an endpoint (and its class-based handler, dependencies, mounted app).
    Memoized per object identity: endpoints do not change once routed, and the entry keeps the
    objects alive so an identity is never reused for another object while cached."""
    key = (id(endpoint), id(dependant), id(extra), method)
    cached = _DECLARED.get(key)
    if cached is not None and cached[0] is endpoint and cached[1] is dependant and cached[2] is extra:
        return cached[3]
    rules = _collect_rules(endpoint, method, dependant, extra)
    if len(_DECLARED) >= _DECLARED_LIMIT:
        _DECLARED.clear()
    _DECLARED[key] = (endpoint, dependant, extra, rules)
    return rules


def _collect_rules(endpoint: Any, method: str, dependant: Any, extra: Any) -> tuple[RouteRule, ...]:
    rules: list[RouteRule] = [*rules_of(endpoint), *rules_of(_handler(endpoint, method))]
    if extra is not None:
        rules.extend(rules_of(extra))
    rules.extend(_dependency_rules(dependant))
    unique: list[RouteRule] = []
    for item in rules:
        if not any(item is other for other in unique):
            unique.append(item)
    return tuple(unique)


def _leaf(route: Any, template: str, params: dict[str, Any], method: str, *, partial: bool,
          context: Any = None) -> RouteMatch:
    source = context if context is not None else route
    endpoint = getattr(source, "endpoint", None) or getattr(route, "endpoint", None)
    dependant = getattr(source, "dependant", None) or getattr(route, "dependant", None)
    methods = getattr(source, "methods", None) or getattr(route, "methods", None)
    declared = declared_rules(endpoint, method, dependant, route if endpoint is None else None)
    return RouteMatch(template, params, declared, route, partial, frozenset(methods) if methods else None,
                      dependant)


def _pick(routes: list[Any], scope: dict[str, Any], prefix: str, method: str,
          router: Any) -> RouteMatch | NoRoute:
    partial: tuple[Any, dict[str, Any]] | None = None
    others: list[Any] = []  # later partial matches: their methods belong in the 405's Allow too
    for route in routes:
        match, child = route.matches(scope if type(route) in _PURE_MATCHERS else _probe(scope))
        name = _match_name(match)
        if name == _FULL:
            return _descend(route, scope, child, prefix, method, partial=False)
        if name == _PARTIAL:
            if partial is None:
                partial = (route, child)
            else:
                others.append(route)
    if partial is not None:
        found = _descend(partial[0], scope, partial[1], prefix, method, partial=True)
        if others and isinstance(found, RouteMatch) and found.partial and found.methods is not None:
            # Several routes share the path with other methods (the router dispatches the first):
            # the resource allows every method of them all.
            methods = set(found.methods)
            for route in others:
                methods |= _methods_of(route) or frozenset()
            found = dataclasses.replace(found, methods=frozenset(methods))
        return found
    return _no_route(routes, scope, prefix, method, router)


def _is_mount(route: Any) -> bool:
    return hasattr(route, "routes") and hasattr(route, "path_format") and not hasattr(route, "host")


def _is_host(route: Any) -> bool:
    return hasattr(route, "routes") and hasattr(route, "host")


def _base_app(route: Any) -> Any:
    return getattr(route, "_base_app", None) or getattr(route, "app", None)


# What a plain route (not a mount, host or included router) means for a method and mount prefix:
# its template, declared rules and methods. Routes do not change once an app serves requests;
# each entry keeps the route, endpoint and dependant it was computed for and serves only them.
_LEAVES: dict[tuple[int, str, str], tuple[Any, Any, Any, str, tuple[RouteRule, ...], frozenset[str] | None]] = {}


def _plain_leaf(route: Any, prefix: str, method: str) -> tuple[str, tuple[RouteRule, ...], frozenset[str] | None]:
    key = (id(route), method, prefix)
    endpoint = getattr(route, "endpoint", None)
    dependant = getattr(route, "dependant", None)
    cached = _LEAVES.get(key)
    if cached is not None and cached[0] is route and cached[1] is endpoint and cached[2] is dependant:
        return cached[3], cached[4], cached[5]
    template = prefix + (getattr(route, "path_format", None) or getattr(route, "path", "") or "")
    declared = declared_rules(endpoint, method, dependant)
    methods = _methods_of(route)
    if len(_LEAVES) >= _DECLARED_LIMIT:
        _LEAVES.clear()
    _LEAVES[key] = (route, endpoint, dependant, template, declared, methods)
    return template, declared, methods


def _descend(route: Any, scope: dict[str, Any], child: dict[str, Any], prefix: str, method: str, *,
             partial: bool) -> RouteMatch | NoRoute:
    if type(route) in _PURE_LEAVES:
        # The common case, without merging scopes: a plain route's parameters are its child's.
        params = dict(child["path_params"] if "path_params" in child else scope.get("path_params", {}))
        template, declared, methods = _plain_leaf(route, prefix, method)
        return RouteMatch(template, params, declared, route, partial, methods)
    if _is_included_router(route):
        return _included(route, scope, prefix, method)
    merged = {**scope, **_plain(child)}
    params = dict(merged.get("path_params", {}))
    if _is_mount(route) or _is_host(route):
        inner_prefix = prefix + _mount_prefix(route) if _is_mount(route) else prefix
        routes = _sub_routes(route)
        if routes is not None:  # dispatch continues in the routes behind the mount or host
            return _pick(routes, merged, inner_prefix, method, _inner_router(route))
        # An opaque ASGI app (static files, another framework): mapped as one route.
        declared = declared_rules(None, method, None, _base_app(route)) + rules_of(route)
        return RouteMatch(inner_prefix + "/{path}", params, declared, route, partial, None)
    template, declared, methods = _plain_leaf(route, prefix, method)
    return RouteMatch(template, params, declared, route, partial, methods)


def _methods_of(route: Any) -> frozenset[str] | None:
    methods = getattr(route, "methods", None)
    if methods:
        return frozenset(methods)
    # An HTTP route without a method list (a class endpoint): the methods its class answers.
    return _class_methods(getattr(route, "endpoint", None)) if hasattr(route, "methods") else None


def _class_methods(endpoint: Any) -> frozenset[str] | None:
    """The methods a class endpoint (starlette's HTTPEndpoint) answers, as it dispatches them: a
    handler named after the method in lower case, and HEAD with `get`. Starlette leaves such a
    route's `methods` unset and the class answers every other method 405 itself: without this, a
    405 or a preflight from the guard had no `Allow` (RFC 9110 15.5.6), and the route listing
    flagged every method the class does not define as unmapped (Django and Flask list only the
    handlers a class defines). None when `endpoint` is not a class or defines no handler."""
    if not isinstance(endpoint, type):
        return None
    names = {method for method in DEFAULT_METHODS if callable(getattr(endpoint, method.lower(), None))}
    if "GET" in names:
        names.add("HEAD")
    return frozenset(names) or None


def _included(route: Any, scope: dict[str, Any], prefix: str, method: str) -> RouteMatch | NoRoute:
    probe = _probe(scope)
    match, child, inner, context = route._match(probe)
    name = _match_name(match)
    if name == _NONE or inner is None:
        return NoRoute(safe=_default_is_not_found(getattr(route, "original_router", None)))
    if _is_included_router(inner):
        return _included(inner, {**scope, **_plain(child)}, prefix, method)
    merged = {**scope, **_plain(child)}
    params = dict(merged.get("path_params", {}))
    starlette_route = getattr(context, "starlette_route", None) if context is not None else None
    if starlette_route is not None and _sub_routes(starlette_route) is not None:
        return _descend(starlette_route, scope, _plain(child), prefix, method, partial=name == _PARTIAL)
    template = prefix + (getattr(context, "path_format", None) or getattr(inner, "path_format", "") or "")
    return _leaf(inner, template, params, method, partial=name == _PARTIAL, context=context)


def _path_fields(dependant: Any) -> list[Any]:
    """The path-parameter fields of a FastAPI dependant and of all its sub-dependencies."""
    found: list[Any] = []
    stack = [dependant]
    seen: set[int] = set()
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        found.extend(getattr(current, "path_params", None) or ())
        stack.extend(getattr(current, "dependencies", None) or ())
    return found


def _canonical_text(value: Any) -> str:
    if isinstance(value, enum.Enum):
        value = value.value
    return value if isinstance(value, str) else str(value)


def reparsed_parameter(dependant: Any, params: Mapping[str, Any]) -> str | None:
    """The first path parameter FastAPI would hand to the endpoint (or a dependency) as another
    value than the router's text, or None.

    FastAPI validates path parameters again after routing, with the endpoint's annotations:
    `order_id: int` reads "007", "+7" and "7_0" as 7 and 70. The ARN holds the router's text, so
    such a spelling would be authorized as one object while the handler acts on another (MAP-01).
    Values FastAPI refuses are left to it (422: no handler runs). Raises when FastAPI's internals
    are not what this expects; the caller denies then."""
    fields = _path_fields(dependant)
    if not fields:
        return None
    from fastapi.dependencies.utils import request_params_to_args

    for item in fields:
        values, errors = request_params_to_args([item], params)
        if errors or item.name not in values:
            continue
        name = getattr(item, "alias", None) or item.name
        sent = params.get(name)
        if _canonical_text(values[item.name]) != _canonical_text(sent):
            return str(name)
    return None


def _plain(child: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in child.items() if key != "fastapi"}


def _default_is_not_found(router: Any) -> bool:
    if router is None:
        return False
    default = getattr(router, "default", None)
    not_found = getattr(router, "not_found", None)
    return default is not None and default == not_found


def _no_route(routes: list[Any], scope: dict[str, Any], prefix: str, method: str,
              router: Any) -> RouteMatch | NoRoute:
    if router is None:
        return NoRoute(safe=False)
    if scope.get("type") == "http" and getattr(router, "redirect_slashes", False) and _route_path(scope) != "/":
        redirect = dict(scope)
        path: str = redirect["path"]
        redirect["path"] = path.rstrip("/") if _route_path(scope).endswith("/") else path + "/"
        for route in routes:
            match, _ = route.matches(_probe(redirect))
            if _match_name(match) != _NONE:
                return NoRoute(safe=True)  # the router answers with a redirect, running no endpoint
    low_priority = getattr(router, "_match_low_priority", None)
    if low_priority is not None:
        match, child, route, context = low_priority(_probe(scope))
        if _match_name(match) != _NONE and route is not None:
            merged = {**scope, **_plain(child)}
            template = prefix + (getattr(context, "path_format", None) or getattr(route, "path_format", "") or "")
            return _leaf(route, template, dict(merged.get("path_params", {})), method,
                         partial=_match_name(match) == _PARTIAL, context=context)
    return NoRoute(safe=_default_is_not_found(router))


def _route_path(scope: dict[str, Any]) -> str:
    # The same arithmetic as starlette's get_route_path: the router matches path minus root_path.
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and (path == root_path or path[len(root_path)] == "/"):
        return path[len(root_path):]
    return path


def find_router(app: Any) -> Any:
    """The router of a Starlette/FastAPI app, a Router itself, or None."""
    router = getattr(app, "router", None)
    if router is not None and hasattr(router, "routes"):
        return router
    if hasattr(app, "routes") and not hasattr(app, "matches"):
        return app
    return None


# FastAPI's endpoint routes match as starlette's do, plus matching state that FastAPI's own
# included routers leave in scope["fastapi"] (absent from a scope no router has seen yet). Named,
# not imported: importing FastAPI is slow, and an app that does not use it has none of them.
_FASTAPI_LEAVES = frozenset({("fastapi.routing", "APIRoute"), ("fastapi.routing", "APIWebSocketRoute")})


def reads_scope_only(router: Any) -> bool:
    """Whether `resolve` answers from the scope's type, method, path, root path, headers, path
    parameters and FastAPI matching state alone, for every request: each route of the router,
    behind every mount and host, is one of starlette's own route classes or FastAPI's endpoint
    routes exactly (FastAPI's included routers match lazily; any other class may read anything)."""
    pending = list(getattr(router, "routes", None) or ())
    seen: set[int] = set()
    while pending:
        route = pending.pop()
        kind = type(route)
        if kind not in _PURE_MATCHERS and (kind.__module__, kind.__qualname__) not in _FASTAPI_LEAVES:
            return False
        if id(route) not in seen:  # an app mounted inside itself is walked once
            seen.add(id(route))
            pending.extend(_sub_routes(route) or ())
    return True


def resolve(router: Any, scope: Mapping[str, Any]) -> RouteMatch | NoRoute:
    method = WEBSOCKET if scope.get("type") == "websocket" else scope.get("method", "")
    # One private copy of the scope for the whole walk: starlette's own routes only read it (and
    # were they to write, they would write into this copy, in the router's order, as they would
    # into the scope the router walks); other routes each get a copy of their own. The routes are
    # the router's own list, walked as the router walks it.
    return _pick(router.routes, _probe(scope), "", method, router)


# ---- inventory: every route of an app, for the listing and the strict startup check ----------

def route_entries(router: Any) -> list[RouteEntry]:
    return list(_entries(list(router.routes), "", frozenset(), None))


def _params_of(route: Any) -> frozenset[str]:
    convertors = getattr(route, "param_convertors", None) or {}
    names = frozenset(convertors)
    return names - {"path"} if _is_mount(route) else names


def _entries(routes: list[Any], prefix: str, params: frozenset[str], host: str | None) -> Iterator[RouteEntry]:
    for route in routes:
        if _is_included_router(route):
            yield from _included_entries(route, prefix, params, host)
            continue
        yield from _route_entries(route, prefix, params, None, host)


def _included_entries(route: Any, prefix: str, params: frozenset[str], host: str | None) -> Iterator[RouteEntry]:
    for candidate in route.effective_candidates():
        if _is_included_router(candidate):
            yield from _included_entries(candidate, prefix, params, host)
            continue
        starlette_route = getattr(candidate, "starlette_route", None)
        original = getattr(candidate, "original_route", None)
        if starlette_route is not None:
            yield from _route_entries(starlette_route, prefix, params, None, host)
        elif original is not None:
            yield from _route_entries(original, prefix, params, candidate, host)


def _route_entries(route: Any, prefix: str, params: frozenset[str], context: Any,
                   host: str | None) -> Iterator[RouteEntry]:
    """`host`: the pattern of the innermost `Host()` the route is under. Route templates (and so
    route-map keys) leave the host out; the listing keeps it to flag a route-map rule that
    would apply to routes under several hosts."""
    own = params | _params_of(route)
    name = getattr(route, "name", None)
    if _is_mount(route) or _is_host(route):
        inner_prefix = prefix + _mount_prefix(route) if _is_mount(route) else prefix
        inner_host = str(route.host) if _is_host(route) else host
        routes = _sub_routes(route)
        if routes is not None:
            yield from _entries(routes, inner_prefix, own, inner_host)
            return
        declared = rules_of(_base_app(route)) + rules_of(route)
        for method in sorted(DEFAULT_METHODS - {"HEAD", "OPTIONS"}):
            yield RouteEntry(method, inner_prefix + "/{path}", name, own, declared, inner_host)
        return
    source = context if context is not None else route
    template = prefix + (getattr(source, "path_format", None) or getattr(route, "path_format", "") or "")
    endpoint = getattr(source, "endpoint", None) or getattr(route, "endpoint", None)
    dependant = getattr(source, "dependant", None) or getattr(route, "dependant", None)
    if not hasattr(route, "methods"):  # a WebSocket route
        yield RouteEntry(WEBSOCKET, template, name, own, declared_rules(endpoint, WEBSOCKET, dependant), host)
        return
    methods = getattr(source, "methods", None) or getattr(route, "methods", None) or _class_methods(endpoint)
    for method in sorted(methods or DEFAULT_METHODS):
        yield RouteEntry(method, template, name, own, declared_rules(endpoint, method, dependant), host)
