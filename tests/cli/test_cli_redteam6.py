"""Regression tests from the sixth red-team review of the command line (identity directory, admin
API, audit): IAM's DeleteConflict for a user who still holds credentials, and clear one-line errors
for exports that are not what `export` writes."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tests.cli.support import Cli, initialised_cli, one_error_line


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    tool = initialised_cli(capsys, tmp_path)
    tool.ok("iam", "create-user", "--user-name", "eve")
    return tool


def _credential_rows(store: Path, table: str) -> int:
    # `table` is one of the fixed names in CREDENTIALS, never input.
    with contextlib.closing(sqlite3.connect(store)) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# --- delete-user: refused while the user has credentials, as IAM refuses it (issue 3, ROLE-04) ------
# Each command gives eve one kind of credential; delete-user must then answer DeleteConflict and keep
# both the user and the credential (the delete used to succeed and leave the credential orphaned,
# TOTP seed included, because delete-user never loaded the credentials component's check).

CREDENTIALS = [
    pytest.param(("iam", "create-access-key", "--user-name", "eve"), None, "cred_access_keys", id="access-key"),
    pytest.param(("iam", "create-virtual-mfa-device", "--user-name", "eve", "--virtual-mfa-device-name", "phone"),
                 None, "cred_mfa_devices", id="mfa-device"),
    pytest.param(("iam", "create-login-profile", "--user-name", "eve"), "Correct-Horse-Battery-9\n",
                 "cred_login_profiles", id="login-profile"),
]


@pytest.mark.parametrize(("command", "stdin", "table"), CREDENTIALS)
def test_delete_user_is_refused_while_the_user_has_credentials(cli: Cli, command: tuple[str, ...],
                                                               stdin: str | None, table: str) -> None:
    cli.ok(*command, stdin=stdin)
    rows = _credential_rows(cli.store, table)
    error = one_error_line(cli("iam", "delete-user", "--user-name", "eve"))
    assert "DeleteConflict" in error
    assert "eve" in cli.ok("iam", "get-user", "--user-name", "eve").out
    assert _credential_rows(cli.store, table) == rows


def test_delete_user_without_credentials_still_succeeds(cli: Cli) -> None:
    assert cli.ok("iam", "delete-user", "--user-name", "eve").out == "deleted user eve\n"
    assert "NoSuchEntity" in one_error_line(cli("iam", "get-user", "--user-name", "eve"))
