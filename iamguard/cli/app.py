"""The `iamguard` program: argument parsing, dispatch, output, and the exit-status contract.

Exit status: 0 success (or every simulated request allowed), 1 a "no" answer (a denied request,
validation findings at or above --fail-on), 2 a usage or input error, a refused operation, or an
unexpected failure. Errors are printed as one line on stderr; a traceback is never shown.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, BinaryIO, NoReturn, TypeAlias

import iamguard
from iamguard.audit import AUDIT_LOGGER
from iamguard.cli import audit_log, simulate, validate
from iamguard.cli.context import CliContext
from iamguard.cli.errors import EXIT_DENIED, EXIT_USAGE, CliError, UsageError, one_line
from iamguard.cli.output import OUTPUT_FORMATS, render
from iamguard.cli.sources import InputReader
from iamguard.clock import SYSTEM_CLOCK, Clock
from iamguard.directory.errors import AuditUnavailableError
from iamguard.errors import IamGuardError

PROG = "iamguard"
EPILOG = """\
examples:
  iamguard validate policy.json --fail-on WARNING
  iamguard simulate --policy file://policy.json --action orders:GetOrder --resource arn:app:orders:::order/1
  iamguard init
  iamguard iam create-user --user-name alice          (iam commands are named like the AWS CLI's)
  iamguard iam create-policy --policy-name Read --policy-document file://read.json
  iamguard simulate --principal-arn arn:aws:iam::123456789012:user/alice --action orders:GetOrder
  iamguard sts get-session-token --access-key-id AKIA...  (secret from $IAMGUARD_SECRET_ACCESS_KEY or stdin)
  iamguard iam create-login-profile --user-name alice     (password from $IAMGUARD_PASSWORD or stdin)
  iamguard iam list-users --max-items 50                  (then --starting-token NEXT_TOKEN for the rest)
  iamguard export > tenant.json;  iamguard import tenant.json --store copy.db

Documents are given as file://PATH, - (standard input) or inline JSON. The store is --store,
else $IAMGUARD_STORE, else ./iamguard.db; the tenant is --tenant, else $IAMGUARD_TENANT, else the
store's only tenant. If your application configures the credentials pepper and data key, give the
same values as $IAMGUARD_PEPPER and $IAMGUARD_DATA_KEY (base64). --audit-log FILE (or
$IAMGUARD_AUDIT_LOG) appends one JSON line per IAM change and credentials event to FILE; a change
that cannot be recorded there is refused. Exit status: 0 success or allow,
1 deny or findings at or above --fail-on, 2 usage or input error. `iamguard COMMAND --help` for more.
"""


class _StderrWarnings(logging.Handler):
    """Library warnings as `iamguard: warning: ...` lines, written to whatever sys.stderr is at the
    time (so it also works under output capture).

    Audit events are not warnings for the operator: they belong to the application's audit sink.
    The credentials component's setup warning (no data key configured) is shown by `init` only:
    repeated on every command it would teach people to ignore stderr.
    """

    quiet_loggers: tuple[str, ...] = ()

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        if name == AUDIT_LOGGER or name.startswith(AUDIT_LOGGER + "."):
            return False
        return not any(name == quiet or name.startswith(quiet + ".") for quiet in self.quiet_loggers)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(f"{PROG}: warning: {one_line(record.getMessage())}\n")
        except Exception:  # pragma: no cover - a broken stderr must not break the command
            self.handleError(record)


_WARNINGS = _StderrWarnings(logging.WARNING)


def _configure_logging(command: str | None) -> None:
    """Only when nobody configured logging (a standalone run): an application embedding `main`
    keeps its own handlers."""
    _WARNINGS.quiet_loggers = () if command == "init" else ("iamguard.credentials",)
    library = logging.getLogger("iamguard")
    if _WARNINGS in library.handlers or logging.getLogger().handlers or library.handlers:
        return
    library.addHandler(_WARNINGS)


class _Parser(argparse.ArgumentParser):
    """Reports usage mistakes as one line (through UsageError) instead of printing and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {_without_option_values(message)} (see {self.prog} --help)")


_AMBIGUOUS_VALUE = re.compile(r"(ambiguous option: -[^=\s]+)=.*(?= could match )", re.DOTALL)
_IGNORED_VALUE = re.compile(r"ignored explicit argument .*", re.DOTALL)


def _without_option_values(message: str) -> str:
    """argparse quotes `--opt=VALUE` back when `--opt` is an ambiguous abbreviation (`--passw=...` of
    the refused --password) or takes no value: the value may be a secret, so it is left out."""
    message = _AMBIGUOUS_VALUE.sub(r"\1=(value not shown)", message)
    return _IGNORED_VALUE.sub("takes no value (value not shown)", message)


def _common_options() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--output", choices=OUTPUT_FORMATS, default=argparse.SUPPRESS,
                        help="table (default) for people, json for scripts")
    return common


def _store_options() -> argparse.ArgumentParser:
    options = _Parser(add_help=False)
    options.add_argument("--store", metavar="PATH", default=argparse.SUPPRESS,
                         help="the SQLite store (default: $IAMGUARD_STORE or ./iamguard.db)")
    options.add_argument("--tenant", metavar="ID", default=argparse.SUPPRESS,
                         help="the tenant (default: $IAMGUARD_TENANT, or the store's only tenant)")
    audit_log.add_option(options)
    return options


# A string: argparse's subparsers action is generic only to type checkers.
Registrar: TypeAlias = ("Callable[[argparse._SubParsersAction[Any], argparse.ArgumentParser, "
                        "argparse.ArgumentParser], None]")


def _store_registrars() -> list[Registrar]:
    """Commands backed by the directory and credential store."""
    from iamguard.cli import credential_commands, iam_commands, password_commands, store_commands, sts_commands

    del credential_commands, password_commands  # imported for their side effect: they add commands to the iam group
    return [store_commands.register, iam_commands.register, sts_commands.register]


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    store_options = _store_options()
    parser = _Parser(
        prog=PROG, parents=[common, store_options], epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="AWS IAM-style authorization for Python web apps: manage, simulate and lint.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {iamguard.__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    validate.register(commands, common)
    simulate.register(commands, common, store_options)
    for register in _store_registrars():
        register(commands, common, store_options)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: BinaryIO | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
) -> int:
    """Run the program and return its exit status (the console script passes it to sys.exit).
    `stdin`, `environ` and `clock` replace the process's own, for embedding and tests."""
    context = CliContext(
        InputReader(lambda: stdin if stdin is not None else sys.stdin.buffer),
        os.environ if environ is None else environ,
        clock or SYSTEM_CLOCK,
    )
    try:
        return _run(list(sys.argv[1:] if argv is None else argv), context)
    except SystemExit as exc:  # --help and --version finish through argparse's exit
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except CliError as exc:
        _error(str(exc))
        return exc.exit_code
    except IamGuardError as exc:
        _error(_describe(exc))
        # AccessDenied (an assume-role the trust policy refuses) is a "no" answer, like a denied simulation.
        return EXIT_DENIED if getattr(exc, "code", None) == "AccessDenied" else EXIT_USAGE
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    except Exception as exc:  # the contract is one line and exit status 2, never a traceback
        _error(f"unexpected {type(exc).__name__}: {exc}")
        return EXIT_USAGE


def _run(argv: list[str], context: CliContext) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(getattr(args, "command", None))
    handler: Callable[[argparse.Namespace, CliContext], Any] | None = getattr(args, "handler", None)
    if handler is None:
        help_parser: argparse.ArgumentParser = getattr(args, "group_parser", parser)
        raise UsageError(f"{help_parser.prog}: choose a command (see {help_parser.prog} --help)")
    # Opened (and checked) by the first command step that builds a store client, so an unwritable
    # audit log stops the command before any change; commands without a store (validate, simulate
    # --policy) never open it.
    context.audit_log_path = audit_log.requested_path(args, context.environ)
    try:
        result = handler(args, context)
    except AuditUnavailableError:
        if context.audit_log is None:
            raise
        raise CliError(f"{context.audit_log.describe_failure()}; the change was refused and nothing was "
                       "stored") from None
    text = render(result, getattr(args, "output", "table"))
    try:
        sys.stdout.write(text + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `iamguard ... | head` closed the pipe: not an error worth reporting
        _silence_stdout()
    if context.audit_log is not None and context.audit_log.failures:
        # The command's changes were made (its output, perhaps a secret shown once, is above) but
        # some of its credentials events are not in the audit log: say so and fail.
        _error(f"{context.audit_log.describe_failure()}; {context.audit_log.failures} record(s) of this "
               "command's changes are missing from it")
        return EXIT_USAGE
    return int(result.exit_code)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not complain about the pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # pragma: no cover - no real file descriptor behind stdout
        pass


def _describe(exc: IamGuardError) -> str:
    code = getattr(exc, "code", None)
    return f"{code}: {exc}" if isinstance(code, str) and code and not str(exc).startswith(code) else str(exc)


def _error(message: str) -> None:
    try:
        sys.stderr.write(f"{PROG}: error: {one_line(message)}\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):  # pragma: no cover - nowhere left to report to
        pass
