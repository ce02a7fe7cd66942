"""Small helpers every benchmark module uses: labelling rows for bench/report.py,
sizing workloads for CI's quick mode, and locating the shared validation models.

Every benchmark records in ``extra_info``:

- ``impl``: the column label (``rfa_fast``, ``reference``, ``rfa-toolbox``, ...);
- ``items``: how many models/candidates one call processes, so that rows of the
  same group that process different amounts (rfa_fast on a whole batch, a slow
  baseline on a sample of it) are compared per item, never per call;
- ``base``: True on the row the other rows of the group are divided by;
- ``single``: True on the base's single-threaded twin (``threads=1``), the row
  the single-thread ratios of bench/report.py are taken against;
- ``input``: what the timed call starts from (``prepacked`` arrays, or the
  user's ``Graph objects``, ``specs``, ``rows`` of a search space...).

Every timed row checks its answer, on every key of :class:`rfa_fast.ScreenResult`,
against a baseline or the reference (:func:`assert_agrees`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pytest

import rfa_fast

VALIDATION = Path(__file__).resolve().parents[2] / "shared" / "validation"
"""The shared validation folder (ONNX exports with measured receptive fields), next to the repository."""

RESOLUTION = 32
"""The input size of every screen in the suite unless a group says otherwise (CIFAR-sized, where depth is wasted)."""

LABEL = {
    "vgg16": "VGG16",
    "resnet18": "ResNet-18",
    "resnet50": "ResNet-50",
    "resnet101": "ResNet-101",
    "mobilenet_v2": "MobileNetV2",
    "densenet121": "DenseNet-121",
}
"""The zoo models the suite compares, and their names in tables (bench/report.py reads it too)."""


IN_CI = os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}
"""``CI=true`` (.ci/run): a missing dependency (rfa-toolbox, the validation models) fails instead of skipping."""


def missing(reason: str) -> NoReturn:
    """Skip the benchmark saying why, or fail it in CI (a failed install must not go green)."""
    if IN_CI:
        pytest.fail(f"CI=true, and a dependency of this benchmark is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def record(
    benchmark: Any, impl: str, items: int = 1, *, base: bool = False, single: bool = False, **extra: Any
) -> None:
    """Label a benchmark row for bench/report.py (see the module docstring)."""
    benchmark.extra_info.update(impl=impl, items=int(items), base=bool(base), single=bool(single), **extra)


KEYS = rfa_fast.ScreenResult.FIELDS
"""What a screen answers: every key is compared, none left out."""


def as_keys(result: rfa_fast.ScreenResult | Mapping[str, Any]) -> dict[str, np.ndarray]:
    """A ScreenResult, a baseline's dict or a ``reference.run_batch`` dict, under the ScreenResult names."""
    if isinstance(result, rfa_fast.ScreenResult):
        return {k: getattr(result, k) for k in KEYS}
    return {k: np.asarray(result["graph_rf_max" if k == "rf_max" and "graph_rf_max" in result else k]) for k in KEYS}


def assert_same_raw(got: Mapping[str, np.ndarray], want: Mapping[str, np.ndarray], who: str = "") -> None:
    """Every array of one analysis (per node and per graph; ``analyze(...).raw`` against ``reference.run_graph``)."""
    assert sorted(got) == sorted(want), f"{who}: keys differ"
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=f"{who}: {key}")


def assert_agrees(
    got: Any, expected: Any, rows: int | None = None, *, start: int = 0, skip: tuple[str, ...] = (), who: str = ""
) -> None:
    """Every ScreenResult key of ``got``, graphs ``start .. start + rows``, equals ``expected``'s first ``rows``.

    ``rows`` defaults to all of ``expected``; ``skip`` names keys the timed call was told not to compute.
    """
    a, b = as_keys(got), as_keys(expected)
    n = len(b["i_min"]) if rows is None else rows
    for key in KEYS:
        if key not in skip:
            np.testing.assert_array_equal(a[key][start : start + n], b[key][:n], err_msg=f"{who}: {key}")


def quick(benchmark: Any) -> bool:
    """True in CI's quick mode (``--benchmark-disable``): each body runs once, so big workloads shrink.

    The code paths stay the same; only sizes change, so the suite cannot rot
    while CI stays fast.
    """
    return bool(getattr(benchmark, "disabled", False))


def sized(benchmark: Any, full: int, quick_size: int) -> int:
    """``full`` in a real run, ``quick_size`` in quick mode."""
    return quick_size if quick(benchmark) else full


def rounds(benchmark: Any, n: int) -> int:
    """Pedantic rounds: ``n`` in a real run, 1 in quick mode."""
    return 1 if quick(benchmark) else n
