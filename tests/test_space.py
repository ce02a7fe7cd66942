"""rfa_fast.Space: declaring, encoding, materializing, hand-derived screens, bad input.

The hand-derived case below fixes every output key of ``space.screen`` for
two candidates of a small 1-D space, with the arithmetic in comments; the
property tests (``test_space_property.py``) then carry the equality with
``screen`` of the materialized graphs to random spaces.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rfa_fast
from rfa_fast import Space, SpecError, reference
from rfa_fast.kinds import Kind


def hand_space() -> Space:
    """input -> c1 (kernel K in {3, 5}, no pad, 1 -> 2 channels) -> c2 (3, stride S in {1, 2}, pad 1, 2 -> 2)
    -> global pool -> dense 2 -> 10, on one axis."""
    sp = Space("hand", dims=1)
    x = sp.input("input")
    x = sp.conv(x, sp.choice("K", [3, 5]), c_in=1, c_out=2, name="c1")
    x = sp.conv(x, 3, stride=sp.choice("S", [1, 2]), pad=1, c_in=2, c_out=2, name="c2")
    x = sp.global_pool(x, name="gap")
    sp.dense(x, 2, 10, name="fc")
    return sp.build()


def test_hand_derived_screen() -> None:
    space = hand_space()
    rows = np.array([space.encode({"K": 3, "S": 1}), space.encode({"K": 5, "S": 2})])
    r = space.screen(rows, [4, 7, 12])
    # Candidate 0 (K=3, S=1). Fields: c1 rf 3, jump 1; c2 rf 3 + 2 = 5.
    #   maps: c1 = I - 2; c2 = c1 (pad 1, stride 1).
    #   I=4: c1 map 2 (input 4 > k'=3: productive); c2's input is 2 <= 3: unproductive, border; c2 critical (5 > 4).
    #        MACs: c1 2*1*3 * 2 = 12, c2 2*2*3 * 2 = 24 (unproductive), dense 2*10 = 20 -> 56, 24 unproductive.
    #   I=7: c1 map 5, c2's input 5 > 3 and rf_min(c1) 3 < 7: none unproductive; MACs 6*5 + 12*5 + 20 = 110.
    #   I=12: c1 map 10: MACs 6*10 + 12*10 + 20 = 200.
    #   I_min: c1 T = max(min(1+1, 3), smallest I with I >= 4) = 4; c2 T = max(min(3+1, 5), I - 2 >= 4 -> 6) = 6.
    # Candidate 1 (K=5, S=2). c1 rf 5; c2 rf 5 + 2 = 7, jump 2. maps: c1 = I - 4, c2 = floor((c1 - 1)/2) + 1.
    #   I=4: c1's input 4 <= 5: unproductive (border); its map 0, so c2 is unproductive too (not a border).
    #        critical: c1 (5 > 4) and c2 (7 > 4). MACs: only the dense layer, 20.
    #   I=7: c1's input 7 > 5 (productive), map 3; c2's input 3 <= 3: unproductive, border; c2's map
    #        floor(2/2) + 1 = 2: MACs c1 10*3 = 30, c2 12*2 = 24 (unproductive), dense 20 -> 74.
    #   I=12: c1 map 8, c2 map floor(7/2) + 1 = 4: MACs 80 + 48 + 20 = 148.
    #   I_min: c1 T = max(2, I >= 6) = 6; c2 T = max(min(5+1, 7), I - 4 >= 4 -> 8) = 8.
    assert r.n_unproductive.tolist() == [[1, 0, 0], [2, 1, 0]]
    assert r.n_border.tolist() == [[1, 0, 0], [1, 1, 0]]
    assert r.n_critical.tolist() == [[1, 0, 0], [2, 0, 0]]
    assert r.n_partially_critical.tolist() == [[0, 0, 0], [0, 0, 0]]  # one axis: all or nothing
    assert r.macs.tolist() == [[56, 110, 200], [20, 74, 148]]
    assert r.macs_unproductive.tolist() == [[24, 0, 0], [0, 24, 0]]
    assert r.i_min.tolist() == [6.0, 8.0] and r.i_min_axes.tolist() == [[6.0], [8.0]]
    assert r.i_max.tolist() == [5.0, 7.0] and r.i_max_axes.tolist() == [[5.0], [7.0]]
    assert r.rf_max.tolist() == [[5.0], [7.0]]  # the deepest spatial layer, c2
    assert r.connected.tolist() == [True, True] and r.aligned.tolist() == [True, True]
    assert r.params.tolist() == [6 + 12 + 20, 10 + 12 + 20]
    # the same through the materialized graphs and the plain-Python reference
    graphs = [space.graph(row) for row in rows]
    want = reference.run_batch(graphs, [[4], [7], [12]])
    for key in ("n_unproductive", "n_border", "macs", "macs_unproductive", "i_min", "params"):
        np.testing.assert_array_equal(getattr(r, key), want[key], err_msg=key)


def nas_like_space() -> Space:
    """A cell with an op choice on each of two edges (fused), an optional block, and an edge choice."""
    sp = Space("cell")
    x = sp.input("input")
    x = sp.conv(x, 3, pad=1, c_in=3, c_out=8, name="stem")
    ops = {
        "none": None,
        "skip": "identity",
        "conv3": lambda x: sp.conv(x, 3, pad=1, c_in=8, c_out=8, name="e.conv3"),
        "pool": lambda x: sp.pool(x, 3, 1, pad=1, name="e.pool"),
    }
    a = sp.choose("op_a", x, ops)
    b = sp.choose("op_b", x, {k: v for k, v in ops.items() if k != "none"})
    y = sp.add(a, b, name="sum")
    depth = sp.choice("depth", [1, 2, 3])
    y = sp.when(depth >= 2, y, lambda y: sp.conv(y, 3, 2, pad=1, c_in=8, c_out=8, name="down"))
    y = sp.when(depth >= 3, y, lambda y: sp.conv(sp.conv(y, 3, pad=1, name="deep1"), 3, pad=1, name="deep2"))
    z = sp.add(y, sp.edge("skip_edge", x), name="out", collapse=True)
    sp.global_pool(z, name="gap")
    return sp.build()


def test_declaration_api() -> None:
    space = nas_like_space()
    assert [c.name for c in space.choices] == ["op_a", "op_b", "depth", "skip_edge"]
    assert space.choices[0].options == ("none", "skip", "conv3", "pool")
    assert space.size == 4 * 3 * 3 * 2
    assert space.row_dtype == np.uint8
    row = space.encode({"op_a": "conv3", "op_b": "skip", "depth": 3, "skip_edge": 0})
    assert row.tolist() == [2, 0, 2, 0]
    assert space.decode(row) == {"op_a": "conv3", "op_b": "skip", "depth": 3, "skip_edge": 0}
    g = space.graph(row)
    assert [n.name for n in g.nodes] == ["input", "stem", "e.conv3", "sum", "down", "deep1", "deep2", "gap"]
    # the collapsing "out" merge with its edge off is its one input; the sum reads stem twice (conv3, skip)
    assert g.nodes[g.index("sum")].inputs == (2, 1)
    g2 = space.graph(space.encode({"op_a": "none", "op_b": "pool", "depth": 1, "skip_edge": 1}))
    assert [n.name for n in g2.nodes] == ["input", "stem", "e.pool", "sum", "out", "gap"]
    assert g2.nodes[g2.index("out")].inputs == (3, 1)  # sum and the stem through the edge
    rows = space.sample(1000, seed=1)
    assert rows.shape == (1000, 4) and rows.dtype == np.uint8
    assert all(rows[:, c].max() == len(ch.options) - 1 and rows[:, c].min() == 0 for c, ch in enumerate(space.choices))
    np.testing.assert_array_equal(space.sample(5, seed=3), space.sample(5, seed=3))


def test_every_candidate_of_a_small_space_equals_its_graph() -> None:
    space = nas_like_space()
    rows = np.array(np.meshgrid(*[range(len(c.options)) for c in space.choices], indexing="ij")).reshape(4, -1).T
    res = [[8, 8], [32, 32], [20, 12]]
    got = space.screen(rows, res, ignore_1x1=True)
    want = rfa_fast.screen([space.graph(r) for r in rows], res, ignore_1x1=True)
    for key in want.FIELDS:
        np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)
    assert space.program.lanes
    raw = space.program.core.screen(np.ascontiguousarray(rows, dtype=np.int64), [], np.array(res), True, 1, True)
    # The lanes answer every candidate but those whose last merge adds maps of different jumps (the
    # strided block and the stem through the edge): the general engine answers those (docs/spaces.md).
    depth, edge = rows[:, 2], rows[:, 3]
    np.testing.assert_array_equal(raw["materialized"], (depth >= 1) & (edge == 1))
    assert (~got.aligned[raw["materialized"]]).all()


def test_a_none_edge_into_a_conv_reads_a_constant() -> None:
    sp = Space("none_input")
    x = sp.input("input")
    y = sp.choose("op", x, {"none": None, "skip": "identity"})
    sp.conv(y, 3, name="conv")
    space = sp.build()
    g = space.graph(space.encode({"op": "none"}))
    assert [n.name for n in g.nodes] == ["input", "conv.none", "conv"]
    assert g.nodes[1].kind == Kind.MERGE and g.nodes[1].inputs == ()
    r = space.screen(np.array([[0], [1]]), 32)
    assert r.connected.tolist() == [False, True]
    assert math.isnan(r.i_min[0]) and r.rf_max[1].tolist() == [3.0, 3.0]


def test_spaces_with_upsampling_are_answered_through_graphs() -> None:
    sp = Space("decoder")
    x = sp.input("input")
    x = sp.conv(x, 3, stride=sp.choice("s", [1, 2]), pad=1, name="down")
    x = sp.resize(x, 2.0, "nearest", name="up")
    sp.conv(x, 3, pad=1, name="head")
    space = sp.build()
    assert not space.program.lanes
    rows = np.array([[0], [1]])
    got = space.screen(rows, [16, 64])
    want = rfa_fast.screen([space.graph(r) for r in rows], [16, 64])
    for key in want.FIELDS:
        np.testing.assert_array_equal(getattr(got, key), getattr(want, key), err_msg=key)


# -- bad input -----------------------------------------------------------------


def test_rows_out_of_range_name_the_candidate_and_the_choice() -> None:
    space = nas_like_space()
    rows = space.sample(100, seed=0).astype(np.int64)
    rows[57, 2] = 3
    with pytest.raises(
        SpecError, match=r"candidate 57: choice 'depth' \(3 options\) has index 3, must be in 0..2"
    ) as e:
        space.screen(rows, 32)
    assert e.value.candidate == 57
    rows[57, 2] = -1
    with pytest.raises(SpecError, match="candidate 57: choice 'depth'"):
        space.screen(rows, 32)


@pytest.mark.parametrize(
    "rows, match",
    [
        (np.zeros((3, 5), np.int64), r"must be \[B, 4\]"),
        (np.zeros((3, 4), np.float64), "must be an integer array"),
        (np.zeros((2, 2, 4), np.int64), r"must be \[B, 4\]"),
        ([["a", "b", "c", "d"]], "must be an integer array"),
    ],
)
def test_rows_of_the_wrong_shape_or_type(rows: object, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        nas_like_space().screen(rows, 32)


def test_encode_and_decode_errors() -> None:
    space = nas_like_space()
    with pytest.raises(SpecError, match="has no choice 'width'"):
        space.encode({"op_a": "none", "op_b": "skip", "depth": 1, "skip_edge": 0, "width": 3})
    with pytest.raises(SpecError, match=r"no option given for \['skip_edge'\]"):
        space.encode({"op_a": "none", "op_b": "skip", "depth": 1})
    with pytest.raises(SpecError, match="choice 'depth' has no option 4"):
        space.encode({"op_a": "none", "op_b": "skip", "depth": 4, "skip_edge": 0})
    with pytest.raises(SpecError, match="has 4 choice indices"):
        space.decode([0, 1])


def test_declaration_errors() -> None:
    sp = Space("bad")
    x = sp.input()
    k = sp.choice("k", [3, 5])
    with pytest.raises(SpecError, match="already has a choice named 'k'"):
        sp.choice("k", [1])
    with pytest.raises(SpecError, match="kernel must be >= 1"):
        sp.conv(x, k - 5)
    hidden = []

    def body(y: int) -> int:
        hidden.append(sp.conv(y, 3))
        return hidden[-1]

    sp.when(k >= 5, x, body)
    with pytest.raises(SpecError, match="used outside it"):
        sp.conv(hidden[0], 3)
    with pytest.raises(SpecError, match="cover the options"):
        sp.choose(k, x, {3: None})
    with pytest.raises(SpecError, match="a condition is 0 or 1"):
        sp.when(k + 1, x, lambda y: y)
    op = sp.choice("op", ["a", "b"])
    with pytest.raises(SpecError, match="not integers"):
        sp.conv(x, op)
    with pytest.raises(SpecError, match="no truth value"):
        if k >= 5:  # a declaration, not a run: there is no candidate yet
            pass
    sp.build()
    with pytest.raises(SpecError, match="is built"):
        sp.conv(x, 3)


def test_a_computed_value_out_of_range_names_the_candidate_and_node() -> None:
    sp = Space("computed")
    x = sp.input("input")
    c = sp.choice("c", [0, 1, 2])
    width = sp.computed("width", lambda rows: 8 - 8 * rows[:, 0])  # 8, 0, -8: negative channels for c = 2
    sp.conv(x, 3, c_in=3, c_out=width, name="conv")
    space = sp.build()
    assert space.screen(np.array([[0], [1]]), 32).params.tolist() == [8 * 3 * 9, 0]
    with pytest.raises(SpecError, match="candidate 1, node 'conv': c_out is -8, must be in 0"):
        space.screen(np.array([[0], [2]]), 32)
    assert c.options == (0, 1, 2)


def test_an_edge_that_is_off_leaves_its_source_dead() -> None:
    """x -> a 3x3 -> (a + edge(b)) -> head 3x3, with b = 5x5 on a: b is dead when the edge is off.

    Off: live fields a 3, the sum 3, head 5: rf_max 5; b (rf 7) is dead, n_dead 1. On: b is
    read, the sum's rf_max is 7 and head's 9; nothing is dead. The lanes (a SELECT passes
    liveness to its chosen input only) agree with the graphs the rows stand for.
    """
    sp = rfa_fast.Space("side_edge")
    x = sp.input()
    a = sp.conv(x, 3, pad=1, c_in=1, c_out=2, name="a")
    b = sp.conv(a, 5, pad=2, c_in=2, c_out=2, name="b")
    y = sp.add(a, sp.edge("use_b", b), name="sum")
    sp.conv(y, 3, pad=1, c_in=2, c_out=2, name="head")
    space = sp.build()
    rows = np.array([[0], [1]], np.uint8)
    r = space.screen(rows, 16)
    assert r.n_dead.tolist() == [1, 0] and r.rf_max[:, 0].tolist() == [5.0, 9.0]
    assert r.macs_dead[:, 0].tolist() == [2 * 2 * 25 * 16 * 16, 0]
    want = rfa_fast.screen([space.graph(row) for row in rows], 16)
    for f in rfa_fast.ScreenResult.FIELDS:
        np.testing.assert_array_equal(getattr(r, f), getattr(want, f), err_msg=f)
