"""WARNING rules about statements that can never change a decision: redundant and unreachable ones."""

from __future__ import annotations

from collections.abc import Iterator

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.coverage import covers_statement, may_cover
from iamguard.lint.findings import LintFinding, Severity

_W = Severity.WARNING


def check_statements(ctx: LintContext) -> Iterator[LintFinding]:
    views = ctx.statements
    variables = ctx.variables
    for view in views:
        if view.is_allow:
            denier = next(
                (other for other in views
                 if other.is_deny and may_cover(other.services, view.services)
                 and covers_statement(other.statement, view.statement, variables=variables)),
                None,
            )
            if denier is not None:
                yield LintFinding(
                    _W, "UNREACHABLE_STATEMENT", view.pointer,
                    f"{view.label} can never allow anything: {denier.label} denies every request it would "
                    "allow; remove it, or narrow the Deny",
                )
                continue
        cover = _covering(view, views, variables)
        if cover is not None:
            verb = "allows" if view.is_allow else "denies"
            yield LintFinding(
                _W, "REDUNDANT_STATEMENT", view.pointer,
                f"{view.label} is redundant: {cover.label} already {verb} every request this statement "
                f"{verb}; remove it, or merge the two",
            )


def _covering(view: StatementView, views: tuple[StatementView, ...], variables: bool) -> StatementView | None:
    """Another statement of the same effect that covers `view`. Of two statements that cover each
    other (duplicates), only the later one is reported."""
    for other in views:
        if other is view or other.statement.effect is not view.statement.effect:
            continue
        if not may_cover(other.services, view.services):
            continue
        if not covers_statement(other.statement, view.statement, variables=variables):
            continue
        mutual = covers_statement(view.statement, other.statement, variables=variables)
        if not mutual or other.statement.index < view.statement.index:
            return other
    return None
