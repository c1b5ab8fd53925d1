"""Memory used to build an engine, measured as RSS in a fresh child process.

RSS (not tracemalloc) because cedarpy and parts of other engines allocate outside Python's heap;
a fresh process so that one engine's freed memory does not hide another's growth. The child
regenerates the same deterministic workload, resets the kernel's peak-RSS mark, builds the
engine and reports the peak growth over the RSS it had just before building.

Run as `python -m bench.memory ENGINE_KEY SCALE rbac|abac REQUESTS SEED`; prints JSON.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import subprocess
import sys
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
_REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class MemoryJob:
    engine: str
    scale: int
    abac: bool
    requests: int
    seed: int


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Linux: writing 5 to clear_refs resets the peak RSS mark (VmHWM) to the current RSS."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def probe(job: MemoryJob) -> dict[str, float | bool]:
    from bench.engines.registry import ENGINE_BY_KEY
    from bench.workload import generate

    engine = ENGINE_BY_KEY[job.engine]
    workload = generate(job.scale, abac=job.abac, requests=job.requests, seed=job.seed)
    sources = engine.sources(workload)
    engine.cold()
    gc.collect()
    exact = _reset_peak()
    before = _status_kib("VmRSS") if exact else None
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    built = engine.build(sources)
    if exact and before is not None:
        peak = _status_kib("VmHWM") or 0
        growth = peak - before
    else:  # without /proc: growth of the lifetime peak, which underestimates when it was set earlier
        growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - max_before
        exact = False
    del built
    return {"peak_mib": growth / 1024, "exact": exact}


def run_jobs(jobs: Sequence[MemoryJob], *, workers: int = 2) -> dict[MemoryJob, float | None]:
    """Run each job in its own process (two at a time: memory, unlike time, is not disturbed by
    a neighbour). A job that fails yields None, shown as a dash in the table."""
    def one(job: MemoryJob) -> float | None:
        command = [sys.executable, "-m", "bench.memory", job.engine, str(job.scale),
                   "abac" if job.abac else "rbac", str(job.requests), str(job.seed)]
        path = os.pathsep.join(filter(None, [str(_REPO), os.environ.get("PYTHONPATH")]))
        done = subprocess.run(command, capture_output=True, text=True, cwd=_REPO,
                              env={**os.environ, "PYTHONPATH": path}, timeout=600, check=False)
        if done.returncode != 0:
            sys.stderr.write(f"memory probe {' '.join(command[3:])} failed:\n{done.stderr[-2000:]}\n")
            return None
        return float(json.loads(done.stdout.strip().splitlines()[-1])["peak_mib"])

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(zip(jobs, pool.map(one, jobs), strict=True))


def main(argv: Iterable[str]) -> int:
    engine, scale, variant, requests, seed = list(argv)
    if variant not in ("rbac", "abac"):
        raise SystemExit(f"variant must be rbac or abac, not {variant!r}")
    job = MemoryJob(engine, int(scale), variant == "abac", int(requests), int(seed))
    print(json.dumps(probe(job)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
