"""Policy variables (IAM policy variables reference; spec points 57-63).

Variables work only with Version 2012-10-17, in the resource part of Resource/NotResource and in
String, ARN and Bool condition values. A missing key matches nothing (and makes a negated
condition true); a substituted value is literal text and never a wildcard.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine.support import (
    ACCOUNT,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    V2008,
    V2012,
    allow,
    condition_holds,
    deny,
    effect_of,
)

HOME = f"arn:app:files:us-east-1:{ACCOUNT}:home/${{aws:username}}/*"


def home(path: str) -> str:
    return f"arn:app:files:us-east-1:{ACCOUNT}:home/{path}"


@pytest.mark.parametrize(
    ("context", "resource", "expected"),
    [
        ({"aws:username": "alice"}, home("alice/notes.txt"), ALLOW),
        ({"aws:username": "alice"}, home("bob/notes.txt"), IMPLICIT),
        ({"aws:username": "alice"}, home("alice"), IMPLICIT),
        ({}, home("alice/notes.txt"), IMPLICIT),  # unresolved: the entry matches nothing
        ({}, home("${aws:username}/notes.txt"), IMPLICIT),
        ({"AWS:UserName": "alice"}, home("alice/x"), ALLOW),  # key names ignore case
        # The substituted value is literal text: it can never widen the match.
        ({"aws:username": "*"}, home("bob/x"), IMPLICIT),
        ({"aws:username": "*"}, home("*/x"), ALLOW),
        ({"aws:username": "a?c"}, home("abc/x"), IMPLICIT),
        ({"aws:username": "a?c"}, home("a?c/x"), ALLOW),
        ({"aws:username": "a.c"}, home("abc/x"), IMPLICIT),
        ({"aws:username": "${aws:other}"}, home("${aws:other}/x"), ALLOW),
        ({"aws:username": ["alice", "bob"]}, home("alice/x"), IMPLICIT),  # only single-valued keys
        ({"aws:username": ["alice"]}, home("alice/x"), ALLOW),
        ({"aws:username": 7}, home("7/x"), ALLOW),
    ],
)
def test_variable_in_resource(context: dict[str, Any], resource: str, expected: Any) -> None:
    assert effect_of(allow(GET, HOME), context=context, resource=resource) is expected


def test_variable_value_with_a_colon_stays_in_the_resource_part() -> None:
    pattern = f"arn:app:files:us-east-1:{ACCOUNT}:${{app:path}}"
    assert effect_of(allow(GET, pattern), context={"app:path": "a:b"}, resource=home("x")[:-6] + "a:b") is ALLOW
    assert effect_of(allow(GET, pattern), context={"app:path": "*"}, resource=home("x")) is IMPLICIT


def test_unresolved_variable_in_not_resource_excludes_nothing() -> None:
    statement = allow(GET, not_resource=HOME)
    assert effect_of(statement, context={"aws:username": "alice"}, resource=home("alice/x")) is IMPLICIT
    assert effect_of(statement, context={"aws:username": "alice"}, resource=home("bob/x")) is ALLOW
    assert effect_of(statement, context={}, resource=home("alice/x")) is ALLOW


@pytest.mark.parametrize(
    ("pattern", "context", "resource", "expected"),
    [
        ("team/${aws:PrincipalTag/team}/*", {"aws:PrincipalTag/team": "blue"}, "team/blue/1", ALLOW),
        ("team/${aws:principaltag/TEAM}/*", {"aws:PrincipalTag/Team": "blue"}, "team/blue/1", ALLOW),
        ("team/${aws:PrincipalTag/team}/*", {"aws:PrincipalTag/team": "blue"}, "team/red/1", IMPLICIT),
        ("team/${aws:PrincipalTag/team, 'shared'}/*", {}, "team/shared/1", ALLOW),  # default when absent
        ("team/${aws:PrincipalTag/team, 'shared'}/*", {"aws:PrincipalTag/team": "blue"}, "team/shared/1", IMPLICIT),
        ("team/${aws:PrincipalTag/team, 'shared'}/*", {"aws:PrincipalTag/team": "blue"}, "team/blue/1", ALLOW),
        ("team/${aws:PrincipalTag/team,'shared'}/*", {}, "team/shared/1", ALLOW),
        ("team/${ aws:PrincipalTag/team , 'a b' }/*", {}, "team/a b/1", ALLOW),
        ("team/${aws:PrincipalTag/team, ''}*", {}, "team/anything", ALLOW),  # empty default
        ("file${*}", {}, "file*", ALLOW),  # ${*} is a literal star
        ("file${*}", {}, "fileX", IMPLICIT),
        ("file${?}", {}, "file?", ALLOW),
        ("file${?}", {}, "fileX", IMPLICIT),
        ("file${$}", {}, "file$", ALLOW),
        ("${app:a}-${app:b}", {"app:a": "x", "app:b": "y"}, "x-y", ALLOW),
        ("${app:a}-${app:b}", {"app:a": "x"}, "x-y", IMPLICIT),
    ],
)
def test_variable_forms(pattern: str, context: dict[str, Any], resource: str, expected: Any) -> None:
    prefix = f"arn:app:files:us-east-1:{ACCOUNT}:"
    assert effect_of(allow(GET, prefix + pattern), context=context, resource=prefix + resource) is expected


@pytest.mark.parametrize("version", [V2008, None])
def test_variables_are_literal_text_outside_2012(version: str | None) -> None:
    context = {"aws:username": "alice"}
    assert effect_of(allow(GET, HOME), version=version, context=context, resource=home("alice/x")) is IMPLICIT
    assert effect_of(allow(GET, HOME), version=version, context=context,
                     resource=home("${aws:username}/x")) is ALLOW
    assert condition_holds({"StringEquals": {"app:owner": "${aws:username}"}},
                           {"app:owner": "${aws:username}", "aws:username": "alice"}, version=version)
    assert not condition_holds({"StringEquals": {"app:owner": "${aws:username}"}},
                               {"app:owner": "alice", "aws:username": "alice"}, version=version)
    # Outside 2012 the `*` inside `${*}` is an ordinary wildcard.
    prefix = f"arn:app:files:us-east-1:{ACCOUNT}:"
    assert effect_of(allow(GET, prefix + "file${*}"), version=version, resource=prefix + "file${abc}") is ALLOW


@pytest.mark.parametrize(
    ("operator", "context", "holds"),
    [
        ("StringEquals", {"app:owner": "alice", "aws:username": "alice"}, True),
        ("StringEquals", {"app:owner": "bob", "aws:username": "alice"}, False),
        ("StringEquals", {"app:owner": "alice"}, False),  # unresolved: the value matches nothing
        ("StringNotEquals", {"app:owner": "alice"}, True),  # ...so a negated operator holds
        ("StringNotEquals", {"app:owner": "alice", "aws:username": "alice"}, False),
        ("StringNotEquals", {"app:owner": "bob", "aws:username": "alice"}, True),
        ("StringEqualsIgnoreCase", {"app:owner": "ALICE", "aws:username": "alice"}, True),
        ("StringLike", {"app:owner": "alice", "aws:username": "alice"}, True),
        ("StringLike", {"app:owner": "bob", "aws:username": "*"}, False),  # literal, not a wildcard
        ("StringLike", {"app:owner": "abc", "aws:username": "a?c"}, False),
        ("StringLike", {"app:owner": "a?c", "aws:username": "a?c"}, True),
        ("StringNotLike", {"app:owner": "bob", "aws:username": "*"}, True),
        ("StringNotLike", {"app:owner": "bob"}, True),
        ("StringEqualsIfExists", {"app:owner": "alice"}, False),
    ],
)
def test_variable_in_string_condition(operator: str, context: dict[str, Any], holds: bool) -> None:
    assert condition_holds({operator: {"app:owner": "${aws:username}"}}, context) is holds


def test_variable_inside_a_like_pattern_keeps_the_pattern_wildcards() -> None:
    condition = {"StringLike": {"app:path": "home/${aws:username}/*"}}
    assert condition_holds(condition, {"app:path": "home/alice/docs/1", "aws:username": "alice"})
    assert not condition_holds(condition, {"app:path": "home/bob/docs/1", "aws:username": "alice"})
    assert not condition_holds(condition, {"app:path": "home/bob/docs/1", "aws:username": "*"})
    assert condition_holds(condition, {"app:path": "home/*/docs", "aws:username": "*"})


def test_variable_in_arn_condition() -> None:
    condition = {"ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"}}
    alice = f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert condition_holds(condition, {"aws:PrincipalArn": alice, "aws:username": "alice"})
    assert not condition_holds(condition, {"aws:PrincipalArn": alice, "aws:username": "bob"})
    assert not condition_holds(condition, {"aws:PrincipalArn": alice, "aws:username": "*"})
    assert not condition_holds(condition, {"aws:PrincipalArn": alice})
    negated = {"ArnNotLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"}}
    assert condition_holds(negated, {"aws:PrincipalArn": alice})


def test_variable_in_bool_condition() -> None:
    condition = {"Bool": {"app:flag": "${app:expected}"}}
    assert condition_holds(condition, {"app:flag": "true", "app:expected": "true"})
    assert not condition_holds(condition, {"app:flag": "true", "app:expected": "false"})
    assert not condition_holds(condition, {"app:flag": "true"})


def test_documented_deny_for_callers_without_the_matching_tag() -> None:
    # AWS example: Deny + StringNotEquals against ${aws:PrincipalTag/Team} denies untagged callers.
    statements = (
        allow(),
        deny("orders:*", condition={"StringNotEquals": {"aws:ResourceTag/Team": "${aws:PrincipalTag/Team}"}}),
    )
    tagged = {"aws:ResourceTag/Team": "blue", "aws:PrincipalTag/Team": "blue"}
    assert effect_of(*statements, context=tagged) is ALLOW
    assert effect_of(*statements, context={**tagged, "aws:PrincipalTag/Team": "red"}) is EXPLICIT
    assert effect_of(*statements, context={"aws:ResourceTag/Team": "blue"}) is EXPLICIT


def test_version_2012_is_what_enables_variables() -> None:
    context = {"aws:username": "alice"}
    assert effect_of(allow(GET, HOME), version=V2012, context=context, resource=home("alice/x")) is ALLOW
