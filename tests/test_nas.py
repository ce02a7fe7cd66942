"""NAS-Bench-201 and NAS-Bench-101 adapters: parsing, hand-derived numbers, packer vs builder vs reference."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

import rfa_fast
from rfa_fast import GraphBatch, SpecError
from rfa_fast.nas import (
    NB201_OPS,
    nb101_batch,
    nb101_graph,
    nb101_spec,
    nb201_all,
    nb201_batch,
    nb201_cell_string,
    nb201_graph,
    nb201_ops_array,
    nb201_parse,
)

EXAMPLE = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|"
ALL_CONV3 = (3,) * 6


def assert_same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        assert np.array_equal(a[k], b[k]), k


def assert_same_results(r: rfa_fast.ScreenResult, ref: dict[str, np.ndarray], rows: slice | int) -> None:
    for f in rfa_fast.ScreenResult.FIELDS:
        ours = np.atleast_1d(getattr(r, f)[rows])
        theirs = np.asarray(ref["graph_rf_max" if f == "rf_max" else f]).reshape(ours.shape)
        assert np.array_equal(ours, theirs, equal_nan=True), (f, ours, theirs)


# --- NAS-Bench-201: cell forms --------------------------------------------------


def test_parse_string_and_tuple_forms() -> None:
    assert nb201_parse(EXAMPLE) == (3, 0, 1, 2, 1, 4)
    assert nb201_cell_string((3, 0, 1, 2, 1, 4)) == EXAMPLE
    # edges may be listed in any order within a node
    assert nb201_parse("|nor_conv_3x3~0|+|skip_connect~1|none~0|+|avg_pool_3x3~2|nor_conv_1x1~0|skip_connect~1|") == (
        3,
        0,
        1,
        2,
        1,
        4,
    )
    a = nb201_ops_array([EXAMPLE, (3, 0, 1, 2, 1, 4), [0] * 6, np.array([4] * 6)])
    assert a.dtype == np.uint8 and a.tolist() == [[3, 0, 1, 2, 1, 4]] * 2 + [[0] * 6, [4] * 6]


def test_parse_round_trip_of_every_cell() -> None:
    cells = nb201_all()
    assert cells.shape == (15625, 6) and len({tuple(r) for r in cells.tolist()}) == 15625
    for row in cells[::7].tolist():
        assert nb201_parse(nb201_cell_string(row)) == tuple(row)


@pytest.mark.parametrize(
    "bad, words",
    [
        ("|nor_conv_3x3~0|+|none~0|skip_connect~1|", "expected 3 '\\+'-separated"),
        ("|conv_5x5~0|+|none~0|skip_connect~1|+|none~0|none~1|none~2|", "unknown op 'conv_5x5'"),
        ("|none~0|+|none~0|+|none~0|none~1|none~2|", "node 2 needs 2"),
        ("|none~0|+|none~0|none~2|+|none~0|none~1|none~2|", "from a node 0..1"),
        ("|none~0|+|none~0|none~0|+|none~0|none~1|none~2|", "given twice"),
    ],
)
def test_parse_errors_name_the_cell_and_problem(bad: str, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        nb201_parse(bad)


def test_bad_op_tuples_and_arrays() -> None:
    with pytest.raises(SpecError, match="cell 1: .*6 op indices in 0..4"):
        nb201_batch([ALL_CONV3, (5, 0, 0, 0, 0, 0)])
    with pytest.raises(SpecError, match=r"integer \[B, 6\]"):
        nb201_batch(np.zeros((3, 5), dtype=np.int64))
    with pytest.raises(SpecError, match="0..4"):
        nb201_batch(np.full((2, 6), 7))
    with pytest.raises(SpecError, match="at least one cell"):
        nb201_batch([])


# --- NAS-Bench-201: numbers worked out by hand ------------------------------------


def test_all_conv3x3_cell_by_hand() -> None:
    """Every edge nor_conv_3x3 (pad 1): each conv adds 2 jumps to the field.

    rf_max follows the longest path, 3 convs per cell (0->1->2->3):
    stem 3; stage 0 (jump 1) 5 cells x 3 convs x 2 = +30 -> 33; reduction 1:
    conv_a 3x3/2 +2 -> 35 (jump 2), conv_b +4 -> 39 (the shortcut, 2x2/2 pool
    and 1x1 conv, gives 34: the sum keeps 39); stage 1: 15 convs x 4 -> 99;
    reduction 2: +4 (jump 4), +8 -> 111; stage 2: 15 convs x 8 -> 231.

    rf_min follows the shortest path, one conv per cell (0->3): 3 + 5x2 = 13;
    the shortcut pool +1 -> 14 (jump 2); + 5x4 -> 34; shortcut +2 -> 36
    (jump 4); + 5x8 -> 76 at the last cell's output.

    At 32 px a conv is unproductive when its input's rf_min >= 32 (rule a):
    in the last cell of stage 1 (input rf_min 30) the convs out of nodes 1 and
    2 (rf_min 34) -> 3, of which 2 borders (2<-1, 3<-1: their only windowed
    ancestor, 1<-0, is productive; 3<-2 reads a sum with the unproductive 2<-1);
    reduction 2: conv_a, conv_b, the shortcut pool and 1x1 conv -> 4; stage 2:
    every conv, 5 x 6 = 30. Total 37.

    I_min: the last cell's convs 3<-1 and 3<-2 read rf_min 76 (68 + 8) and have
    rf_min 84; they become productive at I = 77 (input field < I).

    Parameters (no biases): stem 3*16*9 = 432; stage 0: 30 convs 16*16*9;
    reduction 1: 16*32*9 + 32*32*9 + 16*32; stage 1: 30 x 32*32*9; reduction 2:
    32*64*9 + 64*64*9 + 32*64; stage 2: 30 x 64*64*9; classifier 64*10
    (NAS-Bench-201 lists 1.53 M with batch-norm parameters).
    """
    r = rfa_fast.screen(nb201_batch([ALL_CONV3]), [32, 76, 77])
    assert r.rf_max.tolist() == [[231.0, 231.0]]
    assert r.i_max.tolist() == [231.0]
    assert r.n_unproductive.tolist() == [[37, 3, 0]]
    assert r.n_border[0, 0] == 2
    assert r.i_min.tolist() == [77.0]
    params = 432 + 30 * 16 * 16 * 9 + (16 * 32 * 9 + 32 * 32 * 9 + 16 * 32) + 30 * 32 * 32 * 9
    params += (32 * 64 * 9 + 64 * 64 * 9 + 32 * 64) + 30 * 64 * 64 * 9 + 64 * 10
    assert r.params.tolist() == [params] == [1524272]

    report = rfa_fast.analyze(nb201_graph(ALL_CONV3), 32).to_dict()
    rf_min = {layer["name"]: layer["rf_min"][0] for layer in report["layers"]}
    assert [
        rf_min[n]
        for n in ("stage0.cell4.node3", "reduce1.add", "stage1.cell4.node3", "reduce2.add", "stage2.cell4.node3")
    ] == [
        13.0,
        14.0,
        34.0,
        36.0,
        76.0,
    ]
    assert report["summary"]["border_layers"] == [
        "stage1.cell4.edge2<-1.nor_conv_3x3",
        "stage1.cell4.edge3<-1.nor_conv_3x3",
    ]


def test_all_skip_cell_is_the_skeleton_alone() -> None:
    """Only the stem and the two reduction blocks have windows: 3, +2 +4 (jump 2), +4 +8 (jump 4) = 21."""
    r = rfa_fast.screen(nb201_batch([(1,) * 6]), 32)
    assert r.rf_max.tolist() == [[21.0, 21.0]] and r.connected.tolist() == [True]


def test_disconnected_cells_are_kept_and_flagged() -> None:
    cells = [(0,) * 6, ALL_CONV3, (0, 0, 0, 3, 0, 0), (3, 0, 0, 0, 0, 0), (0, 3, 0, 0, 0, 1)]
    r = rfa_fast.screen(nb201_batch(cells), 32)
    # all none; all conv; only 0->3; only 0->1 (a dead end); 0->2 then 2->3 a skip
    assert r.connected.tolist() == [False, True, True, False, True]
    assert np.isnan(r.i_min[0]) and np.isnan(r.i_min[3])
    assert r.n_unproductive[0, 0] == 0 and r.macs_unproductive[0, 0] == 0
    g = nb201_graph((0,) * 6)
    assert [n.inputs for n in g.nodes if n.name.startswith("stage0.cell0.node")] == [(), (), ()]


def test_names_are_cell_strings() -> None:
    b = nb201_batch([EXAMPLE, ALL_CONV3])
    assert b.names == [EXAMPLE, nb201_cell_string(ALL_CONV3)]
    assert nb201_batch(nb201_all()[-2500:]).names[-1] == nb201_cell_string((4,) * 6)  # the table path for large batches
    assert nb201_batch([EXAMPLE], names=False).names == ["graph_0"]


def test_channels_change_costs_only() -> None:
    a = rfa_fast.screen(nb201_batch([EXAMPLE]), 32)
    b = rfa_fast.screen(nb201_batch([EXAMPLE], channels=(8, 16, 32), num_classes=100), 32)
    assert a.rf_max.tolist() == b.rf_max.tolist() and a.n_unproductive.tolist() == b.n_unproductive.tolist()
    assert b.params[0] < a.params[0]
    with pytest.raises(SpecError, match="3 stages"):
        nb201_batch([EXAMPLE], channels=(16, 32))


# --- NAS-Bench-201: the numpy packer against independent paths ---------------------


def sample_cells(n: int, seed: int) -> np.ndarray:
    rows = random.Random(seed).sample(range(5**6), n)
    return nb201_all()[rows]


def test_packer_equals_builder_arrays() -> None:
    """The vectorized packer gives byte-identical arrays to nb201_graph (GraphBuilder) + from_graphs."""
    cells = np.concatenate([sample_cells(200, 1), nb201_all()[[0, 1, 5**6 - 1]]])
    fast = nb201_batch(cells)
    slow = GraphBatch.from_graphs([nb201_graph(c) for c in cells])
    assert_same_arrays(fast.arrays, slow.arrays)
    assert fast.names == slow.names


def test_sample_equals_reference() -> None:
    """200 random cells: every ScreenResult field equals the plain-Python oracle on the builder's graphs."""
    from rfa_fast import reference

    cells = sample_cells(200, 2)
    resolutions = [[32, 32], [16, 16]]
    r = rfa_fast.screen(nb201_batch(cells), resolutions)
    for b, cell in enumerate(cells):
        assert_same_results(r, reference.run_graph(nb201_graph(cell), resolutions), b)


def every_none_pattern() -> np.ndarray:
    """One cell per set of none edges (2^6), the present edges cycling through the other four ops.

    Which nodes are dead depends only on the none edges, so these cover every dead-branch structure.
    """
    rows = []
    for mask in range(64):
        present = [e for e in range(6) if mask >> e & 1]
        ops = [0] * 6
        for k, e in enumerate(present):
            ops[e] = 1 + (k + mask) % 4
        rows.append(ops)
    return np.array(rows, dtype=np.uint8)


def test_every_dead_branch_structure_equals_reference() -> None:
    """nb201_screen, screen, the space and the reference on every none pattern (dead branches included)."""
    from rfa_fast import reference
    from rfa_fast.nas import nb201_screen, nb201_space

    cells = every_none_pattern()
    resolutions = [[32, 32], [8, 8]]
    results = {
        "screen": rfa_fast.screen(nb201_batch(cells), resolutions),
        "nb201_screen": nb201_screen(cells, [32, 8]),
        "space": nb201_space().screen(cells, [32, 8]),
    }
    for b, cell in enumerate(cells):
        ref = reference.run_graph(nb201_graph(cell), resolutions)
        for who, r in results.items():
            try:
                assert_same_results(r, ref, b)
            except AssertionError as e:
                raise AssertionError(f"{who}, cell {nb201_cell_string(cell)}: {e}") from None
    n_dead = results["screen"].n_dead
    # dead in connected networks (a branch off the cell's path) and in disconnected ones (everything)
    connected = results["screen"].connected
    assert (n_dead[connected] > 0).sum() >= 10 and (n_dead[~connected] > 0).all()


@pytest.mark.slow
def test_every_cell_equals_reference() -> None:
    """All 15,625 cells against the reference (about 3 minutes)."""
    from rfa_fast import reference

    cells = nb201_all()
    resolutions = [[32, 32], [8, 8]]
    r = rfa_fast.screen(nb201_batch(cells), resolutions)
    for b, cell in enumerate(cells):
        assert_same_results(r, reference.run_graph(nb201_graph(cell), resolutions), b)


def reachable_output(ops: tuple[int, ...]) -> bool:
    """Transitive closure of the cell's adjacency (independent of rfa_fast.nas)."""
    adj = np.zeros((4, 4), dtype=bool)
    for (j, i), op in zip(((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)), ops):
        adj[i, j] = NB201_OPS[op] != "none"
    reach = adj.copy()
    for _ in range(3):
        reach |= (reach.astype(int) @ adj.astype(int)) > 0
    return bool(reach[0, 3])


def test_all_15625_cells_in_one_call() -> None:
    cells = nb201_all()
    r = rfa_fast.screen(nb201_batch(cells), 32)
    assert len(r) == 15625 and r.n_unproductive.shape == (15625, 1)
    expected = np.array([reachable_output(tuple(c)) for c in itertools.product(range(5), repeat=6)])
    assert int(expected.sum()) == 15284  # 341 cells cannot reach their output
    assert np.array_equal(r.connected, expected)
    assert np.isnan(r.i_min[~expected]).all() and np.isfinite(r.i_min[expected]).all()
    # a connected cell's graph keeps its rows in order: spot-check against single-cell batches
    for b in (0, 777, 15624):
        one = rfa_fast.screen(nb201_batch(cells[b : b + 1]), 32)
        assert one.n_unproductive[0, 0] == r.n_unproductive[b, 0] and np.array_equal(
            one.rf_max[0], r.rf_max[b], equal_nan=True
        )


# --- NAS-Bench-101 ---------------------------------------------------------------

CHAIN = ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])


def test_nb101_chain_cell_by_hand() -> None:
    """input -> 1x1 projection -> conv3x3 -> output, 9 cells: each cell +2 jumps.

    stem 3; stack 0 (jump 1): +6 -> 9; 2x2/2 max pool +1 -> 10 (jump 2);
    stack 1: +12 -> 22; pool +2 -> 24 (jump 4); stack 2: +24 -> 48.
    """
    r = rfa_fast.screen(nb101_batch([CHAIN]), 32)
    assert r.rf_max.tolist() == [[48.0, 48.0]] and r.connected.tolist() == [True]
    # params: stem 3*128*9; per cell a 1x1 projection c_in->c and a 3x3 conv c->c; dense
    params = 3 * 128 * 9
    c_in = 128
    for c in (128, 256, 512):
        params += (c_in * c + c * c * 9) + 2 * (c * c + c * c * 9)
        c_in = c
    params += 512 * 10
    assert r.params.tolist() == [params]


def test_nb101_output_sum_and_concat() -> None:
    """Two interior vertices into the output (concat, channels split 64/64) plus the projected input (a sum)."""
    m = [[0, 1, 1, 1], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]]
    spec = nb101_spec(m, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"], num_stacks=1, cells_per_stack=1)
    layers = spec["layers"]
    ops = [(layer["op"], layer.get("c_out")) for layer in layers]
    assert ops == [
        ("input", None),
        ("conv", 128),  # stem
        ("conv", 64),  # projection into vertex 1
        ("conv", 64),  # vertex 1
        ("conv", 64),  # projection into vertex 2
        ("maxpool", None),  # vertex 2
        ("concat", None),
        ("conv", 128),  # projection into the output
        ("add", None),
        ("global_pool", None),
        ("dense", 10),
    ]
    assert layers[6]["inputs"] == [3, 5] and layers[8]["inputs"] == [6, 7]


def test_nb101_prunes_dangling_vertices() -> None:
    """A vertex on no input->output path is not part of the benchmark's network."""
    dangling = [[0, 1, 1], [0, 0, 0], [0, 0, 0]]  # vertex 1 reads the input but feeds nothing
    g = nb101_graph(dangling, ["input", "conv3x3-bn-relu", "output"])
    assert not any(".v1." in n.name for n in g.nodes)
    direct = nb101_graph([[0, 1], [0, 0]], ["input", "output"])
    assert [n.op for n in g.nodes] == [n.op for n in direct.nodes]


def test_nb101_names_keep_the_vertex_numbers_of_the_matrix() -> None:
    """Pruning renumbers the benchmark's matrix; the node names keep the user's vertex numbers."""
    m = [[0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, 0]]  # vertex 1 dangles, 0 -> 2 -> 3
    g = nb101_graph(m, ["input", "maxpool3x3", "conv3x3-bn-relu", "output"], num_stacks=1, cells_per_stack=1)
    assert [n.name for n in g.nodes][2:4] == ["stack0.cell0.proj2", "stack0.cell0.v2.conv3x3-bn-relu"]


def test_nb101_disconnected_cell() -> None:
    m = [[0, 0, 0], [0, 0, 1], [0, 0, 0]]  # the output reads vertex 1, which reads nothing
    r = rfa_fast.screen(nb101_batch([(m, ["input", "conv1x1-bn-relu", "output"]), CHAIN]), 32)
    assert r.connected.tolist() == [False, True]


@pytest.mark.parametrize(
    "matrix, ops, words",
    [
        ([[0, 1], [1, 0]], ["input", "output"], "upper triangular"),
        ([[0, 2], [0, 0]], ["input", "output"], "0/1"),
        ([[0, 1], [0, 0]], ["input"], "2 vertices but 1 ops"),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "conv5x5", "output"], "unknown NAS-Bench-101 op"),
        (np.zeros((8, 8), dtype=int), ["input"] + ["maxpool3x3"] * 6 + ["output"], "2..7 vertices"),
    ],
)
def test_nb101_errors(matrix: object, ops: list[str], words: str) -> None:
    with pytest.raises(SpecError, match=words):
        nb101_batch([(matrix, ops)])


def random_nb101_cells(n: int, seed: int) -> list[tuple[np.ndarray, list[str]]]:
    rng = np.random.default_rng(seed)
    cells = []
    while len(cells) < n:
        v = int(rng.integers(3, 8))
        m = np.triu(rng.integers(0, 2, (v, v)), 1)
        if m.sum() > 9:  # the benchmark's limit on edges
            continue
        ops = ["input"] + list(rng.choice(["conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"], v - 2)) + ["output"]
        cells.append((m, ops))
    return cells


def test_nb101_sample_equals_reference() -> None:
    from rfa_fast import reference

    cells = random_nb101_cells(40, 3)
    r = rfa_fast.screen(nb101_batch(cells), [[32, 32], [8, 8]])
    for b, (m, ops) in enumerate(cells):
        assert_same_results(r, reference.run_graph(nb101_graph(m, ops), [[32, 32], [8, 8]]), b)
