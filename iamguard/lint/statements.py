"""WARNING rules about statements that can never change a decision: redundant and unreachable ones."""

from __future__ import annotations

from collections.abc import Iterator

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.coverage import covers_statement, may_cover
from iamguard.lint.findings import LintFinding, Severity
from iamguard.policy.model import Statement

_W = Severity.WARNING
# Every statement is compared with every other, item by item: 500 statements of 20 actions each
# (a document under the size limit) would take minutes. Each comparison is charged what it may
# cost; once this is spent the remaining statements are not reported, as the linter may miss a
# redundant statement but must not hang on a document the parser reads in milliseconds.
MAX_COVERAGE_COST = 2_000_000


class _Budget:
    def __init__(self) -> None:
        self.left = MAX_COVERAGE_COST

    def afford(self, general: StatementView, specific: StatementView) -> bool:
        """Charge one covers_statement(general, specific); False when the budget is spent."""
        first, second = general.statement, specific.statement
        self.left -= (len(first.actions) * len(second.actions) + len(first.resources) * len(second.resources)
                      + _size(first) + _size(second))
        return self.left >= 0


def _size(statement: Statement) -> int:
    principal = statement.principal
    return 1 + sum(len(entry.values) for entry in statement.conditions) + (len(principal.entries) if principal else 0)


def check_statements(ctx: LintContext) -> Iterator[LintFinding]:
    views = ctx.statements
    variables = ctx.variables
    budget = _Budget()
    for view in views:
        if budget.left < 0:
            return
        if view.is_allow:
            denier = next(
                (other for other in views
                 if other.is_deny and may_cover(other.services, view.services) and budget.afford(other, view)
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
        cover = _covering(view, views, variables, budget)
        if cover is not None:
            verb = "allows" if view.is_allow else "denies"
            yield LintFinding(
                _W, "REDUNDANT_STATEMENT", view.pointer,
                f"{view.label} is redundant: {cover.label} already {verb} every request this statement "
                f"{verb}; remove it, or merge the two",
            )


def _covering(view: StatementView, views: tuple[StatementView, ...], variables: bool,
              budget: _Budget) -> StatementView | None:
    """Another statement of the same effect that covers `view`. Of two statements that cover each
    other (duplicates), only the later one is reported."""
    for other in views:
        if other is view or other.statement.effect is not view.statement.effect:
            continue
        if not may_cover(other.services, view.services):
            continue
        if not budget.afford(other, view):
            return None
        if not covers_statement(other.statement, view.statement, variables=variables):
            continue
        if not budget.afford(view, other):
            return None
        mutual = covers_statement(view.statement, other.statement, variables=variables)
        if not mutual or other.statement.index < view.statement.index:
            return other
    return None
