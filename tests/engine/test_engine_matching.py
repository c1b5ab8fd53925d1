"""Action/NotAction and Resource/NotResource matching, from the IAM element reference pages."""

from __future__ import annotations

import pytest

from tests.engine.support import (
    ACCOUNT,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    ORDER,
    V2008,
    allow,
    deny,
    effect_of,
)

# (policy action pattern, request action, matches)
ACTION_TABLE = [
    ("orders:GetOrder", "orders:GetOrder", True),
    ("orders:GetOrder", "ORDERS:getorder", True),  # prefix and name ignore case
    ("Orders:GETORDER", "orders:GetOrder", True),
    ("orders:Get*", "orders:getorder", True),
    ("orders:GetOrder", "orders:GetOrderHistory", False),  # anchored at the end
    ("orders:GetOrder", "xorders:GetOrder", False),  # anchored at the start
    ("orders:Order", "orders:GetOrder", False),
    ("orders:*", "orders:DeleteOrder", True),
    ("orders:*", "ordersarchive:GetOrder", False),  # the prefix must match whole
    ("orders:*", "billing:GetOrder", False),
    ("orders:*Order", "orders:Order", True),  # `*` may match nothing
    ("orders:*Order*", "orders:GetOrderHistory", True),
    ("orders:Get?rder", "orders:GetOrder", True),
    ("orders:Get?rder", "orders:Getrder", False),  # `?` is exactly one character
    ("orders:Get?rder", "orders:GetOOrder", False),
    ("orders:Get??der", "orders:GetOrder", True),
    ("orders:Get.rder", "orders:GetXrder", False),  # regex metacharacters are literal
    ("orders:Get.rder", "orders:Get.rder", True),
    ("orders:Get+", "orders:Gett", False),
    ("*", "anything:AtAll", True),
    ("*:GetOrder", "billing:GetOrder", True),
    ("*:GetOrder", "billing:GetOrders", False),
]


@pytest.mark.parametrize(("pattern", "action", "matches"), ACTION_TABLE)
def test_action_pattern(pattern: str, action: str, matches: bool) -> None:
    assert effect_of(allow(pattern), action=action) is (ALLOW if matches else IMPLICIT)


@pytest.mark.parametrize(("pattern", "action", "matches"), ACTION_TABLE)
def test_deny_action_pattern_is_explicit_only_when_it_matches(pattern: str, action: str, matches: bool) -> None:
    assert effect_of(allow(), deny(pattern), action=action) is (EXPLICIT if matches else ALLOW)


@pytest.mark.parametrize(("pattern", "action", "matches"), ACTION_TABLE)
def test_not_action_is_the_complement(pattern: str, action: str, matches: bool) -> None:
    assert effect_of(allow(not_action=pattern), action=action) is (IMPLICIT if matches else ALLOW)


def test_action_list_is_ored() -> None:
    statement = allow(["orders:ListOrders", "orders:GetOrder"])
    assert effect_of(statement, action="orders:GetOrder") is ALLOW
    assert effect_of(statement, action="orders:ListOrders") is ALLOW
    assert effect_of(statement, action="orders:DeleteOrder") is IMPLICIT


def test_not_action_with_allow_leaves_listed_actions_implicitly_denied() -> None:
    statement = allow(not_action=["orders:DeleteOrder", "iam:*"])
    assert effect_of(statement, action="orders:GetOrder") is ALLOW
    assert effect_of(statement, action="orders:DeleteOrder") is IMPLICIT  # implicit, not explicit
    assert effect_of(statement, action="iam:CreateUser") is IMPLICIT


def test_not_action_with_deny_denies_everything_else() -> None:
    statements = (allow(), deny(not_action="orders:Get*"))
    assert effect_of(*statements, action="orders:GetOrder") is ALLOW
    assert effect_of(*statements, action="orders:DeleteOrder") is EXPLICIT
    assert effect_of(*statements, action="billing:Pay") is EXPLICIT


def test_not_action_is_still_scoped_by_resource() -> None:
    scoped = allow(not_action="iam:*", resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/*")
    assert effect_of(scoped, resource=ORDER) is ALLOW
    assert effect_of(scoped, resource=f"arn:app:orders:us-east-1:{ACCOUNT}:invoice/1") is IMPLICIT
    denied = (allow(), deny(not_action="orders:GetOrder", resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/7"))
    assert effect_of(*denied, action="orders:DeleteOrder", resource=ORDER) is ALLOW
    assert effect_of(*denied, action="orders:DeleteOrder",
                     resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/7") is EXPLICIT


# (policy resource pattern, request resource, matches)
RESOURCE_TABLE = [
    ("*", ORDER, True),
    ("*", "not-even-an-arn", True),
    (ORDER, ORDER, True),
    (f"arn:app:orders:us-east-1:{ACCOUNT}:Order/42", ORDER, False),  # resource part is case-sensitive
    (f"arn:app:orders:us-east-1:{ACCOUNT}:order/4", ORDER, False),  # anchored
    (f"arn:app:orders:us-east-1:{ACCOUNT}:order/*", ORDER, True),
    (f"arn:app:orders:us-east-1:{ACCOUNT}:order/*", f"arn:app:orders:us-east-1:{ACCOUNT}:order/42/items/1", True),
    (f"arn:app:orders:us-east-1:{ACCOUNT}:*", f"arn:app:orders:us-east-1:{ACCOUNT}:order:42:line", True),
    (f"arn:app:orders:us-east-1:{ACCOUNT}:order/4?", ORDER, True),
    (f"arn:app:orders:us-east-1:{ACCOUNT}:order/4?", f"arn:app:orders:us-east-1:{ACCOUNT}:order/4", False),
    (f"arn:app:orders:us-east-1:{ACCOUNT}:order/4?", f"arn:app:orders:us-east-1:{ACCOUNT}:order/420", False),
    (f"arn:app:orders:*:{ACCOUNT}:order/42", ORDER, True),
    (f"arn:app:orders:us-*:{ACCOUNT}:order/42", ORDER, True),
    (f"arn:app:orders:eu-*:{ACCOUNT}:order/42", ORDER, False),
    (f"arn:app:orders:us-east-?:{ACCOUNT}:order/42", ORDER, True),
    (f"arn:app:orders:us-east-?:{ACCOUNT}:order/42", f"arn:app:orders:us-east-10:{ACCOUNT}:order/42", False),
    # A wildcard in the region or account cannot swallow a colon to re-align the later segments
    # (a flat glob over the whole text would match each of these).
    (f"arn:app:orders:*:{ACCOUNT}:order/42", f"arn:app:orders:us-east-1:{ACCOUNT}:{ACCOUNT}:order/42", False),
    ("arn:app:orders:*:*:order/*", f"arn:app:orders:us-east-1:{ACCOUNT}:x:order/1", False),
    (f"arn:app:orders:us-*:{ACCOUNT}:order/42", f"arn:app:orders:us-east-1:{ACCOUNT}:x:{ACCOUNT}:order/42", False),
    ("arn:app:orders:*:*:*", ORDER, True),
    ("arn:app:orders:*:*:*", f"arn:app:billing:us-east-1:{ACCOUNT}:order/42", False),
    ("arn:app:orders:::order/42", ORDER, False),  # empty region/account are literal empties
    ("arn:*:orders:*:*:order/*", ORDER, True),
    (f"arn:aws:orders:us-east-1:{ACCOUNT}:order/42", ORDER, False),  # partition differs
    # The documented bucket/*/test/* example: `*` spans `/` and may be empty.
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket//test/object.jpg", True),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/1/test/", True),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/a/b/test/c/d", True),
    ("arn:aws:s3:::bucket/*/test/*", "arn:aws:s3:::bucket/test/object.jpg", False),
    ("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket", False),
    ("arn:aws:s3:::bucket*", "arn:aws:s3:::bucket", True),
    ("arn:aws:s3:::bucket", "arn:aws:s3:us-east-1::bucket", False),
    ("arn:aws:s3:::bucket/*", "arn:app:s3:::bucket/x", False),
    ("arn:aws-cn:s3:::bucket/*", "arn:aws-cn:s3:::bucket/x", True),
    # Characters special to regular expressions stay literal.
    ("arn:app:files:::a.b+c$(d)[e]", "arn:app:files:::a.b+c$(d)[e]", True),
    ("arn:app:files:::a.b+c$(d)[e]", "arn:app:files:::aXb+c$(d)[e]", False),
    ("arn:app:files:::a.b", "arn:app:files:::a.bb", False),
    ("arn:app:files:::caf\u00e9", "arn:app:files:::caf\u00e9", True),
    (ORDER, "order/42", False),  # a request resource that is not an ARN matches only `*`
]


@pytest.mark.parametrize(("pattern", "resource", "matches"), RESOURCE_TABLE)
def test_resource_pattern(pattern: str, resource: str, matches: bool) -> None:
    assert effect_of(allow(GET, pattern), resource=resource) is (ALLOW if matches else IMPLICIT)


@pytest.mark.parametrize(("pattern", "resource", "matches"), RESOURCE_TABLE)
def test_not_resource_is_the_complement(pattern: str, resource: str, matches: bool) -> None:
    assert effect_of(allow(GET, not_resource=pattern), resource=resource) is (IMPLICIT if matches else ALLOW)


@pytest.mark.parametrize(("pattern", "resource", "matches"), RESOURCE_TABLE)
def test_resource_rules_do_not_depend_on_the_version(pattern: str, resource: str, matches: bool) -> None:
    assert effect_of(allow(GET, pattern), version=V2008, resource=resource) is (ALLOW if matches else IMPLICIT)


def test_resource_list_is_ored() -> None:
    statement = allow(GET, [f"arn:app:orders:us-east-1:{ACCOUNT}:order/1", ORDER])
    assert effect_of(statement, resource=ORDER) is ALLOW
    assert effect_of(statement, resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/1") is ALLOW
    assert effect_of(statement, resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/2") is IMPLICIT


def test_deny_with_not_resource_is_deny_all_except() -> None:
    keep = f"arn:app:orders:us-east-1:{ACCOUNT}:order/public/*"
    statements = (allow(), deny("orders:*", not_resource=keep))
    assert effect_of(*statements, resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/public/1") is ALLOW
    assert effect_of(*statements, resource=ORDER) is EXPLICIT
    # NotResource only reaches the statement's own actions.
    assert effect_of(*statements, action="billing:Pay", resource=ORDER) is ALLOW


def test_not_resource_with_allow_leaves_the_excluded_resource_implicitly_denied() -> None:
    secret = f"arn:app:orders:us-east-1:{ACCOUNT}:order/secret"
    statement = allow("orders:*", not_resource=[secret])
    assert effect_of(statement, resource=ORDER) is ALLOW
    assert effect_of(statement, resource=secret) is IMPLICIT


def test_action_and_resource_must_both_match() -> None:
    statement = allow(GET, ORDER)
    assert effect_of(statement) is ALLOW
    assert effect_of(statement, action="orders:DeleteOrder") is IMPLICIT
    assert effect_of(statement, resource=f"arn:app:orders:us-east-1:{ACCOUNT}:order/43") is IMPLICIT
