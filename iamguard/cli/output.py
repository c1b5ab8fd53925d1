"""What a command returns, and how it is shown: `--output table` for people, `--output json` for scripts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from iamguard.cli.errors import EXIT_OK

OUTPUT_FORMATS = ("table", "json")


@dataclass(frozen=True)
class Result:
    """`data` is what `--output json` prints; `text` is the table form. `exit_code` is 0 unless the
    command's answer is a "no" (a denied request, findings at or above --fail-on)."""

    data: Any
    text: str
    exit_code: int = EXIT_OK


def render(result: Result, output: str) -> str:
    if output == "json":
        return json_text(result.data)
    return result.text


def json_text(data: Any) -> str:
    """Indented JSON, readable letters kept as they are, but every character a terminal could act on
    (C1 controls such as U+009B, which IAM allows in policy values; U+2028/2029; bidi overrides)
    written as a \\u escape: the same value for a JSON parser, inert on a screen."""
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    return "".join(char if char.isprintable() or char == "\n" else _json_escape(char) for char in text)


def _json_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000  # outside the BMP: JSON spells it as a UTF-16 surrogate pair
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping) or (isinstance(value, (list, tuple)) and
                                      any(isinstance(item, (Mapping, list, tuple)) for item in value)):
        return _cell(json.dumps(value, separators=(",", ":"), ensure_ascii=True, default=str))
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(item) for item in value) or "-"
    return "".join(char if char.isprintable() else "?" for char in str(value))


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], *, empty: str = "(none)") -> str:
    """Left-aligned columns under an upper-case header; non-printable characters shown as '?'."""
    if not rows:
        return empty
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(column), *(len(line[index]) for line in cells)) for index, column in enumerate(columns)]
    header = "  ".join(column.upper().ljust(width) for column, width in zip(columns, widths, strict=True))
    lines = [header.rstrip()]
    for line in cells:
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines)


def fields(record: Mapping[str, Any]) -> str:
    """One record as `Key: value` lines."""
    if not record:
        return "(empty)"
    width = max(len(str(key)) for key in record)
    return "\n".join(f"{str(key).ljust(width)}  {_cell(value)}" for key, value in record.items())
