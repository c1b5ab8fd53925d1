"""WARNING rule for policy variables whose value runs into the text after it (security spec POL-11 e).

`order/${aws:username}-*` reads as "alice's orders", but for `alice` it is `order/alice-*`, which
also matches `order/alice-x-1`, an order of user `alice-x`. A variable is a safe boundary only
when the next character is one no principal name can contain (`/`, `:`), so a variable directly
followed by a name character, a wildcard (`${aws:username}*`) or another variable lets one name's
resources run into another's.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.findings import LintFinding, Severity
from iamguard.policy.template import STAR, Variable, tokenize

_CODE = "VARIABLE_FOLLOWED_BY_NAME_CHARACTER"
# IAM's name character set, `[\w+=,.@-]` with ASCII \w (security spec POL-11 a, ID-02).
_NAME_CHARACTER = re.compile(r"[A-Za-z0-9_+=,.@-]", re.ASCII)


def check_variable_boundaries(ctx: LintContext) -> Iterator[LintFinding]:
    if not ctx.variables:
        return  # outside Version 2012-10-17 `${...}` is literal text (VARIABLE_NOT_EXPANDED says so)
    for view in ctx.statements:
        for index, resource in enumerate(view.statement.resources):
            problem = _run_on(resource)
            if problem is not None:
                yield _finding(view, index, resource, *problem)


def _run_on(resource: str) -> tuple[str, str] | None:
    """(the variable, what runs into it) for the first variable directly followed by a name
    character or by another variable, or None."""
    try:
        tokens = tokenize(resource, variables=True, wildcards=True)
    except ValueError:
        return None  # a malformed variable is the parser's ERROR
    for token, following in itertools.pairwise(tokens):
        if not isinstance(token, Variable):
            continue
        if isinstance(following, Variable):
            return str(token), f"by another variable, {following}, so the two values have no boundary"
        if following is STAR or isinstance(following, int):
            # A wildcard matches name characters too: `${aws:username}*` is `alice*` for alice.
            char = "*" if following is STAR else "?"
            return str(token), (f"by the wildcard {char!r}, which also matches the characters principal names may "
                                f"contain, so the value for one name (alice) also covers resources of longer names "
                                f"(alice-x...)")
        if isinstance(following, str) and _NAME_CHARACTER.match(following):
            char = following[0]
            return str(token), (f"by {char!r}, which principal names may contain, so the value for one name "
                                f"(alice) also covers resources of longer names (alice{char}...)")
    return None


def _finding(view: StatementView, index: int, resource: str, variable: str, problem: str) -> LintFinding:
    return LintFinding(
        Severity.WARNING, _CODE, view.resource_pointer(index),
        f"{view.label}: in {resource!r} the variable {variable} is directly followed {problem}; put a "
        f"delimiter names cannot contain right after the variable, such as '/' ({variable}/*)",
    )
