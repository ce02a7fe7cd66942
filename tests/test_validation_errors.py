"""Malformed arrays raise GraphError naming graph and node; nothing crashes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rfa_fast
from rfa_fast import GraphBatch, GraphBuilder, GraphError, _core


def chain(n: int = 3) -> rfa_fast.Graph:
    b = GraphBuilder("chain")
    x = b.input()
    for _ in range(n):
        x = b.conv(x, 3, 2, pad=1)
    return b.build()


def batch_arrays(n_graphs: int = 2) -> dict[str, np.ndarray]:
    return {k: v.copy() for k, v in GraphBatch.from_graphs([chain() for _ in range(n_graphs)]).arrays.items()}


RES = np.array([[32, 32]], np.int64)


def run(arrays: dict[str, np.ndarray], res: np.ndarray = RES, **kw: object) -> dict[str, np.ndarray]:
    return _core.analyze_batch(arrays, res, **kw)


def test_good_batch_runs() -> None:
    out = run(batch_arrays())
    assert out["n_unproductive"].shape == (2, 1)


@pytest.mark.parametrize(
    "name,value,pattern",
    [
        ("stride", np.ones((8, 2), np.int64), "dtype int64, expected int32"),
        ("op", np.zeros(7, np.uint8), "has length 8, expected 7"),
        ("kernel", np.ones((8, 2), np.int32)[:, :1].copy(), None),
        ("pred", np.zeros((3, 2), np.int32), "dimensions"),
        ("scale", np.ones((8, 2), np.float32), "dtype float32"),
    ],
)
def test_wrong_dtype_or_shape(name: str, value: np.ndarray, pattern: str | None) -> None:
    a = batch_arrays()
    a[name] = value
    with pytest.raises(GraphError, match=pattern):
        run(a)


def test_missing_array_and_non_array() -> None:
    a = batch_arrays()
    del a["pad_mode"]
    with pytest.raises(GraphError, match="'pad_mode' is missing"):
        run(a)
    a = batch_arrays()
    a["ceil_mode"] = [0] * 8
    with pytest.raises(GraphError, match="not a numpy array"):
        run(a)


def test_non_contiguous_array() -> None:
    a = batch_arrays()
    a["kernel"] = np.asfortranarray(np.ones((8, 2), np.int32))
    with pytest.raises(GraphError, match="C-contiguous"):
        run(a)


def test_forward_edge_names_graph_and_node() -> None:
    a = batch_arrays()
    a["pred"][4] = 7  # node 6 (graph 1, second conv) reads node 7: later
    with pytest.raises(GraphError, match="graph 1, node 6: input 7 comes later") as e:
        run(a)
    assert e.value.graph_index == 1 and e.value.node_index == 6


def test_cycle_self_loop() -> None:
    a = batch_arrays()
    a["pred"][0] = 1
    with pytest.raises(GraphError, match="node 1: input 1 is the node itself"):
        run(a)


def test_edge_into_another_graph() -> None:
    a = batch_arrays()
    a["pred"][3] = 2  # node 5 (graph 1) reads node 2 (graph 0)
    with pytest.raises(GraphError, match="belongs to another graph") as e:
        run(a)
    assert e.value.graph_index == 1


@pytest.mark.parametrize("name", ["stride", "kernel", "dilation"])
def test_zero_window_parameter(name: str) -> None:
    a = batch_arrays()
    a[name][2, 1] = 0
    with pytest.raises(GraphError, match=f"graph 0, node 2: {name} is 0 on axis 1"):
        run(a)


def test_bad_codes_and_counts() -> None:
    a = batch_arrays()
    a["op"][1] = 9
    with pytest.raises(GraphError, match="op code 9"):
        run(a)
    a = batch_arrays()
    a["op"][1] = 0  # an INPUT with an input
    with pytest.raises(GraphError, match="INPUT node takes no inputs"):
        run(a)
    a = batch_arrays()
    a["pad_mode"][1] = 4
    with pytest.raises(GraphError, match="pad_mode 4"):
        run(a)
    a = batch_arrays()
    a["groups"][1] = 0
    with pytest.raises(GraphError, match="groups"):
        run(a)


def test_pointer_arrays() -> None:
    a = batch_arrays(3)
    a["graph_ptr"][1] = 6
    a["graph_ptr"][2] = 5
    with pytest.raises(GraphError, match="empty or graph_ptr decreases"):
        run(a)
    a = batch_arrays()
    a["graph_ptr"][-1] = 9
    with pytest.raises(GraphError, match="graph_ptr"):
        run(a)
    a = batch_arrays()
    a["pred_ptr"][3] = -5
    with pytest.raises(GraphError, match="pred_ptr"):
        run(a)
    a = batch_arrays()
    a["pred_ptr"][-1] = 99
    with pytest.raises(GraphError, match="pred_ptr"):
        run(a)


def test_resize_scale_must_be_a_ratio() -> None:
    b = GraphBuilder()
    x = b.input()
    b.resize(x, 2.0)
    a = {k: v.copy() for k, v in b.build().to_arrays().items()}
    a["scale"][1, 0] = np.pi
    with pytest.raises(GraphError, match="not a positive ratio"):
        run(a)
    a["scale"][1, 0] = np.nan
    with pytest.raises(GraphError, match="not a positive ratio"):
        run(a)


def test_overflowing_jump_is_an_error_not_a_wrap() -> None:
    b = GraphBuilder()
    x = b.input()
    for _ in range(5):
        x = b.conv(x, 1, 2**16)
    with pytest.raises(GraphError, match="exceeds the int64 range"):
        rfa_fast.analyze(b.build(), 32)


def test_bad_resolutions_and_threads() -> None:
    a = batch_arrays()
    with pytest.raises(GraphError, match="outside 1..2"):
        run(a, np.array([[0, 32]], np.int64))
    with pytest.raises(GraphError, match="columns"):
        run(a, np.array([[32, 32, 32]], np.int64))
    with pytest.raises(GraphError, match="threads"):
        run(a, threads=-1)
    with pytest.raises(rfa_fast.ResolutionError):
        rfa_fast.analyze(chain(), 0)
    with pytest.raises(rfa_fast.ResolutionError):
        rfa_fast.analyze(chain(), (32, 32, 32))


def test_random_garbage_never_crashes() -> None:
    """Shuffled and random arrays give GraphError or a result, never a crash."""
    rng = np.random.default_rng(7)
    base = batch_arrays(3)
    for _ in range(300):
        a = {k: v.copy() for k, v in base.items()}
        name = rng.choice(sorted(a))
        arr = a[name]
        if arr.size:
            flat = arr.reshape(-1)
            idx = rng.integers(0, flat.size)
            if arr.dtype.kind == "f":
                flat[idx] = rng.choice([0.0, -1.0, np.inf, np.nan, 1e300, 2.5])
            else:
                info = np.iinfo(arr.dtype)
                flat[idx] = rng.choice([info.min, info.max, 0, -1, 1, 3, 17])
        try:
            out = run(a, threads=int(rng.integers(0, 3)))
        except GraphError as e:
            assert str(e)
        else:
            assert out["i_min"].shape == (3,)


def test_batch_too_large_for_memory_is_refused_before_allocating() -> None:
    # 10^6 nodes at 2,000 resolutions with per-node results: about 50 GB.
    n = 1_000_000
    op = np.ones(n, np.uint8)
    op[0] = 0
    a = {
        "graph_ptr": np.array([0, n], np.int64),
        "op": op,
        "pad_mode": np.zeros(n, np.uint8),
        "ceil_mode": np.zeros(n, np.uint8),
        "mode": np.zeros(n, np.uint8),
        "weighted": np.zeros(n, np.uint8),
        "c_in": np.zeros(n, np.int64),
        "c_out": np.zeros(n, np.int64),
        "groups": np.ones(n, np.int64),
        "scale": np.ones((n, 2)),
        "pred_ptr": np.concatenate([[0], np.arange(n, dtype=np.int64)]),
        "pred": np.arange(n - 1, dtype=np.int32),
    }
    for key in ("kernel", "stride", "dilation"):
        a[key] = np.ones((n, 2), np.int32)
    for key in ("pad_begin", "pad_end"):
        a[key] = np.zeros((n, 2), np.int32)
    res = np.repeat(np.arange(1, 2001, dtype=np.int64)[:, None], 2, axis=1)
    with pytest.raises(GraphError, match="MB of free memory"):
        run(a, res, per_node=True)
    out = run(a, res[:2], per_node=False)  # the same graph without per-node results is fine
    assert out["i_min"][0] == 2.0  # 1x1 convs act like dense layers only on a 1x1 map


def _strided_2x2() -> rfa_fast.Graph:
    """Input, then a 2x2 window of stride 2 (no padding): its map is floor(I/2) on each axis."""
    b = GraphBuilder("s2")
    b.conv(b.input(), 2, 2, name="c")
    return b.build()


def test_a_list_is_several_resolutions_everywhere_a_tuple_one() -> None:
    """Issue 17 item 4: ``[32, 64]`` is two square resolutions, ``(32, 64)`` one resolution per axis."""
    g = _strided_2x2()
    # analyze refuses a list, naming both ways out
    with pytest.raises(rfa_fast.ResolutionError, match=r"tuple.*\(32, 64\).*screen\(\)"):
        rfa_fast.analyze(g, [32, 64])
    with pytest.raises(ValueError):  # ResolutionError is a ValueError too
        rfa_fast.analyze(g, [32])
    # a tuple is per axis: floor(32/2) x floor(64/2)
    assert rfa_fast.analyze(g, (32, 64)).layers[-1].fmap == (16, 32)
    # screen: the list is two square resolutions, the tuple one per-axis resolution
    assert rfa_fast.screen([g], [32, 64]).resolutions.tolist() == [[32, 32], [64, 64]]
    assert rfa_fast.screen([g], (32, 64)).resolutions.tolist() == [[32, 64]]
    assert rfa_fast.screen([g], [(32, 64)]).resolutions.tolist() == [[32, 64]]
    # screen_chains shares the rule (Space.screen reads resolutions with the same resolutions_array)
    k, s = np.array([[2]]), np.array([[2]])
    assert rfa_fast.screen_chains(k, s, resolutions=[32, 64]).resolutions.tolist() == [[32, 32], [64, 64]]
    assert rfa_fast.screen_chains(k, s, resolutions=(32, 64)).resolutions.tolist() == [[32, 64]]
    # at 2 px the 2x2 window's input fits one window (rule (b)): unproductive at 2x2, not at 2x4
    r = rfa_fast.screen([g], [(2, 2), (2, 4)])
    assert r.n_unproductive.tolist() == [[1, 0]]


def test_load_onnx_refuses_a_list_resolution() -> None:
    pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, "h", "w"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 3, 3], [0.0] * 108)
    model = helper.make_model(helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"])], "n", [x], [y], [w]))
    with pytest.raises(rfa_fast.ResolutionError, match=r"\(32, 48\)"):
        rfa_fast.load_onnx(model, resolution=[32, 48])
    assert rfa_fast.load_onnx(model, resolution=(32, 48)).input_shape == (32, 48)


# -- errors in the user's words: file, graph, node, attribute (issue 17 item 9) ---------


def _onnx_conv(path: Path, **attrs: object) -> Path:
    """One Conv (3 -> 8 channels, 3x3) called '/layer1/layer1.0/conv1/Conv', with ``attrs`` overriding its attributes."""
    import onnx
    from onnx import TensorProto, helper

    group = attrs.get("group", 1)
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[8, 3, 3, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="missing.bin")
    kw: dict[str, object] = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "group": group}
    kw.update(attrs)
    node = helper.make_node("Conv", ["x", "w"], ["y"], name="/layer1/layer1.0/conv1/Conv", **kw)
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [w],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, str(path))
    return path


@pytest.mark.parametrize(
    "attrs,attribute",
    [
        ({"strides": [0, 1]}, "strides"),
        ({"group": -3}, "group"),
        ({"kernel_shape": [0, 3]}, "kernel_shape"),
        ({"dilations": [1, 0]}, "dilations"),
        ({"pads": [-(2**21), 0, 0, 0]}, "pads"),
        ({"strides": [1, 2**17]}, "strides"),
    ],
)
def test_hostile_onnx_attribute_names_file_node_and_attribute(tmp_path: Path, attrs: dict, attribute: str) -> None:
    from rfa_fast.errors import OnnxError

    path = _onnx_conv(tmp_path / "resnet18.onnx", **attrs)
    with pytest.raises(OnnxError) as e:
        rfa_fast.load_onnx(str(path))
    msg = str(e.value)
    assert str(path) in msg
    assert "'/layer1/layer1.0/conv1/Conv'" in msg
    assert f"attribute {attribute} " in msg
    assert "c_in and c_out" not in msg and "graph 0, node" not in msg


def test_group_minus_3_is_a_group_error_not_a_channel_error(tmp_path: Path) -> None:
    from rfa_fast.errors import OnnxError

    with pytest.raises(OnnxError, match="attribute group is -3, must be >= 1"):
        rfa_fast.load_onnx(str(_onnx_conv(tmp_path / "m.onnx", group=-3)))


def test_core_error_on_an_onnx_graph_names_file_node_and_onnx_attribute(tmp_path: Path) -> None:
    # a value the loader cannot see (changed after loading) still reaches the core: its message is rewritten
    path = _onnx_conv(tmp_path / "resnet18.onnx")
    g = rfa_fast.load_onnx(str(path))
    assert g.source == str(path)
    i = g.index("/layer1/layer1.0/conv1/Conv")
    bad = g.replace_node(i, stride=(0, 1))
    with pytest.raises(GraphError) as e:
        rfa_fast.analyze(bad, 32)
    msg = str(e.value)
    assert msg.startswith("node '/layer1/layer1.0/conv1/Conv' (Conv) in graph 'resnet18' in " + str(path))
    assert "stride 0 on axis 0 (ONNX attribute strides), must be in 1..65536" in msg
    assert (e.value.graph_index, e.value.node_index) == (0, i)
    assert e.value.node_name == "/layer1/layer1.0/conv1/Conv" and e.value.graph_name == "resnet18"


def test_builder_graph_error_names_the_node() -> None:
    b = GraphBuilder("net")
    x = b.input()
    x = b.conv(x, 3, name="stem")
    b.conv(x, 70000, name="huge")
    with pytest.raises(GraphError) as e:
        rfa_fast.analyze(b.build(), 32)
    assert str(e.value) == "node 'huge' (conv) in graph 'net': kernel 70000 on axis 0, must be in 1..65536"
    assert (e.value.graph_index, e.value.node_index, e.value.node_name) == (0, 2, "huge")


def test_batch_error_names_graph_index_name_and_node() -> None:
    good = [chain(), chain()]
    b = GraphBuilder("third")
    x = b.input()
    x = b.conv(x, 3, name="ok")
    b.conv(x, 3, dilation=(1, 70000), name="too_dilated")
    with pytest.raises(GraphError) as e:
        rfa_fast.screen([*good, b.build()], 32)
    msg = str(e.value)
    assert msg.startswith("node 'too_dilated' (conv) in graph 2 ('third'): dilation 70000 on axis 1")
    assert e.value.graph_index == 2
    assert e.value.node_index == 2 * len(chain()) + 2  # the global index, as the core gave it
    assert e.value.node_name == "too_dilated"


def test_output_marks() -> None:
    """The optional ``output`` array: 0/1, at least one per graph, the right length and dtype."""
    a = batch_arrays()  # two chains of 4 nodes
    a["output"] = np.zeros(8, np.uint8)
    a["output"][[3, 5]] = 1  # graph 0: its last node; graph 1: its first conv, the rest dead
    out = run(a)
    assert out["n_dead"].tolist() == [0, 2] and out["graph_rf_max"][:, 0].tolist() == [15.0, 3.0]
    a["output"][5] = 0
    with pytest.raises(GraphError, match="graph 1 has no output") as e:
        run(a)
    assert e.value.graph_index == 1
    a["output"][5] = 2
    with pytest.raises(GraphError, match="node 5: output must be 0 or 1, is 2"):
        run(a)
    a["output"] = np.ones(7, np.uint8)
    with pytest.raises(GraphError, match="has length 7, expected 8"):
        run(a)
    a["output"] = np.ones(8, np.int64)
    with pytest.raises(GraphError, match="dtype int64, expected uint8"):
        run(a)
