"""Markdown helpers shared by the rows: tables and number formats."""

from __future__ import annotations

from collections.abc import Sequence

DASH = "—"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> str:
    """A GitHub markdown table; columns whose index is in `right` are right-aligned."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [str(cell).rjust(width) if index in right else str(cell).ljust(width)
                  for index, (cell, width) in enumerate(zip(cells, widths, strict=True))]
        return "| " + " | ".join(padded) + " |"

    rule = "|" + "|".join(("-" * (width + 1) + ":") if index in right else "-" * (width + 2)
                          for index, width in enumerate(widths)) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def micros(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"


def millis(seconds: float | None) -> str:
    return DASH if seconds is None else f"{seconds * 1000:,.1f}"


def rate(per_second: float) -> str:
    return f"{per_second:,.0f}"


def mib(value: float | None) -> str:
    return DASH if value is None else f"{value:,.1f}"


def ratio(value: float) -> str:
    return f"{value:,.1f}x" if value >= 10 else f"{value:.2f}x"
