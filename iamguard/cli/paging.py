"""`--max-items` and `--starting-token` on list commands, the way the AWS CLI pages.

Without `--max-items` every item is fetched (page after page), as the AWS CLI does by default.
With it, at most that many items are printed and, when more remain, a `NextToken` (in the JSON
output, and as a last line of the table) to pass back as `--starting-token`. The token is the
directory's own marker: opaque to the user, checked by the directory when it comes back.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from iamguard.cli.commands import Option
from iamguard.cli.errors import CliError
from iamguard.cli.output import Result
from iamguard.directory.model import Page

T = TypeVar("T")

# The largest page the directory hands out in one call (its MaxItems limit).
PAGE_SIZE = 1000

MAX_ITEMS = Option("--max-items", "print at most this many items, then a NextToken to continue from",
                   required=False, kind="count")
STARTING_TOKEN = Option("--starting-token", "continue from the NextToken a previous call printed", required=False)
PAGING = (MAX_ITEMS, STARTING_TOKEN)

Fetch = Callable[[str | None, int], Page[T]]


@dataclass(frozen=True)
class Collected(Generic[T]):
    items: tuple[T, ...]
    next_token: str | None  # None when nothing is left


def collect(fetch: Fetch[T], max_items: int | None, starting_token: str | None) -> Collected[T]:
    """Up to `max_items` items (all of them when None) from `starting_token` on. `fetch(marker, size)`
    returns one page of at most `size` items."""
    items: list[T] = []
    marker = starting_token
    while True:
        size = PAGE_SIZE if max_items is None else min(PAGE_SIZE, max_items - len(items))
        page = fetch(marker, size)
        items.extend(page.items)
        if not page.is_truncated or page.marker is None:
            return Collected(tuple(items), None)
        if page.marker == marker:  # a page that does not advance would loop for ever
            raise CliError(f"the store returned the same page twice (marker {marker!r}); the listing is incomplete")
        marker = page.marker
        if max_items is not None and len(items) >= max_items:
            return Collected(tuple(items), marker)


def collect_for(args: argparse.Namespace, fetch: Fetch[T]) -> Collected[T]:
    """`collect` with the command's --max-items and --starting-token."""
    return collect(fetch, args.max_items, args.starting_token)


def with_next_token(result: Result, next_token: str | None) -> Result:
    """`result` plus the NextToken, when there is more to list."""
    if next_token is None:
        return result
    data = {**result.data, "NextToken": next_token}
    text = f"{result.text}\n\nNextToken: {next_token}  (pass it as --starting-token to continue)"
    return Result(data, text, result.exit_code)
