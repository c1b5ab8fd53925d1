"""A small declarative layer for store-backed commands: options, a handler, and registration into a
command group (`iamguard iam ...`, `iamguard sts ...`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from iamguard.cli.context import CliContext
from iamguard.cli.errors import UsageError
from iamguard.cli.output import Result, fields, table
from iamguard.cli.shapes import shape
from iamguard.cli.store_access import StoreSession, open_session


def count(text: str) -> int:
    """A whole number of at least 1 (argparse turns the error into a usage error naming the option)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


class _Refused(argparse.Action):
    """An option people type out of habit but must not use (a password as an argument is visible
    to other users in the process list): refused with its help as the reason, never echoing the value."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        raise UsageError(f"{parser.prog}: {option_string} is not accepted: {self.help}")


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    required: bool = True
    # text | int | count (int >= 1) | flag | toggle (--x / --no-x, None when neither) | list | refused
    kind: str = "text"
    choices: tuple[str, ...] | None = None
    default: Any = None

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.kind == "flag":
            parser.add_argument(self.flag, action="store_true", help=self.help)
            return
        if self.kind == "toggle":
            parser.add_argument(self.flag, action=argparse.BooleanOptionalAction, default=None, help=self.help)
            return
        if self.kind == "refused":
            parser.add_argument(self.flag, nargs="?", action=_Refused, metavar="(refused)", help=self.help)
            return
        options: dict[str, Any] = {"help": self.help, "required": self.required}
        if self.kind in ("int", "count"):
            options["type"] = int if self.kind == "int" else count
        if self.kind == "list":
            options["nargs"] = "+"
        if self.choices:
            options["choices"] = self.choices
        if not self.required:
            options["default"] = self.default
        metavar = self.flag.lstrip("-").upper().replace("-", "_")
        parser.add_argument(self.flag, metavar=metavar, **options)


Handler = Callable[[StoreSession, argparse.Namespace], Result]


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    options: tuple[Option, ...]
    handler: Handler


class CommandGroup:
    """Commands registered with a decorator, then added to argparse under one group name."""

    def __init__(self, name: str, help: str) -> None:
        self.name = name
        self.help = help
        self.commands: list[Command] = []

    def command(self, name: str, help: str, *options: Option) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.add(Command(name, help, options, handler))
            return handler

        return register

    def add(self, command: Command) -> None:
        if any(existing.name == command.name for existing in self.commands):
            raise ValueError(f"command {self.name} {command.name} registered twice")
        self.commands.append(command)

    def register(self, commands: argparse._SubParsersAction[Any], common: argparse.ArgumentParser,
                 store_options: argparse.ArgumentParser) -> None:
        group = commands.add_parser(self.name, help=self.help, description=self.help)
        group.set_defaults(group_parser=group)
        subcommands = group.add_subparsers(title=f"{self.name} commands", metavar="COMMAND")
        for command in sorted(self.commands, key=lambda item: item.name):
            parser = subcommands.add_parser(command.name, parents=[common, store_options], help=command.help,
                                            description=command.help)
            for option in command.options:
                option.add_to(parser)
            parser.set_defaults(handler=_bound(command.handler))


def _bound(handler: Handler) -> Callable[[argparse.Namespace, CliContext], Result]:
    def run(args: argparse.Namespace, ctx: CliContext) -> Result:
        session = open_session(args, ctx)
        try:
            return handler(session, args)
        finally:
            session.close()

    return run


# Result builders shared by the command groups.

def record(name: str, value: Any) -> Result:
    shaped = shape(value)
    return Result({name: shaped}, fields(shaped) if isinstance(shaped, dict) else str(shaped))


def listing(name: str, items: Sequence[Any], columns: Sequence[str]) -> Result:
    shaped = [shape(item) for item in items]
    return Result({name: shaped}, table(shaped, columns))


def done(message: str, data: dict[str, Any] | None = None) -> Result:
    return Result(data or {}, message)
