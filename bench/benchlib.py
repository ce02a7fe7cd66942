"""Small helpers every benchmark module uses: labelling rows for bench/report.py,
sizing workloads for CI's quick mode, and locating the shared validation models.

Every benchmark records in ``extra_info``:

- ``impl``: the column label (``rfa_fast``, ``reference``, ``rfa-toolbox``, ...);
- ``items``: how many models/candidates one call processes, so that rows of the
  same group that process different amounts (rfa_fast on a whole batch, a slow
  baseline on a sample of it) are compared per item, never per call;
- ``base``: True on the row the other rows of the group are divided by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def record(benchmark: Any, impl: str, items: int = 1, *, base: bool = False, **extra: Any) -> None:
    """Label a benchmark row for bench/report.py (see the module docstring)."""
    benchmark.extra_info.update(impl=impl, items=int(items), base=bool(base), **extra)


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
