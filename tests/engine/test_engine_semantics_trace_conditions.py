"""Traceability tests for rules 28-56 of the IAM semantics checklist (actions, resources,
condition logic, missing keys, operator families and set qualifiers).

Each test is named after the checklist rule it proves and covers only what the rest of the
suite left untested or tested for one operator family. Condition rows go through
`condition_holds`, which reads every condition two ways that must agree: as the guard of an
Allow and as the guard of a Deny.
"""

from __future__ import annotations

from typing import Any

import pytest

import iamguard
from iamguard import PolicyError
from iamguard.policy.operators import BASE_OPERATORS
from tests.engine.support import (
    ACCOUNT,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    ORDER,
    V2008,
    allow,
    condition_holds,
    deny,
    effect_of,
    policy,
)

ABSENT = object()  # the key is left out of the request context


def _context(value: Any) -> dict[str, Any]:
    return {} if value is ABSENT else {"app:key": value}


def _finding_codes(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(PolicyError) as caught:
        iamguard.parse_policy(document)
    return [(finding.pointer, finding.code) for finding in caught.value.findings]


# --- 5. Resource / NotResource -------------------------------------------------------------------

# A pattern with fewer than six colon-separated parts is refused when it is written: iamguard never
# lets a trailing `*` stand in for the segments that are missing.
@pytest.mark.parametrize("pattern", [
    "arn:aws:sns:us-east-1:*",
    "arn:app:orders:us-*",
    "arn:aws:s3:*",
    "arn:*",
])
def test_rule_32_an_arn_pattern_with_fewer_than_six_parts_is_refused(pattern: str) -> None:
    assert _finding_codes(policy(allow(GET, pattern))) == [("/Statement/0/Resource", "InvalidResource")]
    assert _finding_codes(policy(allow(GET, not_resource=[pattern]))) == [
        ("/Statement/0/NotResource/0", "InvalidResource")]


@pytest.mark.parametrize("pattern", [
    "arn:aws:*:::bucket",
    "arn:aws:s?:::bucket",
    "arn:aws:s3*:::bucket",
    f"arn:app:*ders:us-east-1:{ACCOUNT}:order/42",
    "arn:aws:${aws:username}:::bucket",
])
def test_rule_36_wildcards_and_variables_in_the_service_segment_are_refused(pattern: str) -> None:
    assert _finding_codes(policy(allow(GET, pattern))) == [("/Statement/0/Resource", "InvalidResource")]


@pytest.mark.parametrize("pattern", [
    "arn:${aws:PrincipalTag/partition}:orders:us-east-1:123456789012:order/42",
    "arn:app:orders:${aws:RequestedRegion}:123456789012:order/42",
    "arn:app:orders:us-east-1:${aws:PrincipalAccount}:order/42",
])
def test_rule_37_a_policy_variable_before_the_resource_part_is_refused(pattern: str) -> None:
    assert _finding_codes(policy(allow(GET, pattern))) == [("/Statement/0/Resource", "InvalidResource")]


def test_rule_37_a_policy_variable_in_the_resource_part_is_expanded() -> None:
    statement = allow(GET, f"arn:app:orders:us-east-1:{ACCOUNT}:order/${{app:order}}")
    assert effect_of(statement, context={"app:order": "42"}) is ALLOW
    assert effect_of(statement, context={"app:order": "43"}) is IMPLICIT


def test_rule_37_without_version_2012_a_variable_before_the_resource_part_is_literal_text() -> None:
    literal = f"arn:app:orders:${{aws:RequestedRegion}}:{ACCOUNT}:order/42"
    assert iamguard.parse_policy(policy(allow(GET, literal), version=V2008)).document.statements[0].resources == (
        literal,)
    # Not expanded: the request's region does not make it match.
    assert effect_of(allow(GET, literal), version=V2008, resource=ORDER,
                     context={"aws:RequestedRegion": "us-east-1"}) is IMPLICIT


# --- 6. Condition block logic ------------------------------------------------------------------------

# Key names fold case for every operator family and form, not only for the one-string comparison
# that the evaluator answers on its fast path.
@pytest.mark.parametrize(("condition", "context", "holds"), [
    ({"Null": {"App:Key": "false"}}, {"app:KEY": "x"}, True),
    ({"Null": {"App:Key": "true"}}, {"APP:key": "x"}, False),
    ({"StringEqualsIfExists": {"aws:PrincipalTag/Team": "blue"}}, {"aws:principaltag/TEAM": "red"}, False),
    ({"ForAnyValue:StringEquals": {"aws:TagKeys": "env"}}, {"AWS:TAGKEYS": ["env", "x"]}, True),
    ({"ForAllValues:StringEquals": {"aws:TagKeys": "env"}}, {"aws:tagkeys": ["env", "x"]}, False),
    ({"NumericLessThan": {"App:Size": "10"}}, {"app:size": 3}, True),
    ({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"AWS:SOURCEIP": "10.1.2.3"}, True),
    ({"NotIpAddress": {"aws:sourceip": "10.0.0.0/8"}}, {"aws:SourceIP": "10.1.2.3"}, False),
    ({"ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/a"}}, {"aws:principalarn": "arn:aws:iam::1:role/a"}, True),
    ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"AWS:currenttime": "2024-01-01T00:00:00Z"},
     True),
    ({"Bool": {"aws:SecureTransport": "true"}}, {"aws:securetransport": True}, True),
])
def test_rule_39_condition_key_names_ignore_case_for_every_operator(condition: dict[str, Any],
                                                                    context: dict[str, Any], holds: bool) -> None:
    assert condition_holds(condition, context) is holds


# --- 7. Missing keys, IfExists, Null ---------------------------------------------------------------

# (operator, a policy value, a request value the operator accepts, one it rejects). Written out
# by hand so that the expectations below do not come from the code under test.
EVERY_OPERATOR: list[tuple[str, Any, Any, Any]] = [
    ("StringEquals", "blue", "blue", "red"),
    ("StringNotEquals", "blue", "red", "blue"),
    ("StringEqualsIgnoreCase", "Blue", "bLUE", "red"),
    ("StringNotEqualsIgnoreCase", "Blue", "red", "BLUE"),
    ("StringLike", "b*", "blue", "red"),
    ("StringNotLike", "b*", "red", "blue"),
    ("NumericEquals", "10", "10.0", "11"),
    ("NumericNotEquals", "10", "11", "10"),
    ("NumericLessThan", "10", "9", "10"),
    ("NumericLessThanEquals", "10", "10", "11"),
    ("NumericGreaterThan", "10", "11", "10"),
    ("NumericGreaterThanEquals", "10", "10", "9"),
    ("DateEquals", "2024-01-01T00:00:00Z", "2024-01-01T01:00:00+01:00", "2024-01-02T00:00:00Z"),
    ("DateNotEquals", "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"),
    ("DateLessThan", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z", "2024-01-01T00:00:00Z"),
    ("DateLessThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z"),
    ("DateGreaterThan", "2024-01-01T00:00:00Z", "2024-01-01T00:00:01Z", "2024-01-01T00:00:00Z"),
    ("DateGreaterThanEquals", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z", "2023-12-31T23:59:59Z"),
    ("Bool", "true", "true", "false"),
    ("BinaryEquals", "QUJD", b"ABC", b"abc"),
    ("IpAddress", "10.0.0.0/8", "10.1.2.3", "192.168.0.1"),
    ("NotIpAddress", "10.0.0.0/8", "192.168.0.1", "10.1.2.3"),
    ("ArnEquals", "arn:aws:iam::*:role/a", "arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"),
    ("ArnLike", "arn:aws:iam::*:role/a", "arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"),
    ("ArnNotEquals", "arn:aws:iam::*:role/a", "arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"),
    ("ArnNotLike", "arn:aws:iam::*:role/a", "arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"),
]
NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals", "DateNotEquals",
           "NotIpAddress", "ArnNotEquals", "ArnNotLike"}
OPERATOR_IDS = [row[0] for row in EVERY_OPERATOR]


def test_rule_41_the_tables_cover_every_operator_but_null() -> None:
    assert set(OPERATOR_IDS) == set(BASE_OPERATORS) - {"Null"}
    assert len(OPERATOR_IDS) == len(set(OPERATOR_IDS))


@pytest.mark.parametrize(("operator", "policy_value", "accepted", "rejected"), EVERY_OPERATOR, ids=OPERATOR_IDS)
def test_rule_41_a_missing_key_makes_positive_operators_false_and_negated_ones_true(
        operator: str, policy_value: Any, accepted: Any, rejected: Any) -> None:
    assert condition_holds({operator: {"app:key": policy_value}}, {}) is (operator in NEGATED)


@pytest.mark.parametrize(("operator", "policy_value", "accepted", "rejected"), EVERY_OPERATOR, ids=OPERATOR_IDS)
def test_rule_42_if_exists_holds_for_a_missing_key_and_otherwise_acts_like_the_plain_operator(
        operator: str, policy_value: Any, accepted: Any, rejected: Any) -> None:
    for name in (operator, f"{operator}IfExists"):
        assert condition_holds({name: {"app:key": policy_value}}, _context(accepted)) is True, name
        assert condition_holds({name: {"app:key": policy_value}}, _context(rejected)) is False, name
    assert condition_holds({f"{operator}IfExists": {"app:key": policy_value}}, {}) is True


@pytest.mark.parametrize("operator", ["StringEqualsIfExists", "StringNotEqualsIfExists"])
def test_rule_42_a_deny_with_an_if_exists_operator_fires_on_a_missing_key(operator: str) -> None:
    statements = (allow(), deny(condition={operator: {"aws:PrincipalTag/team": "blue"}}))
    assert effect_of(*statements) is EXPLICIT
    present = {"aws:PrincipalTag/team": "blue"}
    assert effect_of(*statements, context=present) is (EXPLICIT if operator == "StringEqualsIfExists" else ALLOW)


@pytest.mark.parametrize("operator", ["NullIfExists", "ForAllValues:Null", "ForAnyValue:NullIfExists"])
def test_rule_43_null_has_no_if_exists_or_set_qualifier_form(operator: str) -> None:
    document = policy(allow(condition={operator: {"app:key": "true"}}))
    assert _finding_codes(document) == [(f"/Statement/0/Condition/{operator}", "UnknownOperator")]


@pytest.mark.parametrize("value", ["${app:wanted}", "${app:wanted, 'true'}"])
def test_rule_43_null_takes_no_policy_variables(value: str) -> None:
    document = policy(allow(condition={"Null": {"app:key": value}}))
    assert _finding_codes(document) == [("/Statement/0/Condition/Null/app:key", "InvalidConditionValue")]


@pytest.mark.parametrize(("value", "request_value", "holds"), [
    ("true", ABSENT, True),
    ("true", "x", False),
    ("false", ABSENT, False),
    ("false", "x", True),
    (True, ABSENT, True),  # a JSON boolean is accepted
    (False, "x", True),
    (False, ABSENT, False),
    ("true", "", False),  # an empty string is a value: the key is present
])
def test_rule_43_null_true_means_absent_and_false_means_present(value: Any, request_value: Any, holds: bool) -> None:
    assert condition_holds({"Null": {"app:key": value}}, _context(request_value)) is holds


# --- 8. Operator families -------------------------------------------------------------------------

@pytest.mark.parametrize(("operator", "value"), [
    ("NumericEquals", "1*"),
    ("NumericLessThan", "1?"),
    ("NumericGreaterThan", "*"),
    ("NumericEquals", "${app:limit}"),
    ("DateLessThan", "2024-*"),
    ("DateEquals", "2024-01-0?"),
    ("DateGreaterThan", "${aws:CurrentTime}"),
])
def test_rule_45_46_numeric_and_date_values_take_no_wildcards_or_variables(operator: str, value: str) -> None:
    document = policy(allow(condition={operator: {"app:key": value}}))
    assert _finding_codes(document) == [(f"/Statement/0/Condition/{operator}/app:key", "InvalidConditionValue")]


@pytest.mark.parametrize("operator", ["NumericEquals", "NumericLessThan", "NumericLessThanEquals",
                                      "NumericGreaterThan", "NumericGreaterThanEquals"])
@pytest.mark.parametrize("request_value", ["abc", "", "1e3", "0x10", "ten"])
def test_rule_45_a_non_numeric_request_value_never_satisfies_a_positive_numeric_operator(
        operator: str, request_value: str) -> None:
    condition = {operator: {"app:key": "10"}}
    assert effect_of(allow(condition=condition), context=_context(request_value)) is IMPLICIT
    # Differs by design (README, "What differs from AWS"): the value cannot be read, so a Deny
    # guarded by it applies instead of being skipped.
    assert effect_of(allow(), deny(condition=condition), context=_context(request_value)) is EXPLICIT


# ArnEquals and ArnLike are one operator: every row answers the same for both names, and their
# negations answer the opposite.
ARN_ROWS: list[tuple[str, str, bool]] = [
    ("arn:aws:iam::123456789012:role/admin", "arn:aws:iam::123456789012:role/admin", True),
    ("arn:aws:iam::*:role/admin", "arn:aws:iam::123456789012:role/admin", True),
    ("arn:aws:iam::12345678901?:role/admin", "arn:aws:iam::123456789012:role/admin", True),
    ("arn:aws:iam::12345678901?:role/admin", "arn:aws:iam::12345678901:role/admin", False),
    ("arn:aws:iam::123456789012:role/adm*", "arn:aws:iam::123456789012:role/admin", True),
    ("arn:aws:iam::123456789012:role/Admin", "arn:aws:iam::123456789012:role/admin", False),
    ("arn:AWS:iam::123456789012:role/admin", "arn:aws:iam::123456789012:role/admin", False),
    # A wildcard in the account cannot take a colon to re-align the later parts (StringLike would).
    ("arn:aws:iam::*:role/admin", "arn:aws:iam::1:2:role/admin", False),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b/c", True),  # in the resource part it can
    ("arn:aws:iam::*:role/admin", "role/admin", False),
]


@pytest.mark.parametrize(("pattern", "value", "matches"), ARN_ROWS)
def test_rule_50_arn_equals_and_arn_like_both_take_wildcards_and_match_per_segment(pattern: str, value: str,
                                                                                   matches: bool) -> None:
    context = {"aws:PrincipalArn": value}
    for operator in ("ArnEquals", "ArnLike"):
        assert condition_holds({operator: {"aws:PrincipalArn": pattern}}, context) is matches, operator
    for operator in ("ArnNotEquals", "ArnNotLike"):
        assert condition_holds({operator: {"aws:PrincipalArn": pattern}}, context) is (not matches), operator


def test_rule_50_a_value_string_like_matches_can_fail_arn_like() -> None:
    pattern, value = "arn:aws:iam::*:role/admin", "arn:aws:iam::1:2:role/admin"
    assert condition_holds({"StringLike": {"aws:PrincipalArn": pattern}}, {"aws:PrincipalArn": value})
    assert not condition_holds({"ArnLike": {"aws:PrincipalArn": pattern}}, {"aws:PrincipalArn": value})


# --- 9. Multivalued keys ---------------------------------------------------------------------------

# (operator, policy value, request value, holds): the qualifiers work the same way for every
# family, and a scalar request value is a one-element set.
SET_ROWS: list[tuple[str, Any, Any, bool]] = [
    ("ForAnyValue:NumericGreaterThan", "10", ["3", "11"], True),
    ("ForAllValues:NumericGreaterThan", "10", ["3", "11"], False),
    ("ForAllValues:NumericGreaterThan", "10", 11, True),
    ("ForAnyValue:NumericNotEquals", "10", ["10", "10.0"], False),
    ("ForAnyValue:DateLessThan", "2024-01-01T00:00:00Z", ["2025-01-01T00:00:00Z", "2023-06-01"], True),
    ("ForAllValues:DateLessThan", "2024-01-01T00:00:00Z", ["2025-01-01T00:00:00Z", "2023-06-01"], False),
    ("ForAllValues:DateLessThan", "2024-01-01T00:00:00Z", "2023-06-01", True),
    ("ForAllValues:Bool", "true", [True, "true"], True),
    ("ForAllValues:Bool", "true", [True, False], False),
    ("ForAnyValue:Bool", "false", True, False),
    ("ForAnyValue:ArnEquals", "arn:aws:iam::*:role/a", ["arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"], True),
    ("ForAllValues:ArnNotLike", "arn:aws:iam::*:role/a", ["arn:aws:iam::1:role/b", "arn:aws:iam::1:role/c"], True),
    ("ForAllValues:ArnNotLike", "arn:aws:iam::*:role/a", ["arn:aws:iam::1:role/b", "arn:aws:iam::1:role/a"], False),
    ("ForAllValues:IpAddress", "10.0.0.0/8", ["10.0.0.1", "10.9.9.9"], True),
    ("ForAllValues:IpAddress", "10.0.0.0/8", ["10.0.0.1", "192.168.0.1"], False),
    ("ForAnyValue:NotIpAddress", "10.0.0.0/8", ["10.0.0.1", "192.168.0.1"], True),
    ("ForAnyValue:BinaryEquals", "QUJD", [b"x", b"ABC"], True),
    ("ForAllValues:StringEqualsIgnoreCase", "blue", "BLUE", True),
    # Missing and empty keys, for families beyond String.
    ("ForAllValues:NumericLessThan", "5", ABSENT, True),
    ("ForAllValues:NumericLessThan", "5", [], True),
    ("ForAnyValue:NumericLessThan", "5", ABSENT, False),
    ("ForAnyValue:DateLessThan", "2024-01-01T00:00:00Z", [], False),
    ("ForAllValues:ArnLike", "arn:aws:iam::*:role/a", [], True),
    ("ForAnyValue:ArnNotLike", "arn:aws:iam::*:role/a", ABSENT, False),
]


@pytest.mark.parametrize(("operator", "policy_value", "request_value", "holds"), SET_ROWS)
def test_rule_55_set_qualifiers_apply_to_every_family_and_read_a_scalar_as_one_element(
        operator: str, policy_value: Any, request_value: Any, holds: bool) -> None:
    assert condition_holds({operator: {"app:key": policy_value}}, _context(request_value)) is holds


# A plain operator on a request value with several elements: an Allow never applies. A Deny does,
# which differs by design from IAMSIM's "no match" (README, "What differs from AWS": an
# evaluation error that fails closed, where AWS is silent).
@pytest.mark.parametrize(("operator", "policy_value", "request_values"), [
    ("StringEquals", "blue", ["blue", "red"]),
    ("StringNotEquals", "blue", ["green", "red"]),
    ("StringLike", "b*", ["blue", "black"]),
    ("StringEqualsIfExists", "blue", ["blue", "red"]),
    ("NumericLessThan", "10", [1, 2]),
    ("DateLessThan", "2030-01-01T00:00:00Z", ["2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z"]),
    ("Bool", "true", [True, True]),
    ("IpAddress", "10.0.0.0/8", ["10.0.0.1", "10.0.0.2"]),
    ("ArnLike", "arn:aws:iam::*:role/*", ["arn:aws:iam::1:role/a", "arn:aws:iam::1:role/b"]),
    ("BinaryEquals", "QUJD", [b"ABC", b"ABC"]),
])
def test_rule_56_a_plain_operator_on_several_request_values_never_matches_an_allow(
        operator: str, policy_value: Any, request_values: list[Any]) -> None:
    condition = {operator: {"app:key": policy_value}}
    decision = iamguard.evaluate(iamguard.Request("arn:aws:iam::123456789012:user/alice", GET, ORDER,
                                                  {"app:key": request_values}),
                                 identity_policies=[policy(allow(condition=condition))])
    assert decision.effect is IMPLICIT
    assert len(decision.errors) == 1 and "ForAnyValue" in decision.errors[0]
    assert effect_of(allow(), deny(condition=condition), context={"app:key": request_values}) is EXPLICIT
    # With a qualifier the same values are legal and decide normally.
    assert effect_of(allow(condition={f"ForAnyValue:{operator}": {"app:key": policy_value}}),
                     context={"app:key": request_values}) is ALLOW
