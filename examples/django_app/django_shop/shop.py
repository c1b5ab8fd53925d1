"""The example's services: the guard, the credentials and the order book, built once per process
from `settings.ORDERS_DB` (or by `configure(...)`, which tests call with a frozen clock)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # examples/, for common.py

from common import CREATE, LIST, TENANT, OrderBook, open_store

from iamguard.audit import AuditSink
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.credentials import Credentials
from iamguard.web import Guard, rule

Recorder = Callable[[str, dict[str, Any]], None]


@dataclass(frozen=True)
class Shop:
    guard: Guard
    credentials: Credentials
    book: OrderBook
    on_call: Recorder


_lock = threading.Lock()
_current: Shop | None = None


def configure(db_path: str | Path, *, clock: Clock | None = None, audit: AuditSink | None = None,
              on_call: Recorder | None = None, debug: bool = False) -> Shop:
    """Build the services for the SQLite store at `db_path`. `on_call(view_name, path_params)` is
    called whenever a protected view runs."""
    global _current
    clock = clock or SYSTEM_CLOCK
    _, credentials = open_store(db_path, clock=clock)
    guard = Guard(
        credentials, clock=clock, audit=audit, tenant=TENANT, step_up_endpoint="/auth/step-up", debug=debug,
        # The list and create operations share one function view; the route map says which
        # action each method is. The other views declare their rules themselves (views.py).
        routes=[rule(*LIST, methods="GET", path="/orders"), rule(*CREATE, methods="POST", path="/orders")],
    )
    shop = Shop(guard, credentials, OrderBook(), on_call or (lambda name, params: None))
    with _lock:
        _current = shop
    return shop


def current() -> Shop:
    shop = _current
    if shop is None:
        with _lock:
            shop = _current
        if shop is None:
            shop = configure(settings.ORDERS_DB)
    return shop


def build_guard() -> Guard:
    """The IAMGUARD["GUARD"] factory."""
    return current().guard


class CurrentCredentials:
    """Forwards to the current Shop's credentials, so the URLconf can be imported before (and
    survive) `configure(...)`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(current().credentials, name)
