"""The spaces shipped in rfa_fast.nas: each equal to the benchmark's own networks, in its own encoding.

- NAS-Bench-201: ``nb201_space`` against ``nb201_screen`` on every cell, and
  ``space.graph`` against ``nb201_graph`` node for node;
- NAS-Bench-101: ``nb101_space`` against ``screen(nb101_batch(...))`` on hand-picked
  cells and a sample, ``space.graph`` against ``nb101_graph``, ``nb101_valid``
  against the benchmark's ``ModelSpec`` rules written out here;
- Once-for-All MobileNetV3: against the materialized graphs, and receptive
  field, parameters and MACs of whole subnets against a plain-Python count
  written from OFA's source (no rfa_fast in it);
- ResNet: torchvision's models node for node (``rfa_fast.zoo``), a sample
  against the materialized graphs, the stride placement.

Every shipped space runs entirely in the lanes (no candidate materialized).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import rfa_fast
from rfa_fast import zoo
from rfa_fast.api import resolutions_array
from rfa_fast.errors import SpecError
from rfa_fast.nas import (
    NB101_EDGES,
    NB101_INTERIOR_OPS,
    OFA_D,
    OFA_E,
    OFA_KS,
    RESNET18,
    RESNET34,
    nb101_batch,
    nb101_decode,
    nb101_encode,
    nb101_graph,
    nb101_space,
    nb101_valid,
    nb201_all,
    nb201_graph,
    nb201_screen,
    nb201_space,
    ofa_decode,
    ofa_encode,
    ofa_mbv3_space,
    ofa_widths,
    resnet_space,
)
from rfa_fast.results import ScreenResult


def assert_same(want: ScreenResult, got: ScreenResult, what: str = "") -> None:
    """Key by key, NaN equal to NaN; the first difference named."""
    for f in ScreenResult.FIELDS:
        a, b = getattr(want, f), getattr(got, f)
        assert a.dtype == b.dtype and a.shape == b.shape, f"{what}{f}: {b.dtype}{b.shape}, expected {a.dtype}{a.shape}"
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            bad = ~((a == b) | (np.isnan(a) & np.isnan(b))) if a.dtype.kind == "f" else a != b
            where = tuple(np.argwhere(bad)[0])
            raise AssertionError(f"{what}{f} differs at {where}: space {b[where]}, expected {a[where]}")


def assert_same_graph(got: rfa_fast.Graph, want: rfa_fast.Graph) -> None:
    """Node for node: names, ops, kinds, inputs and every attribute."""
    assert [n.name for n in got.nodes] == [n.name for n in want.nodes]
    for a, b in zip(got.nodes, want.nodes):
        assert a == b, f"node {a.name!r}: {a} != {b}"


def materialized(space: rfa_fast.Space, rows: np.ndarray, resolution: int) -> np.ndarray:
    """Which candidates the core answered by building them (its slow path) rather than in lanes."""
    prog = space.program
    rows = np.ascontiguousarray(rows)
    raw = prog.core.screen(rows, prog.columns(rows), resolutions_array(resolution, space.dims), False, 0, True)
    return np.asarray(raw["materialized"], dtype=bool)


# --- NAS-Bench-201 ---------------------------------------------------------------------


@pytest.mark.parametrize("ignore_1x1", [False, True])
def test_nb201_space_equals_nb201_screen_on_every_cell(ignore_1x1: bool) -> None:
    cells = nb201_all()
    space = nb201_space()
    res = [32, 16, 8, 64, 224]
    assert_same(nb201_screen(cells, res, ignore_1x1=ignore_1x1), space.screen(cells, res, ignore_1x1=ignore_1x1))


def test_nb201_space_rectangular_and_other_skeleton() -> None:
    cells = nb201_all()[::7]
    res = [[32, 16], [12, 40]]
    assert_same(nb201_screen(cells, res), nb201_space().screen(cells, res))
    small = dict(channels=(8, 16, 32), num_classes=100, cells_per_stage=2)
    assert_same(nb201_screen(cells, 32, **small), nb201_space(**small).screen(cells, 32))


def test_nb201_space_graph_is_nb201_graph() -> None:
    space = nb201_space()
    cells = nb201_all()
    picked = np.concatenate([cells[np.random.default_rng(0).choice(len(cells), 400, replace=False)], cells[[0, -1]]])
    picked = np.concatenate([picked, np.array([[op] * 6 for op in range(5)], dtype=np.uint8)])
    for cell in picked:
        assert_same_graph(space.graph(cell), nb201_graph(cell))


# --- NAS-Bench-101 -------------------------------------------------------------------------


def _cell(
    edges: list[tuple[int, int]], ops: tuple[str, ...] = ("conv3x3-bn-relu",) * 5
) -> tuple[np.ndarray, list[str]]:
    m = np.zeros((7, 7), dtype=np.int64)
    for i, j in edges:
        m[i, j] = 1
    return m, ["input", *ops, "output"]


CHAIN7 = [(t, t + 1) for t in range(6)]
NB101_CASES = [
    _cell([]),  # nothing at all: disconnected
    _cell([(0, 6)]),  # the projected input only
    _cell(CHAIN7),  # the longest chain
    _cell(CHAIN7, ("maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu", "maxpool3x3", "conv1x1-bn-relu")),
    _cell([e for e in NB101_EDGES]),  # every edge: 21 (the benchmark rejects it; screened all the same)
    _cell([(0, t) for t in range(1, 6)] + [(t, 6) for t in range(1, 6)]),  # fan-in 5: 128 = 26+26+26+25+25
    _cell([(0, 1), (0, 2), (0, 3), (1, 6), (2, 6), (3, 6)]),  # fan-in 3: 128 = 43+43+42
    _cell([(0, 1), (1, 6), (2, 6), (3, 6)]),  # vertices 2, 3 feed the output but read nothing: pruned
    _cell([(0, 1), (0, 2), (1, 6)]),  # vertex 2 reads the input but feeds nothing: pruned
    _cell([(0, 2), (1, 2), (2, 6)]),  # vertex 1 unreachable feeds a kept vertex: its edge drops
    _cell([(1, 2), (2, 6), (0, 3), (3, 4)]),  # 3 and 4 reachable, dead end; 1, 2 feed out, unreachable
    _cell([(0, 1), (1, 2), (1, 3), (2, 4), (3, 4), (4, 6), (1, 6)]),  # channels flow back from the output
    _cell([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (0, 6), (1, 6), (2, 6)]),  # 9 edges: the limit
    _cell([(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 6), (0, 6), (1, 6), (2, 6), (3, 6)]),  # 10 edges
    _cell([(0, 5), (5, 6), (1, 2), (2, 3), (3, 4)], ("maxpool3x3",) * 5),  # 10 -> pruned to 2 edges
]


def nb101_rows(n: int, seed: int) -> np.ndarray:
    rows = nb101_space().sample(n, seed=seed)
    # fewer edges than uniform draws give: cells of the benchmark's size (at most 9) are common
    sparse = np.random.default_rng(seed + 1).random((n // 2, 21)) < 0.35
    rows[: n // 2, :21] = sparse
    return np.concatenate([rows, np.stack([nb101_encode(m, ops) for m, ops in NB101_CASES])])


def test_nb101_space_equals_screen_of_nb101_batch() -> None:
    space = nb101_space()
    rows = nb101_rows(2000, 0)
    cells = [nb101_decode(r) for r in rows]
    res = [32, 8, 3]
    want = rfa_fast.screen(nb101_batch(cells), res)
    assert_same(want, space.screen(rows, res))
    assert_same(rfa_fast.screen(nb101_batch(cells), res, ignore_1x1=True), space.screen(rows, res, ignore_1x1=True))
    assert not want.connected.all() and want.connected.any()  # both kinds are in the sample


def test_nb101_computed_columns_are_the_benchmarks_pruning_and_channels() -> None:
    """The vectorized pruning and channel split against nb101_spec's own (one cell at a time), on many matrices."""
    from rfa_fast.nas.nb101 import _nb101_columns, _nb101_prune, _nb101_vertex_channels

    rows = nb101_rows(20000, 6)
    widths = (128, 256, 512)
    cols = _nb101_columns(rows.astype(np.int64), widths)
    for b in range(len(rows)):
        m, ops = nb101_decode(rows[b])
        pm, _, label = _nb101_prune(m.astype(bool), ops)
        connected = bool(len(label) > 2 or pm[0, -1])
        keep = [t in label and connected for t in range(1, 6)]
        assert cols[b, :5].tolist() == keep and cols[b, 5] == (not connected), rows[b]
        for s, c in enumerate(widths):
            ch = _nb101_vertex_channels(c // 2, c, pm) if connected else [0] * len(label)
            want = [ch[label.index(t)] if k else 0 for t, k in zip(range(1, 6), keep)]
            assert cols[b, 6 + 5 * s : 11 + 5 * s].tolist() == want, (rows[b], c)


def test_nb101_space_other_skeleton() -> None:
    small = dict(stem_channels=16, num_stacks=2, cells_per_stack=1, num_classes=5)
    rows = nb101_rows(300, 1)
    want = rfa_fast.screen(nb101_batch([nb101_decode(r) for r in rows], **small), [16, 32])
    assert_same(want, nb101_space(**small).screen(rows, [16, 32]))


def test_nb101_space_graph_is_nb101_graph() -> None:
    space = nb101_space()
    rows = nb101_rows(60, 2)
    for row in rows:
        assert_same_graph(space.graph(row), nb101_graph(*nb101_decode(row)))


def test_nb101_smaller_cells_encode_to_the_same_network() -> None:
    """The benchmark stores pruned cells of 2..7 vertices: their rows screen like the cells themselves."""
    small = [
        ([[0, 1], [0, 0]], ["input", "output"]),
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"]),
        (
            [[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
            ["input", "conv1x1-bn-relu", "conv3x3-bn-relu", "output"],
        ),
    ]
    rows = np.stack([nb101_encode(m, ops) for m, ops in small])
    assert_same(rfa_fast.screen(nb101_batch(small), [32, 8]), nb101_space().screen(rows, [32, 8]))
    m, ops = nb101_decode(rows[1])
    assert m[0, 1] == 1 and m[1, 6] == 1 and m.sum() == 2 and ops[1] == "maxpool3x3"


def _model_spec_valid(matrix: np.ndarray) -> bool:
    """``NASBench.is_valid(ModelSpec(matrix, ops))`` written out from the benchmark's code (nasbench/lib/model_spec.py,
    nasbench/api.py): DFS from the input and back from the output, prune, then at most 9 edges."""
    n = len(matrix)
    seen_in, frontier = {0}, [0]
    while frontier:
        top = frontier.pop()
        for v in range(top + 1, n):
            if matrix[top, v] and v not in seen_in:
                seen_in.add(v)
                frontier.append(v)
    seen_out, frontier = {n - 1}, [n - 1]
    while frontier:
        top = frontier.pop()
        for v in range(top):
            if matrix[v, top] and v not in seen_out:
                seen_out.add(v)
                frontier.append(v)
    keep = sorted(seen_in & seen_out)
    if len(keep) < 2:
        return False
    return int(matrix[np.ix_(keep, keep)].sum()) <= 9


def test_nb101_valid_is_the_benchmarks_rule() -> None:
    rows = nb101_rows(3000, 3)
    want = [_model_spec_valid(nb101_decode(r)[0]) for r in rows]
    got = nb101_valid(rows)
    assert got.tolist() == want
    assert 0 < got.sum() < len(got)
    r = nb101_space().screen(rows, 32)
    assert r.connected[got].all()  # a valid cell is connected (the converse needs at most 9 edges)


def test_nb101_encode_decode_round_trip() -> None:
    rows = nb101_rows(200, 4)
    for row in rows:
        assert nb101_encode(*nb101_decode(row)).tolist() == row.tolist()
    m, ops = nb101_decode(rows[0])
    assert m.shape == (7, 7) and not np.tril(m).any() and ops[0] == "input" and ops[-1] == "output"
    assert all(op in NB101_INTERIOR_OPS for op in ops[1:6])


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: nb101_decode([0] * 25), "integer \\[B, 26\\]"),
        (lambda: nb101_decode([0] * 21 + [3, 0, 0, 0, 0]), "row 0: edges are 0/1 and ops 0..2"),
        (lambda: nb101_valid(np.full((2, 26), 2)), "edges are 0/1"),
        (lambda: nb101_encode(np.zeros((8, 8), dtype=int), ["input"] + ["maxpool3x3"] * 6 + ["output"]), "2..7"),
        (lambda: nb101_encode([[0, 1], [0, 0]], ["input", "conv5x5"]), "'output'"),
        (lambda: nb101_space(num_stacks=0), "num_stacks must be an int >= 1"),
    ],
)
def test_nb101_space_errors(call: object, words: str) -> None:
    with pytest.raises(SpecError, match=words):
        call()  # type: ignore[operator]


# --- Once-for-All MobileNetV3 -----------------------------------------------------------------


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


def ofa_by_hand(arch: dict[str, list[int]], width_mult: float, resolution: int = 224) -> dict[str, int]:
    """Receptive field, parameters (weights) and MACs of an OFA subnet, counted layer by layer from OFA's
    ``OFAMobileNetV3.__init__`` and ``DynamicMBConvLayer`` (mit-han-lab/once-for-all f03b267), no rfa_fast."""
    base = [16, 16, 24, 40, 80, 112, 160, 960, 1280]
    stride_stages, se_stages = [1, 2, 2, 2, 1, 2], [False, False, True, False, True, True]
    w = [_make_divisible(b * width_mult) for b in base]
    st = {"rf": 1, "jump": 1, "fmap": resolution, "params": 0, "macs": 0}

    def conv(c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1) -> None:  # padding k // 2
        p = c_out * (c_in // groups) * k * k
        st["fmap"] = (st["fmap"] + 2 * (k // 2) - k) // stride + 1
        st["rf"] += (k - 1) * st["jump"]
        st["jump"] *= stride
        st["params"] += p
        st["macs"] += p * st["fmap"] ** 2

    def on_pooled(c_in: int, c_out: int) -> None:  # a 1x1 conv or linear layer after global pooling
        st["params"] += c_in * c_out
        st["macs"] += c_in * c_out

    conv(3, w[0], 3, 2)
    conv(w[0], w[0], 3, groups=w[0])
    conv(w[0], w[1], 1)
    c = w[1]
    for s in range(5):
        for j in range(arch["d"][s]):
            k, e = arch["ks"][4 * s + j], arch["e"][4 * s + j]
            mid = _make_divisible(round(c * e))
            conv(c, mid, 1)
            conv(mid, mid, k, stride_stages[s + 1] if j == 0 else 1, groups=mid)
            if se_stages[s + 1]:
                on_pooled(mid, _make_divisible(mid // 4))
                on_pooled(_make_divisible(mid // 4), mid)
            conv(mid, w[s + 2], 1)
            c = w[s + 2]
    conv(c, w[7], 1)
    on_pooled(w[7], w[8])
    on_pooled(w[8], 1000)
    return st


OFA_ARCHS = {
    "min": {"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5},
    "max": {"ks": [7] * 20, "e": [6] * 20, "d": [4] * 5},
    "mixed": {"ks": [3, 5, 7, 5] * 5, "e": [6, 4, 3, 3] * 5, "d": [2, 3, 4, 3, 2]},
}


@pytest.mark.parametrize("width_mult", [1.0, 1.2])
@pytest.mark.parametrize("which", sorted(OFA_ARCHS))
def test_ofa_subnets_by_hand(width_mult: float, which: str) -> None:
    arch = OFA_ARCHS[which]
    want = ofa_by_hand(arch, width_mult)
    r = ofa_mbv3_space(width_mult).screen(ofa_encode(arch), 224)
    assert r.rf_max[0].tolist() == [want["rf"]] * 2
    assert int(r.params[0]) == want["params"] and int(r.macs[0, 0]) == want["macs"]
    assert r.connected[0] and r.aligned[0]


def test_ofa_known_numbers() -> None:
    """Written down from the count above: the largest subnet of the w1.0 supernet, the smallest of w1.2."""
    assert ofa_by_hand(OFA_ARCHS["max"], 1.0) == {
        "rf": 1651,
        "jump": 32,
        "fmap": 7,
        "params": 7613280,
        "macs": 566170656,
    }
    assert ofa_by_hand(OFA_ARCHS["min"], 1.2)["params"] == 4584504


@pytest.mark.parametrize("width_mult", [1.0, 1.2])
def test_ofa_space_equals_screen_of_graphs(width_mult: float) -> None:
    space = ofa_mbv3_space(width_mult)
    rows = np.concatenate([space.sample(150, seed=7), np.stack([ofa_encode(a) for a in OFA_ARCHS.values()])])
    res = [224, 160, 64, 32]
    assert_same(rfa_fast.screen([space.graph(r) for r in rows], res), space.screen(rows, res))


def test_ofa_structure() -> None:
    space = ofa_mbv3_space()
    arch = {"ks": [5] * 20, "e": [4] * 20, "d": [2, 3, 4, 2, 3]}
    g = space.graph(ofa_encode(arch))
    nodes = {n.name: n for n in g.nodes}
    blocks = sorted({int(n.split(".")[1]) for n in nodes if n.startswith("blocks.")})
    assert blocks == [0, 1, 2, 5, 6, 7, 9, 10, 11, 12, 13, 14, 17, 18, 19]  # depth d of each stage, supernet numbers
    dw = nodes["blocks.5.conv.depth_conv.conv"]  # the second stage's first block: 24 in, e 4 -> 96, stride 2
    assert (dw.kernel, dw.stride, dw.pad_begin, dw.groups, dw.c_in) == ((5, 5), (2, 2), (2, 2), 96, 96)
    assert nodes["blocks.5.conv.depth_conv.se.fc.reduce"].c_out == 24  # make_divisible(96 // 4)
    assert "blocks.1.conv.depth_conv.se" not in nodes and "blocks.9.conv.depth_conv.se" not in nodes  # no SE there
    assert "blocks.5" not in nodes and "blocks.6" in nodes  # a stage's first block has no shortcut
    assert "blocks.13" not in nodes  # stride 1 but 80 -> 112 channels: no shortcut either
    layers = {row["name"]: row for row in rfa_fast.analyze(g, 224).to_dict()["layers"]}
    assert layers["blocks.5.conv.depth_conv.se"]["global_context"]  # the gate sees the whole input
    assert not layers["blocks.2.conv.point_linear.conv"]["global_context"]  # before the first SE
    assert layers["blocks.2.conv.point_linear.conv"]["rf_max"] == [31.0, 31.0]  # 3 + 2*2 + 4*2 (ks 5, jump 2) + 4*4
    assert [c for c in (ofa_widths(1.2)["first_conv"], ofa_widths(1.2)["final_expand"])] == [24, 1152]


def test_ofa_encode_decode() -> None:
    space = ofa_mbv3_space()
    for row in space.sample(100, seed=11):
        arch = ofa_decode(row)
        assert ofa_encode(arch).tolist() == row.tolist()
        assert space.decode(row) == {
            **{f"ks{i}": arch["ks"][i] for i in range(20)},
            **{f"e{i}": arch["e"][i] for i in range(20)},
            **{f"d{s}": arch["d"][s] for s in range(5)},
        }
    assert set(OFA_KS) == {3, 5, 7} and set(OFA_E) == {3, 4, 6} and set(OFA_D) == {2, 3, 4}


@pytest.mark.parametrize(
    "arch, words",
    [
        ({"ks": [3] * 20, "e": [3] * 20}, "missing \\['d'\\]"),
        ({"ks": [3] * 19, "e": [3] * 20, "d": [2] * 5}, "'ks' needs 20 values, got 19"),
        ({"ks": [3] * 20, "e": [3] * 19 + [5], "d": [2] * 5}, "e\\[19\\] = 5 is not one of \\[3, 4, 6\\]"),
        ({"ks": [3] * 20, "e": [3] * 20, "d": [2] * 5, "w": 1}, "unknown \\['w'\\]"),
    ],
)
def test_ofa_encode_errors(arch: dict[str, list[int]], words: str) -> None:
    with pytest.raises(SpecError, match=words):
        ofa_encode(arch)


# --- ResNet ----------------------------------------------------------------------------------


def test_resnet_space_holds_torchvision_models() -> None:
    basic, bottleneck = resnet_space(), resnet_space("bottleneck")
    assert_same_graph(basic.graph(basic.encode(RESNET18)), zoo.resnet18())
    assert_same_graph(basic.graph(basic.encode(RESNET34)), zoo.resnet(34))
    assert_same_graph(bottleneck.graph(bottleneck.encode(RESNET34)), zoo.resnet50())


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_resnet_space_equals_screen_of_graphs(block: str) -> None:
    space = resnet_space(block)
    rows = space.sample(200, seed=13)
    res = [224, 64, 32]
    assert_same(rfa_fast.screen([space.graph(r) for r in rows], res), space.screen(rows, res))


def test_resnet_stride_placement() -> None:
    space = resnet_space()
    g = space.graph(
        space.encode({**RESNET18, "down3": 1, "down4": 2, "depth4": 2, "stem_pool": "none", "stem_stride": 1})
    )
    nodes = {n.name: n for n in g.nodes}
    assert "maxpool" not in nodes and nodes["conv1"].stride == (1, 1)
    assert nodes["layer3.0.conv1"].stride == (1, 1) and nodes["layer3.0.downsample.0"].stride == (1, 1)  # 128 -> 256
    assert nodes["layer3.1.conv1"].stride == (2, 2) and nodes["layer3.1.downsample.0"].stride == (2, 2)
    assert nodes["layer4.1.conv1"].stride == (2, 2)  # block 2 asked, depth 2: the last block
    strided = [n.name for n in g.nodes if n.stride == (2, 2)]
    assert strided == ["layer2.0.conv1", "layer2.0.downsample.0", "layer3.1.conv1", "layer3.1.downsample.0"] + [
        "layer4.1.conv1",
        "layer4.1.downsample.0",
    ]
    none = space.graph(space.encode({**RESNET18, "down2": "none", "down3": "none", "down4": "none"}))
    assert [n.name for n in none.nodes if n.stride == (2, 2)] == ["conv1", "maxpool"]
    assert rfa_fast.screen([none], 224).rf_max[0].tolist() == [139.0, 139.0]  # 7 + 2*2 + 16 convs 3x3 at jump 4


def test_resnet_space_parameters() -> None:
    space = resnet_space("basic", [2, (1, 2), 2, [2, 3]], widths=(16, 32, 64, 128), stem_channels=16, num_classes=10)
    assert [c.name for c in space.choices][2:] == [
        "depth1",
        "down1",
        "depth2",
        "down2",
        "depth3",
        "down3",
        "depth4",
        "down4",
    ]
    assert space.choices[2].options == (2,) and space.choices[5].options == (0, 1, "none")
    assert space.size == 2 * 3 * (1 * 3) * (2 * 3) * (1 * 3) * (2 * 4)
    with pytest.raises(SpecError, match="one width per stage"):
        resnet_space(depths=[2, 2])
    with pytest.raises(SpecError, match="'basic' or 'bottleneck'"):
        resnet_space("wide")
    with pytest.raises(SpecError, match="stage 2: depths are ints >= 1"):
        resnet_space(depths=[2, 0, 2, 2])


# --- every shipped space in lanes ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["nb201", "nb101", "ofa", "ofa_w1.2", "resnet_basic", "resnet_bottleneck"])
def test_shipped_spaces_run_in_lanes(name: str) -> None:
    space, rows, res = {
        "nb201": lambda: (nb201_space(), nb201_all(), 32),
        "nb101": lambda: (nb101_space(), nb101_rows(3000, 5), 32),
        "ofa": lambda: (ofa_mbv3_space(), ofa_mbv3_space().sample(3000, seed=0), 224),
        "ofa_w1.2": lambda: (ofa_mbv3_space(1.2), ofa_mbv3_space(1.2).sample(3000, seed=0), 224),
        "resnet_basic": lambda: (resnet_space(), resnet_space().sample(3000, seed=0), 224),
        "resnet_bottleneck": lambda: (resnet_space("bottleneck"), resnet_space("bottleneck").sample(3000, seed=0), 64),
    }[name]()
    assert space.program.lanes
    assert not materialized(space, rows, res).any()


def test_all_options_of_a_resnet_stage() -> None:
    """Every (depth, down) pair of one stage, the rest fixed: the same as the graphs."""
    space = resnet_space()
    depth, down = (space.choices[6], space.choices[7])
    assert (depth.name, down.name) == ("depth3", "down3")
    rows = np.repeat(space.encode(RESNET18)[None, :], len(depth) * len(down), axis=0)
    rows[:, 6:8] = list(itertools.product(range(len(depth)), range(len(down))))
    assert_same(rfa_fast.screen([space.graph(r) for r in rows], [224, 48]), space.screen(rows, [224, 48]))
