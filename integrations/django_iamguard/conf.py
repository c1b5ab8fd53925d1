"""Reading the `IAMGUARD` setting.

    IAMGUARD = {
        "GUARD": "shop.iam.build_guard",  # a Guard, a callable returning one, or a dotted path to either
        "STRICT": True,                   # unmapped routes: a system-check error, and every request 503
        "PUBLIC_NAMESPACES": ["admin"],   # URL namespaces that authorize requests themselves
    }

The guard is built once and kept until the setting changes (`override_settings` in tests).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.utils.module_loading import import_string

from iamguard.web import Guard
from iamguard.web.memo import VerdictMemo

SETTING = "IAMGUARD"
_KEYS = frozenset({"GUARD", "STRICT", "PUBLIC_NAMESPACES"})


@dataclass(frozen=True)
class IamGuardSettings:
    guard: Guard
    strict: bool = False
    public_namespaces: frozenset[str] = frozenset()
    # Allows given again to a repeated request (iamguard.web.memo); a new setting starts afresh.
    memo: VerdictMemo | None = field(default=None, compare=False, repr=False)


_lock = threading.Lock()
_current: IamGuardSettings | None = None
_strict_problems: dict[tuple[int, str | ModuleType], str] = {}  # (guard id, urlconf) -> "" or the listing


def _guard_from(value: Any) -> Guard:
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ImproperlyConfigured(f"{SETTING}['GUARD']: cannot import {value!r}: {exc}") from None
    if not isinstance(value, Guard) and callable(value):
        value = value()
    if not isinstance(value, Guard):
        raise ImproperlyConfigured(f"{SETTING}['GUARD'] must be an iamguard.web.Guard, a callable returning one, "
                                   f"or a dotted path to either (got {type(value).__name__})")
    return value


def _namespaces(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ImproperlyConfigured(f"{SETTING}['PUBLIC_NAMESPACES'] must be a list of namespace names")
    names = frozenset(value)
    if not all(isinstance(name, str) and name for name in names):
        raise ImproperlyConfigured(f"{SETTING}['PUBLIC_NAMESPACES'] must be a list of namespace names")
    return names


def load() -> IamGuardSettings:
    """The current configuration; ImproperlyConfigured when the setting is missing or wrong."""
    global _current
    current = _current
    if current is not None:
        return current
    with _lock:
        if _current is not None:
            return _current
        raw = getattr(settings, SETTING, None)
        if not isinstance(raw, dict) or "GUARD" not in raw:
            raise ImproperlyConfigured(f"settings.{SETTING} must be a dict with a 'GUARD' entry")
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise ImproperlyConfigured(f"settings.{SETTING} has unknown keys: {', '.join(unknown)}")
        strict = raw.get("STRICT", False)
        if not isinstance(strict, bool):
            raise ImproperlyConfigured(f"{SETTING}['STRICT'] must be True or False")
        guard = _guard_from(raw["GUARD"])
        _current = IamGuardSettings(guard, strict, _namespaces(raw.get("PUBLIC_NAMESPACES", ())),
                                    VerdictMemo.for_guard(guard))
        return _current


def get_guard() -> Guard:
    return load().guard


def remembered_problems(guard: Guard, urlconf: str | ModuleType, compute: Any) -> str:
    """The strict check's result for this guard and URLconf, computed once."""
    key = (id(guard), urlconf)
    found = _strict_problems.get(key)
    if found is None:
        found = compute()
        with _lock:
            _strict_problems[key] = found
    return found


def _reset(*, setting: str, **kwargs: Any) -> None:
    global _current
    if setting in (SETTING, "ROOT_URLCONF"):
        with _lock:
            _current = None
            _strict_problems.clear()


setting_changed.connect(_reset, dispatch_uid="django_iamguard.conf.reset")
