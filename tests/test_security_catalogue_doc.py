"""docs/security-catalogue.md and docs/iam-semantics.md name, for every item of the security
catalogue and every rule of IAM's semantics, the tests that show it. Those names must stay true:
every cited test exists, and every item or rule has exactly one row, citing a test."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "docs" / "security-catalogue.md"
SEMANTICS = ROOT / "docs" / "iam-semantics.md"
CITATION = re.compile(r"`(tests/[\w/]+\.py)::(\w+)")
CATALOGUE_ROW = re.compile(r"^\| ([A-Z]+-\d+) \|")
SEMANTICS_ROW = re.compile(r"^\| (\d+(?:\.\d+)?) \|")
SECTIONS = {"POL": 13, "PAT": 5, "MAP": 16, "CTX": 6, "JWT": 12, "KEY": 5, "MFA": 10, "ROLE": 7, "ESC": 6,
            "FAIL": 6, "CACHE": 5, "DOS": 5, "ID": 3, "CSRF": 3, "LOG": 4, "APP": 4}
# The numbered rules, then the bullets of the unnumbered sections (case, edge cases, disagreements).
SEMANTIC_RULES = {str(number) for number in range(1, 69)} | {f"12.{n}" for n in range(1, 9)} | \
    {f"13.{n}" for n in range(1, 17)} | {f"14.{n}" for n in range(1, 6)}


@cache
def defined_tests(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(node.name for node in ast.walk(tree)
                     if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test_"))


def citations() -> list[tuple[str, str, str]]:
    return sorted({(document.name, path, name) for document in (CATALOGUE, SEMANTICS)
                   for path, name in CITATION.findall(document.read_text(encoding="utf-8"))})


def rows(document: Path, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    found = []
    for line in document.read_text(encoding="utf-8").splitlines():
        match = pattern.match(line)
        if match:
            found.append((match.group(1), line))
    return found


def test_both_documents_cite_tests() -> None:
    per_document = {document for document, _, _ in citations()}
    assert per_document == {CATALOGUE.name, SEMANTICS.name}
    assert len(citations()) > 400


@pytest.mark.parametrize(("document", "path", "name"), citations())
def test_every_cited_test_exists(document: str, path: str, name: str) -> None:
    assert (ROOT / path).is_file(), f"{document} cites {path}"
    assert name in defined_tests(path), f"{document}: {path} has no {name}"


@pytest.mark.parametrize(("document", "pattern", "expected"), [
    (CATALOGUE, CATALOGUE_ROW,
     {f"{section}-{number:02d}" for section, count in SECTIONS.items() for number in range(1, count + 1)}),
    (SEMANTICS, SEMANTICS_ROW, SEMANTIC_RULES),
], ids=["security-catalogue", "iam-semantics"])
def test_every_item_has_one_row_that_cites_a_test(document: Path, pattern: re.Pattern[str],
                                                    expected: set[str]) -> None:
    found = rows(document, pattern)
    names = [name for name, _ in found]
    assert len(names) == len(set(names)), "an item has two rows"
    assert set(names) == expected
    for name, line in found:
        assert CITATION.search(line), f"{name} cites no test"
