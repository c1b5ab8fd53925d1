"""Regressions for defects found in a red-team review of the policy language and the evaluator.

Each table row is one attack; the ids name the spec item (security.md / iam-semantics.md).
"""

from __future__ import annotations

from typing import Any

import pytest

import iamguard
from iamguard import Effect, PolicySet, Request

ACCOUNT = "123456789012"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ORDER = f"arn:app:orders:us-east-1:{ACCOUNT}:order/42"
ALLOW, EXPLICIT, IMPLICIT = Effect.ALLOW, Effect.EXPLICIT_DENY, Effect.IMPLICIT_DENY


def _document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def _allow_if(condition: dict[str, Any]) -> dict[str, Any]:
    return _document({"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": condition})


def _deny_if_else_allow(condition: dict[str, Any]) -> dict[str, Any]:
    return _document({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": condition},
                     {"Effect": "Allow", "Action": "*", "Resource": "*"})


def _decide(document: dict[str, Any], context: dict[str, Any]) -> Effect:
    return PolicySet([document]).evaluate(Request(ALICE, "orders:GetOrder", ORDER, context)).effect


def _codes(document: Any) -> list[tuple[str, str]]:
    with pytest.raises(iamguard.PolicyError) as caught:
        iamguard.parse_policy(document)
    return [(finding.pointer, finding.code) for finding in caught.value.findings]


# POL-11(b) / iam-semantics 62: `${*}`, `${?}`, `${$}` are literal characters in condition values
# too, also when the value holds no other variable (it used to be re-read as plain text, where
# `${*}` is the literal `${`, a wildcard and `}`).
@pytest.mark.parametrize(("operator", "value", "request_value", "expected"), [
    ("StringEquals", "a${*}b", "a*b", ALLOW),
    ("StringEquals", "a${*}b", "a${*}b", IMPLICIT),
    ("StringEquals", "cost${$}", "cost$", ALLOW),
    ("StringEquals", "why${?}", "why?", ALLOW),
    ("StringLike", "a${*}b", "a*b", ALLOW),
    ("StringLike", "a${*}b", "axyzb", IMPLICIT),  # a literal star, not a wildcard
    ("StringLike", "a${*}b", "a${xyz}b", IMPLICIT),
    ("StringLike", "a${?}*", "a?anything", ALLOW),
    ("StringLike", "a${?}*", "ab", IMPLICIT),
    ("StringNotEquals", "a${*}b", "a*b", IMPLICIT),
    ("StringEqualsIgnoreCase", "A${*}B", "a*b", ALLOW),
    ("ForAnyValue:StringEquals", "a${*}b", ["x", "a*b"], ALLOW),
])
def test_escaped_characters_in_condition_values_are_literal(operator: str, value: str, request_value: Any,
                                                           expected: Effect) -> None:
    assert _decide(_allow_if({operator: {"app:label": value}}), {"app:label": request_value}) is expected


def test_escapes_are_plain_text_without_version_2012() -> None:
    document = {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*",
                               "Condition": {"StringEquals": {"app:label": "a${*}b"}}}]}
    assert _decide(document, {"app:label": "a${*}b"}) is ALLOW
    assert _decide(document, {"app:label": "a*b"}) is IMPLICIT


# DOS-01 / POL-09: an integer longer than Python converts is a PolicyError naming the problem,
# not a bare ValueError escaping the strict loader.
@pytest.mark.parametrize("digits", [4301, 20_000])
def test_an_overlong_integer_is_a_policy_error(digits: int) -> None:
    text = ('{"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*", '
            '"Condition": {"NumericGreaterThan": {"app:amount": ' + "9" * digits + "}}}}")
    assert _codes(text) == [("", "InvalidNumber")]


# POL-13: an IPv4-mapped IPv6 address is the IPv4 host it carries. Read as IPv6 it slipped past an
# IPv4 block in a Deny (a dual-stack socket reports IPv4 clients this way).
@pytest.mark.parametrize(("condition", "source_ip", "expected"), [
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "::ffff:10.1.2.3", EXPLICIT),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "::FFFF:a01:203", EXPLICIT),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "::ffff:192.0.2.1", ALLOW),
    ({"IpAddress": {"aws:SourceIp": "::ffff:10.0.0.0/104"}}, "10.1.2.3", EXPLICIT),
    ({"IpAddress": {"aws:SourceIp": "::ffff:0:0/96"}}, "192.0.2.1", EXPLICIT),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "::ffff:10.1.2.3", ALLOW),
    ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, "::ffff:192.0.2.1", EXPLICIT),
    ({"IpAddress": {"aws:SourceIp": "2001:db8::/32"}}, "2001:db8::1", EXPLICIT),
    ({"IpAddress": {"aws:SourceIp": "::/0"}}, "10.1.2.3", ALLOW),  # versions still never mix
])
def test_ipv4_mapped_addresses_are_read_as_ipv4(condition: dict[str, Any], source_ip: str,
                                               expected: Effect) -> None:
    assert _decide(_deny_if_else_allow(condition), {"aws:SourceIp": source_ip}) is expected


# iam-semantics 50 / PAT-03: ARN operators compare six colon-separated parts, so a value with
# fewer parts matched nothing and silently disabled a Deny; it is now refused at write time.
@pytest.mark.parametrize("value", [
    "*:user/alice", "*user/alice", "*/alice", "arn:aws:iam::${aws:username, 'a:b:c'}",
])
def test_arn_operator_values_without_six_parts_are_refused(value: str) -> None:
    document = _deny_if_else_allow({"ArnLike": {"aws:PrincipalArn": value}})
    assert _codes(document) == [("/Statement/0/Condition/ArnLike/aws:PrincipalArn", "InvalidConditionValue")]


@pytest.mark.parametrize(("value", "expected"), [
    ("*", EXPLICIT),
    ("*:*:*:*:*:*", EXPLICIT),
    ("*:*:iam::*:user/alice", EXPLICIT),
    (f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}", EXPLICIT),
    ("arn:aws:iam::*:user/bob", ALLOW),
])
def test_arn_operator_values_with_six_parts_still_work(value: str, expected: Effect) -> None:
    document = _deny_if_else_allow({"ArnLike": {"aws:PrincipalArn": value}})
    assert _decide(document, {"aws:PrincipalArn": ALICE, "aws:username": "alice"}) is expected


# POL-06: a key in the aws: namespace that IAM does not define is a typo; a Deny on it never fired.
@pytest.mark.parametrize("key", [
    "aws:MultiFactorAuthPresnt", "aws:SourceIP4", "aws:usrname", "aws:PrincipalTags/team", "aws:PrincipalTag/",
    "AWS:Foo",
])
def test_unknown_aws_condition_keys_are_refused(key: str) -> None:
    document = _deny_if_else_allow({"BoolIfExists": {key: "false"}})
    pointer = "/Statement/0/Condition/BoolIfExists/" + key.replace("~", "~0").replace("/", "~1")
    assert _codes(document) == [(pointer, "InvalidConditionKey")]


def test_the_refusal_suggests_the_intended_key() -> None:
    with pytest.raises(iamguard.PolicyError) as caught:
        iamguard.parse_policy(_deny_if_else_allow({"Bool": {"aws:MultiFactorAuthPresnt": "false"}}))
    assert "did you mean 'aws:MultiFactorAuthPresent'" in caught.value.findings[0].message


@pytest.mark.parametrize("key", [
    "aws:MultiFactorAuthPresent", "AWS:SOURCEIP", "aws:PrincipalTag/team", "aws:resourcetag/Owner",
    "aws:RequestTag/cost-center", "aws:TagKeys", "aws:SourceVpce", "app:anything", "orders:Owner",
])
def test_defined_and_application_keys_are_accepted(key: str) -> None:
    policy = iamguard.parse_policy(_allow_if({"StringEqualsIfExists": {key: "x"}}))
    assert [entry.key for entry in policy.document.statements[0].conditions] == [key]


# iam-semantics 61: a variable's default stands in only for a missing key. A key present with
# several values or an unreadable one has no text, so the pattern matches nothing (it used to take
# the default, which may grant what the author reserved for callers without the key).
_TEAM = "aws:PrincipalTag/team"


@pytest.mark.parametrize(("context", "expected"), [
    ({}, ALLOW),
    ({_TEAM: "public"}, ALLOW),
    ({_TEAM: "blue"}, IMPLICIT),
    ({_TEAM: ["blue", "red"]}, IMPLICIT),
    ({_TEAM: {"not": "text"}}, IMPLICIT),
])
def test_a_default_applies_only_to_a_missing_key(context: dict[str, Any], expected: Effect) -> None:
    in_resource = _document({"Effect": "Allow", "Action": "*",
                             "Resource": f"arn:app:orders:us-east-1:{ACCOUNT}:${{{_TEAM}, 'public'}}/*"})
    request = Request(ALICE, "orders:GetOrder", f"arn:app:orders:us-east-1:{ACCOUNT}:public/1", context)
    assert PolicySet([in_resource]).evaluate(request).effect is expected
    in_condition = _allow_if({"StringEquals": {"app:shelf": f"${{{_TEAM}, 'public'}}"}})
    assert _decide(in_condition, {**context, "app:shelf": "public"}) is expected
    in_arn_condition = _allow_if({"ArnLike": {"app:shelf-arn": f"arn:app:orders:::${{{_TEAM}, 'public'}}"}})
    assert _decide(in_arn_condition, {**context, "app:shelf-arn": "arn:app:orders:::public"}) is expected
