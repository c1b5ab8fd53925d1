"""Red-team round 6 on the policy language, the engine and the linter: regressions for the defects found.

- The linter called a Deny on `home/${aws:username}` redundant next to a `Deny NotResource home/alice`,
  although for alice only the first one denies: removing it as told opened alice's home.
- VARIABLE_FOLLOWED_BY_NAME_CHARACTER (security spec POL-11 e) missed a variable followed by a
  wildcard: `home/${aws:username}*` is `home/alice*` for alice, which covers `home/alice-x`.
- A Deny testing an MFA key with an operator other than the one the MFA rules judge
  (`StringEquals aws:MultiFactorAuthPresent "false"`) had no finding at all, though it is skipped
  for every request without the key (POL-02 c).
- An ARN pattern with variables looked its memo up twice (`in`, then `[]`); a clear by another
  thread in between raised KeyError, which turned an allowed request into an evaluation-failure deny.
"""

from __future__ import annotations

from typing import Any

import pytest

from iamguard import Request
from iamguard.engine.context import EvaluationState
from iamguard.engine.patterns import ArnPattern
from iamguard.lint import validate_policy
from tests.engine.support import ACCOUNT, ALLOW, EXPLICIT, allow, deny, effect_of, policy

FILES = f"arn:app:files:us-east-1:{ACCOUNT}:"
GET = "files:GetFile"


def _codes(*statements: dict[str, Any]) -> dict[str, list[str]]:
    """Finding codes by pointer."""
    found: dict[str, list[str]] = {}
    for finding in validate_policy(policy(*statements)):
        found.setdefault(finding.code, []).append(finding.pointer)
    return found


# --- a Deny with a variable is not covered by a NotResource Deny -------------------------------

NOT_ALICE = deny(GET, not_resource=[FILES + "home/alice"])
OWN_HOME = deny(GET, FILES + "home/${aws:username}")


def test_a_deny_on_a_variable_resource_is_not_reported_redundant_next_to_a_not_resource_deny() -> None:
    assert "REDUNDANT_STATEMENT" not in _codes(allow(GET, FILES + "*"), NOT_ALICE, OWN_HOME)


def test_the_deny_that_was_reported_redundant_is_the_one_that_denies_alice() -> None:
    # Why the finding was false: without the second Deny, alice is allowed her home.
    statements = (allow(GET, FILES + "*"), NOT_ALICE, OWN_HOME)
    request: dict[str, Any] = {"action": GET, "resource": FILES + "home/alice", "context": {"aws:username": "alice"}}
    assert effect_of(*statements, **request) is EXPLICIT
    assert effect_of(*statements[:2], **request) is ALLOW


@pytest.mark.parametrize(
    ("general", "specific"),
    [
        # Literal resources certainly avoid the exclusion: still reported.
        (deny(GET, not_resource=[FILES + "home/alice"]), deny(GET, FILES + "home/bob")),
        (deny(GET, not_resource=[FILES + "home/a*"]), deny(GET, FILES + "home/bob")),
    ],
)
def test_not_resource_still_covers_literal_resources_outside_its_exclusions(general: dict[str, Any],
                                                                             specific: dict[str, Any]) -> None:
    assert _codes(general, specific).get("REDUNDANT_STATEMENT") == ["/Statement/1"]


# --- a variable followed by a wildcard runs into longer names ---------------------------------


@pytest.mark.parametrize(
    ("resource", "flagged"),
    [
        ("home/${aws:username}*", True),
        ("home/${aws:username}?", True),
        ("home/${aws:username}??/x", True),
        ("home/${aws:username}-*", True),  # already reported before this round
        ("home/${aws:username}/*", False),
        ("home/${aws:username}", False),
        ("home/${aws:username}${*}", False),  # a literal star, not a wildcard
        ("home/*${aws:username}", False),
    ],
)
def test_a_variable_directly_followed_by_a_wildcard_is_reported(resource: str, flagged: bool) -> None:
    found = _codes(allow(GET, FILES + resource))
    assert ("VARIABLE_FOLLOWED_BY_NAME_CHARACTER" in found) is flagged


def test_the_wildcard_after_a_variable_really_covers_another_users_resources() -> None:
    statement = allow(GET, FILES + "home/${aws:username}*")
    assert effect_of(statement, action=GET, resource=FILES + "home/alice-x/secret",
                     context={"aws:username": "alice"}) is ALLOW


# --- Denies on MFA keys that a missing key switches off ---------------------------------------


@pytest.mark.parametrize(
    ("condition", "code"),
    [
        ({"StringEquals": {"aws:MultiFactorAuthPresent": "false"}}, "DENY_SKIPPED_WHEN_KEY_ABSENT"),
        ({"StringLike": {"aws:MultiFactorAuthPresent": "f*"}}, "DENY_SKIPPED_WHEN_KEY_ABSENT"),
        ({"StringEqualsIgnoreCase": {"aws:MultiFactorAuthPresent": "FALSE"}}, "DENY_SKIPPED_WHEN_KEY_ABSENT"),
        ({"StringEquals": {"aws:MultiFactorAuthAge": "3600"}}, "DENY_SKIPPED_WHEN_KEY_ABSENT"),
        # The MFA rules keep the operators they judge, with their sharper message.
        ({"Bool": {"aws:MultiFactorAuthPresent": "false"}}, "MFA_DENY_USES_BOOL"),
        ({"NumericGreaterThan": {"aws:MultiFactorAuthAge": 3600}}, "MFA_AGE_ALLOWS_NO_MFA"),
    ],
)
def test_a_deny_on_an_mfa_key_skipped_when_the_key_is_absent_is_reported(condition: dict[str, Any],
                                                                        code: str) -> None:
    found = _codes(allow(GET, FILES + "*"), deny(GET, FILES + "*", condition=condition))
    assert code in found
    # One finding per condition: the generic rule does not repeat the MFA rules' finding.
    assert sum(len(pointers) for pointers in found.values()) == 1


@pytest.mark.parametrize(
    "condition",
    [
        {"StringEqualsIfExists": {"aws:MultiFactorAuthPresent": "false"}},
        {"StringNotEquals": {"aws:MultiFactorAuthPresent": "true"}},
        {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}},
    ],
)
def test_a_deny_on_an_mfa_key_that_holds_when_absent_is_not_reported(condition: dict[str, Any]) -> None:
    assert _codes(allow(GET, FILES + "*"), deny(GET, FILES + "*", condition=condition)) == {}


def test_the_reported_mfa_deny_really_lets_long_term_keys_through() -> None:
    statements = (allow(GET, FILES + "*"),
                  deny(GET, FILES + "*", condition={"StringEquals": {"aws:MultiFactorAuthPresent": "false"}}))
    assert effect_of(*statements, action=GET, resource=FILES + "x", context={}) is ALLOW


# --- the memo of an ARN pattern with variables, cleared by another thread ---------------------


class _ClearedBetweenLookups(dict):  # type: ignore[type-arg]
    """A memo that another thread empties right after `key in memo` answered yes: the interleaving
    that raised KeyError, made deterministic."""

    def __contains__(self, key: object) -> bool:
        answer = super().__contains__(key)
        self.clear()
        return answer

    def get(self, key: Any, default: Any = None) -> Any:
        value = super().get(key, default)
        self.clear()
        return value


def test_an_arn_pattern_memo_cleared_by_another_thread_does_not_fail_the_match() -> None:
    pattern = ArnPattern(FILES + "home/${aws:username}/*", variables=True)
    resource = FILES + "home/alice/notes"
    state = EvaluationState(Request(f"arn:aws:iam::{ACCOUNT}:user/alice", GET, resource, {"aws:username": "alice"}))
    assert pattern.match_text(resource, state)  # fills the memo
    pattern._memo = _ClearedBetweenLookups(pattern._memo)  # type: ignore[assignment]
    assert pattern.match_text(resource, state)
    assert not pattern.match_text(FILES + "home/bob/notes", state)
