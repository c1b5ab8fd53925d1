"""The linter's Python API: inputs, ordering, filtering, severities, the documented catalogue."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

import iamguard
import iamguard.lint
from iamguard.lint import CODES, LintFinding, Severity, highest_severity, validate_policy
from tests.lint.cases import ACCOUNT, ORDERS, V2008, assume, doc, stmt

MESSY = doc(
    stmt(action=["orders:GetOrder", "orders:GetOrder"]),
    stmt("Deny", "*", "*", condition={"Bool": {"aws:MultiFactorAuthPresent": "false"}}),
    stmt(action="orders:List", condition={"StringEquals": {"app:Owner": "x"}}),
    version=V2008,
)


def test_findings_are_ordered_by_severity_then_position() -> None:
    found = validate_policy(MESSY)
    assert [(f.severity, f.code, f.pointer) for f in found] == [
        (Severity.SECURITY_WARNING, "MFA_DENY_USES_BOOL", "/Statement/1/Condition/Bool/aws:MultiFactorAuthPresent"),
        (Severity.WARNING, "UNKNOWN_CONDITION_KEY", "/Statement/2/Condition/StringEquals/app:Owner"),
        (Severity.SUGGESTION, "OLD_VERSION", "/Version"),
        (Severity.SUGGESTION, "DUPLICATE_ACTION", "/Statement/0/Action/1"),
    ]


@pytest.mark.parametrize(("threshold", "expected"), [
    (None, 4), ("SUGGESTION", 4), ("warning", 2), ("security-warning", 1), (Severity.ERROR, 0),
])
def test_min_severity_filters(threshold: Any, expected: int) -> None:
    assert len(validate_policy(MESSY, min_severity=threshold)) == expected


def test_severity_order_and_parsing() -> None:
    assert Severity.SUGGESTION < Severity.WARNING < Severity.SECURITY_WARNING < Severity.ERROR
    assert max([Severity.WARNING, Severity.ERROR, Severity.SUGGESTION]) is Severity.ERROR
    assert Severity.parse("Security_Warning") is Severity.SECURITY_WARNING
    with pytest.raises(ValueError, match="unknown severity 'fatal'"):
        Severity.parse("fatal")
    assert highest_severity(validate_policy(MESSY)) is Severity.SECURITY_WARNING
    assert highest_severity([]) is None


@pytest.mark.parametrize("source", [
    json.dumps(MESSY), json.dumps(MESSY).encode(), MESSY, iamguard.parse_policy(MESSY),
])
def test_every_input_form_gives_the_same_findings(source: Any) -> None:
    assert {f.code for f in validate_policy(source)} == {
        "MFA_DENY_USES_BOOL", "UNKNOWN_CONDITION_KEY", "OLD_VERSION", "DUPLICATE_ACTION"}


def test_a_compiled_policy_is_checked_as_its_own_kind_unless_told_otherwise() -> None:
    trust_policy = iamguard.parse_policy(doc(assume("*")), "trust")
    assert [f.code for f in validate_policy(trust_policy)] == ["PRINCIPAL_STAR_WITHOUT_CONDITION"]
    as_identity = validate_policy(trust_policy, "identity")
    assert {f.code for f in as_identity} == {"PROHIBITED_ELEMENT", "MISSING_ELEMENT"}


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown policy kind"):
        validate_policy(MESSY, "root")


def test_parser_errors_keep_raw_checks_but_skip_semantic_ones() -> None:
    broken = doc(stmt("allow", action=["orders:GetOrder", "orders:GetOrder"]), stmt(action="*", resource="*"))
    found = validate_policy(broken)
    assert [(f.severity, f.code) for f in found] == [
        (Severity.ERROR, "INVALID_EFFECT"), (Severity.SUGGESTION, "DUPLICATE_ACTION")]


def test_errors_match_what_parse_policy_rejects() -> None:
    broken = doc(stmt("allow", action="orders"), stmt(condition={"StringEqualz": {"aws:username": "a"}}))
    with pytest.raises(iamguard.PolicyError) as raised:
        iamguard.parse_policy(broken)
    errors = [(f.pointer, f.message) for f in validate_policy(broken) if f.severity is Severity.ERROR]
    assert sorted(errors) == sorted((f.pointer, f.message) for f in raised.value.findings)


GOOD_POLICIES = [
    ("identity", doc(stmt(action=["orders:GetOrder", "orders:ListOrders"],
                          resource="arn:app:orders:us-east-1:123456789012:order/${aws:username}/*"))),
    ("identity", doc(
        stmt(action=["iam:CreateVirtualMFADevice", "iam:EnableMFADevice", "iam:CreateAccessKey"],
             resource=f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"),
        stmt("Deny", not_action=["iam:CreateVirtualMFADevice", "iam:EnableMFADevice"], resource="*",
             condition={"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}),
    )),
    ("identity", doc(stmt(action="orders:*", resource=ORDERS,
                          condition={"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]},
                                     "Bool": {"aws:SecureTransport": "true"},
                                     "ForAnyValue:StringEquals": {"aws:TagKeys": ["team"]}}))),
    ("trust", doc(assume({"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                         {"StringEquals": {"sts:ExternalId": "shared-secret-id"}}))),
    ("resource", doc(stmt(principal={"AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"}))),
]


@pytest.mark.parametrize(("kind", "document"), GOOD_POLICIES)
def test_well_written_policies_have_no_findings(kind: str, document: dict[str, Any]) -> None:
    assert validate_policy(document, kind) == []


def test_finding_text_and_dict_forms() -> None:
    finding = LintFinding(Severity.WARNING, "REDUNDANT_STATEMENT", "/Statement/1", "remove it")
    assert str(finding) == "WARNING REDUNDANT_STATEMENT at /Statement/1: remove it"
    assert finding.to_dict() == {"severity": "WARNING", "code": "REDUNDANT_STATEMENT",
                                 "pointer": "/Statement/1", "message": "remove it"}
    assert str(LintFinding(Severity.ERROR, "INVALID_JSON", "", "bad")).startswith("ERROR INVALID_JSON at /:")


def test_module_docstring_documents_every_code_with_its_severity() -> None:
    doc_text = iamguard.lint.__doc__ or ""
    table = dict(re.findall(r"^\| ([A-Z_]+) +\| ([A-Z_]+) +\|", doc_text, flags=re.MULTILINE))
    table.pop("code", None)
    errors = set(re.findall(r"\b([A-Z][A-Z_]+[A-Z])\b", doc_text.split("ERROR codes", 1)[1].split("|", 1)[0]))
    for code, info in CODES.items():
        if info.severity is Severity.ERROR:
            assert code in errors, code
        else:
            assert table.get(code) == info.severity.value, code
    assert set(table) <= set(CODES)
