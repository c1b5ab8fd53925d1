"""Running the command line: as a real process (the installed `iamguard` console script) and in-process
through `main`."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import iamguard
from iamguard.cli import main
from iamguard.clock import Clock, FrozenClock

REPO_ROOT = Path(iamguard.__file__).resolve().parent.parent
# Where conftest.py keeps the report of a test's call phase, for fixtures that check more at teardown
# only when the test itself passed (a failed test needs no second, derived failure).
CALL_REPORT = pytest.StashKey[pytest.TestReport]()
# The entry point pip installs next to this interpreter (`iamguard = iamguard.cli:main`), as users run it.
CONSOLE_SCRIPT = Path(sys.executable).parent / "iamguard"


def console_command() -> list[str]:
    """How to start the program in a subprocess."""
    if CONSOLE_SCRIPT.exists():
        return [str(CONSOLE_SCRIPT)]
    # The package is not installed into this interpreter's environment (tests run from a bare
    # checkout): the module entry point runs the same `main`, though not the installed script.
    return [sys.executable, "-m", "iamguard.cli"]


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_process(*args: str, stdin: str | None = None, env: dict[str, str] | None = None,
                cwd: Path | None = None) -> Outcome:
    """The program as users run it: the console script in a separate process, real stdin/stdout/stderr
    and exit status. PYTHONPATH puts this checkout first, so the code under test is what runs."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("IAMGUARD_")}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    environment.update(env or {})
    completed = subprocess.run(
        [*console_command(), *args], input=stdin, capture_output=True, text=True,
        env=environment, cwd=cwd, timeout=60, check=False,
    )
    return Outcome(completed.returncode, completed.stdout, completed.stderr)


def run_main(capsys: pytest.CaptureFixture[str], *args: str, stdin: str | None = None,
             env: dict[str, str] | None = None, clock: Clock | None = None) -> Outcome:
    """The same program in this process (fast): `main(argv)` with captured output."""
    capsys.readouterr()
    code = main(list(args), stdin=io.BytesIO(stdin.encode()) if stdin is not None else None, environ=env or {},
                clock=clock)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def write_json(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return f"file://{path}"


# ---- an initialised store driven in-process: the red-team files share it ------------------------

TENANT = "123456789012"
RAW_KEY = bytes(range(32))
KEY = base64.b64encode(RAW_KEY).decode()  # IAMGUARD_DATA_KEY and IAMGUARD_PEPPER of every store here


class Cli:
    """`iamguard` run in-process against one store, with fixed keys and a frozen clock."""

    def __init__(self, capsys: pytest.CaptureFixture[str], store: Path) -> None:
        self.capsys = capsys
        self.store = store
        self.env = {"IAMGUARD_STORE": str(store), "IAMGUARD_DATA_KEY": KEY, "IAMGUARD_PEPPER": KEY}

    def __call__(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        return run_main(self.capsys, *args, stdin=stdin, env={**self.env, **(env or {})}, clock=FrozenClock())

    def ok(self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> Outcome:
        outcome = self(*args, stdin=stdin, env=env)
        assert outcome.code == 0, outcome.err
        return outcome


def initialised_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Cli:
    tool = Cli(capsys, tmp_path / "iamguard.db")
    tool.ok("init", "--tenant-id", TENANT)
    return tool


def one_error_line(outcome: Outcome) -> str:
    """The refusal of a usage or input error: exit 2, nothing on stdout, one line on stderr."""
    assert outcome.code == 2 and outcome.out == "", outcome
    assert outcome.err.startswith("iamguard: error: ") and outcome.err.count("\n") == 1, outcome.err
    assert "unexpected" not in outcome.err and "Traceback" not in outcome.err
    return outcome.err
