"""Cheap construction for the small frozen value objects built on every request.

The `__init__` that `dataclass(frozen=True)` generates sets each field through
`object.__setattr__` (to get past the class's own `__setattr__`, which refuses every write).
For the dozen objects one request creates (`WebRequest`, `RouteMatch`, `Credential`,
`IamContext`, `Verdict`, ...) those calls are a noticeable share of the guard's time.
`quick_init` replaces that `__init__` with one of the same signature that stores the fields
straight into the new instance's `__dict__`: the resulting object is the same (same attributes,
same order, still frozen afterwards); only the construction is cheaper.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")

_NOT_GIVEN = object()  # stands for "use the default factory", as dataclasses' own sentinel does


def quick_init(cls: type[T]) -> type[T]:
    """Class decorator, applied above `@dataclass(frozen=True)`. Refuses classes it cannot
    reproduce exactly: with `__post_init__`, slots, or fields that are keyword-only or not in
    `__init__`."""
    if not dataclasses.is_dataclass(cls) or not cls.__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise TypeError(f"{cls.__name__}: quick_init is for frozen dataclasses")
    fields = dataclasses.fields(cls)
    if hasattr(cls, "__post_init__") or "__slots__" in cls.__dict__ or \
            any(not item.init or item.kw_only for item in fields):
        raise TypeError(f"{cls.__name__}: quick_init cannot reproduce this dataclass's __init__")
    if any(item.name in ("self", "stored") or item.name.startswith("_") for item in fields):
        raise TypeError(f"{cls.__name__}: quick_init needs plain public field names")
    namespace: dict[str, Any] = {"_NOT_GIVEN": _NOT_GIVEN}
    parameters: list[str] = []
    body: list[str] = []
    for index, item in enumerate(fields):
        name = item.name
        if item.default is not dataclasses.MISSING:
            namespace[f"_default_{index}"] = item.default
            parameters.append(f"{name}=_default_{index}")
            body.append(f"    stored[{name!r}] = {name}")
        elif item.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{index}"] = item.default_factory
            parameters.append(f"{name}=_NOT_GIVEN")
            body.append(f"    stored[{name!r}] = _factory_{index}() if {name} is _NOT_GIVEN else {name}")
        else:
            parameters.append(name)
            body.append(f"    stored[{name!r}] = {name}")
    source = (f"def __init__(self, {', '.join(parameters)}):\n"
              "    stored = self.__dict__\n" + "\n".join(body) + "\n")
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(cls.__init__.__annotations__)
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
