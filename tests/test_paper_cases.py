"""Hand-checked unproductive sets, borders, I_min and I_max of VGG16 and
ResNet-18 (Richter et al. 2021 discuss both at CIFAR's 32 px).

The same numbers are cross-checked against rfa-toolbox in
bench/test_bench_models.py; docs/semantics.md ("Differences from
rfa-toolbox") lists where and why the two tools differ.
"""

from __future__ import annotations

import pytest
from cli_helpers import model_path, needs_validation

import rfa_fast
from rfa_fast import zoo


def unproductive(report: rfa_fast.Report) -> list[str]:
    return [la.name for la in report.layers if la.status in ("unproductive", "border")]


# VGG16 (features.i as torchvision numbers them; rf / jump / map at 32 px):
#   block1 convs 0, 2: rf 3, 5 (jump 1, map 32); pool 4: rf 6 (jump 2, map 16)
#   block2 convs 5, 7: rf 10, 14; pool 9: rf 16 (jump 4, map 8)
#   block3 convs 10, 12, 14: rf 24, 32, 40; pool 16: rf 44 (jump 8, map 4)
#   block4 convs 17, 19, 21: rf 60, 76, 92; pool 23: rf 100 (jump 16, map 2)
#   block5 convs 24, 26, 28: rf 132, 164, 196; pool 30: rf 212 (jump 32, map 1)
# Rule (a): input field >= I and own field > I. At 32 px the first such layer
# is features.14 (input 32, own 40): the border; everything after it too.
# At 64 px: features.21 (input 76 >= 64, own 92) is the border.
# I_min: the last pool keeps (a) while I <= 196 (its input's field); rule (b)
# ends far earlier (block5's input map is I/16, > 2 once I >= 48): 197.
VGG_AT_32 = ["features.14", "features.16", "features.17", "features.19", "features.21", "features.23",
             "features.24", "features.26", "features.28", "features.30"]  # fmt: skip


@pytest.mark.parametrize(
    "resolution,border,n_unproductive", [(32, "features.14", 10), (64, "features.21", 6), (224, None, 0)]
)
def test_vgg16(resolution: int, border: str | None, n_unproductive: int) -> None:
    r = rfa_fast.analyze(zoo.vgg16(), resolution)
    assert r.summary["border_layers"] == ([border] if border else [])
    assert r.summary["n_unproductive"] == n_unproductive
    if resolution == 32:
        assert unproductive(r) == VGG_AT_32
    assert r.summary["i_min"] == [197.0, 197.0] and r.summary["i_max"] == [212.0, 212.0]


# ResNet-18: the shortcut path keeps rf_min small (conv1 7, maxpool 11, 1x1
# downsamples add nothing): every addition has rf_min 11, so rule (a) never
# holds after one, and rule (b) decides. Maps: conv1, maxpool and each
# stride-2 3x3 (pad 1) halve rounding up, so layer3 sees ceil(I/16), layer4
# ceil(I/32). At 32 px: layer3's map is 2 <= 3 and layer4's 1: every 3x3 from
# layer3.0.conv2 on is unproductive (layer3.0.conv1 reads layer2's 4x4 map),
# the 1x1 downsamples are not (map 2 > 1 at layer3; at layer4 their input is
# layer3's 2x2). Border: layer3.0.conv2 (its only windowed ancestor,
# layer3.0.conv1, is productive). I_min: layer4's 3x3 convs need ceil(I/32) > 3,
# I > 96: 97. I_max: the last conv's field, 435.
RESNET18_AT_32 = ["layer3.0.conv2", "layer3.1.conv1", "layer3.1.conv2", "layer4.0.conv1", "layer4.0.conv2",
                  "layer4.1.conv1", "layer4.1.conv2"]  # fmt: skip


def test_resnet18_at_32() -> None:
    r = rfa_fast.analyze(zoo.resnet18(), 32)
    assert unproductive(r) == RESNET18_AT_32
    assert r.summary["border_layers"] == ["layer3.0.conv2"]
    assert r.summary["i_min"] == [97.0, 97.0] and r.summary["i_max"] == [435.0, 435.0]
    # 41% of the MACs are past the border at 32 px
    assert round(100 * r.macs_unproductive_share) == 41


def test_resnet18_at_64_and_224() -> None:
    # at 64 px layer4 sees 2x2 maps: its four 3x3 convs are unproductive, layer4.0.conv1 reads layer3's 4x4
    r = rfa_fast.analyze(zoo.resnet18(), 64)
    assert unproductive(r) == ["layer4.0.conv2", "layer4.1.conv1", "layer4.1.conv2"]
    assert r.summary["border_layers"] == ["layer4.0.conv2"]
    assert rfa_fast.analyze(zoo.resnet18(), 224).summary["n_unproductive"] == 0


def module_path(onnx_name: str) -> str:
    """``/layer3/layer3.0/conv2/Conv`` -> ``layer3.0.conv2``: a scope part ``p.i`` right after ``p`` names child i."""
    parts = onnx_name.strip("/").split("/")[:-1]
    out: list[str] = []
    for i, part in enumerate(parts):
        if i and part.startswith(parts[i - 1] + "."):
            out.append(part[len(parts[i - 1]) + 1 :])
        else:
            out.append(part)
    return ".".join(out)


@needs_validation
@pytest.mark.parametrize("name,builder", [("vgg16", zoo.vgg16), ("resnet18", zoo.resnet18)])
@pytest.mark.parametrize("resolution", [32, 64, 224])
def test_exported_models_agree_with_the_hand_checked_graphs(name: str, builder, resolution: int) -> None:  # type: ignore[no-untyped-def]
    """The torchvision exports give the same sets (ONNX names carry the module path).

    The VGG16 export has one layer more: the adaptive 7x7 average pool, exported
    as a 1x1 AveragePool whose field is the last pool's (212). Rated, it is
    unproductive up to 211 px by rule (a) and moves I_min from 197 to 212;
    ``ignore_1x1`` skips it (and ResNet-18's 1x1 downsamples, never
    unproductive here), and then both graphs agree.
    """
    exported = rfa_fast.analyze(rfa_fast.load_onnx(model_path(name)), resolution, ignore_1x1=True)
    built = rfa_fast.analyze(builder(), resolution, ignore_1x1=True)
    assert [module_path(n) for n in unproductive(exported)] == unproductive(built)
    for key in ("n_unproductive", "i_min", "i_max", "rf_max"):
        assert exported.summary[key] == built.summary[key], key
    if name == "vgg16" and resolution == 32:
        assert rfa_fast.analyze(rfa_fast.load_onnx(model_path(name)), 32).summary["i_min"] == [212.0, 212.0]
