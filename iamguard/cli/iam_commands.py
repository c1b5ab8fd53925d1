"""`iamguard iam ...`: directory management named like the AWS CLI's `aws iam` commands.

Policy documents (`--policy-document`, `--assume-role-policy-document`) are checked with the linter
first: ERROR findings refuse the document with their JSON pointer, other findings are printed as
warnings on stderr and the command goes ahead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from iamguard.cli.commands import CommandGroup, Option, done, listing, record
from iamguard.cli.errors import CliError, one_line
from iamguard.cli.output import Result
from iamguard.cli.paging import PAGING, collect_for, with_next_token
from iamguard.cli.store_access import StoreSession
from iamguard.lint import Severity, validate_policy

IAM = CommandGroup("iam", "manage users, groups, roles, policies, passwords, access keys and MFA devices")

USER_NAME = Option("--user-name", "the user's name")
GROUP_NAME = Option("--group-name", "the group's name")
ROLE_NAME = Option("--role-name", "the role's name")
POLICY_ARN = Option("--policy-arn", "the managed policy's ARN")
POLICY_NAME = Option("--policy-name", "the policy's name")
POLICY_DOCUMENT = Option("--policy-document", "the policy: file://PATH, - or inline JSON")
PATH = Option("--path", "the path, such as /engineering/ (default: /)", required=False, default="/")
PATH_PREFIX = Option("--path-prefix", "list only entities under this path", required=False, default="/")
TAGS = Option("--tags", "tags as Key=K,Value=V or K=V (several allowed)", required=False, kind="list")
BOUNDARY = Option("--permissions-boundary", "a managed policy ARN to use as permissions boundary",
                  required=False)
VERSION_ID = Option("--version-id", "the policy version, such as v2")
USER_LIST_COLUMNS = ("UserName", "UserId", "Arn", "CreateDate")


# --- helpers -------------------------------------------------------------------------------------

def parse_tags(values: Sequence[str] | None) -> dict[str, str]:
    """`Key=team,Value=eng` (AWS CLI shorthand) or `team=eng`."""
    tags: dict[str, str] = {}
    for text in values or ():
        if text.startswith("Key="):
            key_part, _, value_part = text.partition(",")
            if not value_part.startswith("Value="):
                raise CliError(f"--tags {text!r}: write Key=K,Value=V or K=V")
            key, value = key_part[len("Key="):], value_part[len("Value="):]
        else:
            key, equals, value = text.partition("=")
            if not equals:
                raise CliError(f"--tags {text!r}: write Key=K,Value=V or K=V")
        if key in tags:
            # A dict would keep the last value silently; the directory refuses keys that differ only
            # in case, and IAM refuses a request that names one tag key twice.
            raise CliError(f"--tags: the tag key {key!r} is given twice")
        tags[key] = value
    return tags


def checked_document(session: StoreSession, option: str, value: str, kind: str) -> str:
    """The document's text once the linter finds no ERROR; other findings go to stderr as warnings."""
    document = session.ctx.reader.read(value, option=option)
    findings = validate_policy(document.content, kind)
    errors = [finding for finding in findings if finding.severity is Severity.ERROR]
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more errors)" if len(errors) > 1 else ""
        raise CliError(f"{option} {document.label} is not a valid {kind} policy: {first.pointer or '/'}: "
                       f"{first.message} [{first.code}]{more}")
    for finding in findings:
        if finding.severity >= Severity.WARNING:
            sys.stderr.write(f"iamguard: warning: {document.label}: {one_line(str(finding))}\n")
    return document.content.decode("utf-8")


def _kind_options(kind: str) -> Option:
    return {"user": USER_NAME, "group": GROUP_NAME, "role": ROLE_NAME}[kind]


def _name(args: argparse.Namespace, kind: str) -> str:
    return str(getattr(args, f"{kind}_name"))


# --- users ---------------------------------------------------------------------------------------

@IAM.command("create-user", "create a user", USER_NAME, PATH, TAGS, BOUNDARY)
def create_user(session: StoreSession, args: argparse.Namespace) -> Result:
    user = session.directory.create_user(args.user_name, args.path, tags=parse_tags(args.tags),
                                         permissions_boundary=args.permissions_boundary)
    return record("User", user)


@IAM.command("get-user", "show a user", USER_NAME)
def get_user(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("User", session.directory.get_user(args.user_name))


@IAM.command("list-users", "list the tenant's users", PATH_PREFIX, *PAGING)
def list_users(session: StoreSession, args: argparse.Namespace) -> Result:
    users = collect_for(args, lambda marker, size: session.directory.list_users(args.path_prefix, marker, size))
    return with_next_token(listing("Users", users.items, USER_LIST_COLUMNS), users.next_token)


@IAM.command("delete-user", "delete a user (refused while it has groups, policies, keys or MFA devices)", USER_NAME)
def delete_user(session: StoreSession, args: argparse.Namespace) -> Result:
    # Opening the credentials registers their DeleteConflict check (access keys, password, MFA
    # devices) on the store: without it the user would go and leave its credentials orphaned.
    session.credentials  # noqa: B018
    session.directory.delete_user(args.user_name)
    return done(f"deleted user {args.user_name}")


@IAM.command("list-groups-for-user", "list the groups a user belongs to", USER_NAME, *PAGING)
def list_groups_for_user(session: StoreSession, args: argparse.Namespace) -> Result:
    groups = collect_for(args, lambda marker, size: session.directory.list_groups_for_user(args.user_name, marker,
                                                                                           size))
    return with_next_token(listing("Groups", groups.items, ("GroupName", "GroupId", "Arn")), groups.next_token)


# --- groups --------------------------------------------------------------------------------------

@IAM.command("create-group", "create a group", GROUP_NAME, PATH)
def create_group(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("Group", session.directory.create_group(args.group_name, args.path))


@IAM.command("get-group", "show a group and its members", GROUP_NAME)
def get_group(session: StoreSession, args: argparse.Namespace) -> Result:
    detail = session.directory.get_group(args.group_name)
    users = list(detail.users)
    marker = detail.marker
    while detail.is_truncated and marker is not None:
        detail = session.directory.get_group(args.group_name, marker)
        users.extend(detail.users)
        marker = detail.marker
    shaped = record("Group", detail.group)
    members = listing("Users", users, USER_LIST_COLUMNS)
    return Result({**shaped.data, **members.data}, f"{shaped.text}\n\nmembers:\n{members.text}")


@IAM.command("list-groups", "list the tenant's groups", PATH_PREFIX, *PAGING)
def list_groups(session: StoreSession, args: argparse.Namespace) -> Result:
    groups = collect_for(args, lambda marker, size: session.directory.list_groups(args.path_prefix, marker, size))
    return with_next_token(listing("Groups", groups.items, ("GroupName", "GroupId", "Arn", "CreateDate")),
                           groups.next_token)


@IAM.command("delete-group", "delete a group (refused while it has members or policies)", GROUP_NAME)
def delete_group(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.delete_group(args.group_name)
    return done(f"deleted group {args.group_name}")


@IAM.command("add-user-to-group", "add a user to a group", GROUP_NAME, USER_NAME)
def add_user_to_group(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.add_user_to_group(args.group_name, args.user_name)
    return done(f"added user {args.user_name} to group {args.group_name}")


@IAM.command("remove-user-from-group", "remove a user from a group", GROUP_NAME, USER_NAME)
def remove_user_from_group(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.remove_user_from_group(args.group_name, args.user_name)
    return done(f"removed user {args.user_name} from group {args.group_name}")


# --- roles ---------------------------------------------------------------------------------------

TRUST_DOCUMENT = Option("--assume-role-policy-document", "the trust policy: file://PATH, - or inline JSON")


@IAM.command("create-role", "create a role with a trust policy", ROLE_NAME, TRUST_DOCUMENT, PATH,
             Option("--description", "what the role is for", required=False, default=""),
             Option("--max-session-duration", "longest session in seconds (3600-43200, default 3600)",
                    required=False, kind="int", default=3600),
             BOUNDARY, TAGS)
def create_role(session: StoreSession, args: argparse.Namespace) -> Result:
    trust = checked_document(session, "--assume-role-policy-document", args.assume_role_policy_document, "trust")
    role = session.directory.create_role(
        args.role_name, trust, args.path, args.description, args.max_session_duration,
        args.permissions_boundary, parse_tags(args.tags))
    return record("Role", role)


@IAM.command("get-role", "show a role", ROLE_NAME)
def get_role(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("Role", session.directory.get_role(args.role_name))


@IAM.command("list-roles", "list the tenant's roles", PATH_PREFIX, *PAGING)
def list_roles(session: StoreSession, args: argparse.Namespace) -> Result:
    roles = collect_for(args, lambda marker, size: session.directory.list_roles(args.path_prefix, marker, size))
    return with_next_token(listing("Roles", roles.items, ("RoleName", "RoleId", "Arn", "MaxSessionDuration")),
                           roles.next_token)


@IAM.command("delete-role", "delete a role (refused while it has policies)", ROLE_NAME)
def delete_role(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.delete_role(args.role_name)
    return done(f"deleted role {args.role_name}")


@IAM.command("update-assume-role-policy", "replace a role's trust policy", ROLE_NAME, POLICY_DOCUMENT)
def update_assume_role_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    trust = checked_document(session, "--policy-document", args.policy_document, "trust")
    session.directory.update_assume_role_policy(args.role_name, trust)
    return done(f"updated the trust policy of role {args.role_name}")


# --- managed policies ----------------------------------------------------------------------------

@IAM.command("create-policy", "create a managed policy (refused when the linter finds an ERROR)",
             POLICY_NAME, POLICY_DOCUMENT, PATH, Option("--description", "what the policy is for", required=False,
                                                        default=""))
def create_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    text = checked_document(session, "--policy-document", args.policy_document, "identity")
    return record("Policy", session.directory.create_policy(args.policy_name, text, args.path, args.description))


@IAM.command("get-policy", "show a managed policy", POLICY_ARN)
def get_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("Policy", session.directory.get_policy(args.policy_arn))


@IAM.command("list-policies", "list the tenant's managed policies", PATH_PREFIX,
             Option("--only-attached", "only policies attached to something", required=False, kind="flag"), *PAGING)
def list_policies(session: StoreSession, args: argparse.Namespace) -> Result:
    policies = collect_for(args, lambda marker, size: session.directory.list_policies(
        args.only_attached, args.path_prefix, marker, size))
    columns = ("PolicyName", "Arn", "DefaultVersionId", "AttachmentCount")
    return with_next_token(listing("Policies", policies.items, columns), policies.next_token)


@IAM.command("delete-policy", "delete a managed policy (refused while attached)", POLICY_ARN)
def delete_policy(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.delete_policy(args.policy_arn)
    return done(f"deleted policy {args.policy_arn}")


@IAM.command("create-policy-version", "add a version to a managed policy", POLICY_ARN, POLICY_DOCUMENT,
             Option("--set-as-default", "make it the version in force", required=False, kind="flag"))
def create_policy_version(session: StoreSession, args: argparse.Namespace) -> Result:
    text = checked_document(session, "--policy-document", args.policy_document, "identity")
    version = session.directory.create_policy_version(args.policy_arn, text, args.set_as_default)
    return record("PolicyVersion", version)


@IAM.command("get-policy-version", "show one version of a managed policy", POLICY_ARN, VERSION_ID)
def get_policy_version(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("PolicyVersion", session.directory.get_policy_version(args.policy_arn, args.version_id))


@IAM.command("list-policy-versions", "list the versions of a managed policy", POLICY_ARN, *PAGING)
def list_policy_versions(session: StoreSession, args: argparse.Namespace) -> Result:
    versions = collect_for(args, lambda marker, size: session.directory.list_policy_versions(args.policy_arn, marker,
                                                                                             size))
    return with_next_token(listing("Versions", versions.items, ("VersionId", "IsDefaultVersion", "CreateDate")),
                           versions.next_token)


@IAM.command("set-default-policy-version", "choose the version in force", POLICY_ARN, VERSION_ID)
def set_default_policy_version(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.set_default_policy_version(args.policy_arn, args.version_id)
    return done(f"{args.version_id} is now the default version of {args.policy_arn}")


@IAM.command("delete-policy-version", "delete a non-default version", POLICY_ARN, VERSION_ID)
def delete_policy_version(session: StoreSession, args: argparse.Namespace) -> Result:
    session.directory.delete_policy_version(args.policy_arn, args.version_id)
    return done(f"deleted version {args.version_id} of {args.policy_arn}")


# --- attachments and inline policies, for users, groups and roles --------------------------------

def _register_principal_commands(kind: str) -> None:
    name_option = _kind_options(kind)

    def attach(session: StoreSession, args: argparse.Namespace) -> Result:
        getattr(session.directory, f"attach_{kind}_policy")(_name(args, kind), args.policy_arn)
        return done(f"attached {args.policy_arn} to {kind} {_name(args, kind)}")

    def detach(session: StoreSession, args: argparse.Namespace) -> Result:
        getattr(session.directory, f"detach_{kind}_policy")(_name(args, kind), args.policy_arn)
        return done(f"detached {args.policy_arn} from {kind} {_name(args, kind)}")

    def list_attached(session: StoreSession, args: argparse.Namespace) -> Result:
        fetch = getattr(session.directory, f"list_attached_{kind}_policies")
        attached = collect_for(args, lambda marker, size: fetch(_name(args, kind), marker=marker, max_items=size))
        return with_next_token(listing("AttachedPolicies", attached.items, ("PolicyName", "PolicyArn")),
                               attached.next_token)

    def put_inline(session: StoreSession, args: argparse.Namespace) -> Result:
        text = checked_document(session, "--policy-document", args.policy_document, "identity")
        getattr(session.directory, f"put_{kind}_policy")(_name(args, kind), args.policy_name, text)
        return done(f"put inline policy {args.policy_name} on {kind} {_name(args, kind)}")

    def get_inline(session: StoreSession, args: argparse.Namespace) -> Result:
        policy = getattr(session.directory, f"get_{kind}_policy")(_name(args, kind), args.policy_name)
        return record("Policy", policy)

    def delete_inline(session: StoreSession, args: argparse.Namespace) -> Result:
        getattr(session.directory, f"delete_{kind}_policy")(_name(args, kind), args.policy_name)
        return done(f"deleted inline policy {args.policy_name} from {kind} {_name(args, kind)}")

    def list_inline(session: StoreSession, args: argparse.Namespace) -> Result:
        fetch = getattr(session.directory, f"list_{kind}_policies")
        names = collect_for(args, lambda marker, size: fetch(_name(args, kind), marker=marker, max_items=size))
        result = Result({"PolicyNames": list(names.items)}, "\n".join(names.items) or "(none)")
        return with_next_token(result, names.next_token)

    IAM.command(f"attach-{kind}-policy", f"attach a managed policy to a {kind}", name_option, POLICY_ARN)(attach)
    IAM.command(f"detach-{kind}-policy", f"detach a managed policy from a {kind}", name_option, POLICY_ARN)(detach)
    IAM.command(f"list-attached-{kind}-policies", f"list the managed policies attached to a {kind}",
                name_option, *PAGING)(list_attached)
    IAM.command(f"put-{kind}-policy", f"write an inline policy on a {kind}", name_option, POLICY_NAME,
                POLICY_DOCUMENT)(put_inline)
    IAM.command(f"get-{kind}-policy", f"show an inline policy of a {kind}", name_option, POLICY_NAME)(get_inline)
    IAM.command(f"delete-{kind}-policy", f"delete an inline policy of a {kind}", name_option,
                POLICY_NAME)(delete_inline)
    IAM.command(f"list-{kind}-policies", f"list the inline policies of a {kind}", name_option,
                *PAGING)(list_inline)


def _register_tagged_commands(kind: str) -> None:
    name_option = _kind_options(kind)

    def tag(session: StoreSession, args: argparse.Namespace) -> Result:
        tags = parse_tags(args.tags)
        if not tags:
            raise CliError("--tags: give at least one tag")
        getattr(session.directory, f"tag_{kind}")(_name(args, kind), tags)
        return done(f"tagged {kind} {_name(args, kind)}")

    def untag(session: StoreSession, args: argparse.Namespace) -> Result:
        getattr(session.directory, f"untag_{kind}")(_name(args, kind), list(args.tag_keys))
        return done(f"untagged {kind} {_name(args, kind)}")

    def put_boundary(session: StoreSession, args: argparse.Namespace) -> Result:
        getattr(session.directory, f"put_{kind}_permissions_boundary")(_name(args, kind), args.permissions_boundary)
        return done(f"set the permissions boundary of {kind} {_name(args, kind)} to {args.permissions_boundary}")

    def delete_boundary(session: StoreSession, args: argparse.Namespace) -> Result:
        getattr(session.directory, f"delete_{kind}_permissions_boundary")(_name(args, kind))
        return done(f"removed the permissions boundary of {kind} {_name(args, kind)}")

    required_tags = Option("--tags", "tags as Key=K,Value=V or K=V", kind="list")
    IAM.command(f"tag-{kind}", f"add or replace tags on a {kind}", name_option, required_tags)(tag)
    IAM.command(f"untag-{kind}", f"remove tags from a {kind}", name_option,
                Option("--tag-keys", "the tag keys to remove", kind="list"))(untag)
    IAM.command(f"put-{kind}-permissions-boundary", f"set a {kind}'s permissions boundary", name_option,
                Option("--permissions-boundary", "the boundary policy's ARN"))(put_boundary)
    IAM.command(f"delete-{kind}-permissions-boundary", f"remove a {kind}'s permissions boundary",
                name_option)(delete_boundary)


for _kind in ("user", "group", "role"):
    _register_principal_commands(_kind)
for _kind in ("user", "role"):
    _register_tagged_commands(_kind)


# --- the whole tenant ----------------------------------------------------------------------------

@IAM.command("get-account-authorization-details", "every user, group, role and policy in one document",
             Option("--filter", "User, Group, Role, LocalManagedPolicy and/or AWSManagedPolicy (none here)",
                    required=False, kind="list",
                    choices=("User", "Group", "Role", "LocalManagedPolicy", "AWSManagedPolicy")))
def get_account_authorization_details(session: StoreSession, args: argparse.Namespace) -> Result:
    details = session.directory.get_account_authorization_details(args.filter)
    return Result(details, _details_text(details))


def _details_text(details: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, key in (("UserDetailList", "UserName"), ("GroupDetailList", "GroupName"),
                         ("RoleDetailList", "RoleName"), ("Policies", "PolicyName")):
        entries = details.get(section, [])
        lines.append(f"{section} ({len(entries)}): " + (", ".join(str(entry.get(key)) for entry in entries) or "-"))
    return "\n".join(lines)


def register(commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser,
             store_options: argparse.ArgumentParser) -> None:
    IAM.register(commands, common, store_options)
