"""SUGGESTION rules on the raw document: Version, and duplicate or already-covered list items.

These read the JSON as written (never the parsed model), so they run even on a document the
parser rejects, and must not assume any element has the right type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from iamguard.lint.context import item_pointer, raw_statements
from iamguard.lint.coverage import covers_action, covers_resource
from iamguard.lint.findings import LintFinding, Severity
from iamguard.policy.model import VERSION_2008, VERSION_2012

_G = Severity.SUGGESTION
# Redundant items are found by comparing items pairwise. Only an item with `*`, `?` or `$` can
# cover an item of other text (a plain one covers only itself), so only those are compared with
# the rest. A list whose comparisons do not fit in what is left of this budget for the document
# (thousands of wildcard items: a generated or hostile document, still under the size limit) is
# not checked for redundancy, as the linter may miss a redundancy but must not take minutes over
# a document the parser reads in milliseconds.
MAX_REDUNDANCY_COMPARISONS = 250_000
_PATTERN_CHARACTERS = frozenset("*?$")


def check_version(data: Any) -> Iterator[LintFinding]:
    if not isinstance(data, Mapping):
        return
    if "Version" not in data:
        yield LintFinding(
            _G, "MISSING_VERSION", "",
            f"the policy has no Version, so IAM reads it with the 2008-10-17 rules (no policy variables); "
            f"add \"Version\": \"{VERSION_2012}\"",
        )
    elif data["Version"] == VERSION_2008:
        yield LintFinding(
            _G, "OLD_VERSION", "/Version",
            f"Version {VERSION_2008} disables policy variables and newer features; use \"{VERSION_2012}\"",
        )


def check_duplicates(data: Any) -> Iterator[LintFinding]:
    variables = isinstance(data, Mapping) and data.get("Version") == VERSION_2012
    budget = [MAX_REDUNDANCY_COMPARISONS]  # comparisons left for the whole document
    for pointer, raw in raw_statements(data):
        if not isinstance(raw, Mapping):
            continue
        for element in ("Action", "NotAction"):
            yield from _list_duplicates(raw, pointer, element, "ACTION", str.lower, covers_action, budget)
        for element in ("Resource", "NotResource"):
            yield from _list_duplicates(
                raw, pointer, element, "RESOURCE", str,
                lambda general, specific: covers_resource(general, specific, variables=variables), budget,
            )


def _list_duplicates(
    raw: Mapping[str, Any], pointer: str, element: str, noun: str,
    normalize: Callable[[str], str], covers: Callable[[str, str], bool], budget: list[int],
) -> Iterator[LintFinding]:
    items = raw.get(element)
    if not isinstance(items, list):
        return
    texts = [(index, item) for index, item in enumerate(items) if isinstance(item, str)]
    patterns = [(index, item) for index, item in texts if not _PATTERN_CHARACTERS.isdisjoint(item)]
    comparisons = len(patterns) * len(texts)
    compare = comparisons <= budget[0]
    if compare:
        budget[0] -= comparisons
    seen: dict[str, int] = {}
    for index, item in texts:
        key = normalize(item)
        where = item_pointer(raw, pointer, element, index)
        if key in seen:
            yield LintFinding(
                _G, f"DUPLICATE_{noun}", where,
                f"{item!r} is listed twice in {element} (also at index {seen[key]}); remove one",
            )
            continue
        seen[key] = index
        if not compare:
            continue
        # Of two spellings that match each other (`a*` and `a**`), only the later one is reported.
        wider = next((other for other_index, other in patterns
                      if other_index != index and normalize(other) != key and covers(other, item)
                      and not (other_index > index and covers(item, other))), None)
        if wider is not None:
            yield LintFinding(
                _G, f"REDUNDANT_{noun}", where,
                f"{item!r} in {element} is already matched by {wider!r} in the same list; remove it",
            )
