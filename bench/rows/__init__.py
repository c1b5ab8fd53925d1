"""The benchmark's rows, in report order. A new row is one module with a `run(config, log)`
returning a `Section`, added to ROWS."""

from __future__ import annotations

from bench.rows.directory import DirectoryRow
from bench.rows.engine_comparison import EngineComparison
from bench.rows.middleware import MiddlewareOverhead
from bench.suite import Row

ROWS: tuple[Row, ...] = (EngineComparison(), DirectoryRow(), MiddlewareOverhead())
