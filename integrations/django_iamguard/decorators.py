"""View decorators: `@iam_required(action, resource)` and `@iam_public`.

They attach the rule to the view, where the middleware reads it, and also check inside the view:
with the middleware installed they accept its decision only when it was made for this rule and
the very parameters the view receives; without it they decide themselves. Sync and async views
are both supported (the wrapper keeps the view's kind).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from asgiref.sync import iscoroutinefunction

from django_iamguard.enforce import authorize_async, authorize_sync, find_request
from iamguard.web import attach_rule, public, rule, rules_of
from iamguard.web.guard import ContextProvider


def iam_required(action: str, resource: str, *, methods: str | Iterable[str] | None = None,
                 read_only: bool | None = None, context: Sequence[ContextProvider] = ()) -> Callable[[Any], Any]:
    """Protect a function view (or a class-based view's handler method)."""
    item = rule(action, resource, methods=methods, read_only=read_only, context=context)
    own = (item,)

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        if isinstance(view, type):
            raise TypeError("use IamRequiredMixin (iam_action / iam_resource) for class-based views")
        if iscoroutinefunction(view):
            @functools.wraps(view)
            async def enforced_async(*args: Any, **kwargs: Any) -> Any:
                request = find_request(args)
                denied = await authorize_async(request, rules_of(enforced_async), own, kwargs)
                return denied if denied is not None else await view(*args, **kwargs)

            attach_rule(enforced_async, item)
            return enforced_async

        @functools.wraps(view)
        def enforced(*args: Any, **kwargs: Any) -> Any:
            request = find_request(args)
            denied = authorize_sync(request, rules_of(enforced), own, kwargs)
            return denied if denied is not None else view(*args, **kwargs)

        attach_rule(enforced, item)
        return enforced

    return decorate


def iam_public(view: Any = None, *, methods: str | Iterable[str] | None = None) -> Any:
    """`@iam_public` or `@iam_public(methods=[...])`: no authentication, the anonymous principal."""
    item = public(methods=methods)

    def mark(target: Any) -> Any:
        attach_rule(target, item)
        return target

    return mark(view) if view is not None else mark
