"""Once-for-All MobileNetV3 (Cai et al., ICLR 2020) as a :class:`~rfa_fast.Space`.

The supernet ``OFAMobileNetV3`` of mit-han-lab/once-for-all (``ks_list=[3, 5,
7]``, ``expand_ratio_list=[3, 4, 6]``, ``depth_list=[2, 3, 4]``, width 1.0 or
1.2) with its own encoding of a subnet: the arch dict ``{"ks": [20 ints],
"e": [20 ints], "d": [5 ints]}`` of ``sample_active_subnet`` and
``set_active_subnet``. A row of the space is that dict as choice indices
(:func:`ofa_encode`, :func:`ofa_decode`).

>>> import rfa_fast
>>> space = ofa_mbv3_space()
>>> arch = {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5}
>>> r = space.screen(ofa_encode(arch), 224)
>>> r.rf_max[0].tolist(), int(r.params[0])
([1651.0, 1651.0], 7613280)
>>> ofa_decode(ofa_encode(arch)) == arch
True

What the space was checked against (``ofa/imagenet_classification/elastic_nn/
networks/ofa_mbv3.py``, ``.../modules/dynamic_layers.py``,
``ofa/utils/layers.py``, ``ofa/utils/pytorch_modules.py`` at commit
f03b267 of mit-han-lab/once-for-all): docs/spaces.md, "Once-for-All MobileNetV3".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import SpecError
from ..space import Choice, Space, combine
from ..space.values import Derived

OFA_KS = (3, 5, 7)
"""Kernel sizes of a block's depthwise conv (``ks_list``), in option order."""

OFA_E = (3, 4, 6)
"""Expand ratios of a block (``expand_ratio_list``), in option order."""

OFA_D = (2, 3, 4)
"""Depths of a stage (``depth_list``), in option order."""

OFA_BLOCKS = 20
"""Blocks of the supernet past the first: 5 stages of at most 4."""

OFA_STAGES = 5

_BASE_STAGE_WIDTH = (16, 16, 24, 40, 80, 112, 160, 960, 1280)
_STAGE_STRIDE = (2, 2, 2, 1, 2)  # stride_stages[1:]: the first block of each stage
_STAGE_SE = (False, True, False, True, True)  # se_stages[1:]
_CHANNEL_DIVISIBLE = 8
_SE_REDUCTION = 4


def make_divisible(v: float, divisor: int = _CHANNEL_DIVISIBLE) -> int:
    """OFA's ``make_divisible`` (from the TF MobileNet code): the multiple of ``divisor`` nearest ``v``,
    at least ``divisor`` and not more than 10% below ``v``.

    >>> make_divisible(16 * 1.2), make_divisible(112 * 1.2), make_divisible(40 * 6 // 4)
    (24, 136, 64)
    """
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def ofa_widths(width_mult: float = 1.0) -> dict[str, Any]:
    """The channel counts of ``OFAMobileNetV3(width_mult=...)``.

    >>> ofa_widths(1.0)
    {'first_conv': 16, 'first_block': 16, 'stages': [24, 40, 80, 112, 160], 'final_expand': 960, 'feature_mix': 1280}
    >>> ofa_widths(1.2)["stages"]
    [32, 48, 96, 136, 192]
    """
    w = [make_divisible(b * width_mult) for b in _BASE_STAGE_WIDTH]
    return {"first_conv": w[0], "first_block": w[1], "stages": w[2:7], "final_expand": w[7], "feature_mix": w[8]}


def ofa_encode(arch: Mapping[str, Sequence[int]]) -> np.ndarray:
    """The row of :func:`ofa_mbv3_space` for an OFA arch dict, uint8 [45].

    Columns: ``ks0`` .. ``ks19`` (indices into :data:`OFA_KS`), ``e0`` ..
    ``e19`` (into :data:`OFA_E`), ``d0`` .. ``d4`` (into :data:`OFA_D`);
    block ``i`` is block ``i % 4`` of stage ``i // 4``, as in the dict.

    >>> ofa_encode({"ks": [3] * 20, "e": [4] * 20, "d": [2, 3, 4, 4, 4]}).tolist()[18:25], ofa_encode(
    ...     {"ks": [3] * 20, "e": [4] * 20, "d": [2, 3, 4, 4, 4]}
    ... ).tolist()[40:]
    ([0, 0, 1, 1, 1, 1, 1], [0, 1, 2, 2, 2])
    """
    if not isinstance(arch, Mapping):
        raise SpecError(f"an OFA arch is a dict with 'ks', 'e' and 'd', got {type(arch).__name__}")
    unknown = sorted(set(arch) - {"ks", "e", "d"})
    missing = [k for k in ("ks", "e", "d") if k not in arch]
    if unknown or missing:
        raise SpecError(f"an OFA arch has the keys 'ks', 'e', 'd' (missing {missing}, unknown {unknown})")
    row = np.empty(2 * OFA_BLOCKS + OFA_STAGES, dtype=np.uint8)
    at = 0
    for key, options, n in (("ks", OFA_KS, OFA_BLOCKS), ("e", OFA_E, OFA_BLOCKS), ("d", OFA_D, OFA_STAGES)):
        values = list(arch[key])
        if len(values) != n:
            raise SpecError(f"OFA arch {key!r} needs {n} values, got {len(values)}")
        for i, v in enumerate(values):
            if isinstance(v, (bool, np.bool_)) or v not in options:
                raise SpecError(f"OFA arch {key}[{i}] = {v!r} is not one of {list(options)}")
            row[at + i] = options.index(v)
        at += n
    return row


def ofa_decode(row: Sequence[int] | np.ndarray) -> dict[str, list[int]]:
    """The OFA arch dict of a row of :func:`ofa_mbv3_space` (the inverse of :func:`ofa_encode`).

    >>> ofa_decode([0] * 40 + [2] * 5)["d"]
    [4, 4, 4, 4, 4]
    """
    r = np.asarray(row)
    n = 2 * OFA_BLOCKS + OFA_STAGES
    if r.shape != (n,) or r.dtype.kind not in "iu":
        raise SpecError(f"an OFA row is {n} integer choice indices, got {r.dtype} {r.shape}")
    out: dict[str, list[int]] = {}
    at = 0
    for key, options, k in (("ks", OFA_KS, OFA_BLOCKS), ("e", OFA_E, OFA_BLOCKS), ("d", OFA_D, OFA_STAGES)):
        idx = r[at : at + k]
        if idx.min() < 0 or idx.max() >= len(options):
            raise SpecError(f"OFA row: {key} indices must be in 0..{len(options) - 1}, got {idx.tolist()}")
        out[key] = [options[int(i)] for i in idx]
        at += k
    return out


def ofa_mbv3_space(width_mult: float = 1.0, *, num_classes: int = 1000) -> Space:
    """``OFAMobileNetV3`` (k 3/5/7, e 3/4/6, d 2/3/4) as a :class:`~rfa_fast.Space`, rows as :func:`ofa_encode`.

    The network of a row is the supernet's active subnet: first conv 3x3/2;
    the first block (depthwise 3x3, pointwise 1x1, identity shortcut); 5
    stages (strides 2, 2, 2, 1, 2) of ``d`` blocks each: 1x1 expand to
    ``mid = make_divisible(c_in * e)`` channels, depthwise ``ks x ks`` (pad
    ks // 2, groups = mid) with the stage's stride on its first block,
    squeeze-excitation in stages 2, 4 and 5 (a global-pool branch, 1x1
    reduce to ``make_divisible(mid // 4)`` and 1x1 expand, gating the
    depthwise output with a mul: ``global_context``), 1x1 pointwise
    projection, identity shortcut on every block but a stage's first; final
    expand 1x1, global average pool, feature mix 1x1, classifier. Node names
    are the module paths of the supernet (``blocks.5.conv.depth_conv.conv``:
    the blocks keep the supernet's numbering, 1 + 4 * stage + block).
    Activations and normalizations are left out (they do not change fields);
    parameters count conv and linear weights (no biases, no BN).

    The ``ks`` and ``e`` of blocks past a stage's depth are part of the row
    (as in OFA's arch dicts) and change nothing: rows outnumber subnets.
    ``space.sample`` draws as OFA's ``sample_active_subnet`` does (every
    value independently uniform).

    Args:
        width_mult: the supernet's width (1.0 or 1.2 for the released ones).
        num_classes: classifier outputs.

    >>> space = ofa_mbv3_space()
    >>> space.size == 3**45, [c.name for c in space.choices][:2], [c.name for c in space.choices][-1]
    (True, ['ks0', 'ks1'], 'd4')
    >>> smallest = ofa_encode({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5})
    >>> r = space.screen(smallest, 224)
    >>> r.rf_max[0].tolist(), int(r.params[0]), bool(r.connected[0])
    ([251.0, 251.0], 3395856, True)
    """
    if not isinstance(width_mult, (int, float)) or isinstance(width_mult, bool) or not width_mult > 0:
        raise SpecError(f"width_mult must be a number > 0, got {width_mult!r}")
    if not isinstance(num_classes, (int, np.integer)) or num_classes < 1:
        raise SpecError(f"num_classes must be an int >= 1, got {num_classes!r}")
    w = ofa_widths(width_mult)
    sp = Space(f"ofa_mbv3_w{float(width_mult)}")
    ks = [sp.choice(f"ks{i}", OFA_KS) for i in range(OFA_BLOCKS)]
    e = [sp.choice(f"e{i}", OFA_E) for i in range(OFA_BLOCKS)]
    d = [sp.choice(f"d{s}", OFA_D) for s in range(OFA_STAGES)]
    x = sp.input("input")
    c = w["first_conv"]
    x = sp.conv(x, 3, 2, pad=1, c_in=3, c_out=c, name="first_conv.conv")
    # the first block: MBConv with expand ratio 1 (no inverted bottleneck), kernel 3, stride 1
    y = sp.conv(x, 3, pad=1, c_in=c, c_out=c, groups=c, name="blocks.0.conv.depth_conv.conv")
    y = sp.conv(y, 1, c_in=c, c_out=w["first_block"], name="blocks.0.conv.point_linear.conv")
    x = sp.add(y, x, name="blocks.0") if c == w["first_block"] else y
    c = w["first_block"]
    for s in range(OFA_STAGES):
        c_out = w["stages"][s]
        for j in range(4):
            i = 4 * s + j
            block = _MBConv(
                sp, f"blocks.{1 + i}", c, c_out, ks[i], e[i], _STAGE_STRIDE[s] if j == 0 else 1, _STAGE_SE[s]
            )
            # blocks 0 and 1 of a stage are always there; block j where the depth is more than j
            x = block(x) if j < OFA_D[0] else sp.when(d[s] > j, x, block, name=f"blocks.{1 + i}.active")
            c = c_out
    x = sp.conv(x, 1, c_in=c, c_out=w["final_expand"], name="final_expand_layer.conv")
    x = sp.global_pool(x, name="global_avg_pool")
    x = sp.conv(x, 1, c_in=w["final_expand"], c_out=w["feature_mix"], name="feature_mix_layer.conv")
    sp.dense(x, w["feature_mix"], num_classes, name="classifier.linear")
    return sp.build()


class _MBConv:
    """One ``DynamicMBConvLayer`` in its ``ResidualBlock``, declared when called on its input."""

    def __init__(
        self, sp: Space, name: str, c_in: int, c_out: int, ks: Choice, e: Choice, stride: int, se: bool
    ) -> None:
        self.sp, self.name, self.c_in, self.c_out = sp, name, c_in, c_out
        self.ks, self.stride, self.se = ks, stride, se
        # active_middle_channel and the SE's num_mid, per expand ratio
        self.mid: Derived = combine(lambda ev: make_divisible(round(c_in * ev)), e)
        self.se_mid: Derived = combine(lambda ev: make_divisible(make_divisible(round(c_in * ev)) // _SE_REDUCTION), e)

    def __call__(self, x: int) -> int:
        sp, n, mid = self.sp, f"{self.name}.conv", self.mid
        y = sp.conv(x, 1, c_in=self.c_in, c_out=mid, name=f"{n}.inverted_bottleneck.conv")
        y = sp.conv(
            y, self.ks, self.stride, pad=self.ks // 2, c_in=mid, c_out=mid, groups=mid, name=f"{n}.depth_conv.conv"
        )
        if self.se:  # the gate sees the whole map: x * h_sigmoid(expand(relu(reduce(mean(x)))))
            g = sp.global_pool(y, name=f"{n}.depth_conv.se.mean")
            g = sp.conv(g, 1, c_in=mid, c_out=self.se_mid, name=f"{n}.depth_conv.se.fc.reduce")
            g = sp.conv(g, 1, c_in=self.se_mid, c_out=mid, name=f"{n}.depth_conv.se.fc.expand")
            y = sp.mul(y, g, name=f"{n}.depth_conv.se")
        y = sp.conv(y, 1, c_in=mid, c_out=self.c_out, name=f"{n}.point_linear.conv")
        if self.stride == 1 and self.c_in == self.c_out:
            return sp.add(y, x, name=self.name)
        return y
