"""Malformed documents: each raises PolicyError whose findings name the exact JSON pointer.

Pointers follow RFC 6901 (`/` inside a key is written `~1`). Every problem in a document is
reported at once, so each case asserts the complete set of (pointer, code) pairs.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

import iamguard
from iamguard import Finding, Limits, PolicyError

V2012 = "2012-10-17"
GOOD: dict[str, Any] = {"Effect": "Allow", "Action": "orders:GetOrder", "Resource": "*"}
ALICE = "arn:aws:iam::123456789012:user/alice"


def with_(**changes: Any) -> dict[str, Any]:
    """GOOD with some elements replaced; a value of None removes the element."""
    out = dict(GOOD)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def doc(*statements: Any, version: str | None = V2012) -> dict[str, Any]:
    out: dict[str, Any] = {} if version is None else {"Version": version}
    out["Statement"] = list(statements)
    return out


def condition(block: dict[str, Any]) -> dict[str, Any]:
    return doc(with_(Condition=block))


def findings(source: Any, kind: str = "identity", **options: Any) -> list[Finding]:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(source, kind, **options)
    assert isinstance(error.value, ValueError)
    return list(error.value.findings)


def located(source: Any, kind: str = "identity", **options: Any) -> list[tuple[str, str]]:
    return sorted((finding.pointer, finding.code) for finding in findings(source, kind, **options))


CASES: list[tuple[str, Any, str, list[tuple[str, str]]]] = [
    # --- top level -----------------------------------------------------------------------------
    ("not-an-object-list", [GOOD], "identity", [("", "InvalidType")]),
    ("not-an-object-text", "[1, 2]", "identity", [("", "InvalidType")]),
    ("not-an-object-number", "42", "identity", [("", "InvalidType")]),
    ("not-a-policy-type", 42, "identity", [("", "InvalidType")]),
    ("none", None, "identity", [("", "InvalidType")]),
    ("invalid-json", '{"Statement": [', "identity", [("", "InvalidJson")]),
    ("empty-text", "", "identity", [("", "InvalidJson")]),
    ("missing-statement", {"Version": V2012}, "identity", [("", "MissingElement")]),
    ("empty-statement-list", doc(), "identity", [("/Statement", "EmptyList")]),
    ("statement-is-a-string", {"Statement": "Allow"}, "identity", [("/Statement", "InvalidType")]),
    ("statement-item-not-object", doc(GOOD, "Allow"), "identity", [("/Statement/1", "InvalidType")]),
    ("unknown-version", doc(GOOD, version="2012-10-18"), "identity", [("/Version", "InvalidVersion")]),
    ("version-as-number", {"Version": 2012, "Statement": [GOOD]}, "identity", [("/Version", "InvalidVersion")]),
    ("id-not-string", {"Id": 7, "Statement": [GOOD]}, "identity", [("/Id", "InvalidType")]),
    ("unknown-top-level", {"Statement": [GOOD], "Statment": []}, "identity", [("/Statment", "UnknownElement")]),
    ("misspelled-statement", {"Statements": [GOOD]}, "identity",
     [("", "MissingElement"), ("/Statements", "UnknownElement")]),
    ("lowercase-statement", {"statement": [GOOD]}, "identity",
     [("", "MissingElement"), ("/statement", "UnknownElement")]),
    # --- statement elements ----------------------------------------------------------------------
    ("effect-lowercase", doc(with_(Effect="allow")), "identity", [("/Statement/0/Effect", "InvalidEffect")]),
    ("effect-uppercase", doc(with_(Effect="DENY")), "identity", [("/Statement/0/Effect", "InvalidEffect")]),
    ("effect-not-string", doc(with_(Effect=True)), "identity", [("/Statement/0/Effect", "InvalidEffect")]),
    ("effect-missing", doc(with_(Effect=None)), "identity", [("/Statement/0", "MissingElement")]),
    ("effect-in-object-statement", {"Statement": with_(Effect="Permit")}, "identity",
     [("/Statement/Effect", "InvalidEffect")]),
    ("unknown-element", doc(with_(Actions="orders:*")), "identity",
     [("/Statement/0/Actions", "UnknownElement")]),
    ("lowercase-element", doc(GOOD, with_(resource="*", Resource=None)), "identity",
     [("/Statement/1", "MissingElement"), ("/Statement/1/resource", "UnknownElement")]),
    ("action-missing", doc(with_(Action=None)), "identity", [("/Statement/0", "MissingElement")]),
    ("resource-missing", doc(with_(Resource=None)), "identity", [("/Statement/0", "MissingElement")]),
    ("action-and-not-action", doc(with_(NotAction="orders:Delete*")), "identity",
     [("/Statement/0", "ConflictingElements")]),
    ("resource-and-not-resource", doc(with_(NotResource="*")), "identity",
     [("/Statement/0", "ConflictingElements")]),
    ("empty-action-list", doc(with_(Action=[])), "identity", [("/Statement/0/Action", "EmptyList")]),
    ("empty-not-action-list", doc(with_(Action=None, NotAction=[])), "identity",
     [("/Statement/0/NotAction", "EmptyList")]),
    ("empty-resource-list", doc(with_(Resource=[])), "identity", [("/Statement/0/Resource", "EmptyList")]),
    ("action-not-string", doc(with_(Action=["orders:GetOrder", 7])), "identity",
     [("/Statement/0/Action/1", "InvalidType")]),
    ("action-object", doc(with_(Action={"orders": "GetOrder"})), "identity",
     [("/Statement/0/Action", "InvalidType")]),
    ("sid-duplicate", doc(with_(Sid="Read"), with_(Sid="Write"), with_(Sid="Read")), "identity",
     [("/Statement/2/Sid", "DuplicateSid")]),
    ("sid-with-punctuation", doc(with_(Sid="read-orders")), "identity", [("/Statement/0/Sid", "InvalidSid")]),
    ("sid-not-string", doc(with_(Sid=3)), "identity", [("/Statement/0/Sid", "InvalidType")]),
    # --- actions -----------------------------------------------------------------------------------
    ("action-without-colon", doc(with_(Action="orders")), "identity", [("/Statement/0/Action", "InvalidAction")]),
    ("action-two-colons", doc(with_(Action="orders:Get:Order")), "identity",
     [("/Statement/0/Action", "InvalidAction")]),
    ("action-space-in-prefix", doc(with_(Action=["orders:GetOrder", "ord ers:GetOrder"])), "identity",
     [("/Statement/0/Action/1", "InvalidAction")]),
    ("action-empty-prefix", doc(with_(Action=":GetOrder")), "identity", [("/Statement/0/Action", "InvalidAction")]),
    ("action-empty-name", doc(with_(Action="orders:")), "identity", [("/Statement/0/Action", "InvalidAction")]),
    ("action-empty", doc(with_(Action="")), "identity", [("/Statement/0/Action", "InvalidAction")]),
    ("action-underscore-prefix", doc(with_(Action="my_svc:Get")), "identity",
     [("/Statement/0/Action", "InvalidAction")]),
    # --- resources ---------------------------------------------------------------------------------
    ("resource-not-arn", doc(with_(Resource="bucket/*")), "identity", [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-empty", doc(with_(Resource="")), "identity", [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-short-arn", doc(with_(Resource="arn:aws:s3")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-wrong-scheme", doc(with_(Resource="urn:aws:s3:::bucket")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-empty-partition", doc(with_(Resource="arn::s3:::bucket")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-wildcard-service", doc(with_(Resource="arn:aws:s*:::bucket")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-empty-service", doc(with_(Resource="arn:aws::::bucket")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-empty-resource-part", doc(with_(Resource=["*", "arn:aws:s3:us-east-1:123456789012:"])), "identity",
     [("/Statement/0/Resource/1", "InvalidResource")]),
    ("resource-variable-before-resource-part",
     doc(with_(Resource="arn:aws:s3:${aws:region}::bucket")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-unclosed-variable", doc(with_(Resource="arn:aws:s3:::bucket/${aws:username")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("resource-malformed-variable", doc(with_(Resource="arn:aws:s3:::bucket/${aws username}")), "identity",
     [("/Statement/0/Resource", "InvalidResource")]),
    ("not-resource-not-arn", doc(with_(Resource=None, NotResource=["orders"])), "identity",
     [("/Statement/0/NotResource/0", "InvalidResource")]),
    # --- principals --------------------------------------------------------------------------------
    ("principal-in-identity-policy", doc(with_(Principal={"AWS": ALICE})), "identity",
     [("/Statement/0/Principal", "ProhibitedElement")]),
    ("principal-star-in-identity-policy", doc(with_(Principal="*")), "identity",
     [("/Statement/0/Principal", "ProhibitedElement")]),
    ("not-principal-in-boundary", doc(with_(Effect="Deny", NotPrincipal={"AWS": ALICE})), "boundary",
     [("/Statement/0/NotPrincipal", "ProhibitedElement")]),
    ("principal-in-session-policy", doc(with_(Principal="*")), "session",
     [("/Statement/0/Principal", "ProhibitedElement")]),
    ("principal-missing-in-resource-policy", doc(GOOD), "resource", [("/Statement/0", "MissingElement")]),
    ("principal-and-not-principal", doc(with_(Effect="Deny", Principal="*", NotPrincipal={"AWS": ALICE})),
     "resource", [("/Statement/0", "ConflictingElements")]),
    ("not-principal-with-allow", doc(with_(NotPrincipal={"AWS": ALICE})), "resource",
     [("/Statement/0/NotPrincipal", "InvalidPrincipal")]),
    ("principal-partial-wildcard", doc(with_(Principal={"AWS": "arn:aws:iam::123456789012:user/*"})), "resource",
     [("/Statement/0/Principal/AWS", "InvalidPrincipal")]),
    ("principal-unknown-type", doc(with_(Principal={"Aws": ALICE})), "resource",
     [("/Statement/0/Principal/Aws", "InvalidPrincipal")]),
    ("principal-empty-object", doc(with_(Principal={})), "resource", [("/Statement/0/Principal", "InvalidPrincipal")]),
    ("principal-string-not-star", doc(with_(Principal=ALICE)), "resource",
     [("/Statement/0/Principal", "InvalidPrincipal")]),
    ("principal-empty-list", doc(with_(Principal={"AWS": []})), "resource",
     [("/Statement/0/Principal/AWS", "EmptyList")]),
    ("principal-bad-entry-in-list", doc(with_(Principal={"AWS": [ALICE, "arn:aws:iam::1234:user/?x"]})),
     "resource", [("/Statement/0/Principal/AWS/1", "InvalidPrincipal")]),
    ("trust-policy-with-resource", doc(with_(Principal={"AWS": ALICE})), "trust",
     [("/Statement/0/Resource", "ProhibitedElement")]),
    # --- conditions --------------------------------------------------------------------------------
    ("condition-not-object", doc(with_(Condition=["StringEquals"])), "identity",
     [("/Statement/0/Condition", "InvalidType")]),
    ("operator-block-not-object", condition({"StringEquals": "aws:username"}), "identity",
     [("/Statement/0/Condition/StringEquals", "InvalidType")]),
    ("unknown-operator", condition({"StringEqual": {"aws:username": "alice"}}), "identity",
     [("/Statement/0/Condition/StringEqual", "UnknownOperator")]),
    ("operator-wrong-case", condition({"stringequals": {"aws:username": "alice"}}), "identity",
     [("/Statement/0/Condition/stringequals", "UnknownOperator")]),
    ("unknown-qualifier", condition({"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}), "identity",
     [("/Statement/0/Condition/ForSomeValues:StringEquals", "UnknownOperator")]),
    ("double-colon-qualifier", condition({"ForAnyValue::StringEquals": {"aws:TagKeys": "a"}}), "identity",
     [("/Statement/0/Condition/ForAnyValue::StringEquals", "UnknownOperator")]),
    ("qualifier-wrong-case", condition({"forallvalues:StringEquals": {"aws:TagKeys": "a"}}), "identity",
     [("/Statement/0/Condition/forallvalues:StringEquals", "UnknownOperator")]),
    ("null-if-exists", condition({"NullIfExists": {"aws:username": "true"}}), "identity",
     [("/Statement/0/Condition/NullIfExists", "UnknownOperator")]),
    ("null-with-qualifier", condition({"ForAnyValue:Null": {"aws:TagKeys": "true"}}), "identity",
     [("/Statement/0/Condition/ForAnyValue:Null", "UnknownOperator")]),
    ("double-if-exists", condition({"StringEqualsIfExistsIfExists": {"aws:username": "a"}}), "identity",
     [("/Statement/0/Condition/StringEqualsIfExistsIfExists", "UnknownOperator")]),
    ("condition-key-without-prefix", condition({"StringEquals": {"username": "alice"}}), "identity",
     [("/Statement/0/Condition/StringEquals/username", "InvalidConditionKey")]),
    ("condition-key-with-space", condition({"StringEquals": {"aws:user name": "alice"}}), "identity",
     [("/Statement/0/Condition/StringEquals/aws:user name", "InvalidConditionKey")]),
    ("condition-value-null", doc(GOOD, GOOD, with_(Condition={"StringEquals": {"aws:username": None}})), "identity",
     [("/Statement/2/Condition/StringEquals/aws:username", "InvalidType")]),
    ("condition-value-object", condition({"StringEquals": {"aws:username": {"a": 1}}}), "identity",
     [("/Statement/0/Condition/StringEquals/aws:username", "InvalidType")]),
    ("condition-value-nested-list", condition({"StringEquals": {"aws:username": ["a", ["b"]]}}), "identity",
     [("/Statement/0/Condition/StringEquals/aws:username/1", "InvalidType")]),
    ("condition-empty-value-list", condition({"StringEquals": {"aws:username": []}}), "identity",
     [("/Statement/0/Condition/StringEquals/aws:username", "EmptyList")]),
    ("condition-unclosed-variable", condition({"StringEquals": {"aws:username": "${aws:username"}}), "identity",
     [("/Statement/0/Condition/StringEquals/aws:username", "InvalidConditionValue")]),
    ("numeric-not-a-number", condition({"NumericLessThan": {"app:size": "ten"}}), "identity",
     [("/Statement/0/Condition/NumericLessThan/app:size", "InvalidConditionValue")]),
    ("numeric-bad-item-in-list", condition({"NumericLessThan": {"app:size": ["1", "2", "x"]}}), "identity",
     [("/Statement/0/Condition/NumericLessThan/app:size/2", "InvalidConditionValue")]),
    ("numeric-variable", condition({"NumericEquals": {"app:size": "${app:limit}"}}), "identity",
     [("/Statement/0/Condition/NumericEquals/app:size", "InvalidConditionValue")]),
    ("numeric-boolean", condition({"NumericEquals": {"app:size": True}}), "identity",
     [("/Statement/0/Condition/NumericEquals/app:size", "InvalidConditionValue")]),
    ("date-not-a-date", condition({"DateLessThan": {"aws:CurrentTime": "yesterday"}}), "identity",
     [("/Statement/0/Condition/DateLessThan/aws:CurrentTime", "InvalidConditionValue")]),
    ("date-impossible", condition({"DateLessThan": {"aws:CurrentTime": "2024-02-30T00:00:00Z"}}), "identity",
     [("/Statement/0/Condition/DateLessThan/aws:CurrentTime", "InvalidConditionValue")]),
    ("date-variable", condition({"DateLessThan": {"aws:CurrentTime": "${aws:EpochTime}"}}), "identity",
     [("/Statement/0/Condition/DateLessThan/aws:CurrentTime", "InvalidConditionValue")]),
    ("bool-not-a-bool", condition({"Bool": {"aws:SecureTransport": "yes"}}), "identity",
     [("/Statement/0/Condition/Bool/aws:SecureTransport", "InvalidConditionValue")]),
    ("null-not-a-bool", condition({"Null": {"aws:username": "maybe"}}), "identity",
     [("/Statement/0/Condition/Null/aws:username", "InvalidConditionValue")]),
    ("ip-not-an-address", condition({"IpAddress": {"aws:SourceIp": "300.1.1.1"}}), "identity",
     [("/Statement/0/Condition/IpAddress/aws:SourceIp", "InvalidConditionValue")]),
    ("ip-bad-prefix", condition({"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "10.0.0.0/33"]}}), "identity",
     [("/Statement/0/Condition/NotIpAddress/aws:SourceIp/1", "InvalidConditionValue")]),
    ("binary-not-base64", condition({"BinaryEquals": {"app:blob": "not base64!"}}), "identity",
     [("/Statement/0/Condition/BinaryEquals/app:blob", "InvalidConditionValue")]),
    ("arn-operator-not-an-arn", condition({"ArnLike": {"aws:PrincipalArn": "role/admin"}}), "identity",
     [("/Statement/0/Condition/ArnLike/aws:PrincipalArn", "InvalidConditionValue")]),
    ("tag-key-pointer-escaped", condition({"NumericEquals": {"aws:PrincipalTag/level": "high"}}), "identity",
     [("/Statement/0/Condition/NumericEquals/aws:PrincipalTag~1level", "InvalidConditionValue")]),
    # --- several problems at once --------------------------------------------------------------
    ("several-problems",
     doc(with_(Effect="allow"), with_(Action="orders"),
         with_(Condition={"StringEquals": {"aws:username": None}, "NumericLessThan": {"app:n": "x"}}),
         with_(Sid="A"), with_(Sid="A", Resource="bucket")),
     "identity",
     [("/Statement/0/Effect", "InvalidEffect"), ("/Statement/1/Action", "InvalidAction"),
      ("/Statement/2/Condition/NumericLessThan/app:n", "InvalidConditionValue"),
      ("/Statement/2/Condition/StringEquals/aws:username", "InvalidType"),
      ("/Statement/4/Resource", "InvalidResource")]),
]


@pytest.mark.parametrize(("source", "kind", "expected"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_malformed_document_is_reported_at_its_pointer(source: Any, kind: str, expected: list[tuple[str, str]]) -> None:
    assert located(source, kind) == sorted(expected)


@pytest.mark.parametrize(("source", "kind", "expected"), [case[1:] for case in CASES if not isinstance(case[1], str)
                                                          and isinstance(case[1], dict)],
                         ids=[case[0] for case in CASES if isinstance(case[1], dict)])
def test_the_same_problems_are_found_in_json_text(source: Any, kind: str, expected: list[tuple[str, str]]) -> None:
    assert located(json.dumps(source), kind) == sorted(expected)


def test_findings_say_how_to_fix_the_problem() -> None:
    (effect,) = findings(doc(with_(Effect="allow")))
    assert "Allow" in effect.message and "case-sensitive" in effect.message
    (unknown,) = [item for item in findings(doc(with_(Actions="x:y"))) if item.code == "UnknownElement"]
    assert "did you mean 'Action'?" in unknown.message
    (operator,) = findings(condition({"StringEqual": {"aws:username": "a"}}))
    assert "did you mean 'StringEquals'?" in operator.message
    (cased,) = findings(condition({"stringequals": {"aws:username": "a"}}))
    assert "case-sensitive" in cased.message and "'StringEquals'" in cased.message
    (qualifier,) = findings(condition({"ForSomeValues:StringEquals": {"aws:TagKeys": "a"}}))
    assert "ForAllValues:" in qualifier.message and "ForAnyValue:" in qualifier.message
    (null,) = findings(condition({"NullIfExists": {"aws:username": "true"}}))
    assert "IfExists" in null.message
    (top,) = [item for item in findings({"Statements": [GOOD]}) if item.code == "UnknownElement"]
    assert "did you mean 'Statement'?" in top.message
    (duplicate,) = findings(doc(with_(Sid="A"), with_(Sid="A")))
    assert "/Statement/0" in duplicate.message


def test_error_message_lists_every_finding_with_its_pointer() -> None:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(doc(with_(Effect="allow"), with_(Action="orders")))
    text = str(error.value)
    assert "2 problems" in text
    assert "/Statement/0/Effect:" in text
    assert "/Statement/1/Action:" in text
    assert str(error.value.findings[0]).startswith(error.value.findings[0].pointer + ": ")


def test_empty_operator_block_is_accepted_even_with_an_unknown_name() -> None:
    # IAM only rejects an unknown operator when it has entries (spec point 18).
    parsed = iamguard.parse_policy(condition({"StringEqual": {}}))
    assert parsed.document.statements[0].conditions == ()


# --- strict JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ('{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}', "/Statement/Effect"),
        ('{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Resource":"arn:aws:s3:::b"}]}',
         "/Statement/0/Resource"),
        ('{"Version":"2012-10-17","Version":"2008-10-17","Statement":[]}', "/Version"),
        ('{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*",'
         '"Condition":{"StringEquals":{"aws:username":"a","aws:username":"b"}}}]}',
         "/Statement/0/Condition/StringEquals/aws:username"),
    ],
)
def test_duplicate_keys_are_reported_where_they_occur(text: str, pointer: str) -> None:
    duplicate = [item for item in findings(text) if item.code == "DuplicateKey"]
    assert [item.pointer for item in duplicate] == [pointer]


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_in_text_are_rejected(constant: str) -> None:
    text = ('{"Statement":{"Effect":"Allow","Action":"*","Resource":"*",'
            f'"Condition":{{"NumericLessThan":{{"app:n":{constant}}}}}}}}}')
    (finding,) = findings(text)
    assert (finding.pointer, finding.code) == ("", "InvalidNumber")
    assert constant.lstrip("-") in finding.message


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_in_a_mapping_are_rejected_at_their_pointer(number: float) -> None:
    source = condition({"NumericLessThan": {"app:n": [1, number]}})
    pairs = located(source)
    assert ("/Statement/0/Condition/NumericLessThan/app:n/1", "InvalidNumber") in pairs


@pytest.mark.parametrize(
    ("text", "pointer"),
    [
        ("arn:aws:s3:::b\u200b", "/Statement/0/Resource"),  # zero-width space
        ("arn:aws:s3:::b\u202e", "/Statement/0/Resource"),  # right-to-left override
        ("arn:aws:s3:::b\x07", "/Statement/0/Resource"),  # a control character
        ("arn:aws:s3:::b\x7f", "/Statement/0/Resource"),
        ("arn:aws:s3:::\u0101", "/Statement/0/Resource"),  # just above Latin-1
    ],
)
def test_characters_outside_the_policy_character_set(text: str, pointer: str) -> None:
    pairs = located(doc(with_(Resource=text)))
    assert (pointer, "InvalidCharacter") in pairs


def test_character_set_applies_to_keys_and_sids() -> None:
    pairs = located(doc(with_(Sid="A\u00a0\u2028")))
    assert ("/Statement/0/Sid", "InvalidCharacter") in pairs
    pairs = located(condition({"StringEquals": {"aws:user\u200dname": "a"}}))
    assert ("/Statement/0/Condition/StringEquals/aws:user\u200dname", "InvalidCharacter") in pairs


@pytest.mark.parametrize("text", ["arn:aws:s3:::caf\u00e9", "arn:aws:s3:::tab\there", "arn:aws:s3:::\u00ff"])
def test_latin1_tab_and_printable_characters_are_accepted(text: str) -> None:
    parsed = iamguard.parse_policy(doc(with_(Resource=text)))
    assert parsed.document.statements[0].resources == (text,)


# --- limits -------------------------------------------------------------------------------------


def _sized(approximate_bytes: int) -> dict[str, Any]:
    per_entry = len(json.dumps("arn:aws:s3:::bucket/0000000000")) + 2
    return doc(with_(Resource=[f"arn:aws:s3:::bucket/{index:010d}" for index in range(approximate_bytes // per_entry)]))


def test_default_size_limit_is_128_kib() -> None:
    assert Limits().max_bytes == 128 * 1024
    small_enough = json.dumps(_sized(120 * 1024))
    assert len(small_enough.encode()) < 128 * 1024
    assert iamguard.parse_policy(small_enough).document.statements
    too_big = json.dumps(_sized(130 * 1024))
    assert len(too_big.encode()) > 128 * 1024
    (finding,) = findings(too_big)
    assert (finding.pointer, finding.code) == ("", "TooLarge")
    assert "131072" in finding.message


@pytest.mark.parametrize("form", ["text", "bytes", "mapping"])
def test_size_limit_is_configurable(form: str) -> None:
    document = _sized(4 * 1024)
    source: Any = {"text": json.dumps(document), "bytes": json.dumps(document).encode(), "mapping": document}[form]
    (finding,) = findings(source, limits=Limits(max_bytes=2048))
    assert finding.code == "TooLarge"
    assert iamguard.parse_policy(source, limits=Limits(max_bytes=8192)).document.statements


def test_padding_whitespace_counts_towards_the_size() -> None:
    text = json.dumps(doc(GOOD)) + " " * (128 * 1024)
    (finding,) = findings(text)
    assert finding.code == "TooLarge"


def test_too_deeply_nested_document() -> None:
    value: Any = "x"
    for _ in range(20):
        value = [value]
    (finding,) = findings(condition({"StringEquals": {"aws:username": value}}))
    assert finding.code == "TooDeep"
    assert finding.pointer.startswith("/Statement/0/Condition/StringEquals/aws:username/0/0")


def test_depth_limit_is_configurable() -> None:
    source = condition({"StringEquals": {"aws:username": ["a"]}})
    assert iamguard.parse_policy(source).document.statements
    (finding,) = findings(source, limits=Limits(max_depth=4))
    assert finding.code == "TooDeep"


def test_pathologically_nested_text_is_rejected_without_recursion_errors() -> None:
    text = '{"Statement":' + "[" * 50_000 + "]" * 50_000 + "}"
    (finding,) = findings(text, limits=Limits(max_bytes=1 << 20))
    assert finding.code == "TooDeep"


def test_too_many_statements() -> None:
    assert Limits().max_statements == 500
    assert len(iamguard.parse_policy(doc(*[GOOD] * 500)).document.statements) == 500
    (finding,) = findings(doc(*[GOOD] * 501))
    assert (finding.pointer, finding.code) == ("/Statement", "TooManyStatements")
    (finding,) = findings(doc(GOOD, GOOD, GOOD), limits=Limits(max_statements=2))
    assert (finding.pointer, finding.code) == ("/Statement", "TooManyStatements")
