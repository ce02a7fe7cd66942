"""Per-node thresholds (csrc/rfa/thresholds.cpp) on graphs chosen to stress them.

The property tests compare the threshold path with the oracle on random
graphs; here are the shapes random graphs rarely reach: feature-map classes
too many for the work budget (the core falls back to one pass per
resolution and a bisection), merges of maps on different grids nested
hundreds deep, and sweeps over thousands of resolutions.
"""

from __future__ import annotations

import numpy as np
import pytest

import rfa_fast
from rfa_fast import _core, reference
from rfa_fast.batch import GraphBatch
from rfa_fast.graph import Graph, GraphBuilder

PER_GRAPH = ("n_unproductive", "n_border", "n_critical", "n_partially_critical", "macs", "macs_unproductive")


def valid_chain(n: int) -> Graph:
    """n unpadded 3x3 convs: every layer shrinks the map, so every layer starts a feature-map class
    and inverting rule (b) costs O(n^2) steps: beyond the budget, the fallback answers."""
    g = GraphBuilder("valid_chain")
    x = g.input()
    for i in range(n):
        x = g.conv(x, 3, c_in=4, c_out=4, name=f"c{i}")
    return g.build()


def nested_merges(blocks: int) -> Graph:
    """Each block takes the max of an unpadded 3x3 conv and an unpadded 2x2 pool (maps of different
    sizes, so a new merge class nested in the last one), then a padded conv."""
    g = GraphBuilder("nested")
    x = g.input()
    x = g.conv(x, 3, pad=1, c_in=3, c_out=8)
    for i in range(blocks):
        a = g.conv(x, 3, c_in=8, c_out=8, name=f"a{i}")
        p = g.pool(x, 2, 1, name=f"p{i}")
        x = g.add(a, p, op="max", name=f"m{i}")
    return g.build()


def run(graph: Graph, res: list[list[int]], **kw: object) -> dict[str, np.ndarray]:
    return _core.analyze_batch(GraphBatch.from_graphs([graph]).arrays, np.array(res, dtype=np.int64), **kw)


@pytest.mark.parametrize("graph", [valid_chain(300), nested_merges(260)], ids=["valid chain", "nested merges"])
def test_beyond_the_budget_equals_the_reference(graph: Graph) -> None:
    res = [[i, i] for i in (1, 7, 40, 300, 700, 1200)] + [[650, 610]]
    ref = reference.run_graph(graph, res)
    got = run(graph, res)
    for key in (*PER_GRAPH, "i_min", "i_min_axes"):
        np.testing.assert_array_equal(got[key], ref[key], err_msg=key)
    forced = run(graph, res, force_passes=True)
    for key in (*PER_GRAPH, "i_min", "i_min_axes"):
        np.testing.assert_array_equal(got[key], forced[key], err_msg=key)


def test_i_min_is_the_first_resolution_without_unproductive_layers() -> None:
    zoo = [rfa_fast.zoo.resnet18(), rfa_fast.zoo.vgg16(), rfa_fast.zoo.mobilenet_v2(), nested_merges(6)]
    sweep = list(range(1, 400))
    r = rfa_fast.screen(GraphBatch.from_graphs(zoo), sweep)
    for b, graph in enumerate(zoo):
        free = r.n_unproductive[b] == 0
        first = sweep[int(np.argmax(free))]
        assert free[first - 1 :].all()
        assert r.i_min[b] == first, graph.name


def test_a_sweep_equals_single_resolutions() -> None:
    graphs = [rfa_fast.zoo.resnet50(), rfa_fast.zoo.densenet121(), valid_chain(12)]
    batch = GraphBatch.from_graphs(graphs)
    sweep = [3, 900, 17, 224, 32, 32, 64, 1, 511]  # unsorted, with a repeat
    r = rfa_fast.screen(batch, sweep)
    for j, i in enumerate(sweep):
        one = rfa_fast.screen(batch, i)
        for key in ("n_unproductive", "n_border", "macs_unproductive"):
            np.testing.assert_array_equal(getattr(r, key)[:, j], getattr(one, key)[:, 0], err_msg=f"{key} at {i}")
