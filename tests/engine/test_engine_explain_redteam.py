"""Red-team regressions for decisions and their explanations.

- A Deny whose conditions include one that cannot be evaluated applies (fails closed) whatever
  the order of the condition block, even when another of its conditions is false; before, the
  conditions were tested in document order and stopped at the first false one, so JSON key
  order (and which spelling of a document the compiled-policy cache saw first) decided.
- The trace behind `explain()` counts such an error only for a statement whose action, resource
  and principal match, as the evaluator does.
- Explanations and lint findings escape control characters, so a newline in a request, a policy
  name or a policy key cannot forge an output line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import iamguard
from iamguard import Request
from iamguard.cli import main
from iamguard.lint import LintFinding, Severity, validate_policy
from tests.engine.support import ACCOUNT, ALICE, ALLOW, EXPLICIT, GET, IMPLICIT, ORDER, allow, deny, policy

BAD_NUMBER = {"NumericLessThan": {"app:size": "10"}}  # the request's app:size is not a number
# A condition that is simply false for CONTEXT, from several operator families.
FALSE_CONDITIONS: dict[str, dict[str, Any]] = {
    "string": {"StringEquals": {"app:team": "blue"}},
    "date": {"DateLessThan": {"app:when": "2020-01-01T00:00:00Z"}},
    "numeric": {"NumericGreaterThan": {"app:count": "50"}},
    "bool": {"Bool": {"app:flag": "true"}},
    "absent key": {"StringEquals": {"aws:PrincipalTag/team": "blue"}},
}
CONTEXT = {"app:size": "abc", "app:team": "red", "app:when": "2024-01-01T00:00:00Z", "app:count": "20",
           "app:flag": "false"}
# Resource "*" goes through CompiledStatement.applies; an ARN with a literal head through the
# evaluator's inlined loop over the statement's checks.
RESOURCES = {"any": "*", "indexed": f"arn:app:orders:us-east-1:{ACCOUNT}:order/*"}


def _condition(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for block in (first, second):
        for operator, keys in block.items():
            merged.setdefault(operator, {}).update(keys)
    return merged


@pytest.mark.parametrize("resource", sorted(RESOURCES))
@pytest.mark.parametrize("false_name", sorted(FALSE_CONDITIONS))
@pytest.mark.parametrize("error_first", [True, False])
@pytest.mark.parametrize("with_boundary", [False, True])
def test_a_deny_with_an_unevaluable_condition_applies_in_any_condition_order(
        resource: str, false_name: str, error_first: bool, with_boundary: bool) -> None:
    false = FALSE_CONDITIONS[false_name]
    condition = _condition(BAD_NUMBER, false) if error_first else _condition(false, BAD_NUMBER)
    # A Sid per variant, so that no two variants share a compiled document through the cache.
    sid = f"D{len(resource)}{false_name.replace(' ', '')}{int(error_first)}{int(with_boundary)}"
    document = policy(allow(sid="All"), deny(GET, RESOURCES[resource], condition=condition, sid=sid))
    boundary = policy(allow()) if with_boundary else None
    decision = iamguard.evaluate(Request(ALICE, GET, ORDER, CONTEXT), [document], permissions_boundary=boundary)
    assert decision.effect is EXPLICIT
    assert [ref.sid for ref in decision.statements] == [sid]
    assert any("is not a number" in error for error in decision.errors)
    text = decision.explain()
    assert f"'{sid}' (Deny)" in text and "a Deny fails closed" in text


@pytest.mark.parametrize("error_first", [True, False])
def test_an_allow_with_a_false_and_an_unevaluable_condition_still_does_not_apply(error_first: bool) -> None:
    false = FALSE_CONDITIONS["string"]
    condition = _condition(BAD_NUMBER, false) if error_first else _condition(false, BAD_NUMBER)
    document = policy(allow(GET, RESOURCES["indexed"], condition=condition, sid=f"A{int(error_first)}"))
    decision = iamguard.evaluate(Request(ALICE, GET, ORDER, CONTEXT), [document])
    assert decision.effect is IMPLICIT


def test_the_trace_does_not_apply_an_erroring_deny_whose_action_does_not_match() -> None:
    document = policy(allow(GET, sid="Get"), deny("orders:Delete*", condition=BAD_NUMBER, sid="NoDelete"))
    decision = iamguard.evaluate(Request(ALICE, GET, ORDER, CONTEXT), [document])
    assert decision.effect is ALLOW
    trace = decision.trace()
    assert trace is not None
    applying = {item.ref.sid: item.applies for item in trace.statements}
    assert applying == {"Get": True, "NoDelete": False}


FORGED = "\nAllow: forged line"


@pytest.mark.parametrize("field", ["principal", "action", "resource", "policy name"])
def test_explanations_escape_control_characters(field: str) -> None:
    principal, action, resource, name = ALICE, GET, ORDER, "orders"
    if field == "principal":
        principal += FORGED
    elif field == "action":
        action += FORGED
    elif field == "resource":
        resource += FORGED
    else:
        name += FORGED
    document = iamguard.parse_policy(policy(allow(GET, ORDER, sid="Read")), name=name)
    decision = iamguard.PolicySet([document]).evaluate(Request(principal, action, resource))
    lines = decision.explain().splitlines()
    assert not any(line.startswith("Allow: forged") for line in lines)
    assert any("\\nAllow: forged line" in line for line in lines)


def test_simulate_table_output_escapes_control_characters(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}}')
    code = main(["simulate", "--policy", f"file://{path}", "--action", GET + FORGED, "--resource", ORDER],
                environ={})
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0] == f"Allow: simulated-principal -> {GET}\\nAllow: forged line on {ORDER}"
    assert not any(line.startswith("Allow: forged") for line in out.splitlines())


def test_lint_findings_print_as_one_line() -> None:
    document = ('{"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", '
                '"X\\nERROR FORGED at /: y": 1}}')
    findings = validate_policy(document)
    (unknown,) = [finding for finding in findings if finding.code == "UNKNOWN_ELEMENT"]
    assert "\n" in unknown.pointer  # the pointer itself stays exact
    assert "\n" not in str(unknown) and "X\\nERROR FORGED" in str(unknown)
    plain = LintFinding(Severity.WARNING, "CODE", "/Statement/0", "message")
    assert str(plain) == "WARNING CODE at /Statement/0: message"
