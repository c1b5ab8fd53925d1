"""Every condition operator family, positive and negative, with IfExists, set qualifiers and the
AND/OR/NOR block logic (IAM condition operator reference; spec points 38-56).

Each row is checked two ways by `condition_holds`: as the guard of an Allow and of a Deny.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.engine.support import condition_holds

ABSENT = object()  # the key is not in the request context

# (operator, policy value(s), request value or ABSENT, holds)
STRING_TABLE: list[tuple[str, Any, Any, bool]] = [
    ("StringEquals", "blue", "blue", True),
    ("StringEquals", "blue", "Blue", False),  # case-sensitive
    ("StringEquals", "blue", "blue ", False),
    ("StringEquals", "blue", ABSENT, False),
    ("StringEquals", ["red", "blue"], "blue", True),  # values are ORed
    ("StringEquals", "*", "anything", False),  # no wildcards in StringEquals
    ("StringEquals", "*", "*", True),
    ("StringEquals", "", "", True),
    ("StringEquals", 10, "10", True),  # a JSON number compares as its text
    ("StringEquals", "10", 10, True),
    ("StringEquals", True, "true", True),
    ("StringEquals", "true", True, True),
    ("StringNotEquals", "blue", "red", True),
    ("StringNotEquals", "blue", "blue", False),
    ("StringNotEquals", "blue", "BLUE", True),
    ("StringNotEquals", "blue", ABSENT, True),  # negated operators hold for a missing key
    ("StringNotEquals", ["red", "blue"], "blue", False),  # NOR: the value must match none
    ("StringNotEquals", ["red", "blue"], "red", False),
    ("StringNotEquals", ["red", "blue"], "green", True),
    ("StringEqualsIgnoreCase", "Blue", "bLUE", True),
    ("StringEqualsIgnoreCase", "Blue", "green", False),
    ("StringEqualsIgnoreCase", "Blue", ABSENT, False),
    ("StringEqualsIgnoreCase", "b*", "blue", False),
    ("StringNotEqualsIgnoreCase", "Blue", "BLUE", False),
    ("StringNotEqualsIgnoreCase", "Blue", "red", True),
    ("StringNotEqualsIgnoreCase", "Blue", ABSENT, True),
    ("StringNotEqualsIgnoreCase", ["a", "B"], "b", False),
    ("StringLike", "proj-*", "proj-1", True),
    ("StringLike", "proj-*", "proj-", True),
    ("StringLike", "proj-*", "xproj-1", False),  # anchored
    ("StringLike", "proj-*", "Proj-1", False),  # case-sensitive
    ("StringLike", "a?c", "abc", True),
    ("StringLike", "a?c", "ac", False),
    ("StringLike", "a?c", "abbc", False),
    ("StringLike", "*", "", True),
    ("StringLike", "file.txt", "fileXtxt", False),  # `.` is literal
    ("StringLike", "a+b", "aab", False),
    ("StringLike", "(x)", "(x)", True),
    ("StringLike", "home/*/docs/*", "home/alice/docs/a/b", True),
    ("StringLike", "home/*/docs/*", "home/alice/pics/a", False),
    ("StringLike", ["a*", "b*"], "bz", True),
    ("StringLike", "proj-*", ABSENT, False),
    ("StringNotLike", "proj-*", "proj-1", False),
    ("StringNotLike", "proj-*", "other", True),
    ("StringNotLike", "proj-*", ABSENT, True),
    ("StringNotLike", ["a*", "b*"], "bz", False),
    ("StringNotLike", ["a*", "b*"], "cz", True),
    ("StringEqualsIfExists", "blue", ABSENT, True),
    ("StringEqualsIfExists", "blue", "blue", True),
    ("StringEqualsIfExists", "blue", "red", False),
    ("StringNotEqualsIfExists", "blue", ABSENT, True),
    ("StringNotEqualsIfExists", "blue", "blue", False),
    ("StringLikeIfExists", "b*", "red", False),
    ("StringNotLikeIfExists", "b*", "blue", False),
    ("StringEqualsIgnoreCaseIfExists", "B", "b", True),
]

NUMERIC_TABLE: list[tuple[str, Any, Any, bool]] = [
    ("NumericEquals", "10", "10", True),
    ("NumericEquals", "10", "10.0", True),  # compared as numbers, not text
    ("NumericEquals", "10", 10, True),
    ("NumericEquals", 10, "10", True),
    ("NumericEquals", "10", "11", False),
    ("NumericEquals", "10", ABSENT, False),
    ("NumericEquals", ["5", "10"], "10", True),
    ("NumericNotEquals", "10", "11", True),
    ("NumericNotEquals", "10", "10", False),
    ("NumericNotEquals", "10", ABSENT, True),
    ("NumericNotEquals", ["5", "10"], "5", False),  # NOR
    ("NumericNotEquals", ["5", "10"], "7", True),
    ("NumericLessThan", "10", "9", True),
    ("NumericLessThan", "10", "9.5", True),
    ("NumericLessThan", "10", "10", False),
    ("NumericLessThan", "10", "11", False),
    ("NumericLessThan", "10", "-3", True),
    ("NumericLessThan", "10", ABSENT, False),
    ("NumericLessThan", ["5", "10"], "7", True),  # ORed: 7 < 10
    ("NumericLessThanEquals", "10", "10", True),
    ("NumericLessThanEquals", "10", "10.5", False),
    ("NumericGreaterThan", "9", "10", True),  # "10" < "9" as text, 10 > 9 as numbers
    ("NumericGreaterThan", "9", "9", False),
    ("NumericGreaterThan", "-5", "-4", True),
    ("NumericGreaterThan", "1.5", "1.25", False),
    ("NumericGreaterThanEquals", "9", "9", True),
    ("NumericGreaterThanEquals", "9", "8.999", False),
    ("NumericGreaterThanEquals", "9", 9.5, True),
    ("NumericLessThanIfExists", "10", ABSENT, True),
    ("NumericLessThanIfExists", "10", "11", False),
    ("NumericGreaterThanIfExists", "10", ABSENT, True),
]

JAN_1 = "2024-01-01T00:00:00Z"
JAN_1_EPOCH = 1704067200
DATE_TABLE: list[tuple[str, Any, Any, bool]] = [
    ("DateEquals", JAN_1, JAN_1, True),
    ("DateEquals", JAN_1, "2024-01-01T01:00:00+01:00", True),  # offsets are normalised
    ("DateEquals", JAN_1, "2023-12-31T19:00:00-05:00", True),
    ("DateEquals", JAN_1, JAN_1_EPOCH, True),  # epoch seconds in the context
    ("DateEquals", JAN_1, str(JAN_1_EPOCH), True),
    ("DateEquals", JAN_1_EPOCH, JAN_1, True),  # epoch seconds in the policy
    ("DateEquals", JAN_1, "2024-01-01", True),  # a bare date is midnight UTC
    ("DateEquals", JAN_1, "2024-01-01T00:00:00.000Z", True),
    ("DateEquals", JAN_1, datetime(2024, 1, 1, tzinfo=timezone.utc), True),
    ("DateEquals", JAN_1, datetime(2024, 1, 1, 2, tzinfo=timezone(timedelta(hours=2))), True),
    ("DateEquals", JAN_1, date(2024, 1, 1), True),
    ("DateEquals", JAN_1, "2024-01-01T00:00:01Z", False),
    ("DateEquals", JAN_1, ABSENT, False),
    ("DateNotEquals", JAN_1, "2024-01-02T00:00:00Z", True),
    ("DateNotEquals", JAN_1, JAN_1_EPOCH, False),
    ("DateNotEquals", JAN_1, ABSENT, True),
    ("DateLessThan", "2024-07-01T00:00:00Z", "2024-06-30T23:59:59Z", True),
    ("DateLessThan", "2024-07-01T00:00:00Z", "2024-07-01T00:00:00Z", False),
    # As text "2024-07-01T09:00:00Z" < "2024-07-01T10:00:00+02:00", but 09:00Z is after 08:00Z.
    ("DateLessThan", "2024-07-01T10:00:00+02:00", "2024-07-01T09:00:00Z", False),
    ("DateLessThan", "2024-07-01T10:00:00+02:00", "2024-07-01T07:59:59Z", True),
    ("DateLessThan", "2024-07-01T00:00:00Z", ABSENT, False),
    ("DateLessThanEquals", "2024-07-01T00:00:00Z", "2024-07-01T00:00:00Z", True),
    ("DateLessThanEquals", "2024-07-01T00:00:00Z", "2024-07-01T00:00:01Z", False),
    ("DateGreaterThan", "2024-07-01T00:00:00Z", "2024-07-01T00:00:01Z", True),
    ("DateGreaterThan", "2024-07-01T00:00:00Z", "2024-07-01T00:00:00Z", False),
    ("DateGreaterThan", "2024-07-01T00:00:00Z", 1719792001, True),
    ("DateGreaterThanEquals", "2024-07-01T00:00:00Z", "2024-07-01T00:00:00Z", True),
    ("DateGreaterThanEquals", "2024-07-01T00:00:00Z", "2024-06-30T00:00:00Z", False),
    ("DateLessThanIfExists", "2024-07-01T00:00:00Z", ABSENT, True),
    ("DateLessThanIfExists", "2024-07-01T00:00:00Z", "2025-01-01T00:00:00Z", False),
]

BOOL_BINARY_IP_ARN_TABLE: list[tuple[str, Any, Any, bool]] = [
    ("Bool", "true", "true", True),
    ("Bool", "true", True, True),
    ("Bool", True, "true", True),  # a JSON boolean is accepted as the policy value
    ("Bool", "true", "false", False),
    ("Bool", "true", False, False),
    ("Bool", "false", False, True),
    ("Bool", "false", "false", True),
    ("Bool", "true", ABSENT, False),
    ("Bool", "false", ABSENT, False),
    ("BoolIfExists", "true", ABSENT, True),
    ("BoolIfExists", "false", ABSENT, True),
    ("BoolIfExists", "true", "false", False),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", b"BinaryValue", True),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", "QmluYXJ5VmFsdWU=", True),  # base64 text in the context
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", b"binaryvalue", False),
    ("BinaryEquals", "QmluYXJ5VmFsdWU=", ABSENT, False),
    ("BinaryEqualsIfExists", "QmluYXJ5VmFsdWU=", ABSENT, True),
    ("IpAddress", "203.0.113.0/24", "203.0.113.7", True),
    ("IpAddress", "203.0.113.0/24", "203.0.114.7", False),
    ("IpAddress", "203.0.113.7", "203.0.113.7", True),  # a bare address is /32
    ("IpAddress", "203.0.113.7", "203.0.113.8", False),
    ("IpAddress", "203.0.113.7/32", "203.0.113.7", True),
    ("IpAddress", ["10.0.0.0/8", "203.0.113.0/24"], "10.200.3.4", True),
    ("IpAddress", "2001:db8::/32", "2001:db8:1::1", True),
    ("IpAddress", "2001:db8::/32", "2001:db9::1", False),
    ("IpAddress", "2001:db8::1", "2001:db8::1", True),  # a bare IPv6 address is /128
    ("IpAddress", "2001:db8::1", "2001:db8::2", False),
    ("IpAddress", "0.0.0.0/0", "2001:db8::1", False),  # never across IP versions
    ("IpAddress", "::/0", "203.0.113.7", False),
    ("IpAddress", "203.0.113.0/24", ABSENT, False),
    ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "10.1.1.1", False),
    ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "192.168.9.9", False),
    ("NotIpAddress", ["10.0.0.0/8", "192.168.0.0/16"], "8.8.8.8", True),
    ("NotIpAddress", "10.0.0.0/8", "2001:db8::1", True),
    ("NotIpAddress", "10.0.0.0/8", ABSENT, True),
    ("IpAddressIfExists", "10.0.0.0/8", ABSENT, True),
    ("NotIpAddressIfExists", "10.0.0.0/8", "10.0.0.1", False),
    ("ArnEquals", "arn:aws:iam::123456789012:role/admin", "arn:aws:iam::123456789012:role/admin", True),
    ("ArnEquals", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:role/admin", True),
    ("ArnLike", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:role/admin", True),
    ("ArnLike", "arn:aws:iam::*:role/admin", "arn:aws:iam::210987654321:role/admin", True),
    ("ArnLike", "arn:aws:iam::*:role/Admin", "arn:aws:iam::210987654321:role/admin", False),  # case-sensitive
    ("ArnLike", "arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:user/admin", False),
    ("ArnLike", "arn:aws:iam::123456789012:role/*", "arn:aws:sts::123456789012:role/admin", False),
    # StringLike would match this one; per-segment matching does not let `*` eat a colon.
    ("ArnLike", "arn:aws:iam::*:role/admin", "arn:aws:iam::123:456:role/admin", False),
    ("StringLike", "arn:aws:iam::*:role/admin", "arn:aws:iam::123:456:role/admin", True),
    ("ArnLike", "arn:aws:iam::*:role/admin", "not-an-arn", False),
    ("ArnLike", "arn:aws:iam::*:role/admin", ABSENT, False),
    ("ArnLike", "arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a:b/c", True),  # `*` spans `:` in the resource
    ("ArnNotEquals", "arn:aws:iam::*:role/admin", "arn:aws:iam::1:role/admin", False),
    ("ArnNotEquals", "arn:aws:iam::*:role/admin", "arn:aws:iam::1:role/dev", True),
    ("ArnNotLike", ["arn:aws:iam::*:role/a", "arn:aws:iam::*:role/b"], "arn:aws:iam::1:role/b", False),
    ("ArnNotLike", ["arn:aws:iam::*:role/a", "arn:aws:iam::*:role/b"], "arn:aws:iam::1:role/c", True),
    ("ArnNotLike", "arn:aws:iam::*:role/a", ABSENT, True),
    ("ArnLikeIfExists", "arn:aws:iam::*:role/a", ABSENT, True),
    ("Null", "true", ABSENT, True),
    ("Null", "true", "x", False),
    ("Null", "false", ABSENT, False),
    ("Null", "false", "x", True),
    ("Null", True, ABSENT, True),  # a JSON boolean is accepted
    ("Null", "true", [], True),  # an empty list is the same as an absent key
]

SET_TABLE: list[tuple[str, Any, Any, bool]] = [
    ("ForAllValues:StringEquals", ["a", "b"], ["a"], True),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "b"], True),
    ("ForAllValues:StringEquals", ["a", "b"], ["a", "c"], False),
    ("ForAllValues:StringEquals", ["a", "b"], ABSENT, True),  # vacuous truth for a missing key
    ("ForAllValues:StringEquals", ["a", "b"], [], True),  # and for an empty set
    ("ForAllValues:StringEquals", ["a", "b"], "a", True),  # a scalar is a one-element set
    ("ForAllValues:StringEquals", ["Team"], ["team"], False),  # tag-key values are case-sensitive
    ("ForAnyValue:StringEquals", ["a", "b"], ["c", "a"], True),
    ("ForAnyValue:StringEquals", ["a", "b"], ["c"], False),
    ("ForAnyValue:StringEquals", ["a", "b"], ABSENT, False),
    ("ForAnyValue:StringEquals", ["a", "b"], [], False),
    ("ForAnyValue:StringEquals", ["a", "b"], "b", True),
    # Negated operators apply per request value.
    ("ForAllValues:StringNotEquals", ["a", "b"], ["c", "d"], True),  # none of the values is listed
    ("ForAllValues:StringNotEquals", ["a", "b"], ["a", "c"], False),
    ("ForAllValues:StringNotEquals", ["a", "b"], ABSENT, True),
    ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "c"], True),  # at least one is not listed
    ("ForAnyValue:StringNotEquals", ["a", "b"], ["a", "b"], False),
    ("ForAnyValue:StringNotEquals", ["a", "b"], ABSENT, False),
    ("ForAllValues:StringLike", "proj-*", ["proj-1", "proj-2"], True),
    ("ForAllValues:StringLike", "proj-*", ["proj-1", "x"], False),
    ("ForAnyValue:StringLike", "proj-*", ["x", "proj-2"], True),
    ("ForAnyValue:StringLike", "proj-*", ["x", "y"], False),
    ("ForAllValues:StringNotLike", "tmp-*", ["a", "b"], True),
    ("ForAllValues:StringNotLike", "tmp-*", ["a", "tmp-b"], False),
    ("ForAllValues:StringNotLike", "tmp-*", ABSENT, True),  # spec section 14: our reading is match
    ("ForAnyValue:StringNotLike", "tmp-*", ["tmp-a", "b"], True),
    ("ForAnyValue:StringEqualsIgnoreCase", ["Admins"], ["dev", "ADMINS"], True),
    ("ForAllValues:StringEqualsIgnoreCase", ["Admins", "dev"], ["DEV", "admins"], True),
    ("ForAnyValue:ArnLike", "arn:aws:iam::*:role/a*", ["arn:aws:iam::1:role/x", "arn:aws:iam::1:role/ab"], True),
    ("ForAllValues:ArnLike", "arn:aws:iam::*:role/a*", ["arn:aws:iam::1:role/x", "arn:aws:iam::1:role/ab"], False),
    ("ForAnyValue:NumericLessThan", "5", ["10", "3"], True),
    ("ForAllValues:NumericLessThan", "5", ["10", "3"], False),
    ("ForAnyValue:Bool", "true", [False, True], True),
    ("ForAnyValue:IpAddress", "10.0.0.0/8", ["8.8.8.8", "10.0.0.1"], True),
    ("ForAnyValue:StringEqualsIfExists", ["a"], ABSENT, True),
]

TABLES = STRING_TABLE + NUMERIC_TABLE + DATE_TABLE + BOOL_BINARY_IP_ARN_TABLE + SET_TABLE


def _case_id(row: tuple[str, Any, Any, bool]) -> str:
    operator, policy_value, request_value, holds = row
    shown = "ABSENT" if request_value is ABSENT else repr(request_value)
    return f"{operator}[{policy_value!r}]<-{shown}:{holds}"


@pytest.mark.parametrize(("operator", "policy_value", "request_value", "holds"), TABLES,
                         ids=[_case_id(row) for row in TABLES])
def test_operator(operator: str, policy_value: Any, request_value: Any, holds: bool) -> None:
    context = {} if request_value is ABSENT else {"app:value": request_value}
    assert condition_holds({operator: {"app:value": policy_value}}, context) is holds


def test_all_operators_are_anded() -> None:
    condition = {"StringEquals": {"app:team": "blue"}, "NumericLessThan": {"app:size": "10"}}
    assert condition_holds(condition, {"app:team": "blue", "app:size": 3})
    assert not condition_holds(condition, {"app:team": "blue", "app:size": 30})
    assert not condition_holds(condition, {"app:team": "red", "app:size": 3})
    assert not condition_holds(condition, {"app:size": 3})


def test_all_keys_under_one_operator_are_anded() -> None:
    condition = {"StringEquals": {"app:team": "blue", "app:stage": ["dev", "test"]}}
    assert condition_holds(condition, {"app:team": "blue", "app:stage": "test"})
    assert not condition_holds(condition, {"app:team": "blue", "app:stage": "prod"})
    assert not condition_holds(condition, {"app:team": "blue"})


def test_negated_operator_with_several_keys_and_values() -> None:
    condition = {"StringNotEquals": {"app:team": ["red", "green"], "app:stage": "prod"}}
    assert condition_holds(condition, {"app:team": "blue", "app:stage": "dev"})
    assert not condition_holds(condition, {"app:team": "green", "app:stage": "dev"})
    assert not condition_holds(condition, {"app:team": "blue", "app:stage": "prod"})
    assert condition_holds(condition, {})


def test_empty_condition_block_imposes_nothing() -> None:
    assert condition_holds({}, {})
    assert condition_holds({"StringEquals": {}}, {})


@pytest.mark.parametrize(
    ("policy_key", "context_key"),
    [
        ("aws:username", "AWS:UserName"),
        ("AWS:USERNAME", "aws:username"),
        ("aws:PrincipalTag/Team", "aws:principaltag/team"),  # the tag part ignores case too
        ("aws:principaltag/team", "aws:PrincipalTag/TEAM"),
        ("aws:ResourceTag/CostCenter", "aws:resourcetag/costcenter"),
        ("aws:RequestTag/Env", "AWS:REQUESTTAG/ENV"),
    ],
)
def test_condition_key_names_ignore_case(policy_key: str, context_key: str) -> None:
    assert condition_holds({"StringEquals": {policy_key: "v"}}, {context_key: "v"})
    assert not condition_holds({"StringEquals": {policy_key: "v"}}, {context_key: "V"})


def test_condition_values_follow_the_operator_for_case() -> None:
    assert not condition_holds({"StringEquals": {"aws:PrincipalTag/team": "Blue"}}, {"aws:principaltag/team": "blue"})
    assert condition_holds({"StringEqualsIgnoreCase": {"aws:PrincipalTag/team": "Blue"}},
                           {"aws:principaltag/team": "blue"})


def test_single_element_list_in_the_context_acts_as_a_single_value() -> None:
    assert condition_holds({"StringEquals": {"app:team": "blue"}}, {"app:team": ["blue"]})
    assert condition_holds({"StringEquals": {"app:team": "blue"}}, {"app:team": ("blue",)})


def test_set_valued_context_is_accepted_for_qualified_operators() -> None:
    assert condition_holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}, {"aws:TagKeys": {"a", "b"}})
    assert not condition_holds({"ForAllValues:StringEquals": {"aws:TagKeys": ["a"]}},
                               {"aws:TagKeys": frozenset({"a", "b"})})


def test_guarding_for_all_values_with_null_false() -> None:
    # The documented fix for the vacuous ForAllValues: require the key to be present as well.
    condition = {"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}, "Null": {"aws:TagKeys": "false"}}
    assert condition_holds(condition, {"aws:TagKeys": ["env"]})
    assert not condition_holds(condition, {})
    assert not condition_holds(condition, {"aws:TagKeys": []})


def test_context_value_none_counts_as_absent() -> None:
    assert condition_holds({"Null": {"app:value": "true"}}, {"app:value": None})
    assert condition_holds({"StringNotEquals": {"app:value": "x"}}, {"app:value": None})
