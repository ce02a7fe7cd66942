"""Well-known architectures built in code, laid out as torchvision lays them out.

Nothing is downloaded: these are graphs (with channel counts, for MACs), the
bundled defaults of the demo, the benchmarks and the tests.  Nodes are named
by the PyTorch module path (``features.28``, ``layer4.1.conv2``), like the
ONNX exports of the same models.  Normalizations and activations are left
out: they do not change receptive fields.

>>> from rfa_fast import analyze, zoo
>>> analyze(zoo.resnet18(), 224).summary["rf_max"]
[435.0, 435.0]
"""

from __future__ import annotations

from .graph import Graph, GraphBuilder

VGG16_CFG: list[int | str] = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


def vgg16() -> Graph:
    """torchvision ``vgg16``: 13 convs 3x3 pad 1, 5 max pools 2x2/2, then three dense layers.

    The adaptive 7x7 average pool is the identity at 224 px and is left out;
    ``flatten + Linear`` is the first GLOBAL node (``classifier.0``).
    """
    b = GraphBuilder("vgg16")
    x = b.input("x")
    c_in = 3
    idx = 0  # torchvision numbers features.i counting the ReLU after each conv
    for v in VGG16_CFG:
        if v == "M":
            x = b.pool(x, 2, 2, name=f"features.{idx}", op="maxpool")
            idx += 1
        else:
            x = b.conv(x, 3, pad=1, c_in=c_in, c_out=int(v), name=f"features.{idx}")
            c_in = int(v)
            idx += 2
    x = b.dense(x, 512 * 7 * 7, 4096, name="classifier.0")
    x = b.dense(x, 4096, 4096, name="classifier.3")
    b.dense(x, 4096, 1000, name="classifier.6")
    return b.build(input_shape=(224, 224))


def _stem(b: GraphBuilder) -> int:
    """ResNet stem: conv 7x7/2 pad 3, max pool 3x3/2 pad 1."""
    x = b.input("x")
    x = b.conv(x, 7, 2, pad=3, c_in=3, c_out=64, name="conv1")
    return b.pool(x, 3, 2, pad=1, name="maxpool", op="maxpool")


def _basic_block(b: GraphBuilder, x: int, c_in: int, c_out: int, stride: int, name: str) -> int:
    """``BasicBlock``: 3x3 (stride) -> 3x3, a 1x1/stride downsample when the shape changes."""
    y = b.conv(x, 3, stride, pad=1, c_in=c_in, c_out=c_out, name=f"{name}.conv1")
    y = b.conv(y, 3, pad=1, c_in=c_out, c_out=c_out, name=f"{name}.conv2")
    if stride != 1 or c_in != c_out:
        x = b.conv(x, 1, stride, c_in=c_in, c_out=c_out, name=f"{name}.downsample.0")
    return b.add(y, x, name=name)


def _bottleneck(b: GraphBuilder, x: int, c_in: int, width: int, stride: int, name: str) -> int:
    """``Bottleneck`` (v1.5): 1x1 -> 3x3 (stride) -> 1x1 (x4), a 1x1/stride downsample."""
    c_out = width * 4
    y = b.conv(x, 1, c_in=c_in, c_out=width, name=f"{name}.conv1")
    y = b.conv(y, 3, stride, pad=1, c_in=width, c_out=width, name=f"{name}.conv2")
    y = b.conv(y, 1, c_in=width, c_out=c_out, name=f"{name}.conv3")
    if stride != 1 or c_in != c_out:
        x = b.conv(x, 1, stride, c_in=c_in, c_out=c_out, name=f"{name}.downsample.0")
    return b.add(y, x, name=name)


def resnet(depth: int = 18) -> Graph:
    """torchvision ``resnet{18,34,50,101,152}``: stem, four stages, global pool, fc."""
    layouts = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
    if depth not in layouts:
        raise ValueError(f"resnet depth must be one of {sorted(layouts)}, got {depth}")
    b = GraphBuilder(f"resnet{depth}")
    x = _stem(b)
    c_in = 64
    for stage, blocks in enumerate(layouts[depth], start=1):
        width = 64 * 2 ** (stage - 1)
        for i in range(blocks):
            stride = 2 if stage > 1 and i == 0 else 1
            name = f"layer{stage}.{i}"
            if depth < 50:
                x = _basic_block(b, x, c_in, width, stride, name)
                c_in = width
            else:
                x = _bottleneck(b, x, c_in, width, stride, name)
                c_in = width * 4
    x = b.global_pool(x, name="avgpool")
    b.dense(x, c_in, 1000, name="fc")
    return b.build(input_shape=(224, 224))


def resnet18() -> Graph:
    """torchvision ``resnet18``."""
    return resnet(18)


def resnet50() -> Graph:
    """torchvision ``resnet50`` (v1.5: stride on the 3x3 conv)."""
    return resnet(50)


def resnet101() -> Graph:
    """torchvision ``resnet101``."""
    return resnet(101)


def mobilenet_v2() -> Graph:
    """torchvision ``mobilenet_v2``: inverted residuals (expand 1x1, depthwise 3x3, project 1x1)."""
    b = GraphBuilder("mobilenet_v2")
    x = b.input("x")
    x = b.conv(x, 3, 2, pad=1, c_in=3, c_out=32, name="features.0")
    c_in = 32
    idx = 1
    for t, c, n, s in (
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ):
        for i in range(n):
            stride = s if i == 0 else 1
            name = f"features.{idx}"
            hidden = c_in * t
            y = x
            if t != 1:
                y = b.conv(y, 1, c_in=c_in, c_out=hidden, name=f"{name}.conv.0")
            y = b.conv(y, 3, stride, pad=1, c_in=hidden, c_out=hidden, groups=hidden, name=f"{name}.conv.dw")
            y = b.conv(y, 1, c_in=hidden, c_out=c, name=f"{name}.conv.project")
            x = b.add(y, x, name=name) if stride == 1 and c_in == c else y
            c_in = c
            idx += 1
    x = b.conv(x, 1, c_in=c_in, c_out=1280, name=f"features.{idx}")
    x = b.global_pool(x, name="avgpool")
    b.dense(x, 1280, 1000, name="classifier.1")
    return b.build(input_shape=(224, 224))


def densenet121() -> Graph:
    """torchvision ``densenet121``: dense blocks (6, 12, 24, 16) of growth 32, transitions 1x1 + 2x2/2 avg pool."""
    b = GraphBuilder("densenet121")
    x = b.input("x")
    x = b.conv(x, 7, 2, pad=3, c_in=3, c_out=64, name="features.conv0")
    x = b.pool(x, 3, 2, pad=1, name="features.pool0", op="maxpool")
    c = 64
    for blk, n_layers in enumerate((6, 12, 24, 16), start=1):
        feats = [x]
        for i in range(1, n_layers + 1):
            name = f"features.denseblock{blk}.denselayer{i}"
            inp = feats[0] if len(feats) == 1 else b.concat(*feats, name=f"{name}.cat")
            c_here = c + 32 * (i - 1)
            y = b.conv(inp, 1, c_in=c_here, c_out=128, name=f"{name}.conv1")
            y = b.conv(y, 3, pad=1, c_in=128, c_out=32, name=f"{name}.conv2")
            feats.append(y)
        x = b.concat(*feats, name=f"features.denseblock{blk}")
        c = c + 32 * n_layers
        if blk < 4:
            x = b.conv(x, 1, c_in=c, c_out=c // 2, name=f"features.transition{blk}.conv")
            x = b.pool(x, 2, 2, name=f"features.transition{blk}.pool", op="avgpool")
            c //= 2
    x = b.global_pool(x, name="avgpool")
    b.dense(x, c, 1000, name="classifier")
    return b.build(input_shape=(224, 224))


MODELS = {
    "vgg16": vgg16,
    "resnet18": resnet18,
    "resnet50": resnet50,
    "resnet101": resnet101,
    "mobilenet_v2": mobilenet_v2,
    "densenet121": densenet121,
}
