"""What some tests need beyond the package: a skip with the reason on a workstation, a failure in CI.

A test that needs Graphviz's ``dot``, Chromium, the shared validation models
(``../shared/validation`` next to the checkout), pandas, dask or pytest-benchmark
says so with :func:`requires` (a mark) or :func:`import_or_skip`.  Without
the dependency the test is skipped, saying what is missing; with ``CI=true``
in the environment (``.ci/run`` exports it) it fails instead, so that CI
cannot go green because an install step quietly failed.

>>> requires(True, "always there").name
'requires'
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
"""``CI=true`` (GitHub Actions, GitLab and .ci/run set it): a missing dependency is a failure."""

VALIDATION = Path(__file__).resolve().parents[2] / "shared" / "validation"
"""The shared validation corpus next to the checkout: ONNX exports and ground_truth.json."""


def missing(reason: str) -> NoReturn:
    """Skip (outside CI) or fail (in CI) the running test, or the module being collected."""
    if IN_CI:
        pytest.fail(f"CI=true, and a dependency of this test is missing: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def requires(available: bool, reason: str) -> pytest.MarkDecorator:
    """A mark: the test runs when ``available``, else :func:`missing` (tests/conftest.py reads the mark)."""
    return pytest.mark.requires(available=bool(available), reason=reason)


def import_or_skip(name: str, reason: str) -> ModuleType:
    """Import a module the test needs, or :func:`missing` with the reason and the import error."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        missing(f"{reason} ({type(e).__name__}: {e})")


CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


def chromium(url: str, *flags: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on ``url`` with ``flags`` (e.g. ``--dump-dom``); tests using it carry ``needs_chromium``."""
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--enable-logging=stderr", "--v=0", *flags, url],
        capture_output=True,
        text=True,
        timeout=120,
    )


needs_dot = requires(shutil.which("dot") is not None, "Graphviz's dot is not installed (apt-get install graphviz)")
needs_chromium = requires(CHROMIUM is not None, "Chromium is not installed (apt-get install chromium)")
needs_validation = requires(
    (VALIDATION / "onnx").is_dir() and (VALIDATION / "ground_truth.json").is_file(),
    f"the validation models are not at {VALIDATION} (the shared corpus next to the checkout)",
)
