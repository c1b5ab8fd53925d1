"""`iamguard init`, `iamguard export` and `iamguard import`: creating and moving whole tenants."""

from __future__ import annotations

import argparse
import json
from typing import Any

from iamguard.cli.context import CliContext
from iamguard.cli.errors import CliError, UsageError
from iamguard.cli.output import Result, fields, json_text
from iamguard.cli.shapes import shape
from iamguard.cli.sources import MAX_EXPORT_BYTES
from iamguard.cli.store_access import choose_tenant, opened_store, store_path
from iamguard.directory import Directory
from iamguard.directory.auditing import audited_write

ADMIN_POLICY_NAME = "AdministratorAccess"
ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "FullAccess", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def register(commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser,
             store_options: argparse.ArgumentParser) -> None:
    init = commands.add_parser(
        "init", parents=[common, store_options], help="create a store, a tenant, signing keys and an administrator",
        description="Create the SQLite store (if needed), a tenant, token signing keys, and an administrator user "
                    "with an AdministratorAccess policy and an access key. The secret access key is printed once.",
    )
    init.add_argument("--tenant-id", metavar="ID", help="the tenant id (default: 12 random digits)")
    init.add_argument("--tenant-name", metavar="NAME", help="a display name for the tenant")
    init.add_argument("--partition", default="aws", help="the ARN partition (default: aws)")
    init.add_argument("--admin-user-name", default="admin", metavar="NAME",
                      help="the administrator's user name (default: admin)")
    init.set_defaults(handler=run_init)

    export = commands.add_parser(
        "export", parents=[common, store_options], help="write a whole tenant as JSON",
        description="Write the tenant's users, groups, roles and policies as JSON (always JSON, whatever "
                    "--output says). Credentials (access keys, passwords, MFA devices) are not exported.",
    )
    export.add_argument("--file", metavar="PATH", help="write to this file instead of standard output")
    export.set_defaults(handler=run_export)

    load = commands.add_parser(
        "import", parents=[common, store_options], help="load a tenant written by export",
        description="Load a tenant written by `iamguard export` into the store (created if missing). The tenant "
                    "must not already exist there.",
    )
    load.add_argument("document", metavar="FILE", help="the export: a path, file://PATH or - for standard input")
    load.set_defaults(handler=run_import)


def run_init(args: argparse.Namespace, ctx: CliContext) -> Result:
    if getattr(args, "tenant", None):
        # --tenant (shared by every command) chooses an existing tenant; ignoring it here would
        # create a tenant with a random id that later commands given the same --tenant cannot find.
        raise UsageError("iamguard init: --tenant chooses an existing tenant; give the new tenant's id "
                         "with --tenant-id")
    path = store_path(args, ctx)
    with opened_store(args, ctx, create=True) as store:
        from iamguard.cli.credentials_access import bootstrap_credentials

        # One transaction for everything: a failure half-way leaves no tenant without an administrator.
        # Opened as the directory's own batch, so the audit records go out only when it commits.
        with audited_write(store, None, None, args.tenant_id, ctx.clock):
            # Checked inside the write transaction (it holds the write lock): two `init` runs at once
            # would otherwise both see an empty store and leave it with two tenants.
            existing = Directory.list_tenants(store)
            if existing and not args.tenant_id:
                names = ", ".join(tenant.tenant_id for tenant in existing)
                raise CliError(f"the store {path} is already initialised (tenant {names}); pass --tenant-id to "
                               "add another tenant")
            tenant = Directory.create_tenant(store, args.tenant_id, args.tenant_name, args.partition,
                                             clock=ctx.clock, audit=ctx.auditor)
            directory = Directory(store, tenant.tenant_id, clock=ctx.clock, cache_ttl=0, audit=ctx.auditor)
            policy = directory.create_policy(ADMIN_POLICY_NAME, json.dumps(ADMIN_POLICY, indent=2),
                                             description="Every action on every resource (created by iamguard init)")
            user = directory.create_user(args.admin_user_name)
            directory.attach_user_policy(user.user_name, policy.arn)
            access_key = bootstrap_credentials(store, directory, user, ctx)
    data: dict[str, Any] = {
        "Store": str(path),
        "Tenant": shape(tenant),
        "User": shape(user),
        "Policy": shape(policy),
        "AccessKey": access_key,
    }
    summary = {
        "Store": str(path),
        "TenantId": tenant.tenant_id,
        "AdminUser": user.arn,
        "AdminPolicy": policy.arn,
        "AccessKeyId": access_key.get("AccessKeyId"),
        "SecretAccessKey": access_key.get("SecretAccessKey"),
    }
    text = fields(summary) + "\n\nSave the secret access key now: it is shown only this once and is stored only " \
        "as a verifier."
    return Result(data, text)


def run_export(args: argparse.Namespace, ctx: CliContext) -> Result:
    with opened_store(args, ctx) as store:
        directory = Directory(store, choose_tenant(args, ctx, store), cache_ttl=0)
        exported = directory.export_tenant()
    text = json_text(exported)
    if args.file:
        try:
            with open(args.file, "x", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except FileExistsError:
            raise CliError(f"--file {args.file} already exists; choose a new file name") from None
        except OSError as exc:
            raise CliError(f"--file {args.file}: {exc.strerror or type(exc).__name__}") from None
        message = f"exported tenant {directory.tenant_id} to {args.file}"
        return Result({"TenantId": directory.tenant_id, "File": args.file}, message)
    return Result(exported, text)


def run_import(args: argparse.Namespace, ctx: CliContext) -> Result:
    document = ctx.reader.read(args.document, option="FILE", allow_plain_path=True, limit=MAX_EXPORT_BYTES)
    with opened_store(args, ctx, create=True) as store:
        tenant = Directory.import_tenant(store, document.content, audit=ctx.auditor)
        details = Directory(store, tenant.tenant_id, cache_ttl=0).get_account_authorization_details()
    counts = {section: len(details.get(section, []))
              for section in ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")}
    data = {"Tenant": shape(tenant), **counts}
    return Result(data, f"imported tenant {tenant.tenant_id} into {store_path(args, ctx)}\n" + fields(counts))
