"""Red-team round 6 on the policy grammar and its errors: inputs that used to escape as a bare
ValueError, OverflowError or TypeError instead of a PolicyError with a pointer, findings whose text
could forge a line, and a document read differently as text and as a mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest

import iamguard
from iamguard import Effect, Finding, Limits, PolicyError
from iamguard.clock import FrozenClock
from iamguard.directory import Directory
from iamguard.directory.errors import MalformedPolicyDocumentError
from iamguard.store.memory import MemoryStore
from tests.policy.support import V2012, statement

ALICE = "arn:aws:iam::123456789012:user/alice"
ORDER = "arn:aws:orders:us-east-1:123456789012:order/1"




def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": V2012, "Statement": list(statements)}


def refused(source: Any, **options: Any) -> list[tuple[str, str, str]]:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(source, **options)
    return [(finding.pointer, finding.code, finding.message) for finding in error.value.findings]


# --- Bool values with policy variables ------------------------------------------------------------
# The parser skipped Bool values containing `${` entirely, so a malformed variable reached the
# compiler and escaped as a plain ValueError (not a PolicyError, no pointer); a value made only of
# `${*}`-style escapes is fixed text that can never be a boolean, and silently matched nothing.

BOOL_POINTER = "/Statement/0/Condition/Bool/aws:SecureTransport"


@pytest.mark.parametrize(("value", "words"), [
    ("${aws:username", "not closed"),
    ("${aws username}", "malformed policy variable"),
    ("${*}", "not a boolean"),
    ("tr${$}e", "not a boolean"),
])
def test_bad_bool_value_with_variable_syntax_is_a_finding(value: str, words: str) -> None:
    [(pointer, code, message)] = refused(doc(statement(Condition={"Bool": {"aws:SecureTransport": value}})))
    assert (pointer, code) == (BOOL_POINTER, "InvalidConditionValue")
    assert words in message


@pytest.mark.parametrize("value", ["${aws:PrincipalTag/secure}", "${app:flag, 'true'}", "true", False])
def test_bool_values_iam_accepts_still_parse(value: Any) -> None:
    policy = iamguard.parse_policy(doc(statement(Condition={"Bool": {"aws:SecureTransport": value}})))
    assert policy.document.statements[0].conditions[0].values == (value,)


def test_directory_refuses_a_bad_bool_variable_as_malformed_and_stores_nothing() -> None:
    store = MemoryStore()
    Directory.create_tenant(store, "123456789012", name="acme", clock=FrozenClock())
    directory = Directory(store, "123456789012", clock=FrozenClock())
    directory.create_user("alice")
    bad = doc(statement(Condition={"Bool": {"aws:SecureTransport": "${aws:username"}}))
    with pytest.raises(MalformedPolicyDocumentError) as error:
        directory.put_user_policy("alice", "p", bad)
    assert [finding.pointer for finding in error.value.findings] == [BOOL_POINTER]
    assert list(directory.list_user_policies("alice").items) == []


# --- dates at the edge of the calendar -------------------------------------------------------------
# An offset can move a valid local time out of datetime's range; astimezone raised OverflowError
# (no ValueError), which crashed the parser and, for a request value, the explanation.

@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:30:00+01:00"])
def test_policy_date_out_of_range_after_offset_is_a_finding(value: str) -> None:
    [(pointer, code, message)] = refused(doc(statement(Condition={"DateLessThan": {"aws:CurrentTime": value}})))
    assert (pointer, code) == ("/Statement/0/Condition/DateLessThan/aws:CurrentTime", "InvalidConditionValue")
    assert "out of the supported range" in message


def test_request_date_out_of_range_makes_an_allow_not_apply_and_a_deny_deny() -> None:
    allow = doc(statement(Effect="Allow", Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}))
    deny = doc(statement(Condition={"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}))
    everything = doc(statement(Effect="Allow"))
    request = iamguard.Request(ALICE, "orders:GetOrder", ORDER, {"aws:CurrentTime": "9999-12-31T23:00:00-05:00"})
    allowed_only = iamguard.evaluate(request, identity_policies=[allow])
    assert allowed_only.effect is Effect.IMPLICIT_DENY
    denied = iamguard.evaluate(request, identity_policies=[everything, deny])
    assert denied.effect is Effect.EXPLICIT_DENY
    assert "out of the supported range" in denied.explain()


# --- mappings that are not JSON ---------------------------------------------------------------------
# A mapping json cannot write (a tuple key, an integer past Python's digit limit, a cycle) raised
# TypeError, or was reported as "nested too deeply" at the root whatever the cause.

def _cyclic() -> dict[str, Any]:
    document: dict[str, Any] = {"Statement": [statement()]}
    document["Statement"][0]["Condition"] = {"StringEquals": document}
    return document


@pytest.mark.parametrize(("source", "pointer", "code"), [
    ({"Statement": [statement()], (1, 2): "x"}, "", "InvalidType"),
    (doc(statement(Condition={"StringEquals": {("app", "k"): "x"}})), "/Statement/0/Condition/StringEquals",
     "InvalidType"),
    (doc(statement(Condition={"NumericLessThan": {"app:n": 10 ** 5000}})),
     "/Statement/0/Condition/NumericLessThan/app:n", "InvalidNumber"),
])
def test_mapping_json_cannot_write_is_reported_where_it_is(source: dict[Any, Any], pointer: str, code: str) -> None:
    assert [(found_pointer, found_code) for found_pointer, found_code, _ in refused(source)] == [(pointer, code)]


def test_cyclic_mapping_is_too_deep_at_a_pointer_inside_the_cycle() -> None:
    [(pointer, code, _)] = refused(_cyclic())
    assert code == "TooDeep"
    assert pointer.startswith("/Statement/0/Condition/StringEquals/Statement/0/Condition/")


# --- findings never forge a line ----------------------------------------------------------------------
# LF and CR are allowed in policy text, and a pointer repeats the document's own key text: a key
# such as "X\n  /Statement/0: ..." printed raw added a fake finding to the error message.

FORGED = "X\n  /Statement/0/Effect: Effect is fine\r"


@pytest.mark.parametrize("source", [
    {"Statement": statement(**{FORGED: 1})},
    doc(statement(Resource="arn:aws:s3:::b/${a\nb}")),
])
def test_error_message_keeps_one_line_per_finding(source: dict[str, Any]) -> None:
    with pytest.raises(PolicyError) as error:
        iamguard.parse_policy(source)
    lines = str(error.value).splitlines()
    assert len(lines) == 1 + (len(error.value.findings) if len(error.value.findings) > 1 else 0)
    assert all(str(finding).isprintable() for finding in error.value.findings)


def test_the_pointer_itself_keeps_the_key_text_per_rfc_6901() -> None:
    [(pointer, code, _)] = refused({"Statement": statement(**{FORGED: 1})})
    assert (pointer, code) == ("/Statement/X\n  ~1Statement~10~1Effect: Effect is fine\r", "UnknownElement")


@pytest.mark.parametrize(("finding", "text"), [
    (Finding("/a\nb", "m"), "/a\\nb: m"),
    (Finding("", "bad \x1b[31m"), "/: bad \\x1b[31m"),
    (Finding("/Statement/0", "fine"), "/Statement/0: fine"),
])
def test_finding_text_escapes_control_characters(finding: Finding, text: str) -> None:
    assert str(finding) == text


# --- text and mapping agree on depth ---------------------------------------------------------------------

SCALAR_IN_OBJECT = doc(statement(Condition={"StringEquals": {"app:k": "v"}}))  # "v" at depth 5
SCALAR_IN_LIST = doc(statement(Condition={"StringEquals": {"app:k": ["v"]}}))  # the list at 5, "v" at 6


@pytest.mark.parametrize(("source", "max_depth", "accepted"), [
    (SCALAR_IN_OBJECT, 4, False),
    (SCALAR_IN_OBJECT, 5, True),  # a mapping used to be refused here while its text was accepted
    (SCALAR_IN_LIST, 6, False),
    (SCALAR_IN_LIST, 7, True),
])
def test_text_and_mapping_of_one_document_get_the_same_depth_answer(
    source: dict[str, Any], max_depth: int, accepted: bool
) -> None:
    def outcome(form: Any) -> list[tuple[str, str]]:
        try:
            iamguard.parse_policy(form, limits=Limits(max_depth=max_depth))
        except PolicyError as error:
            return sorted((finding.pointer, finding.code) for finding in error.findings)
        return []

    from_text = outcome(json.dumps(source))
    assert outcome(source) == from_text
    assert (from_text == []) is accepted
