"""The constant folder against ONNX's reference evaluator, and its fallback for ops outside the numpy table.

The folder (``rfa_fast/onnx/values.py``) evaluates common ops with numpy and
any other standard op with ``onnx.reference`` (``reference_fold.py``).  Every
op of the numpy table, and a sample of the rest, is checked here against
``onnx.reference.ReferenceEvaluator`` on the same one-node graph: same dtype,
same values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import rfa_fast
from rfa_fast import Kind, PadMode
from rfa_fast.errors import OnnxError, RfaError
from rfa_fast.onnx import load_onnx
from rfa_fast.onnx.reference_fold import MAX_WORK, FoldError, fold_reference
from rfa_fast.onnx.values import _FOLD, MAX_ELEMENTS, Tensors

# -- one node, folded two ways ------------------------------------------------------------


def one_node(
    op: str, inputs: Sequence[np.ndarray | None], n_out: int = 1, opset: int = 17, **attrs: Any
) -> onnx.ModelProto:
    """A model computing ``op`` on constant initializers ``i0, i1, ...`` (``None``: an omitted input)."""
    names = ["" if v is None else f"i{k}" for k, v in enumerate(inputs)]
    inits = [numpy_helper.from_array(np.asarray(v), n) for n, v in zip(names, inputs) if v is not None]
    outs = [f"y{k}" for k in range(n_out)]
    node = helper.make_node(op, names, outs, name="node", **attrs)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph([node], "g", [x], [helper.make_empty_tensor_value_info(o) for o in outs], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def folded(m: onnx.ModelProto) -> list[np.ndarray | None]:
    """What the loader's constant folder computes for each graph output."""
    tensors = Tensors(m, list(m.graph.node), "x", None)
    return [tensors.value(o.name) for o in m.graph.output]


def reference(m: onnx.ModelProto) -> list[np.ndarray]:
    """What ONNX's reference evaluator computes for each graph output."""
    return [np.asarray(v) for v in ReferenceEvaluator(m).run(None, {"x": np.zeros((1, 3, 8, 8), np.float32)})]


def assert_same(m: onnx.ModelProto) -> None:
    got, want = folded(m), reference(m)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g is not None, "the folder gave up"
        assert g.dtype == w.dtype, (g.dtype, w.dtype)
        np.testing.assert_array_equal(g, w, strict=True)


# -- every op of the numpy table (and a sample of the rest) on fixed cases -----------------

I64 = np.int64
F32 = np.float32


def a(values: Any, dtype: Any = I64) -> np.ndarray:
    return np.asarray(values, dtype=dtype)


def c_tensor(values: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(values, "v")


# (id, op, inputs, number of outputs, opset, attributes)
CASES: list[tuple[str, str, list[np.ndarray | None], int, int, dict[str, Any]]] = [
    ("Constant", "Constant", [], 1, 17, {"value": c_tensor(a([3, 4]))}),
    ("Constant-ints", "Constant", [], 1, 17, {"value_ints": [1, 2]}),
    ("Identity", "Identity", [a([1, 2])], 1, 17, {}),
    ("Cast-f2i", "Cast", [a([1.7, -1.7, 2.5], F32)], 1, 17, {"to": TensorProto.INT64}),
    ("Cast-i2f", "Cast", [a([1, -3])], 1, 17, {"to": TensorProto.FLOAT}),
    ("Gather", "Gather", [a([1, 3, 224, 225]), a(-2)], 1, 17, {}),
    ("Gather-axis1", "Gather", [a([[1, 2, 3], [4, 5, 6]]), a([2, 0])], 1, 17, {"axis": 1}),
    ("Concat", "Concat", [a([0, 0]), a([1]), a([2, 3])], 1, 17, {"axis": 0}),
    ("Unsqueeze", "Unsqueeze", [a([5, 6]), a([0, -1])], 1, 17, {}),
    ("Unsqueeze-v11", "Unsqueeze", [a(7)], 1, 11, {"axes": [0]}),
    ("Squeeze", "Squeeze", [a([[5], [6]]), a([-1])], 1, 17, {}),
    ("Squeeze-all", "Squeeze", [a([[[5, 6]]])], 1, 17, {}),
    ("Slice", "Slice", [a([1, 3, 224, 225]), a([2]), a([4]), a([0]), a([1])], 1, 17, {}),
    ("Slice-neg-step", "Slice", [a([1, 2, 3, 4, 5]), a([-1]), a([-(2**63) + 1]), None, a([-2])], 1, 17, {}),
    ("Slice-clamp", "Slice", [a([1, 2, 3]), a([1]), a([2**62])], 1, 17, {}),
    ("Slice-v9", "Slice", [a([1, 3, 224, 225])], 1, 9, {"starts": [-2], "ends": [100]}),
    ("Reshape", "Reshape", [a([1, 2, 3, 4, 5, 6]), a([0, -1])], 1, 17, {}),
    ("Reshape-copy0", "Reshape", [a([[1, 2, 3], [4, 5, 6]]), a([0, 3, 1])], 1, 17, {}),
    ("ConstantOfShape", "ConstantOfShape", [a([2, 3])], 1, 17, {"value": c_tensor(a([7]))}),
    ("ConstantOfShape-default", "ConstantOfShape", [a([3])], 1, 17, {}),
    ("Range", "Range", [a(1), a(10), a(3)], 1, 17, {}),
    ("Range-neg", "Range", [a(10), a(1), a(-4)], 1, 17, {}),
    ("Range-float", "Range", [a(0.5, F32), a(2.0, F32), a(0.5, F32)], 1, 17, {}),
    ("Where", "Where", [a([True, False, True], bool), a([1, 2, 3]), a([-1])], 1, 17, {}),
    ("Expand", "Expand", [a([[1], [2]]), a([2, 3])], 1, 17, {}),
    ("Expand-keep", "Expand", [a([[1, 2, 3]]), a([2, 1])], 1, 17, {}),
    ("Transpose", "Transpose", [a([[1, 2, 3], [4, 5, 6]])], 1, 17, {"perm": [1, 0]}),
    ("Transpose-default", "Transpose", [a([[[1, 2]], [[3, 4]]])], 1, 17, {}),
    ("Split", "Split", [a([1, 2, 3, 4, 5]), a([2, 3])], 2, 17, {}),
    ("Split-even", "Split", [a([1, 2, 3, 4, 5, 6])], 3, 13, {}),
    ("Split-num-outputs", "Split", [a([1, 2, 3, 4, 5, 6, 7])], 3, 18, {"num_outputs": 3}),
    ("Split-v11", "Split", [a([1, 2, 3, 4, 5])], 2, 11, {"split": [4, 1]}),
    ("ReduceProd", "ReduceProd", [a([[1, 2], [3, 4]], np.int32)], 1, 18, {}),
    ("ReduceProd-axes", "ReduceProd", [a([[1, 2], [3, 4]]), a([1])], 1, 18, {"keepdims": 0}),
    ("ReduceSum", "ReduceSum", [a([[1, 2], [3, 4]], np.int32), a([0])], 1, 17, {}),
    ("ReduceSum-noop", "ReduceSum", [a([[1, 2], [3, 4]]), a([], I64)], 1, 17, {"noop_with_empty_axes": 1}),
    ("ReduceMax", "ReduceMax", [a([[1, 9], [3, 4]])], 1, 13, {"axes": [-1], "keepdims": 0}),
    ("ReduceMin", "ReduceMin", [a([[1, 9], [3, 4]])], 1, 13, {}),
    ("Mod-int", "Mod", [a([-7, 7, -7, 7, 6]), a([3, -3, -3, 3, 3])], 1, 17, {}),
    ("Mod-fmod", "Mod", [a([-7, 7, -7]), a([3, -3, -3])], 1, 17, {"fmod": 1}),
    ("Mod-float", "Mod", [a([-7.5, 7.5], F32), a([2.0, -2.0], F32)], 1, 17, {"fmod": 1}),
    ("Div-int", "Div", [a([-7, 7, -7, 6]), a([2, -2, -2, 3])], 1, 17, {}),
    ("Div-int32", "Div", [a([-7, 7], np.int32), a([2, 2], np.int32)], 1, 17, {}),
    ("Pow-int-float", "Pow", [a([2, 3]), a([2.0, 1.0], F32)], 1, 17, {}),
    ("Pow-float-int", "Pow", [a([2.0, 3.0], F32), a([2, 3])], 1, 17, {}),
    ("Sum", "Sum", [a([1, 2]), a([3, 4]), a([5])], 1, 17, {}),
    ("Max-variadic", "Max", [a([1, 9]), a([3, 4]), a([5])], 1, 17, {}),
    ("Min-variadic", "Min", [a([1, 9]), a([3, 4]), a([5])], 1, 17, {}),
    ("Round-half-even", "Round", [a([0.5, 1.5, 2.5, -0.5, -1.5], F32)], 1, 17, {}),
    # outside the table: the reference fallback
    ("Clip", "Clip", [a([-3, 2, 9]), a(0), a(4)], 1, 17, {}),
    ("Clip-min-only", "Clip", [a([-3.5, 2.0], F32), a(0.0, F32)], 1, 17, {}),
    ("Clip-v6", "Clip", [a([-3.5, 2.0], F32)], 1, 6, {"min": 0.0, "max": 1.0}),
    ("Sign", "Sign", [a([-3, 0, 2])], 1, 17, {}),
    ("CumSum", "CumSum", [a([1, 2, 3]), a(0)], 1, 17, {}),
    ("CumSum-reverse", "CumSum", [a([1, 2, 3]), a(0)], 1, 17, {"reverse": 1, "exclusive": 1}),
    ("Tile", "Tile", [a([1, 2]), a([3])], 1, 17, {}),
    ("Reciprocal", "Reciprocal", [a([2.0, 4.0], F32)], 1, 17, {}),
    ("Xor", "Xor", [a([True, False], bool), a([True, True], bool)], 1, 17, {}),
    ("BitShift", "BitShift", [a([1, 2], np.uint64), a([2, 1], np.uint64)], 1, 17, {"direction": "LEFT"}),
    ("ArgMax", "ArgMax", [a([[1, 9], [3, 4]])], 1, 17, {"axis": 1}),
    ("ReduceMean", "ReduceMean", [a([[1.0, 2.0], [3.0, 5.0]], F32)], 1, 17, {"axes": [0]}),
    ("ReduceL1", "ReduceL1", [a([[1, -2], [3, 4]]), a([1])], 1, 18, {}),
    ("OneHot", "OneHot", [a([0, 2]), a(3), a([0, 1])], 1, 17, {}),
    ("NonZero", "NonZero", [a([[0, 1], [2, 0]])], 1, 17, {}),
    ("EyeLike", "EyeLike", [a([[0, 0, 0], [0, 0, 0]])], 1, 17, {}),
    ("Trilu", "Trilu", [a([[1, 2], [3, 4]])], 1, 17, {"upper": 0}),
    ("MatMul", "MatMul", [a([[1, 2], [3, 4]]), a([[1], [1]])], 1, 17, {}),
    ("Einsum", "Einsum", [a([1, 2]), a([3, 4])], 1, 17, {"equation": "i,i->"}),
    ("IsNaN", "IsNaN", [a([np.nan, 1.0], F32)], 1, 17, {}),
    ("Shrink", "Shrink", [a([-2.0, 0.2, 2.0], F32)], 1, 17, {"lambd": 0.5}),
    ("Size-of-constant", "Size", [a([[1, 2, 3]])], 1, 17, {}),
    ("Shape-of-constant", "Shape", [a([[1, 2, 3]])], 1, 17, {"start": 1}),
]


@pytest.mark.parametrize(("op", "inputs", "n_out", "opset", "attrs"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_fold_equals_reference(
    op: str, inputs: list[np.ndarray | None], n_out: int, opset: int, attrs: dict[str, Any]
) -> None:
    assert_same(one_node(op, inputs, n_out, opset, **attrs))


def test_every_table_op_is_checked() -> None:
    covered = (
        {c[1] for c in CASES}
        | set(BINARY_INT)
        | set(UNARY_INT)
        | set(UNARY_FLOAT)
        | {"Sqrt", "Div", "And", "Or", "Not"}
    )
    assert set(_FOLD) - covered == set()
    # and the sample outside the table really goes through the fallback
    assert {"Clip", "Sign", "CumSum", "Tile", "OneHot", "NonZero", "Einsum"}.isdisjoint(_FOLD)


# -- generated inputs: element-wise, comparison and reduction ops --------------------------

SHAPES = st.sampled_from([(), (1,), (3,), (2, 3), (1, 3), (2, 1)])
INTS = st.integers(-40, 40)
HALVES = st.integers(-16, 16).map(lambda v: v / 2.0)  # exact in float32, ties for Round


@st.composite
def int_array(draw: st.DrawFn, nonzero: bool = False, shape: tuple[int, ...] | None = None) -> np.ndarray:
    s = draw(SHAPES) if shape is None else shape
    elem = INTS.filter(lambda v: v != 0) if nonzero else INTS
    dtype = draw(st.sampled_from([np.int64, np.int32]))
    return np.asarray(draw(st.lists(elem, min_size=math.prod(s), max_size=math.prod(s))), dtype=dtype).reshape(s)


@st.composite
def float_array(draw: st.DrawFn, positive: bool = False) -> np.ndarray:
    s = draw(SHAPES)
    elem = HALVES.map(abs) if positive else HALVES
    return np.asarray(draw(st.lists(elem, min_size=math.prod(s), max_size=math.prod(s))), dtype=np.float32).reshape(s)


BINARY_INT = ["Add", "Sub", "Mul", "Div", "Mod", "Max", "Min", "Sum", "Equal", "Less", "Greater", "LessOrEqual"]
BINARY_INT += ["GreaterOrEqual", "BitwiseAnd", "BitwiseOr"]
UNARY_INT = ["Neg", "Abs", "Sign", "Identity", "CumSum", "ReduceSum", "ReduceProd", "ReduceMax", "ReduceMin"]
UNARY_FLOAT = ["Floor", "Ceil", "Round", "Abs", "Neg", "Sign", "Relu", "Clip"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(BINARY_INT), st.data())
def test_generated_binary_int_ops(op: str, data: st.DataObject) -> None:
    x = data.draw(int_array())
    y = data.draw(int_array(nonzero=op in ("Div", "Mod"))).astype(x.dtype)
    attrs = {"fmod": data.draw(st.sampled_from([0, 1]))} if op == "Mod" else {}
    assert_same(one_node(op, [x, y], 1, 18, **attrs))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(UNARY_INT), st.data())
def test_generated_unary_int_ops(op: str, data: st.DataObject) -> None:
    x = data.draw(int_array(shape=data.draw(st.sampled_from([(3,), (2, 3), (1, 3)]))))
    inputs: list[np.ndarray | None] = [x]
    attrs: dict[str, Any] = {}
    if op == "CumSum":
        inputs.append(np.asarray(data.draw(st.integers(-x.ndim, x.ndim - 1))))
    elif op.startswith("Reduce"):
        axes = data.draw(st.lists(st.integers(-x.ndim, x.ndim - 1), unique_by=lambda v: v % x.ndim, max_size=x.ndim))
        inputs.append(np.asarray(axes, dtype=np.int64))
        attrs["keepdims"] = data.draw(st.sampled_from([0, 1]))
    assert_same(one_node(op, inputs, 1, 18, **attrs))


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(UNARY_FLOAT), float_array())
def test_generated_unary_float_ops(op: str, x: np.ndarray) -> None:
    inputs: list[np.ndarray | None] = [x]
    if op == "Clip":
        inputs += [np.asarray(-1.0, np.float32), np.asarray(2.5, np.float32)]
    assert_same(one_node(op, inputs, 1, 17))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(["And", "Or", "Xor", "Not"]), st.data())
def test_generated_logical_ops(op: str, data: st.DataObject) -> None:
    x, y = (data.draw(int_array()) > 0 for _ in range(2))
    assert_same(one_node(op, [x] if op == "Not" else [x, y], 1, 17))


@settings(max_examples=30, deadline=None)
@given(float_array(positive=True), float_array(positive=True))
def test_generated_float_division_and_sqrt(x: np.ndarray, y: np.ndarray) -> None:
    assert_same(one_node("Sqrt", [x]))
    assert_same(one_node("Div", [x, y + np.float32(0.5)]))


# -- TF-"SAME" padding as timm exports it ---------------------------------------------------


def _weight(name: str, dims: Sequence[int]) -> TensorProto:
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims))
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="missing.bin")
    return t


def timm_pad_same(x: str, out: str, k: int, s: int, d: int = 1) -> tuple[list[onnx.NodeProto], list[TensorProto]]:
    """timm's ``pad_same``: pad = max((ceil(n / s) - 1) * s + (k - 1) * d + 1 - n, 0), split begin = pad // 2.

    Exported as ``Shape -> Gather -> Cast -> Div -> Ceil -> Cast -> Sub -> Mul -> Add -> Sub -> Clip``;
    then ``Div`` by 2, ``Sub``, ``Unsqueeze``, ``Concat`` and ``Pad`` (F.pad lists the last axis first).
    """
    nodes = [helper.make_node("Shape", [x], ["shp"])]
    begin, end = {}, {}
    for axis in (2, 3):
        p = f"a{axis}"
        nodes += [
            helper.make_node("Gather", ["shp", f"{p}_i"], [f"{p}_n"], axis=0),
            helper.make_node("Cast", [f"{p}_n"], [f"{p}_nf"], to=TensorProto.FLOAT),
            helper.make_node("Div", [f"{p}_nf", "s_f"], [f"{p}_q"]),
            helper.make_node("Ceil", [f"{p}_q"], [f"{p}_c"]),
            helper.make_node("Cast", [f"{p}_c"], [f"{p}_ci"], to=TensorProto.INT64),
            helper.make_node("Sub", [f"{p}_ci", "one"], [f"{p}_o1"]),
            helper.make_node("Mul", [f"{p}_o1", "s"], [f"{p}_o2"]),
            helper.make_node("Add", [f"{p}_o2", "kext"], [f"{p}_o3"]),
            helper.make_node("Sub", [f"{p}_o3", f"{p}_n"], [f"{p}_o4"]),
            helper.make_node("Clip", [f"{p}_o4", "zero"], [f"{p}_tot"], name=f"clip{axis}"),
            helper.make_node("Div", [f"{p}_tot", "two"], [f"{p}_b"]),
            helper.make_node("Sub", [f"{p}_tot", f"{p}_b"], [f"{p}_e"]),
            helper.make_node("Unsqueeze", [f"{p}_b", "ax0"], [f"{p}_b1"]),
            helper.make_node("Unsqueeze", [f"{p}_e", "ax0"], [f"{p}_e1"]),
        ]
        begin[axis], end[axis] = f"{p}_b1", f"{p}_e1"
    nodes.append(helper.make_node("Concat", ["zeros2", begin[2], begin[3], "zeros2", end[2], end[3]], ["pads"], axis=0))
    nodes.append(helper.make_node("Pad", [x, "pads"], [out], name=f"{out}_pad"))
    inits = [
        numpy_helper.from_array(np.asarray(v, dtype=dt), n)
        for n, v, dt in [
            ("a2_i", 2, np.int64),
            ("a3_i", 3, np.int64),
            ("s_f", s, np.float32),
            ("s", s, np.int64),
            ("one", 1, np.int64),
            ("kext", (k - 1) * d + 1, np.int64),
            ("zero", 0, np.int64),
            ("two", 2, np.int64),
            ("ax0", [0], np.int64),
            ("zeros2", [0, 0], np.int64),
        ]
    ]
    return nodes, inits


def timm_model(h: int | str, w: int | str) -> onnx.ModelProto:
    """Conv 5x5/2 with timm's dynamic SAME pads, then Conv 3x3/1 with the same padding."""
    n1, i1 = timm_pad_same("x", "p1", 5, 2)
    n2, i2 = timm_pad_same("c1", "p2", 3, 1)
    for n in n2:  # the second block's tensors get their own names
        n.input[:] = [t if t in ("x", "c1") else f"b_{t}" for t in n.input]
        n.output[:] = [t if t == "p2" else f"b_{t}" for t in n.output]
    for t in i2:
        t.name = f"b_{t.name}"
    nodes = n1 + [helper.make_node("Conv", ["p1", "w1"], ["c1"], name="conv1", strides=[2, 2])]
    nodes += n2 + [helper.make_node("Conv", ["p2", "w2"], ["y"], name="conv2")]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, h, w])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        nodes, "timm", [x], [y], [_weight("w1", (8, 3, 5, 5)), _weight("w2", (8, 8, 3, 3)), *i1, *i2]
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return m


def test_timm_pad_same_graph_computes_timms_pads() -> None:
    # The test graph itself is right: ONNX's evaluator gives timm's pads at 224 x 225.
    nodes, inits = timm_pad_same("x", "p", 5, 2)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 224, 225])
    graph = helper.make_graph(nodes[:-1], "pads", [x], [helper.make_empty_tensor_value_info("pads")], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    (got,) = ReferenceEvaluator(m).run(None, {"x": np.zeros((1, 3, 224, 225), np.float32)})
    assert got.tolist() == [0, 0, 1, 2, 0, 0, 2, 2]
    assert "Clip" not in _FOLD  # the fold needs the fallback


def test_timm_pad_same_loads_as_same_windows() -> None:
    m = timm_model(224, 225)
    g = load_onnx(m)
    # The Pads fold into their convs; their pads equal SAME_UPPER's at 224 x 225:
    # conv1 (k 5, s 2): H (111 * 2 + 5 - 224) = 3 -> (1, 2); W (112 * 2 + 5 - 225) = 4 -> (2, 2).
    assert [n.name for n in g.nodes] == ["x", "conv1", "conv2"]
    c1, c2 = g.nodes[1], g.nodes[2]
    assert c1.kind == Kind.WINDOW and c1.pad_mode == PadMode.SAME_UPPER and c1.kernel == (5, 5)
    assert c2.pad_mode == PadMode.SAME_UPPER and c2.kernel == (3, 3)
    r = rfa_fast.analyze(g)
    # rf: 1 + 4 = 5, then 5 + 2 * 2 = 9; jump 2; fmap ceil(224 / 2), ceil(225 / 2) through both.
    assert r.layer("conv1").rf_max == (5.0, 5.0) and r.layer("conv2").rf_max == (9.0, 9.0)
    assert r.layer("conv2").jump == (2.0, 2.0)
    assert r.layer("conv1").fmap == (112, 113) and r.layer("conv2").fmap == (112, 113)
    # SAME at every resolution, as the real model computes its pads at run time.
    assert rfa_fast.analyze(g, 31).layer("conv2").fmap == (16, 16)


def test_timm_pad_same_with_a_dynamic_input_needs_and_takes_resolution() -> None:
    m = timm_model("h", "w")
    with pytest.raises(OnnxError, match="pass resolution="):
        load_onnx(m)
    g = load_onnx(m, resolution=(64, 65))
    assert g.nodes[1].pad_mode == PadMode.SAME_UPPER
    assert rfa_fast.analyze(g).layer("conv2").fmap == (32, 33)


# -- failures become typed errors ------------------------------------------------------------


def pad_fed_by(node: onnx.NodeProto, inits: Sequence[TensorProto] = (), opset: int = 17) -> onnx.ModelProto:
    """x -> Pad(pads = node's output) -> Conv: the pads are needed."""
    nodes = [node, helper.make_node("Pad", ["x", node.output[0]], ["p"], name="pad")]
    nodes.append(helper.make_node("Conv", ["p", "w"], ["y"], name="conv"))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], [_weight("w", (4, 3, 3, 3)), *inits])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def test_fallback_pads_fold() -> None:
    m = pad_fed_by(
        helper.make_node("Clip", ["raw", "lo"], ["pads"], name="clip"),
        [numpy_helper.from_array(a([0, 0, -1, 1, 0, 0, 2, 1]), "raw"), numpy_helper.from_array(a(0), "lo")],
    )
    conv = load_onnx(m).nodes[1]
    assert (conv.pad_begin, conv.pad_end) == ((0, 1), (2, 1))


def test_reference_error_names_the_node_and_op() -> None:
    # Clip with min > max is fine; CumSum with an axis out of range makes the evaluator fail.
    node = helper.make_node("CumSum", ["raw", "axis"], ["pads"], name="bad_cumsum")
    m = pad_fed_by(
        node, [numpy_helper.from_array(a([0, 0, 1, 1, 0, 0, 1, 1]), "raw"), numpy_helper.from_array(a(5), "axis")]
    )
    with pytest.raises(OnnxError, match=r"node 'pad' \(Pad.*node 'bad_cumsum' \(CumSum\)"):
        load_onnx(m)


def test_unknown_standard_op_names_the_node_and_op() -> None:
    node = helper.make_node("NoSuchOp", ["raw"], ["pads"], name="mystery")
    m = pad_fed_by(node, [numpy_helper.from_array(a([0, 0, 1, 1, 0, 0, 1, 1]), "raw")])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(OnnxError, match=r"pads input 'pads' is not known statically.*'mystery' \(NoSuchOp\)"):
            load_onnx(m)


def test_reason_passes_through_later_folds() -> None:
    # The failing node is two ops before the Pad: the error still names it.
    bad = helper.make_node("Tile", ["raw", "reps"], ["t"], name="huge_tile")
    slc = helper.make_node("Slice", ["t", "st", "en"], ["pads"], name="slice")
    nodes = [bad, slc, helper.make_node("Pad", ["x", "pads"], ["p"], name="pad")]
    nodes.append(helper.make_node("Conv", ["p", "w"], ["y"], name="conv"))
    inits = [
        numpy_helper.from_array(a([0, 1]), "raw"),
        numpy_helper.from_array(a([1 << 40]), "reps"),
        numpy_helper.from_array(a([0]), "st"),
        numpy_helper.from_array(a([8]), "en"),
        _weight("w", (4, 3, 3, 3)),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph(nodes, "g", [x], [helper.make_empty_tensor_value_info("y")], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxError, match=r"'huge_tile' \(Tile\): its output would have 2199023255552 elements"):
        load_onnx(m)


@pytest.mark.parametrize(
    ("op", "inputs", "attrs", "pattern"),
    [
        ("Tile", [a([1, 2]), a([1 << 40])], {}, "limit is 65536"),
        ("OneHot", [a([0, 1]), a(1 << 30), a([0, 1])], {}, "limit is 65536"),
        ("Einsum", [np.ones(4096, np.float32), np.ones(16, np.float32)], {"equation": "i,j->ij"}, "work limit"),
        ("RandomNormalLike", [a([1.0], F32)], {}, "random"),
        ("Loop", [a(3), a(True, bool)], {}, "control flow"),
        ("NoSuchOp", [a([1])], {}, "no schema"),
        ("Clip", [a([1]), a([1.0], F32)], {}, "shape inference rejects|onnx.reference failed"),
    ],
)
def test_fallback_refuses_with_a_reason(op: str, inputs: list[np.ndarray], attrs: dict[str, Any], pattern: str) -> None:
    names = [f"i{k}" for k in range(len(inputs))]
    with pytest.raises(FoldError, match=pattern):
        fold_reference(helper.make_node(op, names, ["y"], **attrs), list(inputs), 17)


def test_limits_are_consistent() -> None:
    assert MAX_WORK >= MAX_ELEMENTS


def test_unused_failing_fold_does_not_fail_the_load() -> None:
    # A constant nobody needs may fail to fold: the model still loads (folding is lazy).
    bad = helper.make_node("Tile", ["raw", "reps"], ["t"], name="huge_tile")
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv")
    inits = [
        numpy_helper.from_array(a([0, 1]), "raw"),
        numpy_helper.from_array(a([1 << 40]), "reps"),
        _weight("w", (4, 3, 3, 3)),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])
    graph = helper.make_graph([bad, conv], "g", [x], [helper.make_empty_tensor_value_info("y")], inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    assert [n.name for n in load_onnx(m).nodes] == ["x", "conv"]


def test_fuzz_contract_holds_for_mutated_fallback_graphs() -> None:
    # What fuzz/fuzz_onnx.py asserts: only RfaError escapes, whatever the op the folder meets.
    base = timm_model(32, 32)
    for op in ["If", "Loop", "Scan", "Einsum", "NoSuchOp", "Tile", "OneHot", "Resize", "StringNormalizer", "Col2Im"]:
        m = onnx.ModelProto()
        m.CopyFrom(base)
        for n in m.graph.node:
            if n.name == "clip2":
                n.op_type = op
        try:
            g = load_onnx(m.SerializeToString())
            rfa_fast.analyze(g, 32)
        except RfaError:
            pass
