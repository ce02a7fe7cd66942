"""The ONNX loader on small weightless models built with onnx.helper: each op family, each bad input.

Weights are initializers with dims only (their data "external" in a file that
does not exist), exactly as the loader must meet them; nothing here needs
torch.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import rfa_fast
from rfa_fast import Kind, PadMode, ResizeMode
from rfa_fast.errors import OnnxError, RfaError, UnsupportedOpError
from rfa_fast.onnx import OnnxWarning, UnknownOpWarning, load_onnx

# -- building models ---------------------------------------------------------------


def weight(name: str, dims: Sequence[int]) -> TensorProto:
    """An initializer with dims and no bytes (external data in a missing file)."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims))
    t.data_location = TensorProto.EXTERNAL
    t.external_data.add(key="location", value="missing.bin")
    return t


def const(name: str, values: Sequence[float] | np.ndarray, dtype: type = np.int64) -> TensorProto:
    return numpy_helper.from_array(np.asarray(values, dtype=dtype), name)


def model(
    nodes: list[onnx.NodeProto],
    inputs: Sequence[tuple[str, Sequence[int | str | None]]] = (("x", (1, 3, 32, 32)),),
    outputs: Sequence[str] = ("y",),
    inits: Sequence[TensorProto] = (),
    opset: int = 17,
) -> onnx.ModelProto:
    ins = [helper.make_tensor_value_info(n, TensorProto.FLOAT, list(s)) for n, s in inputs]
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs]
    m = helper.make_model(
        helper.make_graph(nodes, "test", ins, outs, list(inits)), opset_imports=[helper.make_opsetid("", opset)]
    )
    m.ir_version = 8
    return m


def conv(
    x: str, y: str, name: str, c_in: int, c_out: int, k: int = 3, **attrs: object
) -> tuple[onnx.NodeProto, TensorProto]:
    w = weight(f"{name}.w", (c_out, c_in // int(attrs.get("group", 1)), k, k))  # type: ignore[call-overload]
    return helper.make_node("Conv", [x, w.name], [y], name=name, kernel_shape=[k, k], **attrs), w


def by_name(g: rfa_fast.Graph) -> dict[str, rfa_fast.Node]:
    return {n.name: n for n in g.nodes}


def quiet_load(m: onnx.ModelProto | bytes | str, **kw: object) -> rfa_fast.Graph:
    """Load, failing on any loader warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", OnnxWarning)
        return load_onnx(m, **kw)  # type: ignore[arg-type]


# -- windows ---------------------------------------------------------------------------


def test_conv_chain_names_channels_and_collapsed_activations() -> None:
    c1, w1 = conv("x", "c1", "/features/features.0/Conv", 3, 16, strides=[2, 2], pads=[1, 1, 1, 1])
    c2, w2 = conv("r2", "c2", "/features/features.3/Conv", 16, 16, group=16, dilations=[2, 2], pads=[2, 2, 2, 2])
    nodes = [
        c1,
        helper.make_node("BatchNormalization", ["c1", "s", "b", "m", "v"], ["bn"], name="/features/features.1/BN"),
        helper.make_node("Relu", ["bn"], ["r1"], name="/features/features.2/Relu"),
        helper.make_node("Clip", ["r1", "lo", "hi"], ["r2"], name="clip"),
        c2,
        helper.make_node("Dropout", ["c2"], ["y"], name="drop"),
    ]
    inits = [w1, w2, const("lo", 0.0, np.float32), const("hi", 6.0, np.float32)] + [weight(n, (16,)) for n in "sbmv"]
    g = quiet_load(model(nodes, inits=inits))
    assert [n.name for n in g.nodes] == ["x", "/features/features.0/Conv", "/features/features.3/Conv"]
    assert [n.op for n in g.nodes] == ["Input", "Conv", "Conv"]
    first, second = g.nodes[1], g.nodes[2]
    assert (first.kernel, first.stride, first.pad_begin, first.pad_end) == ((3, 3), (2, 2), (1, 1), (1, 1))
    assert (first.c_in, first.c_out, first.groups, first.weighted) == (3, 16, 1, True)
    assert (second.dilation, second.groups, second.c_in, second.c_out) == ((2, 2), 16, 16, 16)
    assert second.inputs == (1,)
    assert g.input_shape == (32, 32) and g.outputs == [2] and g.dims == 2
    rep = rfa_fast.analyze(g)
    assert rep.layers[2].rf_max == (3.0 + 4 * 2, 3.0 + 4 * 2)
    assert rep.layers[2].fmap == (16, 16)


def test_kernel_from_weight_dims_and_auto_pad_modes() -> None:
    w = weight("w", (8, 3, 5, 3))
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["a"], name="same", auto_pad="SAME_UPPER", strides=[2, 2]),
        helper.make_node("MaxPool", ["a"], ["b"], name="lower", kernel_shape=[2, 2], auto_pad="SAME_LOWER"),
        helper.make_node("AveragePool", ["b"], ["y"], name="valid", kernel_shape=[3, 3], auto_pad="VALID"),
    ]
    g = quiet_load(model(nodes, inits=[w]))
    n = by_name(g)
    assert n["same"].kernel == (5, 3) and n["same"].pad_mode == PadMode.SAME_UPPER
    assert n["lower"].pad_mode == PadMode.SAME_LOWER and not n["lower"].weighted
    assert n["valid"].pad_mode == PadMode.VALID
    rep = rfa_fast.analyze(g, 33)
    assert rep.layer("same").fmap == (17, 17)
    assert rep.layer("valid").fmap == (15, 15)


def test_pools_ceil_mode_and_lp_pool() -> None:
    nodes = [
        helper.make_node("MaxPool", ["x"], ["a", "idx"], name="max", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
        helper.make_node("LpPool", ["a"], ["y"], name="lp", kernel_shape=[2, 2], strides=[2, 2], p=2),
    ]
    g = quiet_load(model(nodes, inputs=[("x", (1, 3, 8, 8))]))
    n = by_name(g)
    assert n["max"].ceil_mode and n["max"].kernel == (3, 3)
    assert n["lp"].kind == Kind.WINDOW
    rep = rfa_fast.analyze(g)
    assert rep.layer("max").fmap == (4, 4)  # ceil((8-3)/2)+1
    assert rep.layer("lp").rf_max == (3.0 + 2, 3.0 + 2)


def test_conv_transpose_output_padding_and_output_shape() -> None:
    w = weight("w", (3, 4, 3, 3))  # [c_in, c_out/group, k, k]
    nodes = [
        helper.make_node(
            "ConvTranspose", ["x", "w"], ["a"], name="up", strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1]
        ),
        helper.make_node("ConvTranspose", ["a", "w2"], ["y"], name="up2", strides=[2, 2], output_shape=[64, 64]),
    ]
    g = quiet_load(model(nodes, inputs=[("x", (1, 3, 16, 16))], inits=[w, weight("w2", (4, 2, 2, 2))]))
    up = by_name(g)["up"]
    assert up.kind == Kind.TRANSPOSED and up.pad_end == (0, 0) and up.pad_begin == (1, 1)
    assert (up.c_in, up.c_out) == (3, 4)
    rep = rfa_fast.analyze(g)
    assert rep.layer("up").fmap == (32, 32)  # (16-1)*2 - 2 + 3 + 1
    assert rep.layer("up2").fmap == (64, 64)
    assert rep.layer("up").jump == (0.5, 0.5)


# -- pads ----------------------------------------------------------------------------------


def _pad_conv(pads_node: list[onnx.NodeProto], inits: list[TensorProto], opset: int = 17) -> rfa_fast.Graph:
    c, w = conv("p", "y", "conv", 3, 8)
    return quiet_load(model(pads_node + [c], inits=inits + [w], opset=opset))


def test_pad_from_initializer_constant_and_attribute_folds_into_the_conv() -> None:
    pads = [0, 0, 1, 2, 0, 0, 3, 4]
    from_init = _pad_conv([helper.make_node("Pad", ["x", "pads"], ["p"], name="pad")], [const("pads", pads)])
    from_const = _pad_conv(
        [
            helper.make_node("Constant", [], ["pads"], value=const("v", pads)),
            helper.make_node("Pad", ["x", "pads"], ["p"], name="pad", mode="reflect"),
        ],
        [],
    )
    from_attr = _pad_conv([helper.make_node("Pad", ["x"], ["p"], name="pad", pads=pads)], [], opset=7)
    for g in (from_init, from_const, from_attr):
        assert [n.name for n in g.nodes] == ["x", "conv"]
        c = g.nodes[1]
        assert (c.pad_begin, c.pad_end, c.pad_mode) == ((1, 2), (3, 4), PadMode.EXPLICIT)
        assert c.attrs["folded_pad"] == "pad"
        assert rfa_fast.analyze(g).layers[1].fmap == (32 + 4 - 2, 32 + 6 - 2)


def test_pad_that_feeds_a_non_window_stays_as_a_kernel_1_window() -> None:
    c, w = conv("p", "c", "conv", 3, 3)
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        c,
        helper.make_node("Add", ["p", "c"], ["y"], name="add"),
    ]
    g = quiet_load(model(nodes, inits=[w, const("pads", [0, 0, 1, 1, 0, 0, 1, 1])]))
    pad = by_name(g)["pad"]
    assert pad.kind == Kind.WINDOW and pad.kernel == (1, 1) and pad.pad_begin == (1, 1) and pad.op == "Pad"
    assert by_name(g)["conv"].pad_begin == (0, 0)
    assert rfa_fast.analyze(g).layer("add").fmap == (34, 34)


def _tf_same_pad(x: str, out: str, k: int, s: int) -> list[onnx.NodeProto]:
    """The pads TF-style SAME exports compute at run time: Shape -> Gather -> ... -> Pad."""
    nodes = [helper.make_node("Shape", [x], ["shp"])]
    ends = []
    begins = []
    for axis in (2, 3):
        a = f"ax{axis}"
        nodes += [
            helper.make_node("Gather", ["shp", f"{a}_i"], [f"{a}_n"], axis=0),
            helper.make_node("Add", [f"{a}_n", "s_minus_1"], [f"{a}_t"]),
            helper.make_node("Div", [f"{a}_t", "s"], [f"{a}_out"]),
            helper.make_node("Sub", [f"{a}_out", "one"], [f"{a}_o1"]),
            helper.make_node("Mul", [f"{a}_o1", "s"], [f"{a}_o2"]),
            helper.make_node("Add", [f"{a}_o2", "k"], [f"{a}_o3"]),
            helper.make_node("Sub", [f"{a}_o3", f"{a}_n"], [f"{a}_o4"]),
            helper.make_node("Max", [f"{a}_o4", "zero"], [f"{a}_tot"]),
            helper.make_node("Div", [f"{a}_tot", "two"], [f"{a}_b"]),
            helper.make_node("Sub", [f"{a}_tot", f"{a}_b"], [f"{a}_e"]),
        ]
        begins.append(f"{a}_b")
        ends.append(f"{a}_e")
    nodes.append(helper.make_node("Concat", ["zeros2", *begins, "zeros2", *ends], ["pads"], axis=0))
    nodes.append(helper.make_node("Pad", [x, "pads"], [out], name="tf_pad"))
    return nodes


def _tf_inits(k: int, s: int) -> list[TensorProto]:
    return [
        const("ax2_i", 2),
        const("ax3_i", 3),
        const("s_minus_1", [s - 1]),
        const("s", [s]),
        const("one", [1]),
        const("k", [k]),
        const("zero", [0]),
        const("two", [2]),
        const("zeros2", [0, 0]),
    ]


def test_tf_style_same_pad_chain_becomes_a_same_window() -> None:
    w = weight("w", (8, 3, 3, 3))
    nodes = _tf_same_pad("x", "p", 3, 2) + [helper.make_node("Conv", ["p", "w"], ["y"], name="conv", strides=[2, 2])]
    m = model(nodes, inits=[w, *_tf_inits(3, 2)])
    g = quiet_load(m)
    assert [n.name for n in g.nodes] == ["x", "conv"]
    c = g.nodes[1]
    assert c.pad_mode == PadMode.SAME_UPPER and c.pad_begin == (0, 0)
    # Right at resolutions other than the exported one, too.
    for res in (32, 33, 7):
        assert rfa_fast.analyze(g, res).layers[1].fmap == (math.ceil(res / 2),) * 2
    assert quiet_load(m, resolution=33).input_shape == (33, 33)


def test_static_pad_that_is_not_same_stays_explicit() -> None:
    w = weight("w", (8, 3, 3, 3))
    nodes = _tf_same_pad("x", "p", 5, 2) + [helper.make_node("Conv", ["p", "w"], ["y"], name="conv", strides=[2, 2])]
    g = quiet_load(model(nodes, inits=[w, *_tf_inits(5, 2)]))  # pads computed for k=5, conv has k=3
    c = g.nodes[1]
    assert c.pad_mode == PadMode.EXPLICIT and (c.pad_begin, c.pad_end) == ((1, 1), (2, 2))


# -- resize -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "kind"), [("nearest", ResizeMode.NEAREST), ("linear", ResizeMode.LINEAR), ("cubic", ResizeMode.CUBIC)]
)
def test_resize_scales_and_modes(mode: str, kind: ResizeMode) -> None:
    nodes = [helper.make_node("Resize", ["x", "", "scales"], ["y"], name="up", mode=mode)]
    g = quiet_load(model(nodes, inits=[const("scales", [1, 1, 2, 4], np.float32)]))
    up = g.nodes[1]
    assert up.kind == Kind.RESIZE and up.scale == (2.0, 4.0) and up.mode == kind
    assert rfa_fast.analyze(g).layers[1].fmap == (64, 128)


def test_resize_sizes_from_shape_chain_uses_inferred_shapes() -> None:
    # fcn_resnet50's pattern: sizes = concat(shape(feature)[:2], [224, 224]) after a stride-8 conv.
    c, w = conv("x", "f", "conv", 3, 4, k=1, strides=[8, 8])
    nodes = [
        c,
        helper.make_node("Shape", ["f"], ["shp"]),
        helper.make_node("Slice", ["shp", "zero", "two", "zero"], ["nc"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["f", "", "", "sizes"], ["y"], name="up", mode="linear"),
    ]
    inits = [w, const("zero", [0]), const("two", [2]), const("hw", [32, 32])]
    g = quiet_load(model(nodes, inits=inits))
    assert by_name(g)["up"].scale == (8.0, 8.0)
    assert rfa_fast.analyze(g).layer("up").rf_max == (1.0 + 8, 1.0 + 8)


def test_upsample_old_opsets_and_resize_of_a_global_tensor() -> None:
    v7 = model([helper.make_node("Upsample", ["x"], ["y"], name="up", scales=[1.0, 1.0, 2.0, 2.0])], opset=7)
    v9 = model(
        [helper.make_node("Upsample", ["x", "s"], ["y"], name="up", mode="linear")],
        inits=[const("s", [1, 1, 3, 3], np.float32)],
        opset=9,
    )
    assert quiet_load(v7).nodes[1].scale == (2.0, 2.0)
    assert quiet_load(v9).nodes[1].mode == ResizeMode.LINEAR and quiet_load(v9).nodes[1].scale == (3.0, 3.0)
    nodes = [
        helper.make_node("GlobalAveragePool", ["x"], ["g"], name="gap"),
        helper.make_node("Resize", ["g", "", "scales"], ["y"], name="up"),
    ]
    g = quiet_load(model(nodes, inits=[const("scales", [1, 1, 32, 32], np.float32)]))
    assert [n.name for n in g.nodes] == ["x", "gap"] and g.outputs == [1]


def test_depth_to_space_and_space_to_depth() -> None:
    nodes = [
        helper.make_node("SpaceToDepth", ["x"], ["a"], name="s2d", blocksize=2),
        helper.make_node("DepthToSpace", ["a"], ["y"], name="d2s", blocksize=2),
    ]
    g = quiet_load(model(nodes))
    s2d, d2s = g.nodes[1], g.nodes[2]
    assert s2d.kind == Kind.WINDOW and s2d.kernel == (2, 2) and s2d.stride == (2, 2) and not s2d.weighted
    assert d2s.kind == Kind.RESIZE and d2s.scale == (2.0, 2.0) and d2s.mode == ResizeMode.NEAREST
    layer = rfa_fast.analyze(g).layers[2]
    assert layer.rf_max == (2.0, 2.0) and layer.jump == (1.0, 1.0) and layer.fmap == (32, 32)


# -- merges and global context ----------------------------------------------------------


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div", "Max", "Min", "Sum", "Mean", "Pow"])
def test_binary_ops_merge_data_and_drop_constants(op: str) -> None:
    c, w = conv("x", "c", "conv", 3, 3)
    nodes = [
        helper.make_node(op, ["x", "k"], ["xk"], name="with_const"),  # a constant operand: pass-through
        c,
        helper.make_node(op, ["xk", "c"], ["y"], name="merge"),
    ]
    g = quiet_load(model(nodes, inits=[w, const("k", [2.0], np.float32)]))
    assert [n.name for n in g.nodes] == ["x", "conv", "merge"]
    assert g.nodes[2].kind == Kind.MERGE and g.nodes[2].inputs == (0, 1) and g.nodes[2].op == op


def test_where_and_silu_pattern() -> None:
    c, w = conv("x", "c", "conv", 3, 3)
    nodes = [
        c,
        helper.make_node("Sigmoid", ["c"], ["s"]),
        helper.make_node("Mul", ["c", "s"], ["silu"], name="silu"),  # x * sigmoid(x): still one producer
        helper.make_node("Greater", ["x", "zero"], ["mask"]),
        helper.make_node("Where", ["mask", "silu", "x"], ["y"], name="where"),
    ]
    g = quiet_load(model(nodes, inits=[w, const("zero", [0.0], np.float32)]))
    assert [n.name for n in g.nodes] == ["x", "conv", "where"]
    assert g.nodes[2].kind == Kind.MERGE and set(g.nodes[2].inputs) == {0, 1}


def test_squeeze_excitation_sets_global_context() -> None:
    c, w = conv("x", "c", "block/conv", 3, 8)
    f1, w1 = conv("g", "f1", "block/se/fc1", 8, 2, k=1)
    f2, w2 = conv("r", "f2", "block/se/fc2", 2, 8, k=1)
    c2, w3 = conv("m", "y", "block/project", 8, 8, k=1)
    nodes = [
        c,
        helper.make_node("GlobalAveragePool", ["c"], ["g"], name="block/se/gap"),
        f1,
        helper.make_node("Relu", ["f1"], ["r"]),
        f2,
        helper.make_node("HardSigmoid", ["f2"], ["hs"]),
        helper.make_node("Mul", ["hs", "c"], ["m"], name="block/se/mul"),
        c2,
    ]
    g = quiet_load(model(nodes, inits=[w, w1, w2, w3]))
    rep = rfa_fast.analyze(g)
    assert rep.layer("block/se/gap").kind == "global"
    assert math.isinf(rep.layer("block/se/fc2").rf_max[0])
    mul = rep.layer("block/se/mul")
    assert mul.kind == "merge" and mul.global_context and mul.rf_max == (3.0, 3.0)
    assert rep.layer("block/project").global_context and rep.layer("block/project").rf_max == (3.0, 3.0)
    assert (by_name(g)["block/se/fc1"].c_in, by_name(g)["block/se/fc1"].c_out) == (8, 2)


def test_instance_norm_is_a_merge_with_global_statistics() -> None:
    c, w = conv("x", "c", "conv", 3, 8)
    nodes = [c, helper.make_node("InstanceNormalization", ["c", "s", "b"], ["y"], name="norm")]
    g = quiet_load(model(nodes, inits=[w, weight("s", (8,)), weight("b", (8,))]))
    rep = rfa_fast.analyze(g)
    assert rep.layer("norm/stats").kind == "global"
    assert rep.layer("norm").global_context and rep.layer("norm").rf_max == (3.0, 3.0)


def test_softmax_over_channels_is_a_pass_through() -> None:
    g = quiet_load(model([helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=1)]))
    assert [n.name for n in g.nodes] == ["x"]


def test_concat_on_channels_merges_and_on_space_warns_or_fails_in_strict_mode() -> None:
    c, w = conv("x", "c", "conv", 3, 3, pads=[1, 1, 1, 1])
    channel = model([c, helper.make_node("Concat", ["x", "c"], ["y"], name="cat", axis=1)], inits=[w])
    g = quiet_load(channel)
    assert g.nodes[2].kind == Kind.MERGE and g.nodes[2].op == "Concat"
    spatial = model([c, helper.make_node("Concat", ["x", "c"], ["y"], name="cat", axis=-1)], inits=[w])
    with pytest.warns(OnnxWarning, match="cat"):
        assert load_onnx(spatial).nodes[2].kind == Kind.MERGE
    with pytest.raises(OnnxError, match="spatial axis"):
        load_onnx(spatial, strict=True)


# -- layout ops, slices, reductions ----------------------------------------------------------


def test_channel_shuffle_keeps_the_spatial_chain() -> None:
    c1, w1 = conv("x", "a", "conv1", 3, 8, pads=[1, 1, 1, 1])
    c2, w2 = conv("s", "y", "conv2", 8, 8, pads=[1, 1, 1, 1])
    nodes = [
        c1,
        helper.make_node("Reshape", ["a", "shape5"], ["r"], name="reshape"),
        helper.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[0, 2, 1, 3, 4]),
        helper.make_node("Reshape", ["t", "shape4"], ["s"], name="reshape2"),
        c2,
    ]
    inits = [w1, w2, const("shape5", [1, 2, 4, 32, 32]), const("shape4", [1, -1, 32, 32])]
    g = quiet_load(model(nodes, inits=inits))
    assert [n.name for n in g.nodes] == ["x", "conv1", "conv2"]
    assert rfa_fast.analyze(g).layer("conv2").rf_max == (5.0, 5.0)


def test_reshape_to_tokens_flatten_gemm_and_matmul_are_global() -> None:
    c, w = conv("x", "c", "patch", 3, 8, k=4, strides=[4, 4])
    nodes = [
        c,
        helper.make_node("Reshape", ["c", "tok"], ["t"], name="tokens"),
        helper.make_node("MatMul", ["t", "wq"], ["q"], name="proj"),
        helper.make_node("Flatten", ["q"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], name="fc", transB=1),
    ]
    inits = [w, const("tok", [1, 8, 64]), weight("wq", (64, 16)), weight("fc", (10, 128)), weight("fcb", (10,))]
    g = quiet_load(model(nodes, inits=inits))
    n = by_name(g)
    assert n["tokens"].kind == Kind.GLOBAL
    assert n["proj"].kind == Kind.GLOBAL and (n["proj"].c_in, n["proj"].c_out) == (64, 16)
    assert "flat" not in n  # already global: a pass-through
    assert n["fc"].kind == Kind.GLOBAL and n["fc"].weighted and (n["fc"].c_in, n["fc"].c_out) == (128, 10)
    assert rfa_fast.analyze(g).layer("fc").params == 1280


def test_flatten_of_a_spatial_map_is_global() -> None:
    g = quiet_load(model([helper.make_node("Flatten", ["x"], ["y"], name="flat")]))
    assert g.nodes[1].kind == Kind.GLOBAL and g.nodes[1].op == "Flatten"


def test_slices_and_splits() -> None:
    nodes = [
        helper.make_node("Slice", ["x", "s0", "e0", "a0"], ["ch"], name="channels"),
        helper.make_node("Slice", ["ch", "s1", "e1", "a1", "st1"], ["sub"], name="stride2"),
        helper.make_node("Slice", ["sub", "s2", "e2", "a2"], ["crop"], name="crop"),
        helper.make_node("Split", ["crop", "parts"], ["top", "bottom"], name="split", axis=2),
        helper.make_node("Split", ["top"], ["c1", "c2"], name="chsplit", axis=1, num_outputs=2),
        helper.make_node("Add", ["c1", "bottom"], ["y"], name="add"),
    ]
    inits = [
        const("s0", [0]),
        const("e0", [2]),
        const("a0", [1]),
        const("s1", [0, 0]),
        const("e1", [sys.maxsize, sys.maxsize]),
        const("a1", [2, 3]),
        const("st1", [2, 2]),
        const("s2", [1]),
        const("e2", [-1]),
        const("a2", [-1]),
        const("parts", [8, 8]),
    ]
    g = quiet_load(model(nodes, inits=inits, opset=18))
    n = by_name(g)
    assert "channels" not in n and "chsplit" not in n
    assert n["stride2"].kind == Kind.WINDOW and n["stride2"].stride == (2, 2) and n["stride2"].kernel == (1, 1)
    assert n["crop"].pad_begin == (0, -1) and n["crop"].pad_end == (0, -1)
    assert n["split:1"].pad_begin == (-8, 0) and n["split:0"].pad_end == (-8, 0)
    rep = rfa_fast.analyze(g)
    assert rep.layer("stride2").fmap == (16, 16) and rep.layer("stride2").jump == (2.0, 2.0)
    assert rep.layer("crop").fmap == (16, 14)
    assert rep.layer("split:0").fmap == (8, 14) and rep.layer("split:1").fmap == (8, 14)


@pytest.mark.parametrize("opset", [13, 18])
def test_reduce_over_space_is_global_over_channels_a_pass_through(opset: int) -> None:
    def reduce(name: str, x: str, y: str, axes: list[int], keepdims: int = 1) -> list[onnx.NodeProto]:
        if opset >= 18:
            return [
                helper.make_node("Constant", [], [f"{name}_axes"], value=const("v", axes)),
                helper.make_node("ReduceMean", [x, f"{name}_axes"], [y], name=name, keepdims=keepdims),
            ]
        return [helper.make_node("ReduceMean", [x], [y], name=name, axes=axes, keepdims=keepdims)]

    nodes = reduce("chmean", "x", "a", [1]) + reduce("spmean", "a", "y", [2, 3], keepdims=0)
    g = quiet_load(model(nodes, opset=opset))
    assert [n.name for n in g.nodes] == ["x", "spmean"] and g.nodes[1].kind == Kind.GLOBAL


def test_channels_last_input_with_a_transpose() -> None:
    w = weight("w", (8, 3, 3, 3))
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["xn"]),
        helper.make_node("Transpose", ["xn"], ["t"], perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["t", "w"], ["y"], name="conv", strides=[2, 1]),
    ]
    g = quiet_load(model(nodes, inputs=[("x", (1, 40, 30, 3))], inits=[w, const("mean", [0.5], np.float32)]))
    assert g.input_shape == (40, 30)
    assert rfa_fast.analyze(g).layer("conv").fmap == (19, 28)


# -- graph structure ---------------------------------------------------------------------


def test_unsorted_nodes_are_sorted_and_a_cycle_is_an_error() -> None:
    c, w = conv("r", "y", "conv", 3, 3)
    g = quiet_load(model([c, helper.make_node("Relu", ["x"], ["r"], name="relu")], inits=[w]))
    assert [n.name for n in g.nodes] == ["x", "conv"]
    cyclic = model(
        [
            helper.make_node("Add", ["x", "b"], ["a"], name="a"),
            helper.make_node("Relu", ["a"], ["b"], name="b"),
            helper.make_node("Relu", ["b"], ["y"], name="out"),
        ]
    )
    with pytest.raises(OnnxError, match="cycle"):
        load_onnx(cyclic)


def test_several_inputs_and_outputs() -> None:
    c, w = conv("img", "a", "conv", 3, 4)
    nodes = [
        helper.make_node("Mul", ["mask", "scale"], ["ms"]),
        c,
        helper.make_node("Mul", ["a", "ms"], ["y"], name="masked"),
        helper.make_node("GlobalMaxPool", ["a"], ["z"], name="pool"),
    ]
    ins = [("scale", (1,)), ("img", (1, 3, 16, 16)), ("mask", (1, 1, 14, 14))]
    m = model(nodes, inputs=ins, outputs=["y", "z"], inits=[w])
    g = quiet_load(m)
    assert g.nodes[0].name == "img" and g.input_shape == (16, 16)
    assert [g.nodes[i].name for i in g.outputs] == ["conv", "pool"]  # masked: the mask is a constant for us
    g2 = quiet_load(m, input_name="mask")
    assert g2.nodes[0].name == "mask" and [g2.nodes[i].name for i in g2.outputs] == ["mask"]
    with pytest.raises(OnnxError, match="no graph input named 'nope'"):
        load_onnx(m, input_name="nope")


def test_unnamed_nodes_take_their_output_name_and_duplicates_are_made_unique() -> None:
    c1, w1 = conv("x", "first_out", "", 3, 3)
    c2, w2 = conv("first_out", "y", "", 3, 3)
    c3, w3 = conv("y", "z", "same", 3, 3)
    c4, w4 = conv("z", "q", "same", 3, 3)
    g = quiet_load(model([c1, c2, c3, c4], outputs=["q"], inits=[w1, w2, w3, w4]))
    assert [n.name for n in g.nodes] == ["x", "first_out", "y", "same", "same#1"]


@pytest.mark.parametrize(("rank", "dims"), [(3, 1), (5, 3)])
def test_one_and_three_spatial_axes(rank: int, dims: int) -> None:
    shape = (1, 2) + (9,) * dims
    w = weight("w", (4, 2) + (3,) * dims)
    nodes = [helper.make_node("Conv", ["x", "w"], ["a"], name="conv", strides=[2] * dims)]
    nodes.append(helper.make_node("MaxPool", ["a"], ["y"], name="pool", kernel_shape=[2] * dims))
    g = quiet_load(model(nodes, inputs=[("x", shape)], inits=[w]))
    assert g.dims == dims and g.nodes[1].kernel == (3,) * dims and g.input_shape == (9,) * dims
    assert rfa_fast.analyze(g).layer("pool").rf_max == (5.0,) * dims


def test_deep_graph_loads_without_recursion() -> None:
    depth = 3000
    nodes, inits = [], []
    x = "x"
    for i in range(depth):
        c, w = conv(x, f"c{i}", f"conv{i}", 3, 3, k=1)
        nodes += [c, helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        inits.append(w)
        x = f"r{i}"
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    g = quiet_load(model(nodes, inits=inits))
    assert len(g) == depth + 1 and g.outputs == [depth]


def test_deep_constant_chain_folds_without_recursion() -> None:
    depth = 5000
    nodes = [helper.make_node("Constant", [], ["k0"], value=const("v", [0, 0, 0, 0, 0, 0, 0, 0]))]
    for i in range(depth):
        nodes.append(helper.make_node("Add", [f"k{i}", "one"], [f"k{i + 1}"]))
    nodes.append(helper.make_node("Sub", [f"k{depth}", "offset"], ["pads"]))
    nodes.append(helper.make_node("Pad", ["x", "pads"], ["y"], name="pad"))
    g = quiet_load(
        model(nodes, inits=[const("one", [1] * 8), const("offset", [depth, depth, depth - 1, depth - 1] * 2)])
    )
    assert g.nodes[1].pad_begin == (1, 1)


# -- unknown ops --------------------------------------------------------------------------


def _unknown_model() -> onnx.ModelProto:
    nodes = [
        helper.make_node("CumSum", ["x", "axis"], ["a"], name="cumsum"),  # not in the table, shape-preserving
        helper.make_node("CumSum", ["a", "axis"], ["b"], name="cumsum2"),
        helper.make_node("Einsum", ["b"], ["c"], name="einsum", equation="nchw->nc"),  # shape-changing
        helper.make_node("Frobnicate", ["c"], ["y"], name="custom", domain="com.example"),
    ]
    m = model(nodes, inits=[const("axis", 1)])
    m.opset_import.append(helper.make_opsetid("com.example", 1))
    return m


def test_unknown_ops_warn_once_and_are_identity_or_global() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g = load_onnx(_unknown_model())
    unknown = [w for w in caught if issubclass(w.category, UnknownOpWarning)]
    assert len(unknown) == 1
    text = str(unknown[0].message)
    assert "CumSum" in text and "Einsum" in text and "com.example.Frobnicate" in text and text.count("CumSum") == 1
    n = by_name(g)
    assert "cumsum" not in n and n["einsum"].kind == Kind.GLOBAL and n["einsum"].inputs == (0,)


def test_strict_mode_names_op_node_and_opset() -> None:
    with pytest.raises(UnsupportedOpError, match=r"'cumsum' \(CumSum, opset 17\).*CumSum") as err:
        load_onnx(_unknown_model(), strict=True)
    assert isinstance(err.value, OnnxError) and isinstance(err.value, RfaError)


# -- sources and bad inputs ---------------------------------------------------------------


def _small() -> onnx.ModelProto:
    c, w = conv("x", "y", "conv", 3, 8)
    return model([c], inits=[w])


def test_path_bytes_and_modelproto_sources(tmp_path) -> None:  # type: ignore[no-untyped-def]
    m = _small()
    path = tmp_path / "net.onnx"
    path.write_bytes(m.SerializeToString())
    for src in (str(path), path, m.SerializeToString(), m):
        g = quiet_load(src)
        assert [n.name for n in g.nodes] == ["x", "conv"]
    assert quiet_load(path).name == "net"


def test_missing_external_weight_file_loads(tmp_path) -> None:  # type: ignore[no-untyped-def]
    m = _small()
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "conv.w"))
    path = tmp_path / "ext.onnx"
    onnx.save_model(
        m, str(path), save_as_external_data=True, all_tensors_to_one_file=True, location="w.bin", size_threshold=0
    )
    (tmp_path / "w.bin").unlink()
    g = quiet_load(path)
    assert g.nodes[1].c_out == 8 and g.nodes[1].kernel == (3, 3)


def test_embedded_weights_are_never_decoded(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    m = _small()
    m.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.ones((8, 3, 3, 3), np.float32), "conv.w"))
    big = numpy_helper.from_array(np.ones((1 << 17,), np.float32), "big")
    m.graph.initializer.append(big)
    decoded: list[str] = []
    real = numpy_helper.to_array

    def spy(t, *a, **k):  # type: ignore[no-untyped-def]
        decoded.append(t.name)
        return real(t, *a, **k)

    monkeypatch.setattr("rfa_fast.onnx.values.numpy_helper.to_array", spy)
    g = quiet_load(m.SerializeToString())
    assert g.nodes[1].c_out == 8 and decoded == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda p: str(p / "absent.onnx"), "no such file"),
        (lambda p: str(p), "is a directory"),
        (lambda p: _write(p / "text.onnx", b"this is not a model\n" * 10), "not an ONNX model"),
        (lambda p: _write(p / "trunc.onnx", _small().SerializeToString()[:-7]), "truncated|not an ONNX"),
        (lambda p: _write(p / "empty.onnx", b""), "empty"),
        (lambda p: b"\x08\x07", "not an ONNX model"),
        (lambda p: 3.5, "expects a path, bytes or an onnx.ModelProto"),
    ],
)
def test_bad_files_are_clear_errors(tmp_path, make, match: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(OnnxError, match=match):
        load_onnx(make(tmp_path))


def _write(path, data: bytes):  # type: ignore[no-untyped-def]
    path.write_bytes(data)
    return path


def test_conv_without_kernel_shape_anywhere() -> None:
    nodes = [helper.make_node("Conv", ["x", "wdyn"], ["y"], name="blind")]
    ins = [("x", (1, 3, 8, 8)), ("wdyn", (8, 3, "kh", "kw"))]
    with pytest.raises(OnnxError, match=r"'blind' \(Conv.*kernel_shape"):
        load_onnx(model(nodes, inputs=ins))


def test_dynamic_spatial_size_needs_a_resolution_only_where_sizes_matter() -> None:
    c, w = conv("x", "f", "conv", 3, 4, k=1, strides=[4, 4])
    fine = model([c, helper.make_node("Relu", ["f"], ["y"])], inputs=[("x", ("N", 3, "H", "W"))], inits=[w])
    g = quiet_load(fine)
    assert g.input_shape is None
    nodes = [
        c,
        helper.make_node("Shape", ["x"], ["shp"]),
        helper.make_node("Slice", ["shp", "two", "four"], ["hw"]),
        helper.make_node("Concat", ["nc", "hw"], ["sizes"], axis=0),
        helper.make_node("Resize", ["f", "", "", "sizes"], ["y"], name="up", mode="linear"),
    ]
    inits = [w, const("two", [2]), const("four", [4]), const("nc", [1, 4])]
    dyn = model(nodes, inputs=[("x", ("N", 3, "H", "W"))], inits=inits)
    with pytest.raises(OnnxError, match=r"'up' \(Resize.*resolution="):
        load_onnx(dyn)
    g = quiet_load(dyn, resolution=64)
    assert g.input_shape == (64, 64) and by_name(g)["up"].scale == (4.0, 4.0)
    with pytest.raises(OnnxError, match="resolution"):
        load_onnx(dyn, resolution=(64, 64, 64))


def test_no_image_input_and_no_dependent_output() -> None:
    flat = model([helper.make_node("Relu", ["x"], ["y"])], inputs=[("x", (1, 10))])
    with pytest.raises(OnnxError, match="no image-like graph input"):
        load_onnx(flat)
    detached = model(
        [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Constant", [], ["y"], value=const("v", [1]))]
    )
    with pytest.raises(OnnxError, match="no graph output depends on the input"):
        load_onnx(detached)


def test_old_opset_attribute_forms() -> None:
    """Opset 9/10 keep axes, starts/ends and splits in attributes; softmax flattens from its axis."""
    c, w = conv("x", "c", "conv", 3, 4, pads=[1, 1, 1, 1])
    nodes = [
        c,
        helper.make_node("Slice", ["c"], ["s"], name="slice", starts=[0, 0], ends=[2, 30], axes=[1, 3]),
        helper.make_node("Unsqueeze", ["s"], ["u"], name="unsq", axes=[0]),
        helper.make_node("Squeeze", ["u"], ["q"], name="sq", axes=[0]),
        helper.make_node("Split", ["q"], ["a", "b"], name="split", axis=1, split=[1, 1]),
        helper.make_node("Softmax", ["a"], ["sm"], name="softmax", axis=1),
        helper.make_node("Resize", ["b", "scales"], ["r"], name="resize"),
        helper.make_node("Add", ["sm", "r"], ["y"], name="add"),
    ]
    g = quiet_load(model(nodes, inits=[w, const("scales", [1, 1, 1, 1], np.float32)], opset=10))
    n = by_name(g)
    assert n["slice"].kind == Kind.WINDOW and n["slice"].pad_end == (0, -2)
    assert "unsq" not in n and "sq" not in n and "split:0" not in n and "resize" not in n
    rep = rfa_fast.analyze(g)
    assert rep.layer("softmax").global_context  # opset < 13: softmax over C, H and W
    assert rep.layer("add").fmap == (32, 30) and rep.layer("add").rf_max == (3.0, 3.0)


# -- sizes folded at one resolution (issue 17, item 7) --------------------------------


def _shuffle_model(spatial: Sequence[int | str]) -> onnx.ModelProto:
    """conv/2 -> conv/2 -> channel shuffle whose shapes come from ``Shape`` -> conv 3x3 -> global pool.

    The shuffle is ShuffleNet's ``[N, C, H, W] -> [N, 2, C/2, H, W] -> transpose -> [N, C, H, W]``
    with H and W read from the tensor at run time, as torch exports it with a dynamic input.
    """
    c1, w1 = conv("x", "a", "c1", 3, 8, strides=[2, 2], pads=[1, 1, 1, 1])
    c2, w2 = conv("a", "b", "c2", 8, 8, strides=[2, 2], pads=[1, 1, 1, 1])
    c3, w3 = conv("u", "v", "c3", 8, 8, pads=[1, 1, 1, 1])
    nodes = [
        c1,
        c2,
        helper.make_node("Shape", ["b"], ["shp"], name="shape"),
        helper.make_node("Slice", ["shp", "two", "four"], ["hw"], name="hw"),
        helper.make_node("Concat", ["head", "hw"], ["s5"], name="s5", axis=0),
        helper.make_node("Reshape", ["b", "s5"], ["r5"], name="split_groups"),
        helper.make_node("Transpose", ["r5"], ["t5"], name="swap", perm=[0, 2, 1, 3, 4]),
        helper.make_node("Concat", ["head4", "hw"], ["s4"], name="s4", axis=0),
        helper.make_node("Reshape", ["t5", "s4"], ["u"], name="join_groups"),
        c3,
        helper.make_node("GlobalAveragePool", ["v"], ["y"], name="gap"),
    ]
    inits = [w1, w2, w3, const("two", [2]), const("four", [4]), const("head", [1, 2, 4]), const("head4", [1, 8])]
    return model(nodes, inputs=[("x", (1, 3, *spatial))], inits=inits)


def test_shape_dependent_reshape_is_refolded_at_the_resolution_analyzed(tmp_path: object) -> None:
    """Loaded at 4 px the shuffle sees 1x1 maps and cannot tell where H and W go (the conv after it reads
    as global: I_max 7). Analyzed at 32 px that was the answer before; now the model is read at 32 px."""
    path = str(tmp_path) + "/shuffle.onnx"  # type: ignore[operator]
    onnx.save(_shuffle_model(["H", "W"]), path)
    exact = rfa_fast.analyze(load_onnx(path, resolution=32), 32).summary
    assert exact["i_max"] == [15.0, 15.0]  # 3 + 2*2 + 2*4: the last conv is spatial
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OnnxWarning)  # at 4 px the loader warns about the conv it cannot place
        g = load_onnx(path, resolution=4)
    assert g.folded_at == (4, 4) and set(g.size_nodes) == {"split_groups", "join_groups"}
    assert rfa_fast.analyze(g, 4).summary["i_max"] == [7.0, 7.0]  # at its own resolution: as loaded
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # re-folding is exact: no warning
        at32 = rfa_fast.analyze(g, 32)
        r = rfa_fast.screen([g], [4, 32])
    assert at32.summary["i_max"] == exact["i_max"] and at32.summary["i_min"] == exact["i_min"]
    alone32 = rfa_fast.screen([load_onnx(path, resolution=32)], 32)
    assert r.n_unproductive[0, 1] == alone32.n_unproductive[0, 0]
    assert r.macs[0, 1] == alone32.macs[0, 0] and r.macs[0, 0] != r.macs[0, 1]
    assert r.i_max[0] == 7.0  # the per-graph values are those of the first resolution, as analyze() gives


def test_fixed_resize_sizes_are_refolded_and_a_lost_model_is_a_warning(tmp_path: object) -> None:
    """A Resize to a fixed 16x16 after a stride-4 conv: an upsampling by 2 at 32 px, a downsampling by 2 at
    128 px. Read at 32 and analyzed at 128 it kept the factor 2; now it is read again at 128, and when the
    file is gone the answer is that of 32 px with a FoldedResolutionWarning saying what to pass."""
    c1, w1 = conv("x", "a", "c1", 3, 8, k=4, strides=[4, 4])
    c2, w2 = conv("r", "y", "c2", 8, 8, pads=[1, 1, 1, 1])
    resize = helper.make_node("Resize", ["a", "", "", "sizes"], ["r"], name="resize", mode="nearest")
    path = str(tmp_path) + "/resize.onnx"  # type: ignore[operator]
    onnx.save(
        model([c1, resize, c2], inputs=[("x", (1, 3, "H", "W"))], inits=[w1, w2, const("sizes", [1, 8, 16, 16])]), path
    )
    g = quiet_load(path, resolution=32)
    assert g.folded_at == (32, 32) and g.size_nodes == ("resize",)
    assert by_name(g)["resize"].scale == (2.0, 2.0)
    at128 = rfa_fast.analyze(g, 128)
    assert by_name(at128.graph)["resize"].scale == (0.5, 0.5)
    assert at128.summary["rf_max"] == rfa_fast.analyze(quiet_load(path, resolution=128)).summary["rf_max"]
    lost = quiet_load(path, resolution=32)
    import os

    os.remove(path)
    with pytest.warns(rfa_fast.FoldedResolutionWarning, match=r"folded at 32x32.*resolution=128"):
        stale = rfa_fast.analyze(lost, 128)
    assert by_name(stale.graph)["resize"].scale == (2.0, 2.0)


def test_static_models_and_shape_free_graphs_are_analyzed_as_loaded() -> None:
    """A static export's sizes are the model's: recorded, never re-read; a graph with nothing
    size-dependent records nothing."""
    static = quiet_load(_shuffle_model([32, 32]))
    assert static.folded_at == (32, 32) and not static.refold.dynamic
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert rfa_fast.analyze(static, 64).graph is static
    c1, w1 = conv("x", "y", "c1", 3, 8)
    plain = quiet_load(model([c1], inputs=[("x", (1, 3, "H", "W"))], inits=[w1]), resolution=16)
    assert plain.folded_at is None and plain.size_nodes == ()
