"""`iamguard iam ...` commands for credentials: access keys and virtual MFA devices.

Importing this module adds its commands to the `iam` group.
"""

from __future__ import annotations

import argparse

from iamguard.cli import qr
from iamguard.cli.commands import Option, done, listing, record
from iamguard.cli.iam_commands import IAM, USER_NAME
from iamguard.cli.output import Result
from iamguard.cli.store_access import StoreSession

ACCESS_KEY_ID = Option("--access-key-id", "the access key's id (AKIA...)")
OPTIONAL_USER = Option("--user-name", "the key's owner (checked when given)", required=False)
SERIAL = Option("--serial-number", "the MFA device's serial number (its ARN)")


@IAM.command("create-access-key", "create an access key; the secret is shown only this once", USER_NAME)
def create_access_key(session: StoreSession, args: argparse.Namespace) -> Result:
    key = session.credentials.create_access_key(args.user_name)
    result = record("AccessKey", key)
    note = "\n\nSave the secret access key now: it is shown only this once."
    return Result(result.data, result.text + note)


@IAM.command("list-access-keys", "list a user's access keys (never their secrets)", USER_NAME)
def list_access_keys(session: StoreSession, args: argparse.Namespace) -> Result:
    keys = session.credentials.list_access_keys(args.user_name)
    return listing("AccessKeyMetadata", keys, ("AccessKeyId", "Status", "CreateDate", "UserName"))


@IAM.command("update-access-key", "activate or deactivate an access key", ACCESS_KEY_ID,
             Option("--status", "Active or Inactive", choices=("Active", "Inactive")), OPTIONAL_USER)
def update_access_key(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.update_access_key(args.access_key_id, args.status, args.user_name)
    return done(f"access key {args.access_key_id} is now {args.status}")


@IAM.command("delete-access-key", "delete an access key (sessions minted with it end too)", ACCESS_KEY_ID,
             OPTIONAL_USER)
def delete_access_key(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.delete_access_key(args.access_key_id, args.user_name)
    return done(f"deleted access key {args.access_key_id}")


@IAM.command("get-access-key-last-used", "when, where and for what an access key was last used", ACCESS_KEY_ID)
def get_access_key_last_used(session: StoreSession, args: argparse.Namespace) -> Result:
    return record("AccessKeyLastUsed", session.credentials.get_access_key_last_used(args.access_key_id))


@IAM.command("create-virtual-mfa-device",
             "create a TOTP device for a user and print its provisioning URI (and a QR code with --qr)",
             USER_NAME, Option("--virtual-mfa-device-name", "a name for the device"),
             Option("--qr", "also draw the URI as a QR code in the terminal (table output)", required=False,
                    kind="flag"))
def create_virtual_mfa_device(session: StoreSession, args: argparse.Namespace) -> Result:
    device = session.credentials.create_virtual_mfa_device(args.user_name, args.virtual_mfa_device_name)
    result = record("VirtualMFADevice", device)
    text = result.text + "\n\nScan the URI into an authenticator app now (it cannot be shown again), then run " \
        "`iamguard iam enable-mfa-device` with two consecutive codes."
    if args.qr:
        try:
            text += "\n\n" + qr.render(qr.encode(device.provisioning_uri))
        except ValueError as exc:
            text += f"\n\n(no QR code: {exc}; type the URI or the seed into the app instead)"
    return Result(result.data, text)


@IAM.command("enable-mfa-device", "activate an MFA device with two consecutive codes from the app", USER_NAME,
             SERIAL, Option("--authentication-code1", "the first code"),
             Option("--authentication-code2", "the next code"))
def enable_mfa_device(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.enable_mfa_device(args.user_name, args.serial_number, args.authentication_code1,
                                          args.authentication_code2)
    return done(f"enabled MFA device {args.serial_number} for user {args.user_name}")


@IAM.command("list-mfa-devices", "list a user's MFA devices", USER_NAME)
def list_mfa_devices(session: StoreSession, args: argparse.Namespace) -> Result:
    devices = session.credentials.list_mfa_devices(args.user_name)
    return listing("MFADevices", devices, ("SerialNumber", "Enabled", "EnableDate"))


@IAM.command("deactivate-mfa-device", "deactivate a user's MFA device (a current code is required)", USER_NAME,
             SERIAL, Option("--authentication-code", "a current code from the device", required=False))
def deactivate_mfa_device(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.deactivate_mfa_device(args.user_name, args.serial_number, args.authentication_code)
    return done(f"deactivated MFA device {args.serial_number}")


@IAM.command("delete-virtual-mfa-device", "delete a deactivated virtual MFA device", SERIAL)
def delete_virtual_mfa_device(session: StoreSession, args: argparse.Namespace) -> Result:
    session.credentials.delete_virtual_mfa_device(args.serial_number)
    return done(f"deleted MFA device {args.serial_number}")
