"""The compiled core (through the public API) and ``rfa_fast/reference.py`` against the brute-force oracle.

``tests/oracle.py`` reads every number off explicit sets of input pixels; it
shares no formula with either implementation.  Random small graphs
(``tests/strategies.py``, at most 12 nodes, jumps of at most 8 px, inputs of
at most 64 px) in 1-D and 2-D, and a fixed list of graphs that each exercise
one rule, are compared key by key.

What is compared follows docs/semantics.md:

- connectivity, global, global context, feature maps, parameters and MACs:
  always equal (the contract has no approximation there);
- jump: always equal (the first spatial input's path at every merge);
- rf_min and rf_max: equal where "Exactness" says they are exact, never below
  the oracle's where it says they are an upper bound (:func:`path_claim`).
  Nodes whose paths arrive with different jumps (a misaligned merge upstream)
  are not compared: a later window grows every path by the first input's jump,
  so the fields there follow that input's grid, not a path's;
- center: equal on exact paths without a nearest resize (the contract's
  nearest is asymmetric: a unit's center is its sampling point ``o/f`` while it
  reads ``floor(o/f)``, a convention no set of pixels shows);
- statuses, counts and I_min: equal where every field is exact; where some
  are bounds, the implementations' unproductive and critical nodes include the
  oracle's and their I_min is not smaller (rule (a) and criticality only get
  easier to meet with a larger rf_min; the sizes of rule (b) are exact).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from oracle import Oracle, scale_of
from strategies import graphs

import rfa_fast
from rfa_fast import GraphBuilder, reference
from rfa_fast.graph import Graph
from rfa_fast.kinds import Kind, ResizeMode, Status

# RFA_FAST_ORACLE_EXAMPLES raises the count for a long soak (docs/hardening.md).
ORACLE = settings(
    max_examples=int(os.environ.get("RFA_FAST_ORACLE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MAX_RES = 64
U, BORDER = int(Status.UNPRODUCTIVE), int(Status.BORDER)
CRIT, PART = int(Status.CRITICAL), int(Status.PARTIALLY_CRITICAL)


def path_claim(graph: Graph, path: Sequence[int], axis: int) -> str:
    """``"exact"`` or ``"bound"``: what docs/semantics.md ("Exactness") says of rf along one path.

    Exact with no upsampling; after upsampling, exact for integer factors
    (nearest and transposed by any, linear and cubic by even ones), one or
    several, each followed by undilated windows of stride 1.  An upper bound
    when a strided or dilated window or a downsampling resize follows an
    upsampling, after non-integer factors, after linear/cubic factors with odd
    p and q (1/3 too: its samples land on input units), and after a dilated
    transposed convolution (its taps can skip the real units).
    """
    upsampled = False
    for v in path:
        node = graph.nodes[v]
        s, d = node.stride[axis], node.dilation[axis]
        if node.kind == Kind.WINDOW:
            if upsampled and (s > 1 or d > 1):
                return "bound"
        elif node.kind == Kind.TRANSPOSED:
            if d > 1 and (upsampled or s > 1):
                return "bound"
            upsampled |= s > 1
        elif node.kind == Kind.RESIZE:
            f = scale_of(node, axis)
            odd = f.numerator % 2 == 1 and f.denominator % 2 == 1
            if f > 1:
                if f.denominator != 1 or (node.mode != ResizeMode.NEAREST and odd):
                    return "bound"
                upsampled = True
            elif f < 1 and (upsampled or f.numerator != 1 or (node.mode != ResizeMode.NEAREST and odd)):
                return "bound"
    return "exact"


def node_claim(o: Oracle, v: int, axis: int) -> str | None:
    """The claim on a node's rf: exact, bound, or None (not compared: paths with different jumps, or no field)."""
    fields = o.fields(v, axis)
    if not fields or any(f.rf is None for f in fields) or len({f.jump for f in fields}) > 1:
        return None
    return "exact" if all(path_claim(o.graph, f.path, axis) == "exact" for f in fields) else "bound"


def has_nearest(graph: Graph, path: Sequence[int], axis: int) -> bool:
    return any(
        graph.nodes[v].kind == Kind.RESIZE
        and graph.nodes[v].mode == ResizeMode.NEAREST
        and scale_of(graph.nodes[v], axis) != 1
        for v in path
    )


def centered(o: Oracle, v: int, axis: int) -> bool:
    """Whether the contract's center of node v is the oracle's: its first path is exact and has no nearest resize."""
    path = o.paths[v][0]
    return path_claim(o.graph, path, axis) == "exact" and not has_nearest(o.graph, path, axis)


def graph_claim(o: Oracle) -> str | None:
    """exact when every spatial node's field is exact, bound when some are bounds, None when some are not compared."""
    claims = {node_claim(o, v, a) for v in range(len(o.graph.nodes)) if o.spatial(v) for a in range(o.graph.dims)}
    if None in claims:
        return None
    return "bound" if "bound" in claims else "exact"


def frac(x: float) -> Fraction:
    return Fraction(x).limit_denominator(1 << 20)


def check_per_node(o: Oracle, got: dict[str, np.ndarray], res: Sequence[int], who: str) -> None:
    """Per-node keys of one graph at one resolution (``got`` in the layout of ``reference.run_graph``)."""
    g = o.graph
    n = len(g.nodes)
    assert got["node_connected"].tolist() == o.connected, f"{who}: connected"
    assert got["is_global"].tolist() == [o.is_global(v) for v in range(n)], f"{who}: global"
    assert got["global_context"].tolist() == o.global_context, f"{who}: global_context"
    assert got["node_params"].tolist() == [o.params(v) for v in range(n)], f"{who}: params"
    assert got["node_macs"][0].tolist() == [o.macs(v, res) for v in range(n)], f"{who}: macs"
    for a in range(g.dims):
        assert got["fmap"][0, :, a].tolist() == o.fmaps(a, res[a]), f"{who}: fmap on axis {a} at {list(res)}"
        for v in range(n):
            where = f"{who}: node {v} ({g.nodes[v].name}) axis {a}"
            if not o.spatial(v):
                continue
            if o.jump(v, a) is not None:
                assert frac(got["jump"][v, a]) == o.jump(v, a), f"{where}: jump"
            claim = node_claim(o, v, a)
            for key, truth in (("rf_min", o.rf_min(v, a)), ("rf_max", o.rf_max(v, a))):
                value = got[key][v, a]
                if claim == "exact":
                    assert value == truth, f"{where}: {key} {value}, footprints {truth}"
                elif claim == "bound":
                    assert value >= truth, f"{where}: {key} {value} below the footprints' {truth}"
            if claim == "exact" and centered(o, v, a):
                assert frac(got["center"][v, a]) == o.center(v, a), f"{where}: center"
    if all(centered(o, u, a) for v in range(n) for u in g.nodes[v].inputs if o.spatial(u) for a in range(g.dims)):
        assert got["node_aligned"].tolist() == [o.aligned(v) for v in range(n)], f"{who}: node_aligned"


def check_statuses(o: Oracle, got: dict[str, np.ndarray], res: Sequence[int], who: str) -> None:
    """Per-node statuses at one resolution: equal where every field is exact, inclusions where some are bounds."""
    claim = graph_claim(o)
    if claim is None or not got["connected"][0]:
        return
    want = np.array(o.status(res))
    have = got["status"][0].astype(int)
    if claim == "exact":
        assert have.tolist() == want.tolist(), f"{who}: status at {list(res)}"
    else:
        for bit in (U, CRIT):
            assert not (want & bit & ~have).any(), f"{who}: status bit {bit} at {list(res)}: {have} vs {want}"


def check_per_graph(o: Oracle, got: dict[str, np.ndarray], resolutions: Sequence[Sequence[int]], who: str) -> None:
    """Per-graph keys (``ScreenResult`` names or ``run_graph`` names) over several resolutions."""
    g = o.graph
    n, dims = len(g.nodes), g.dims
    last = n - 1
    assert bool(got["connected"][0]) == o.connected[last], f"{who}: connected"
    assert int(got["params"][0]) == sum(o.params(v) for v in range(n)), f"{who}: params"
    for r, res in enumerate(resolutions):
        assert int(got["macs"][0, r]) == sum(o.macs(v, res) for v in range(n)), f"{who}: macs at {res}"
    claim = graph_claim(o)
    if claim is None:
        return
    windowed = (Kind.WINDOW, Kind.TRANSPOSED)
    n_dead = sum(1 for v in range(n) if o.dead[v] and o.connected[v] and g.nodes[v].kind in windowed)
    assert int(got["n_dead"][0]) == n_dead, f"{who}: n_dead"
    for r, res in enumerate(resolutions):
        dead_macs = sum(o.macs(v, res) for v in range(n) if o.dead[v])
        assert int(got["macs_dead"][0, r]) == dead_macs, f"{who}: macs_dead at {res}"
    windows = [v for v in range(n) if g.nodes[v].kind in windowed and o.spatial(v) and not o.dead[v]]
    spatial = [v for v in range(n) if o.spatial(v) and not o.dead[v]]
    for a in range(dims):
        for key, nodes in (("i_max_axes", windows), ("graph_rf_max", spatial)):
            truth = max((o.rf_max(v, a) for v in nodes), default=None)
            value = got[key][0, a]
            if truth is None:
                assert math.isnan(value), f"{who}: {key}"
            elif claim == "exact":
                assert value == truth, f"{who}: {key} on axis {a}"
            else:
                assert value >= truth, f"{who}: {key} on axis {a}"
    if not o.connected[last]:
        assert math.isnan(got["i_min"][0]) and np.isnan(got["i_min_axes"][0]).all(), (
            f"{who}: i_min of a disconnected graph"
        )
        return
    for key, value, axes in [("i_min", got["i_min"][0], None)] + [
        ("i_min_axes", got["i_min_axes"][0, a], [a]) for a in range(dims)
    ]:
        free = o.free_resolutions(range(dims) if axes is None else axes)
        truth = free.index(True) + 1 if True in free else None
        if truth is not None:
            assert all(free[truth - 1 :]), f"{who}: {key}: unproductive again after the first free resolution"
        if claim == "exact":
            assert value == truth if truth is not None else value > o.scan, f"{who}: {key} {value}, scan {truth}"
        elif truth is not None:
            assert value >= truth, f"{who}: {key} {value} below the scan's {truth}"
    for r, res in enumerate(resolutions):
        want = o.status(res)
        counts = {
            "n_unproductive": sum(1 for s in want if s & U),
            "n_critical": sum(1 for s in want if s & CRIT),
            "n_border": sum(1 for s in want if s & BORDER),
            "n_partially_critical": sum(1 for s in want if s & PART),
        }
        unprod_macs = sum(o.macs(v, res) for v, s in enumerate(want) if s & U)
        for key, truth in counts.items():
            value = int(got[key][0, r])
            if claim == "exact":
                assert value == truth, f"{who}: {key} at {list(res)}"
            elif key in ("n_unproductive", "n_critical"):
                assert value >= truth, f"{who}: {key} at {list(res)}"
        if claim == "exact":
            assert int(got["macs_unproductive"][0, r]) == unprod_macs, f"{who}: macs_unproductive at {list(res)}"


def screen_dict(r: rfa_fast.ScreenResult) -> dict[str, np.ndarray]:
    """A ScreenResult under the key names of ``reference.run_graph``."""
    return {("graph_rf_max" if f == "rf_max" else f): getattr(r, f) for f in r.FIELDS}


def check_all(graph: Graph, resolutions: Sequence[Sequence[int]], ignore_1x1: bool = False) -> None:
    """Everything the oracle knows, against the core (analyze and screen) and the reference."""
    o = Oracle(graph, ignore_1x1=ignore_1x1)
    ref = reference.run_graph(graph, resolutions, ignore_1x1=ignore_1x1)
    check_per_graph(o, ref, resolutions, "reference")
    check_per_graph(o, screen_dict(rfa_fast.screen([graph], resolutions, ignore_1x1=ignore_1x1)), resolutions, "screen")
    for r, res in enumerate(resolutions):
        one_ref = {k: (v[r : r + 1] if k in reference.PER_NODE_AT_RESOLUTION_KEYS else v) for k, v in ref.items()}
        for who, got in (
            ("reference", one_ref),
            ("analyze", rfa_fast.analyze(graph, tuple(res), ignore_1x1=ignore_1x1).raw),
        ):
            check_per_node(o, got, res, who)
            check_statuses(o, got, res, who)


@st.composite
def small_cases(draw: st.DrawFn, dims: int) -> tuple[Graph, list[list[int]], bool]:
    graph = draw(graphs(max_nodes=12, dims=dims, max_jump=8))
    size = st.integers(1, MAX_RES)
    one = st.one_of(size.map(lambda i: [i] * dims), st.lists(size, min_size=dims, max_size=dims))
    res = draw(st.lists(one, min_size=1, max_size=3))
    return graph, res, draw(st.booleans())


@ORACLE
@given(small_cases(dims=1))
def test_oracle_1d(case: tuple[Graph, list[list[int]], bool]) -> None:
    note(case[0].to_json())
    check_all(*case)


@ORACLE
@given(small_cases(dims=2))
def test_oracle_2d(case: tuple[Graph, list[list[int]], bool]) -> None:
    note(case[0].to_json())
    check_all(*case)


# ---------------------------------------------------------------------------
# Fixed graphs: one rule each, the same checks without a random draw


def _fixed() -> dict[str, tuple[Graph, list[list[int]], bool]]:
    cases: dict[str, tuple[Graph, list[list[int]], bool]] = {}

    b = GraphBuilder("ceil_mode", dims=1)
    x = b.input()
    b.pool(x, 2, 2, pad=1, ceil_mode=True)  # the 4th window of n = 5 would start at n + pb: dropped
    b.pool(x, 2, 2, pad_begin=0, pad_end=1, ceil_mode=True)  # n = 4: the 3rd starts at n + pb = 4: dropped
    y = b.pool(x, 3, 2, pad=1, ceil_mode=True)
    b.conv(y, 3, 2, pad="same")
    cases["ceil_mode"] = (b.build(), [[i] for i in range(1, 13)], False)

    b = GraphBuilder("border_through_resize")
    x = b.conv(b.input(), 3, 2, pad=1)
    x = b.conv(x, 3, pad=1)
    x = b.resize(x, 2, "nearest")
    b.conv(x, 3, pad=1)
    cases["border_through_resize"] = (b.build(), [[i, i] for i in (2, 4, 7, 8)] + [[4, 9]], False)

    b = GraphBuilder("tie_break", dims=1)
    x = b.input()
    a = b.conv(b.resize(x, 2, "nearest"), 2)
    c = b.resize(b.conv(x, 2), 2, "nearest")
    b.conv(b.add(a, c), 2)
    cases["tie_break"] = (b.build(), [[2], [3], [5]], False)

    b = GraphBuilder("decoder")
    x = b.conv(b.input(), 3, 2, pad=1)
    x = b.pool(x, 2, 2)
    up = b.transposed(x, 4, 2, pad=1)
    b.conv(up, 3, pad=1)
    b.transposed(x, 1, 2)
    cases["decoder"] = (b.build(), [[i, i] for i in (3, 8, 16)], False)

    b = GraphBuilder("reduction")  # NAS-Bench-201's: 3x3/2 conv branch, 2x2/2 pool shortcut, summed
    x = b.input()
    m = b.add(b.conv(x, 3, 2, pad=1), b.conv(b.pool(x, 2, 2), 1))
    b.conv(m, 3, pad=1)
    cases["reduction"] = (b.build(), [[i, i] for i in (5, 6, 7, 8)], False)

    b = GraphBuilder("interpolation", dims=1)
    x = b.conv(b.input(), 3, 2)
    for mode in ("nearest", "linear", "cubic"):
        b.conv(b.resize(x, 2, mode), 2)
        b.resize(x, 0.5, mode)
    b.conv(b.resize(x, 1.5, "linear"), 2)
    cases["interpolation"] = (b.build(), [[9], [16]], False)

    b = GraphBuilder("pads")
    x = b.input()
    for pad in ("same", "same_lower", "valid"):
        b.conv(x, 4, 2, pad=pad)
    b.conv(x, 3, dilation=2, pad=2)
    b.pool(x, (3, 1), (2, 1), pad_begin=(1, 0), pad_end=(0, 0))
    cases["pads"] = (b.build(), [[7, 7], [8, 5]], False)

    b = GraphBuilder("ignore_1x1")
    x = b.conv(b.input(), 3, 2, pad=1, c_in=3, c_out=8)
    x = b.conv(x, 3, pad=1, c_in=8, c_out=8)
    x = b.conv(x, 1, c_in=8, c_out=8)
    b.conv(x, 3, pad=1, c_in=8, c_out=8)
    cases["ignore_1x1"] = (b.build(), [[4, 4], [6, 6]], True)

    b = GraphBuilder("context_and_disconnected")
    x = b.conv(b.input(), 3, pad=1, c_in=3, c_out=8)
    s = b.conv(b.global_pool(x), 1, c_in=8, c_out=8)
    y = b.mul(x, s)
    z = b.add(y, b.merge(op="constant"))
    b.dense(b.global_pool(b.conv(z, 3, 2, pad=1, c_in=8, c_out=8)), 8, 10)
    cases["context_and_disconnected"] = (b.build(), [[3, 3], [8, 8]], False)
    return cases


FIXED = _fixed()


@pytest.mark.parametrize("name", list(FIXED))
def test_oracle_fixed_graphs(name: str) -> None:
    check_all(*FIXED[name])


def test_oracle_docstring() -> None:
    import doctest

    import oracle

    assert doctest.testmod(oracle).failed == 0
