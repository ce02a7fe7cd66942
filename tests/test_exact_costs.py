"""Parameter and MAC counts past int64 are exact Python ints, never a saturated 2**63 - 1 (issue 17 item 5)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rfa_fast
from rfa_fast import GraphBuilder, Space, _core, zoo
from rfa_fast._costs import SATURATED, exact_totals
from rfa_fast.nas import nb201_batch, nb201_screen

BIG = 10**9


def vgg_chain(channels: list[int], name: str = "chain") -> rfa_fast.Graph:
    """3x3 'same' convolutions at stride 1: every map is the input size, so MACs have a closed form."""
    b = GraphBuilder(name)
    x = b.input()
    for c_in, c_out in zip(channels, channels[1:]):
        x = b.conv(x, 3, pad=1, c_in=c_in, c_out=c_out)
    return b.build()


def chain_macs(channels: list[int], size: int) -> int:
    return sum(9 * a * b for a, b in zip(channels, channels[1:])) * size * size


def test_analyze_at_1e9_counts_exactly_in_summary_layers_and_json() -> None:
    ch = [3, 64, 64, 128]
    rep = rfa_fast.analyze(vgg_chain(ch), BIG)
    want = chain_macs(ch, BIG)
    assert want > SATURATED
    assert rep.summary["macs"] == want
    assert sum(la.macs for la in rep.layers) == want
    assert rep.layers[1].macs == 9 * 3 * 64 * BIG * BIG
    text = rep.to_json()
    assert str(SATURATED) not in text
    assert json.loads(text)["summary"]["macs"] == want


def test_resnet18_at_1e9_is_not_saturated() -> None:
    rep = rfa_fast.analyze(zoo.resnet18(), BIG)
    total = rep.summary["macs"]
    assert total > SATURATED
    assert total == sum(la.macs for la in rep.layers)
    assert str(SATURATED) not in rep.to_json() and str(SATURATED) not in str(rep)


@pytest.mark.parametrize("make", [zoo.resnet18, zoo.mobilenet_v2, zoo.densenet121])
def test_exact_recount_equals_the_core_where_int64_suffices(make) -> None:  # type: ignore[no-untyped-def]
    # the Python recount (only used past int64) against the core's own counts on real models
    g = make()
    arrays = g.to_arrays()
    res = np.array([[224, 224], [37, 37], [224, 96]], np.int64)
    raw = _core.analyze_batch(arrays, res, False, 1, True, False)
    raw["node_params"] = np.full_like(raw["node_params"], SATURATED)  # force every node through the recount
    params, macs, unprod, _, _ = exact_totals(arrays, raw)
    assert params == int(raw["params"][0]) and params > 0
    assert macs == raw["macs"][0].tolist()
    assert unprod == raw["macs_unproductive"][0].tolist()


def test_screen_at_1e9_is_exact_and_other_screens_keep_int64() -> None:
    ch_a, ch_b = [3, 64, 64, 128], [3, 8, 8]
    r = rfa_fast.screen([vgg_chain(ch_a, "a"), vgg_chain(ch_b, "b")], [32, BIG])
    assert r.macs[:, 1].tolist() == [chain_macs(ch_a, BIG), chain_macs(ch_b, BIG)]
    assert r.macs[:, 0].tolist() == [chain_macs(ch_a, 32), chain_macs(ch_b, 32)]
    assert str(SATURATED) not in json.dumps(r.to_dict(), default=str)
    small = rfa_fast.screen([vgg_chain(ch_a)], 32)
    assert small.macs.dtype == np.int64 and small.params.dtype == np.int64


def test_screen_chains_at_1e9_is_exact() -> None:
    ch = np.array([[3, 64, 64, 128], [3, 8, 8, 8]], np.int64)
    k = np.full((2, 3), 3)
    r = rfa_fast.screen_chains(k, np.ones_like(k), resolutions=[64, BIG], channels=ch)
    assert r.macs[:, 1].tolist() == [chain_macs(c, BIG) for c in ch.tolist()]
    assert r.macs[:, 0].tolist() == [chain_macs(c, 64) for c in ch.tolist()]
    assert r.params.tolist() == [chain_macs(c, 1) for c in ch.tolist()]


def test_space_screen_at_1e9_equals_analyze_of_each_candidate() -> None:
    sp = Space("wide")
    x = sp.input("input")
    width = sp.choice("C", [64, 256])
    x = sp.conv(x, sp.choice("K", [3, 5]), pad="same", c_in=3, c_out=width, name="c1")
    x = sp.conv(x, 3, stride=sp.choice("S", [1, 2]), pad=1, c_in=width, c_out=64, name="c2")
    space = sp.build()
    rows = np.array([space.encode({"K": k, "C": c, "S": s}) for k in (3, 5) for c in (64, 256) for s in (1, 2)])
    r = space.screen(rows, [64, BIG])
    for i, row in enumerate(rows):
        rep = rfa_fast.analyze(space.graph(row), BIG)
        assert r.macs[i, 1] == rep.summary["macs"] > SATURATED
        assert r.macs_unproductive[i, 1] == rep.summary["macs_unproductive"]
        assert r.macs[i, 0] == rfa_fast.analyze(space.graph(row), 64).summary["macs"]


def test_nb201_screen_at_1e9_equals_the_general_engine() -> None:
    cells = [(3,) * 6, (2, 1, 3, 4, 0, 1)]
    fast = nb201_screen(cells, [32, BIG])
    general = rfa_fast.screen(nb201_batch(cells), [32, BIG])
    assert fast.macs.tolist() == general.macs.tolist()
    assert fast.macs_unproductive.tolist() == general.macs_unproductive.tolist()
    assert min(fast.macs[:, 1]) > SATURATED


def test_lanes_count_or_hand_over_parameters_past_their_bound() -> None:
    # A conv of 2^40 -> 2^40 channels (2^80 x 9 parameters) in a chain the lanes screen:
    # the lanes dropped the product (int64 wrapped to 0) and kept the candidate.
    ch = np.array([[1, 2**40, 2**40]], np.int64)
    for k in (np.full((1, 2), 3, np.int32), np.full((1, 2, 2), 3, np.int32)):  # [B, L] and per-axis [B, L, D]
        r = rfa_fast.screen_chains(k, np.ones_like(k), resolutions=8, channels=ch)
        assert r.params[0] == 9 * (2**40 + 2**80)
        assert r.macs[0, 0] == 9 * (2**40 + 2**80) * 64


def test_cli_analyze_json_at_1e9(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    import onnx
    from onnx import TensorProto, helper

    from rfa_fast.cli import main

    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[64, 3, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="missing.bin")
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "conv.onnx"
    onnx.save(m, str(path))
    assert main(["analyze", str(path), "--resolution", str(BIG), "--json"]) in (0, None)
    out = capsys.readouterr().out
    assert str(SATURATED) not in out
    assert json.loads(out)["summary"]["macs"] == chain_macs([3, 64], BIG)


def test_dead_branch_macs_past_int64_are_exact() -> None:
    """A dead side branch at 10^9 px: macs_dead counted again exactly, in analyze and in screen (named outputs)."""
    ch = [3, 64, 64, 128]
    g = vgg_chain(ch)
    b = GraphBuilder("side")
    x = b.input()
    head = b.conv(x, 3, pad=1, c_in=3, c_out=64)
    b.conv(x, 3, pad=1, c_in=3, c_out=4096)  # the last node, dead: only head is an output
    side = rfa_fast.Graph(b.build().nodes, name="side", outputs=[head])
    dead = 9 * 3 * 4096 * BIG * BIG
    assert dead > SATURATED
    rep = rfa_fast.analyze(side, BIG)
    assert rep.summary["macs_dead"] == dead and rep.summary["n_dead"] == 1
    assert rep.summary["macs"] == dead + 9 * 3 * 64 * BIG * BIG
    r = rfa_fast.screen([side, g], BIG)
    assert r.macs_dead[:, 0].tolist() == [dead, 0] and r.n_dead.tolist() == [1, 0]
    assert r.macs[1, 0] == chain_macs(ch, BIG)
