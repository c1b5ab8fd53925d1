"""SECURITY_WARNING rules about what an Allow grants, and to whom."""

from __future__ import annotations

from collections.abc import Iterator

from iamguard.lint.context import LintContext, StatementView
from iamguard.lint.escalation import PASS_ROLE, SELF_VARIABLES, SENSITIVE_ACTIONS
from iamguard.lint.findings import LintFinding, Severity
from iamguard.policy.arn import split_arn
from iamguard.policy.model import PolicyKind

_S = Severity.SECURITY_WARNING
ASSUME_WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
# Keys whose values are text the client writes as it likes (security spec CTX-06).
CLIENT_TEXT_KEYS = {"aws:useragent": "aws:UserAgent", "aws:referer": "aws:Referer"}


def check_grants(ctx: LintContext) -> Iterator[LintFinding]:
    for view in ctx.statements:
        if not view.is_allow:
            continue
        yield from _complements(view)
        yield from _client_text_gate(view)
        star_on_star = _is_star_on_star(view)
        if star_on_star:
            yield LintFinding(
                _S, "ALLOW_STAR_ON_STAR", view.pointer,
                f"{view.label} allows every action on every resource, including changing its own "
                "permissions; grant only the actions and resources the principal needs",
            )
        else:
            pass_role = _pass_role_with_star(view)
            if pass_role is not None:
                yield pass_role
            yield from _escalation(view, skip_pass_role=pass_role is not None)
        if ctx.kind.names_principals:
            yield from _principal_star(view, ctx.kind)
        if ctx.kind is PolicyKind.TRUST:
            yield from _web_identity(view)


def _complements(view: StatementView) -> Iterator[LintFinding]:
    statement = view.statement
    if statement.not_action:
        yield LintFinding(
            _S, "ALLOW_WITH_NOT_ACTION", view.element_pointer("NotAction"),
            f"{view.label}: Allow with NotAction grants every action not listed, including actions added "
            "later; list the allowed actions in Action instead",
        )
    if statement.not_resource:
        yield LintFinding(
            _S, "ALLOW_WITH_NOT_RESOURCE", view.element_pointer("NotResource"),
            f"{view.label}: Allow with NotResource grants every resource not listed, including resources "
            "created later; list the allowed resources in Resource instead",
        )


def _client_text_gate(view: StatementView) -> Iterator[LintFinding]:
    """An Allow whose only gate is text the client chose: any client can send the passing value,
    so these keys may narrow an Allow that something else justifies, never justify one."""
    conditions = view.statement.conditions
    if not conditions or not all(entry.key_lower in CLIENT_TEXT_KEYS for entry in conditions):
        return
    keys = " and ".join(sorted({CLIENT_TEXT_KEYS[entry.key_lower] for entry in conditions}))
    yield LintFinding(
        _S, "ALLOW_GATED_ON_CLIENT_TEXT", view.element_pointer("Condition"),
        f"{view.label}: its only condition tests {keys}, which any client can set to the value that "
        "passes; use these keys to deny, and grant on the principal, the network or tags",
    )


def _is_star_on_star(view: StatementView) -> bool:
    statement = view.statement
    return (not statement.not_action and "*" in statement.actions
            and not statement.not_resource and "*" in statement.resources)


def _reaches_iam(view: StatementView) -> bool:
    """Can the statement's resources include IAM entities (users, groups, roles, policies)?"""
    statement = view.statement
    if statement.not_resource:
        return True
    for resource in statement.resources:
        parts = split_arn(resource)
        if resource == "*" or (parts is not None and parts[2].lower() == "iam"):
            return True
    return False


def _self_scoped(view: StatementView) -> bool:
    """Every resource is the caller's own user (`...:user/${aws:username}`), as in self-service policies."""
    statement = view.statement
    return (not statement.not_resource and bool(statement.resources)
            and all(any(variable in resource.lower() for variable in SELF_VARIABLES)
                    for resource in statement.resources))


def _escalation(view: StatementView, *, skip_pass_role: bool) -> Iterator[LintFinding]:
    statement = view.statement
    if statement.conditions or not _reaches_iam(view):
        return
    self_scoped = _self_scoped(view)
    granted = [
        action for action in SENSITIVE_ACTIONS
        if view.grants_action(action.name)
        and not (skip_pass_role and action.name == PASS_ROLE)
        and not (self_scoped and action.self_service)
    ]
    if not granted:
        return
    names = ", ".join(f"{action.name} ({action.why})" for action in granted[:4])
    more = f" and {len(granted) - 4} more" if len(granted) > 4 else ""
    yield LintFinding(
        _S, "PRIVILEGE_ESCALATION", view.element_pointer(view.action_element),
        f"{view.label} allows, without any condition, {names}{more}: whoever holds it can raise its "
        "own permissions; narrow Resource to the ARNs it must manage and add a Condition that limits it "
        "(fresh MFA, a principal tag, or iam:PolicyARN if your application supplies that key)",
    )


def _pass_role_with_star(view: StatementView) -> LintFinding | None:
    statement = view.statement
    if not view.grants_action(PASS_ROLE):
        return None
    if statement.not_resource:
        pointer = view.element_pointer("NotResource")
    else:
        starred = [
            index for index, resource in enumerate(statement.resources)
            if resource == "*" or (_is_iam_arn(resource) and "*" in (split_arn(resource) or ("",) * 6)[5])
        ]
        if not starred:
            return None
        pointer = view.resource_pointer(starred[0])
    return LintFinding(
        _S, "PASS_ROLE_WITH_STAR", pointer,
        f"{view.label} allows iam:PassRole on a wildcard resource, so the principal can hand any matching "
        "role (and its permissions) to what it creates; list the exact role ARNs (and limit where they "
        "may be passed, for example with iam:PassedToService if your application supplies it)",
    )


def _is_iam_arn(resource: str) -> bool:
    parts = split_arn(resource)
    return parts is not None and parts[2].lower() == "iam"


def _principal_star(view: StatementView, kind: PolicyKind) -> Iterator[LintFinding]:
    principal = view.statement.principal
    if principal is None or principal.negated or not principal.everyone or view.statement.conditions:
        return
    what = "anyone can assume this role" if kind is PolicyKind.TRUST else \
        "anyone, authenticated or not, is granted these actions"
    yield LintFinding(
        _S, "PRINCIPAL_STAR_WITHOUT_CONDITION", view.element_pointer("Principal"),
        f"{view.label} names Principal \"*\" without a condition: {what}; name the principals, or add a "
        "condition such as aws:PrincipalAccount or aws:PrincipalArn",
    )


def _web_identity(view: StatementView) -> Iterator[LintFinding]:
    principal = view.statement.principal
    if principal is None or principal.everyone or not view.grants_action(ASSUME_WEB_IDENTITY):
        return
    issuers = [entry.value for entry in principal.entries if entry.type == "Federated"]
    if not issuers:
        return
    if any(entry.key_lower.endswith(":sub") for entry in view.statement.conditions):
        return
    issuer = issuers[0].rsplit("oidc-provider/", 1)[-1]
    yield LintFinding(
        _S, "WEB_IDENTITY_TRUST_WITHOUT_SUBJECT", view.element_pointer("Principal"),
        f"{view.label} lets any identity with a token from {issuer} assume this role; add a condition on "
        f"{issuer}:sub (and {issuer}:aud) naming who may assume it",
    )
