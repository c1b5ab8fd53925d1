"""What every command handler receives besides its arguments: input, environment and clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from iamguard.cli.sources import InputReader
from iamguard.clock import SYSTEM_CLOCK, Clock


@dataclass
class CliContext:
    reader: InputReader
    environ: Mapping[str, str]
    clock: Clock = field(default=SYSTEM_CLOCK)
