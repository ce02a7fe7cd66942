"""The Cython packers give the same arrays as the plain-Python path, and clear errors.

``pack_specs`` (JSON-able specs) is checked against ``Graph.from_spec`` +
``_pack_nodes``; ``pack_nodes`` (Graph objects) against ``_pack_nodes``
itself, on valid graphs, on graphs with broken or oddly typed fields (where
both must fail with the same error, or both give the same arrays).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import graph_batches, graphs

import rfa_fast
from rfa_fast import Graph, GraphBatch, SpecError, zoo
from rfa_fast import graph as graph_module
from rfa_fast._pack import pack_nodes, pack_specs
from rfa_fast.graph import ARRAY_NAMES, _pack_nodes


@st.composite
def layer_specs(draw, index: int, dims: int):  # type: ignore[no-untyped-def]
    axis = st.one_of(st.integers(1, 7), st.lists(st.integers(1, 7), min_size=dims, max_size=dims))
    pads = st.one_of(
        st.integers(0, 3),
        st.lists(st.integers(0, 3), min_size=dims, max_size=dims),
        st.sampled_from(["same", "same_lower", "valid", "same_upper"]),
    )
    earlier = st.integers(0, index - 1)
    op = draw(
        st.sampled_from(
            ["conv", "pool", "maxpool", "transposed", "resize", "add", "concat", "global", "dense", "identity"]
        )
    )
    layer: dict = {"op": op}
    if draw(st.booleans()):
        layer["inputs"] = [draw(earlier)]
    if op in ("conv", "pool", "maxpool", "transposed"):
        for key in ("kernel", "stride", "dilation", "pad"):
            if draw(st.booleans()):
                layer[key] = draw(pads if key == "pad" else axis)
        if op != "transposed" and draw(st.booleans()):
            layer["ceil_mode"] = True
        if draw(st.booleans()):
            layer["pad_begin"] = draw(st.integers(-2, 3))
        if op == "transposed" and draw(st.booleans()):
            layer["output_padding"] = draw(st.integers(0, 1))
        if draw(st.booleans()):
            layer.update(c_in=draw(st.integers(0, 64)), c_out=draw(st.integers(0, 64)), groups=draw(st.integers(1, 4)))
    elif op == "resize":
        layer["scale"] = draw(st.sampled_from([2.0, 0.5, 1.5, [2.0] * dims]))
        layer["mode"] = draw(st.sampled_from(["nearest", "linear", "cubic"]))
    elif op in ("add", "concat"):
        layer["inputs"] = draw(st.lists(earlier, min_size=0, max_size=3))
    elif op == "dense":
        layer.update(c_in=draw(st.integers(0, 64)), c_out=draw(st.integers(0, 64)))
    return layer


@st.composite
def specs(draw):  # type: ignore[no-untyped-def]
    dims = draw(st.integers(1, 3))
    out = []
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(1, 12))
        layers = [{"op": "input"}] + [draw(layer_specs(i, dims)) for i in range(1, n)]
        out.append({"name": f"g{len(out)}", "dims": dims, "layers": layers})
    return out


@settings(max_examples=200, deadline=None)
@given(specs())
def test_cython_packer_equals_python_packer(batch) -> None:  # type: ignore[no-untyped-def]
    fast, names = pack_specs(batch)
    slow = _pack_nodes([Graph.from_spec(s, index=i) for i, s in enumerate(batch)])
    assert names == [s["name"] for s in batch]
    for key, arr in slow.items():
        assert fast[key].dtype == arr.dtype, key
        np.testing.assert_array_equal(fast[key], arr, err_msg=key)


def test_from_specs_analyzes() -> None:
    batch = GraphBatch.from_specs([[{"op": "input"}, {"op": "conv", "kernel": 3}, {"op": "pool", "kernel": 2}]])
    r = rfa_fast.screen(batch, 32)
    assert r.rf_max[0].tolist() == [4.0, 4.0]  # 3, then a 2x2/2 pool: 3 + 1


@pytest.mark.parametrize(
    "layers,message",
    [
        ([{"op": "input"}, {"op": "conv", "kernel": 0}], "candidate 1: layer 1: kernel must be >= 1"),
        ([{"op": "input"}, {"op": "conv", "inputs": [5]}], "candidate 1: layer 1: input 5 is not an earlier node"),
        ([{"op": "input"}, {"op": "frobnicate"}], "candidate 1: layer 1: op 'frobnicate' needs a 'kind'"),
        ([{"op": "input"}, {"op": "conv", "kernel": [3, 3, 3]}], "candidate 1: layer 1: kernel has 3 values"),
        ([{"op": "input"}, {"op": "conv", "kernel": "x"}], "candidate 1: layer 1: kernel must be an int"),
        ([{"op": "input"}, {"op": "conv", "pad": "half"}], "candidate 1: layer 1: pad 'half'"),
        ([{"op": "input"}, {"op": "resize", "scale": -2}], "candidate 1: layer 1: scale must be finite"),
        ([{"op": "input"}, "conv"], "candidate 1: layer 1: a layer must be a dict"),
        ([{"op": "input"}, {"op": "add", "inputs": 0}], "candidate 1: layer 1: inputs must be a list"),
        ([], "candidate 1: a spec needs a non-empty list"),
    ],
)
def test_errors_name_candidate_and_layer(layers: list, message: str) -> None:
    good = [{"op": "input"}, {"op": "conv", "kernel": 3}]
    for packer in (pack_specs, lambda s: [Graph.from_spec(x, index=i) for i, x in enumerate(s)]):
        with pytest.raises(SpecError, match=message):
            packer([good, layers])


# -- pack_nodes: Graph objects ------------------------------------------------------

ZOO = ["vgg16", "resnet18", "resnet50", "mobilenet_v2", "densenet121"]


def assert_same_arrays(fast: dict[str, np.ndarray], slow: dict[str, np.ndarray]) -> None:
    """Same keys in the same order, and per array the same dtype, shape, layout and values."""
    assert list(fast) == list(slow) == list(ARRAY_NAMES)
    for key, want in slow.items():
        got = fast[key]
        assert got.dtype == want.dtype, key
        assert got.shape == want.shape, key
        assert got.flags.c_contiguous and got.flags.writeable, key
        np.testing.assert_array_equal(got, want, err_msg=key)


def outcome(pack: Any, gs: list) -> tuple[str, Any]:
    """What a packer makes of ``gs``: its arrays, or its exception's type and message."""
    try:
        return "arrays", pack(gs)
    except Exception as e:  # both packers must fail alike, whatever the error
        return "error", (type(e), str(e))


def assert_same_outcome(gs: list) -> None:
    fast, slow = outcome(pack_nodes, gs), outcome(_pack_nodes, gs)
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "arrays":
        assert_same_arrays(fast[1], slow[1])
    else:
        assert fast[1] == slow[1]


@pytest.mark.parametrize("name", ZOO)
def test_pack_nodes_equals_python_on_zoo(name: str) -> None:
    g = getattr(zoo, name)()
    assert_same_arrays(pack_nodes([g]), _pack_nodes([g]))


def test_pack_nodes_equals_python_on_a_zoo_batch() -> None:
    gs = [getattr(zoo, name)() for name in ZOO] + [zoo.vgg16()]
    fast = pack_nodes(gs)
    assert_same_arrays(fast, _pack_nodes(gs))
    # edges are global indices: the last graph's first conv reads node graph_ptr[-2]
    assert fast["pred"][fast["pred_ptr"][fast["graph_ptr"][-2] + 1]] == fast["graph_ptr"][-2]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs(max_nodes=40))
def test_pack_nodes_equals_python_on_random_graphs(g: Graph) -> None:
    assert_same_arrays(pack_nodes([g]), _pack_nodes([g]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_batches(max_graphs=5, max_nodes=30))
def test_pack_nodes_equals_python_on_random_batches(case: tuple[list[Graph], Any]) -> None:
    gs, _ = case
    assert_same_arrays(pack_nodes(gs), _pack_nodes(gs))


def _cube() -> Graph:
    b = rfa_fast.GraphBuilder("cube", dims=3)
    b.conv(b.input(), 3)
    return b.build()


def _two_graphs(**changes: Any) -> list[Graph]:
    """vgg16 and resnet18, with node 4 of resnet18 (``layer1.0.conv2``) changed."""
    r = zoo.resnet18()
    return [zoo.vgg16(), r.replace_node(4, **changes)]


@pytest.mark.parametrize(
    "gs,message",
    [
        (
            _two_graphs(kernel=(2**31, 3)),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): kernel (2147483648, 3) does not fit in int32",
        ),
        (
            _two_graphs(pad_end=(0, -(2**31) - 1)),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): pad_end (0, -2147483649) does not fit in int32",
        ),
        (
            _two_graphs(c_in=2**63),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): c_in 9223372036854775808 does not fit in int64",
        ),
        (
            _two_graphs(groups=-(2**63) - 1),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): groups -9223372036854775809 does not fit in int64",
        ),
        (
            _two_graphs(pad_mode=256),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): pad_mode 256 does not fit in uint8",
        ),
        (
            _two_graphs(stride=(1, 1, 1)),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): stride has 3 values, the graphs have 2 axes",
        ),
        (
            _two_graphs(scale=(2.0,)),
            "graph 1 ('resnet18'), node 4 ('layer1.0.conv2'): scale has 1 values, the graphs have 2 axes",
        ),
        (_two_graphs(scale=(10**400, 1.0)), "scale: int too large to convert to float"),
        # two faults: the packers convert column by column, so the kernel (an earlier column) is named
        (
            [zoo.vgg16().replace_node(2, c_out=2**64).replace_node(7, kernel=[3, 2**40])],
            "graph 0 ('vgg16'), node 7 ('features.10'): kernel [3, 1099511627776] does not fit in int32",
        ),
        ([zoo.vgg16(), _cube()], "graph 1 ('cube') has 3 spatial axes, graph 0 has 2"),
        ([], "a batch needs at least one graph"),
    ],
)
def test_pack_nodes_errors_equal_python(gs: list[Graph], message: str) -> None:
    errors = []
    for pack in (pack_nodes, _pack_nodes):
        with pytest.raises(SpecError) as info:
            pack(gs)
        errors.append(str(info.value))
    assert errors == [message, message]


class _Duck:
    """A graph-like object: only ``nodes``, ``name`` and ``dims``."""

    def __init__(self, nodes: list, dims: int) -> None:
        self.nodes, self.name, self.dims = nodes, "duck", dims


def _flat_nodes() -> list:
    """Nodes with empty per-axis tuples: they fit a graph of no spatial axes."""
    axes = dict(kernel=(), stride=(), dilation=(), pad_begin=(), pad_end=(), scale=())
    return [replace(n, **axes) for n in zoo.vgg16().nodes[:3]]


@pytest.mark.parametrize(
    "gs,outcome_kind",
    [
        ([Graph([], name="empty"), zoo.vgg16(), Graph([], name="empty")], "arrays"),
        ([Graph([], name="empty")], "arrays"),
        ([_Duck(_flat_nodes(), 0)], "arrays"),
        ([_Duck(_flat_nodes(), -1)], "error"),
        ([_Duck([], -1)], "error"),
        ([_Duck(tuple(zoo.vgg16().nodes), 2)], "arrays"),
    ],
)
def test_pack_nodes_on_edge_batches(gs: list, outcome_kind: str) -> None:
    assert outcome(pack_nodes, gs)[0] == outcome_kind
    assert_same_outcome(gs)


def test_pack_nodes_skips_empty_graphs() -> None:
    a = pack_nodes([Graph([], name="empty"), zoo.vgg16(), Graph([], name="empty")])
    assert a["graph_ptr"].tolist() == [0, 0, 22, 22]
    assert a["kernel"].shape == (22, 2) and a["pred"].shape == (21,)


class _Int(int):
    """An int whose __int__ disagrees with its value: numpy converts it through __int__."""

    def __int__(self) -> int:
        return 5


# Values _pack_nodes leaves to numpy's conversion rules: pack_nodes must not read them its own way.
ODD_SCALARS = [
    0,
    1,
    True,
    2**31,
    -(2**31) - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    256,
    -1,
    2.5,
    1e10,
    10**400,
    np.int64(7),
    np.int64(2**40),
    np.int32(700),
    np.uint8(3),
    np.float32(1.5),
    np.bool_(True),
    _Int(3),
    "4",
    "x",
    None,
]
PER_AXIS = ["kernel", "stride", "dilation", "pad_begin", "pad_end", "scale"]
SCALAR = ["kind", "pad_mode", "ceil_mode", "mode", "weighted", "c_in", "c_out", "groups"]


@st.composite
def odd_field(draw: st.DrawFn, node: Any, dims: int) -> tuple[str, Any]:
    """One field of ``node`` and a replacement of an odd type, length or size."""
    scalar = st.sampled_from(ODD_SCALARS)
    field = draw(st.sampled_from(PER_AXIS + SCALAR + ["inputs"]))
    if field == "inputs":
        ins = node.inputs
        value = draw(
            st.sampled_from(
                [list(ins), tuple(np.int64(p) for p in ins), (2**40,) + ins, ("a",), None, np.array(ins, np.int64)]
            )
        )
    elif field in PER_AXIS:
        old = getattr(node, field)
        k = draw(st.integers(0, dims - 1))
        value = draw(
            st.one_of(
                st.just(list(old)),
                st.just(old[:-1]),
                st.just(old + old[:1]),
                st.just(np.array(old)),
                scalar.map(lambda x: old[:k] + (x,) + old[k + 1 :]),
                scalar.map(lambda x: [x] * dims),
            )
        )
    else:
        value = draw(scalar)
    return field, value


@st.composite
def odd_batches(draw: st.DrawFn) -> list[Graph]:
    """A batch of random graphs with one to three fields of random nodes made odd."""
    originals, _ = draw(graph_batches(max_graphs=3, max_nodes=12))
    gs = list(originals)
    for _ in range(draw(st.integers(1, 3))):
        b = draw(st.integers(0, len(gs) - 1))
        i = draw(st.integers(0, len(gs[b]) - 1))
        field, value = draw(odd_field(originals[b].nodes[i], gs[b].dims))
        nodes = list(gs[b].nodes)
        nodes[i] = replace(nodes[i], **{field: value})
        gs[b] = Graph(nodes, name=gs[b].name, dims=gs[b].dims, outputs=gs[b].outputs)
    return gs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_batches())
def test_pack_nodes_on_odd_fields_does_what_python_does(gs: list[Graph]) -> None:
    with np.errstate(all="ignore"):  # numpy warns casting 1e10 to int32, alike for both
        assert_same_outcome(gs)


@pytest.mark.parametrize(
    "field,value",
    [("kernel", (np.int64(5), 3)), ("c_in", np.int32(64)), ("scale", [np.float32(1.5), 2]), ("inputs", [np.int8(0)])],
)
def test_numpy_scalars_pack_as_in_python(field: str, value: Any) -> None:
    # the column falls back to numpy's conversion: the values still arrive
    g = zoo.vgg16().replace_node(1, **{field: value})
    fast = pack_nodes([g])
    assert_same_arrays(fast, _pack_nodes([g]))
    key = {"inputs": "pred"}.get(field, field)
    row = fast[key][0] if key == "pred" else fast[key][1]
    np.testing.assert_array_equal(row, np.asarray(value, dtype=fast[key].dtype))


def test_graph_and_batch_use_the_compiled_packer(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []

    def spy(gs: list[Graph]) -> dict[str, np.ndarray]:
        calls.append(len(gs))
        return pack_nodes(gs)

    monkeypatch.setattr(graph_module, "_compiled_pack_nodes", spy)
    g = zoo.resnet18()
    g.to_arrays()
    GraphBatch.from_graphs([g, zoo.vgg16()])
    rfa_fast.analyze(zoo.vgg16(), 32)
    assert calls == [1, 2, 1]


def test_python_packer_is_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = rfa_fast.analyze(zoo.resnet50(), 64).to_dict()
    monkeypatch.setattr(graph_module, "_compiled_pack_nodes", None)
    calls: list[int] = []

    def spy(gs: list[Graph]) -> dict[str, np.ndarray]:
        calls.append(len(gs))
        return _pack_nodes(gs)

    monkeypatch.setattr(graph_module, "_pack_nodes", spy)
    assert rfa_fast.analyze(zoo.resnet50(), 64).to_dict() == expected
    assert len(GraphBatch.from_graphs([zoo.vgg16(), zoo.vgg16()])) == 2
    assert calls == [1, 2]


def test_outputs_in_specs_and_graphs_pack_alike() -> None:
    """``outputs`` of a spec: the compiled packer, the graph route and the spec round trip agree."""
    spec = {
        "name": "two_heads",
        "layers": [{"op": "input"}, {"op": "conv", "kernel": 3}, {"op": "conv", "kernel": 5, "inputs": [0]}],
        "outputs": [1],
    }
    g = Graph.from_spec(spec)
    assert g.outputs == [1] and g.to_spec()["outputs"] == [1] and Graph.from_spec(g.to_spec()).outputs == [1]
    fast = GraphBatch.from_specs([spec, spec["layers"]])
    slow = GraphBatch.from_graphs([g, Graph.from_spec(spec["layers"])])
    assert fast.arrays["output"].tolist() == slow.arrays["output"].tolist() == [0, 1, 0, 0, 0, 1]
    r = rfa_fast.screen(fast, 8)
    assert r.n_dead.tolist() == [1, 1] and r.rf_max[:, 0].tolist() == [3.0, 5.0]
    assert "outputs" not in Graph.from_spec(spec["layers"]).to_spec()
    with pytest.raises(SpecError, match="outputs must be a non-empty list of layer indices"):
        GraphBatch.from_specs([dict(spec, outputs=[3])])
    with pytest.raises(SpecError, match="outputs must be"):
        Graph.from_spec(dict(spec, outputs=[]))
