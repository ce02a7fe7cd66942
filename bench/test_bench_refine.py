"""refine: the beam search over downsampling edits stays interactive.

ResNet-50, EfficientNet-B0 and DenseNet-121 from the weightless validation
exports at 224 px (the aim: under a second each); the graph is loaded once
outside the timing.  No timed assertion: the numbers go to the report.
"""

from __future__ import annotations

from typing import Any

import pytest
from benchlib import VALIDATION, missing

import rfa_fast

MODELS = ("resnet50", "efficientnet_b0", "densenet121")


@pytest.mark.parametrize("name", MODELS)
def test_refine_224(benchmark: Any, name: str) -> None:
    path = VALIDATION / "onnx" / f"{name}.graph.onnx"
    if not path.exists():
        missing(f"{path} is absent")
    g = rfa_fast.load_onnx(str(path))
    benchmark.group = "refine at 224 px"
    sugs = benchmark(rfa_fast.refine, g, 224)
    assert len(sugs) > 0 and sugs[0].params == sugs.params  # a ranked list, parameters kept
