"""`iamguard iam ...` commands for passwords: login profiles and the tenant's password policy.

A password is never a command-line argument (other users can read those in the process list, and
they stay in the shell history): it is taken from $IAMGUARD_PASSWORD or, when that is unset, from
the first line of standard input, as `iamguard sts` takes a secret access key. `--password`, which
AWS CLI users type out of habit, is refused without being echoed.

Importing this module adds its commands to the `iam` group.
"""

from __future__ import annotations

import argparse
from typing import Any

from iamguard.cli.commands import Option, done, record
from iamguard.cli.errors import CliError
from iamguard.cli.iam_commands import IAM, USER_NAME
from iamguard.cli.output import Result, fields
from iamguard.cli.store_access import StoreSession
from iamguard.credentials.records import PasswordPolicy
from iamguard.directory.errors import InvalidInputError

PASSWORD_VARIABLE = "IAMGUARD_PASSWORD"

NO_PASSWORD_ARGUMENT = Option(
    "--password", f"a password on the command line is visible to other users; set ${PASSWORD_VARIABLE} or give it "
    "on the first line of standard input", required=False, kind="refused")
RESET_REQUIRED = Option("--password-reset-required", "whether the user must choose a new password at the next sign-in",
                        required=False, kind="toggle")

# Command-line option -> PasswordPolicy field, in the AWS CLI's names.
POLICY_OPTIONS: tuple[tuple[Option, str], ...] = (
    (Option("--minimum-password-length", "shortest password allowed (6-128; default 8)", required=False,
            kind="int"), "minimum_length"),
    (Option("--require-symbols", "require one of !@#$%%^&*()_+-=[]{}|'", required=False, kind="toggle"),
     "require_symbols"),
    (Option("--require-numbers", "require a digit", required=False, kind="toggle"), "require_numbers"),
    (Option("--require-uppercase-characters", "require an uppercase letter (A-Z)", required=False, kind="toggle"),
     "require_uppercase"),
    (Option("--require-lowercase-characters", "require a lowercase letter (a-z)", required=False, kind="toggle"),
     "require_lowercase"),
    (Option("--password-reuse-prevention", "how many previous passwords may not be reused (1-24; default: no check)",
            required=False, kind="int"), "reuse_prevention"),
    (Option("--max-password-age", "days after which a password must be changed (1-1095; default: never)",
            required=False, kind="int"), "max_age_days"),
)


def _password(session: StoreSession) -> str:
    from_environment = session.ctx.environ.get(PASSWORD_VARIABLE)
    if from_environment:
        return from_environment
    return session.ctx.reader.read_secret("the password", exact=True)


# --- login profiles ------------------------------------------------------------------------------

@IAM.command("create-login-profile",
             f"give a user a password (from ${PASSWORD_VARIABLE} or the first line of standard input)",
             USER_NAME, RESET_REQUIRED, NO_PASSWORD_ARGUMENT)
def create_login_profile(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.get_user(args.user_name)  # a missing user is reported before a password is asked for
    profile = session.credentials.create_login_profile(args.user_name, _password(session),
                                                       bool(args.password_reset_required))
    return record("LoginProfile", profile)


@IAM.command("get-login-profile", "show when a user's password was set and whether it must be reset", USER_NAME)
def get_login_profile(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("LoginProfile", session.credentials.get_login_profile(args.user_name))


@IAM.command("update-login-profile",
             f"set a new password (--set-password: from ${PASSWORD_VARIABLE} or standard input) and/or change "
             "whether it must be reset", USER_NAME,
             Option("--set-password", f"give the user a new password, read from ${PASSWORD_VARIABLE} or the first "
                    "line of standard input", required=False, kind="flag"),
             RESET_REQUIRED, NO_PASSWORD_ARGUMENT)
def update_login_profile(session: StoreSession, args: argparse.Namespace) -> Result:
    if not args.set_password and args.password_reset_required is None:
        raise CliError("nothing to update: give --set-password and/or --password-reset-required "
                       "(or --no-password-reset-required)")
    # Changing the password is an explicit choice: a $IAMGUARD_PASSWORD left in the environment
    # must not silently replace the password when only the reset flag was meant to change.
    session.credentials.get_login_profile(args.user_name)  # no profile: say so before asking for a password
    password = _password(session) if args.set_password else None
    session.credentials.update_login_profile(args.user_name, password, args.password_reset_required)
    changes = (["set a new password"] if password is not None else []) + (
        [] if args.password_reset_required is None else
        ["password reset " + ("required" if args.password_reset_required else "not required")])
    return done(f"updated the login profile of user {args.user_name}: {', '.join(changes)}")


@IAM.command("delete-login-profile", "remove a user's password (it can no longer sign in with one)", USER_NAME)
def delete_login_profile(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.delete_login_profile(args.user_name)
    return done(f"deleted the login profile of user {args.user_name}")


# --- the tenant's password policy ----------------------------------------------------------------

def policy_shape(policy: PasswordPolicy) -> dict[str, Any]:
    """The policy in the shape of `aws iam get-account-password-policy` (unset limits are left out)."""
    shaped: dict[str, Any] = {
        "MinimumPasswordLength": policy.minimum_length,
        "RequireSymbols": policy.require_symbols,
        "RequireNumbers": policy.require_numbers,
        "RequireUppercaseCharacters": policy.require_uppercase,
        "RequireLowercaseCharacters": policy.require_lowercase,
        "ExpirePasswords": policy.max_age_days > 0,
    }
    if policy.max_age_days:
        shaped["MaxPasswordAge"] = policy.max_age_days
    if policy.reuse_prevention:
        shaped["PasswordReusePrevention"] = policy.reuse_prevention
    return shaped


def _policy_result(policy: PasswordPolicy) -> Result:
    shaped = policy_shape(policy)
    return Result({"PasswordPolicy": shaped}, fields(shaped))


@IAM.command("get-account-password-policy", "show the tenant's password policy (the defaults when none was set)")
def get_account_password_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    return _policy_result(session.credentials.get_account_password_policy())


@IAM.command("update-account-password-policy",
             "replace the tenant's password policy; as in IAM, options left out take their default values",
             *(option for option, _field in POLICY_OPTIONS))
def update_account_password_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    settings = {field: getattr(args, option.flag.lstrip("-").replace("-", "_")) for option, field in POLICY_OPTIONS}
    chosen = {field: value for field, value in settings.items() if value is not None}
    try:
        return _policy_result(session.credentials.update_account_password_policy(**chosen))
    except InvalidInputError as exc:
        # The facade names its own fields (minimum_length); the user typed the option.
        message = exc.message
        for option, field in POLICY_OPTIONS:
            message = message.replace(field, option.flag)
        raise CliError(f"{exc.code}: {message}") from None


@IAM.command("delete-account-password-policy", "go back to the default password policy")
def delete_account_password_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.delete_account_password_policy()
    return done("deleted the account password policy; the defaults apply")
