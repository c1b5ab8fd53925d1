"""Reading documents given on the command line, in the forms the AWS CLI accepts.

`file://path` reads a file, `-` reads standard input (once per command), and text starting with
`{` is the JSON document itself. Plain paths are accepted where a command takes files as
positional arguments (`iamguard validate p.json`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from iamguard.cli.errors import CliError

# Far above any policy the parser accepts (its own limit reports oversized documents with a pointer),
# but bounded, so a mistaken `--policy file:///dev/zero` cannot exhaust memory.
MAX_INPUT_BYTES = 4 * 1024 * 1024
# A tenant export has no such bound (a tenant may hold any number of users, each with 50 tags, and
# policies of 6 KiB in five versions): `import` reads up to this much, so it can load what `export`
# wrote, still without reading /dev/zero until memory runs out.
MAX_EXPORT_BYTES = 256 * 1024 * 1024
FILE_PREFIX = "file://"


@dataclass(frozen=True)
class Document:
    label: str  # what to call it in messages: the path, "<stdin>" or "<inline>"
    content: bytes


class InputReader:
    """Reads documents; standard input can be consumed by at most one argument."""

    def __init__(self, stdin: Callable[[], BinaryIO]) -> None:
        self._stdin = stdin  # fetched only when `-` is used: tests and pipes may have no stdin at all
        self._stdin_used = False

    def read(self, value: str, *, option: str, allow_plain_path: bool = False,
             limit: int = MAX_INPUT_BYTES) -> Document:
        if value == "-":
            return self._read_stdin(option, limit)
        if value.startswith(FILE_PREFIX):
            return _read_file(value[len(FILE_PREFIX):], option, limit)
        if value.lstrip().startswith("{"):
            return Document("<inline>", value.encode("utf-8", "surrogatepass"))
        if allow_plain_path:
            return _read_file(value, option, limit)
        raise CliError(f"{option}: expected file://PATH, - (standard input) or a JSON document, not {value!r}")

    def read_secret(self, what: str, *, exact: bool = False) -> str:
        """A secret from the first line of standard input (never from an argument, which other users
        can read in the process list and shell history). Surrounding blanks are dropped unless `exact`
        (a password may begin or end with a space): then only the line ending is."""
        document = self._read_stdin(what)
        try:  # strict: a replacement character would silently make it a different secret
            text = document.content.decode("utf-8")
        except UnicodeDecodeError:
            raise CliError(f"{what}: standard input is not UTF-8 text") from None
        # Only LF (or CRLF) ends the line: str.splitlines() also splits at U+2028, U+0085, form
        # feed and more, which would silently keep just a prefix of a password that contains one.
        line = text.split("\n", 1)[0]
        line = line[:-1] if line.endswith("\r") else line
        if not line.strip():
            raise CliError(f"{what}: expected it on the first line of standard input")
        return line if exact else line.strip()

    def _read_stdin(self, option: str, limit: int = MAX_INPUT_BYTES) -> Document:
        if self._stdin_used:
            raise CliError(f"{option}: standard input (-) can be read only once per command")
        self._stdin_used = True
        content = self._stdin().read(limit + 1)
        if len(content) > limit:
            raise CliError(f"{option}: standard input is larger than {limit} bytes")
        return Document("<stdin>", content)


def _read_file(path_text: str, option: str, limit: int) -> Document:
    if not path_text:
        raise CliError(f"{option}: file:// needs a path, for example file://policy.json")
    path = Path(path_text).expanduser()
    try:
        with path.open("rb") as handle:
            content = handle.read(limit + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CliError(f"{option}: cannot read {path_text}: {reason}") from None
    if len(content) > limit:
        raise CliError(f"{option}: {path_text} is larger than {limit} bytes")
    return Document(path_text, content)
