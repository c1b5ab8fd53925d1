"""What Werkzeug's routing result means to the guard: route templates, declared rules and the
route inventory.

Route templates are written `{name}` in iamguard whatever the framework's spelling, so one route
map serves every adapter: Werkzeug's `/orders/<int:order_id>` is `/orders/{order_id}`. Only the
rule's own text is translated; the request path is never parsed here (spec MAP-01).

Rules are declared on the view function (`@iam.require`, `@iam.public`), on a `MethodView`'s
handler method, or on a blueprint (a default for every view in it). The most specific level that
has a rule for the request's method wins: view, then the innermost blueprint outwards.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from iamguard.web import RouteEntry, RouteRule, rules_of
from iamguard.web.routes import lookup_method

# <name>, <converter:name> and <converter(arguments):name>, as Werkzeug writes variables in a rule.
_VARIABLE = re.compile(r"<(?:[A-Za-z_][A-Za-z0-9_]*(?:\([^)]*\))?:)?([A-Za-z_][A-Za-z0-9_]*)>", re.ASCII)


@lru_cache(maxsize=4096)
def route_template(rule_text: str) -> str:
    """`/orders/<int:order_id>` -> `/orders/{order_id}`."""
    return _VARIABLE.sub(lambda match: "{" + match.group(1) + "}", rule_text)


def _handler(view: Any, method: str) -> Any:
    """For a class-based view, the method that will handle the request (as Flask picks it)."""
    view_class = getattr(view, "view_class", None)
    if view_class is None:
        return None
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(view_class, "get", None)
    return handler


def _covers(rules: Sequence[RouteRule], method: str) -> bool:
    return any(item.covers(method) for item in rules)


def declared_rules(view: Any, method: str, blueprints: Iterable[Any]) -> tuple[RouteRule, ...]:
    """The rules that apply to `method` on `view`: the view's own (function or handler method)
    when one covers the method, else those of the innermost blueprint that has one."""
    lookup = lookup_method(method)
    own = (*rules_of(view), *rules_of(_handler(view, method)))
    if _covers(own, lookup):
        return own
    for blueprint in blueprints:
        inherited = rules_of(blueprint)
        if _covers(inherited, lookup):
            return inherited
    return own


def blueprint_chain(app: Any, endpoint: str | None) -> list[Any]:
    """The blueprints an endpoint belongs to, innermost first (Flask's `request.blueprints`
    order, computed from the endpoint name so the inventory needs no request)."""
    if not endpoint or "." not in endpoint:
        return []
    names = endpoint.rsplit(".", 1)[0].split(".")
    chain = []
    for index in range(len(names), 0, -1):
        blueprint = app.blueprints.get(".".join(names[:index]))
        if blueprint is not None:
            chain.append(blueprint)
    return chain


def route_entries(app: Any) -> Iterator[RouteEntry]:
    """Every (method, route) of the app, with the rules declared for it."""
    for url_rule in app.url_map.iter_rules():
        view = app.view_functions.get(url_rule.endpoint)
        chain = blueprint_chain(app, url_rule.endpoint)
        template = route_template(url_rule.rule)
        # Route-map keys leave the host (or subdomain) out: the listing keeps it, so a route-map
        # rule that would cover routes of several hosts is flagged as ambiguous.
        host = (url_rule.host if app.url_map.host_matching else url_rule.subdomain) or None
        # A default of None gives the view no value (it wins over a matched one), so it fills no resource.
        params = frozenset(url_rule.arguments) - {name for name, value in (url_rule.defaults or {}).items()
                                                  if value is None}
        for method in sorted(url_rule.methods or ()):
            yield RouteEntry(method, template, url_rule.endpoint, params, declared_rules(view, method, chain), host)
