"""Hypothesis strategies: random valid graphs and resolutions for the core-vs-reference tests.

:func:`graphs` draws DAGs in topological order with every node kind: windows
(conv and pool, dilation, every pad mode, ceil_mode, anisotropic kernels and
strides), transposed convs, resizes (factors 2, 3, 1/2, 3/2, 2/3, 1; nearest,
linear, cubic; sometimes different per axis), merges of several inputs
(including global ones, and constant merges with no input), global nodes with
one or more inputs, identities and extra inputs. Nodes that feed nothing
the output reads are common (every node reads a recent one, not the last),
so dead branches are drawn all the time; a third of the graphs also name
their outputs (``Graph.outputs``: the last node with others, or only earlier
nodes), which packs the ``output`` array and makes more nodes dead or alive.

The numbers stay inside what the compiled core represents exactly in 64-bit
integers (docs/semantics.md: "the core scales each graph by a common
denominator"): at most three upsamplings on any path, a jump of at most 4096
pixels, at most 16 channels, and resolutions that keep MAC counts far from
2**63.

>>> from hypothesis import given
>>> @given(graph_and_resolutions())
... def check(case):
...     graph, res = case
...     assert len(res[0]) == graph.dims
>>> check()
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hypothesis import strategies as st

from rfa_fast.graph import Graph, GraphBuilder

MAX_JUMP = 4096
"""No stride is drawn that would take a path's jump above this (in input pixels)."""

MAX_UPSAMPLINGS = 3
"""At most this many nodes that refine the grid (transposed with s > 1, resize by p/q with p > 1) on any path."""

UP_SCALES = (2.0, 3.0, 1.5)
OTHER_SCALES = (0.5, 2 / 3, 1.0)
MAX_SIZE = {1: 4096, 2: 512, 3: 64}
"""Largest resolution drawn per number of axes (keeps fmap products and MACs well inside int64)."""


@dataclass
class _Path:
    """Bounds on what a node's paths carry: the largest jump and the most upsamplings."""

    jump: float = 1.0
    ups: int = 0


def _merged(paths: Sequence[_Path]) -> _Path:
    if not paths:
        return _Path()
    return _Path(max(p.jump for p in paths), max(p.ups for p in paths))


def _per_axis(draw: st.DrawFn, dims: int, values: st.SearchStrategy[int], anisotropic: float = 0.25) -> tuple[int, ...]:
    """One value for every axis, or (sometimes) a different one per axis."""
    if dims > 1 and draw(st.floats(0, 1)) < anisotropic:
        return tuple(draw(values) for _ in range(dims))
    return (draw(values),) * dims


def _recent(draw: st.DrawFn, n: int) -> int:
    """An earlier node, usually a recent one (deep chains), sometimes any (long skips)."""
    if draw(st.booleans()):
        return draw(st.integers(max(0, n - 4), n - 1))
    return draw(st.integers(0, n - 1))


def _channels(draw: st.DrawFn) -> tuple[int, int, int]:
    """c_in, c_out, groups: 0 means unknown; groups divides c_in when both are known."""
    c_in = draw(st.sampled_from([0, 1, 3, 4, 8, 16]))
    c_out = draw(st.sampled_from([0, 1, 4, 8, 16]))
    groups = draw(st.sampled_from([g for g in (1, 2, 4) if c_in == 0 or c_in % g == 0]))
    return c_in, c_out, groups


def _pad(draw: st.DrawFn, dims: int) -> dict:
    """Builder keywords for one of the four pad modes."""
    mode = draw(st.sampled_from(["explicit", "explicit", "same", "same_lower", "valid"]))
    if mode != "explicit":
        return {"pad": mode}
    pads = st.integers(0, 3)
    if draw(st.booleans()):
        return {"pad": _per_axis(draw, dims, pads)}
    return {"pad_begin": _per_axis(draw, dims, pads), "pad_end": _per_axis(draw, dims, pads)}


def _window(draw: st.DrawFn, b: GraphBuilder, x: int, path: _Path, max_jump: int) -> tuple[int, _Path]:
    dims = b.dims
    kernel = _per_axis(draw, dims, st.integers(1, 5))
    stride = _per_axis(draw, dims, st.sampled_from([1, 1, 2, 3]))
    if path.jump * max(stride) > max_jump:
        stride = (1,) * dims
    dilation = _per_axis(draw, dims, st.sampled_from([1, 1, 1, 2, 3]), anisotropic=0.1)
    pads = _pad(draw, dims)
    if draw(st.booleans()):
        c_in, c_out, groups = _channels(draw)
        node = b.conv(x, kernel, stride, dilation=dilation, c_in=c_in, c_out=c_out, groups=groups, **pads)
    else:
        node = b.pool(x, kernel, stride, dilation=dilation, ceil_mode=draw(st.booleans()), **pads)
    return node, _Path(path.jump * max(stride), path.ups)


def _transposed(draw: st.DrawFn, b: GraphBuilder, x: int, path: _Path) -> tuple[int, _Path]:
    dims = b.dims
    kernel = _per_axis(draw, dims, st.integers(1, 5))
    up = path.ups < MAX_UPSAMPLINGS
    stride = _per_axis(draw, dims, st.sampled_from([1, 2, 2, 3] if up else [1]))
    dilation = _per_axis(draw, dims, st.sampled_from([1, 1, 2]), anisotropic=0.1)
    mode = draw(st.sampled_from(["explicit", "explicit", "same", "same_lower", "valid"]))
    c_in, c_out, groups = _channels(draw)
    if mode == "explicit":
        pad: object = _per_axis(draw, dims, st.integers(0, 2))
        output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride)
    else:
        pad, output_padding = mode, 0
    node = b.transposed(
        x,
        kernel,
        stride,
        dilation=dilation,
        pad=pad,
        output_padding=output_padding,
        c_in=c_in,
        c_out=c_out,
        groups=groups,
    )
    return node, _Path(path.jump, path.ups + (max(stride) > 1))


def _resize(draw: st.DrawFn, b: GraphBuilder, x: int, path: _Path, max_jump: int) -> tuple[int, _Path]:
    choices = (UP_SCALES + OTHER_SCALES) if path.ups < MAX_UPSAMPLINGS else (0.5, 1.0)
    if path.jump * 2 > max_jump:
        choices = tuple(c for c in choices if c >= 1)
    one = st.sampled_from(choices)
    if b.dims > 1 and draw(st.floats(0, 1)) < 0.2:
        scale: float | tuple[float, ...] = tuple(draw(one) for _ in range(b.dims))
    else:
        scale = draw(one)
    scales = scale if isinstance(scale, tuple) else (scale,)
    node = b.resize(x, scale, draw(st.sampled_from(["nearest", "nearest", "linear", "cubic"])))
    refines = any(s not in (1.0, 0.5) for s in scales)  # p > 1: the core's common denominator grows
    return node, _Path(path.jump / min(scales), path.ups + refines)


@st.composite
def graphs(
    draw: st.DrawFn, max_nodes: int = 40, dims: int | None = None, min_nodes: int = 1, max_jump: int = MAX_JUMP
) -> Graph:
    """A random valid :class:`Graph` of ``min_nodes``..``max_nodes`` nodes (dims 1-3 unless given).

    ``max_jump`` caps the jump of every path (in input pixels): small values keep fields small
    (``tests/oracle.py`` enumerates them pixel by pixel).
    """
    dims = dims if dims is not None else draw(st.sampled_from([1, 2, 2, 3]))
    size = draw(st.integers(min_nodes, max_nodes))
    b = GraphBuilder("random", dims=dims)
    b.input("x")
    paths = [_Path()]
    kinds = st.sampled_from(
        ["window"] * 10
        + ["identity"]
        + ["merge"] * 4
        + ["resize"] * 2
        + ["transposed"] * 2
        + ["global"]
        + ["const", "input"]
    )
    while len(b.nodes) < size:
        n = len(b.nodes)
        kind = draw(kinds)
        if kind in ("window", "transposed", "resize", "identity"):
            x = _recent(draw, n)
            if kind == "window":
                _, path = _window(draw, b, x, paths[x], max_jump)
            elif kind == "transposed":
                _, path = _transposed(draw, b, x, paths[x])
            elif kind == "resize":
                _, path = _resize(draw, b, x, paths[x], max_jump)
            else:
                b.identity(x)
                path = paths[x]
        elif kind == "merge":
            inputs = sorted({_recent(draw, n) for _ in range(draw(st.integers(1, 4)))})
            b.merge(*inputs, op=draw(st.sampled_from(["add", "mul", "concat", "max"])))
            path = _merged([paths[i] for i in inputs])
        elif kind == "global":
            inputs = sorted({_recent(draw, n) for _ in range(draw(st.integers(1, 2)))})
            spec: dict = {"op": "global", "inputs": inputs}
            if draw(st.booleans()):
                c_in, c_out, _ = _channels(draw)
                spec.update(op="dense", weighted=True, c_in=c_in, c_out=c_out)
            b.add_spec_layer(spec)
            path = _merged([paths[i] for i in inputs])
        elif kind == "const":
            b.merge(op="constant")  # no input: disconnected
            path = _Path()
        else:
            b.input()
            path = _Path()
        paths.append(path)
    g = b.build()
    n = len(g.nodes)
    if n > 1 and draw(st.integers(0, 2)) == 0:  # named outputs: dead branches that are not the last node's
        extra = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=3, unique=True))
        outputs = sorted(set(extra) | ({n - 1} if draw(st.booleans()) else set()))
        g = Graph(g.nodes, name=g.name, dims=dims, outputs=outputs)
    return g


@st.composite
def resolutions(draw: st.DrawFn, dims: int, max_count: int = 3, max_size: int | None = None) -> list[list[int]]:
    """1..``max_count`` resolutions of ``dims`` positive sizes, small ones (where layers fail) drawn often."""
    top = max_size if max_size is not None else MAX_SIZE[dims]
    size = st.one_of(st.integers(1, 16), st.integers(1, top))
    count = draw(st.integers(1, max_count))
    out = []
    for _ in range(count):
        if draw(st.booleans()):
            out.append([draw(size)] * dims)
        else:
            out.append([draw(size) for _ in range(dims)])
    return out


@st.composite
def graph_and_resolutions(
    draw: st.DrawFn, max_nodes: int = 40, dims: int | None = None
) -> tuple[Graph, list[list[int]]]:
    """A random graph with resolutions that fit its number of axes."""
    graph = draw(graphs(max_nodes=max_nodes, dims=dims))
    return graph, draw(resolutions(graph.dims))


@st.composite
def graph_batches(draw: st.DrawFn, max_graphs: int = 5, max_nodes: int = 30) -> tuple[list[Graph], list[list[int]]]:
    """Several random graphs with the same number of axes, and resolutions for all of them."""
    dims = draw(st.sampled_from([1, 2, 3]))
    gs = draw(st.lists(graphs(max_nodes=max_nodes, dims=dims), min_size=1, max_size=max_graphs))
    return gs, draw(resolutions(dims))
