"""Same-topology batches and chains in the space engine's lanes equal the general engine.

``rfa_fast.screen`` runs a large batch whose graphs share one topology in
the lanes (``rfa_fast/space/batched.py``); ``screen_chains`` always does.
Both must give, key by key, what ``_core.analyze_batch`` (the general engine)
gives for the same graphs.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import graphs, resolutions

import rfa_fast
from rfa_fast import _core
from rfa_fast.batch import GraphBatch
from rfa_fast.graph import Graph
from rfa_fast.kinds import Kind, PadMode
from rfa_fast.results import ScreenResult
from rfa_fast.space.batched import batch_program, uniform_topology

EXAMPLES = int(os.environ.get("RFA_FAST_PROPERTY_EXAMPLES", "300"))
KEYS = tuple("graph_rf_max" if f == "rf_max" else f for f in ScreenResult.FIELDS)
"""The per-graph keys, as the core names them."""


def assert_same(want: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> None:
    for key in KEYS:
        a, b = want[key], got[key]
        assert a.shape == b.shape and a.dtype == b.dtype, key
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), f"{key}: lanes {b.tolist()}, graphs {a.tolist()}"


@st.composite
def variants(draw: st.DrawFn) -> list[Graph]:
    """A random graph without upsampling and copies of it with other kernels, dilations, pads and channels.

    Strides stay as they are, so every copy's jumps stay within the strategy's bounds.
    """
    g = draw(graphs(max_nodes=25))
    assume(all(n.kind not in (Kind.TRANSPOSED, Kind.RESIZE) for n in g.nodes))
    g = Graph(g.nodes, name=g.name, dims=g.dims)  # the last node the output: a program's (named ones: below)
    out = [g]
    for _ in range(draw(st.integers(1, 40))):
        nodes = list(g.nodes)
        for i, n in enumerate(nodes):
            if n.kind != Kind.WINDOW or not draw(st.booleans()):
                continue
            k = tuple(draw(st.sampled_from([1, 2, 3, 5])) for _ in range(g.dims))
            nodes[i] = replace(
                n,
                kernel=k,
                dilation=tuple(draw(st.sampled_from([1, 2])) for _ in range(g.dims)),
                pad_begin=tuple(draw(st.integers(0, 2)) for _ in range(g.dims)),
                pad_end=tuple(draw(st.integers(0, 2)) for _ in range(g.dims)),
                pad_mode=draw(st.sampled_from(list(PadMode))),
                ceil_mode=draw(st.booleans()),
                c_in=draw(st.sampled_from([0, 4, 8])),
                c_out=draw(st.sampled_from([0, 4])),
            )
        out.append(Graph(nodes, name=g.name, dims=g.dims, outputs=g.outputs))
    return out


@settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
@given(variants(), st.data(), st.booleans())
def test_batch_in_lanes_equals_general_engine(gs: list[Graph], data: st.DataObject, ignore_1x1: bool) -> None:
    batch = GraphBatch.from_graphs(gs)
    res = np.array(data.draw(resolutions(gs[0].dims)), dtype=np.int64)
    compiled = batch_program(batch.arrays, batch.dims)
    assert compiled is not None
    program, columns = compiled
    got = program.core.screen(np.zeros((len(gs), 0), np.uint8), columns, res, ignore_1x1, 0, True)
    assert_same(_core.analyze_batch(batch.arrays, res, ignore_1x1), got)


def test_named_outputs_take_the_general_path() -> None:
    """A program's output is its last node: a batch whose graphs name others is no program (and stays right)."""
    b = rfa_fast.GraphBuilder()
    x = b.input()
    head = b.conv(x, 3)
    b.conv(b.conv(x, 5, 2), 3)  # last node, and dead unless it is an output too
    g = b.build()
    gs = [Graph(g.nodes, name=f"g{i}", dims=2, outputs=[head]) for i in range(3)]
    batch = GraphBatch.from_graphs(gs)
    assert batch_program(batch.arrays, batch.dims) is None
    assert batch_program(GraphBatch.from_graphs([g] * 3).arrays, 2) is not None
    r = rfa_fast.screen(batch, 8)
    assert r.n_dead.tolist() == [2, 2, 2] and r.rf_max[:, 0].tolist() == [3.0] * 3
    both = [Graph(g.nodes, name="both", dims=2, outputs=[head, len(g.nodes) - 1])] * 3
    assert batch_program(GraphBatch.from_graphs(both).arrays, 2) is None
    assert rfa_fast.screen(both, 8).rf_max[:, 0].tolist() == [9.0] * 3  # 5x5/2 then 3x3 at jump 2


def test_large_batches_take_the_lanes_and_agree() -> None:
    g = rfa_fast.zoo.resnet50()
    rng = np.random.default_rng(0)
    stem = g.index("conv1") if any(n.name == "conv1" for n in g.nodes) else 1
    gs = [g.replace_node(stem, kernel=(int(k), int(k))) for k in rng.choice([1, 3, 5, 7], 400)]
    batch = GraphBatch.from_graphs(gs)
    assert len(batch) * len(g) >= 20_000  # above the size where screen() uses the lanes
    res = np.array([[32, 32], [224, 224], [64, 96]], dtype=np.int64)
    r = rfa_fast.screen(batch, res)
    want = _core.analyze_batch(batch.arrays, res)
    for key in KEYS:
        np.testing.assert_array_equal(getattr(r, "rf_max" if key == "graph_rf_max" else key), want[key], err_msg=key)


def test_uniform_topology_sees_differences() -> None:
    a = [{"op": "input"}, {"op": "conv", "kernel": 3}, {"op": "conv", "kernel": 3}]
    b = [{"op": "input"}, {"op": "conv", "kernel": 3}, {"op": "conv", "kernel": 3, "inputs": [0]}]
    assert uniform_topology(GraphBatch.from_specs([a, a]).arrays) == 3
    assert uniform_topology(GraphBatch.from_specs([a, b]).arrays) is None  # other edges
    assert uniform_topology(GraphBatch.from_specs([a, a[:2]]).arrays) is None  # other sizes
    c = [{"op": "input"}, {"op": "conv", "kernel": 3}, {"op": "identity"}]
    assert uniform_topology(GraphBatch.from_specs([a, c]).arrays) is None  # other kinds


def test_bad_values_in_a_large_batch_are_named_like_the_general_engine() -> None:
    g = rfa_fast.zoo.vgg16()
    batch = GraphBatch.from_graphs([g] * 3000)
    batch.arrays["stride"] = batch.arrays["stride"].copy()
    batch.arrays["stride"][len(g) * 2000 + 3, 0] = 0
    with pytest.raises(
        rfa_fast.GraphError, match=r"node 'features.4' \(maxpool\) in graph 2000 \('vgg16'\): stride 0 on axis 0"
    ):
        rfa_fast.screen(batch, 32)


def test_unpickled_batches_and_programs_still_screen() -> None:
    g = rfa_fast.zoo.vgg16()
    batch = pickle.loads(pickle.dumps(GraphBatch.from_graphs([g] * 2)))  # numpy makes new dtype objects
    assert rfa_fast.screen(batch, 32).n_unproductive.tolist() == rfa_fast.screen([g, g], 32).n_unproductive.tolist()
    compiled = batch_program(GraphBatch.from_graphs([g] * 2).arrays, 2)
    assert compiled is not None
    program = pickle.loads(pickle.dumps(compiled[0]))
    raw = program.core.screen(np.zeros((2, 0), np.uint8), compiled[1], np.array([[32, 32]]), False, 1, True)
    assert raw["n_unproductive"].tolist() == rfa_fast.screen([g, g], 32).n_unproductive.tolist()
