"""rfa_fast.from_torch on hand-built modules, with the CPU torch CI installs (no torchvision).

Every module is analyzed through both routes: the capture on the meta device
and ``torch.onnx.export`` + ``load_onnx`` (the fallback, itself checked
against measured fields in tests/test_validation_models.py); they must agree
layer by layer (kind, geometry, fields, jumps, centers, feature maps,
statuses, global context, parameters, MACs) and in the summary, at the
example's size and at a smaller one.  Some modules are also compared with the
graph written by hand with GraphBuilder.  The real torchvision/timm models
are in tests/test_torch_models.py (marker ``torchvision``).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import warnings
from typing import Any

import pytest

if os.environ.get("CI"):
    import torch  # CI installs torch (.ci/run): its absence is a failure there, not a skip
else:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")

import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

import rfa_fast  # noqa: E402
from rfa_fast import GraphBuilder, Kind, analyze  # noqa: E402
from rfa_fast.errors import MissingDependencyError, RfaError, TorchError  # noqa: E402
from rfa_fast.onnx_edit import torch_module_path  # noqa: E402
from rfa_fast.torch import TorchWarning, UnknownFunctionWarning  # noqa: E402

# `python -c` puts its working directory first on sys.path: from the checkout's root it would
# import the source tree (no compiled extension there after `pip install .`), not the package.
OUTSIDE = tempfile.gettempdir()

# -- hand-built modules -------------------------------------------------------------------------


class Block(nn.Module):
    """torchvision's BasicBlock: two 3x3 convs, a strided 1x1 shortcut when the shape changes."""

    def __init__(self, c_in: int, c: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.downsample = (
            nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False), nn.BatchNorm2d(c)) if stride != 1 else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += identity
        return self.relu(out)


class ResNetish(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 7, 2, 3, bias=False)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        self.layer1 = nn.Sequential(Block(16, 16), Block(16, 16))
        self.layer2 = nn.Sequential(Block(16, 32, 2), Block(32, 32))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.conv1(x))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class Dilated(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.Conv2d(8, 8, 3, padding=2, dilation=2),
            nn.Conv2d(8, 8, 3, padding=4, dilation=4),
            nn.Conv2d(8, 8, (3, 5), stride=(1, 2), padding=(1, 2)),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class EncoderDecoder(nn.Module):
    """Strided convs down, a transposed conv and interpolations up, concatenated skips (a small U-Net)."""

    def __init__(self) -> None:
        super().__init__()
        self.enc1 = nn.Conv2d(3, 8, 3, padding=1)
        self.enc2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.enc3 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.up1 = nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1)
        self.up2 = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec = nn.Conv2d(16 + 8 + 8, 8, 3, padding=1)
        self.head = nn.Conv2d(8, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        u = self.up1(e3) + e2
        u = self.up2(u)
        side = F.interpolate(F.avg_pool2d(e1, 2), size=e1.shape[-2:], mode="bilinear", align_corners=False)
        y = self.dec(torch.cat([u, e1, side], dim=1))
        return self.head(y)


class SqueezeExcite(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(c, c // 4, 1)
        self.fc2 = nn.Conv2d(c // 4, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = torch.sigmoid(self.fc2(F.relu(self.fc1(self.avgpool(x)))))
        return x * s


class SENet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, 2, 1)
        self.se = SqueezeExcite(16)
        self.conv = nn.Conv2d(16, 16, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.se(self.stem(x)))


class Grouped(nn.Module):
    """Grouped and depthwise convs, a channel shuffle (view/transpose/view) and a channel split (ShuffleNet)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, 2, 1)
        self.grouped = nn.Conv2d(16, 32, 3, 1, 1, groups=4)
        self.depthwise = nn.Conv2d(16, 16, 5, 2, 2, groups=16)
        self.pointwise = nn.Conv2d(16, 16, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.grouped(self.conv(x))
        n, c, h, w = x.shape
        x = x.view(n, 4, c // 4, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        a, b = x.chunk(2, dim=1)
        return torch.cat([F.max_pool2d(a, 3, 2, 1), self.pointwise(self.depthwise(b))], dim=1)


class Net1d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(2, 8, 7, stride=2, padding=3),
            nn.ReLU(),
            nn.MaxPool1d(3, 2, 1),
            nn.Conv1d(8, 8, 5, padding=4, dilation=2),
        )
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.fc = nn.Linear(8, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


class Net3d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv3d(3, 8, (3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3))
        self.pool = nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        self.conv = nn.Conv3d(8, 8, 3, padding=1)
        self.avg = nn.AvgPool3d(2)
        self.up = nn.ConvTranspose3d(8, 4, 2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.avg(self.conv(self.pool(self.stem(x)))))


class ConvNeXtish(nn.Module):
    """Depthwise 7x7, then LayerNorm and an MLP on a channels-last map (Linear per pixel), a layer scale."""

    def __init__(self, c: int = 16) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, c, 4, 4)
        self.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.ones(c))
        self.head = nn.Linear(c, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.fc2(F.gelu(self.fc1(self.norm(y)))) * self.gamma
        x = x + y.permute(0, 3, 1, 2)
        return self.head(x.mean([-2, -1]))


class Odds(nn.Module):
    """GroupNorm (statistics over the map), reflect padding, F.pad, a max-pool head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, padding_mode="reflect")
        self.gn = nn.GroupNorm(2, 8)
        self.conv2 = nn.Conv2d(8, 8, 3)
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gn(self.conv(x))
        x = self.conv2(F.pad(x, (1, 1, 1, 1)))
        return self.fc(self.pool(x).flatten(1))


class Crops(nn.Module):
    """A 2-D crop by slicing (one layer here, one Slice per axis in the ONNX export), PixelUnshuffle/PixelShuffle."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.unshuffle = nn.PixelUnshuffle(2)
        self.shuffle = nn.PixelShuffle(2)
        self.conv2 = nn.Conv2d(8, 8, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)[:, :, 1:-1, 2::2]
        return self.conv2(self.shuffle(self.unshuffle(x)))


class VGGish(nn.Module):
    """A flatten head behind an adaptive pool (torchvision's VGG: 7x7 at 224 px, frozen to a window)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1)
        )
        self.avgpool = nn.AdaptiveAvgPool2d((4, 4))
        self.classifier = nn.Sequential(nn.Linear(8 * 16, 16), nn.ReLU(), nn.Dropout(), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


MODULES = {
    "resnetish": (ResNetish, (1, 3, 64, 64), 32),
    "dilated": (Dilated, (1, 3, 40, 48), 16),
    "encoder_decoder": (EncoderDecoder, (1, 3, 32, 32), 16),
    "se": (SENet, (1, 3, 32, 32), 8),
    "grouped": (Grouped, (1, 3, 32, 32), 16),
    "net1d": (Net1d, (1, 2, 128), 32),
    "net3d": (Net3d, (1, 3, 8, 32, 32), 16),
    "convnextish": (ConvNeXtish, (1, 3, 64, 64), 32),
    "odds": (Odds, (1, 3, 34, 34), 18),
    "vggish": (VGGish, (1, 3, 32, 32), 20),
}

# -- comparing two graphs ---------------------------------------------------------------------------


def _row(layer: rfa_fast.report.Layer, node: rfa_fast.Node) -> tuple:
    def nan_safe(v: tuple) -> tuple:
        return tuple("nan" if isinstance(x, float) and math.isnan(x) else x for x in v)

    return (
        layer.kind,
        layer.kernel,
        layer.stride,
        layer.dilation,
        node.pad_begin,
        node.pad_end,
        node.ceil_mode,
        nan_safe(layer.rf_min),
        nan_safe(layer.rf_max),
        nan_safe(layer.jump),
        nan_safe(layer.center),
        layer.fmap,
        layer.status,
        layer.global_context,
        layer.params,
        layer.macs,
    )


def assert_same_analysis(
    g: rfa_fast.Graph, ref: rfa_fast.Graph, resolution: int | tuple[int, ...], *, names: bool = True
) -> None:
    """Layer by layer and in the summary; names too (``names``) where the reference names a module path."""
    a, b = analyze(g, resolution), analyze(ref, resolution)
    assert len(g) == len(ref), ([n.name for n in g.nodes], [n.name for n in ref.nodes])
    for la, na, lb, nb in zip(a.layers, g.nodes, b.layers, ref.nodes):
        assert _row(la, na) == _row(lb, nb), (na.name, nb.name)
        onnx_name = nb.attrs.get("onnx_name", "")
        if names and onnx_name and torch_module_path(onnx_name.partition("#")[0]):
            assert na.name.partition("#")[0] == nb.name.partition("#")[0]
    sa, sb = dict(a.summary), dict(b.summary)
    sa.pop("border_layers"), sb.pop("border_layers")
    assert sa == sb
    if names:
        assert [n.partition("#")[0] for n in a.summary["border_layers"]] == [
            n.partition("#")[0] for n in b.summary["border_layers"]
        ]
    assert g.outputs == ref.outputs


def capture_and_export(name: str) -> tuple[nn.Module, rfa_fast.Graph, rfa_fast.Graph, tuple[int, ...], int]:
    cls, shape, small = MODULES[name]
    torch.manual_seed(0)
    m = cls()
    with warnings.catch_warnings():
        warnings.simplefilter("error", TorchWarning)  # no hand-built module needs a conservative guess
        g = rfa_fast.from_torch(m, shape, name=name, route="capture")
    ref = rfa_fast.from_torch(m, shape, name=name, route="onnx")
    return m, g, ref, shape, small


@pytest.mark.parametrize("name", list(MODULES))
def test_capture_equals_the_onnx_route(name: str) -> None:
    m, g, ref, shape, small = capture_and_export(name)
    assert g.nodes[0].attrs["route"] == "capture" and ref.nodes[0].attrs["route"] == "onnx"
    assert g.input_shape == shape[2:] and g.dims == len(shape) - 2
    assert_same_analysis(g, ref, shape[2:])
    assert_same_analysis(g, ref, small)


class Functional(nn.Module):
    """Two convolutions around one functional op (``op(self, y)``)."""

    def __init__(self, op: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 4, 3, padding=1)
        self.op = op

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(self, self.conv(x))


def _setitem(m: nn.Module, y: torch.Tensor) -> torch.Tensor:
    z = y.clone()
    z[:, :2] = m.conv2(y)[:, :2]
    return z


FUNCTIONAL = {
    "stack_mean": lambda m, y: torch.stack([y, m.conv2(y)], 1).mean(1),
    "squeeze_unsqueeze": lambda m, y: m.conv2(y.unsqueeze(1).squeeze(1)),
    "split_height": lambda m, y: torch.cat(y.split(8, dim=2), dim=1),
    "chunk_width": lambda m, y: sum(m.conv2(t) for t in y.chunk(2, dim=3)),
    "narrow": lambda m, y: m.conv2(y.narrow(2, 2, 10)),
    "sum_channels": lambda m, y: m.conv2(y.sum(1, keepdim=True).expand_as(y)),
    "softmax_channels": lambda m, y: m.conv2(F.softmax(y, dim=1)),
    "instance_norm": lambda m, y: m.conv2(F.instance_norm(y)),
    "same_dilated": lambda m, y: F.conv2d(y, m.conv2.weight, padding="same", dilation=2),
    "conv_on_global": lambda m, y: y * torch.sigmoid(m.conv2(F.adaptive_avg_pool2d(y, 1))),
    "max_elementwise": lambda m, y: torch.max(y, m.conv2(y)),
    "amax_hw": lambda m, y: y.amax((2, 3)),
    "maxpool_indices": lambda m, y: F.max_pool2d(y, 2, return_indices=True)[0],
    "avgpool_ceil": lambda m, y: F.avg_pool2d(y, 3, 2, 1, ceil_mode=True),
    "dilated_maxpool": lambda m, y: F.max_pool2d(y, 3, 1, 1, dilation=2),
    "lp_pool": lambda m, y: F.lp_pool2d(y, 2, 3, 2),
    "bicubic": lambda m, y: F.interpolate(y, scale_factor=2, mode="bicubic"),
    "nearest_to_size": lambda m, y: F.interpolate(y, size=(20, 24), mode="nearest"),
    "tokens_linear": lambda m, y: F.linear(y.flatten(2).transpose(1, 2), torch.ones(5, 4)),
    "where": lambda m, y: torch.where(y > 0, y, m.conv2(y)),
    "setitem": _setitem,
}


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_functional_ops_equal_the_onnx_route(name: str) -> None:
    m = Functional(FUNCTIONAL[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TorchWarning)
        g = rfa_fast.from_torch(m, (1, 3, 16, 16), route="capture")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the ONNX loader does not know ScatterND (x[idx] = y): identity
        ref = rfa_fast.from_torch(m, (1, 3, 16, 16), route="onnx")
    for res in (16, 11):
        # root-level ops are named after the op in each vocabulary; a module called twice is conv2#1 here,
        # conv2_1 in the export
        assert_same_analysis(g, ref, res, names=False)


def test_a_window_over_swapped_axes_swaps_its_geometry() -> None:
    class Swapped(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 4, (3, 5), stride=(1, 2), padding=(1, 2))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x.transpose(2, 3)).transpose(2, 3)  # W, H: the kernel's 3 runs along W

    g = rfa_fast.from_torch(Swapped(), (1, 3, 20, 16))
    conv = g.nodes[1]
    assert (conv.kernel, conv.stride, conv.pad_begin) == ((5, 3), (2, 1), (2, 1))  # per (H, W)
    with torch.no_grad():
        out = Swapped()(torch.zeros(1, 3, 20, 16))
    assert analyze(g).layers[1].fmap == tuple(out.shape[2:]) == (10, 16)


def test_resnetish_is_the_graph_written_by_hand() -> None:
    g = rfa_fast.from_torch(ResNetish(), (1, 3, 64, 64))
    b = GraphBuilder("resnetish")
    x = b.conv(b.input("x"), 7, 2, pad=3, c_in=3, c_out=16, name="conv1")
    x = b.pool(x, 3, 2, pad=1, name="maxpool", op="maxpool")
    for layer, (c_in, c, s) in (("layer1", (16, 16, 1)), ("layer2", (16, 32, 2))):
        for i in range(2):
            p = f"{layer}.{i}"
            short = b.conv(x, 1, s, c_in=c_in, c_out=c, name=f"{p}.downsample.0") if i == 0 and s > 1 else x
            y = b.conv(x, 3, s if i == 0 else 1, pad=1, c_in=c_in if i == 0 else c, c_out=c, name=f"{p}.conv1")
            y = b.conv(y, 3, pad=1, c_in=c, c_out=c, name=f"{p}.conv2")
            x = b.add(y, short, name=p)
    x = b.merge(x, name="avgpool", op="adaptive_avgpool")
    hand = b.build(input_shape=(64, 64))
    hand.nodes[-1] = rfa_fast.Node("avgpool", "adaptive_avgpool", Kind.GLOBAL, (hand.nodes[-1].inputs[0],),
                                   kernel=(1, 1), stride=(1, 1), dilation=(1, 1), pad_begin=(0, 0), pad_end=(0, 0))  # fmt: skip
    nodes = list(hand.nodes) + [
        rfa_fast.Node("fc", "linear", Kind.GLOBAL, (len(hand.nodes) - 1,), weighted=True, c_in=32, c_out=10)
    ]
    hand = rfa_fast.Graph(nodes, name="resnetish", input_shape=(64, 64))
    assert [(n.name, n.op, n.kind, n.inputs) for n in g.nodes] == [(n.name, n.op, n.kind, n.inputs) for n in hand.nodes]
    for res in (64, 24):
        assert analyze(g, res).to_dict()["layers"] == analyze(hand, res).to_dict()["layers"]


def test_names_are_module_paths_and_functional_ops_their_callers() -> None:
    g = rfa_fast.from_torch(EncoderDecoder(), (1, 3, 32, 32))
    names = [(n.name, n.op) for n in g.nodes]
    assert names[:4] == [("x", "input"), ("enc1", "conv"), ("enc2", "conv"), ("enc3", "conv")]
    # functional ops of the root module: named after the op, '#k' for the k-th repeat
    assert ("up1", "conv_transpose") in names and ("add", "add") in names and ("up2", "interpolate") in names
    assert ("avgpool", "avgpool") in names and ("interpolate", "interpolate") in names and ("cat", "cat") in names
    g = rfa_fast.from_torch(SENet(), (1, 3, 32, 32))
    assert [n.name for n in g.nodes] == ["x", "stem", "se.avgpool", "se.fc1", "se.fc2", "se", "conv"]


def test_squeeze_excitation_sets_global_context() -> None:
    g = rfa_fast.from_torch(SENet(), (1, 3, 32, 32))
    rep = analyze(g, 32)
    by = {la.name: la for la in rep.layers}
    assert by["se.avgpool"].kind == "global" and by["se.fc1"].rf_max == (math.inf, math.inf)
    assert by["se"].kind == "merge" and by["se"].global_context and by["se"].rf_max == (3.0, 3.0)
    assert by["conv"].global_context and not by["stem"].global_context
    assert by["conv"].rf_max == (7.0, 7.0)


def test_transposed_and_upsampling_geometry() -> None:
    g = rfa_fast.from_torch(EncoderDecoder(), (1, 3, 32, 32))
    up1 = g.nodes[g.index("up1")]
    assert up1.kind == Kind.TRANSPOSED and up1.kernel == (3, 3) and up1.stride == (2, 2)
    assert up1.pad_begin == (1, 1) and up1.pad_end == (0, 0)  # output_padding 1 folded into pad_end
    up2 = g.nodes[g.index("up2")]
    assert up2.kind == Kind.RESIZE and up2.scale == (2.0, 2.0) and up2.mode == rfa_fast.ResizeMode.NEAREST
    side = g.nodes[g.index("interpolate")]
    assert side.scale == (2.0, 2.0) and side.mode == rfa_fast.ResizeMode.LINEAR
    assert analyze(g, 32).layers[-1].fmap == (32, 32)


def test_grouped_layers_count_their_parameters() -> None:
    g = rfa_fast.from_torch(Grouped(), (1, 3, 32, 32))
    by = {n.name: n for n in g.nodes}
    assert (by["grouped"].groups, by["grouped"].c_in, by["grouped"].c_out) == (4, 16, 32)
    assert (by["depthwise"].groups, by["depthwise"].c_in) == (16, 16)
    rep = analyze(g, 32)
    params = {la.name: la.params for la in rep.layers}
    m = Grouped()
    assert params["grouped"] == m.grouped.weight.numel() and params["depthwise"] == m.depthwise.weight.numel()
    # the channel shuffle keeps the map (no global node), the split halves pass through
    assert all(n.kind != Kind.GLOBAL for n in g.nodes)


def test_one_and_three_spatial_axes() -> None:
    g1 = rfa_fast.from_torch(Net1d(), (1, 2, 128))
    assert g1.dims == 1 and g1.input_shape == (128,)
    assert analyze(g1).summary["rf_max"] == [7 + 2 * 2 + 4 * 8.0]
    g3 = rfa_fast.from_torch(Net3d(), torch.zeros(1, 3, 8, 32, 32))
    assert g3.dims == 3 and g3.nodes[1].kernel == (3, 7, 7) and g3.nodes[1].stride == (1, 2, 2)
    assert g3.nodes[-1].kind == Kind.TRANSPOSED
    assert analyze(g3).layers[-1].fmap == (8, 8, 8)  # (8, 32, 32) -> stem, pool (8, 8, 8) -> avg (4, 4, 4) -> up


def test_channels_last_linear_is_per_pixel_and_layernorm_over_channels_passes() -> None:
    g = rfa_fast.from_torch(ConvNeXtish(), (1, 3, 64, 64))
    by = {n.name: n for n in g.nodes}
    assert by["fc1"].kind == Kind.WINDOW and by["fc1"].kernel == (1, 1) and by["fc1"].c_out == 64
    assert "norm" not in by  # LayerNorm over channels only: a pass-through
    assert by["mean"].kind == Kind.GLOBAL and by["head"].kind == Kind.GLOBAL
    rep = analyze(g, 64)
    assert not any(la.global_context for la in rep.layers)


def test_adaptive_pool_is_frozen_at_the_example_size() -> None:
    g = rfa_fast.from_torch(VGGish(), (1, 3, 32, 32))
    pool = g.nodes[g.index("avgpool")]
    assert (pool.kind, pool.op, pool.kernel, pool.stride) == (Kind.WINDOW, "adaptive_avgpool", (4, 4), (4, 4))
    flat = g.nodes[g.index("flatten")]
    assert flat.kind == Kind.GLOBAL and g.nodes[g.index("classifier.0")].c_in == 128


def test_group_norm_and_pads() -> None:
    g = rfa_fast.from_torch(Odds(), (1, 3, 34, 34))
    by = {n.name: n for n in g.nodes}
    assert by["conv"].pad_begin == (1, 1)  # padding_mode="reflect": F.pad folded into the conv
    assert by["gn/stats"].kind == Kind.GLOBAL and by["gn"].kind == Kind.MERGE
    assert by["conv2"].pad_begin == (1, 1) and by["conv2"].attrs["folded_pad"] == "pad"
    assert by["pool"].kind == Kind.GLOBAL and by["pool"].op == "adaptive_maxpool"
    assert analyze(g).layers[g.index("conv2")].global_context


def test_crops_and_pixel_shuffle_are_one_layer_each() -> None:
    g = rfa_fast.from_torch(Crops(), (1, 3, 34, 35))
    by = {n.name: n for n in g.nodes}
    crop = by["slice"]
    assert (crop.kind, crop.stride, crop.pad_begin, crop.pad_end) == (Kind.WINDOW, (1, 2), (-1, -2), (-1, 0))
    assert by["unshuffle"].kernel == (2, 2) == by["unshuffle"].stride and by["shuffle"].kind == Kind.RESIZE
    ref = rfa_fast.from_torch(Crops(), (1, 3, 34, 35), route="onnx")  # one Slice per axis
    assert len(ref) == len(g) + 1
    for res in ((34, 35), (20, 21)):
        a, b = analyze(g, res), analyze(ref, res)
        assert _row(a.layers[-1], g.nodes[-1]) == _row(b.layers[-1], ref.nodes[-1])
        assert a.layers[g.index("slice")].fmap == b.layers[ref.index("slice#1")].fmap
        assert a.summary == b.summary


# -- what from_torch must not do ------------------------------------------------------------------


def test_weights_are_not_read_and_the_module_is_left_as_it_was() -> None:
    m = ResNetish().train()
    m.layer1.eval()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    ptrs = {k: v.data_ptr() for k, v in m.state_dict().items()}
    hooks = (len(nn.modules.module._global_forward_hooks), len(nn.modules.module._global_forward_pre_hooks))
    g = rfa_fast.from_torch(m, (1, 3, 64, 64))
    assert m.training and not m.layer1.training and m.layer2.training  # training flags restored
    assert all(torch.equal(before[k], v) for k, v in m.state_dict().items())  # BatchNorm statistics too
    assert {k: v.data_ptr() for k, v in m.state_dict().items()} == ptrs
    assert (len(nn.modules.module._global_forward_hooks), len(nn.modules.module._global_forward_pre_hooks)) == hooks
    # a model on the meta device has no weights at all: the capture only needs shapes
    with torch.device("meta"):
        meta = ResNetish()
    g_meta = rfa_fast.from_torch(meta, (1, 3, 64, 64))
    assert [n.to_spec() for n in g_meta.nodes] == [n.to_spec() for n in g.nodes]


def test_import_rfa_fast_does_not_import_torch() -> None:
    code = "import sys, rfa_fast, rfa_fast.torch, rfa_fast.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=OUTSIDE)


def test_missing_torch_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import rfa_fast\n"
        "from rfa_fast.errors import MissingDependencyError\n"
        "try:\n"
        "    rfa_fast.from_torch(object(), (1, 3, 8, 8))\n"
        "except MissingDependencyError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=OUTSIDE).stdout
    assert "from_torch needs torch" in out and "pip install 'rfa_fast[torch]'" in out
    assert issubclass(MissingDependencyError, RfaError)


# -- bad input ------------------------------------------------------------------------------------


class DataDependent(nn.Module):
    """Branches on a value of the input: the capture cannot run it on meta tensors; the export traces one path."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.tail = nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.MaxPool2d(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        if y.abs().sum() >= 0:
            y = self.tail(y)
        return y


class Refuses(DataDependent):
    """Data-dependent, and raises on the export's zero input: neither route can capture it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.abs().sum() == 0:
            raise ValueError("an all-zero image")
        return self.conv(x)


def test_data_dependent_control_flow_takes_the_onnx_route() -> None:
    with pytest.warns(TorchWarning, match=r"stopped in module 'tail'|stopped in the root module"):
        g = rfa_fast.from_torch(DataDependent(), (1, 3, 16, 16))
    assert g.nodes[0].attrs["route"] == "onnx"
    assert [n.name for n in g.nodes] == ["x", "conv", "tail.0", "tail.1"]
    assert analyze(g).summary["rf_max"] == [6.0, 6.0]
    with pytest.raises(TorchError, match="capture on the meta device stopped in the root module") as info:
        rfa_fast.from_torch(DataDependent(), (1, 3, 16, 16), route="capture")
    assert info.value.module_path == ""


def test_a_module_neither_route_can_capture_is_a_typed_error() -> None:
    with pytest.raises(TorchError, match=r"torch.onnx.export failed too: ValueError: an all-zero image"):
        rfa_fast.from_torch(Refuses(), (1, 3, 16, 16))
    with torch.device("meta"):
        meta = DataDependent()
    with pytest.raises(TorchError, match="parameters are on the meta device"):
        rfa_fast.from_torch(meta, (1, 3, 16, 16))


def test_examples_that_do_not_fit_name_the_module() -> None:
    with pytest.raises(TorchError, match=r"shape \(1, 3, 64\) \(1 spatial axes\) but module 'conv1' \(Conv2d\)") as e:
        rfa_fast.from_torch(ResNetish(), (1, 3, 64))
    assert e.value.module_path == "conv1"
    with pytest.raises(TorchError, match=r"has 4 channels but module 'conv1' \(Conv2d\) expects \(N, 3, H, W\)"):
        rfa_fast.from_torch(ResNetish(), (1, 4, 64, 64))
    with pytest.raises(TorchError, match="rank 2"):
        rfa_fast.from_torch(ResNetish(), (1, 3))
    with pytest.raises(TorchError, match="every size must be positive"):
        rfa_fast.from_torch(ResNetish(), (1, 3, 0, 64))
    with pytest.raises(TorchError, match="a tensor or a shape tuple"):
        rfa_fast.from_torch(ResNetish(), "224")
    with pytest.raises(TorchError, match="takes a torch.nn.Module"):
        rfa_fast.from_torch(lambda x: x, (1, 3, 8, 8))
    with pytest.raises(TorchError, match="route must be one of"):
        rfa_fast.from_torch(ResNetish(), (1, 3, 8, 8), route="fx")


def test_a_failure_inside_the_model_names_the_module() -> None:
    class Broken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3), nn.Conv2d(4, 8, 3))  # 8 channels into a 4-channel conv

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

    with pytest.raises(TorchError, match=r"stopped in module 'body.1': RuntimeError") as e:
        rfa_fast.from_torch(Broken(), (1, 3, 16, 16), route="capture")
    assert e.value.module_path == "body.1"
    with pytest.raises(TorchError, match=r"module 'body.1'.*torch.onnx.export failed too"):
        rfa_fast.from_torch(Broken(), (1, 3, 16, 16))


def test_lazy_modules_must_be_initialized() -> None:
    m = nn.Sequential(nn.LazyConv2d(8, 3))
    with pytest.raises(TorchError, match=r"module '0' has uninitialized lazy parameters"):
        rfa_fast.from_torch(m, (1, 3, 8, 8))


def test_unknown_functions_are_warned_about_or_refused_in_strict_mode() -> None:
    class Cummax(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cummax(F.conv2d(x, torch.ones(2, 3, 3, 3)), dim=1).values

    with pytest.warns(UnknownFunctionWarning, match="cummax"):
        g = rfa_fast.from_torch(Cummax(), (1, 3, 8, 8))
    assert [n.kind for n in g.nodes] == [Kind.INPUT, Kind.WINDOW]  # shape-preserving: an identity
    with pytest.raises(TorchError, match="'cummax' is not in rfa_fast's table"):
        rfa_fast.from_torch(Cummax(), (1, 3, 8, 8), strict=True)


def test_uneven_adaptive_pool_is_global_with_a_warning() -> None:
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(4))
    with pytest.warns(TorchWarning, match=r"pools \[6, 6\] into \[4, 4\]"):
        g = rfa_fast.from_torch(m, (1, 3, 8, 8))
    assert g.nodes[-1].kind == Kind.GLOBAL
    with pytest.raises(TorchError, match="uneven windows"):
        rfa_fast.from_torch(m, (1, 3, 8, 8), strict=True)
