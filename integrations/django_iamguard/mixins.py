"""`IamRequiredMixin`: per-method actions and resources for class-based views.

    class OrderView(IamRequiredMixin, View):
        iam_action = {"get": "orders:GetOrder", "delete": "orders:DeleteOrder"}
        iam_resource = "arn:app:orders::{tenant}:order/{order_id}"

`iam_action` and `iam_resource` are each one string (for every handler the view defines) or a
mapping from method name to string; `iam_public_methods` lists methods that need no
authentication. The rules are built when the class is created, so a mutating action on GET
(spec CSRF-02) or a malformed template fails at import time. The middleware reads them; the
mixin's `dispatch` checks again (or decides, without the middleware) before any handler runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from django.http import HttpRequest

from django_iamguard.adapter import sent_method
from django_iamguard.enforce import authorize_async, authorize_sync
from django_iamguard.routing import class_rules
from iamguard.web import RouteConfigError, RouteRule, public, rule

_NOT_HANDLERS = frozenset({"options", "head"})


def _per_method(value: str | Mapping[str, str] | None, name: str) -> dict[str, str] | str | None:
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        raise RouteConfigError(f"{name} must be a string or a mapping from method name to string")
    return {method.upper(): text for method, text in value.items()}


def _handler_methods(cls: type) -> list[str]:
    names = getattr(cls, "http_method_names", ())
    return [name.upper() for name in names if name not in _NOT_HANDLERS and hasattr(cls, name)]


def build_rules(cls: type) -> tuple[RouteRule, ...]:
    actions = _per_method(getattr(cls, "iam_action", None), "iam_action")
    resources = _per_method(getattr(cls, "iam_resource", None), "iam_resource")
    public_methods = sorted({method.upper() for method in getattr(cls, "iam_public_methods", ())})
    read_only = getattr(cls, "iam_read_only", None)
    rules: list[RouteRule] = []
    if public_methods:
        rules.append(public(methods=public_methods))
    if actions is None:
        return tuple(rules)
    methods = list(actions) if isinstance(actions, dict) else \
        [method for method in _handler_methods(cls) if method not in public_methods]
    for method in methods:
        action = actions[method] if isinstance(actions, dict) else actions
        resource = resources.get(method) if isinstance(resources, dict) else resources
        if resource is None:
            raise RouteConfigError(f"{cls.__qualname__}: no iam_resource for {method}")
        if method in public_methods:
            raise RouteConfigError(f"{cls.__qualname__}: {method} is both public and protected")
        rules.append(rule(action, resource, methods=method, read_only=read_only))
    return tuple(rules)


class IamRequiredMixin:
    iam_action: ClassVar[str | Mapping[str, str] | None] = None
    iam_resource: ClassVar[str | Mapping[str, str] | None] = None
    iam_public_methods: ClassVar[Collection[str]] = ()
    iam_read_only: ClassVar[bool | None] = None
    _iam_rules: ClassVar[tuple[RouteRule, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._iam_rules = build_rules(cls)

    @classmethod
    def iam_route_rules(cls) -> tuple[RouteRule, ...]:
        return cls._iam_rules

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        declared = class_rules(type(self), sent_method(request))
        if getattr(self, "view_is_async", False):
            return self._iam_dispatch_async(declared, request, *args, **kwargs)
        denied = authorize_sync(request, declared, self._iam_rules, kwargs)
        return denied if denied is not None else super().dispatch(request, *args, **kwargs)  # type: ignore[misc]

    async def _iam_dispatch_async(self, declared: tuple[RouteRule, ...], request: HttpRequest, *args: Any,
                                  **kwargs: Any) -> Any:
        denied = await authorize_async(request, declared, self._iam_rules, kwargs)
        if denied is not None:
            return denied
        return await super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
