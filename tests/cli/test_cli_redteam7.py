"""Regression tests from the seventh red-team review of the command line: secrets read whole from
standard input and kept out of reprs, stores created private, report lines a file name cannot
forge, and inputs the command line used to accept silently (duplicate JSON members in an export,
a tag key given twice, `init --tenant`)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from iamguard.cli.context import CliContext
from iamguard.cli.iam_commands import parse_tags
from iamguard.cli.sources import InputReader
from iamguard.credentials import Credentials
from iamguard.credentials.errors import AuthenticationFailed
from iamguard.directory import Directory
from iamguard.store.sqlite import SQLiteStore
from tests.cli.support import KEY, RAW_KEY, TENANT, Cli, initialised_cli, one_error_line, run_main

ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    return initialised_cli(capsys, tmp_path)


# --- a secret on standard input ends at LF (or CRLF) only --------------------------------------------
# str.splitlines() also splits at U+2028, U+0085, form feed and other separators, so a password holding
# one was silently cut to its first part, and that prefix became the password.

@pytest.mark.parametrize(("stdin", "expected"), [
    (b"Correct-Horse\xe2\x80\xa8Battery-9\n", "Correct-Horse\u2028Battery-9"),
    (b"Correct-Horse\xc2\x85Battery-9\r\n", "Correct-Horse\u0085Battery-9"),
    (b"Correct-Horse\x0cBattery-9\nignored\n", "Correct-Horse\x0cBattery-9"),
    (b"Correct-Horse\x1eBattery-9", "Correct-Horse\x1eBattery-9"),
])
def test_read_secret_splits_only_at_line_feeds(stdin: bytes, expected: str) -> None:
    assert InputReader(lambda: io.BytesIO(stdin)).read_secret("the password", exact=True) == expected


def _check_password(store: Path, user: str, password: str) -> bool:
    database = SQLiteStore(store)
    try:
        credentials = Credentials(Directory(database, TENANT, cache_ttl=0), pepper=RAW_KEY, data_key=RAW_KEY)
        try:
            credentials.check_password(user, password)
        except AuthenticationFailed:
            return False
        return True
    finally:
        database.database.close()


@pytest.mark.parametrize("separator", ["\u2028", "\u0085"])
def test_a_password_with_a_unicode_line_separator_is_stored_whole(cli: Cli, separator: str) -> None:
    password = f"Correct-Horse{separator}Battery-9"
    cli.ok("iam", "create-user", "--user-name", "alice")
    cli.ok("iam", "create-login-profile", "--user-name", "alice", stdin=password + "\n")
    assert _check_password(cli.store, "alice", password)
    assert not _check_password(cli.store, "alice", "Correct-Horse")


def test_a_password_with_a_form_feed_is_refused_not_truncated(cli: Cli) -> None:
    cli.ok("iam", "create-user", "--user-name", "alice")
    error = one_error_line(cli("iam", "create-login-profile", "--user-name", "alice",
                                stdin="Correct-Horse\x0cBattery-9\n"))
    assert "PasswordPolicyViolation" in error and "control characters" in error
    assert "NoSuchEntity" in one_error_line(cli("iam", "get-login-profile", "--user-name", "alice"))


# --- the environment (secrets included) is not in the context's repr ---------------------------------

def test_cli_context_repr_leaves_out_the_environment() -> None:
    environ = {"IAMGUARD_SECRET_ACCESS_KEY": "s3cr3t-key-value", "IAMGUARD_PASSWORD": "pa55-word-value",
               "IAMGUARD_PEPPER": KEY}
    context = CliContext(InputReader(io.BytesIO), environ)
    shown = repr(context)
    assert context.environ is environ
    assert not any(value in shown for value in environ.values()), shown


# --- a new store is readable by its owner only ---------------------------------------------------------
# Without $IAMGUARD_DATA_KEY the store also holds the key that unseals its signing keys and TOTP seeds,
# so a world-readable file let any local user mint session tokens.

def test_init_creates_the_store_readable_by_its_owner_only(cli: Cli) -> None:
    assert cli.store.stat().st_mode & 0o077 == 0


def test_import_creates_the_store_readable_by_its_owner_only(cli: Cli, tmp_path: Path) -> None:
    exported = cli.ok("export").out
    copy = tmp_path / "copy.db"
    cli.ok("import", "-", "--store", str(copy), stdin=exported)
    assert copy.stat().st_mode & 0o077 == 0


# --- validate: a file name cannot forge or hide a line of the report ---------------------------------

@pytest.mark.parametrize("name", [
    "p.json: no findings\n0 findings in 1 file",
    "p\x1b[8m.json",
    "p\u202e.json",
    "p\u0085.json",
])
def test_validate_report_escapes_file_names(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(ALLOW_ALL)
    outcome = run_main(capsys, "validate", str(path))
    assert outcome.code == 1
    lines = outcome.out.splitlines()
    assert len(lines) == 2 and "ALLOW_STAR_ON_STAR" in lines[0] and lines[1] == "1 finding in 1 file", outcome.out
    assert outcome.out.isascii() and "\x1b" not in outcome.out
    (report,) = run_main(capsys, "validate", str(path), "--output", "json").json()
    assert report["file"] == str(path)


# --- import: an export that names a member twice is refused (POL-08) --------------------------------
# json keeps the last of two equal names, so the file a reviewer read (a boundary, a tenant id) and
# the tenant the import created could differ.

@pytest.mark.parametrize(("original", "doubled"), [
    ('"tenant_id": "123456789012"', '"tenant_id": "123456789012", "tenant_id": "555555555555"'),
    ('"boundary_id": null', '"boundary_id": "ANPAAAAAAAAAAAAAAAAA", "boundary_id": null'),
    ('"format":', '"groups": [], "format":'),
])
def test_import_refuses_an_export_that_repeats_a_member(cli: Cli, tmp_path: Path, original: str,
                                                         doubled: str) -> None:
    exported = cli.ok("export").out
    assert original in exported
    copy = tmp_path / "copy.db"
    error = one_error_line(cli("import", "-", "--store", str(copy), stdin=exported.replace(original, doubled, 1)))
    assert "InvalidInput" in error and "appears twice" in error
    # Nothing written: the store this import created is gone again, with SQLite's side files.
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("copy")) == []


def test_a_refused_import_into_an_existing_store_leaves_that_store_as_it_was(cli: Cli) -> None:
    before = cli.ok("iam", "list-users", "--output", "json").out
    refused = cli("import", "-", stdin='{"format": "iamguard-export"}')
    assert refused.code == 2
    assert cli.store.exists() and cli.ok("iam", "list-users", "--output", "json").out == before


def test_a_store_that_a_concurrent_init_filled_is_kept_when_this_command_fails(
        cli: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two `init`s at once: the one that created the file may be the one refused (the other put
    its tenant in first). The refused one must not remove a store holding the other's tenant."""
    from iamguard.cli import store_access

    target = tmp_path / "raced.db"
    real_open = store_access._open

    def open_then_lose_the_race(args: object, ctx: object, *, create: bool) -> object:
        store, created = real_open(args, ctx, create=create)  # type: ignore[arg-type]
        Directory.create_tenant(store, TENANT)  # the other init, first to write the same tenant
        return store, created

    monkeypatch.setattr(store_access, "_open", open_then_lose_the_race)
    refused = cli("init", "--store", str(target), "--tenant-id", TENANT)
    assert refused.code != 0
    monkeypatch.undo()
    assert target.exists()
    assert [tenant.tenant_id for tenant in Directory.list_tenants(SQLiteStore(target))] == [TENANT]


# --- --tags: a key given twice is refused, not silently the last value -------------------------------

@pytest.mark.parametrize("values", [
    ["team=eng", "team=admin"],
    ["Key=team,Value=eng", "team=admin"],
    ["Key=team,Value=eng", "Key=team,Value=eng"],
])
def test_parse_tags_refuses_a_repeated_key(values: list[str]) -> None:
    with pytest.raises(Exception, match="the tag key 'team' is given twice"):
        parse_tags(values)


def test_create_user_with_a_repeated_tag_key_changes_nothing(cli: Cli) -> None:
    error = one_error_line(cli("iam", "create-user", "--user-name", "bob", "--tags", "team=eng", "team=admin"))
    assert "given twice" in error
    assert "NoSuchEntity" in one_error_line(cli("iam", "get-user", "--user-name", "bob"))
    assert parse_tags(["team=eng", "Key=env,Value=prod"]) == {"team": "eng", "env": "prod"}


# --- init --tenant: refused, instead of creating a tenant with a random id ---------------------------

def test_init_refuses_tenant_instead_of_ignoring_it(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    store = tmp_path / "iamguard.db"
    outcome = run_main(capsys, "init", "--tenant", TENANT, env={"IAMGUARD_STORE": str(store)})
    assert "--tenant-id" in one_error_line(outcome)
    assert not store.exists()
