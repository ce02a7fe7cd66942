"""Every rule of docs/semantics.md on hand-computed numbers.

The checks run against the plain-Python oracle (``rfa_fast.reference``) and,
when it is built, against the compiled core: both return the same dict
(``_core.analyze_batch(..., per_node=True)`` for a batch of one graph), so the
``run`` fixture hides which one answers.  Networks come from ``tests/nets.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import nets
import numpy as np
import pytest
from deps import import_or_skip

from rfa_fast import reference
from rfa_fast.batch import GraphBatch
from rfa_fast.errors import GraphError, ResolutionError
from rfa_fast.graph import Graph, GraphBuilder
from rfa_fast.kinds import Status

Runner = Callable[..., dict[str, np.ndarray]]

U, B, C, P = int(Status.UNPRODUCTIVE), int(Status.BORDER), int(Status.CRITICAL), int(Status.PARTIALLY_CRITICAL)
DEAD = int(Status.DEAD)


def _run_reference(
    graph: Graph, resolutions: Sequence[Sequence[int]], ignore_1x1: bool = False
) -> dict[str, np.ndarray]:
    return reference.run_graph(graph, resolutions, ignore_1x1=ignore_1x1)


def _run_core(graph: Graph, resolutions: Sequence[Sequence[int]], ignore_1x1: bool = False) -> dict[str, np.ndarray]:
    from rfa_fast import _core

    res = np.array(resolutions, dtype=np.int64).reshape(-1, graph.dims)
    return _core.analyze_batch(GraphBatch.from_graphs([graph]).arrays, res, ignore_1x1=ignore_1x1, per_node=True)


@pytest.fixture(params=["reference", "core"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Analyze one graph with the oracle or the compiled core (skipped only while the core is not built)."""
    if request.param == "core":
        import_or_skip("rfa_fast._core", "the compiled core is not built")
        return _run_core
    return _run_reference


class View:
    """Read an analysis by node name: ``v.rf_max("conv2") -> [7.0, 7.0]``."""

    def __init__(self, graph: Graph, out: dict[str, np.ndarray]) -> None:
        self.graph, self.out = graph, out

    def node(self, key: str, name: str) -> list:
        return self.out[key][self.graph.index(name)].tolist()

    def rf_min(self, name: str) -> list[float]:
        return self.node("rf_min", name)

    def rf_max(self, name: str) -> list[float]:
        return self.node("rf_max", name)

    def jump(self, name: str) -> list[float]:
        return self.node("jump", name)

    def center(self, name: str) -> list[float]:
        return self.node("center", name)

    def fmap(self, name: str, r: int = 0) -> list[int]:
        return self.out["fmap"][r, self.graph.index(name)].tolist()

    def status(self, name: str, r: int = 0) -> int:
        return int(self.out["status"][r, self.graph.index(name)])

    def flag(self, key: str, name: str) -> bool:
        return bool(self.out[key][self.graph.index(name)])


def sinks_as_outputs(graph: Graph) -> Graph:
    """``graph`` with every node that feeds nothing as an output.

    The rules here are checked on side-by-side layers that feed nothing
    else; as outputs they are live (a node that reaches no output is dead
    and rated by no rule: ``test_dead_nodes``).
    """
    fed = {p for node in graph.nodes for p in node.inputs}
    sinks = [v for v in range(len(graph.nodes)) if v not in fed]
    return Graph(graph.nodes, name=graph.name, dims=graph.dims, input_shape=graph.input_shape, outputs=sinks)


def analyze(run: Runner, graph: Graph, resolutions: Sequence[Sequence[int]] | None = None, **kw: bool) -> View:
    res = resolutions if resolutions is not None else [[64] * graph.dims]
    graph = sinks_as_outputs(graph)
    return View(graph, run(graph, res, **kw))


def brute_i_min(run: Runner, graph: Graph, bound: int) -> int:
    """The smallest I with no unproductive node, read off the status at every I in 1..bound."""
    graph = sinks_as_outputs(graph)
    out = run(graph, [[i] * graph.dims for i in range(1, bound + 1)])
    free = out["n_unproductive"][0] == 0
    assert free[-1], "raise the bound: the graph is still unproductive there"
    first = int(np.argmax(free))
    assert free[first:].all(), "some layer became unproductive again at a larger I: not monotone"
    return first + 1


# ---------------------------------------------------------------------------
# Receptive field, jump, center on real layouts


# (rf, jump, offset) of the measured stages in /work/shared/validation/ground_truth.json;
# offset = input coordinate where unit 0's field starts = center - (rf - 1) / 2.
VGG16_MEASURED = {
    "features.0": (3, 1, -1), "features.2": (5, 1, -2), "features.4": (6, 2, -2), "features.5": (10, 2, -4),
    "features.9": (16, 4, -6), "features.16": (44, 8, -18), "features.23": (100, 16, -42),
    "features.28": (196, 16, -90), "features.30": (212, 32, -90),
}  # fmt: skip
RESNET18_MEASURED = {
    "conv1": (7, 2, -3), "maxpool": (11, 4, -5), "layer1.0": (27, 4, -13), "layer1.1": (43, 4, -21),
    "layer2.0": (67, 8, -33), "layer2.1": (99, 8, -49), "layer3.0": (147, 16, -73), "layer3.1": (211, 16, -105),
    "layer4.0": (307, 32, -153), "layer4.1": (435, 32, -217),
}  # fmt: skip
RESNET50_MEASURED = {
    "layer1.0": (19, 4, -9), "layer1.2": (35, 4, -17), "layer2.0": (43, 8, -21), "layer2.3": (91, 8, -45),
    "layer3.0": (107, 16, -53), "layer3.5": (267, 16, -133), "layer4.0": (299, 32, -149), "layer4.2": (427, 32, -213),
}  # fmt: skip


@pytest.mark.parametrize(
    "build, measured",
    [(nets.vgg16, VGG16_MEASURED), (nets.resnet18, RESNET18_MEASURED), (nets.resnet50, RESNET50_MEASURED)],
)
def test_torchvision_fields_match_measurement(run: Runner, build: Callable[[], Graph], measured: dict) -> None:
    g = build()
    v = analyze(run, g, [[224, 224]])
    for name, (rf, jump, offset) in measured.items():
        assert v.rf_max(name) == [rf, rf], name
        assert v.jump(name) == [jump, jump], name
        assert v.center(name) == [offset + (rf - 1) / 2] * 2, name
    assert v.out["aligned"].tolist() == [True]


def test_vgg16_final_field_and_cost(run: Runner) -> None:
    g = nets.vgg16()
    v = analyze(run, g, [[224, 224]])
    assert v.rf_max("features.28") == [196, 196]  # conv5_3
    assert v.rf_max("features.30") == [212, 212]  # pool5 adds (2-1) * 16
    assert v.jump("features.30") == [32, 32]
    assert v.fmap("features.30") == [7, 7]
    assert v.out["graph_rf_max"].tolist() == [[212, 212]]
    assert v.out["i_max_axes"].tolist() == [[212, 212]] and v.out["i_max"].tolist() == [212]
    assert v.rf_max("classifier.0") == [math.inf, math.inf] and v.flag("is_global", "classifier.0")
    # Weights without biases; torchvision's 138,357,544 counts 13,416 biases.
    assert v.out["params"].tolist() == [138_344_128]
    assert v.out["macs"].tolist() == [[15_470_264_320]]  # the well-known 15.47 GMACs
    # pool5 meets rule (a) while its input field (196) still covers I: i_min = 197.
    assert v.out["i_min"].tolist() == [197]


def test_resnet_last_stage(run: Runner) -> None:
    for build, rf, params, macs in (
        (nets.resnet18, 435, 11_678_912, 1_814_073_344),
        (nets.resnet50, 427, 25_502_912, None),
    ):
        g = build()
        v = analyze(run, g, [[224, 224]])
        layer4 = [i for i, n in enumerate(g.nodes) if n.name.startswith("layer4")]
        assert v.out["rf_max"][layer4].max() == rf
        assert v.out["jump"][layer4].max() == 32
        assert v.out["graph_rf_max"].tolist() == [[rf, rf]]
        # torchvision's counts minus BN affine parameters and the fc bias
        assert v.out["params"].tolist() == [params]
        if macs is not None:
            assert v.out["macs"].tolist() == [[macs]]


def test_dilated_chain(run: Runner) -> None:
    g = nets.dilated_chain((1, 2, 4))
    v = analyze(run, g, [[20, 20]])
    assert [v.rf_max(f"conv{i}")[0] for i in range(3)] == [3, 7, 15]
    assert [v.fmap(f"conv{i}") for i in range(3)] == [[20, 20]] * 3  # pad = dilation keeps the size
    assert v.jump("conv2") == [1, 1] and v.center("conv2") == [0, 0]


def _jump4(b: GraphBuilder) -> int:
    """input -> conv 3x3/2 pad 1 -> pool 2/2: rf 5, jump 4, center 1."""
    x = b.input("x")
    x = b.conv(x, 3, 2, pad=1, name="conv")
    return b.pool(x, 2, 2, name="pool")


@pytest.mark.parametrize("k, added", [(4, 4), (3, 4), (1, 0), (2, 0), (5, 8)])
def test_transposed_adds_ceil_k_over_s_minus_1_input_jumps(run: Runner, k: int, added: int) -> None:
    b = GraphBuilder()
    x = _jump4(b)
    b.transposed(x, k, 2, pad=(k - 1) // 2, name="up")
    v = analyze(run, b.build(), [[16, 16]])
    assert v.rf_max("pool") == [5, 5] and v.jump("pool") == [4, 4]
    assert v.rf_max("up") == [5 + added] * 2 == v.rf_min("up")  # rf_in + (ceil(k/2) - 1) * J_in
    assert v.jump("up") == [2, 2]
    pad = (k - 1) // 2
    assert v.fmap("up") == [(4 - 1) * 2 - 2 * pad + k] * 2


def test_transposed_center_and_output_padding(run: Runner) -> None:
    b = GraphBuilder()
    x = _jump4(b)
    b.transposed(x, 4, 2, pad=1, name="up")  # the usual 2x decoder step
    b.transposed(x, 3, 2, pad=1, output_padding=1, name="up_op")
    v = analyze(run, b.build(), [[16, 16]])
    assert v.center("pool") == [1, 1]
    assert v.center("up") == [0, 0]  # C_in + (pb - (k'-1)/2) * J_in / s = 1 + (1 - 1.5) * 2
    assert v.center("up_op") == [1, 1]  # 1 + (1 - 1) * 2
    assert v.fmap("up") == [8, 8] and v.fmap("up_op") == [8, 8]  # exactly 2x


def test_window_after_transposed_counts_real_units(run: Runner) -> None:
    """After a k=1, s=2 transposed conv every other fine unit is real: 2 fine units hold 1, 3 hold 2."""
    b = GraphBuilder()
    x = _jump4(b)
    up = b.transposed(x, 1, 2, name="up")
    b.conv(up, 2, name="k2")
    b.conv(up, 3, name="k3")
    v = analyze(run, b.build())
    assert v.rf_max("up") == [5, 5]
    assert v.rf_max("k2") == [5, 5]
    assert v.rf_max("k3") == [9, 9]


def test_nearest_upsampling_then_2x2_conv_adds_a_whole_input_jump(run: Runner) -> None:
    b = GraphBuilder()
    x = _jump4(b)
    x = b.resize(x, 2, "nearest", name="up")
    b.conv(x, 2, name="conv2x2")
    v = analyze(run, b.build(), [[16, 16]])
    assert v.rf_max("up") == [5, 5] and v.jump("up") == [2, 2] and v.center("up") == [1, 1]
    assert v.rf_max("conv2x2") == [9, 9]  # 5 + J_in (4), not 5 + J_in / 2
    assert v.fmap("up") == [8, 8] and v.fmap("conv2x2") == [7, 7]


@pytest.mark.parametrize("mode, added", [("nearest", 0), ("linear", 4), ("cubic", 12)])
def test_interpolation_reads_neighbours(run: Runner, mode: str, added: int) -> None:
    b = GraphBuilder()
    x = _jump4(b)
    up = b.resize(x, 2, mode, name="up")
    b.conv(up, 2, name="conv2x2")
    b.resize(x, 0.5, mode, name="down")
    v = analyze(run, b.build(), [[16, 16]])
    assert v.rf_max("up") == [5 + added] * 2
    assert v.rf_max("conv2x2") == [5 + added + 4] * 2
    assert v.rf_max("down") == [5 + added] * 2 and v.jump("down") == [8, 8]  # f < 1 samples like a stride
    # half-pixel sampling moves the center by (1/(2f) - 1/2) * J_in; nearest does not
    assert v.center("up") == ([1, 1] if mode == "nearest" else [0, 0])
    assert v.center("down") == ([1, 1] if mode == "nearest" else [3, 3])
    assert v.fmap("down") == [2, 2]


def test_fractional_resize_sizes_and_jump(run: Runner) -> None:
    b = GraphBuilder(dims=1)
    x = b.input("x")
    x = b.resize(x, 1.5, name="up")
    b.conv(x, 2, name="k2")
    b.resize(x, 3, name="x3")
    v = analyze(run, b.build(), [[5], [7]])
    assert v.fmap("up", 0) == [7] and v.fmap("up", 1) == [10]  # floor(n * 3/2)
    assert v.jump("up") == [2 / 3]
    assert v.rf_max("k2") == [2]  # two fine units touch at most two source pixels
    assert v.fmap("x3", 0) == [21]


def test_merge_tie_breaks_on_F(run: Runner) -> None:
    """Two inputs with rf 5: one built on a coarse grid (F = 1), one straight (F = 4).

    The next 2-wide window grows the straight one to 6 but the gridded one
    only to 5, so rf_max must carry the larger base + F (5 against 4) and rf_min the smaller.
    """
    b = GraphBuilder(dims=1)
    x = b.input("x")
    a = b.conv(x, 3, 2, name="a")
    a = b.resize(a, 2, name="a_up")
    a = b.conv(a, 2, name="a_k2")  # 3 + 2 * ceil(1/2) = 5
    s = b.conv(x, 5, name="straight")  # 5
    m = b.add(a, s, name="m")
    b.conv(m, 2, name="after")
    v = analyze(run, b.build(), [[32]])
    assert v.rf_max("a_k2") == [5] and v.rf_max("straight") == [5]
    assert v.rf_min("m") == [5] and v.rf_max("m") == [5]
    assert v.rf_min("after") == [5] and v.rf_max("after") == [6]


@pytest.mark.parametrize("order", ["a first", "b first"])
def test_merge_tie_breaks_on_the_field_before_rounding(run: Runner, order: str) -> None:
    """Two inputs of field 2 on the same half-pixel grid; one wide window after them tells them apart.

    Footprints (1-D, nearest x2 reads pixel floor(o/2)):
      a = x2 then k2: unit u reads up-units u, u+1 = pixels floor(u/2), floor((u+1)/2): 1 px (u even), 2 (odd).
      b = k2 then x2: unit u reads k2-unit floor(u/2) = pixels floor(u/2) and the next: always 2 px.
    A k2 after the merge, unit w:
      through a: a-units w, w+1 = {w/2} + {w/2, w/2+1} (w even) or {(w-1)/2, (w+1)/2} + {(w+1)/2}: 2 px;
      through b: b-units w, w+1 = k2-units floor(w/2), floor((w+1)/2): one unit, 2 px (w even), two, 3 px (odd).
    So rf_min = 2 and rf_max = 3 after the merge.  As triples (base, F, G): a is (1, 1/2, 1), b is
    (2, 0, 1); a k2 at jump 1/2 adds 1/2 to F: a gives 1 + ceil(1) = 2, b gives 2 + ceil(1/2) = 3.
    The tie at the merge (both 2) must go by base + F (1.5 against 2), not by F alone.
    """
    b = GraphBuilder(dims=1)
    x = b.input("x")
    branches = {}
    up = b.resize(x, 2, "nearest", name="a_up")
    branches["a"] = b.conv(up, 2, name="a_k2")
    k2 = b.conv(x, 2, name="b_k2")
    branches["b"] = b.resize(k2, 2, "nearest", name="b_up")
    first, second = ("a", "b") if order == "a first" else ("b", "a")
    m = b.add(branches[first], branches[second], name="m")
    b.conv(m, 2, name="after")
    v = analyze(run, b.build(), [[16]])
    assert v.rf_max("a_k2") == [2] and v.rf_max("b_up") == [2]
    assert v.rf_min("m") == [2] and v.rf_max("m") == [2]
    assert v.rf_min("after") == [2] and v.rf_max("after") == [3]


def test_merge_min_and_max_over_paths(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    c3 = b.conv(x, 3, pad=1, name="c3")
    c5 = b.conv(c3, 3, pad=1, name="c5")
    m = b.add(c3, x, c5, name="m")
    b.conv(m, 3, pad=1, name="after")
    v = analyze(run, b.build(), [[8, 8]])
    assert v.rf_min("m") == [1, 1] and v.rf_max("m") == [5, 5]
    assert v.rf_min("after") == [3, 3] and v.rf_max("after") == [7, 7]
    assert v.flag("node_aligned", "m")


# ---------------------------------------------------------------------------
# Exactness after upsampling, against a brute-force footprint in 1-D


EXACT_CHAINS = {
    "nearest2_k2": nets.chain_1d(("conv", 3, 2), ("pool", 2, 2), ("nearest", 2), ("conv", 2)),
    "nearest2_k3_k3_k2": nets.chain_1d(("conv", 3, 2), ("nearest", 2), ("conv", 3), ("conv", 3), ("conv", 2)),
    "tconv4_k3_k2": nets.chain_1d(("conv", 3, 2), ("pool", 2, 2), ("tconv", 4, 2, 1), ("conv", 3), ("conv", 2)),
    "nearest3_k2_k4": nets.chain_1d(("conv", 5, 3), ("nearest", 3), ("conv", 2), ("conv", 4)),
    "linear2_k2": nets.chain_1d(("conv", 3, 2), ("linear", 2), ("conv", 2)),
    "cubic2_k3": nets.chain_1d(("conv", 3, 2), ("pool", 2, 2), ("cubic", 2), ("conv", 3)),
    "linear_half": nets.chain_1d(("conv", 3, 2), ("linear", 0.5), ("conv", 3)),
    "nearest1.5_k2_k2": nets.chain_1d(("conv", 3, 2), ("nearest", 1.5), ("conv", 2), ("conv", 2)),
    # a U-Net decoder: the second upsampling keeps the coarse grid (13, not 11, after its 3x3)
    "unet": nets.chain_1d(
        ("conv", 3, 2), ("pool", 2, 2), ("nearest", 2), ("conv", 3), ("nearest", 2), ("conv", 3), ("conv", 2)
    ),
    "unet_k2": nets.chain_1d(("conv", 3, 2), ("pool", 2, 2), ("nearest", 2), ("conv", 2), ("nearest", 2), ("conv", 2)),
    "nearest_then_linear": nets.chain_1d(("conv", 3, 2), ("pool", 2, 2), ("nearest", 2), ("linear", 2), ("conv", 2)),
    "two_tconvs": nets.chain_1d(("tconv", 1, 2), ("conv", 3), ("tconv", 3, 3), ("conv", 4)),
}


@pytest.mark.parametrize("name", list(EXACT_CHAINS))
def test_rf_max_is_the_largest_footprint_over_positions(run: Runner, name: str) -> None:
    graph = EXACT_CHAINS[name]
    out = run(graph, [[64]])
    expected = nets.largest_footprints(graph)
    assert out["rf_max"][:, 0].tolist() == expected
    assert out["rf_min"][:, 0].tolist() == expected  # one path: rf_min is that same maximum


def test_unet_decoder_does_not_underestimate(run: Runner) -> None:
    out = run(EXACT_CHAINS["unet"], [[64]])
    assert out["rf_max"][:, 0].tolist() == [1, 3, 5, 5, 9, 9, 13, 13]


UPPER_BOUND_CHAINS = {
    # half-pixel samples of a 3x resize land on input units every third output
    "linear3_k2": (nets.chain_1d(("conv", 3, 2), ("linear", 3), ("conv", 2)), 7, 5),
    # 1/3 linear downsampling samples input units exactly: no neighbour is read
    "linear_third": (nets.chain_1d(("conv", 3, 2), ("linear", 1 / 3)), 5, 3),
    # taps of a dilated window after a 3x transposed conv never meet two real units
    "tconv_dilated": (nets.chain_1d(("tconv", 1, 3), ("conv", 3, 1, 2)), 2, 1),
    "stride_after_up": (nets.chain_1d(("conv", 3, 2), ("nearest", 2), ("conv", 2, 2)), 5, 3),
}


@pytest.mark.parametrize("name", list(UPPER_BOUND_CHAINS))
def test_rf_max_is_an_upper_bound_where_not_exact(run: Runner, name: str) -> None:
    graph, rule, truth = UPPER_BOUND_CHAINS[name]
    assert nets.largest_footprints(graph)[-1] == truth
    out = run(graph, [[64]])
    assert out["rf_max"][-1, 0] == rule >= truth


# ---------------------------------------------------------------------------
# Feature maps


def test_same_padding_is_ceil_n_over_s(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    b.conv(x, 3, 2, pad="same", name="upper")
    b.conv(x, 3, 2, pad="same_lower", name="lower")
    b.pool(x, 2, 2, pad="same", name="pool")
    b.conv(x, 3, 2, pad="valid", name="valid")
    b.conv(x, 4, pad="same", name="k4_upper")
    b.conv(x, 4, pad="same_lower", name="k4_lower")
    v = analyze(run, b.build(), [[7, 8], [9, 10]])
    for name in ("upper", "lower", "pool"):
        assert v.fmap(name, 0) == [4, 4] and v.fmap(name, 1) == [5, 5], name
    assert v.fmap("valid", 0) == [3, 3] and v.fmap("valid", 1) == [4, 4]  # floor((n - 3)/2) + 1
    assert v.fmap("k4_upper", 1) == [9, 10]
    # center pads of an input divisible by the stride: total k' - s = 3, begin 1 (upper) or 2 (lower)
    assert v.center("k4_upper") == [0.5, 0.5] and v.center("k4_lower") == [-0.5, -0.5]
    assert v.center("upper") == [1, 1] and v.center("lower") == [0, 0]  # total 1: begin 0 (upper) or 1 (lower)
    assert v.center("valid") == [1, 1]


def test_ceil_mode_googlenet_stem(run: Runner) -> None:
    b = GraphBuilder("googlenet_stem")
    x = b.input("x")
    x = b.conv(x, 7, 2, pad=3, name="conv1")
    b.pool(x, 3, 2, ceil_mode=True, name="maxpool1")
    b.pool(x, 3, 2, name="floor_pool")
    v = analyze(run, b.build(), [[224, 224]])
    assert v.fmap("conv1") == [112, 112]
    assert v.fmap("maxpool1") == [56, 56]  # ceil((112 - 3)/2) + 1
    assert v.fmap("floor_pool") == [55, 55]


def test_ceil_mode_last_window_must_start_inside(run: Runner) -> None:
    b = GraphBuilder(dims=1)
    x = b.input("x")
    b.pool(x, 2, 2, pad=1, ceil_mode=True, name="ceil")
    b.pool(x, 2, 2, pad=1, name="floor")
    v = analyze(run, b.build(), [[5], [6], [3]])
    # n=5: ceil(5/2) + 1 = 4 windows, but the 4th would start at 6 = n + pb, in the end pad: 3 (as PyTorch)
    assert [v.fmap("ceil", r) for r in range(3)] == [[3], [4], [2]]
    assert [v.fmap("floor", r) for r in range(3)] == [[3], [4], [2]]
    b2 = GraphBuilder(dims=1)
    b2.pool(b2.input(), 3, 2, pad=1, ceil_mode=True, name="ceil")
    assert analyze(run, b2.build(), [[4]]).fmap("ceil") == [3]  # floor mode would give 2


def test_empty_maps(run: Runner) -> None:
    """A window larger than the padded input gives 0; an empty map stays empty (docs: "an empty input")."""
    b = GraphBuilder(dims=1)
    x = b.input("x")
    x = b.conv(x, 7, name="big")
    b.conv(x, 1, pad=1, name="padded")
    b.transposed(x, 3, 2, name="up")
    v = analyze(run, b.build(), [[4]])
    assert v.fmap("big") == [0] and v.fmap("padded") == [0] and v.fmap("up") == [0]
    assert v.status("padded") & U  # an empty input fits in any window: rule (b)


def test_one_dimensional_network(run: Runner) -> None:
    b = GraphBuilder("audio", dims=1)
    x = b.input("x")
    x = b.conv(x, 5, 2, name="conv")
    x = b.pool(x, 3, 3, name="pool")
    x = b.global_pool(x, name="gap")
    v = analyze(run, b.build(), [[100]])
    assert v.rf_max("conv") == [5] and v.rf_max("pool") == [9] and v.jump("pool") == [6]
    assert v.fmap("conv") == [48] and v.fmap("pool") == [16]
    assert v.rf_max("gap") == [math.inf] and v.fmap("gap") == [1]
    assert v.out["fmap"].shape == (1, 4, 1) and v.out["i_min_axes"].shape == (1, 1)


def test_three_dimensional_network(run: Runner) -> None:
    b = GraphBuilder("video", dims=3)
    x = b.input("x")
    x = b.conv(x, 3, 2, pad=1, name="c1")
    b.conv(x, (1, 3, 3), name="c2")
    v = analyze(run, b.build(), [[16, 32, 8]])
    assert v.rf_max("c1") == [3, 3, 3] and v.jump("c1") == [2, 2, 2]
    assert v.rf_max("c2") == [3, 7, 7]
    assert v.fmap("c1") == [8, 16, 4] and v.fmap("c2") == [8, 14, 2]
    assert v.out["rf_max"].shape == (3, 3) and v.out["fmap"].shape == (1, 3, 3)


def test_anisotropic_kernels_and_strides(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    x = b.conv(x, (1, 7), pad=(0, 3), name="1x7")
    b.conv(x, (7, 1), (2, 1), pad=(3, 0), name="7x1")
    v = analyze(run, b.build(), [[32, 20], [4, 4]])
    assert v.rf_max("1x7") == [1, 7] and v.rf_max("7x1") == [7, 7]
    assert v.jump("7x1") == [2, 1]
    assert v.fmap("7x1") == [16, 20]
    assert v.status("1x7", 1) == P  # 7 > 4 on one axis only
    assert v.status("7x1", 1) & C


# ---------------------------------------------------------------------------
# Global nodes and global context


def test_global_pooling_makes_everything_downstream_global(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    x = b.conv(x, 3, pad=1, name="conv")
    g1 = b.global_pool(x, name="gap")
    g2 = b.global_pool(x, name="gmp")
    y = b.conv(g1, 1, c_in=8, c_out=8, name="conv_after")
    y = b.add(y, g2, name="sum")
    b.dense(y, 8, 10, name="fc")
    v = analyze(run, b.build(), [[1, 1], [64, 64]])
    for name in ("gap", "gmp", "conv_after", "sum", "fc"):
        assert v.flag("is_global", name), name
        assert v.rf_min(name) == [math.inf] * 2 and v.rf_max(name) == [math.inf] * 2, name
        assert v.jump(name) == [math.inf] * 2 and all(math.isnan(c) for c in v.center(name)), name
        assert v.fmap(name, 0) == [1, 1] and v.fmap(name, 1) == [1, 1], name
        assert v.status(name, 0) == 0, name  # never critical or unproductive, even at I = 1
        assert not v.flag("global_context", name), name
    assert not v.flag("is_global", "conv")
    assert v.out["graph_rf_max"].tolist() == [[3, 3]]  # the largest *finite* field
    assert v.out["node_macs"][1, g1 + 2].item() == 64  # 8 * 8 weights on a 1x1 map


def test_squeeze_excitation_sets_global_context_and_keeps_the_spatial_field(run: Runner) -> None:
    g = nets.se_block()
    v = analyze(run, g, [[2, 2]])
    assert v.rf_max("gate") == [3, 3] and v.rf_min("gate") == [3, 3]
    assert v.rf_max("after") == [5, 5]
    assert not v.flag("is_global", "gate")
    assert v.flag("global_context", "gate") and v.flag("global_context", "after")
    assert v.flag("global_context", "pool") and v.flag("global_context", "fc")  # inherited downstream
    assert not v.flag("global_context", "conv") and not v.flag("global_context", "fc1")
    assert v.flag("is_global", "fc1") and v.flag("is_global", "fc2")
    assert v.status("fc1") == 0 and v.status("fc2") == 0  # 1x1 convs on a 1x1 map, but global
    assert v.fmap("gate") == [2, 2]  # the largest *spatial* input's map
    assert v.out["aligned"].tolist() == [True]


# ---------------------------------------------------------------------------
# Alignment


def test_merge_alignment(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    a = b.conv(x, 3, 2, pad=1, name="a")  # J 2, C 0
    s = b.conv(x, 1, 2, name="s")  # J 2, C 0
    b.add(a, s, name="ok")
    a0 = b.conv(x, 3, 2, name="a_nopad")  # J 2, C 1
    b.add(a0, s, name="shifted")
    p = b.pool(x, 2, 2, name="p")  # J 2, C 0.5
    b.add(b.conv(x, 1, name="s1"), p, name="strided")  # J 1 vs 2
    v = analyze(run, b.build())
    assert v.flag("node_aligned", "ok")
    assert not v.flag("node_aligned", "shifted")
    assert not v.flag("node_aligned", "strided")
    assert v.jump("strided") == [1, 1] and v.center("strided") == [0, 0]  # the first input's
    assert v.out["aligned"].tolist() == [False]


# ---------------------------------------------------------------------------
# Status: critical, unproductive (a) and (b), border


def test_chain_status_by_hand(run: Runner) -> None:
    # c1..c4: 3x3 pad 1, the third with stride 2: rf 3, 5, 7, 11
    g = nets.conv_chain([3, 3, 3, 3], [1, 1, 2, 1])
    v = analyze(run, g, [[4, 4], [8, 8]])
    assert [v.rf_min(f"c{i}")[0] for i in range(1, 5)] == [3, 5, 7, 11]
    # I = 4: c3 meets (a): its input field 5 >= 4 and its own 7 > 4; c4 meets (a) and (b) (map 2 <= 3)
    assert v.status("c1", 0) == 0
    assert v.status("c2", 0) == C  # 5 > 4 but its input (3) does not cover the image: productive
    assert v.status("c3", 0) == C | U | B
    assert v.status("c4", 0) == C | U
    assert v.out["n_unproductive"].tolist()[0][0] == 2 and v.out["n_border"].tolist()[0][0] == 1
    assert v.out["n_critical"].tolist()[0][0] == 3
    # I = 8: nothing unproductive (c4's input map is 4 > 3, its input field 7 < 8)
    assert v.out["n_unproductive"][0, 1] == 0 and v.status("c4", 1) == C


def test_rule_b_alone(run: Runner) -> None:
    g = nets.conv_chain([3, 3, 3, 5], [1, 1, 2, 1])
    v = analyze(run, g, [[8, 8]])
    # c4 (5x5): input field 7 < 8, so not (a); its input map 4 <= 5: (b)
    assert v.rf_min("c3") == [7, 7] and v.fmap("c3") == [4, 4]
    assert v.status("c4") == C | U | B


def test_residual_border(run: Runner) -> None:
    g = nets.tiny_resnet()
    v = analyze(run, g, [[6, 6], [7, 7]])
    assert v.rf_min("b0") == [3, 3] and v.rf_max("b0") == [11, 11]  # the skip keeps rf_min low
    assert v.rf_min("b1.conv2") == [11, 11] and v.rf_max("b1.conv2") == [19, 19]
    # I = 6: the stem's map is 3, so every block conv meets (b); only the first starts it.
    # b1.conv1 follows an addition whose conv branch (b0.conv2) is unproductive: not a border again.
    assert v.status("b0.conv1", 0) & (U | B) == U | B
    assert v.status("b0.conv2", 0) & (U | B) == U
    assert v.status("b1.conv1", 0) & (U | B) == U
    assert v.status("b1.conv2", 0) & (U | B) == U
    assert v.out["n_border"][0, 0] == 1 and v.out["n_unproductive"][0, 0] == 4
    # I = 7: maps are 4; (a) only where the input's rf_min (7) covers 7: both conv2s, each after a productive conv1
    assert v.status("b0.conv2", 1) & (U | B) == U | B
    assert v.status("b1.conv1", 1) & U == 0
    assert v.status("b1.conv2", 1) & (U | B) == U | B
    assert v.out["n_border"][0, 1] == 2


def test_ignore_1x1(run: Runner) -> None:
    # c1 3x3/2 (no pad), c2 1x1, c3 3x3 pad 1
    b = GraphBuilder()
    x = b.input("x")
    x = b.conv(x, 3, 2, name="c1")
    x = b.conv(x, 1, name="c2")
    b.conv(x, 3, pad=1, name="c3")
    g = b.build()
    v = analyze(run, g, [[3, 3]])
    assert [v.status(n) & (U | B) for n in ("c1", "c2", "c3")] == [U | B, U, U]
    w = analyze(run, g, [[3, 3]], ignore_1x1=True)
    # the 1x1 is skipped, and the border walk looks through it: c3 follows unproductive c1, not a border
    assert [w.status(n) & (U | B) for n in ("c1", "c2", "c3")] == [U | B, 0, U]
    assert w.out["n_unproductive"][0, 0] == 2 and w.out["n_border"][0, 0] == 1


def test_ignore_1x1_moves_i_min(run: Runner) -> None:
    # c2 (1x1) meets (b) while c1's map floor((I-3)/2)+1 <= 1, i.e. I <= 4
    g = nets.conv_chain([3, 1], [2, 1], pad=False)
    assert run(g, [[8, 8]])["i_min"].tolist() == [5]
    assert run(g, [[8, 8]], ignore_1x1=True)["i_min"].tolist() == [4]
    assert brute_i_min(lambda g_, r: run(g_, r, ignore_1x1=True), g, 12) == 4


# ---------------------------------------------------------------------------
# I_min, I_max


def test_i_min_chain_by_hand_and_brute_force(run: Runner) -> None:
    # rf 3, 5, 7, 11. Largest I still unproductive: c4 by (a) while I <= 7 (its (b) ends at 6) -> i_min 8
    g = nets.conv_chain([3, 3, 3, 3], [1, 1, 2, 1])
    out = run(g, [[8, 8]])
    assert out["i_min"].tolist() == [8] and out["i_min_axes"].tolist() == [[8, 8]]
    assert brute_i_min(run, g, 30) == 8
    # a 5x5 last layer: (b) holds while floor((I-1)/2)+1 <= 5, i.e. I <= 10 -> i_min 11
    g5 = nets.conv_chain([3, 3, 3, 5], [1, 1, 2, 1])
    assert run(g5, [[8, 8]])["i_min"].tolist() == [11]
    assert brute_i_min(run, g5, 30) == 11


def test_i_min_per_axis(run: Runner) -> None:
    # kernels (3,1) then (5,1)/(2,1): axis 0 is unproductive up to 5, axis 1 only at 1
    b = GraphBuilder()
    x = b.input("x")
    x = b.conv(x, (3, 1), pad=(1, 0), name="c1")
    b.conv(x, (5, 1), (2, 1), pad=(2, 0), name="c2")
    g = b.build()
    out = run(g, [[8, 8]])
    assert out["i_min_axes"].tolist() == [[6, 2]]
    # square: (a) never holds on axis 1 (k' = 1), (b) needs maps <= 1 there: only at I = 1
    assert out["i_min"].tolist() == [2]
    assert [brute_i_min(run, nets.project(g, a), 20) for a in range(2)] == [6, 2]
    assert brute_i_min(run, g, 20) == 2
    assert out["i_max_axes"].tolist() == [[7, 1]] and out["i_max"].tolist() == [7]


def test_i_min_is_inf_when_no_resolution_is_free(run: Runner) -> None:
    b = GraphBuilder(dims=1)
    x = b.input("x")
    for _ in range(3):
        x = b.resize(x, 1 / 4096)  # the map is floor(I / 2**36) = 0 for every I <= 2**30
    b.conv(x, 3, name="next")  # so rule (b) holds everywhere
    out = run(b.build(), [[16]])
    assert out["i_min"].tolist() == [math.inf] and out["i_min_axes"].tolist() == [[math.inf]]


def test_i_min_without_windows_is_one(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    b.resize(b.identity(x), 2, name="up")
    out = run(b.build(), [[4, 4]])
    assert out["i_min"].tolist() == [1]
    assert np.isnan(out["i_max_axes"]).all() and np.isnan(out["i_max"]).all()  # no WINDOW: no i_max
    assert out["graph_rf_max"].tolist() == [[1, 1]]


# ---------------------------------------------------------------------------
# Disconnected nodes and graphs


def test_zero_input_merge_is_disconnected(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    c = b.conv(x, 3, pad=1, name="c")
    z = b.merge(name="const")
    d = b.conv(z, 3, pad=1, c_in=4, c_out=4, name="d")
    a = b.add(c, d, name="a")
    b.conv(a, 3, pad=1, name="e")
    v = analyze(run, b.build(), [[1, 1], [8, 8]])
    for name in ("const", "d"):
        assert not v.flag("node_connected", name), name
        assert all(math.isnan(f) for key in ("rf_min", "rf_max", "jump", "center") for f in v.node(key, name)), name
        assert v.fmap(name, 0) == [0, 0] and v.status(name, 0) == 0, name
        assert v.node("node_params", name) == 0 and v.out["node_macs"][1, v.graph.index(name)] == 0
    assert v.flag("node_connected", "a") and v.rf_max("a") == [3, 3] and v.rf_min("a") == [3, 3]
    assert v.flag("node_aligned", "a")
    assert v.rf_max("e") == [5, 5]
    assert v.out["connected"].tolist() == [True] and v.out["params"].tolist() == [0]


def test_disconnected_graph(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    b.conv(x, 3, pad=1, name="c")
    z = b.merge(name="const")
    b.global_pool(z, name="gap")
    out = run(b.build(), [[8, 8]])
    assert out["connected"].tolist() == [False]
    assert np.isnan(out["i_min"]).all() and np.isnan(out["i_min_axes"]).all()
    assert out["node_connected"].tolist() == [True, True, False, False]
    assert out["is_global"].tolist() == [False, False, False, False]  # a disconnected GLOBAL is not global
    # the output (gap) is not reached from the input: x and c are dead, no live node has a field
    assert out["status"][0].tolist() == [DEAD, DEAD, 0, 0]
    assert np.isnan(out["graph_rf_max"]).all() and np.isnan(out["i_max"]).all()
    assert out["n_dead"].tolist() == [1]  # c (connected and windowed); x is no window
    out = run(sinks_as_outputs(b.build()), [[8, 8]])  # c as an output too: live
    assert out["graph_rf_max"].tolist() == [[3, 3]] and out["n_dead"].tolist() == [0]


def test_dead_nodes(run: Runner) -> None:
    """Dead (no output reachable): status DEAD alone, out of every count, I_min, I_max and rf_max.

    x -> a 3x3/2 pad 1 -> b 3x3 pad 1 (the output); a -> c 7x7 -> d 3x3 (a side branch, dead).
    Fields: a 3 (jump 2), b 7, c 15, d 19. Live: b is unproductive for I <= 6 ((b): its input map
    ceil(I/2) <= 3), a for I <= 3: I_min 7, I_max and rf_max 7; at 8 and 64 nothing. c would be
    unproductive up to 14 (ceil(I/2) <= 7) and critical at 8 (15 > 8): dead, it counts for
    nothing but its MACs, 2·1·49 = 98 weights on a (ceil(I/2) - 6)² map: 0 at 8, 26² at 64.
    """
    b = GraphBuilder()
    x = b.input("x")
    a = b.conv(x, 3, 2, pad=1, c_in=1, c_out=1, name="a")
    out_node = b.conv(a, 3, pad=1, c_in=1, c_out=1, name="b")
    c = b.conv(a, 7, c_in=1, c_out=2, name="c")
    b.conv(c, 3, name="d")
    g = Graph(b.build().nodes, name="dead", outputs=[out_node])
    out = run(g, [[8, 8], [64, 64]])
    assert out["status"][0].tolist() == [0, 0, 0, DEAD, DEAD]
    assert out["n_unproductive"].tolist() == [[0, 0]] and out["n_border"].tolist() == [[0, 0]]
    assert out["n_critical"].tolist() == [[0, 0]]
    assert out["graph_rf_max"].tolist() == [[7, 7]] and out["i_max"].tolist() == [7]
    assert out["n_dead"].tolist() == [2]
    assert out["macs_dead"].tolist() == [[0, 98 * 676]]
    assert out["i_min"].tolist() == [7]


# ---------------------------------------------------------------------------
# Cost


def test_params_and_macs(run: Runner) -> None:
    b = GraphBuilder()
    x = b.input("x")
    x = b.conv(x, 3, pad=1, c_in=16, c_out=32, groups=4, name="conv")
    x = b.pool(x, 2, 2, name="pool")
    x = b.transposed(x, 4, 2, pad=1, c_in=32, c_out=16, groups=2, name="up")
    x = b.conv(x, 3, pad=1, name="unknown")  # channels unknown: no cost
    x = b.global_pool(x, name="gap")
    b.dense(x, 16, 10, name="fc")
    v = analyze(run, b.build(), [[10, 10], [2, 2]])
    assert v.node("node_params", "conv") == 32 * (16 // 4) * 9 == 1152
    assert v.node("node_params", "up") == 32 * (16 // 2) * 16 == 4096
    assert v.node("node_params", "fc") == 160 and v.node("node_params", "pool") == 0
    assert v.node("node_params", "unknown") == 0
    macs = v.out["node_macs"]
    assert macs[0, v.graph.index("conv")] == 1152 * 10 * 10
    assert macs[0, v.graph.index("up")] == 4096 * 5 * 5  # on the input's map
    assert macs[0, v.graph.index("fc")] == 160
    assert v.out["params"].tolist() == [1152 + 4096 + 160]
    assert v.out["macs"][0].tolist() == [115200 + 102400 + 160, 1152 * 4 + 4096 + 160]
    # at 2x2 the pool's map is 1: the transposed conv and the 3x3 after it meet (b)
    assert v.status("up", 1) & U and v.status("conv", 1) & U
    assert v.out["macs_unproductive"][0].tolist() == [0, 1152 * 4 + 4096]


# ---------------------------------------------------------------------------
# Layout and errors


def test_output_layout(run: Runner) -> None:
    g = nets.tiny_resnet()
    out = run(g, [[8, 8], [16, 16], [9, 30]])
    n, r = len(g), 3
    expected = {
        "rf_min": (np.float64, (n, 2)), "rf_max": (np.float64, (n, 2)), "jump": (np.float64, (n, 2)),
        "center": (np.float64, (n, 2)), "node_connected": (np.bool_, (n,)), "is_global": (np.bool_, (n,)),
        "global_context": (np.bool_, (n,)), "node_aligned": (np.bool_, (n,)), "node_params": (np.int64, (n,)),
        "fmap": (np.int64, (r, n, 2)), "status": (np.uint8, (r, n)), "node_macs": (np.int64, (r, n)),
        "n_unproductive": (np.int64, (1, r)), "n_border": (np.int64, (1, r)), "n_critical": (np.int64, (1, r)),
        "n_partially_critical": (np.int64, (1, r)), "macs": (np.int64, (1, r)),
        "macs_unproductive": (np.int64, (1, r)), "i_min": (np.float64, (1,)), "i_min_axes": (np.float64, (1, 2)),
        "i_max_axes": (np.float64, (1, 2)), "graph_rf_max": (np.float64, (1, 2)), "i_max": (np.float64, (1,)),
        "connected": (np.bool_, (1,)), "aligned": (np.bool_, (1,)), "params": (np.int64, (1,)),
        "n_dead": (np.int64, (1,)), "macs_dead": (np.int64, (1, r)),
    }  # fmt: skip
    assert set(out) == set(expected)
    for key, (dtype, shape) in expected.items():
        assert out[key].dtype == dtype and out[key].shape == shape, key
    assert out["fmap"][2, 0].tolist() == [9, 30]


def test_run_batch_concatenates() -> None:
    graphs = [nets.tiny_resnet(), nets.conv_chain([3, 5]), nets.se_block()]
    res = [[8, 8], [32, 32]]
    batch = reference.run_batch(graphs, res)
    singles = [reference.run_graph(g, res) for g in graphs]
    assert batch["rf_max"].shape == (sum(len(g) for g in graphs), 2)
    assert batch["fmap"].shape == (2, sum(len(g) for g in graphs), 2)
    assert batch["i_min"].shape == (3,) and batch["n_border"].shape == (3, 2)
    np.testing.assert_array_equal(batch["status"][:, len(graphs[0]) :][:, : len(graphs[1])], singles[1]["status"])
    np.testing.assert_array_equal(batch["i_min_axes"][2], singles[2]["i_min_axes"][0])


def test_bad_inputs_are_refused() -> None:
    g = nets.conv_chain([3])
    with pytest.raises(ResolutionError):
        reference.run_graph(g, [[0, 4]])
    with pytest.raises(ResolutionError):
        reference.run_graph(g, [[4]])
    b = GraphBuilder(dims=1)
    b.resize(b.input(), 1 / 4099.5)
    with pytest.raises(GraphError):
        reference.run_graph(b.build(), [[8]])
