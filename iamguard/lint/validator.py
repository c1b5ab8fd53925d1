"""`validate_policy`: run every rule over one document and return its findings, most severe first."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from iamguard.engine.compiler import Policy, as_kind
from iamguard.errors import PolicyError
from iamguard.lint.absent import check_absent_keys
from iamguard.lint.boundaries import check_variable_boundaries
from iamguard.lint.codes import error_code
from iamguard.lint.conditions import check_conditions
from iamguard.lint.context import LintContext
from iamguard.lint.findings import LintFinding, Severity, pointer_sort_key
from iamguard.lint.grants import check_grants
from iamguard.lint.hygiene import check_duplicates, check_version
from iamguard.lint.keys import DeclaredKeys
from iamguard.lint.mfa import check_mfa
from iamguard.lint.statements import check_statements
from iamguard.lint.variables import check_variables
from iamguard.policy.jsondoc import DEFAULT_LIMITS, Limits, load_document
from iamguard.policy.model import PolicyDocument, PolicyKind
from iamguard.policy.parser import parse_document

# Rules over the JSON as written: they run even when the parser rejects the document.
RAW_RULES: tuple[Callable[[Any], Iterable[LintFinding]], ...] = (check_version, check_duplicates, check_variables)
# Rules over the parsed model: they need a valid document.
MODEL_RULES: tuple[Callable[[LintContext], Iterable[LintFinding]], ...] = (
    check_grants, check_mfa, check_conditions, check_absent_keys, check_variable_boundaries, check_statements,
)


def validate_policy(
    document: Any,
    kind: PolicyKind | str | None = None,
    *,
    declared_keys: Iterable[str] = (),
    min_severity: Severity | str | None = None,
    limits: Limits | None = None,
) -> list[LintFinding]:
    """Check a policy document and return its findings (an empty list means nothing to report).

    `document` is anything `iamguard.parse_policy` accepts (JSON text, bytes, a mapping, a
    `pathlib.Path`, or a compiled `Policy`). `kind` is identity (the default), resource, boundary,
    session or trust; for a `Policy` it defaults to the policy's own kind. `declared_keys` names
    the condition keys the application puts in the request context itself (`*` is a wildcard:
    `app:*`). Findings below `min_severity` are left out.

    Never raises for a bad document: every problem the parser finds becomes an ERROR finding.
    Raises ValueError only for a bad argument (an unknown kind or severity).
    """
    threshold = Severity.parse(min_severity) if min_severity is not None else None
    if isinstance(document, Policy):
        policy_kind = as_kind(kind) if kind is not None else document.kind
        data: Any = document.to_dict()
        findings = list(_lint(data, _reparse(document.document, policy_kind), DeclaredKeys(declared_keys)))
    else:
        policy_kind = as_kind(kind) if kind is not None else PolicyKind.IDENTITY
        findings = list(_lint_source(document, policy_kind, limits or DEFAULT_LIMITS, DeclaredKeys(declared_keys)))
    unique = list(dict.fromkeys(findings))
    if threshold is not None:
        unique = [finding for finding in unique if finding.severity >= threshold]
    unique.sort(key=lambda finding: (-finding.severity.rank, pointer_sort_key(finding.pointer), finding.code))
    return unique


def _reparse(document: PolicyDocument, kind: PolicyKind) -> PolicyDocument | PolicyError:
    if document.kind is kind:
        return document
    try:
        return parse_document(document.to_dict(), kind)
    except PolicyError as exc:
        return exc


def _lint_source(source: Any, kind: PolicyKind, limits: Limits, declared: DeclaredKeys) -> Iterator[LintFinding]:
    try:
        data = load_document(source, limits)
    except PolicyError as exc:
        yield from _errors(exc)
        return
    try:
        parsed: PolicyDocument | PolicyError = parse_document(data, kind, limits)
    except PolicyError as exc:
        parsed = exc
    yield from _lint(data, parsed, declared)


def _lint(data: Any, parsed: PolicyDocument | PolicyError, declared: DeclaredKeys) -> Iterator[LintFinding]:
    if isinstance(parsed, PolicyError):
        yield from _errors(parsed)
    for raw_rule in RAW_RULES:
        yield from raw_rule(data)
    if isinstance(parsed, PolicyDocument):
        context = LintContext(parsed, data, declared)
        for model_rule in MODEL_RULES:
            yield from model_rule(context)


def _errors(error: PolicyError) -> Iterator[LintFinding]:
    for problem in error.findings:
        yield LintFinding(Severity.ERROR, error_code(problem.code), problem.pointer, problem.message)


def highest_severity(findings: Iterable[LintFinding]) -> Severity | None:
    """The most severe finding's severity, or None when there are no findings."""
    return max((finding.severity for finding in findings), default=None)
