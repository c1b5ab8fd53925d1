"""The linter against security spec POL-02 (c), POL-03, POL-04 and POL-11 (e)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import iamguard
from iamguard.lint import CODES, Severity, validate_policy
from iamguard.lint.codes import LINT_ONLY_ERRORS
from tests.cli.support import run_main
from tests.lint.cases import ACCOUNT, V2008, assume, doc, stmt

MFA = "aws:MultiFactorAuthPresent"
ABSENT = "DENY_SKIPPED_WHEN_KEY_ABSENT"
SET_ON_SINGLE = "SET_QUALIFIER_ON_SINGLE_VALUED_KEY"
BOUNDARY = "VARIABLE_FOLLOWED_BY_NAME_CHARACTER"
NEGATED = "NEGATED_OPERATOR_MATCHES_ABSENT_KEY"
ORDERS_OF = "arn:app:orders:us-east-1:123456789012:order/"


def found(document: Any, code: str, **options: Any) -> list[str]:
    """The pointers of `code`'s findings."""
    return [finding.pointer for finding in validate_policy(document, **options) if finding.code == code]


def deny(condition: dict[str, Any]) -> dict[str, Any]:
    return doc(stmt("Deny", "orders:*", "*", condition=condition))


# --- POL-02 (c): a Deny that a missing key switches off ------------------------------------------

@pytest.mark.parametrize(("operator", "key", "flagged"), [
    # Keys that may be absent, under operators that are false for a missing key.
    ("StringEquals", "aws:username", True),  # absent for role sessions
    ("StringEquals", "aws:PrincipalTag/team", True),  # absent for principals without the tag
    ("StringEquals", "aws:ResourceTag/env", True),
    ("StringLike", "aws:Referer", True),
    ("StringLike", "aws:UserAgent", True),
    ("StringEquals", "aws:SourceIdentity", True),
    ("DateLessThan", "aws:TokenIssueTime", True),  # absent for long-term keys
    ("StringEquals", "app:Owner", True),  # an application key: iamguard cannot promise it
    ("ForAnyValue:StringEquals", "aws:TagKeys", True),  # ForAnyValue of nothing is false
    # Keys iamguard fills on every authenticated request.
    ("Bool", "aws:SecureTransport", False),
    ("IpAddress", "aws:SourceIp", False),
    ("DateGreaterThan", "aws:CurrentTime", False),
    ("NumericGreaterThan", "aws:EpochTime", False),
    ("ArnEquals", "aws:PrincipalArn", False),
    ("StringEquals", "aws:PrincipalAccount", False),
    ("StringEquals", "aws:PrincipalType", False),
    ("StringLike", "AWS:USERID", False),  # key names ignore case
    # Operators that hold (so the Deny applies) when the key is absent.
    ("StringEqualsIfExists", "aws:username", False),
    ("StringNotEquals", "aws:PrincipalTag/team", False),
    ("ForAllValues:StringEquals", "aws:TagKeys", False),
    ("Null", "aws:username", False),
])
def test_deny_on_a_key_that_may_be_absent(operator: str, key: str, flagged: bool) -> None:
    value: Any = {"Null": "true", "Bool": "false", "IpAddress": "203.0.113.0/24"}.get(operator, "x")
    if operator.startswith("Date"):
        value = "2024-01-01T00:00:00Z"
    elif operator.startswith("Numeric"):
        value = "1700000000"
    elif operator.startswith("Arn"):
        value = f"arn:aws:iam::{ACCOUNT}:user/alice"
    pointer_key = key.replace("/", "~1")
    expected = [f"/Statement/0/Condition/{operator}/{pointer_key}"] if flagged else []
    assert found(deny({operator: {key: value}}), ABSENT, declared_keys=["app:*"]) == expected


def test_absent_key_finding_explains_the_fail_open_and_both_fixes() -> None:
    (finding,) = [f for f in validate_policy(deny({"StringEquals": {"aws:username": "bob"}}))
                  if f.code == ABSENT]
    assert finding.severity is Severity.WARNING
    assert "never applies" in finding.message and "absent" in finding.message
    assert "StringEqualsIfExists" in finding.message and '"Null": {"aws:username": "true"}' in finding.message


def test_allow_statements_are_not_the_absent_key_rule_s_business() -> None:
    assert found(doc(stmt(condition={"StringEquals": {"aws:username": "bob"}})), ABSENT) == []


def test_a_companion_null_deny_handles_absence() -> None:
    guarded = doc(stmt("Deny", "orders:*", "*", condition={"StringEquals": {"aws:PrincipalTag/team": "interns"}}),
                  stmt("Deny", "orders:*", "*", condition={"Null": {"aws:principaltag/TEAM": "true"}}))
    assert found(guarded, ABSENT) == []
    # `Null ... false` says "only when present": it does not make the Deny apply to requests without the key.
    unguarded = doc(stmt("Deny", "orders:*", "*", condition={"StringEquals": {"aws:PrincipalTag/team": "interns"},
                                                             "Null": {"aws:PrincipalTag/team": "false"}}))
    assert found(unguarded, ABSENT) == ["/Statement/0/Condition/StringEquals/aws:PrincipalTag~1team"]


def test_mfa_keys_keep_their_own_sharper_code() -> None:
    codes = [f.code for f in validate_policy(deny({"Bool": {MFA: "false"}}))]
    assert codes == ["MFA_DENY_USES_BOOL"]


# --- POL-03: set operators on single-valued keys are refused --------------------------------------

@pytest.mark.parametrize(("operator", "key"), [
    ("ForAllValues:StringEquals", "aws:username"),
    ("ForAnyValue:StringEquals", "aws:PrincipalTag/team"),
    ("ForAnyValue:StringLike", "aws:RequestTag/env"),
    ("ForAllValues:IpAddress", "aws:SourceIp"),
    ("ForAnyValue:StringEqualsIfExists", "aws:username"),
])
def test_set_operator_on_single_valued_key_is_an_error(operator: str, key: str) -> None:
    value = "203.0.113.0/24" if "Ip" in operator else "x"
    document = doc(stmt(condition={operator: {key: value}}))
    errors = [f for f in validate_policy(document) if f.severity is Severity.ERROR]
    assert [f.code for f in errors] == [SET_ON_SINGLE]
    assert "refuses" in errors[0].message
    iamguard.parse_policy(document)  # IAM's grammar accepts it: the refusal is the linter's own


@pytest.mark.parametrize("key", ["aws:TagKeys", "aws:CalledVia", "app:Groups"])
def test_set_operators_on_multivalued_or_unknown_keys_are_not_errors(key: str) -> None:
    document = doc(stmt(condition={"ForAnyValue:StringEquals": {key: "x"}}))
    assert [f for f in validate_policy(document, declared_keys=["app:*"]) if f.severity is Severity.ERROR] == []


def test_lint_only_errors_are_catalogued_as_errors() -> None:
    assert set(CODES) >= LINT_ONLY_ERRORS
    assert all(CODES[code].severity is Severity.ERROR for code in LINT_ONLY_ERRORS)


def test_create_policy_refuses_a_set_operator_on_a_single_valued_key(capsys: pytest.CaptureFixture[str],
                                                                     tmp_path: Path) -> None:
    env = {"IAMGUARD_STORE": str(tmp_path / "iamguard.db")}
    assert run_main(capsys, "init", "--tenant-id", ACCOUNT, env=env).code == 0
    bad = json.dumps(doc(stmt(condition={"ForAnyValue:StringEquals": {"aws:username": "alice"}})))
    refused = run_main(capsys, "iam", "create-policy", "--policy-name", "Bad", "--policy-document", bad, env=env)
    assert refused.code != 0 and refused.out == ""
    assert SET_ON_SINGLE in refused.err and "/Statement/0/Condition" in refused.err
    good = json.dumps(doc(stmt(condition={"StringEquals": {"aws:username": "alice"}})))
    accepted = run_main(capsys, "iam", "create-policy", "--policy-name", "Good", "--policy-document", good, env=env)
    assert accepted.code == 0


@pytest.mark.parametrize(("statement", "flagged"), [
    (stmt(condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}), True),
    (stmt(condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}, "Null": {"aws:TagKeys": "false"}}),
     False),
    (stmt("Deny", condition={"ForAllValues:StringEquals": {"aws:TagKeys": ["team"]}}), False),
])
def test_for_all_values_in_allow_needs_a_null_guard(statement: dict[str, Any], flagged: bool) -> None:
    assert bool(found(doc(statement), "FOR_ALL_VALUES_WITHOUT_NULL_GUARD")) is flagged


# --- POL-04: negated operators in an Allow --------------------------------------------------------

@pytest.mark.parametrize(("operator", "key", "value", "flagged"), [
    ("StringNotEquals", "aws:PrincipalTag/team", "interns", True),
    ("StringNotLike", "aws:ResourceTag/owner", "system-*", True),
    ("StringNotEqualsIgnoreCase", "aws:username", "root", True),
    ("NumericNotEquals", "app:Level", "0", True),
    ("DateNotEquals", "aws:TokenIssueTime", "2024-01-01T00:00:00Z", True),
    ("ArnNotEquals", "app:Source", "arn:app:x:::y", True),
    ("ArnNotLike", "app:Source", "arn:app:x:::*", True),
    ("NotIpAddress", "app:ClientIp", "10.0.0.0/8", True),
    ("StringNotEqualsIfExists", "aws:PrincipalTag/team", "interns", True),  # IfExists holds when absent too
    # Keys iamguard always fills, and positive operators.
    ("NotIpAddress", "aws:SourceIp", "10.0.0.0/8", False),
    ("ArnNotLike", "aws:PrincipalArn", "arn:aws:iam::*:role/x", False),
    ("StringEquals", "aws:PrincipalTag/team", "interns", False),
])
def test_negated_operator_in_allow(operator: str, key: str, value: str, flagged: bool) -> None:
    document = doc(stmt(condition={operator: {key: value}}))
    assert bool(found(document, NEGATED, declared_keys=["app:*"])) is flagged


# --- POL-11 (e): a variable that runs into the next name -----------------------------------------

@pytest.mark.parametrize(("resource", "flagged"), [
    (ORDERS_OF + "${aws:username}-*", True),
    (ORDERS_OF + "${aws:username}.*", True),
    (ORDERS_OF + "${aws:username}_archive/*", True),
    (ORDERS_OF + "${aws:username}+x", True),
    (ORDERS_OF + "${aws:username}=x", True),
    (ORDERS_OF + "${aws:username},x", True),
    (ORDERS_OF + "${aws:username}@x", True),
    (ORDERS_OF + "${aws:username}x*", True),
    (ORDERS_OF + "${aws:username}9", True),
    (ORDERS_OF + "${aws:PrincipalTag/team}${aws:username}/*", True),  # two values, no boundary
    (ORDERS_OF + "${aws:username, 'nobody'}-*", True),
    (ORDERS_OF + "${aws:username}/*", False),
    (ORDERS_OF + "${aws:username}", False),
    (ORDERS_OF + "${aws:username}:x", False),
    (ORDERS_OF + "${aws:username}${*}", False),  # an escaped, literal star: no name character
    (ORDERS_OF + "x-${aws:username}/*", False),
    (ORDERS_OF + "alice-*", False),
])
def test_variable_followed_by_a_name_character(resource: str, flagged: bool) -> None:
    assert found(doc(stmt(resource=resource)), BOUNDARY) == (["/Statement/0/Resource"] if flagged else [])


def test_variable_boundary_finding_names_the_character_and_the_fix() -> None:
    (finding,) = [f for f in validate_policy(doc(stmt(resource=ORDERS_OF + "${aws:username}-*")))
                  if f.code == BOUNDARY]
    assert finding.severity is Severity.WARNING
    assert "'-'" in finding.message and "alice-" in finding.message and "${aws:username}/*" in finding.message


def test_variable_boundary_points_at_list_items_and_not_resource() -> None:
    document = doc(stmt("Deny", "orders:*", not_resource=[ORDERS_OF + "shared/*", ORDERS_OF + "${aws:username}-*"]))
    assert found(document, BOUNDARY) == ["/Statement/0/NotResource/1"]


def test_variable_boundary_is_silent_where_variables_are_not_expanded() -> None:
    document = doc(stmt(resource=ORDERS_OF + "${aws:username}-*"), version=V2008)
    codes = {f.code for f in validate_policy(document)}
    assert BOUNDARY not in codes and "VARIABLE_NOT_EXPANDED" in codes


def test_variables_in_trust_policies_have_no_resource_to_check() -> None:
    trust = doc(assume({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, {"StringEquals": {"sts:ExternalId": "id-1"}}))
    assert found(trust, BOUNDARY, kind="trust") == []
