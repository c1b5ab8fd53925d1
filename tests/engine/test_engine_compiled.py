"""Compiled, cached and indexed policies decide exactly like raw documents."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import iamguard
from iamguard import Effect, PolicyCache, PolicyError, PolicyKind, PolicySet, Request
from tests.engine.support import (
    ACCOUNT,
    ALICE,
    ALLOW,
    EXPLICIT,
    GET,
    IMPLICIT,
    ORDER,
    SESSION,
    allow,
    deny,
    policy,
)

IDENTITY = policy(allow("orders:Get*", f"arn:app:orders:*:{ACCOUNT}:order/*"),
                  deny("orders:DeleteOrder"),
                  allow("billing:*", condition={"StringEquals": {"aws:PrincipalTag/team": "finance"}}))
BOUNDARY = policy(allow("orders:*"), allow("billing:Get*"))
RESOURCE = policy(allow("orders:ListOrders", principal={"AWS": ALICE}))
SESSION_POLICY = policy(allow("*"))

REQUESTS = [
    Request(ALICE, GET, ORDER),
    Request(ALICE, "orders:DeleteOrder", ORDER),
    Request(ALICE, "orders:ListOrders", ORDER),
    Request(ALICE, "billing:GetInvoice", ORDER, {"aws:PrincipalTag/team": "finance"}),
    Request(ALICE, "billing:Pay", ORDER, {"aws:PrincipalTag/team": "finance"}),
    Request(ALICE, "billing:GetInvoice", ORDER, {"aws:PrincipalTag/team": "ops"}),
    Request(SESSION, GET, ORDER),
    Request(ALICE, GET, f"arn:app:orders:us-east-1:{ACCOUNT}:invoice/1"),
]
EXPECTED = [ALLOW, EXPLICIT, ALLOW, ALLOW, IMPLICIT, IMPLICIT, ALLOW, IMPLICIT]


def test_parse_policy_returns_the_cached_object_for_the_same_text() -> None:
    text = json.dumps(policy(allow(GET)))
    assert iamguard.parse_policy(text) is iamguard.parse_policy(text)
    assert iamguard.parse_policy(text.encode()) is iamguard.parse_policy(text.encode())


def test_parse_policy_returns_the_cached_object_for_an_equal_mapping() -> None:
    first = iamguard.parse_policy(policy(allow("orders:Cached")))
    assert iamguard.parse_policy(policy(allow("orders:Cached"))) is first


def test_cache_is_keyed_by_kind() -> None:
    text = json.dumps(policy(allow(GET)))
    identity = iamguard.parse_policy(text, "identity")
    boundary = iamguard.parse_policy(text, "boundary")
    assert identity is not boundary
    assert identity.kind is PolicyKind.IDENTITY
    assert boundary.kind is PolicyKind.BOUNDARY


def test_a_private_cache_is_bounded() -> None:
    cache = PolicyCache(maxsize=2)
    documents = [json.dumps(policy(allow(f"orders:Action{index}"))) for index in range(4)]
    parsed = [iamguard.parse_policy(text, cache=cache) for text in documents]
    assert len(cache) == 2
    assert iamguard.parse_policy(documents[3], cache=cache) is parsed[3]
    assert iamguard.parse_policy(documents[0], cache=cache) is not parsed[0]  # evicted, compiled afresh
    assert iamguard.parse_policy(documents[0], cache=cache).document == parsed[0].document


def test_parse_policy_of_a_policy_is_the_same_policy() -> None:
    parsed = iamguard.parse_policy(IDENTITY)
    assert iamguard.parse_policy(parsed) is parsed


def test_name_is_attached_without_changing_the_content() -> None:
    named = iamguard.parse_policy(IDENTITY, name="orders")
    assert named.name == "orders"
    assert named.document == iamguard.parse_policy(IDENTITY).document
    assert "orders" in repr(named)


def test_policy_from_a_path(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy(allow(GET))))
    assert iamguard.evaluate(Request(ALICE, GET, ORDER), identity_policies=[path]).effect is ALLOW


def test_a_plain_string_is_json_text_never_a_file_name(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(policy(allow(GET))))
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(str(path))
    assert error.value.findings[0].code == "InvalidJson"


@pytest.mark.parametrize(("request_", "expected"), list(zip(REQUESTS, EXPECTED, strict=True)))
def test_policy_set_of_parsed_policies_matches_evaluate_with_raw_documents(request_: Request,
                                                                           expected: Effect) -> None:
    compiled = PolicySet(
        identity_policies=[iamguard.parse_policy(IDENTITY)],
        resource_policy=iamguard.parse_policy(RESOURCE, "resource"),
        permissions_boundary=iamguard.parse_policy(BOUNDARY, "boundary"),
        session_policies=[iamguard.parse_policy(SESSION_POLICY, "session")],
    )
    raw = iamguard.evaluate(request_, identity_policies=[json.dumps(IDENTITY)], resource_policy=RESOURCE,
                            permissions_boundary=json.dumps(BOUNDARY).encode(), session_policies=[SESSION_POLICY])
    assert compiled.evaluate(request_).effect is expected
    assert raw.effect is expected
    assert compiled.evaluate(request_).statements == raw.statements


def test_policy_of_the_wrong_kind_is_refused() -> None:
    resource = iamguard.parse_policy(RESOURCE, "resource")
    with pytest.raises(PolicyError) as error:
        PolicySet(identity_policies=[resource])
    assert error.value.findings[0].code == "WrongPolicyKind"


def test_malformed_policy_raises_before_any_decision() -> None:
    with pytest.raises(PolicyError):
        iamguard.evaluate(Request(ALICE, GET, ORDER), identity_policies=[policy(allow()), {"Statement": []}])


def test_thousands_of_statements_that_cannot_match_do_not_change_the_decision() -> None:
    noise = [
        policy(*[allow(f"svc{block}:Action{index}", "*") for index in range(250)])
        for block in range(8)
    ] + [
        policy(*[deny(f"orders:Get{index}x*") for index in range(250)]),  # prefixes that never match
        policy(*[deny(f"orders:DeleteOrder{index}") for index in range(250)]),
        policy(*[allow("orders:*", f"arn:app:orders:us-east-1:{index:012d}:order/*") for index in range(250)]),
    ]
    assert sum(len(iamguard.parse_policy(document).statements) for document in noise) == 2750
    policy_set = PolicySet(identity_policies=noise)
    assert policy_set.evaluate(Request(ALICE, GET, ORDER)).effect is IMPLICIT
    assert policy_set.evaluate(Request(ALICE, "svc3:Action17", ORDER)).effect is ALLOW
    assert policy_set.evaluate(Request(ALICE, "SVC3:action17", ORDER)).effect is ALLOW
    assert policy_set.evaluate(Request(ALICE, "svc3:Action1700", ORDER)).effect is IMPLICIT
    assert policy_set.evaluate(Request(ALICE, "orders:Get7x", ORDER)).effect is EXPLICIT
    assert policy_set.evaluate(Request(ALICE, "orders:DeleteOrder249", ORDER)).effect is EXPLICIT
    assert policy_set.evaluate(Request(ALICE, "orders:DeleteOrder", ORDER)).effect is IMPLICIT
    tenant_order = "arn:app:orders:us-east-1:000000000249:order/1"
    assert policy_set.evaluate(Request("arn:aws:iam::000000000249:user/a", GET, tenant_order)).effect is ALLOW
    assert policy_set.evaluate(Request("arn:aws:iam::000000000250:user/a", GET,
                                       "arn:app:orders:us-east-1:000000000250:order/1")).effect is IMPLICIT


def test_index_keeps_wildcard_and_not_action_statements_reachable() -> None:
    noise = [policy(*[allow(f"svc{block}:Action{index}") for index in range(500)]) for block in range(6)]
    reachable = policy(allow("*:GetOrder", sid="AnyService"), deny(not_action="orders:*", sid="OnlyOrders"),
                       allow("ord?rs:Get*", sid="Question"))
    policy_set = PolicySet(identity_policies=[*noise, reachable])
    decision = policy_set.evaluate(Request(ALICE, GET, ORDER))
    assert decision.effect is ALLOW
    assert decision.statements[0].sid in {"AnyService", "Question"}
    assert policy_set.evaluate(Request(ALICE, "svc1:Action3", ORDER)).effect is EXPLICIT  # NotAction deny
    assert policy_set.evaluate(Request(ALICE, "orders:ListOrders", ORDER)).effect is IMPLICIT


def test_many_distinct_actions_beyond_any_memo_stay_correct() -> None:
    policy_set = PolicySet(identity_policies=[policy(allow("orders:Get*"), deny("orders:GetSecret*"))])
    for index in range(5000):
        assert policy_set.evaluate(Request(ALICE, f"orders:GetItem{index}", ORDER)).effect is ALLOW
    assert policy_set.evaluate(Request(ALICE, "orders:GetSecret1", ORDER)).effect is EXPLICIT
    assert policy_set.evaluate(Request(ALICE, "orders:GetItem1", ORDER)).effect is ALLOW


def test_policy_set_is_safe_to_share_across_threads() -> None:
    policy_set = PolicySet(identity_policies=[iamguard.parse_policy(IDENTITY)],
                           resource_policy=RESOURCE, permissions_boundary=BOUNDARY)
    expected = [policy_set.evaluate(request).effect for request in REQUESTS]

    def work(_: int) -> list[Effect]:
        return [policy_set.evaluate(request).effect for request in REQUESTS * 20]

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(work, range(8)))
    assert all(result == expected * 20 for result in results)


def test_policy_set_results_do_not_depend_on_evaluation_history() -> None:
    policy_set = PolicySet(identity_policies=[IDENTITY], permissions_boundary=BOUNDARY)
    first = [policy_set.evaluate(request).effect for request in REQUESTS]
    second = [policy_set.evaluate(request).effect for request in reversed(REQUESTS)]
    assert first == list(reversed(second))


class _LoudString(str):
    """A str whose own comparison claims to equal everything: it must never reach the evaluator."""

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = str.__hash__


def _twin_documents() -> list[tuple[str, dict[str, object], dict[str, object]]]:
    from types import MappingProxyType

    def document(actions: object, resource: object = "arn:aws:s3:::b/*", statement: object = None) -> dict[str, object]:
        return {"Version": "2012-10-17", "Statement": [
            statement or {"Effect": "Allow", "Action": actions, "Resource": resource}]}

    plain = document(["s3:GetObject", "s3:PutObject"])
    return [
        ("tuple", document(("s3:GetObject", "s3:PutObject")), plain),
        ("str subclass", document([_LoudString("s3:GetObject"), "s3:PutObject"]), plain),
        ("read-only mapping", document(None, statement=MappingProxyType(
            {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::b/*"})), plain),
    ]


@pytest.mark.parametrize(("odd", "plain"), [case[1:] for case in _twin_documents()],
                         ids=[case[0] for case in _twin_documents()])
@pytest.mark.parametrize("plain_first", [False, True], ids=["alone", "after-its-plain-twin"])
def test_a_mapping_reads_the_same_whether_or_not_its_twin_was_cached(
        odd: dict[str, object], plain: dict[str, object], plain_first: bool) -> None:
    """The cache keys a mapping by its JSON text, so a tuple and a list (or a str subclass and a
    str) share an entry: the loader reads them the same way, as plain JSON data, so the answer
    never depends on what was parsed before."""
    cache = PolicyCache()
    if plain_first:
        iamguard.parse_policy(plain, cache=cache)
    policy = iamguard.parse_policy(odd, cache=cache)
    policies = PolicySet(identity_policies=[policy])
    assert policies.evaluate(Request("arn:aws:iam::111122223333:user/a", "s3:PutObject", "arn:aws:s3:::b/k")).allowed
    # The str subclass's own __eq__ (equal to everything) is gone: other actions stay denied.
    assert not policies.evaluate(Request("arn:aws:iam::111122223333:user/a", "s3:DeleteObject",
                                         "arn:aws:s3:::b/k")).allowed
