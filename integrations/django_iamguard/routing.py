"""What Django's URL resolver result means to the guard: route templates, declared rules and the
route inventory.

Route templates are written `{name}` in iamguard whatever the framework's spelling, so one route
map serves every adapter. The text translated is the matched pattern's own (`ResolverMatch.route`,
include prefixes joined as Django joins them), never the request path (spec MAP-01):

    path("orders/<int:order_id>", ...)                 ->  /orders/{order_id}
    re_path(r"^items/(?P<item>[a-z]+)\\.json$", ...)    ->  /items/{item}.json

Regular expressions with anything beyond named groups and escaped literals keep their remaining
regex text; `report_routes` shows the exact spelling a route map must use for them.

Rules are declared on the view function (`@iam_required`, `@iam_public`), on a class-based view
(`IamRequiredMixin`, or the decorators on its handler methods), or for a whole URL namespace
listed in `PUBLIC_NAMESPACES` (the most specific level with a rule for the method wins).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

from iamguard.web import RouteEntry, RouteMap, RouteRule, path_parameters, public, rules_of
from iamguard.web.routes import lookup_method

_ROUTE_VARIABLE = re.compile(r"<(?:[A-Za-z_][A-Za-z0-9_]*:)?([A-Za-z_][A-Za-z0-9_]*)>", re.ASCII)
_ESCAPED_LITERAL = re.compile(r"\\([^A-Za-z0-9])")
FUNCTION_VIEW_METHODS = ("DELETE", "GET", "PATCH", "POST", "PUT")
NAMESPACE_PUBLIC = public()  # the rule a PUBLIC_NAMESPACES entry stands for


def _group_end(text: str, start: int) -> int:
    """The index just past the group opening at `start`, honouring escapes and [classes]."""
    depth = 0
    index = start
    in_class = False
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    return len(text)


def _named_groups(text: str) -> str:
    pieces: list[str] = []
    index = 0
    while True:
        start = text.find("(?P<", index)
        if start < 0:
            pieces.append(text[index:])
            return "".join(pieces)
        name_end = text.find(">", start)
        if name_end < 0:
            pieces.append(text[index:])
            return "".join(pieces)
        pieces.append(text[index:start])
        pieces.append("{" + text[start + 4:name_end] + "}")
        index = _group_end(text, start)


@lru_cache(maxsize=4096)
def route_template(route_text: str) -> str:
    """Django's joined pattern text (`ResolverMatch.route`) as an iamguard route template."""
    text = _named_groups(route_text)
    text = _ROUTE_VARIABLE.sub(lambda match: "{" + match.group(1) + "}", text)
    text = text.removeprefix("^")
    if text.endswith("\\Z"):
        text = text[:-2]
    elif text.endswith("$") and not text.endswith("\\$"):
        text = text[:-1]
    text = _ESCAPED_LITERAL.sub(lambda match: match.group(1), text)
    return "/" + text


def _join(prefix: str, pattern_text: str) -> str:
    # As django.urls.resolvers joins routes: an inner regex's leading '^' is dropped.
    return prefix + (pattern_text[1:] if pattern_text.startswith("^") else pattern_text)


def _covers(rules: Iterable[RouteRule], method: str) -> bool:
    return any(item.covers(method) for item in rules)


def view_class_of(view: Any) -> Any:
    return getattr(view, "view_class", None)


def class_rules(view_class: Any, method: str) -> tuple[RouteRule, ...]:
    if view_class is None:
        return ()
    declared = getattr(view_class, "iam_route_rules", None)
    mixin_rules: tuple[RouteRule, ...] = declared() if callable(declared) else ()
    handler = getattr(view_class, method.lower(), None)
    if handler is None and method == "HEAD":
        handler = getattr(view_class, "get", None)
    return (*mixin_rules, *rules_of(handler))


def declared_rules(view: Any, method: str, *, public_namespace: bool = False) -> tuple[RouteRule, ...]:
    """The rules that apply to `method` on `view`: its own when one covers the method, else the
    public rule of a namespace listed in PUBLIC_NAMESPACES."""
    own = (*rules_of(view), *class_rules(view_class_of(view), method))
    if public_namespace and not _covers(own, lookup_method(method)):
        return (NAMESPACE_PUBLIC,)
    return own


def class_methods(view_class: Any) -> list[str]:
    """The methods a class-based view answers, as Django's View dispatches them."""
    allowed = getattr(view_class, "http_method_names", ())
    names = [name.upper() for name in allowed if hasattr(view_class, name)]
    if "GET" in names and "HEAD" not in names and "head" in allowed:
        names.append("HEAD")  # View.setup answers HEAD with get()
    return sorted(names)


_VIEW_METHODS = "__iamguard_view_methods__"


def set_view_methods(view: Any, methods: Iterable[str]) -> None:
    """Declare the methods a function view answers (it refuses the others itself, with 405):
    the route listing shows them and a 405 from iamguard lists them in `Allow`."""
    setattr(view, _VIEW_METHODS, tuple(sorted(methods)))


def view_methods(view: Any, template: str, routes: RouteMap) -> list[str]:
    """The methods a route is listed with. A class-based view: the handlers it defines. A function
    view (Django routes every method to it): those `set_view_methods` declared, else the methods
    its rules name, every method when a rule names none; methods no rule names are denied at
    request time anyway."""
    view_class = view_class_of(view)
    if view_class is not None:
        return class_methods(view_class)
    declared_methods = getattr(view, _VIEW_METHODS, None)
    if isinstance(declared_methods, tuple):
        return list(declared_methods)
    rules = [*rules_of(view), *(item for item in routes if item.path == template)]
    named: set[str] = set()
    for item in rules:
        if item.methods is None:
            return list(FUNCTION_VIEW_METHODS)
        named |= item.methods
    return sorted(named) if named else list(FUNCTION_VIEW_METHODS)


# The `Allow` text of a function view's route, remembered per (view, template, route map
# version): Django's URLconf does not change once it serves requests. Entries keep the view and
# route map they were computed for and serve only those very objects.
_ALLOW: dict[tuple[int, str, int, int], tuple[Any, RouteMap, str]] = {}
_ALLOW_LIMIT = 4096


def allow_text(view: Any, template: str, routes: RouteMap) -> str:
    """The methods of the route `view` serves at `template`, for an `Allow` header."""
    view_class = view_class_of(view)
    if view_class is not None:
        return ", ".join(class_methods(view_class))
    key = (id(view), template, id(routes), routes.version)
    cached = _ALLOW.get(key)
    if cached is not None and cached[0] is view and cached[1] is routes:
        return cached[2]
    methods = view_methods(view, template, routes)
    if "GET" in methods and "HEAD" not in methods:
        methods = sorted([*methods, "HEAD"])  # Django hands HEAD to the view; the guard decides it as GET
    text = ", ".join(methods)
    if len(_ALLOW) >= _ALLOW_LIMIT:
        _ALLOW.clear()
    _ALLOW[key] = (view, routes, text)
    return text


def route_entries(url_patterns: Iterable[Any], routes: RouteMap,
                  public_namespaces: frozenset[str] = frozenset()) -> Iterator[RouteEntry]:
    """Every (method, route) of a URLconf, with the rules declared for it."""
    yield from _walk(url_patterns, "", (), routes, public_namespaces)


def _walk(patterns: Iterable[Any], prefix: str, namespaces: tuple[str, ...], routes: RouteMap,
          public_namespaces: frozenset[str]) -> Iterator[RouteEntry]:
    for pattern in patterns:
        text = _join(prefix, str(pattern.pattern))
        inner = getattr(pattern, "url_patterns", None)
        if inner is not None:  # an include(): its patterns continue the route text
            namespace = getattr(pattern, "namespace", None)
            yield from _walk(inner, text, (*namespaces, namespace) if namespace else namespaces, routes,
                             public_namespaces)
            continue
        template = route_template(text)
        view = pattern.callback
        is_public = bool(public_namespaces.intersection(namespaces))
        for method in view_methods(view, template, routes):
            yield RouteEntry(method, template, getattr(pattern, "name", None), path_parameters(template),
                             declared_rules(view, method, public_namespace=is_public))
