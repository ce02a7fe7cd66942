"""Hand-built networks for the rule tests, laid out as torchvision lays them out.

Every function returns a :class:`rfa_fast.graph.Graph` built with
:class:`~rfa_fast.graph.GraphBuilder`; nodes are named by the PyTorch module
path (``features.28``, ``layer4.1.conv2``...) so tests can look them up with
``graph.index(name)``.  Normalisations and activations are left out: they are
IDENTITY nodes and change nothing the tests check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from fractions import Fraction

from rfa_fast.graph import Graph, GraphBuilder, Node
from rfa_fast.kinds import Kind, ResizeMode

# The torchvision layouts live in the package (the demo and the benchmarks use
# them too); the tests take them from there.
from rfa_fast.zoo import resnet18, resnet50, vgg16  # noqa: F401


def dilated_chain(dilations: Sequence[int] = (1, 2, 4)) -> Graph:
    """3x3 convs with growing dilation, padded to keep the size ("same" in PyTorch terms)."""
    b = GraphBuilder("dilated")
    x = b.input("x")
    for i, d in enumerate(dilations):
        x = b.conv(x, 3, dilation=d, pad=d, name=f"conv{i}")
    return b.build()


def conv_chain(
    kernels: Sequence[int], strides: Sequence[int] | None = None, *, pad: bool = True, dims: int = 2
) -> Graph:
    """A plain chain of convs named ``c1, c2, ...`` (pad ``k // 2`` when ``pad``)."""
    b = GraphBuilder("chain", dims=dims)
    x = b.input("x")
    strides = strides if strides is not None else [1] * len(kernels)
    for i, (k, s) in enumerate(zip(kernels, strides), start=1):
        x = b.conv(x, k, s, pad=k // 2 if pad else 0, name=f"c{i}")
    return b.build()


def se_block() -> Graph:
    """A squeeze-excitation block: conv, global pool -> 1x1 -> 1x1 gate, multiply, conv, global pool, fc."""
    b = GraphBuilder("se")
    x = b.input("x")
    x = b.conv(x, 3, pad=1, c_in=3, c_out=16, name="conv")
    s = b.global_pool(x, name="squeeze")
    s = b.conv(s, 1, c_in=16, c_out=4, name="fc1")
    s = b.conv(s, 1, c_in=4, c_out=16, name="fc2")
    y = b.mul(x, s, name="gate")
    y = b.conv(y, 3, pad=1, c_in=16, c_out=16, name="after")
    y = b.global_pool(y, name="pool")
    b.dense(y, 16, 10, name="fc")
    return b.build()


def tiny_resnet() -> Graph:
    """A small residual network for the border rule: two blocks of two 3x3 convs after a 3x3/2 stem."""
    b = GraphBuilder("tiny_resnet")
    x = b.input("x")
    x = b.conv(x, 3, 2, pad=1, name="stem")
    for blk in range(2):
        y = b.conv(x, 3, pad=1, name=f"b{blk}.conv1")
        y = b.conv(y, 3, pad=1, name=f"b{blk}.conv2")
        x = b.add(y, x, name=f"b{blk}")
    return b.build()


def project(graph: Graph, axis: int) -> Graph:
    """The 1-D graph made of one spatial axis of ``graph``.

    The per-axis i_min rule ("(a) or (b) on axis a alone") is the square
    i_min of this projection, which gives a brute-force check of it.
    """
    nodes = []
    for node in graph.nodes:
        pick = {f: (getattr(node, f)[axis],) for f in ("kernel", "stride", "dilation", "pad_begin", "pad_end", "scale")}
        nodes.append(replace(node, **pick))
    return Graph(nodes, name=f"{graph.name}[axis {axis}]", dims=1, outputs=graph.outputs)


def windowed_names(graph: Graph) -> list[str]:
    """Names of the WINDOW and TRANSPOSED nodes, in order."""
    return [n.name for n in graph.nodes if n.kind in (Kind.WINDOW, Kind.TRANSPOSED)]


# ---------------------------------------------------------------------------
# 1-D chains and their brute-force footprints (the ground truth for rf_max after upsampling)


def chain_1d(*layers: tuple) -> Graph:
    """A 1-D chain from short layer tuples.

    ``("conv", k, s=1, d=1)``, ``("pool", k, s)``, ``("tconv", k, s, pad=0)``,
    ``(mode, f)`` with mode one of nearest, linear, cubic.
    """
    b = GraphBuilder("chain_1d", dims=1)
    x = b.input("x")
    for kind, *args in layers:
        if kind == "conv":
            k, s, d = (list(args) + [1, 1])[:3]
            x = b.conv(x, k, s, dilation=d)
        elif kind == "pool":
            x = b.pool(x, args[0], args[1])
        elif kind == "tconv":
            x = b.transposed(x, args[0], args[1], pad=args[2] if len(args) > 2 else 0)
        else:
            x = b.resize(x, args[0], kind)
    return b.build()


def _sources(node: Node, o: int) -> list[int]:
    """Units of a 1-D node's input that its output unit ``o`` reads.

    Windows read ``o·s - pb + d·t``; a transposed conv's output ``o`` reads
    the inputs ``i`` with ``o = i·s - pb + d·t`` (none between its real units);
    nearest resizing reads ``floor(o / f)``; linear and cubic (half-pixel) read
    the 2 or 4 neighbours of ``(o + 1/2)/f - 1/2``, or only that unit when the
    position is whole (the other weights vanish).
    """
    k, s, d, pb = node.kernel[0], node.stride[0], node.dilation[0], node.pad_begin[0]
    if node.kind == Kind.WINDOW:
        return [o * s - pb + d * t for t in range(k)]
    if node.kind == Kind.TRANSPOSED:
        return [(o + pb - d * t) // s for t in range(k) if (o + pb - d * t) % s == 0]
    if node.kind == Kind.RESIZE:
        f = Fraction(node.scale[0]).limit_denominator(4096)
        if node.mode == ResizeMode.NEAREST:
            return [math.floor(o / f)]
        pos = (o + Fraction(1, 2)) / f - Fraction(1, 2)
        lo = math.floor(pos)
        if pos == lo:
            return [lo]
        return list(range(lo, lo + 2) if node.mode == ResizeMode.LINEAR else range(lo - 1, lo + 3))
    return [o]


def footprint_extent(graph: Graph, v: int, unit: int, _memo: dict | None = None) -> tuple[int, int] | None:
    """(first, last) input pixel read by unit ``unit`` of node ``v`` of a 1-D chain; None if it reads nothing.

    The input is unbounded (no border clips a field). The extent of a union
    is the span of its parts, so one (min, max) per unit suffices.
    """
    memo = {} if _memo is None else _memo
    key = (v, unit)
    if key not in memo:
        node = graph.nodes[v]
        if node.kind == Kind.INPUT:
            memo[key] = (unit, unit)
        else:
            parts = [footprint_extent(graph, node.inputs[0], u, memo) for u in _sources(node, unit)]
            parts = [p for p in parts if p is not None]
            memo[key] = (min(p[0] for p in parts), max(p[1] for p in parts)) if parts else None
    return memo[key]


def largest_footprints(graph: Graph, positions: Sequence[int] = range(-120, 120)) -> list[int | None]:
    """Brute-force rf_max of every node of a 1-D chain: the widest footprint over unit positions.

    ``positions`` must cover every phase of the upsampling grids (the default
    does for the few small factors the tests use). Units that read nothing
    (between the real units of a transposed conv) are left out; a node none
    of whose units reads anything (e.g. a 1/3 linear resize sampling only the
    empty units of a 3x transposed conv) gets None.
    """
    memo: dict = {}
    out: list[int | None] = []
    for v in range(len(graph)):
        spans = [s for s in (footprint_extent(graph, v, u, memo) for u in positions) if s is not None]
        out.append(max(b - a + 1 for a, b in spans) if spans else None)
    return out
