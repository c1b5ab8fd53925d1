"""`python -m bench [--quick]`: run every row, print the markdown report, write bench/results.md."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from importlib import metadata
from pathlib import Path

from bench.crosscheck import CrossCheckError
from bench.rows import ROWS
from bench.suite import BenchConfig, RowError, Section

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results.md"


def _parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="fewer requests and shorter budgets (under a minute)")
    parser.add_argument("--scales", help="comma-separated statement counts (default 100,1000,10000)")
    names = ", ".join(row.name for row in ROWS)
    parser.add_argument("--rows", help=f"comma-separated rows to run (default all: {names})")
    parser.add_argument("--seed", type=int, help="workload seed (the default makes runs comparable)")
    parser.add_argument("--no-memory", action="store_true", help="skip the build-memory child processes")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="markdown file to overwrite")
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig.quick_run() if args.quick else BenchConfig.full()
    if args.scales:
        try:
            scales = tuple(int(text.replace("_", "")) for text in args.scales.split(","))
        except ValueError:
            raise SystemExit(f"--scales takes comma-separated integers, not {args.scales!r}") from None
        config = replace(config, scales=scales)
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.no_memory:
        config = replace(config, memory=False)
    return config


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _load() -> str:
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "unknown"


def _header(config: BenchConfig, elapsed_s: float, load: str) -> str:
    kind = "quick run (`python -m bench --quick`)" if config.quick else "full run (`make bench`)"
    return (
        "# iamguard benchmark\n\n"
        f"{kind.capitalize()}, {elapsed_s:.0f} s. Python {platform.python_version()} on {platform.system()} "
        f"{platform.machine()}, {os.cpu_count()} CPUs ({_cpu()}), load average {load} at the start "
        "(other processes on the machine add noise, mostly to p99 and to the slow engines' figures); "
        f"iamguard {_version('iamguard')}, pycasbin {_version('pycasbin')}, cedarpy {_version('cedarpy')}. "
        f"Workload seed {config.seed}."
    )


def _section(section: Section) -> str:
    lines = [f"## {section.title}", section.markdown]
    if section.targets:
        lines += ["### Targets", "\n".join(target.line() for target in section.targets)]
    return "\n\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(sys.argv[1:] if argv is None else argv)
    config = _config(args)
    wanted = set(args.rows.split(",")) if args.rows else {row.name for row in ROWS}
    unknown = wanted - {row.name for row in ROWS}
    if unknown:
        raise SystemExit(f"unknown rows: {', '.join(sorted(unknown))}")
    started = time.perf_counter()
    load = _load()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    sections = []
    for row in ROWS:
        if row.name not in wanted:
            continue
        log(f"row {row.name}")
        try:
            sections.append(row.run(config, log))
        except (CrossCheckError, RowError) as exc:
            print(f"bench aborted: {exc}", file=sys.stderr)
            return 2
    header = _header(config, time.perf_counter() - started, load)
    text = "\n\n".join([header, *map(_section, sections)]) + "\n"
    print(text)
    args.output.write_text(text, encoding="utf-8")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
