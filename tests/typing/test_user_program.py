"""Runs the strictly typed user program (`user_program.py`, type-checked by `mypy` with the package)
against an in-memory store, and checks what it computed."""

from __future__ import annotations

from iamguard import Effect, MemoryStore
from iamguard.lint import Severity
from tests.typing.user_program import TENANT, main


def test_the_typed_user_program_runs_as_documented() -> None:
    outcome = main(MemoryStore())

    # The engine quickstart allows; a misspelled element is reported at its pointer.
    assert outcome.engine is Effect.ALLOW
    assert outcome.malformed_pointers == ["/Statement/0/Conditon"]

    # The directory: alice may read the order tagged as hers, not bob's; the simulation has no
    # app:channel key, so listing is implicitly denied.
    assert outcome.directory.own_order is True
    assert outcome.directory.other_order is False
    assert outcome.directory.simulated == ["orders:ListOrders=implicitDeny", "orders:GetOrder=implicitDeny"]
    assert outcome.directory.resolved_arn == f"arn:aws:iam::{TENANT}:user/alice"

    # Credentials: an access-key session, one with MFA, a step-up, and an assumed role.
    sessions = outcome.sessions
    assert sessions.principal == f"arn:aws:iam::{TENANT}:user/alice"
    assert sessions.allowed_own_order is True
    assert sessions.mfa_session is True
    assert sessions.stepped_up is True
    assert sessions.role_session == f"arn:aws:sts::{TENANT}:assumed-role/auditor/audit-run"
    assert sessions.role_type == "AssumedRole"

    # Starlette: the context providers fill the owner tag and the channel; the delete needs a fresh
    # MFA, which IamAuth obtains (one code asked) before retrying once.
    assert outcome.starlette == {
        "GET /health": 200,
        "GET /orders": 200,
        "GET /orders/1001": 200,
        "GET /orders/1002": 403,
        "DELETE /orders/1001": 200,
    }
    assert outcome.mfa_codes_asked == 1
    # FastAPI's dependency, for bob.
    assert outcome.fastapi == {"GET /orders/1002": 200, "GET /orders/1001": 403}
    # Flask: a token through IamAuth, and the app's own login through the principal resolver.
    assert outcome.flask == {
        "GET /health": 200,
        "GET /orders/1001": 200,
        "GET /orders/1002": 403,
        "GET /orders/1002 (app login)": 200,
    }
    assert outcome.flask_login_principal == f"arn:aws:iam::{TENANT}:user/bob"

    # The linter flags Allow * on *; the program's own policy has no warning.
    assert outcome.lint_codes == ["ALLOW_STAR_ON_STAR"]
    assert outcome.worst_finding is Severity.SECURITY_WARNING

    # The user's AuditSink received the directory's changes and the guard's decisions.
    assert outcome.audited_actions[:3] == ["iam:CreateTenant", "iam:CreatePolicy", "iam:CreateUser"]
    assert "orders:DeleteOrder" in outcome.audited_actions
    assert "orders:ListOrders" in outcome.audited_actions
