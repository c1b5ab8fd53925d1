"""Listing an app's routes with their mapping, and the strict startup check (spec MAP-11).

Adapters enumerate their framework's routes as `RouteEntry` values (method, route template,
parameter names, rules declared on the endpoint); `inspect_routes` says, for each, which rule
applies and what is wrong: no rule ("unmapped"), two different rules, a mutating action on a
safe method, or a resource template that needs a value the route does not provide.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from iamguard.web.routes import (
    WEBSOCKET,
    RouteConfigError,
    RouteMap,
    RouteReport,
    RouteRule,
    check_route_method,
    lookup_method,
)


@dataclass(frozen=True)
class RouteEntry:
    method: str  # an HTTP method, or "WEBSOCKET"
    path: str  # the full route template, mount prefixes included
    name: str | None = None
    params: frozenset[str] = frozenset()
    declared: tuple[RouteRule, ...] = ()
    host: str | None = None  # the host pattern the route is under (Starlette `Host`, Flask host matching)


def inspect_route(entry: RouteEntry, routes: RouteMap, fixed: Mapping[str, str]) -> RouteReport:
    method = entry.method if entry.method == WEBSOCKET else lookup_method(entry.method)
    declared = [item for item in entry.declared if item.covers(method)]
    mapped = routes.lookup(method, entry.path)
    candidates = [*declared, *([mapped] if mapped is not None else [])]
    if not candidates:
        if entry.method == "OPTIONS":
            return RouteReport(entry.method, entry.path, entry.name, None, None)  # answered by the guard
        return RouteReport(entry.method, entry.path, entry.name, None, "unmapped")
    chosen = candidates[0]
    if any(item != chosen for item in candidates[1:]):
        return RouteReport(entry.method, entry.path, entry.name, chosen,
                           "conflict: the route map and the endpoint declare different rules")
    if chosen.public:
        return RouteReport(entry.method, entry.path, entry.name, chosen)
    if entry.method == "OPTIONS":
        return RouteReport(entry.method, entry.path, entry.name, chosen)  # never reaches the handler
    try:
        check_route_method(chosen, method)
    except RouteConfigError as exc:
        return RouteReport(entry.method, entry.path, entry.name, chosen, str(exc))
    if chosen.resource is not None:
        needed = chosen.resource.names
        missing = needed - entry.params - fixed.keys()
        if missing:
            return RouteReport(entry.method, entry.path, entry.name, chosen,
                               f"the resource template needs {sorted(missing)}, which the route does not provide")
        clash = needed & entry.params & fixed.keys()
        if clash:
            return RouteReport(entry.method, entry.path, entry.name, chosen,
                               f"{sorted(clash)} is both a path parameter and a fixed template value")
    return RouteReport(entry.method, entry.path, entry.name, chosen)


def inspect_routes(entries: Iterable[RouteEntry], routes: RouteMap,
                   fixed: Mapping[str, str]) -> list[RouteReport]:
    """Every entry's report. Route-map keys are a method and a template, without the host: a
    route-map rule whose template names routes under two different hosts (or under a host and
    under none) would protect them all alike, whatever was meant for one of them, so each of
    those routes is flagged "ambiguous" (declare the rule on the endpoints instead)."""
    listed = list(entries)
    hosts: dict[tuple[str, str], set[str | None]] = {}
    for entry in listed:
        hosts.setdefault((_method_key(entry.method), entry.path), set()).add(entry.host)
    reports = []
    for entry in listed:
        report = inspect_route(entry, routes, fixed)
        seen = hosts[(_method_key(entry.method), entry.path)]
        if len(seen) > 1 and routes.lookup(_method_key(entry.method), entry.path) is not None:
            names = ", ".join(sorted(host or "(any host)" for host in seen))
            report = replace(report, problem=f"ambiguous: the route-map rule for {entry.method} {entry.path} "
                                             f"applies to routes under several hosts ({names}); declare the "
                                             "rule on each endpoint instead")
        reports.append(replace(report, host=entry.host) if entry.host is not None else report)
    return reports


def _method_key(method: str) -> str:
    return method if method == WEBSOCKET else lookup_method(method)
