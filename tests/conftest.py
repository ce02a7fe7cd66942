"""pytest hooks of the test suite: the ``requires`` mark of tests/deps.py (skip outside CI, fail in CI)."""

from __future__ import annotations

import pytest
from deps import IN_CI, missing


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "requires(available, reason): needs a dependency; skipped without it, a failure with CI=true"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Outside CI, a test whose dependency is missing is skipped with the reason (reported at the test)."""
    if IN_CI:
        return
    for item in items:
        for mark in item.iter_markers("requires"):
            if not mark.kwargs["available"]:
                item.add_marker(pytest.mark.skip(reason=mark.kwargs["reason"]))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """In CI, the same test fails in its setup, naming what is missing."""
    for mark in item.iter_markers("requires"):
        if not mark.kwargs["available"]:
            missing(mark.kwargs["reason"])
