"""Hand-built VGG11 (cfg A), a ConvNeXt-T-like stem and stages, MobileNetV1 for refinement tests."""

from __future__ import annotations

import rfa_fast
from rfa_fast import GraphBuilder

VGG11_A = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M")
BETTER_VGG11 = (64, "M", 128, "M", 256, "M", 256, "M", 512, 512, 512, 512, "M")


def vgg(cfg: tuple[int | str, ...] = VGG11_A, name: str = "vgg11") -> rfa_fast.Graph:
    """torchvision's VGG from a cfg list, exported at 224 px: the adaptive 7x7 pool is a 1x1/1 AveragePool."""
    b = GraphBuilder(name)
    x, c_in, idx = b.input(), 3, 0
    for v in cfg:
        if v == "M":
            x = b.pool(x, 2, 2, name=f"features.{idx}", op="maxpool")
            idx += 1
        else:
            x = b.conv(x, 3, pad=1, c_in=c_in, c_out=int(v), name=f"features.{idx}")
            c_in, idx = int(v), idx + 2
    x = b.pool(x, 1, 1, name="avgpool", op="avgpool")
    x = b.dense(x, 512 * 7 * 7, 4096, name="classifier.0")
    b.dense(x, 4096, 1000, name="classifier.3")
    return b.build(input_shape=(224, 224))


def convnext_t() -> rfa_fast.Graph:
    """ConvNeXt-T's layout: a 4x4/4 patchify stem, stages of blocks (7x7 depthwise, 1x1 up, 1x1 down,
    residual), 2x2/2 downsampling convs between stages (depths 3, 3, 9, 3; widths 96..768)."""
    b = GraphBuilder("convnext_t")
    x = b.conv(b.input(), 4, 4, c_in=3, c_out=96, name="stem.0")
    widths, depths = (96, 192, 384, 768), (3, 3, 9, 3)
    for s, (c, d) in enumerate(zip(widths, depths)):
        if s:
            x = b.conv(x, 2, 2, c_in=widths[s - 1], c_out=c, name=f"stages.{s}.downsample")
        for k in range(d):
            y = b.conv(x, 7, pad=3, c_in=c, c_out=c, groups=c, name=f"stages.{s}.{k}.dw")
            y = b.conv(y, 1, c_in=c, c_out=4 * c, name=f"stages.{s}.{k}.pw1")
            y = b.conv(y, 1, c_in=4 * c, c_out=c, name=f"stages.{s}.{k}.pw2")
            x = b.add(x, y, name=f"stages.{s}.{k}")
    x = b.global_pool(x, name="avgpool")
    b.dense(x, 768, 1000, name="head")
    return b.build()


def mobilenet_v1() -> rfa_fast.Graph:
    """MobileNetV1: a 3x3/2 stem, 13 depthwise-separable blocks (strides 1,2,1,2,1,2,1,1,1,1,1,2,1)."""
    b = GraphBuilder("mobilenet_v1")
    x = b.conv(b.input(), 3, 2, pad=1, c_in=3, c_out=32, name="stem")
    c_in = 32
    spec = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1),
            (512, 1), (1024, 2), (1024, 1))  # fmt: skip
    for i, (c, s) in enumerate(spec, start=1):
        x = b.conv(x, 3, s, pad=1, c_in=c_in, c_out=c_in, groups=c_in, name=f"block{i}.dw")
        x = b.conv(x, 1, c_in=c_in, c_out=c, name=f"block{i}.pw")
        c_in = c
    x = b.global_pool(x, name="avgpool")
    b.dense(x, 1024, 1000, name="fc")
    return b.build()
