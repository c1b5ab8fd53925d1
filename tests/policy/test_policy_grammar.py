"""Documents IAM accepts: every element and operator form, the model they produce, and the
round trip through `to_dict()`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iamguard
from iamguard import PolicyDocument, PolicyError, PolicyKind, StatementEffect
from iamguard.policy.operators import BASE_OPERATORS, Family, Qualifier, parse_operator
from iamguard.policy.template import STAR, Variable, tokenize

V2012 = "2012-10-17"
V2008 = "2008-10-17"
GOOD: dict[str, Any] = {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*"}
ALICE = "arn:aws:iam::123456789012:user/alice"


def parse(document: Any, kind: str = "identity") -> PolicyDocument:
    return iamguard.parse_policy(document, kind).document


def statement_with(**changes: Any) -> dict[str, Any]:
    """GOOD with some elements replaced; a value of None removes the element."""
    out = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


# --- Version, Id, Statement ------------------------------------------------------------------


@pytest.mark.parametrize(("version", "variables"), [(V2012, True), (V2008, False), (None, False)])
def test_versions(version: str | None, variables: bool) -> None:
    source: dict[str, Any] = {"Statement": [GOOD]}
    if version is not None:
        source["Version"] = version
    document = parse(source)
    assert document.version == version
    assert document.variables_enabled is variables


def test_id_is_kept() -> None:
    assert parse({"Version": V2012, "Id": "orders-policy", "Statement": [GOOD]}).id == "orders-policy"


def test_statement_as_object_and_as_list_mean_the_same() -> None:
    as_object = parse({"Version": V2012, "Statement": GOOD})
    as_list = parse({"Version": V2012, "Statement": [GOOD]})
    assert as_object == as_list
    assert as_object.statements[0].pointer == "/Statement"
    assert as_list.statements[0].pointer == "/Statement/0"


def test_strings_and_lists_mean_the_same() -> None:
    assert parse({"Statement": [GOOD]}) == parse({"Statement": [statement_with(Action=["orders:GetOrder"],
                                                                                Resource=["*"])]})


def test_statement_model() -> None:
    source = {
        "Version": V2012,
        "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["orders:Get*", "orders:List*"],
             "Resource": "arn:app:orders:*:123456789012:order/*"},
            {"Effect": "Deny", "NotAction": "orders:Get*", "NotResource": ["arn:app:orders:::x"],
             "Condition": {"StringEquals": {"aws:username": ["alice", "bob"]}}},
        ],
    }
    first, second = parse(source).statements
    assert (first.index, first.sid, first.effect, first.actions, first.not_action) == (
        0, "Read", StatementEffect.ALLOW, ("orders:Get*", "orders:List*"), False)
    assert (first.resources, first.not_resource, first.principal, first.conditions) == (
        ("arn:app:orders:*:123456789012:order/*",), False, None, ())
    assert first.label == "statement 0 (Read)"
    assert (second.index, second.sid, second.effect, second.not_action, second.not_resource) == (
        1, None, StatementEffect.DENY, True, True)
    (entry,) = second.conditions
    assert (entry.operator.name, entry.key, entry.values, entry.key_lower) == (
        "StringEquals", "aws:username", ("alice", "bob"), "aws:username")


def test_empty_condition_is_accepted() -> None:
    assert parse({"Statement": [statement_with(Condition={})]}).statements[0].conditions == ()


def test_sid_may_be_empty_or_missing_and_unique_sids_are_fine() -> None:
    document = parse({"Statement": [statement_with(Sid=""), statement_with(Sid="A1"), GOOD, GOOD]})
    assert [item.sid for item in document.statements] == ["", "A1", None, None]


def test_resource_policy_sids_may_use_more_characters() -> None:
    source = {"Statement": [statement_with(Sid="read-orders 1", Principal="*")]}
    assert parse(source, "resource").statements[0].sid == "read-orders 1"
    with pytest.raises(PolicyError):
        parse({"Statement": [statement_with(Sid="read-orders 1")]}, "identity")


@pytest.mark.parametrize(
    "action",
    ["*", "orders:*", "orders:GetOrder", "ORDERS:getorder", "orders:Get?rder", "my-svc.v2:Do", "*:GetOrder",
     "orders:Get Order"],  # AWS accepts odd text after the colon
)
def test_valid_actions(action: str) -> None:
    assert parse({"Statement": [statement_with(Action=action)]}).statements[0].actions == (action,)


@pytest.mark.parametrize(
    "resource",
    ["*", "arn:aws:s3:::bucket/*", "arn:app:orders:us-east-1:123456789012:order/42", "arn:aws-cn:s3:::b",
     "arn:*:s3:::b", "arn:aws:iam::123456789012:user/${aws:username}", "arn:aws:s3:::b/${*}${?}${$}",
     "arn:app:orders:*:*:*", "arn:aws:sqs:us-east-1:123456789012:queue:with:colons"],
)
def test_valid_resources(resource: str) -> None:
    assert parse({"Version": V2012, "Statement": [statement_with(Resource=resource)]}).statements[0].resources == (
        resource,)


def test_variable_syntax_is_only_checked_in_2012() -> None:
    broken = statement_with(Resource="arn:aws:s3:::bucket/${aws:username")
    with pytest.raises(PolicyError):
        parse({"Version": V2012, "Statement": [broken]})
    assert parse({"Version": V2008, "Statement": [broken]}).statements[0].resources == (broken["Resource"],)
    assert parse({"Statement": [broken]}).statements[0].resources == (broken["Resource"],)


# --- principals -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "principal",
    [
        "*",
        {"AWS": "*"},
        {"AWS": ALICE},
        {"AWS": [ALICE, "arn:aws:iam::123456789012:role/app"]},
        {"AWS": "123456789012"},
        {"AWS": "arn:aws:iam::123456789012:root"},
        {"AWS": "arn:aws:sts::123456789012:assumed-role/app/worker"},
        {"AWS": "arn:aws:iam::123456789012:user/division/team/alice"},
        {"Service": "orders.example.com"},
        {"Federated": "accounts.example.com"},
        {"CanonicalUser": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"},
        {"AWS": ALICE, "Service": ["orders.example.com", "billing.example.com"]},
    ],
)
def test_valid_principals(principal: Any) -> None:
    (item,) = parse({"Statement": [statement_with(Principal=principal)]}, "resource").statements
    assert item.principal is not None
    assert item.principal.negated is False
    assert item.principal.everyone is (principal in ("*", {"AWS": "*"}))


def test_not_principal_with_deny() -> None:
    source = {"Statement": [statement_with(Effect="Deny", NotPrincipal={"AWS": [ALICE, "123456789012"]})]}
    (item,) = parse(source, "resource").statements
    assert item.principal is not None and item.principal.negated
    assert [entry.value for entry in item.principal.entries] == [ALICE, "123456789012"]


def test_trust_policy_names_principals_and_no_resource() -> None:
    source = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}]}
    (item,) = parse(source, "trust").statements
    assert item.resources == ()


@pytest.mark.parametrize("kind", ["identity", "boundary", "session"])
def test_kinds_without_principals(kind: str) -> None:
    assert iamguard.parse_policy({"Statement": [GOOD]}, kind).kind is PolicyKind(kind)


def test_unknown_kind_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown policy kind"):
        iamguard.parse_policy({"Statement": [GOOD]}, "bucket")


# --- operators --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(BASE_OPERATORS))
def test_every_base_operator_parses_with_and_without_if_exists(name: str) -> None:
    operator = parse_operator(name)
    assert (operator.base.name, operator.qualifier, operator.if_exists) == (name, None, False)
    if name == "Null":
        with pytest.raises(ValueError):
            parse_operator("NullIfExists")
    else:
        assert parse_operator(f"{name}IfExists").if_exists
        assert parse_operator(f"ForAllValues:{name}IfExists").name == f"ForAllValues:{name}IfExists"


def test_operator_catalogue_is_complete() -> None:
    expected = {
        "StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike",
        "StringNotLike", "NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals",
        "NumericGreaterThan", "NumericGreaterThanEquals", "DateEquals", "DateNotEquals", "DateLessThan",
        "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals", "Bool", "BinaryEquals", "IpAddress",
        "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
    }
    assert set(BASE_OPERATORS) == expected
    negated = {name for name, operator in BASE_OPERATORS.items() if operator.negated}
    assert negated == {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
                       "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"}


@pytest.mark.parametrize(("name", "qualifier"), [("ForAllValues:StringLike", Qualifier.FOR_ALL_VALUES),
                                                 ("ForAnyValue:ArnLike", Qualifier.FOR_ANY_VALUE)])
def test_set_qualifiers(name: str, qualifier: Qualifier) -> None:
    assert parse_operator(name).qualifier is qualifier


def test_operators_accept_variables_only_in_string_arn_and_bool() -> None:
    accepting = {name for name, operator in BASE_OPERATORS.items() if operator.accepts_variables}
    assert {BASE_OPERATORS[name].family for name in accepting} == {Family.STRING, Family.ARN, Family.BOOL}


@pytest.mark.parametrize(
    ("operator", "value"),
    [
        ("StringEquals", 10), ("StringEquals", True), ("StringLike", ["a*", 3]), ("NumericLessThan", 10),
        ("NumericLessThan", "-1.5"), ("NumericEquals", 2.5), ("DateLessThan", 1719792000),
        ("DateLessThan", "2024-07-01"), ("DateLessThan", "2024-07-01T00:00:00+02:00"),
        ("DateLessThan", "2024-07-01T00:00:00.123Z"), ("Bool", True), ("Bool", "false"), ("Null", False),
        ("Null", "true"), ("IpAddress", "2001:db8::/32"), ("IpAddress", "203.0.113.7"),
        ("BinaryEquals", "QmluYXJ5VmFsdWU="), ("ArnLike", "arn:aws:iam::*:role/*"), ("ArnEquals", "*"),
        ("StringEquals", "${aws:username}"), ("Bool", "${app:flag}"),
        ("ArnLike", "arn:aws:iam::1:user/${aws:username}"),
    ],
)
def test_condition_values_that_iam_accepts(operator: str, value: Any) -> None:
    source = {"Version": V2012, "Statement": [statement_with(Condition={operator: {"app:key": value}})]}
    (entry,) = parse(source).statements[0].conditions
    assert entry.values == tuple(value if isinstance(value, list) else [value])


# --- tokenizer -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "variables", "tokens"),
    [
        ("plain", True, ("plain",)),
        ("", True, ()),
        ("a*b", True, ("a", STAR, "b")),
        ("a**b", True, ("a", STAR, "b")),  # `**` is the same as `*`
        ("a??b", True, ("a", 2, "b")),
        ("${aws:username}", True, (Variable("aws:username"),)),
        ("${AWS:UserName}", True, (Variable("aws:username"),)),  # variable names ignore case
        ("x/${aws:PrincipalTag/team, 'all'}/y", True, ("x/", Variable("aws:principaltag/team", "all"), "/y")),
        ("${*}${?}${$}", True, ("*?$",)),  # literal characters, not wildcards
        ("${aws:username}", False, ("$", "{aws:username}")),
        ("$5", True, ("$5",)),
    ],
)
def test_tokenize(text: str, variables: bool, tokens: tuple[Any, ...]) -> None:
    got = tokenize(text, variables=variables, wildcards=True)
    merged: list[Any] = []
    for token in got:  # literal text may be split differently; compare it joined
        if isinstance(token, str) and merged and isinstance(merged[-1], str):
            merged[-1] += token
        else:
            merged.append(token)
    expected: list[Any] = []
    for token in tokens:
        if isinstance(token, str) and expected and isinstance(expected[-1], str):
            expected[-1] += token
        else:
            expected.append(token)
    assert merged == expected


@pytest.mark.parametrize("text", ["${aws:username", "${}", "${a b}", "${key, unquoted}"])
def test_tokenize_rejects_malformed_variables(text: str) -> None:
    with pytest.raises(ValueError):
        tokenize(text, variables=True, wildcards=True)


def test_tokenize_without_wildcards_keeps_star_and_question_mark_literal() -> None:
    assert "".join(str(token) for token in tokenize("a*b?", variables=False, wildcards=False)) == "a*b?"


# --- sources and the round trip -----------------------------------------------------------------------


def test_document_from_text_bytes_mapping_and_path_is_the_same(tmp_path: Path) -> None:
    source = {"Version": V2012, "Statement": [GOOD, statement_with(Effect="Deny", Action="orders:Delete*")]}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(source))
    expected = parse(source)
    assert parse(json.dumps(source)) == expected
    assert parse(json.dumps(source).encode()) == expected
    assert parse(path) == expected


def test_unreadable_path_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(tmp_path / "missing.json")
    assert error.value.findings[0].code == "Unreadable"


ROUND_TRIP = [
    {"Statement": GOOD},
    {"Version": V2008, "Id": "x", "Statement": [GOOD, statement_with(Sid="B", Effect="Deny")]},
    {"Version": V2012, "Statement": [statement_with(Action=None, NotAction=["a:b", "c:*"], Resource=None,
                                                    NotResource="arn:aws:s3:::b/${aws:username}")]},
    {"Version": V2012, "Statement": [statement_with(Condition={
        "StringEquals": {"aws:username": "alice", "AWS:PrincipalTag/Team": ["a", "b"]},
        "ForAnyValue:StringLike": {"aws:TagKeys": "env*"}, "NumericLessThan": {"app:n": 10},
        "Bool": {"aws:SecureTransport": True}, "Null": {"app:x": "false"}, "DateLessThanIfExists": {
            "aws:CurrentTime": "2030-01-01T00:00:00Z"}, "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "::1"]}})]},
]
ROUND_TRIP_RESOURCE = [
    {"Statement": [statement_with(Principal="*")]},
    {"Statement": [statement_with(Principal={"AWS": "*"})]},
    {"Statement": [statement_with(Principal={"Service": "a.example.com", "AWS": ["*", ALICE]})]},
    {"Statement": [statement_with(Effect="Deny", NotPrincipal={"AWS": [ALICE, "123456789012"]})]},
]


@pytest.mark.parametrize("source", ROUND_TRIP)
def test_round_trip_identity(source: dict[str, Any]) -> None:
    policy = iamguard.parse_policy(source)
    again = iamguard.parse_policy(policy.to_dict())
    assert again.document == policy.document
    assert json.loads(json.dumps(policy.to_dict())) == policy.to_dict()  # plain JSON data


@pytest.mark.parametrize("source", ROUND_TRIP_RESOURCE)
def test_round_trip_resource(source: dict[str, Any]) -> None:
    policy = iamguard.parse_policy(source, "resource")
    assert iamguard.parse_policy(policy.to_dict(), "resource").document == policy.document


def test_to_dict_shape() -> None:
    policy = iamguard.parse_policy({"Version": V2012, "Statement": statement_with(Sid="S")})
    assert policy.to_dict() == {
        "Version": V2012,
        "Statement": [{"Sid": "S", "Effect": "Allow", "Action": ["orders:GetOrder"], "Resource": ["*"]}],
    }


ACTIONS = st.sampled_from(["*", "orders:*", "orders:GetOrder", "a-b.c:X?y*"])
RESOURCES = st.sampled_from(["*", "arn:aws:s3:::b/*", "arn:app:o:r:1:x/${aws:username}", "arn:aws:s3:::b/${*}"])
CONDITIONS = st.sampled_from([
    {}, {"StringEquals": {"aws:username": "a"}}, {"ForAllValues:StringLike": {"aws:TagKeys": ["a*", "b"]}},
    {"NumericGreaterThanEqualsIfExists": {"app:n": [1, "2.5"]}}, {"Null": {"app:k": True}},
    {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/x"}}, {"BinaryEquals": {"app:b": "QQ=="}},
])


@st.composite
def statements(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": draw(st.sampled_from(["Allow", "Deny"]))}
    if draw(st.booleans()):
        out["Sid"] = draw(st.from_regex(r"[A-Za-z0-9]{1,6}", fullmatch=True))
    action_key = draw(st.sampled_from(["Action", "NotAction"]))
    out[action_key] = draw(st.one_of(ACTIONS, st.lists(ACTIONS, min_size=1, max_size=3)))
    resource_key = draw(st.sampled_from(["Resource", "NotResource"]))
    out[resource_key] = draw(st.one_of(RESOURCES, st.lists(RESOURCES, min_size=1, max_size=3)))
    condition = draw(CONDITIONS)
    if condition:
        out["Condition"] = condition
    return out


@settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(statements(), min_size=1, max_size=5, unique_by=lambda item: item.get("Sid") or object()),
       st.sampled_from([V2012, V2008, None]))
def test_round_trip_of_generated_documents(items: list[dict[str, Any]], version: str | None) -> None:
    source: dict[str, Any] = {"Statement": items}
    if version is not None:
        source["Version"] = version
    policy = iamguard.parse_policy(source)
    assert iamguard.parse_policy(policy.to_dict()).document == policy.document


# What a condition answers for a key the request does not have (IAM's condition-operator docs:
# "...IfExists", the ForAllValues/ForAnyValue set operators, and the Null operator). The engine
# decides with this, and the linter warns about Deny conditions it makes false.
@pytest.mark.parametrize(("operator", "holds"), [
    ("StringEquals", False),
    ("StringNotEquals", True),
    ("StringEqualsIfExists", True),
    ("StringNotEqualsIfExists", True),
    ("NumericLessThan", False),
    ("Bool", False),
    ("IpAddress", False),
    ("NotIpAddress", True),
    ("ArnNotLike", True),
    ("ForAllValues:StringEquals", True),
    ("ForAllValues:StringNotEquals", True),
    ("ForAnyValue:StringEquals", False),
    ("ForAnyValue:StringNotEquals", False),
    ("ForAnyValue:StringEqualsIfExists", True),
    ("Null", None),
])
def test_what_an_operator_answers_for_a_missing_key(operator: str, holds: bool | None) -> None:
    assert parse_operator(operator).holds_when_key_missing is holds
