"""Real torchvision and timm models through from_torch (marker ``torchvision``, deselected by default).

Run with ``pytest -m torchvision tests/test_torch_models.py`` in an environment
with torch, torchvision and timm (docs/torch.md says how to make one; CI's
torch 2.13.0 has no torchvision that imports beside it).

- every validation model (../shared/validation) captured by from_torch
  analyzes exactly like ``load_onnx`` of its export, layer by layer (kind,
  geometry, rf_min, rf_max, jump, center, fmap, status, global context,
  params, MACs), at its nominal size and at 64 px, and its stages match the
  fields measured by gradients (ground_truth.json);
- timm models: the capture equals the ONNX route on the same instance;
- apply_torch on the validation models: the refined copy re-analyzes as
  promised and runs forward at the training resolution;
- the CLI builds ``torchvision:NAME`` and ``timm:NAME`` without downloading.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import pytest

# Deselected by default, but collected: torchvision and timm are imported where they are used, so that
# selecting the marker without them fails (ImportError) and not selecting it costs nothing.
torch = pytest.importorskip("torch")
from cli_helpers import run  # noqa: E402
from test_torch_capture import _row  # noqa: E402

import rfa_fast  # noqa: E402
from rfa_fast import Kind, analyze  # noqa: E402
from rfa_fast.errors import TorchError  # noqa: E402
from rfa_fast.onnx_edit import torch_module_path  # noqa: E402

pytestmark = pytest.mark.torchvision

VALIDATION = Path(__file__).resolve().parents[2] / "shared" / "validation"
_TRUTH_FILE = VALIDATION / "ground_truth.json"
TRUTH: dict[str, Any] = json.loads(_TRUTH_FILE.read_text()) if _TRUTH_FILE.is_file() else {}
SIZES = {name: spec["input_shape"] for name, spec in TRUTH.items()}


def test_the_validation_corpus_is_there() -> None:
    assert len(TRUTH) == 12, f"{_TRUTH_FILE} is missing or incomplete: the model tests below need it"


class SegmentationOut(torch.nn.Module):
    """fcn_resnet50 as it was exported: the wrapper ``m`` returns the ``out`` map (names ``m.backbone...``)."""

    def __init__(self, m: torch.nn.Module) -> None:
        super().__init__()
        self.m = m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.m(x)["out"]


def build(name: str) -> torch.nn.Module:
    import torchvision

    torch.manual_seed(0)
    if name == "fcn_resnet50":
        m = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=False)
        return SegmentationOut(m).eval()
    extra = {"init_weights": False} if name in ("googlenet", "inception_v3") else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torchvision.models.get_model(name, weights=None, **extra).eval()


_graphs: dict[str, tuple[rfa_fast.Graph, rfa_fast.Graph]] = {}


def graphs(name: str) -> tuple[rfa_fast.Graph, rfa_fast.Graph]:
    """(from_torch of the torchvision model, load_onnx of its validation export)."""
    if name not in _graphs:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the capture of a validation model needs no conservative guess
            g = rfa_fast.from_torch(build(name), tuple(SIZES[name]), name=name)
        _graphs[name] = (g, rfa_fast.load_onnx(VALIDATION / "onnx" / f"{name}.graph.onnx"))
    return _graphs[name]


def fused_concats(g: rfa_fast.Graph) -> set[int]:
    """Concatenations whose only consumer is a concatenation: the exporter writes them as one Concat
    (Inception-v3's InceptionE concatenates its 3x3 pairs, then everything)."""
    consumers: list[list[int]] = [[] for _ in g.nodes]
    for i, n in enumerate(g.nodes):
        for p in n.inputs:
            consumers[p].append(i)
    return {
        i
        for i, n in enumerate(g.nodes)
        if n.op == "cat" and len(consumers[i]) == 1 and g.nodes[consumers[i][0]].op == "cat" and i not in g.outputs
    }


@pytest.mark.parametrize("name", list(TRUTH))
@pytest.mark.parametrize("at", ["nominal", 64])
def test_capture_equals_the_validation_export(name: str, at: Any) -> None:
    g, ref = graphs(name)
    res = tuple(SIZES[name][2:]) if at == "nominal" else at
    a, b = analyze(g, res), analyze(ref, res)
    fused = fused_concats(g)
    kept = [i for i in range(len(g)) if i not in fused]
    assert len(kept) == len(ref)
    for i, j in zip(kept, range(len(ref))):
        assert _row(a.layers[i], g.nodes[i]) == _row(b.layers[j], ref.nodes[j]), (g.nodes[i].name, ref.nodes[j].name)
        path = torch_module_path(ref.nodes[j].name)
        if path is not None:
            assert g.nodes[i].name.partition("#")[0] == path
    sa, sb = dict(a.summary), dict(b.summary)
    borders = sa.pop("border_layers"), sb.pop("border_layers")
    assert sa == sb
    assert [n.partition("#")[0] for n in borders[0]] == [torch_module_path(n) or n for n in borders[1]]
    assert g.input_shape == ref.input_shape and len(g.outputs) == len(ref.outputs) == 1


def _stage_layer(g: rfa_fast.Graph, report: rfa_fast.Report, stage: str) -> rfa_fast.report.Layer:
    """The largest finite rf_max among the layers of module ``stage`` (the last on a tie), as the corpus test does."""
    if stage == "<output>":
        return report.layers[g.outputs[0]]
    inside = []
    for i, node in enumerate(g.nodes):
        path = node.name.partition("#")[0].partition("/")[0].partition(":")[0]
        if (path == stage or path.startswith(stage + ".")) and all(map(math.isfinite, report.layers[i].rf_max)):
            inside.append(i)
    assert inside, stage
    return report.layers[max(inside, key=lambda i: (report.layers[i].rf_max, i))]


STAGES = [(m, s["name"]) for m, spec in TRUTH.items() for s in spec["layers"]]


@pytest.mark.parametrize(("name", "stage"), STAGES, ids=[f"{m}:{s}" for m, s in STAGES])
def test_stage_matches_the_measured_field(name: str, stage: str) -> None:
    g, _ = graphs(name)
    report = analyze(g)
    truth = next(s for s in TRUTH[name]["layers"] if s["name"] == stage)
    layer = _stage_layer(g, report, stage)
    if "phase_scan" in truth:
        assert layer.rf_max == (max(truth["phase_scan"]["rf_h"]), max(truth["phase_scan"]["rf_w"]))
    else:
        assert layer.rf_max == (truth["rf_h"], truth["rf_w"])
    if truth.get("regular", True):
        assert layer.jump == (truth["stride_h"], truth["stride_w"])
        start = tuple(c - (r - 1) / 2 for c, r in zip(layer.center, layer.rf_max))
        assert start == (truth["offset_h"], truth["offset_w"])
    else:
        assert layer.jump == (1.0, 1.0)
    assert layer.global_context == truth["global_context"]
    assert layer.fmap == (truth["fmap_h"], truth["fmap_w"])


TIMM = [
    "resnet50d",
    "convnext_tiny",
    "efficientnet_b0",
    "mobilenetv3_small_100",
    "regnety_002",
    "cspdarknet53",
    "densenet121",
    "repvgg_a0",
    "resnest14d",
    "ghostnet_100",
    "efficientvit_b0",
]


@pytest.mark.parametrize("name", TIMM)
def test_timm_capture_equals_the_onnx_route(name: str) -> None:
    import timm

    torch.manual_seed(0)
    m = timm.create_model(name, pretrained=False).eval()
    size = m.pretrained_cfg["input_size"][-1]
    with warnings.catch_warnings():
        warnings.simplefilter("error", rfa_fast.torch.TorchWarning)
        g = rfa_fast.from_torch(m, (1, 3, size, size), name=name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = rfa_fast.from_torch(m, (1, 3, size, size), name=name, route="onnx")
    for res in (size, 64):
        a, b = analyze(g, res), analyze(ref, res)
        assert len(g) == len(ref)
        for la, na, lb, nb in zip(a.layers, g.nodes, b.layers, ref.nodes):
            assert _row(la, na) == _row(lb, nb), (na.name, nb.name)
            assert na.name.partition("#")[0] == nb.name.partition("#")[0] or na.kind == Kind.INPUT or not na.name
        assert {k: v for k, v in a.summary.items() if k != "border_layers"} == {
            k: v for k, v in b.summary.items() if k != "border_layers"
        }


def test_tf_same_padding_follows_the_resolution() -> None:
    """timm's tf_* models pad at run time to TF's SAME: the capture marks those windows SAME_UPPER."""
    import timm

    m = timm.create_model("tf_efficientnet_b0", pretrained=False).eval()
    g = rfa_fast.from_torch(m, (1, 3, 224, 224))
    same = [n.name for n in g.nodes if n.pad_mode == rfa_fast.PadMode.SAME_UPPER]
    assert "conv_stem" in same and len(same) == 5  # the strided ones; stride-1 convs get static pads from timm
    for res in (97, 240):  # odd sizes change the SAME pads of strided windows
        at = rfa_fast.from_torch(m, (1, 3, res, res))
        a, b = analyze(g, res), analyze(at, res)
        assert [la.to_dict() for la in a.layers] == [lb.to_dict() for lb in b.layers] and a.summary == b.summary


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "vgg16", "densenet121", "efficientnet_b0", "googlenet",
                                  "inception_v3", "alexnet", "shufflenet_v2_x1_0", "mobilenet_v3_small"])  # fmt: skip
@pytest.mark.parametrize("at", ["nominal", 64])
def test_apply_torch_on_validation_models(name: str, at: Any) -> None:
    g, _ = graphs(name)
    model = build(name)
    res = SIZES[name][-1] if at == "nominal" else at
    suggestions = rfa_fast.refine(g, res)
    applied = 0
    for s in suggestions[:24]:  # inception_v3 at 64 px: the first 12 all edit a functional max pool
        if applied == 3:
            break
        try:
            refined = s.apply_torch(model)  # verified: the copy analyzes to the promised numbers
        except TorchError as e:
            assert "functional op" in str(e) and name == "inception_v3", e  # F.max_pool2d inside a block
            continue
        with torch.no_grad():
            out = refined.eval()(torch.zeros(1, 3, res, res))
        assert out.shape == (1, 1000)
        assert sum(p.numel() for p in refined.parameters()) == sum(p.numel() for p in model.parameters())
        applied += 1
    assert applied >= 1


def test_cli_builds_torchvision_and_timm_models(tmp_path: Path) -> None:
    data = json.loads(run("analyze", "torchvision:resnet50", "-r", "224", "--json", cwd=tmp_path).stdout)
    g = rfa_fast.from_torch(build("resnet50"), (1, 3, 224, 224), name="resnet50")
    assert data == json.loads(analyze(g, 224).to_json())
    out = run("analyze", "timm:convnext_tiny", "-r", "64", cwd=tmp_path).stdout
    assert out.startswith("convnext_tiny at 64 px") and "stages.3.blocks.2.conv_dw" in out
    out = run("analyze", "torchvision:inception_v3", cwd=tmp_path).stdout  # the default crop size, 299
    assert out.startswith("inception_v3 at 299 px")
