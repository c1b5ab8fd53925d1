"""docs/security-catalogue.md names, for every item of the security catalogue, the tests that show
it. Those names must stay true: every cited test exists, and every item has a row with a test."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "security-catalogue.md"
CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)")
ROW = re.compile(r"^\| ([A-Z]+-\d+) \|", re.MULTILINE)
SECTIONS = {"POL": 13, "PAT": 5, "MAP": 16, "CTX": 6, "JWT": 12, "KEY": 5, "MFA": 10, "ROLE": 7, "ESC": 6,
            "FAIL": 6, "CACHE": 5, "DOS": 5, "ID": 3, "CSRF": 3, "LOG": 4, "APP": 4}


@cache
def defined_tests(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(node.name for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"))


def citations() -> list[tuple[str, str]]:
    return sorted(set(CITATION.findall(DOCUMENT.read_text(encoding="utf-8"))))


def test_the_document_cites_tests() -> None:
    assert len(citations()) > 200


@pytest.mark.parametrize(("path", "name"), citations())
def test_every_cited_test_exists(path: str, name: str) -> None:
    assert (ROOT / path).is_file(), path
    assert name in defined_tests(path), f"{path} has no {name}"


def test_every_catalogue_item_has_one_row_that_cites_a_test() -> None:
    text = DOCUMENT.read_text(encoding="utf-8")
    rows = ROW.findall(text)
    assert len(rows) == len(set(rows)), "an item has two rows"
    expected = {f"{section}-{number:02d}" for section, count in SECTIONS.items() for number in range(1, count + 1)}
    assert set(rows) == expected
    for line in text.splitlines():
        match = ROW.match(line)
        if match:
            assert CITATION.search(line), f"{match.group(1)} cites no test"
