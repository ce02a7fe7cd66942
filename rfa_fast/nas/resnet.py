"""A ResNet space: depth per stage and where each stage downsamples, as a :class:`~rfa_fast.Space`.

The edits :func:`rfa_fast.refine` tries one model at a time (the stem's
stride, the stem's max pool, which block of a stage carries its stride 2, or
none), and the depth of each stage, over a torchvision-style ResNet of basic
or bottleneck blocks. Every candidate is a well-formed network: the block that
carries a stage's stride has a projection shortcut with the same stride, as
has every block whose channels change.

>>> import rfa_fast
>>> space = resnet_space()
>>> [c.name for c in space.choices]
['stem_stride', 'stem_pool', 'depth1', 'down1', 'depth2', 'down2', 'depth3', 'down3', 'depth4', 'down4']
>>> r18 = space.encode(RESNET18)
>>> rfa_fast.screen([space.graph(r18)], 224).rf_max[0].tolist()
[435.0, 435.0]
>>> keep = space.encode({**RESNET18, "down4": "none"})  # layer4 keeps the resolution
>>> r = space.screen([r18, keep], 64)
>>> r.i_min.tolist(), r.n_unproductive[:, 0].tolist(), r.params.tolist()
([97.0, 49.0], [3, 0], [11678912, 11678912])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import SpecError
from ..space import Choice, Space, combine
from ..space.values import Derived, Value

NONE = "none"
"""The option of ``stem_pool`` and ``down{s}`` that means no max pool, no downsampling in the stage."""

RESNET18: dict[str, Any] = {
    "stem_stride": 2,
    "stem_pool": 2,
    "depth1": 2,
    "down1": NONE,
    "depth2": 2,
    "down2": 0,
    "depth3": 2,
    "down3": 0,
    "depth4": 2,
    "down4": 0,
}
"""torchvision's ResNet-18 in :func:`resnet_space` (basic blocks); ResNet-50 is :data:`RESNET34` with bottlenecks."""

RESNET34: dict[str, Any] = {**RESNET18, "depth1": 3, "depth2": 4, "depth3": 6, "depth4": 3}
"""torchvision's ResNet-34 (basic blocks) and ResNet-50 (bottleneck blocks) in :func:`resnet_space`."""

_DEPTHS = ((1, 2, 3), (1, 2, 3, 4), (1, 2, 3, 4, 5, 6), (1, 2, 3))


def resnet_space(
    block: str = "basic",
    depths: Sequence[int | Sequence[int]] = _DEPTHS,
    *,
    widths: Sequence[int] = (64, 128, 256, 512),
    stem_channels: int = 64,
    num_classes: int = 1000,
) -> Space:
    """A ResNet whose stage depths and downsampling are choices.

    The network (torchvision's layout and node names, ``rfa_fast.zoo.resnet``):
    stem ``conv1`` 7x7 pad 3, ``maxpool`` 3x3 pad 1, stages ``layer1`` ..
    ``layer{S}`` of blocks, global average pool ``avgpool``, ``fc``. A basic
    block is 3x3 -> 3x3, a bottleneck 1x1 -> 3x3 -> 1x1 (x4 channels, the
    stride on the 3x3 as in torchvision's v1.5); a block's shortcut is a 1x1
    projection ``downsample.0`` (with the block's stride) where the block
    carries the stride or its channels change, else the identity. Moving a
    stage's stride off its first block thus adds a projection to the block
    that takes it (the parameter count changes, unlike :func:`rfa_fast.refine`,
    whose edits keep the network's shortcuts and parameters).

    Columns, in this order:

    - ``stem_stride``: the stem conv's stride, 1 or 2;
    - ``stem_pool``: the max pool's stride, 1 or 2, or ``"none"`` (no pool);
    - per stage s = 1..S, ``depth{s}``: its number of blocks (the options of
      ``depths[s - 1]``), then ``down{s}``: the block (0-based) whose strided
      conv and shortcut have stride 2, or ``"none"`` (the stage keeps the
      resolution). A block past the stage's depth means its last block.

    :data:`RESNET18` and :data:`RESNET34` are torchvision's models as option
    dicts for ``space.encode`` (ResNet-50 is ``RESNET34`` with
    ``block="bottleneck"``).

    Args:
        block: ``"basic"`` or ``"bottleneck"``.
        depths: per stage, the depth options (or one depth).
        widths: per stage, the block width (a bottleneck's output is 4x).
        stem_channels: the stem conv's output channels.
        num_classes: outputs of ``fc``.

    >>> space = resnet_space("bottleneck")
    >>> space.size, space.decode(space.encode(RESNET34))["down1"]
    (725760, 'none')
    """
    if block not in ("basic", "bottleneck"):
        raise SpecError(f"block must be 'basic' or 'bottleneck', got {block!r}")
    stages = [_depth_options(s, d) for s, d in enumerate(depths, start=1)]
    widths = [int(w) for w in widths]
    if len(widths) != len(stages) or not stages:
        raise SpecError(f"one width per stage: {len(stages)} stages (depths) but {len(widths)} widths")
    if any(w < 1 for w in widths) or stem_channels < 1 or num_classes < 1:
        raise SpecError("widths, stem_channels and num_classes must be >= 1")
    sp = Space(f"resnet_{block}")
    stem_stride = sp.choice("stem_stride", [1, 2])
    stem_pool = sp.choice("stem_pool", [1, 2, NONE])
    plan = []
    for s, options in enumerate(stages, start=1):
        depth = sp.choice(f"depth{s}", options)
        down = sp.choice(f"down{s}", [*range(max(options)), NONE])
        plan.append((depth, down))
    x = sp.input("x")
    x = sp.conv(x, 7, stem_stride, pad=3, c_in=3, c_out=stem_channels, name="conv1")
    pool_stride = Derived((stem_pool,), np.array([1, 2, 1]))
    x = sp.when(stem_pool != NONE, x, lambda x: sp.pool(x, 3, pool_stride, pad=1, name="maxpool", op="maxpool"))
    c_in = stem_channels
    expansion = 4 if block == "bottleneck" else 1
    for s, (depth, down) in enumerate(plan, start=1):
        c_out = widths[s - 1] * expansion
        for i in range(max(depth.options)):
            b = _Block(sp, f"layer{s}.{i}", block, c_in, widths[s - 1], c_out, _stride(depth, down, i))
            x = b(x) if i < min(depth.options) else sp.when(depth > i, x, b, name=f"layer{s}.{i}.active")
            c_in = c_out
    x = sp.global_pool(x, name="avgpool")
    sp.dense(x, c_in, num_classes, name="fc")
    return sp.build()


def _depth_options(stage: int, d: int | Sequence[int]) -> list[int]:
    opts = [d] if isinstance(d, (int, np.integer)) else list(d)
    if not opts or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in opts):
        raise SpecError(f"stage {stage}: depths are ints >= 1, got {d!r}")
    if len(set(opts)) != len(opts):
        raise SpecError(f"stage {stage}: repeated depth options {opts}")
    return [int(v) for v in opts]


def _stride(depth: Choice, down: Choice, i: int) -> Derived:
    """The stride of block i: 2 where ``down`` picks it (or a later block, past the depth), else 1."""

    def stride(d: int, pick: int) -> int:
        where = down.options[pick]
        return 2 if where != NONE and min(int(where), d - 1) == i else 1

    return combine(stride, depth, Derived((down,), np.arange(len(down.options))))


class _Block:
    """A torchvision ``BasicBlock`` or ``Bottleneck``, declared when called on its input."""

    def __init__(self, sp: Space, name: str, kind: str, c_in: int, width: int, c_out: int, stride: Derived) -> None:
        self.sp, self.name, self.kind = sp, name, kind
        self.c_in, self.width, self.c_out, self.stride = c_in, width, c_out, stride

    def __call__(self, x: int) -> int:
        sp, n, s = self.sp, self.name, self.stride
        if self.kind == "basic":
            y = sp.conv(x, 3, s, pad=1, c_in=self.c_in, c_out=self.c_out, name=f"{n}.conv1")
            y = sp.conv(y, 3, pad=1, c_in=self.c_out, c_out=self.c_out, name=f"{n}.conv2")
        else:
            y = sp.conv(x, 1, c_in=self.c_in, c_out=self.width, name=f"{n}.conv1")
            y = sp.conv(y, 3, s, pad=1, c_in=self.width, c_out=self.width, name=f"{n}.conv2")
            y = sp.conv(y, 1, c_in=self.width, c_out=self.c_out, name=f"{n}.conv3")
        shortcut = (
            self._projection(x, s) if self.c_in != self.c_out else sp.when(s == 2, x, lambda x: self._projection(x, s))
        )
        return sp.add(y, shortcut, name=n)

    def _projection(self, x: int, stride: Value) -> int:
        return self.sp.conv(x, 1, stride, c_in=self.c_in, c_out=self.c_out, name=f"{self.name}.downsample.0")
