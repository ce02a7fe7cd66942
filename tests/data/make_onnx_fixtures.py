"""Make the small ONNX fixtures of tests/test_onnx_fixtures.py (needs torch; tests do not).

Two tiny networks exercise what the torchvision validation set does not:
``segnet_tiny`` (dilated conv, GroupNorm, PixelUnshuffle/PixelShuffle,
ConvTranspose with output_padding, an asymmetric F.pad, a channel skip
concatenation, bilinear upsampling by a factor) and ``deeplab_tiny`` (ASPP
with an image-pooling branch upsampled to the feature size, and the final
upsampling to the input size computed from ``Shape`` at run time; exported
once with a static and once with a dynamic input size).

Each is exported with the TorchScript exporter (opset 17) and its weights
stripped (dims kept, bytes dropped as "external data" that does not exist),
and the receptive field of named stages is *measured* the way
../shared/validation measures it: weights set to 1/fan_in, biases 0,
activations and normalizations replaced by identity, max pooling by average
pooling of the same geometry, global-pooling paths detached (recorded as
``global_context``); the gradient of a unit with respect to a large input
gives its field, one unit further gives the jump.  After upsampling the
field depends on the unit's position: the largest over 8 positions is kept.

    python tests/data/make_onnx_fixtures.py   # writes tests/data/*.onnx, onnx_fixtures.json
"""

from __future__ import annotations

import json
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from torch import nn

HERE = Path(__file__).resolve().parent
NOMINAL = 64
MEASURE = 160


class Act(nn.Module):
    """ReLU normally, identity when measuring."""

    measure = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if Act.measure else F.relu(x)


class Norm(nn.Module):
    """GroupNorm normally (global statistics), identity when measuring (the path is cut)."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.gn = nn.GroupNorm(4, c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if Act.measure else self.gn(x)


class SegNetTiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), Act())
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.body = nn.Sequential(nn.Conv2d(8, 16, 3, padding=2, dilation=2), Norm(16), Act())
        self.s2d = nn.Sequential(nn.PixelUnshuffle(2), nn.Conv2d(64, 16, 1))
        self.up1 = nn.ConvTranspose2d(16, 16, 3, 2, 1, output_padding=1)
        self.d2s = nn.Sequential(nn.Conv2d(16, 32, 1), nn.PixelShuffle(2))
        self.padconv = nn.Conv2d(8, 8, 3)
        self.fuse = nn.Conv2d(16, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stem(x)  # /2
        y = self.body(self.pool(s))  # /4
        y = self.s2d(y)  # /8
        y = self.up1(y)  # /4
        y = self.d2s(y)  # /2, 8 channels
        y = self.padconv(F.pad(y, (1, 1, 1, 1)))
        y = self.fuse(torch.cat([y, s], 1))
        return F.interpolate(y, scale_factor=2.0, mode="bilinear", align_corners=False)


class DeepLabTiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, 2, 1), Act(), nn.Conv2d(8, 16, 3, 2, 1), Act(), nn.Conv2d(16, 16, 3, 1, 1), Act()
        )
        self.aspp1 = nn.Conv2d(16, 8, 1)
        self.aspp2 = nn.Conv2d(16, 8, 3, padding=3, dilation=3)
        self.pooling = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 8, 1), Act())
        self.project = nn.Conv2d(24, 8, 1)
        self.head = nn.Conv2d(8, 3, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[-2:]
        f = self.backbone(x)
        p = self.pooling(f)
        if Act.measure:
            p = p.detach()  # the global path, cut and recorded as global_context
        p = F.interpolate(p, size=f.shape[-2:], mode="bilinear", align_corners=False)
        y = self.project(torch.cat([self.aspp1(f), self.aspp2(f), p], 1))
        y = self.head(y)
        return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def _positive(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            fan_in = m.weight[0].numel()
            nn.init.constant_(m.weight, 1.0 / fan_in)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _measure_mode(model: nn.Module) -> nn.Module:
    """Same geometry, linear and positive: the gradient's support is the field."""
    for m in list(model.modules()):
        for cname, child in list(m.named_children()):
            if isinstance(child, nn.MaxPool2d):
                setattr(
                    m, cname, nn.AvgPool2d(child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode)
                )
            if isinstance(child, nn.BatchNorm2d):
                setattr(m, cname, nn.Identity())
    _positive(model)
    return model


def _support(grad: torch.Tensor) -> tuple[tuple[int, int], tuple[int, int]]:
    nz = grad[0].abs().sum(0) > 0
    rows = torch.nonzero(nz.any(1)).flatten()
    cols = torch.nonzero(nz.any(0)).flatten()
    return (int(rows.min()), int(rows.max())), (int(cols.min()), int(cols.max()))


def _field(
    model: nn.Module, module: nn.Module | None, unit: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int]]:
    x = torch.zeros(1, 3, MEASURE, MEASURE, requires_grad=True)
    got: dict[str, torch.Tensor] = {}
    handle = module.register_forward_hook(lambda m, i, o: got.__setitem__("y", o)) if module is not None else None
    out = model(x + 1.0)
    if handle is not None:
        handle.remove()
    y = got.get("y", out)
    y[0, :, unit[0], unit[1]].sum().backward()
    return _support(x.grad)  # type: ignore[arg-type]


def measure(model: nn.Module, stages: dict[str, nn.Module | None]) -> dict[str, dict[str, object]]:
    shapes: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, mod in stages.items():
        if mod is not None:
            hooks.append(mod.register_forward_hook(lambda m, i, o, n=name: shapes.__setitem__(n, tuple(o.shape[-2:]))))
    with torch.no_grad():
        shapes["<output>"] = tuple(model(torch.zeros(1, 3, NOMINAL, NOMINAL)).shape[-2:])
    for h in hooks:
        h.remove()
    big: dict[str, tuple[int, int]] = {}
    hooks = []
    for name, mod in stages.items():
        if mod is not None:
            hooks.append(mod.register_forward_hook(lambda m, i, o, n=name: big.__setitem__(n, tuple(o.shape[-2:]))))
    with torch.no_grad():
        big["<output>"] = tuple(model(torch.zeros(1, 3, MEASURE, MEASURE)).shape[-2:])
    for h in hooks:
        h.remove()
    result: dict[str, dict[str, object]] = {}
    for name, mod in stages.items():
        h0, w0 = big[name][0] // 2, big[name][1] // 2
        sizes, starts = [], []
        for k in range(8):
            (r0, r1), (c0, c1) = _field(model, mod, (h0 + k, w0 + k))
            sizes.append((r1 - r0 + 1, c1 - c0 + 1))
            starts.append((r0, c0))
            assert 0 < r0 and r1 < MEASURE - 1 and 0 < c0 and c1 < MEASURE - 1, f"{name}: field clipped"
        regular = len(set(sizes)) == 1 and len({(b[0] - a[0], b[1] - a[1]) for a, b in zip(starts, starts[1:])}) == 1
        result[name] = {
            "rf_h": max(s[0] for s in sizes),
            "rf_w": max(s[1] for s in sizes),
            "stride_h": starts[1][0] - starts[0][0] if regular else None,
            "stride_w": starts[1][1] - starts[0][1] if regular else None,
            "regular": regular,
            "fmap_h": shapes[name][0],
            "fmap_w": shapes[name][1],
        }
    return result


def strip_weights(path: Path) -> None:
    """Keep dims and dtypes, drop the bytes (external data in a file that does not exist)."""
    m = onnx.load(str(path))
    for t in m.graph.initializer:
        if t.data_type == onnx.TensorProto.FLOAT and len(t.dims) >= 1 and t.raw_data and len(t.raw_data) > 64:
            t.ClearField("raw_data")
            t.data_location = onnx.TensorProto.EXTERNAL
            t.external_data.add(key="location", value=f"{path.stem}.weights.bin")
    onnx.save(m, str(path))


def export(model: nn.Module, name: str, dynamic: bool = False) -> None:
    path = HERE / f"{name}.onnx"
    Act.measure = False
    model.eval()
    kwargs = {}
    if dynamic:
        kwargs["dynamic_axes"] = {"input": {2: "height", 3: "width"}, "output": {2: "height", 3: "width"}}
    torch.onnx.export(
        model,
        (torch.zeros(1, 3, NOMINAL, NOMINAL),),
        str(path),
        input_names=["input"],
        output_names=["output"],
        opset_version=17,
        dynamo=False,
        **kwargs,
    )
    strip_weights(path)


def main() -> None:
    torch.manual_seed(0)
    truth: dict[str, object] = {}
    seg = SegNetTiny()
    export(seg, "segnet_tiny")
    Act.measure = True
    seg_m = _measure_mode(seg)
    truth["segnet_tiny"] = {
        "input_shape": [1, 3, NOMINAL, NOMINAL],
        "global_context": {
            "stem": False,
            "pool": False,
            "body": True,
            "s2d": True,
            "up1": True,
            "d2s": True,
            "padconv": True,
            "fuse": True,
            "<output>": True,
        },
        "stages": measure(
            seg_m,
            {
                "stem": seg_m.stem,
                "pool": seg_m.pool,
                "body": seg_m.body,
                "s2d": seg_m.s2d,
                "up1": seg_m.up1,
                "d2s": seg_m.d2s,
                "padconv": seg_m.padconv,
                "fuse": seg_m.fuse,
                "<output>": None,
            },
        ),
    }
    dl = DeepLabTiny()
    export(dl, "deeplab_tiny")
    export(dl, "deeplab_tiny_dynamic", dynamic=True)
    Act.measure = True
    dl_m = _measure_mode(dl)
    truth["deeplab_tiny"] = {
        "input_shape": [1, 3, NOMINAL, NOMINAL],
        "global_context": {"backbone": False, "aspp2": False, "project": True, "head": True, "<output>": True},
        "stages": measure(
            dl_m,
            {
                "backbone": dl_m.backbone,
                "aspp2": dl_m.aspp2,
                "project": dl_m.project,
                "head": dl_m.head,
                "<output>": None,
            },
        ),
    }
    (HERE / "onnx_fixtures.json").write_text(json.dumps(truth, indent=1) + "\n")
    print(json.dumps(truth, indent=1))


if __name__ == "__main__":
    main()
