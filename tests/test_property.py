"""Property tests: the compiled core equals the plain-Python oracle on random graphs.

``rfa_fast.reference.run_graph`` (exact rationals, docs/semantics.md rule by
rule) and ``rfa_fast._core.analyze_batch(..., per_node=True)`` must return
the same keys, dtypes, shapes and values (floats exactly, NaN equal to NaN).
The graphs come from ``tests/strategies.py``: every node kind, pad mode,
upsampling factor, global and disconnected nodes.

The last tests check the oracle itself against brute force: i_min against
the status at every resolution, and rf_max against the footprints of units.
"""

from __future__ import annotations

import math
import os

import nets
import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from strategies import graph_and_resolutions, graph_batches, graphs

from rfa_fast import _core, reference
from rfa_fast.batch import GraphBatch
from rfa_fast.graph import Graph

# Thousands of random graphs per run (RFA_FAST_PROPERTY_EXAMPLES raises it for a long soak).
PROPERTY = settings(
    max_examples=int(os.environ.get("RFA_FAST_PROPERTY_EXAMPLES", "1000")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
LARGE = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


def core_run(graphs: list[Graph], res: list[list[int]], **kw: object) -> dict[str, np.ndarray]:
    """The compiled core on a batch of graphs, every per-node output requested."""
    arrays = GraphBatch.from_graphs(graphs).arrays
    return _core.analyze_batch(arrays, np.array(res, dtype=np.int64), per_node=True, **kw)


def assert_same(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray], graph: object = None) -> None:
    """Same keys, and for every key the same dtype, shape and values (exact; NaN equals NaN)."""
    assert sorted(actual) == sorted(expected)
    for key, want in expected.items():
        got = actual[key]
        assert got.dtype == want.dtype, f"{key}: dtype {got.dtype}, expected {want.dtype}"
        assert got.shape == want.shape, f"{key}: shape {got.shape}, expected {want.shape}"
        if not np.array_equal(got, want, equal_nan=want.dtype.kind == "f"):
            bad = np.argwhere(
                ~((got == want) | (np.isnan(got) & np.isnan(want)) if want.dtype.kind == "f" else got == want)
            )
            where = bad[0].tolist()
            spec = graph.to_json() if isinstance(graph, Graph) else ""
            raise AssertionError(
                f"{key} differs at {where}: core {got[tuple(where)]!r}, reference {want[tuple(where)]!r} "
                f"({len(bad)} entries differ)\n{spec}"
            )


@PROPERTY
@given(graph_and_resolutions(max_nodes=40), st.booleans())
def test_core_equals_reference(case: tuple[Graph, list[list[int]]], ignore_1x1: bool) -> None:
    graph, res = case
    expected = reference.run_graph(graph, res, ignore_1x1=ignore_1x1)
    assert_same(expected, core_run([graph], res, ignore_1x1=ignore_1x1), graph)


@LARGE
@given(graph_and_resolutions(max_nodes=300))
def test_core_equals_reference_on_large_graphs(case: tuple[Graph, list[list[int]]]) -> None:
    graph, res = case
    assert_same(reference.run_graph(graph, res), core_run([graph], res), graph)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_batches(max_graphs=6, max_nodes=30))
def test_batch_equals_one_by_one(case: tuple[list[Graph], list[list[int]]]) -> None:
    gs, res = case
    together = core_run(gs, res)
    assert_same(reference.run_batch(gs, res), together)
    offsets = np.cumsum([0] + [len(g) for g in gs])
    for b, g in enumerate(gs):
        alone = core_run([g], res)
        for key, value in alone.items():
            if key in reference.PER_NODE_KEYS:
                part = together[key][offsets[b] : offsets[b + 1]]
            elif key in reference.PER_NODE_AT_RESOLUTION_KEYS:
                part = together[key][:, offsets[b] : offsets[b + 1]]
            else:
                part = together[key][b : b + 1]
            np.testing.assert_array_equal(part, value, err_msg=f"graph {b}, {key}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_batches(max_graphs=8, max_nodes=30))
def test_threads_do_not_change_results(case: tuple[list[Graph], list[list[int]]]) -> None:
    gs, res = case
    one = core_run(gs, res, threads=1)
    two = core_run(gs, res, threads=2)
    assert_same(one, two)


def _per_graph(out: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    skip = set(reference.PER_NODE_KEYS) | set(reference.PER_NODE_AT_RESOLUTION_KEYS)
    return {k: v for k, v in out.items() if k not in skip}


@PROPERTY
@given(graph_and_resolutions(max_nodes=40), st.booleans(), st.lists(st.integers(1, 300), min_size=1, max_size=12))
def test_screen_thresholds_equal_reference(
    case: tuple[Graph, list[list[int]]], ignore_1x1: bool, squares: list[int]
) -> None:
    """Without per-node outputs, square resolutions are answered by per-node thresholds
    (csrc/rfa/thresholds.cpp), rectangular ones by a pass each: both equal the oracle."""
    graph, res = case
    res = res + [[i] * graph.dims for i in squares]
    expected = _per_graph(reference.run_graph(graph, res, ignore_1x1=ignore_1x1))
    arrays = GraphBatch.from_graphs([graph]).arrays
    got = _core.analyze_batch(arrays, np.array(res, dtype=np.int64), ignore_1x1=ignore_1x1)
    assert_same(expected, got, graph)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_batches(max_graphs=6, max_nodes=30), st.lists(st.integers(1, 2000), min_size=1, max_size=40))
def test_thresholds_equal_passes(case: tuple[list[Graph], list[list[int]]], squares: list[int]) -> None:
    """The threshold path and the per-resolution passes with bisection agree on every per-graph key."""
    gs, res = case
    res = res + [[i] * len(res[0]) for i in squares]
    arrays = GraphBatch.from_graphs(gs).arrays
    r = np.array(res, dtype=np.int64)
    assert_same(_core.analyze_batch(arrays, r, force_passes=True), _core.analyze_batch(arrays, r))


# ---------------------------------------------------------------------------
# The oracle against brute force


def _first_free(run_status: dict[str, np.ndarray]) -> int | None:
    """The first resolution index with no unproductive node, if every later one is free too."""
    free = run_status["n_unproductive"][0] == 0
    if not free[-1]:
        return None
    first = int(np.argmax(free))
    assert free[first:].all(), "unproductive again at a larger resolution: the predicate is not monotone"
    return first


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=14), st.booleans())
def test_reference_i_min_is_the_first_free_resolution(graph: Graph, ignore_1x1: bool) -> None:
    out = reference.run_graph(graph, [[1] * graph.dims], ignore_1x1=ignore_1x1)
    i_min = out["i_min"][0]
    if math.isnan(i_min) or math.isinf(i_min) or i_min > 150:
        return  # disconnected, or too large to scan here
    bound = int(i_min) + 40
    scan = reference.run_graph(graph, [[i] * graph.dims for i in range(1, bound + 1)], ignore_1x1=ignore_1x1)
    assert _first_free(scan) == int(i_min) - 1
    if not ignore_1x1:  # the per-axis rule is the square rule of the 1-D projection
        for a in range(graph.dims):
            axis = nets.project(graph, a)
            top = int(out["i_min_axes"][0, a])
            scan = reference.run_graph(axis, [[i] for i in range(1, max(top, 1) + 40)])
            assert _first_free(scan) == top - 1, f"axis {a}"


@st.composite
def _chains(draw: st.DrawFn) -> tuple[Graph, bool]:
    """A random 1-D chain, and whether docs/semantics.md ("Exactness") says its rf_max is exact.

    Exact: after the first upsampling only undilated stride-1 windows and
    integer upsamplings (nearest, transposed; linear and cubic by 2 or 4).
    """
    layers: list[tuple] = []
    exact, upsampled, ups = True, False, 0
    for _ in range(draw(st.integers(1, 7))):
        kinds = ["conv", "conv", "conv", "pool"] + (["tconv", "nearest", "linear", "cubic"] if ups < 3 else [])
        kind = draw(st.sampled_from(kinds))
        if kind in ("conv", "pool"):
            k, s = draw(st.integers(1, 5)), draw(st.sampled_from([1, 1, 2, 3]))
            d = draw(st.sampled_from([1, 1, 2])) if kind == "conv" else 1
            layers.append((kind, k, s, d) if kind == "conv" else (kind, k, s))
            exact &= not (upsampled and (s > 1 or d > 1))
        elif kind == "tconv":
            layers.append(("tconv", draw(st.integers(1, 5)), draw(st.sampled_from([2, 3]))))
            upsampled, ups = True, ups + 1
        else:
            f = draw(st.sampled_from([2, 3, 4, 0.5, 1.5, 1 / 3]))
            layers.append((kind, f))
            if f == 0.5:
                exact &= not upsampled
            else:
                exact &= f in ((2, 3, 4) if kind == "nearest" else (2, 4))
                upsampled, ups = True, ups + 1
    return nets.chain_1d(*layers), exact


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_chains())
def test_reference_rf_max_bounds_the_true_footprint(case: tuple[Graph, bool]) -> None:
    graph, exact = case
    note(graph.to_json())
    truth = nets.largest_footprints(graph, range(-200, 200))  # at most 3 upsamplings by <= 4: every phase
    got = reference.run_graph(graph, [[64]])["rf_max"][:, 0].tolist()
    # never below the true field (nodes whose units read nothing have no true field)
    assert all(t is None or g >= t for g, t in zip(got, truth)), (got, truth)
    if exact:
        assert got == truth


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from([1, 2, 3]).flatmap(lambda d: graphs(max_nodes=12, dims=d)), min_size=1, max_size=6),
    st.lists(st.integers(1, 200), min_size=1, max_size=3),
    st.randoms(use_true_random=False),
)
def test_mixed_dimensionality_batches_equal_each_graph_alone(gs: list[Graph], sizes: list[int], rnd: object) -> None:
    """A random mix of 1-D, 2-D and 3-D graphs in random order (issue 17): one screen gives, row by row,
    what screening each graph alone gives; the per-axis arrays are padded with NaN past each graph's D."""
    import rfa_fast

    rnd.shuffle(gs)  # type: ignore[attr-defined]
    mixed = rfa_fast.screen(gs, sizes)
    assert mixed.dims.tolist() == [g.dims for g in gs]
    for b, g in enumerate(gs):
        one = rfa_fast.screen([g], sizes)
        for f in ("n_unproductive", "n_border", "n_critical", "macs", "macs_unproductive", "params"):
            assert getattr(mixed, f)[b].tolist() == getattr(one, f)[0].tolist(), f
        for f in ("i_min", "i_max", "connected", "aligned"):
            np.testing.assert_array_equal(getattr(mixed, f)[b], getattr(one, f)[0])
        for f in ("rf_max", "i_min_axes", "i_max_axes"):
            np.testing.assert_array_equal(getattr(mixed, f)[b, : g.dims], getattr(one, f)[0])
            assert np.isnan(getattr(mixed, f)[b, g.dims :]).all()
