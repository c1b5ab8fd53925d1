"""Makes each test's outcome visible to its fixtures' teardown (see tests.cli.support.CALL_REPORT)."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from tests.cli.support import CALL_REPORT


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                            pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[CALL_REPORT] = report
    return report
