"""Paging (`--max-items`, `--starting-token`) and reading secrets from standard input, in-process."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from iamguard import Directory, SQLiteStore
from iamguard.cli import paging
from iamguard.cli.errors import CliError
from iamguard.cli.sources import InputReader
from iamguard.directory.model import Page
from tests.cli.support import run_main

NAMES = tuple(f"n{index}" for index in range(7))


class Pager:
    """A list call over NAMES that hands out at most `limit` items per page, recording each request."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.requests: list[tuple[str | None, int]] = []

    def __call__(self, marker: str | None, size: int) -> Page[str]:
        self.requests.append((marker, size))
        start = 0 if marker is None else NAMES.index(marker) + 1
        chosen = NAMES[start:start + min(size, self.limit)]
        more = start + len(chosen) < len(NAMES)
        return Page(chosen, more, chosen[-1] if more else None)


@pytest.mark.parametrize(("limit", "max_items", "start", "items", "token", "requests"), [
    # everything, from the beginning, whatever the page size
    (100, None, None, NAMES, None, [(None, paging.PAGE_SIZE)]),
    (3, None, None, NAMES, None, [(None, paging.PAGE_SIZE), ("n2", paging.PAGE_SIZE), ("n5", paging.PAGE_SIZE)]),
    # at most max_items, asking only for what is still missing; the token continues after the last one
    (100, 2, None, NAMES[:2], "n1", [(None, 2)]),
    (3, 5, None, NAMES[:5], "n4", [(None, 5), ("n2", 2)]),
    (100, 2, "n4", NAMES[5:], None, [("n4", 2)]),
    # exactly the rest: no token, since nothing remains
    (100, 7, None, NAMES, None, [(None, 7)]),
])
def test_collect(limit: int, max_items: int | None, start: str | None, items: tuple[str, ...], token: str | None,
                 requests: list[tuple[str | None, int]]) -> None:
    pager = Pager(limit)
    collected = paging.collect(pager, max_items, start)
    assert (collected.items, collected.next_token, pager.requests) == (items, token, requests)


def test_collect_refuses_a_page_that_does_not_advance() -> None:
    def stuck(marker: str | None, size: int) -> Page[str]:
        return Page(("n0",), True, "n0")

    with pytest.raises(CliError, match="same page twice"):
        paging.collect(stuck, None, "n0")


def test_list_users_gathers_several_store_pages(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    store = SQLiteStore(tmp_path / "iamguard.db")
    tenant = Directory.create_tenant(store, "123456789012")
    directory = Directory(store, tenant.tenant_id, cache_ttl=0)
    for name in NAMES:
        directory.create_user(name)
    store.database.close()
    monkeypatch.setattr(paging, "PAGE_SIZE", 2)
    env = {"IAMGUARD_STORE": str(tmp_path / "iamguard.db")}
    everything = run_main(capsys, "iam", "list-users", "--output", "json", env=env)
    assert [user["UserName"] for user in everything.json()["Users"]] == list(NAMES)
    five = run_main(capsys, "iam", "list-users", "--max-items", "5", "--output", "json", env=env).json()
    assert [user["UserName"] for user in five["Users"]] == list(NAMES[:5]) and five["NextToken"] == "n4"


@pytest.mark.parametrize(("stdin", "exact", "expected"), [
    (b"  s3cret \n", False, "s3cret"),
    (b"  pass word \r\nignored\n", True, "  pass word "),
    (b"pass\xc3\xa9\n", True, "pass\u00e9"),
])
def test_read_secret_takes_the_first_line(stdin: bytes, exact: bool, expected: str) -> None:
    assert InputReader(lambda: io.BytesIO(stdin)).read_secret("the secret", exact=exact) == expected


@pytest.mark.parametrize(("stdin", "message"), [
    (b"", "expected it on the first line"),
    (b"   \n", "expected it on the first line"),
    (b"pass\xff\n", "not UTF-8 text"),
])
def test_read_secret_refuses_missing_or_undecodable_input(stdin: bytes, message: str) -> None:
    with pytest.raises(CliError, match=message):
        InputReader(lambda: io.BytesIO(stdin)).read_secret("the secret", exact=True)
