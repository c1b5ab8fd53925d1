"""`iamguard sts ...`: session tokens, as `aws sts` issues them.

The caller proves who it is like the AWS CLI does, from the environment: a session token in
IAMGUARD_SESSION_TOKEN, or an access key (`--access-key-id` or IAMGUARD_ACCESS_KEY_ID) whose
secret is IAMGUARD_SECRET_ACCESS_KEY or, when that is unset, the first line of standard input.
Secrets are never accepted as arguments: other users can read those in the process list.
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from iamguard.cli.commands import CommandGroup, Option
from iamguard.cli.errors import CliError
from iamguard.cli.iam_commands import parse_tags
from iamguard.cli.output import Result, fields
from iamguard.cli.shapes import iso
from iamguard.cli.store_access import StoreSession
from iamguard.credentials import AccessKeyCredentials, Session
from iamguard.credentials.tokens import IssuedToken

STS = CommandGroup("sts", "issue session tokens: get-session-token, assume-role, get-caller-identity")
ACCESS_KEY_VARIABLE = "IAMGUARD_ACCESS_KEY_ID"
SECRET_VARIABLE = "IAMGUARD_SECRET_ACCESS_KEY"
TOKEN_VARIABLE = "IAMGUARD_SESSION_TOKEN"

ACCESS_KEY = Option("--access-key-id", f"the caller's access key (default: ${ACCESS_KEY_VARIABLE})", required=False)
SERIAL = Option("--serial-number", "the MFA device, when the user has several", required=False)
TOKEN_CODE = Option("--token-code", "a current code from the caller's MFA device", required=False)
DURATION = Option("--duration-seconds", "how long the session lasts", required=False, kind="int")


def _access_key(session: StoreSession, args: argparse.Namespace) -> AccessKeyCredentials:
    key_id = args.access_key_id or session.ctx.environ.get(ACCESS_KEY_VARIABLE)
    if not key_id:
        raise CliError(f"give --access-key-id (or set ${ACCESS_KEY_VARIABLE}) and the secret in ${SECRET_VARIABLE} "
                       "or on standard input")
    secret = session.ctx.environ.get(SECRET_VARIABLE) or session.ctx.reader.read_secret("the secret access key")
    return AccessKeyCredentials(key_id, secret)


def _caller(session: StoreSession, args: argparse.Namespace, action: str) -> Session:
    token = session.ctx.environ.get(TOKEN_VARIABLE)
    if token and not args.access_key_id:
        return session.credentials.authenticate(token)
    key = _access_key(session, args)
    return session.credentials.authenticate_access_key(key.access_key_id, key.secret_access_key, action=action)


def _issued(token: IssuedToken, extra: dict[str, Any]) -> Result:
    expiration = iso(datetime.fromtimestamp(token.expires_at, timezone.utc))
    data = {"Credentials": {"SessionToken": token.token, "Expiration": expiration}, **extra}
    summary = {**{key: value.get("Arn") if isinstance(value, dict) else value for key, value in extra.items()},
               "Expiration": expiration, "SessionToken": token.token}
    return Result(data, fields(summary) + f"\n\nUse it with: export {TOKEN_VARIABLE}=<SessionToken>")


@STS.command("get-session-token", "exchange an access key (and an MFA code) for a session token", ACCESS_KEY,
             SERIAL, TOKEN_CODE, DURATION)
def get_session_token(session: StoreSession, args: argparse.Namespace) -> Result:
    token = session.credentials.get_session_token(
        _access_key(session, args), mfa_code=args.token_code, duration=args.duration_seconds,
        serial_number=args.serial_number)
    return _issued(token, {"User": {"Arn": token.session_arn}})


@STS.command("assume-role", "get a session of a role whose trust policy allows the caller",
             Option("--role-arn", "the role to assume"), Option("--role-session-name", "a name for the session"),
             DURATION, Option("--policy", "a session policy: file://PATH, - or inline JSON", required=False),
             Option("--tags", "session tags as Key=K,Value=V or K=V", required=False, kind="list"),
             Option("--source-identity", "who is behind the session (kept through role chaining)", required=False),
             Option("--external-id", "the external id the trust policy expects", required=False),
             SERIAL, TOKEN_CODE, ACCESS_KEY)
def assume_role(session: StoreSession, args: argparse.Namespace) -> Result:
    caller = _caller(session, args, "sts:AssumeRole")
    session_policy = None
    if args.policy:
        document = session.ctx.reader.read(args.policy, option="--policy")
        try:
            session_policy = document.content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CliError(f"--policy {document.label}: the session policy is not UTF-8 text (byte {exc.start})") \
                from None
    token = session.credentials.assume_role(
        args.role_arn, args.role_session_name, caller, duration=args.duration_seconds,
        session_policy=session_policy, tags=parse_tags(args.tags) or None, source_identity=args.source_identity,
        mfa_code=args.token_code, serial_number=args.serial_number, external_id=args.external_id)
    return _issued(token, {"AssumedRoleUser": {"Arn": token.session_arn}})


@STS.command("get-caller-identity", "who the configured credentials belong to", ACCESS_KEY)
def get_caller_identity(session: StoreSession, args: argparse.Namespace) -> Result:
    caller = _caller(session, args, "sts:GetCallerIdentity")
    data = {"UserId": caller.userid, "Account": caller.tenant_id, "Arn": caller.principal_arn}
    return Result(data, fields(data))


def register(commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser,
             store_options: argparse.ArgumentParser) -> None:
    STS.register(commands, common, store_options)
