"""Errors the command line reports as one line on stderr, with the exit code they map to."""

from __future__ import annotations

EXIT_OK = 0
EXIT_DENIED = 1  # a simulated request was denied, or validation found problems at --fail-on or above
EXIT_USAGE = 2  # bad arguments, unreadable input, refused operation, unexpected failure


class CliError(Exception):
    """A failure to report to the user: the message is shown as is, on one line."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(CliError):
    """The command line itself is wrong (unknown option, missing argument)."""


def one_line(text: str) -> str:
    """Collapse a message to a single printable line: multi-line errors (several policy findings)
    are joined with '; ', and control characters (a terminal escape in a user name) are dropped."""
    parts = [part.strip() for part in str(text).splitlines() if part.strip()]
    joined = "; ".join(parts)
    return "".join(char for char in joined if char.isprintable())
