"""Rules, resource templates and route maps (spec MAP-11, MAP-12, CSRF-02, PAT-04, PAT-05)."""

from __future__ import annotations

import pytest

from iamguard import PolicySet, Request, parse_policy
from iamguard.web import (
    ResourceTemplate,
    RouteConfigError,
    RouteEntry,
    RouteMap,
    TemplateError,
    inspect_routes,
    protect,
    public,
    rule,
    rules_of,
)

TEMPLATE = ResourceTemplate.parse("arn:app:orders:{region}:{tenant}:order/{order_id}")


def test_template_fills_values_as_literal_text() -> None:
    values = {"region": "eu", "tenant": "123456789012", "order_id": "7"}
    assert TEMPLATE.render(values) == "arn:app:orders:eu:123456789012:order/7"
    assert TEMPLATE.names == {"region", "tenant", "order_id"}


@pytest.mark.parametrize("value", ["*", "?", "a*", "${aws:username}", "a/b", "x:y", "ﾉ"])
def test_resource_part_values_are_kept_verbatim(value: str) -> None:
    rendered = TEMPLATE.render({"region": "eu", "tenant": "123456789012", "order_id": value})
    assert rendered == f"arn:app:orders:eu:123456789012:order/{value}"


@pytest.mark.parametrize(("name", "value"), [("region", "eu:x"), ("tenant", "1:2")])
def test_colons_in_head_segments_are_refused(name: str, value: str) -> None:
    values = {"region": "eu", "tenant": "123456789012", "order_id": "7", name: value}
    with pytest.raises(TemplateError):
        TEMPLATE.render(values)


@pytest.mark.parametrize("value", ["", "x" * 1025])
def test_empty_and_oversized_values_are_refused(value: str) -> None:
    with pytest.raises(TemplateError):
        TEMPLATE.render({"region": "eu", "tenant": "123456789012", "order_id": value})


@pytest.mark.parametrize("text", ["orders/{id}", "arn:app:orders::1:order/*", "arn:app:{x", "", "arn:a:b"])
def test_bad_templates_are_startup_errors(text: str) -> None:
    with pytest.raises(RouteConfigError):
        ResourceTemplate.parse(text)


# The evaluator sees the rendered resource as a value: a wildcard or variable in a path value
# never widens what a policy grants (PAT-04, POL-11).
SEVEN_ONLY = parse_policy({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "arn:app:orders::1:order/7"},
    {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "arn:app:orders::1:order/${aws:username}/*"},
]})


@pytest.mark.parametrize(("order_id", "allowed"), [
    ("7", True), ("*", False), ("?", False), ("7*", False), ("${aws:username}", False),
    ("alice/1", True), ("*/1", False), ("alice*/1", False),
])
def test_path_values_cannot_widen_a_policy(order_id: str, allowed: bool) -> None:
    template = ResourceTemplate.parse("arn:app:orders::{tenant}:order/{order_id}")
    resource = template.render({"tenant": "1", "order_id": order_id})
    request = Request("arn:aws:iam::1:user/alice", "orders:GetOrder", resource, {"aws:username": "alice"})
    assert PolicySet([SEVEN_ONLY]).evaluate(request).allowed is allowed


@pytest.mark.parametrize(("action", "methods"), [
    ("orders:DeleteOrder", "GET"), ("orders:CreateOrder", ["GET", "POST"]), ("orders:UpdateOrder", "OPTIONS"),
    ("orders:Getaway", "GET"),  # "Get" must be a whole verb
])
def test_mutating_actions_on_safe_methods_are_startup_errors(action: str, methods: str | list[str]) -> None:
    with pytest.raises(RouteConfigError, match="CSRF-02"):
        rule(action, "arn:app:orders::{tenant}:order/{id}", methods=methods, path="/orders/{id}")


def test_read_only_override_and_read_verbs_are_accepted() -> None:
    assert rule("orders:GetOrder", "arn:app:orders::1:order/{id}", methods="GET").action == "orders:GetOrder"
    assert rule("orders:ListOrders", "arn:app:orders::1:orders", methods="GET").methods == {"GET"}
    assert rule("orders:DescribeOrder", "arn:app:orders::1:order/{id}", methods="OPTIONS").methods == {"OPTIONS"}
    marked = rule("orders:Recalculate", "arn:app:orders::1:order/{id}", methods="GET", read_only=True)
    assert marked.read_only is True


@pytest.mark.parametrize("action", ["orders:*", "orders", "orders:Get*", "orders:Get Order", ":Get", "orders:"])
def test_actions_must_be_concrete(action: str) -> None:
    with pytest.raises(RouteConfigError):
        rule(action, "arn:app:orders::1:order/{id}", methods="POST")


def test_head_cannot_be_mapped_and_is_looked_up_as_get() -> None:
    with pytest.raises(RouteConfigError, match="HEAD"):
        rule("orders:GetOrder", "arn:app:orders::1:order/{id}", methods="HEAD", path="/orders/{id}")
    get = rule("orders:GetOrder", "arn:app:orders::1:order/{id}", methods="GET", path="/orders/{id}")
    routes = RouteMap([get])
    assert routes.lookup("HEAD", "/orders/{id}") is get
    assert routes.lookup("GET", "/orders/{id}/") is None
    assert routes.lookup("GET", "/Orders/{id}") is None  # exactly the router's spelling
    assert routes.lookup("POST", "/orders/{id}") is None


def test_route_map_refuses_duplicates() -> None:
    first = rule("orders:GetOrder", "arn:app:orders::1:order/{id}", methods="GET", path="/orders/{id}")
    with pytest.raises(RouteConfigError, match="twice"):
        RouteMap([first, public(methods="GET", path="/orders/{id}")])
    with pytest.raises(RouteConfigError, match="path"):
        RouteMap([rule("orders:GetOrder", "arn:app:orders::1:order/{id}", methods="GET")])


def test_decorator_metadata_and_overlap() -> None:
    @protect("orders:GetOrder", "arn:app:orders::1:order/{id}", methods="GET")
    def view() -> None:
        """A view."""

    protect("orders:DeleteOrder", "arn:app:orders::1:order/{id}", methods="DELETE")(view)
    assert [item.action for item in rules_of(view)] == ["orders:GetOrder", "orders:DeleteOrder"]
    with pytest.raises(RouteConfigError, match="two iamguard rules"):
        protect("orders:PutOrder", "arn:app:orders::1:order/{id}", methods=["PUT", "DELETE"])(view)
    assert rules_of(object()) == ()


def test_inventory_flags_unmapped_conflicting_and_incomplete_routes() -> None:
    get = rule("orders:GetOrder", "arn:app:orders::{tenant}:order/{id}", methods="GET", path="/orders/{id}")
    anywhere = rule("orders:DeleteOrder", "arn:app:orders::{tenant}:order/{id}")
    needs_region = rule("orders:GetOrder", "arn:app:orders:{region}:{tenant}:order/{id}", methods="GET")
    entries = [
        RouteEntry("GET", "/orders/{id}", params=frozenset({"id"})),
        RouteEntry("HEAD", "/orders/{id}", params=frozenset({"id"})),
        RouteEntry("OPTIONS", "/orders/{id}", params=frozenset({"id"})),
        RouteEntry("GET", "/admin"),
        RouteEntry("GET", "/orders/{id}", params=frozenset({"id"}), declared=(public(),)),
        RouteEntry("GET", "/any/{id}", params=frozenset({"id"}), declared=(anywhere,)),
        RouteEntry("DELETE", "/any/{id}", params=frozenset({"id"}), declared=(anywhere,)),
        RouteEntry("GET", "/r/{id}", params=frozenset({"id"}), declared=(needs_region,)),
    ]
    reports = inspect_routes(entries, RouteMap([get]), {"tenant": "1"})
    problems = [(report.method, report.path, report.problem) for report in reports]
    assert problems[0] == ("GET", "/orders/{id}", None)
    assert problems[1] == ("HEAD", "/orders/{id}", None)
    assert problems[2] == ("OPTIONS", "/orders/{id}", None)  # answered by the guard, never the handler
    assert problems[3] == ("GET", "/admin", "unmapped")
    assert problems[4][2] is not None and problems[4][2].startswith("conflict")
    assert problems[5][2] is not None and "CSRF-02" in problems[5][2]
    assert problems[6][2] is None
    assert problems[7][2] is not None and "region" in problems[7][2]
