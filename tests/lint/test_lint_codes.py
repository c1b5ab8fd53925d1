"""Every finding code: one document that triggers it (at the expected pointer) and one that does not."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import iamguard
from iamguard.lint import CODES, Severity, validate_policy
from tests.lint.cases import (
    ACCOUNT,
    ORDER_42,
    ORDERS,
    ROLES,
    RUNNER_ROLE,
    USERS,
    V2008,
    assume,
    doc,
    stmt,
)

MFA = "aws:MultiFactorAuthPresent"
AGE = "aws:MultiFactorAuthAge"
OK_STATEMENT = stmt()
ISSUER = "token.example.com"


@dataclass(frozen=True)
class Case:
    code: str
    trigger: Any
    clean: Any
    pointer: str
    kind: str = "identity"
    declared: tuple[str, ...] = ()
    limits: iamguard.Limits | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _text(document: Any) -> str:
    import json

    return json.dumps(document)


CASES = [
    # ERROR: everything the loader and parser reject, with the parser's pointer.
    Case("INVALID_JSON", '{"Statement": [', _text(doc(OK_STATEMENT)), ""),
    Case("TOO_LARGE", doc(OK_STATEMENT, OK_STATEMENT), doc(OK_STATEMENT), "",
         limits=iamguard.Limits(max_bytes=200)),
    Case("TOO_DEEP", doc(stmt(condition={"StringEquals": {"app:Team": ["a"]}})), doc(OK_STATEMENT),
         "/Statement/0/Condition/StringEquals/app:Team/0", limits=iamguard.Limits(max_depth=6),
         declared=("app:Team",)),
    Case("TOO_MANY_STATEMENTS", doc(OK_STATEMENT, stmt(action="orders:List")), doc(OK_STATEMENT), "/Statement",
         limits=iamguard.Limits(max_statements=1)),
    Case("DUPLICATE_KEY",
         '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Effect": "Allow", "Action": "a:b", '
         '"Resource": "*"}}',
         '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "a:b", "Resource": "*"}}',
         "/Statement/Effect"),
    Case("INVALID_NUMBER",
         '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "a:b", "Resource": "*", '
         '"Condition": {"NumericLessThan": {"aws:EpochTime": NaN}}}}',
         '{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "a:b", "Resource": "*", '
         '"Condition": {"NumericLessThan": {"aws:EpochTime": 10}}}}', ""),
    Case("INVALID_CHARACTER", doc(stmt(sid="Read\u202eX")), doc(stmt(sid="ReadX")), "/Statement/0/Sid"),
    Case("INVALID_TYPE", doc(stmt(action=5)), doc(OK_STATEMENT), "/Statement/0/Action"),
    Case("UNKNOWN_ELEMENT", doc({**OK_STATEMENT, "Conditon": {}}), doc({**OK_STATEMENT, "Condition": {}}),
         "/Statement/0/Conditon"),
    Case("MISSING_ELEMENT", doc({"Action": "orders:GetOrder", "Resource": ORDERS}), doc(OK_STATEMENT),
         "/Statement/0"),
    Case("PROHIBITED_ELEMENT", doc(stmt(principal="*")), doc(OK_STATEMENT), "/Statement/0/Principal"),
    Case("CONFLICTING_ELEMENTS", doc({**OK_STATEMENT, "NotAction": "orders:DeleteOrder"}), doc(OK_STATEMENT),
         "/Statement/0"),
    Case("EMPTY_LIST", doc(stmt(action=[])), doc(stmt(action=["orders:GetOrder"])), "/Statement/0/Action"),
    Case("INVALID_VERSION", doc(OK_STATEMENT, version="2012-10-18"), doc(OK_STATEMENT), "/Version"),
    Case("INVALID_SID", doc(stmt(sid="read-orders")), doc(stmt(sid="ReadOrders")), "/Statement/0/Sid"),
    Case("DUPLICATE_SID", doc(stmt(sid="A"), stmt(action="orders:List", sid="A")),
         doc(stmt(sid="A"), stmt(action="orders:List", sid="B")), "/Statement/1/Sid"),
    Case("INVALID_EFFECT", doc(stmt("allow")), doc(stmt("Allow")), "/Statement/0/Effect"),
    Case("INVALID_ACTION", doc(stmt(action="GetOrder")), doc(OK_STATEMENT), "/Statement/0/Action"),
    Case("INVALID_RESOURCE", doc(stmt(resource="order/42")), doc(OK_STATEMENT), "/Statement/0/Resource"),
    Case("INVALID_PRINCIPAL", doc(stmt(principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/*"})),
         doc(stmt(principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"})), "/Statement/0/Principal/AWS",
         kind="resource"),
    Case("UNKNOWN_OPERATOR", doc(stmt(condition={"StringEqualz": {"aws:username": "a"}})),
         doc(stmt(condition={"StringEquals": {"aws:username": "a"}})), "/Statement/0/Condition/StringEqualz"),
    Case("INVALID_CONDITION_KEY", doc(stmt(condition={"StringEquals": {"username": "a"}})),
         doc(stmt(condition={"StringEquals": {"aws:username": "a"}})),
         "/Statement/0/Condition/StringEquals/username"),
    Case("INVALID_CONDITION_VALUE", doc(stmt(condition={"NumericLessThan": {"aws:EpochTime": "soon"}})),
         doc(stmt(condition={"NumericLessThan": {"aws:EpochTime": "1700000000"}})),
         "/Statement/0/Condition/NumericLessThan/aws:EpochTime"),
    # SECURITY_WARNING
    Case("ALLOW_WITH_NOT_ACTION", doc(stmt(not_action="orders:DeleteOrder")),
         doc(stmt("Deny", not_action="orders:GetOrder")), "/Statement/0/NotAction"),
    Case("ALLOW_WITH_NOT_RESOURCE", doc(stmt(not_resource=ORDER_42)), doc(stmt("Deny", not_resource=ORDER_42)),
         "/Statement/0/NotResource"),
    Case("ALLOW_STAR_ON_STAR", doc(stmt(action="*", resource="*")), doc(stmt(action="orders:*", resource="*")),
         "/Statement/0"),
    Case("PRIVILEGE_ESCALATION", doc(stmt(action="iam:Put*", resource=USERS)),
         doc(stmt(action="iam:Put*", resource=USERS,
                  condition={"StringEquals": {"aws:PrincipalTag/admin": "true"}})),
         "/Statement/0/Action"),
    Case("PASS_ROLE_WITH_STAR",
         doc(stmt(action="iam:PassRole", resource=ROLES,
                  condition={"StringEquals": {"iam:PassedToService": "jobs.example.com"}})),
         doc(stmt(action="iam:PassRole", resource=RUNNER_ROLE,
                  condition={"StringEquals": {"iam:PassedToService": "jobs.example.com"}})),
         "/Statement/0/Resource", declared=("iam:PassedToService",)),
    Case("ALLOW_GATED_ON_CLIENT_TEXT",
         doc(stmt(condition={"StringLike": {"aws:UserAgent": "internal-batch/*"}, "Null": {"aws:Referer": "false"}})),
         doc(stmt(condition={"StringLike": {"aws:UserAgent": "internal-batch/*"},
                             "IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
         "/Statement/0/Condition"),
    Case("PRINCIPAL_STAR_WITHOUT_CONDITION", doc(assume("*")),
         doc(assume("*", {"StringEquals": {"aws:PrincipalAccount": ACCOUNT}})), "/Statement/0/Principal",
         kind="trust"),
    Case("WEB_IDENTITY_TRUST_WITHOUT_SUBJECT",
         doc(assume({"Federated": ISSUER}, action="sts:AssumeRoleWithWebIdentity")),
         doc(assume({"Federated": ISSUER}, {"StringEquals": {f"{ISSUER}:sub": "repo:acme/app"}},
                    action="sts:AssumeRoleWithWebIdentity")),
         "/Statement/0/Principal", kind="trust"),
    Case("MFA_DENY_USES_BOOL", doc(stmt("Deny", "*", "*", condition={"Bool": {MFA: "false"}})),
         doc(stmt("Deny", "*", "*", condition={"BoolIfExists": {MFA: "false"}})),
         f"/Statement/0/Condition/Bool/{MFA}"),
    Case("MFA_ALLOW_USES_IF_EXISTS", doc(stmt(condition={"BoolIfExists": {MFA: "true"}})),
         doc(stmt(condition={"Bool": {MFA: "true"}})), f"/Statement/0/Condition/BoolIfExists/{MFA}"),
    Case("MFA_PRESENCE_CHECKED_WITH_NULL", doc(stmt(condition={"Null": {MFA: "false"}})),
         doc(stmt(condition={"Null": {MFA: "false"}, "Bool": {MFA: "true"}})), f"/Statement/0/Condition/Null/{MFA}"),
    Case("MFA_AGE_ALLOWS_NO_MFA", doc(stmt("Deny", "*", "*", condition={"NumericGreaterThan": {AGE: "3600"}})),
         doc(stmt("Deny", "*", "*", condition={"NumericGreaterThanIfExists": {AGE: "3600"}})),
         f"/Statement/0/Condition/NumericGreaterThan/{AGE}"),
    # ERROR the linter adds (the parser accepts the document; iamguard refuses it: POL-03)
    Case("SET_QUALIFIER_ON_SINGLE_VALUED_KEY",
         doc(stmt(condition={"ForAnyValue:IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
         doc(stmt(condition={"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}})),
         "/Statement/0/Condition/ForAnyValue:IpAddress/aws:SourceIp"),
    # WARNING
    Case("MISSING_SET_QUALIFIER", doc(stmt(condition={"StringEquals": {"aws:TagKeys": "team"}})),
         doc(stmt(condition={"ForAnyValue:StringEquals": {"aws:TagKeys": "team"}})),
         "/Statement/0/Condition/StringEquals/aws:TagKeys"),
    Case("FOR_ALL_VALUES_WITHOUT_NULL_GUARD",
         doc(stmt(condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]}})),
         doc(stmt(condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team", "env"]},
                             "Null": {"aws:TagKeys": "false"}})),
         "/Statement/0/Condition/ForAllValues:StringEquals/aws:TagKeys"),
    Case("NEGATED_OPERATOR_MATCHES_ABSENT_KEY",
         doc(stmt(condition={"StringNotEquals": {"aws:PrincipalTag/team": "interns"}})),
         doc(stmt(condition={"StringNotEquals": {"aws:PrincipalTag/team": "interns"},
                             "Null": {"aws:PrincipalTag/team": "false"}})),
         "/Statement/0/Condition/StringNotEquals/aws:PrincipalTag~1team"),
    Case("DENY_SKIPPED_WHEN_KEY_ABSENT",
         doc(stmt("Deny", "orders:*", "*", condition={"StringEquals": {"aws:PrincipalTag/team": "interns"}})),
         doc(stmt("Deny", "orders:*", "*",
                  condition={"StringEqualsIfExists": {"aws:PrincipalTag/team": "interns"}})),
         "/Statement/0/Condition/StringEquals/aws:PrincipalTag~1team"),
    Case("DATE_VALUE_READ_AS_EPOCH", doc(stmt(condition={"DateLessThan": {"aws:CurrentTime": "2030"}})),
         doc(stmt(condition={"DateLessThan": {"aws:CurrentTime": ["2030-01-01T00:00:00Z", "1893456000"]}})),
         "/Statement/0/Condition/DateLessThan/aws:CurrentTime"),
    Case("UNKNOWN_CONDITION_KEY", doc(stmt(condition={"StringEquals": {"app:Owner": "alice"}})),
         doc(stmt(condition={"StringEquals": {"aws:username": "alice"}})),
         "/Statement/0/Condition/StringEquals/app:Owner"),
    Case("VARIABLE_NOT_EXPANDED", doc(stmt(resource="arn:app:orders:::order/${aws:username}/*"), version=V2008),
         doc(stmt(resource="arn:app:orders:::order/${aws:username}/*")), "/Statement/0/Resource"),
    Case("VARIABLE_FOLLOWED_BY_NAME_CHARACTER", doc(stmt(resource="arn:app:orders:::order/${aws:username}-*")),
         doc(stmt(resource="arn:app:orders:::order/${aws:username}/*")), "/Statement/0/Resource"),
    Case("REDUNDANT_STATEMENT", doc(stmt(action="orders:*", resource="*"), stmt()),
         doc(stmt(action="orders:List*", resource="*"), stmt()), "/Statement/1"),
    Case("UNREACHABLE_STATEMENT", doc(stmt("Deny", "orders:*", "*"), stmt()),
         doc(stmt("Deny", "orders:*", "*", condition={"Bool": {"aws:SecureTransport": "false"}}), stmt()),
         "/Statement/1"),
    # SUGGESTION
    Case("DUPLICATE_ACTION", doc(stmt(action=["orders:GetOrder", "orders:getorder"])),
         doc(stmt(action=["orders:GetOrder", "orders:ListOrders"])), "/Statement/0/Action/1"),
    Case("REDUNDANT_ACTION", doc(stmt(action=["orders:*", "orders:GetOrder"])),
         doc(stmt(action=["orders:*", "invoices:GetInvoice"])), "/Statement/0/Action/1"),
    Case("DUPLICATE_RESOURCE", doc(stmt(resource=[ORDER_42, ORDER_42])), doc(stmt(resource=[ORDER_42, ORDERS])),
         "/Statement/0/Resource/1"),
    Case("REDUNDANT_RESOURCE", doc(stmt(resource=[ORDER_42, ORDERS])),
         doc(stmt(resource=[ORDER_42, f"arn:app:orders:us-east-1:{ACCOUNT}:invoice/*"])), "/Statement/0/Resource/0"),
    Case("MISSING_VERSION", doc(OK_STATEMENT, version=None), doc(OK_STATEMENT), ""),
    Case("OLD_VERSION", doc(OK_STATEMENT, version=V2008), doc(OK_STATEMENT), "/Version"),
]


def _lint(case: Case, document: Any) -> list[Any]:
    return validate_policy(document, case.kind, declared_keys=case.declared, limits=case.limits)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.code)
def test_document_triggers_code_at_pointer(case: Case) -> None:
    hits = [finding for finding in _lint(case, case.trigger) if finding.code == case.code]
    assert [finding.pointer for finding in hits] == [case.pointer]
    assert hits[0].severity is CODES[case.code].severity
    assert len(hits[0].message) > 20


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.code)
def test_fixed_document_does_not_trigger_code(case: Case) -> None:
    codes = {finding.code for finding in _lint(case, case.clean)}
    assert case.code not in codes
    assert not any(code in CODES and CODES[code].severity is Severity.ERROR for code in codes)


def test_every_catalogued_code_has_a_case() -> None:
    covered = {case.code for case in CASES} | {"UNREADABLE"}
    assert covered == set(CODES)


def test_unreadable_file_is_an_error_and_a_readable_one_is_linted(tmp_path: Path) -> None:
    missing = validate_policy(tmp_path / "missing.json")
    assert [(finding.severity, finding.code) for finding in missing] == [(Severity.ERROR, "UNREADABLE")]
    present = tmp_path / "policy.json"
    present.write_text(_text(doc(stmt(action="*", resource="*"))))
    assert [finding.code for finding in validate_policy(present)] == ["ALLOW_STAR_ON_STAR"]
