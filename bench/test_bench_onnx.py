"""ONNX: rfa_fast's loader + analysis against ``onnx.load`` alone (the floor any
ONNX tool pays), for a weightless graph and a model with its weights embedded.

rfa-toolbox cannot read ONNX (it ingests PyTorch modules through ``jit.trace``
or Keras models), so it has no row here.  The models are the shared validation
exports (``../shared/validation/onnx``); without that folder the group is
skipped with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
import pytest
from benchlib import VALIDATION, assert_same_raw, missing, record, rounds

import rfa_fast
from rfa_fast import reference

MODELS = {
    "resnet50.graph.onnx": ("ResNet-50, weightless graph", 427),
    "mobilenet_v2.onnx": ("MobileNetV2, 14 MB of embedded weights", 491),
}
"""File -> (label, final receptive field measured by gradients in ground_truth.json)."""


def model_path(name: str) -> Path:
    path = VALIDATION / "onnx" / name
    if not path.is_file():
        missing(f"{path} is absent: the ONNX benchmarks need the shared validation models next to the repository")
    return path


@pytest.mark.parametrize("impl", ["onnx.load", "rfa_fast.load_onnx", "rfa_fast.load_onnx + analyze"])
@pytest.mark.parametrize("name", list(MODELS))
def test_onnx(benchmark: Any, name: str, impl: str) -> None:
    """Reading the file is protobuf's parse; the loader walks the graph without reading weight bytes."""
    path = model_path(name)
    label, rf = MODELS[name]
    benchmark.group = f"onnx: {name} ({label}, {path.stat().st_size / 1e6:.2f} MB)"
    record(benchmark, impl, base=impl == "onnx.load", bytes=path.stat().st_size)
    n = rounds(benchmark, 20)
    if impl == "onnx.load":
        model = benchmark.pedantic(onnx.load, (str(path),), {"load_external_data": False}, rounds=n)
        assert len(model.graph.node) > 50
    elif impl == "rfa_fast.load_onnx":
        g = benchmark.pedantic(rfa_fast.load_onnx, (str(path),), rounds=n)
        assert rfa_fast.analyze(g, 224).summary["rf_max"] == [rf, rf]
        assert len(g.nodes) > 50
    else:
        rep = benchmark.pedantic(lambda: rfa_fast.analyze(rfa_fast.load_onnx(str(path))), rounds=n)
        assert rep.summary["rf_max"] == [rf, rf]
        # the whole analysis, per node and per graph, as the reference gives it on the loaded graph
        assert_same_raw(rep.raw, reference.run_graph(rep.graph, [list(rep.resolution)]), name)
        benchmark.extra_info["nodes"] = len(rep.graph.nodes)
