"""Red-team regressions for the policy grammar: documents IAM refuses that iamguard used to accept,
each of which could silently disable a Deny (a principal, resource or network that no request
can ever carry) or hide text from a reviewer. Every case names the finding's pointer and code."""

from __future__ import annotations

from typing import Any

import pytest

import iamguard
from iamguard import PolicyError
from tests.policy.support import V2012, statement

ACCOUNT = "123456789012"
ORDER = "arn:aws:orders:::order/1"




def refused(source: Any, kind: str = "identity") -> list[tuple[str, str, str]]:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(source, kind)
    return [(finding.pointer, finding.code, finding.message) for finding in error.value.findings]


# --- principals that name no request principal ------------------------------------------------------

BAD_PRINCIPALS: list[tuple[str, dict[str, Any], str, str]] = [
    # (case, Principal, pointer, words the message must contain)
    ("sts-role", {"AWS": f"arn:aws:sts::{ACCOUNT}:role/admin"}, "/Statement/0/Principal/AWS", "sts::"),
    ("sts-user", {"AWS": f"arn:aws:sts::{ACCOUNT}:user/alice"}, "/Statement/0/Principal/AWS", "iam::"),
    ("sts-root", {"AWS": f"arn:aws:sts::{ACCOUNT}:root"}, "/Statement/0/Principal/AWS", "account root"),
    ("iam-session", {"AWS": f"arn:aws:iam::{ACCOUNT}:assumed-role/admin/s1"}, "/Statement/0/Principal/AWS",
     "assumed-role"),
    ("oidc-provider-under-aws", {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", f"arn:aws:iam::{ACCOUNT}:oidc-provider/idp"]},
     "/Statement/0/Principal/AWS/1", "must be"),
    ("region", {"AWS": f"arn:aws:iam:us-east-1:{ACCOUNT}:user/alice"}, "/Statement/0/Principal/AWS", "region"),
    ("no-account", {"AWS": "arn:aws:iam:::user/alice"}, "/Statement/0/Principal/AWS", "account"),
    ("root-no-account", {"AWS": "arn:aws:iam:::root"}, "/Statement/0/Principal/AWS", "account"),
    ("uppercase-account", {"AWS": "arn:aws:iam::ACME:user/alice"}, "/Statement/0/Principal/AWS", "account"),
    ("empty-partition", {"AWS": f"arn::iam::{ACCOUNT}:user/alice"}, "/Statement/0/Principal/AWS", "partition"),
    ("partition-with-space", {"AWS": f"arn:a ws:iam::{ACCOUNT}:user/alice"}, "/Statement/0/Principal/AWS",
     "partition"),
    ("federated-newline", {"Federated": "accounts.example.com\n"}, "/Statement/0/Principal/Federated", "whitespace"),
    ("federated-inner-space", {"Federated": "accounts. example.com"}, "/Statement/0/Principal/Federated",
     "whitespace"),
    ("federated-nbsp", {"Federated": "accounts.example.com\u00a0"}, "/Statement/0/Principal/Federated",
     "whitespace"),
    ("federated-user-arn", {"Federated": f"arn:aws:iam::{ACCOUNT}:user/alice"}, "/Statement/0/Principal/Federated",
     "saml-provider or oidc-provider"),
    ("federated-provider-with-region", {"Federated": f"arn:aws:iam:eu-west-1:{ACCOUNT}:saml-provider/corp"},
     "/Statement/0/Principal/Federated", "region"),
]


@pytest.mark.parametrize(("principal", "pointer", "words"), [case[1:] for case in BAD_PRINCIPALS],
                         ids=[case[0] for case in BAD_PRINCIPALS])
def test_principal_that_matches_no_request_is_refused(principal: dict[str, Any], pointer: str, words: str) -> None:
    source = {"Version": V2012, "Statement": [statement(Principal=principal)]}
    found = refused(source, "resource")
    assert [(where, code) for where, code, _ in found] == [(pointer, "InvalidPrincipal")]
    assert words in found[0][2]


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": f"arn:aws:sts::{ACCOUNT}:federated-user/bob"},
        {"AWS": f"arn:app:iam::{ACCOUNT}:role/ops/deploy"},
        {"AWS": "arn:aws-us-gov:iam::tenant-1:root"},
        {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/idp.example.com/tenant"},
        {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/corp"},
        {"Federated": "https://idp.example.com"},
    ],
)
def test_principal_forms_iam_accepts_are_still_accepted(principal: dict[str, Any]) -> None:
    policy = iamguard.parse_policy({"Version": V2012, "Statement": [statement(Principal=principal)]}, "resource")
    (item,) = policy.document.statements
    assert item.principal is not None and [entry.value for entry in item.principal.entries] == [
        value for values in principal.values() for value in ([values] if isinstance(values, str) else values)
    ]


def test_a_deny_naming_an_sts_role_arn_can_no_longer_be_stored_as_a_silent_no_op() -> None:
    # Before the fix this resource policy parsed, and its Deny never matched the role's sessions.
    allow_all = iamguard.parse_policy({"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "*",
                                                                        "Resource": "*"}]})
    good_deny = iamguard.parse_policy(
        {"Version": V2012, "Statement": [statement(Principal={"AWS": f"arn:aws:iam::{ACCOUNT}:role/admin"})]},
        "resource")
    session = iamguard.Request(f"arn:aws:sts::{ACCOUNT}:assumed-role/admin/s1", "orders:GetOrder", ORDER, {})
    decision = iamguard.PolicySet(identity_policies=[allow_all], resource_policy=good_deny).evaluate(session)
    assert decision.effect is iamguard.Effect.EXPLICIT_DENY
    sts_role = {"AWS": f"arn:aws:sts::{ACCOUNT}:role/admin"}
    found = refused({"Version": V2012, "Statement": [statement(Principal=sts_role)]}, "resource")
    assert [(where, code) for where, code, _ in found] == [("/Statement/0/Principal/AWS", "InvalidPrincipal")]


# --- resource ARNs with whitespace in the head ---------------------------------------------------------

@pytest.mark.parametrize(
    "resource",
    [
        "arn: aws:orders:::order/1",
        "arn:aws:orders: us-east-1::order/1",
        "arn:aws:orders::123456789012 :order/1",
        "arn:aws\n:orders:::order/1",
    ],
)
def test_whitespace_in_resource_partition_region_or_account_is_refused(resource: str) -> None:
    found = refused({"Version": V2012, "Statement": [statement(Resource=["*", resource])]})
    assert [(where, code) for where, code, _ in found] == [("/Statement/0/Resource/1", "InvalidResource")]
    assert "whitespace" in found[0][2]


def test_whitespace_in_the_resource_part_is_still_accepted() -> None:
    # Object names may contain spaces (S3 keys do); IAM accepts them there.
    policy = iamguard.parse_policy({"Version": V2012, "Statement": [statement(Resource="arn:aws:s3:::b/my file")]})
    assert policy.document.statements[0].resources == ("arn:aws:s3:::b/my file",)


# --- condition values: CIDR notation and time zone offsets (POL-13) ----------------------------------------

@pytest.mark.parametrize(
    ("operator", "key", "value"),
    [
        ("IpAddress", "aws:SourceIp", "10.0.0.0/255.0.0.0"),      # netmask form
        ("NotIpAddress", "aws:SourceIp", "10.0.0.0/0.255.255.255"),  # hostmask form
        ("IpAddress", "aws:SourceIp", "10.0.0.0/010"),            # prefix with a leading zero (octal 8?)
        ("IpAddress", "aws:SourceIp", "fe80::1%eth0/64"),         # IPv6 scope id
        ("IpAddress", "aws:SourceIp", "fe80::1%eth0"),
        ("DateLessThan", "aws:CurrentTime", "2024-01-01T00:00:00+00:99"),
        ("DateGreaterThan", "aws:CurrentTime", "2024-01-01T00:00:00-0560"),
    ],
)
def test_ambiguous_condition_values_are_refused(operator: str, key: str, value: str) -> None:
    source = {"Version": V2012, "Statement": [statement(Condition={operator: {key: value}})]}
    found = refused(source)
    assert [(where, code) for where, code, _ in found] == [
        (f"/Statement/0/Condition/{operator}/{key}", "InvalidConditionValue")]
    assert found[0][2].startswith(f"{operator}: ")


@pytest.mark.parametrize("value", ["10.0.0.0/8", "10.0.0.1", "10.0.0.0/0", "2001:db8::/32", "::ffff:10.0.0.0/104"])
def test_cidr_notation_is_still_accepted(value: str) -> None:
    source = {"Version": V2012, "Statement": [statement(Condition={"IpAddress": {"aws:SourceIp": value}})]}
    (item,) = iamguard.parse_policy(source).document.statements
    assert item.conditions[0].values == (value,)


# --- JSON escapes that decode to control characters (POL-10) ------------------------------------------------

@pytest.mark.parametrize("escape", ["\\b", "\\f"])
def test_short_escapes_for_control_characters_are_refused(escape: str) -> None:
    text = ('{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "orders:Get' + escape
            + 'Order", "Resource": "*"}]}')
    found = refused(text)
    assert [(where, code) for where, code, _ in found] == [("/Statement/0/Action", "InvalidCharacter")]


def test_escaped_backslash_before_b_is_plain_text() -> None:
    text = '{"Statement": [{"Effect": "Deny", "Action": "orders:Get\\\\bOrder", "Resource": "*"}]}'
    (item,) = iamguard.parse_policy(text).document.statements
    assert item.actions == ("orders:Get\\bOrder",)
