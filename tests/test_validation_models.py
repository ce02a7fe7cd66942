"""Real torchvision exports against receptive fields measured by back-propagation.

``../shared/validation`` (next to the repository) holds weightless ONNX
exports and ``ground_truth.json`` (see its README): per model and stage, the
field size, jump, offset and feature map measured on the PyTorch model with
gradients, no formula involved.  A stage is a PyTorch module; its layers are
the ONNX nodes whose name scope lies inside that module
(``/layer2/layer2.1/conv1/Conv`` belongs to ``layer2.1.conv1``, hence to
``layer2.1`` and ``layer2``).  The stage's field is the largest finite
``rf_max`` among them, and its jump, offset, feature map and
``global_context`` those of that layer (the last one in topological order
on a tie: the stage's output side).
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from deps import VALIDATION, needs_validation
from onnx_scopes import stage_layer

import rfa_fast
from rfa_fast.onnx import OnnxWarning, load_onnx

pytestmark = needs_validation  # tests/deps.py: skipped without ../shared/validation, a failure in CI


def _truth() -> dict[str, Any]:
    if not (VALIDATION / "ground_truth.json").is_file():
        return {}
    return json.loads((VALIDATION / "ground_truth.json").read_text())


TRUTH = _truth()
# Without the corpus, one placeholder case per test instead of none: an empty parameter list would be
# skipped by pytest itself, even with CI=true; a placeholder meets needs_validation, a failure in CI.
ABSENT = "<validation corpus absent>"
MODELS = list(TRUTH) or [ABSENT]
STAGES = [(model, stage["name"]) for model, spec in TRUTH.items() for stage in spec["layers"]] or [(ABSENT, ABSENT)]


_cache: dict[str, tuple[rfa_fast.Graph, rfa_fast.Report, list[OnnxWarning]]] = {}


def loaded(model: str, file: str | None = None) -> tuple[rfa_fast.Graph, rfa_fast.Report, list[Any]]:
    file = file or f"{model}.graph.onnx"
    if file not in _cache:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            g = load_onnx(VALIDATION / "onnx" / file)
        _cache[file] = (g, rfa_fast.analyze(g), [w for w in caught if issubclass(w.category, OnnxWarning)])
    return _cache[file]


@pytest.mark.parametrize("model", MODELS)
def test_model_loads_without_warnings(model: str) -> None:
    graph, report, caught = loaded(model)
    assert not caught, [str(w.message) for w in caught]
    spec = TRUTH[model]
    assert graph.input_shape == tuple(spec["input_shape"][2:])
    assert len(graph.outputs) == 1 and report.summary["aligned"]


@pytest.mark.parametrize(("model", "stage"), STAGES, ids=[f"{m}:{s}" for m, s in STAGES])
def test_stage_matches_measured_field(model: str, stage: str) -> None:
    graph, report, _ = loaded(model)
    truth = next(s for s in TRUTH[model]["layers"] if s["name"] == stage)
    layer = stage_layer(graph, report, stage)
    if "phase_scan" in truth:
        # The field depends on the unit's position (after upsampling): rf_max
        # is the largest over positions.
        scan = truth["phase_scan"]
        assert layer.rf_max == (max(scan["rf_h"]), max(scan["rf_w"]))
    else:
        assert layer.rf_max == (truth["rf_h"], truth["rf_w"])
    if truth.get("regular", True):
        assert layer.jump == (truth["stride_h"], truth["stride_w"])
        start = tuple(c - (r - 1) / 2 for c, r in zip(layer.center, layer.rf_max))
        assert start == (truth["offset_h"], truth["offset_w"])
    else:
        # Output of the segmentation head, upsampled back to the input: one
        # unit per input pixel, and the field shifts in whole coarse steps.
        assert layer.jump == (1.0, 1.0)
    assert layer.global_context == truth["global_context"]
    assert layer.fmap == (truth["fmap_h"], truth["fmap_w"])


def test_embedded_weights_model_loads_like_the_weightless_one() -> None:
    embedded, report, caught = loaded("mobilenet_v2", "mobilenet_v2.onnx")
    weightless, report2, _ = loaded("mobilenet_v2")
    assert not caught
    assert [n.to_spec() for n in embedded.nodes] == [n.to_spec() for n in weightless.nodes]
    assert report.summary == report2.summary
    assert report.summary["params"] > 3_000_000  # convs and the classifier, from weight dims
