"""`iamguard simulate`: evaluate requests against policy files or a stored principal, with explanations.

Like the AWS policy simulator, the request context is exactly what `--context` gives: nothing is
added, so a policy that tests a key you did not pass shows up in the explanation as a missing key.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import iamguard
from iamguard.cli.context import CliContext
from iamguard.cli.errors import EXIT_DENIED, EXIT_OK, CliError
from iamguard.cli.output import Result
from iamguard.engine.compiler import Policy

# Without --principal-arn, file simulations use a name that is not an ARN, so it belongs to no
# tenant and every resource counts as its own tenant's (no cross-tenant rule applies).
ANONYMOUS_PRINCIPAL = "simulated-principal"


def register(commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser,
             store_options: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "simulate", parents=[common, store_options],
        help="evaluate requests against policy files or a stored principal, and explain each decision",
        description="Evaluate every --action on every --resource and explain each decision. With policy files "
                    "(--policy, --permissions-boundary, --session-policy) nothing is read from the store; with "
                    "--principal-arn and no such files, the stored principal's policies are used (with "
                    "--resource-policy if given). Exit status: 0 when every request is allowed, 1 when "
                    "any is denied, 2 on bad input.",
    )
    parser.add_argument("--policy", action="append", default=[], metavar="DOC",
                        help="an identity policy: file://PATH, - or inline JSON (repeatable)")
    parser.add_argument("--resource-policy", metavar="DOC", help="the resource's policy")
    parser.add_argument("--permissions-boundary", metavar="DOC", help="a permissions boundary policy")
    parser.add_argument("--session-policy", action="append", default=[], metavar="DOC",
                        help="a session policy (repeatable)")
    parser.add_argument("--principal-arn", metavar="ARN",
                        help="who makes the requests; alone, simulates that stored principal")
    parser.add_argument("--no-store", action="store_true",
                        help="never read the store, even with only --principal-arn and --resource-policy")
    parser.add_argument("--action", action="append", required=True, metavar="ACTION",
                        help="an action such as orders:GetOrder (repeatable)")
    parser.add_argument("--resource", action="append", default=[], metavar="ARN",
                        help="a resource ARN (repeatable; default: *)")
    parser.add_argument("--context", action="append", default=[], metavar="KEY=VALUE[,VALUE]",
                        help="a request context entry (repeatable); a value with a comma is a list, so "
                             "aws:TagKeys=team, is a one-element list")
    parser.set_defaults(handler=run)


def parse_context(entries: Sequence[str]) -> dict[str, Any]:
    """`key=value` gives a string, `key=a,b` (or `key=a,`) a list; repeating a key adds values.
    IAM key names ignore case, so `aws:TagKeys` and `AWS:tagkeys` are one key (first spelling kept)."""
    context: dict[str, Any] = {}
    spellings: dict[str, str] = {}
    for entry in entries:
        key, equals, value = entry.partition("=")
        key = key.strip()
        if not equals or not key:
            raise CliError(f"--context {entry!r}: write KEY=VALUE, for example aws:SourceIp=203.0.113.7")
        key = spellings.setdefault(key.lower(), key)
        parsed: Any = [item for item in value.split(",") if item] if "," in value else value
        if key in context:
            previous = context[key] if isinstance(context[key], list) else [context[key]]
            parsed = previous + (parsed if isinstance(parsed, list) else [parsed])
        context[key] = parsed
    return context


def read_policy(ctx: CliContext, option: str, value: str, kind: str) -> Policy:
    document = ctx.reader.read(value, option=option)
    try:
        return iamguard.parse_policy(document.content, kind, name=document.label)
    except iamguard.PolicyError as exc:
        raise CliError(f"{option} {document.label}: {exc}") from None


def _uses_files(args: argparse.Namespace) -> bool:
    """Files only, unless --principal-arn is given without identity, boundary or session policies:
    then the stored principal's policies are used (and --no-store turns that off)."""
    if args.policy or args.permissions_boundary or args.session_policy or args.no_store:
        return True
    return not args.principal_arn


def run(args: argparse.Namespace, ctx: CliContext) -> Result:
    context = parse_context(args.context)
    resources = args.resource or ["*"]
    if not _uses_files(args):
        from iamguard.cli.store_access import simulate_stored

        decisions = simulate_stored(args, ctx, context, resources)
    elif args.policy or args.resource_policy or args.permissions_boundary or args.session_policy:
        decisions = simulate_files(args, ctx, context, resources)
    else:
        raise CliError("give policy documents (--policy file://PATH...) or --principal-arn of a stored principal")
    return decisions_result(decisions)


def simulate_files(args: argparse.Namespace, ctx: CliContext, context: dict[str, Any],
                   resources: Sequence[str]) -> list[iamguard.Decision]:
    identity = [read_policy(ctx, "--policy", value, "identity") for value in args.policy]
    resource_policy = read_policy(ctx, "--resource-policy", args.resource_policy, "resource") \
        if args.resource_policy else None
    boundary = read_policy(ctx, "--permissions-boundary", args.permissions_boundary, "boundary") \
        if args.permissions_boundary else None
    sessions = [read_policy(ctx, "--session-policy", value, "session") for value in args.session_policy]
    policy_set = iamguard.PolicySet(identity, resource_policy, boundary, sessions or None)
    principal = args.principal_arn or ANONYMOUS_PRINCIPAL
    return [
        policy_set.evaluate(iamguard.Request(principal, action, resource, context))
        for action in args.action for resource in resources
    ]


def decision_record(decision: iamguard.Decision) -> dict[str, Any]:
    request = decision.request
    return {
        "principal": request.principal,
        "action": request.action,
        "resource": request.resource,
        "decision": decision.effect.value,
        "allowed": decision.allowed,
        "matched_statements": [str(ref) for ref in decision.statements],
        "missing_context_keys": sorted(decision.missing_context_keys),
        "explanation": decision.explain(),
    }


def decisions_result(decisions: Sequence[iamguard.Decision]) -> Result:
    records = [decision_record(decision) for decision in decisions]
    allowed = sum(1 for decision in decisions if decision.allowed)
    blocks = [record["explanation"] for record in records]
    blocks.append(f"{allowed} of {len(records)} request{'s' if len(records) != 1 else ''} allowed")
    return Result(records, "\n\n".join(blocks), EXIT_OK if allowed == len(records) else EXIT_DENIED)
