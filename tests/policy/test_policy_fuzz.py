"""Crash-freedom of every reader of untrusted policy text (security spec POL-06..POL-10, DOS-*).

Property tests: arbitrary JSON-like values, mutations of valid policies and raw text go through
`parse_policy`, the linter, the directory (MemoryStore) and `iamguard validate`; each must either
accept the document or fail in its documented way, with findings whose JSON pointers resolve in
the document. Table-driven regression cases for the defects this fuzzing found are at the end.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import iamguard
from iamguard import Effect, PolicyError, PolicySet, Request
from iamguard.cli import main
from iamguard.clock import FrozenClock
from iamguard.directory import (
    Directory,
    InvalidInputError,
    LimitExceededError,
    MalformedPolicyDocumentError,
    NoSuchEntityError,
)
from iamguard.lint import Severity, validate_policy
from iamguard.lint.codes import LINT_ONLY_ERRORS, error_code
from iamguard.policy.model import PolicyKind
from iamguard.store.memory import MemoryStore

KINDS = tuple(PolicyKind)
TENANT = "123456789012"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
# Every reader is linear in its input; anything slower than this on a document under the size
# limit is a hang (a backtracking pattern, an exponential walk).
TIME_BOUND = 5.0

# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------

ODD_CHARS = (
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\xa0", "\xff", "\u0100", "\u200b", "\u200e", "\u200f",
    "\u202a", "\u202e", "\u2066", "\u2069", "\u2028", "\u2029", "\ufeff", "\ufffd", "\ud800", "\udbff",
    "\udc00", "\udfff", "\U0001f600", "\xb9", "\u2460", "\u0663", "~", "~0", "~1", "/", "$", "${", "}", "*",
    "?", ":", "'", '"', "\\", " ", "\t", "\n", "\r",
)
odd_text = st.lists(st.one_of(st.characters(), st.sampled_from(ODD_CHARS)), max_size=10).map("".join)
ELEMENTS = ("Version", "Id", "Statement", "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
            "Resource", "NotResource", "Condition", "AWS", "Service", "Federated", "CanonicalUser",
            "StringEquals", "aws:SourceIp", "0", "")
# Built on draw: hypothesis describes its strategies with repr(), which fails past 4300 digits.
huge_ints = st.sampled_from((63, 64, 400, 4299, 4300, 5000)).map(lambda digits: 10**digits)
SPECIAL_FLOATS = (math.nan, math.inf, -math.inf, 1e308, -0.0, 5e-324, 1e16, 0.1)
numbers = st.one_of(st.integers(), huge_ints, st.floats(), st.sampled_from(SPECIAL_FLOATS))
json_leaves = st.one_of(st.none(), st.booleans(), numbers, odd_text, st.sampled_from(ELEMENTS))
json_keys = st.one_of(odd_text, st.sampled_from(ELEMENTS))
# What a JSON decoder can produce (str keys only) ...
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(st.lists(children, max_size=4), st.dictionaries(json_keys, children, max_size=4)),
    max_leaves=25,
)
# ... and what a caller can hand over as a mapping: odd keys, tuples, values JSON has no form for.
odd_keys = st.one_of(json_keys, st.none(), st.booleans(), st.integers(), st.floats(), st.just((1, 2)))
odd_leaves = st.one_of(json_leaves, st.just(b"bytes"), st.just({1, 2}), st.just(object()), st.just(1j))
odd_values = st.recursive(
    odd_leaves,
    lambda children: st.one_of(st.lists(children, max_size=4), st.tuples(children, children),
                               st.dictionaries(odd_keys, children, max_size=4)),
    max_leaves=25,
)

V2012 = "2012-10-17"
SEEDS: dict[PolicyKind, tuple[dict[str, Any], ...]] = {
    PolicyKind.IDENTITY: (
        {"Version": V2012, "Statement": [
            {"Sid": "Read", "Effect": "Allow", "Action": ["orders:Get*", "orders:List?rders"],
             "Resource": "arn:aws:orders:us-east-1:123456789012:order/${aws:username}/*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["red", "${aws:username}"]},
                           "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
                           "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
                           "NumericLessThanIfExists": {"aws:MultiFactorAuthAge": "3600"},
                           "Bool": {"aws:SecureTransport": "true"}}},
            {"Effect": "Deny", "NotAction": "orders:Get*", "NotResource": ["arn:aws:orders:*:*:order/*"],
             "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["secret*", "x?"]},
                           "Null": {"aws:RequestTag/env": "false"},
                           "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/${aws:username}"},
                           "BinaryEquals": {"app:blob": "QUJD"}}},
        ]},
        {"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}},
        {"Version": "2008-10-17", "Id": "x", "Statement": [
            {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/${x}",
             "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": "a"}}}]},
    ),
    PolicyKind.RESOURCE: (
        {"Version": V2012, "Statement": [
            {"Sid": "any-Sid here", "Effect": "Allow",
             "Principal": {"AWS": ["arn:aws:iam::123456789012:root", "123456789012",
                                   "arn:aws:sts::123456789012:assumed-role/app/worker"],
                           "Service": "orders.example.com"},
             "Action": "orders:GetOrder", "Resource": "arn:aws:orders:us-east-1:123456789012:order/*",
             "Condition": {"StringEqualsIgnoreCase": {"aws:PrincipalAccount": "123456789012"}}},
            {"Effect": "Deny", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:user/alice"},
             "Action": "*", "Resource": "*"}]},
        {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "orders:*", "Resource": "*",
                        "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}]},
    ),
    PolicyKind.TRUST: (
        {"Version": V2012, "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"},
             "Action": ["sts:AssumeRole", "sts:TagSession"],
             "Condition": {"StringEquals": {"sts:ExternalId": "abc"}}},
            {"Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::123456789012:oidc-provider/idp.example.com"},
             "Action": "sts:AssumeRoleWithWebIdentity",
             "Condition": {"StringEquals": {"idp.example.com:sub": "user-1"}}}]},
    ),
}
SEEDS[PolicyKind.BOUNDARY] = SEEDS[PolicyKind.IDENTITY]
SEEDS[PolicyKind.SESSION] = SEEDS[PolicyKind.IDENTITY]
ALL_SEEDS = tuple(seed for kind in (PolicyKind.IDENTITY, PolicyKind.RESOURCE, PolicyKind.TRUST)
                  for seed in SEEDS[kind])

NEAR_MISS_OPERATORS = (
    "StringEqual", "stringEquals", "STRINGEQUALS", "StringEquals ", " StringEquals", "StringEqualsIfExistsIfExists",
    "ForAnyValue::StringEquals", "ForAnyValues:StringEquals", "ForAllValues:", "ForAnyValue:Null", "NullIfExists",
    "ForAllValues:StringLikeIfExists", "ForAnyValue:ForAllValues:StringLike", "IfExists", ":", "", "Null",
    "NumericEquals", "DateEquals", "BinaryEquals", "IpAddress", "ArnLike", "Bool", "BoolIfExists",
    "ForAnyValue:DateGreaterThanIfExists", "StringLikeIfExists", "NumericLessThanEquals", "StringNotEquals\x00",
)
VARIABLE_TEXTS = (
    "${aws:username}", "${", "${}", "${ }", "${*}", "${?}", "${$}", "${aws:username", "${a, 'b'}", "${a,'}",
    "${a, 'b', 'c'}", "${${a}}", "$${a}", "${a}${b}", "x${aws:userid}*", "${aws:PrincipalTag/team}", "${\x00}",
    "${\ud800}", "${a:b, ''}", "${'}",
)


def dumps(document: Any) -> str:
    """JSON text of a generated document; a mutation may have made it an integer too long to write."""
    try:
        return json.dumps(document, ensure_ascii=False)
    except ValueError:
        return "{}"


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a JSON value (the root included)."""
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_paths(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_paths(child, (*path, index)))
    return found


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for token in path:
        value = value[token]
    return value


def _misspell(key: str, how: int) -> str:
    if how == 0:
        return key.lower()
    if how == 1:
        return key + "s"
    if how == 2:
        return key[:-1]
    if how == 3:
        return key.upper()
    return " " + key


@st.composite
def mutated_policies(draw: st.DrawFn) -> Any:
    """A valid policy with one to three elements dropped, duplicated, retyped, misspelled, given
    a `${...}` variable, or an operator swapped for a near-miss name."""
    document = json.loads(json.dumps(draw(st.sampled_from(ALL_SEEDS))))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        mutation = draw(st.sampled_from(("drop", "duplicate", "retype", "misspell", "variable", "operator")))
        if not path:
            if mutation == "retype":
                document = draw(json_values)
            continue
        parent, last = _get(document, path[:-1]), path[-1]
        if mutation == "drop":
            del parent[last]
        elif mutation == "duplicate":
            if isinstance(parent, list):
                parent.insert(last, copy.deepcopy(parent[last]))
            else:
                parent[last] = [parent[last], parent[last]]
        elif mutation == "retype":
            parent[last] = draw(json_values)
        elif mutation == "misspell" and isinstance(parent, dict):
            parent[_misspell(last, draw(st.integers(0, 4)))] = parent.pop(last)
        elif mutation == "variable" and isinstance(parent[last], str):
            text = parent[last]
            cut = draw(st.integers(0, len(text)))
            parent[last] = text[:cut] + draw(st.sampled_from(VARIABLE_TEXTS)) + text[cut:]
        elif mutation == "operator" and isinstance(parent, dict):
            conditions = [p for p in paths if len(p) >= 1 and p[-1] == "Condition"]
            if conditions:
                block = _get(document, draw(st.sampled_from(conditions)))
                if isinstance(block, dict) and block:
                    operator = draw(st.sampled_from(sorted(block)))
                    block[draw(st.sampled_from(NEAR_MISS_OPERATORS))] = block.pop(operator)
    return document


@st.composite
def raw_texts(draw: st.DrawFn) -> str | bytes:
    """Broken, hostile or merely unusual JSON text, as str or bytes."""
    seed = dumps(draw(st.one_of(st.sampled_from(ALL_SEEDS), mutated_policies())))
    shape = draw(st.sampled_from(("truncated", "duplicate", "nested", "bom", "bad-utf8", "constants",
                                  "numbers", "escapes", "garbage", "plain")))
    text: str | bytes
    if shape == "truncated":
        text = seed[: draw(st.integers(0, max(0, len(seed) - 1)))]
    elif shape == "duplicate":
        keys = re.findall(r'"(\w+)": ', seed)
        key = draw(st.sampled_from(keys)) if keys else "Statement"
        value = draw(st.sampled_from(('"Deny"', '"*"', "[]", "{}", "null", '"2012-10-17"')))
        text = seed.replace(f'"{key}": ', f'"{key}": {value}, "{key}": ', 1)
    elif shape == "nested":
        depth = draw(st.sampled_from((15, 16, 17, 100, 1000, 50_000)))
        opener, closer = draw(st.sampled_from((("[", "]"), ('{"a":', "}"), ('{"Statement":', "}"))))
        inner = draw(st.sampled_from(("1", "null", '"*"', "")))
        text = opener * depth + inner + closer * draw(st.sampled_from((depth, depth - 1, 0)))
    elif shape == "bom":
        text = draw(st.sampled_from(("\ufeff" + seed, b"\xef\xbb\xbf" + seed.encode("utf-8", "surrogatepass"),
                                     seed + "\ufeff", seed.encode("utf-16", "surrogatepass"))))
    elif shape == "bad-utf8":
        raw = seed.encode("utf-8", "surrogatepass")
        at = draw(st.integers(0, len(raw)))
        text = raw[:at] + draw(st.sampled_from((b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xc0\xaf", b"\x80", b"\xf4\x90")))\
            + raw[at:]
    elif shape == "constants":
        text = seed.replace('"*"', draw(st.sampled_from(("NaN", "Infinity", "-Infinity", "1e999", "-1e999"))), 1)
    elif shape == "numbers":
        text = seed.replace('"*"', draw(st.sampled_from(("1" * 5000, "1" * 4300, "-0", "1.5e308", "0.1e-400",
                                                         "1" + "0" * 400, "-" + "9" * 4299))), 1)
    elif shape == "escapes":
        escape = draw(st.sampled_from(("\\u0000", "\\ud800", "\\udc00\\ud800", "\\u202e", "\\b", "\\f",
                                       "\\/", "\\u00e9", "\\u007f", "\\\\u0000")))
        text = seed.replace('"*"', f'"a{escape}"', 1)
    elif shape == "garbage":
        text = draw(st.one_of(st.text(st.sampled_from('{}[]:,"0123456789.eE+-tfn ul\\'), max_size=40),
                              st.binary(max_size=40), odd_text))
    else:
        text = seed
    if isinstance(text, str) and draw(st.booleans()):
        return text.encode("utf-8", "surrogatepass")
    return text


documents = st.one_of(
    json_values,
    odd_values,
    mutated_policies(),
    raw_texts(),
    st.sampled_from(ALL_SEEDS),
)

# ---------------------------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------------------------

_NOT_DECODED = object()


def decoded(document: Any) -> Any:
    """The document as a lenient JSON reader sees it (last duplicate wins), or _NOT_DECODED when it
    is text no JSON reader decodes."""
    if isinstance(document, Mapping):
        return document
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            return _NOT_DECODED
    if isinstance(document, str):
        try:
            return json.loads(document)
        except (ValueError, RecursionError):
            return _NOT_DECODED
    return document


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def resolves(document: Any, pointer: str) -> bool:
    """True when the RFC 6901 pointer names a value inside `document` (decoded as `decoded` does)."""
    if pointer == "":
        return True
    data = decoded(document)
    if data is _NOT_DECODED or not pointer.startswith("/"):
        return False
    node = data
    for raw in pointer[1:].split("/"):
        token = _unescape(raw)
        if isinstance(node, Mapping):
            matches = [key for key in node if isinstance(key, str) and key == token]
            if not matches:
                return False
            node = node[matches[0]]
        elif isinstance(node, (list, tuple)):
            if not re.fullmatch(r"0|[1-9][0-9]*", token) or int(token) >= len(node):
                return False
            node = node[int(token)]
        else:
            return False
    return True


def timed(call: Callable[[], Any]) -> Any:
    started = time.monotonic()
    try:
        return call()
    finally:
        elapsed = time.monotonic() - started
        assert elapsed < TIME_BOUND, f"took {elapsed:.1f}s"


def parse_outcome(document: Any, kind: PolicyKind) -> iamguard.Policy | PolicyError:
    """`parse_policy`'s answer; any exception other than PolicyError fails the test."""
    try:
        return timed(lambda: iamguard.parse_policy(document, kind))
    except PolicyError as exc:
        return exc


def check_findings(document: Any, error: PolicyError) -> None:
    assert error.findings, "a PolicyError must carry at least one finding"
    for finding in error.findings:
        assert isinstance(finding.code, str) and finding.code, finding
        assert isinstance(finding.message, str) and finding.message.strip(), finding
        assert resolves(document, finding.pointer), f"pointer {finding.pointer!r} does not resolve ({finding})"
        assert "\n" not in str(finding) and "Traceback" not in finding.message
    assert isinstance(str(error), str)


def sample_requests(policy: iamguard.Policy, draw: st.DrawFn) -> list[Request]:
    """Requests aimed at the policy's own actions, resources and condition keys, with odd values."""
    document = policy.document
    actions = [action.replace("*", "x").replace("?", "y") for statement in document.statements
               for action in statement.actions] or ["orders:GetOrder"]
    resources = [resource.replace("*", "x").replace("?", "y").replace("${", "").replace("}", "")
                 for statement in document.statements for resource in statement.resources]
    resources = [r for r in resources if r.startswith("arn:")] or [f"arn:aws:orders:us-east-1:{TENANT}:order/1"]
    keys = [entry.key for statement in document.statements for entry in statement.conditions]
    principals = [f"arn:aws:iam::{TENANT}:user/alice", f"arn:aws:sts::{TENANT}:assumed-role/app/worker",
                  f"arn:aws:iam::{TENANT}:role/app", "arn:aws:iam::999988887777:user/mallory",
                  "orders.example.com", "", "arn:aws:iam::123456789012:oidc-provider/idp.example.com"]
    context_values = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(), odd_text, st.sampled_from(
            ("10.1.2.3", "::ffff:10.0.0.1", "2001:db8::1", "2024-01-01T00:00:00Z", "1700000000", "true", "QUJD",
             "arn:aws:iam::123456789012:role/alice", "red", "secretx")),
        st.lists(odd_text, max_size=3),
    )
    requests = []
    for _ in range(3):
        context = {}
        for key in draw(st.lists(st.sampled_from(keys or ["aws:username"]), max_size=4, unique=True)):
            context[key] = draw(context_values)
        context["aws:username"] = draw(st.one_of(st.just("alice"), odd_text))
        requests.append(Request(draw(st.sampled_from(principals)), draw(st.sampled_from(actions)),
                                draw(st.sampled_from(resources)), context))
    return requests


def evaluate_with(policy: iamguard.Policy, request: Request) -> iamguard.Decision:
    kind = policy.kind
    if kind is PolicyKind.IDENTITY:
        policy_set = PolicySet([policy])
    elif kind is PolicyKind.BOUNDARY:
        policy_set = PolicySet([{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}],
                               permissions_boundary=policy)
    elif kind is PolicyKind.SESSION:
        policy_set = PolicySet([{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}],
                               session_policies=[policy])
    else:
        policy_set = PolicySet(resource_policy=policy)
    return timed(lambda: policy_set.evaluate(request))


# ---------------------------------------------------------------------------------------------
# 1 + 2: parse_policy, round trip, evaluation
# ---------------------------------------------------------------------------------------------


@SETTINGS
@given(document=documents, data=st.data())
def test_parse_policy_accepts_or_reports_findings_that_resolve(document: Any, data: st.DataObject) -> None:
    for kind in KINDS:
        outcome = parse_outcome(document, kind)
        if isinstance(outcome, PolicyError):
            check_findings(document, outcome)
            continue
        assert isinstance(outcome, iamguard.Policy) and outcome.kind is kind
        again = iamguard.parse_policy(outcome.to_dict(), kind)
        assert again.document == outcome.document
        assert json.loads(json.dumps(outcome.to_dict())) == outcome.to_dict()
        for request in sample_requests(outcome, data.draw):
            decision = evaluate_with(outcome, request)
            assert isinstance(decision.effect, Effect)
            assert decision.error is None, decision.error  # an internal failure, not a policy answer


@settings(max_examples=EXAMPLES * 2, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(document=mutated_policies(), data=st.data())
def test_mutated_policies_parse_round_trip_and_evaluate(document: Any, data: st.DataObject) -> None:
    for kind in KINDS:
        for source in (document, dumps(document)):
            outcome = parse_outcome(source, kind)
            if isinstance(outcome, PolicyError):
                check_findings(source, outcome)
                continue
            assert iamguard.parse_policy(outcome.to_dict(), kind).document == outcome.document
            for request in sample_requests(outcome, data.draw):
                decision = evaluate_with(outcome, request)
                assert isinstance(decision.effect, Effect) and decision.error is None, decision.error


# ---------------------------------------------------------------------------------------------
# 3: the linter agrees with the parser
# ---------------------------------------------------------------------------------------------


def check_lint(document: Any, kind: PolicyKind) -> None:
    findings = timed(lambda: validate_policy(document, kind))
    outcome = parse_outcome(document, kind)
    for finding in findings:
        assert finding.code and finding.message, finding
        assert resolves(document, finding.pointer), f"lint pointer {finding.pointer!r} does not resolve ({finding})"
    errors = {finding.code for finding in findings if finding.severity is Severity.ERROR}
    if isinstance(outcome, PolicyError):
        assert errors >= {error_code(problem.code) for problem in outcome.findings}
    else:
        assert errors <= LINT_ONLY_ERRORS, errors


@SETTINGS
@given(document=documents)
def test_linter_never_raises_and_reports_error_exactly_when_parser_refuses(document: Any) -> None:
    for kind in KINDS:
        check_lint(document, kind)


@SETTINGS
@given(document=mutated_policies())
def test_linter_on_mutated_policies(document: Any) -> None:
    for kind in (PolicyKind.IDENTITY, PolicyKind.RESOURCE, PolicyKind.TRUST):
        check_lint(document, kind)
        check_lint(dumps(document), kind)


# ---------------------------------------------------------------------------------------------
# 4: the directory stores the document or raises a documented error and stores nothing
# ---------------------------------------------------------------------------------------------

DOCUMENTED = (MalformedPolicyDocumentError, LimitExceededError, InvalidInputError)
_names = itertools.count()


def _directory() -> Directory:
    store = MemoryStore()
    clock = FrozenClock()
    Directory.create_tenant(store, TENANT, name="acme", clock=clock)
    directory = Directory(store, TENANT, clock=clock)
    directory.create_user("alice")
    return directory


_DIRECTORY = _directory()


def stored_or_refused(call: Callable[[str], Any], read_back: Callable[[str], Any], document: Any,
                      kind: PolicyKind) -> None:
    directory = _DIRECTORY
    name = f"p{next(_names)}"
    before, generation = directory.export_tenant(), directory.store.generation()
    try:
        timed(lambda: call(name))
    except DOCUMENTED as exc:
        assert str(exc) and "Traceback" not in str(exc)
        assert directory.export_tenant() == before, "a refused write changed the tenant"
        assert directory.store.generation() == generation
        with pytest.raises(NoSuchEntityError):
            read_back(name)
        return
    stored = read_back(name)
    # What comes back is what went in, and it is a document the parser accepts.
    assert isinstance(stored, str)
    iamguard.parse_policy(stored, kind)
    if isinstance(document, str):
        assert stored == document


@SETTINGS
@given(document=documents)
def test_directory_stores_valid_documents_and_refuses_the_rest_cleanly(document: Any) -> None:
    directory = _DIRECTORY
    stored_or_refused(lambda name: directory.create_policy(name, document),
                      lambda name: directory.get_policy_version(
                          f"arn:aws:iam::{TENANT}:policy/{name}", "v1").document, document, PolicyKind.IDENTITY)
    stored_or_refused(lambda name: directory.put_user_policy("alice", name, document),
                      lambda name: directory.get_user_policy("alice", name).policy_document, document,
                      PolicyKind.IDENTITY)
    stored_or_refused(lambda name: directory.create_role(name, document),
                      lambda name: directory.get_role(name).assume_role_policy_document, document, PolicyKind.TRUST)


# ---------------------------------------------------------------------------------------------
# 5: `iamguard validate` exits 0 or 1 for a readable file, never with a traceback
# ---------------------------------------------------------------------------------------------


def run_validate(content: bytes, *extra: str) -> tuple[int, str, str]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "policy.json"
        path.write_bytes(content)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = timed(lambda: main(["validate", str(path), *extra], environ={}))
    return status, out.getvalue(), err.getvalue()


def as_bytes(document: Any) -> bytes:
    if isinstance(document, bytes):
        return document
    if isinstance(document, str):
        return document.encode("utf-8", "surrogatepass")
    return dumps(document).encode("utf-8", "surrogatepass")


@SETTINGS
@given(document=st.one_of(json_values, mutated_policies(), raw_texts()), kind=st.sampled_from(KINDS),
       output=st.sampled_from(("table", "json")))
def test_cli_validate_exit_status_follows_the_findings(document: Any, kind: PolicyKind, output: str) -> None:
    content = as_bytes(document)
    status, out, err = run_validate(content, "--kind", kind.value, "--output", output)
    findings = validate_policy(content, kind)
    expected = 1 if any(finding.severity >= Severity.SECURITY_WARNING for finding in findings) else 0
    assert "Traceback" not in out + err
    assert status == expected, (status, err)
    assert err == "", err
    if output == "json":
        report = json.loads(out)
        assert [item["code"] for item in report[0]["findings"]] == [finding.code for finding in findings]


def test_cli_validate_exit_status_2_for_an_unreadable_file() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["validate", "/nonexistent/dir/policy.json"], environ={})
    assert status == 2 and "Traceback" not in err.getvalue() and err.getvalue().count("\n") == 1


# ---------------------------------------------------------------------------------------------
# Wide documents: the linter's pairwise checks must stay bounded under the size limit
# ---------------------------------------------------------------------------------------------


def wide_document(statements: int, items: int, shape: str) -> str:
    """A valid identity policy of `statements` statements with `items` actions (or resources) each."""
    def item(statement: int, index: int) -> str:
        # No item covers another (`s:0x1y*` does not cover `s:0x10y*`): every comparison runs to the end.
        return {"plain": f"s:{statement}x{index}", "wildcard": f"s:{statement}x{index}y*",
                "resource": f"arn:aws:s3:::b/{statement}/{index}/*"}[shape]
    body = [{"Effect": "Allow" if number % 3 else "Deny",
             "Action": "s:*" if shape == "resource" else [item(number, index) for index in range(items)],
             "Resource": [item(number, index) for index in range(items)] if shape == "resource" else "*"}
            for number in range(statements)]
    return json.dumps({"Version": V2012, "Statement": body}, separators=(",", ":"))


@settings(max_examples=8, deadline=None, database=None)
@given(statements=st.sampled_from((1, 2, 50, 500)), shape=st.sampled_from(("plain", "wildcard", "resource")))
def test_linter_time_is_bounded_on_wide_documents(statements: int, shape: str) -> None:
    items = {1: 9000, 2: 4500, 50: 180, 500: 17}[statements] // (2 if shape == "resource" else 1)
    document = wide_document(statements, items, shape)
    assert len(document) <= 128 * 1024
    iamguard.parse_policy(document)  # valid, so every rule of the linter runs
    findings = timed(lambda: validate_policy(document))
    assert not any(finding.severity is Severity.ERROR for finding in findings)


# ---------------------------------------------------------------------------------------------
# Regression cases for the defects found by the properties above
# ---------------------------------------------------------------------------------------------


class _Counted:
    """Wraps a function, failing the test once it is called more than `limit` times (or, with
    `weight`, once the summed weights pass it): quadratic work shows up without minutes of CPU."""

    def __init__(self, function: Callable[..., Any], limit: int,
                 weight: Callable[..., int] = lambda *args, **kwargs: 1) -> None:
        self.function, self.limit, self.weight, self.spent = function, limit, weight, 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.spent += self.weight(*args, **kwargs)
        if self.spent > self.limit:
            raise AssertionError(f"more than {self.limit} comparisons: the check is quadratic")
        return self.function(*args, **kwargs)


@pytest.mark.parametrize(("shape", "statements", "count"), [
    ("plain", 1, 11000), ("wildcard", 1, 9000), ("resource", 1, 4500), ("wildcard", 50, 180),
])
def test_regression_list_redundancy_check_is_bounded(monkeypatch: pytest.MonkeyPatch, shape: str, statements: int,
                                                     count: int) -> None:
    # Defect: REDUNDANT_ACTION/REDUNDANT_RESOURCE compared every item with every other: one list of
    # 11000 actions (a 120 KB document iamguard.parse_policy reads in 0.03 s) kept validate_policy
    # and `iamguard validate` busy for minutes; 50 lists of 180 wildcards took seconds.
    from iamguard.lint import hygiene

    monkeypatch.setattr(hygiene, "covers_action", _Counted(hygiene.covers_action, 300_000))
    monkeypatch.setattr(hygiene, "covers_resource", _Counted(hygiene.covers_resource, 300_000))
    document = wide_document(statements, count, shape)
    iamguard.parse_policy(document)
    findings = timed(lambda: validate_policy(document))
    assert not any(finding.severity is Severity.ERROR for finding in findings)


def test_regression_statement_coverage_check_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    # Defect: REDUNDANT_STATEMENT/UNREACHABLE_STATEMENT compared every statement with every other,
    # item by item: 500 statements of 20 distinct actions (125 KB) took the linter over 30 s.
    from iamguard.lint import statements

    def cost(general: Any, specific: Any, **_: Any) -> int:
        return len(general.actions) * len(specific.actions) + len(general.resources) * len(specific.resources)

    monkeypatch.setattr(statements, "covers_statement", _Counted(statements.covers_statement, 4_000_000, cost))
    document = wide_document(500, 20, "plain")
    iamguard.parse_policy(document)
    timed(lambda: validate_policy(document))
    status, _, err = run_validate(document.encode())
    assert status == 0 and err == ""


@pytest.mark.parametrize(("items", "expected"), [
    (["s:Get*", "s:GetOrder", "s:List"], [("REDUNDANT_ACTION", "/Statement/0/Action/1")]),
    ([f"s:A{index}" for index in range(600)] + ["s:A1"], [("DUPLICATE_ACTION", "/Statement/0/Action/600")]),
    (["s:*"] + [f"s:A{index}" for index in range(400)], [
        ("REDUNDANT_ACTION", f"/Statement/0/Action/{index}") for index in range(1, 401)]),
])
def test_bounded_checks_still_report_what_they_did(items: list[str], expected: list[tuple[str, str]]) -> None:
    document = {"Version": V2012, "Statement": [{"Effect": "Deny", "Action": items, "Resource": "*"}]}
    found = [(finding.code, finding.pointer) for finding in validate_policy(document)
             if finding.code.startswith(("REDUNDANT", "DUPLICATE"))]
    assert sorted(found) == sorted(expected)


def test_bounded_statement_check_still_reports_redundant_and_unreachable_statements() -> None:
    body = [{"Effect": "Allow", "Action": f"s:A{index}", "Resource": "*"} for index in range(200)]
    body += [{"Effect": "Allow", "Action": "s:*", "Resource": "*"},
             {"Effect": "Deny", "Action": "s:A7", "Resource": "*"}]
    found = {(finding.code, finding.pointer) for finding in validate_policy({"Version": V2012, "Statement": body})}
    assert ("UNREACHABLE_STATEMENT", "/Statement/7") in found
    assert ("REDUNDANT_STATEMENT", "/Statement/0") in found and ("REDUNDANT_STATEMENT", "/Statement/199") in found


@pytest.mark.parametrize("document", [
    {"\xb9": None},
    '{"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "\xb2": 1}}',
    {"Version": V2012, "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}], "\u2460": 1},
    {"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"\xb3": {"a:b": "x"}}}], "1": 1},
])
def test_regression_linter_sorts_findings_at_keys_of_non_ascii_digits(document: Any) -> None:
    # Defect: findings are sorted by pointer, and a pointer token such as `¹` (a Latin-1 character
    # IAM allows) passed str.isdigit() and then int() raised ValueError out of validate_policy;
    # `iamguard validate` reported "unexpected ValueError" with exit status 2.
    for kind in KINDS:
        findings = validate_policy(document, kind)
        assert any(finding.severity is Severity.ERROR for finding in findings)
        check_lint(document, kind)
    status, out, err = run_validate(as_bytes(document))
    assert (status, err) == (1, ""), err
    assert "ERROR" in out


def _cyclic() -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    statement["Condition"] = {"StringEquals": {"a:b": statement}}
    return {"Statement": statement}


# Hostile documents with the finding each must produce (documented failures, not crashes).
HOSTILE = [
    ("[" * 60_000 + "]" * 60_000, "TooDeep", ""),
    ('{"Statement":' * 20 + "1" + "}" * 20, "TooDeep", None),
    ("\ufeff{}", "InvalidJson", ""),
    (b"\xef\xbb\xbf{}", "InvalidJson", ""),
    (b'{"Statement": "\xff"}', "InvalidJson", ""),
    (b'{"Statement": "\xed\xa0\x80"}', "InvalidJson", ""),
    ('{"Statement": NaN}', "InvalidNumber", ""),
    ('{"Statement": [1e999]}', "InvalidNumber", "/Statement/0"),
    ('{"Statement": ' + "9" * 5000 + "}", "InvalidNumber", ""),
    ({"Statement": 10**5000}, "InvalidNumber", "/Statement"),
    ({"Statement": [], 1: "x"}, "InvalidType", ""),
    ({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "\ud800": 1}}, "InvalidCharacter",
     "/Statement/\ud800"),
    ('{"Statement": "\\ud800", "Statement": 1}', "DuplicateKey", "/Statement"),
    ('{"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*", "Effect": "Deny"}}', "DuplicateKey",
     "/Statement/Effect"),
    (_cyclic(), "TooDeep", None),
    ({"Statement": {"Effect": "Allow", "Action": "*", "Resource": b"*"}}, "InvalidType", "/Statement/Resource"),
    ('{"Statement": {"Effect": "Allow", "Action": "a:b", "Resource": "*"', "InvalidJson", ""),
    ({"a~/b": 1, "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}, "UnknownElement", "/a~0~1b"),
]


@pytest.mark.parametrize(("document", "code", "pointer"), HOSTILE)
@pytest.mark.parametrize("kind", KINDS)
def test_hostile_documents_fail_in_the_documented_way(document: Any, code: str, pointer: str | None,
                                                      kind: PolicyKind) -> None:
    outcome = parse_outcome(document, kind)
    assert isinstance(outcome, PolicyError)
    assert code in {finding.code for finding in outcome.findings}
    if pointer is not None:
        assert pointer in {finding.pointer for finding in outcome.findings if finding.code == code}
    check_findings(document, outcome)
    check_lint(document, kind)
