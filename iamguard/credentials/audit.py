"""Security events of the credentials component, emitted through the stdlib logger `iamguard.audit`.

Each record's message is the event name; the details travel as one structured mapping in
`record.audit` (the audit sink built later serializes it as a JSON line). Callers pass only
identifiers (tenant, user id, key id, serial number, jti, reason): never a password, secret, seed,
code or token. Values are also clipped and stripped of control characters here, so that a
caller-chosen name cannot forge or break a log line.
"""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

LOGGER_NAME = "iamguard.audit"
_logger = logging.getLogger(LOGGER_NAME)
_MAX_VALUE = 256


def _clean(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    text = "".join(char if unicodedata.category(char)[0] != "C" else "?" for char in text)
    return text if len(text) <= _MAX_VALUE else text[:_MAX_VALUE - 3] + "..."


def emit(event: str, *, outcome: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one audit event. `outcome` is "success", "failure" or "info"."""
    record = {"event": event, "outcome": outcome, "component": "credentials"}
    record.update({key: _clean(value) for key, value in fields.items() if value is not None})
    try:
        _logger.log(level, event, extra={"audit": record})
    except Exception:  # a broken log handler must not break authentication
        logging.getLogger(__name__).exception("audit logging failed for event %s", event)
