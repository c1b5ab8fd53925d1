"""The rules' finer points: wildcard matching of sensitive actions, MFA shapes, variables, coverage."""

from __future__ import annotations

from typing import Any

import pytest

from iamguard.lint import validate_policy
from iamguard.lint.coverage import covers_action, covers_resource, covers_text
from tests.lint.cases import ACCOUNT, ORDER_42, ORDERS, ROLES, RUNNER_ROLE, USERS, V2008, assume, doc, stmt

MFA = "aws:MultiFactorAuthPresent"
AGE = "aws:MultiFactorAuthAge"
SELF = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"


def codes(document: Any, kind: str = "identity", **options: Any) -> list[str]:
    return [finding.code for finding in validate_policy(document, kind, **options)]


@pytest.mark.parametrize(("statement", "escalates"), [
    (stmt(action="iam:*", resource=USERS), True),
    (stmt(action="iam:Put*", resource=USERS), True),
    (stmt(action="iam:attachuserpolicy", resource=USERS), True),
    (stmt(action="iam:Attach?serPolicy", resource=USERS), True),
    (stmt(action="iam:AddUserToGroup", resource=f"arn:aws:iam::{ACCOUNT}:group/admins"), True),
    (stmt(action="iam:UpdateAssumeRolePolicy", resource=ROLES), True),
    (stmt(action="iam:CreatePolicyVersion", resource=f"arn:aws:iam::{ACCOUNT}:policy/*"), True),
    (stmt(action="iam:DeleteUserPermissionsBoundary", resource=USERS), True),
    (stmt(action="iam:PassRole", resource=RUNNER_ROLE), True),
    (stmt(action="*", resource=USERS), True),
    (stmt(not_action="orders:*", resource=USERS), True),
    (stmt(action="iam:CreateAccessKey", resource=USERS), True),
    # Not escalation: read-only IAM, a Deny, a condition, resources outside IAM, self-service keys.
    (stmt(action=["iam:Get*", "iam:List*"], resource=USERS), False),
    (stmt("Deny", action="iam:*", resource="*"), False),
    (stmt(action="iam:*", resource=USERS, condition={"Bool": {MFA: "true"}}), False),
    (stmt(action="*", resource=ORDERS), False),
    (stmt(action=["iam:CreateAccessKey", "iam:UpdateLoginProfile"], resource=SELF), False),
    (stmt(not_action="iam:*", resource="*"), False),
])
def test_privilege_escalation_matches_wildcards_and_respects_conditions(statement: dict[str, Any],
                                                                        escalates: bool) -> None:
    assert ("PRIVILEGE_ESCALATION" in codes(doc(statement))) is escalates


def test_star_on_star_is_reported_once_not_as_every_sensitive_action() -> None:
    assert codes(doc(stmt(action="*", resource="*"))) == ["ALLOW_STAR_ON_STAR"]


def test_escalation_message_names_the_actions_and_the_fix() -> None:
    (finding,) = [f for f in validate_policy(doc(stmt(action="iam:AttachUserPolicy", resource=USERS)))]
    assert "iam:AttachUserPolicy" in finding.message and "condition" in finding.message


@pytest.mark.parametrize(("resource", "flagged"), [
    ("*", True), (ROLES, True), (f"arn:aws:iam::{ACCOUNT}:role/app-*", True), (RUNNER_ROLE, False),
    (ORDERS, False),
])
def test_pass_role_with_star(resource: str, flagged: bool) -> None:
    statement = stmt(action="iam:PassRole", resource=resource,
                     condition={"StringEquals": {"iam:PassedToService": "jobs.example.com"}})
    assert ("PASS_ROLE_WITH_STAR" in codes(doc(statement))) is flagged


def test_pass_role_with_star_and_no_condition_is_not_reported_twice() -> None:
    found = codes(doc(stmt(action="iam:PassRole", resource=ROLES)))
    assert found.count("PASS_ROLE_WITH_STAR") == 1 and "PRIVILEGE_ESCALATION" not in found


@pytest.mark.parametrize(("kind", "principal", "flagged"), [
    ("trust", "*", True),
    ("trust", {"AWS": "*"}, True),
    ("resource", "*", True),
    ("trust", {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, False),
])
def test_principal_star(kind: str, principal: Any, flagged: bool) -> None:
    statement = assume(principal) if kind == "trust" else stmt(principal=principal)
    assert ("PRINCIPAL_STAR_WITHOUT_CONDITION" in codes(doc(statement), kind)) is flagged


@pytest.mark.parametrize(("statements", "flagged"), [
    ([stmt("Deny", "*", "*", condition={"NumericGreaterThan": {AGE: "3600"}})], True),
    ([stmt("Deny", "*", "*", condition={"NumericGreaterThanEquals": {AGE: "3600"}})], True),
    ([stmt(condition={"NumericLessThanIfExists": {AGE: "3600"}})], True),
    # Fine: IfExists on the Deny, a companion Null Deny, a BoolIfExists Deny, a plain Allow freshness test.
    ([stmt("Deny", "*", "*", condition={"NumericGreaterThanIfExists": {AGE: "3600"}})], False),
    ([stmt("Deny", "*", "*", condition={"NumericGreaterThan": {AGE: "3600"}}),
      stmt("Deny", "*", "*", condition={"Null": {AGE: "true"}})], False),
    ([stmt("Deny", "*", "*", condition={"NumericGreaterThan": {AGE: "3600"}}),
      stmt("Deny", "*", "*", condition={"BoolIfExists": {MFA: "false"}})], False),
    ([stmt(condition={"NumericLessThan": {AGE: "3600"}})], False),
])
def test_mfa_age_freshness(statements: list[dict[str, Any]], flagged: bool) -> None:
    assert ("MFA_AGE_ALLOWS_NO_MFA" in codes(doc(*statements))) is flagged


@pytest.mark.parametrize(("document", "pointer"), [
    (doc(stmt(action="orders:${aws:username}")), "/Statement/0/Action"),
    (doc(stmt(condition={"NumericLessThan": {"aws:EpochTime": "${aws:CurrentTime}"}})),
     "/Statement/0/Condition/NumericLessThan/aws:EpochTime"),
    (doc(stmt(condition={"IpAddress": {"aws:SourceIp": ["${aws:username}"]}})),
     "/Statement/0/Condition/IpAddress/aws:SourceIp/0"),
    (doc(stmt(condition={"StringEquals": {"aws:PrincipalTag/team": "${aws:username}"}}), version=V2008),
     "/Statement/0/Condition/StringEquals/aws:PrincipalTag~1team"),
    (doc(stmt(principal={"Federated": "${aws:username}"}, resource=None, action="sts:AssumeRole")),
     "/Statement/0/Principal/Federated"),
])
def test_variables_where_iam_does_not_expand_them(document: dict[str, Any], pointer: str) -> None:
    kind = "trust" if "Principal" in document["Statement"][0] else "identity"
    hits = [f.pointer for f in validate_policy(document, kind) if f.code == "VARIABLE_NOT_EXPANDED"]
    assert hits == [pointer]


def test_variables_where_iam_expands_them_are_fine() -> None:
    document = doc(stmt(resource="arn:app:orders:::order/${aws:username}/*",
                        condition={"StringLike": {"aws:PrincipalTag/team": "${aws:username}-*"}}))
    assert "VARIABLE_NOT_EXPANDED" not in codes(document)


def test_unknown_keys_declared_by_pattern_and_variables_checked() -> None:
    document = doc(stmt(resource="arn:app:orders:::order/${app:tenant}/*",
                        condition={"StringEquals": {"app:Owner": "${aws:usrname}"}}))
    found = validate_policy(document)
    unknown = sorted(f.pointer for f in found if f.code == "UNKNOWN_CONDITION_KEY")
    assert unknown == ["/Statement/0/Condition/StringEquals/app:Owner", "/Statement/0/Condition/StringEquals/app:Owner",
                       "/Statement/0/Resource"]
    assert any("aws:username" in f.message for f in found if "usrname" in f.message)
    declared = validate_policy(document, declared_keys=["APP:*"])
    assert [f.message for f in declared if f.code == "UNKNOWN_CONDITION_KEY"] == [
        next(f.message for f in found if "usrname" in f.message)]


@pytest.mark.parametrize("key", [
    "aws:SourceIp", "aws:PrincipalTag/Team", "AWS:USERNAME", "sts:ExternalId", "accounts.example.com:sub",
    "aws:MultiFactorAuthAge",
])
def test_keys_iamguard_populates_are_not_unknown(key: str) -> None:
    assert "UNKNOWN_CONDITION_KEY" not in codes(doc(stmt(condition={"StringEqualsIfExists": {key: "x"}})))


def test_oidc_amr_is_multivalued_and_sub_single_valued() -> None:
    amr = doc(assume({"Federated": "id.example.com"}, {"StringEquals": {"id.example.com:amr": "mfa",
                                                                       "id.example.com:sub": "u1"}},
                     action="sts:AssumeRoleWithWebIdentity"))
    assert codes(amr, "trust") == ["MISSING_SET_QUALIFIER"]


@pytest.mark.parametrize(("statements", "redundant", "unreachable"), [
    ([stmt(action="orders:*", resource="*"), stmt()], ["/Statement/1"], []),
    ([stmt(), stmt()], ["/Statement/1"], []),  # of two identical statements only the later one
    ([stmt(condition={"Bool": {MFA: "true"}}), stmt()], ["/Statement/0"], []),  # fewer conditions cover more
    ([stmt(resource=ORDER_42), stmt(resource="arn:app:orders:us-east-1:*:order/42")], ["/Statement/0"], []),
    # Fewer exclusions allow more: "all but two deletes" covers "all but every delete".
    ([stmt(not_action=["orders:Delete*"]), stmt(not_action=["orders:DeleteOrder", "orders:DeleteAll"])],
     ["/Statement/0"], []),
    ([stmt("Deny", "*", "*"), stmt()], [], ["/Statement/1"]),
    ([stmt("Deny", not_action="invoices:*", resource="*"), stmt()], [], ["/Statement/1"]),
    ([stmt("Deny", "orders:*", ORDER_42), stmt()], [], []),  # the Deny covers only one order
    ([stmt(resource="arn:app:orders:us-east-1:*:order/4*"), stmt(resource=ORDER_42)], ["/Statement/1"], []),
    ([stmt(action="orders:Get*"), stmt(action="orders:List*")], [], []),
])
def test_redundant_and_unreachable_statements(statements: list[dict[str, Any]], redundant: list[str],
                                              unreachable: list[str]) -> None:
    found = validate_policy(doc(*statements))
    assert [f.pointer for f in found if f.code == "REDUNDANT_STATEMENT"] == redundant
    assert [f.pointer for f in found if f.code == "UNREACHABLE_STATEMENT"] == unreachable


@pytest.mark.parametrize(("general", "specific", "covered"), [
    ("*", "anything", True),
    ("order/*", "order/42", True),
    ("order/*", "order/4?", True),
    ("order/4*", "order/*", False),
    ("order/?2", "order/42", True),
    ("order/?2", "order/4*", False),
    ("order/*/x", "order/1/x", True),
    ("order/*/x", "order/*/x", True),
    ("order/*/x", "order/?/x", False),  # true inclusion, but not one of the certain cases
    ("order/${aws:username}", "order/alice", False),
])
def test_covers_text_answers_only_certain_cases(general: str, specific: str, covered: bool) -> None:
    assert covers_text(general, specific, variables=True) is covered


def test_covers_action_ignores_case_and_resources_compare_per_segment() -> None:
    assert covers_action("Orders:Get*", "orders:getorder")
    assert covers_resource("arn:app:orders:*:*:order/*", ORDER_42, variables=True)
    assert not covers_resource("arn:app:orders:*:*:order/*", "arn:app:invoices:us-east-1:1:order/1", variables=True)
    assert covers_resource("arn:app:orders:::order/*", "arn:app:orders:::order/${aws:username}", variables=True)
    assert not covers_resource(ORDER_42, "*", variables=True)


@pytest.mark.parametrize(("operator", "value", "reported"), [
    ("DateLessThan", "2030", True),  # a year: 2030 seconds after 1970
    ("DateGreaterThan", 2030, True),  # a JSON number is epoch seconds too
    ("DateEquals", "20300101", True),  # a compact date
    ("DateLessThanEquals", "999999999", True),
    ("DateLessThan", "-1", True),
    ("DateNotEqualsIfExists", "2030", True),
    ("ForAnyValue:DateEquals", "2030", True),
    ("DateLessThan", "1000000000", False),  # ten digits: a plausible epoch (2001-09-09)
    ("DateLessThan", 1893456000, False),
    ("DateLessThan", "2030-01-01", False),
    ("DateLessThan", "2030-01-01T00:00:00Z", False),
    ("StringEquals", "2030", False),  # only Date operators read epoch seconds
    ("NumericLessThan", "2030", False),
])
def test_date_values_read_as_early_epoch_seconds(operator: str, value: Any, reported: bool) -> None:
    key = "app:Deadlines" if operator.startswith("ForAnyValue") else "aws:CurrentTime"  # a set key for a set test
    found = [finding for finding in validate_policy(doc(stmt(condition={operator: {key: value}})), "identity",
                                                    declared_keys=["app:Deadlines"])
             if finding.code == "DATE_VALUE_READ_AS_EPOCH"]
    assert bool(found) == reported
    if reported:
        assert found[0].pointer == f"/Statement/0/Condition/{operator}/{key}"
        assert f"reads {value!r} as epoch seconds, that is " in found[0].message
