"""Writing refinements into ONNX (issue 14): applicability, shape constants, input size, external weights.

Every refined model is run with onnxruntime at the training resolution it was
refined for, with stub weights filled in (the validation exports are
weightless).  The hand-made graphs reproduce what ``torch.onnx.export``
writes for ShuffleNet's channel shuffle (a Reshape to a constant target) and
for DeepLabV3's and LR-ASPP's heads (a Resize whose ``sizes`` end in a fixed
spatial size).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from cli_helpers import run
from deps import VALIDATION as VALIDATION_DIR
from deps import import_or_skip, needs_validation
from onnx import TensorProto, helper, numpy_helper

import rfa_fast
from rfa_fast.onnx_edit import OnnxEdit, OnnxEditError, apply_edits, follow_shapes

VALIDATION = VALIDATION_DIR / "onnx"


def ort_run(model: onnx.ModelProto, size: int, base_dir: str | None = None) -> list[np.ndarray]:
    """Run ``model`` in onnxruntime on a 1x3xSxS input, stub weights (0.01) for missing external ones.

    Also passes the model through the full ``onnx.checker``.
    """
    ort = import_or_skip("onnxruntime", "onnxruntime runs the refined models (pip install -e '.[test]')")
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for t in m.graph.initializer:
        if t.data_location == TensorProto.EXTERNAL:
            loc = next(e.value for e in t.external_data if e.key == "location")
            if base_dir is not None and os.path.isfile(os.path.join(base_dir, loc)):
                continue
            dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
            t.CopyFrom(numpy_helper.from_array(np.full(tuple(t.dims), 0.01, dtype=dtype), t.name))
    if base_dir is None:
        onnx.checker.check_model(m, full_check=True)
        data = m.SerializeToString()
        sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    else:
        path = os.path.join(base_dir, "_stubbed.onnx")
        with open(path, "wb") as f:
            f.write(m.SerializeToString())
        onnx.checker.check_model(path, full_check=True)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).random((1, 3, size, size), dtype=np.float32)
    return sess.run(None, {sess.get_inputs()[0].name: x})


def input_dims(model: onnx.ModelProto) -> list[int]:
    return [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]


def _conv(name: str, x: str, c_in: int, c_out: int, stride: int, inits: list[onnx.TensorProto]) -> onnx.NodeProto:
    w = numpy_helper.from_array(np.full((c_out, c_in, 3, 3), 0.01, np.float32), f"{name}.w")
    inits.append(w)
    return helper.make_node("Conv", [x, w.name], [f"{name}_out"], name=name, kernel_shape=[3, 3], pads=[1] * 4,
                            strides=[stride, stride])  # fmt: skip


def _const(name: str, values: list[int]) -> onnx.NodeProto:
    t = numpy_helper.from_array(np.array(values, dtype=np.int64))
    return helper.make_node("Constant", [], [name], name=name, value=t)


def shuffle_net(size: int = 32) -> onnx.ModelProto:
    """conv 3x3/2 -> channel shuffle exported at ``size`` px -> conv 3x3/2 -> global pool.

    The shuffle is what ``torch.onnx.export`` writes for
    ``x.view(b, 2, c // 2, h, w).transpose(1, 2).reshape(b, c, h, w)`` at a
    fixed input size: both Reshape targets are constants with h, w baked in.
    """
    h = size // 2
    inits: list[onnx.TensorProto] = []
    nodes = [
        _conv("conv1", "x", 3, 8, 2, inits),
        _const("shape1", [1, 2, 4, h, h]),
        helper.make_node("Reshape", ["conv1_out", "shape1"], ["r1"], name="shuffle/Reshape"),
        helper.make_node("Transpose", ["r1"], ["t1"], name="shuffle/Transpose", perm=[0, 2, 1, 3, 4]),
        _const("shape2", [1, 8, h, h]),
        helper.make_node("Reshape", ["t1", "shape2"], ["r2"], name="shuffle/Reshape_1"),
        _conv("conv2", "r2", 8, 8, 2, inits),
        helper.make_node("GlobalAveragePool", ["conv2_out"], ["y"], name="gap"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 1, 1])
    graph = helper.make_graph(nodes, "shuffle", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def seg_net(size: int = 32) -> onnx.ModelProto:
    """A DeepLab-like head exported at ``size`` px: Resizes whose target sizes end in baked constants.

    conv 3x3/2, conv 3x3/2 (the features f); an image-pooling branch (global
    pool, Resize back to f's size: ``Concat(Shape(p)[:2], [h, h])``, as
    ASPPPooling exports); Concat with f; a 3x3 conv; a Resize to the input's
    size (``Concat(Shape(z)[:2], [size, size])``, as the segmentation
    model's ``F.interpolate(x, size=input_shape)`` exports).
    """
    h = size // 4
    inits: list[onnx.TensorProto] = []
    nodes = [
        _conv("conv1", "x", 3, 4, 2, inits),
        _conv("conv2", "conv1_out", 4, 4, 2, inits),
        helper.make_node("GlobalAveragePool", ["conv2_out"], ["p"], name="aspp/pool"),
        helper.make_node("Shape", ["p"], ["p_shape"], name="aspp/Shape"),
        _const("zero", [0]),
        _const("two", [2]),
        helper.make_node("Slice", ["p_shape", "zero", "two"], ["p_nc"], name="aspp/Slice"),
        _const("aspp_hw", [h, h]),
        helper.make_node("Concat", ["p_nc", "aspp_hw"], ["p_sizes"], name="aspp/Concat", axis=0),
        helper.make_node("Resize", ["p", "", "", "p_sizes"], ["p_up"], name="aspp/Resize", mode="linear"),
        helper.make_node("Concat", ["conv2_out", "p_up"], ["cat"], name="cat", axis=1),
        _conv("head", "cat", 8, 3, 1, inits),
        helper.make_node("Shape", ["head_out"], ["z_shape"], name="Shape"),
        helper.make_node("Slice", ["z_shape", "zero", "two"], ["z_nc"], name="Slice"),
        _const("out_hw", [size, size]),
        helper.make_node("Concat", ["z_nc", "out_hw"], ["z_sizes"], name="Concat", axis=0),
        helper.make_node("Resize", ["head_out", "", "", "z_sizes"], ["y"], name="Resize", mode="linear"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, size, size])
    graph = helper.make_graph(nodes, "seg", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# -- baked shape constants ------------------------------------------------------------


def test_channel_shuffle_reshape_follows_the_feature_map() -> None:
    edits = [OnnxEdit("conv1", "Conv", stride=(1, 1))]
    # the stale constant target is what made ShuffleNet refuse every edit
    with pytest.raises(OnnxEditError, match="Reshape 'shuffle/Reshape' turns a 1x8x32x32 tensor"):
        _apply_without_follow(shuffle_net(32), edits, 32)
    refined = apply_edits(shuffle_net(32), edits, resolution=32)
    assert ort_run(refined, 32)[0].shape == (1, 8, 1, 1)


def test_follow_shapes_rewrites_only_what_depends_on_the_map() -> None:
    from rfa_fast.onnx_edit import _ShapesBefore

    model = shuffle_net(32)
    before = _ShapesBefore(model)
    assert before.get("r1") == [1, 2, 4, 16, 16] and before.get("t1") == [1, 4, 2, 16, 16]
    assert follow_shapes(model, before) == 2
    reshapes = [n for n in model.graph.node if n.op_type == "Reshape"]
    assert [n.input[1] for n in reshapes] != ["shape1", "shape2"]  # targets now computed
    assert {n.op_type for n in model.graph.node} >= {"Shape", "Slice", "Concat"}
    # at the exported size the computed targets are the constants they replace
    out = ort_run(model, 32)
    assert out[0].shape == (1, 8, 1, 1)
    # and at another size they follow it (the constants would fail there)
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_value = 16
    model.graph.input[0].type.tensor_type.shape.dim[3].dim_value = 16
    assert ort_run(model, 16)[0].shape == (1, 8, 1, 1)


@pytest.mark.parametrize("res", [32, 16])
def test_shuffle_suggestions_are_applicable_and_run_at_r(res: int) -> None:
    model = shuffle_net(32)
    sugs = rfa_fast.refine(rfa_fast.load_onnx(model), res)
    assert len(sugs) > 0
    for s in sugs:
        assert s.applicable is True, s.why_not
        refined = s.apply_onnx(model)
        assert input_dims(refined) == [1, 3, res, res]
        assert ort_run(refined, res)[0].shape == (1, 8, 1, 1)


@pytest.mark.parametrize("res", [32, 16, 8])
def test_segmentation_head_resizes_follow_the_maps(res: int) -> None:
    model = seg_net(32)
    sugs = rfa_fast.refine(rfa_fast.load_onnx(model), res)
    assert len(sugs) > 0
    for s in sugs:
        assert s.applicable is True, s.why_not
        refined = s.apply_onnx(model)
        # the output is resized to the input's size, as the model does at run time
        assert ort_run(refined, res)[0].shape == (1, 3, res, res)
        out_dims = [d.dim_value for d in refined.graph.output[0].type.tensor_type.shape.dim]
        assert out_dims == [1, 3, res, res]


def test_segmentation_head_without_the_rewrite_fails() -> None:
    # conv1 at stride 1: the features are 16x16 at 32 px, the baked pooling-branch size 8x8
    edits = [OnnxEdit("conv1", "Conv", stride=(1, 1))]
    with pytest.raises(OnnxEditError, match="cat"):
        _apply_without_follow(seg_net(32), edits, 32)
    refined = apply_edits(seg_net(32), edits, resolution=32)
    assert ort_run(refined, 32)[0].shape == (1, 3, 32, 32)


def _apply_without_follow(model: onnx.ModelProto, edits: list[OnnxEdit], res: int) -> onnx.ModelProto:
    import rfa_fast.onnx_edit as oe

    saved = oe.follow_shapes
    oe.follow_shapes = lambda model, before: 0  # type: ignore[assignment]
    try:
        return apply_edits(model, edits, resolution=res)
    finally:
        oe.follow_shapes = saved


def test_untraceable_reshape_is_not_applicable() -> None:
    # a Reshape that regroups spatial axes with others (4x32 -> 8x16: many to many) cannot be traced:
    # the suggestion says so before anyone writes a file, naming the node
    model = shuffle_net(32)
    for n in model.graph.node:
        if n.name == "shape2":
            n.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array([1, 4, 32, 16], dtype=np.int64)))
        if n.name == "conv2":
            n.input[0] = "r2b"
    extra = [_const("shape3", [1, 8, 16, 16]), helper.make_node("Reshape", ["r2", "shape3"], ["r2b"], name="back")]
    nodes = list(model.graph.node)
    at = next(i for i, n in enumerate(nodes) if n.name == "conv2")
    del model.graph.node[:]
    model.graph.node.extend(nodes[:at] + extra + nodes[at:])
    onnx.checker.check_model(model, full_check=True)
    s = rfa_fast.refine(rfa_fast.load_onnx(model), 16)[0]
    assert s.applicable is False
    assert s.why_not is not None and "Reshape 'back' turns a 1x4x16x8 tensor" in s.why_not
    assert "ONNX: not applicable: " in s.describe()
    with pytest.raises(OnnxEditError, match="Reshape 'back'"):
        s.apply_onnx(model)


def test_applicable_is_none_without_an_onnx_model() -> None:
    b = rfa_fast.GraphBuilder("net")
    x = b.conv(b.input(), 3, 2, pad=1, c_in=3, c_out=8, name="stem")
    b.conv(x, 3, pad=1, c_in=8, c_out=8, name="conv")
    s = rfa_fast.refine(b.build(), 4)[0]
    assert s.source is None and s.applicable is None and s.why_not is None
    assert "ONNX" not in s.describe()


# -- input size and external weights ----------------------------------------------------


def _external_model(tmp: Path) -> Path:
    model = shuffle_net(32)
    path = tmp / "src" / "net.onnx"
    path.parent.mkdir()
    onnx.save(model, str(path), save_as_external_data=True, location="net.weights", size_threshold=0)
    return path


def test_external_weights_follow_the_output(tmp_path: Path) -> None:
    src = _external_model(tmp_path)
    s = rfa_fast.refine(rfa_fast.load_onnx(str(src)), 16)[0]
    assert s.applicable is True
    out = tmp_path / "elsewhere" / "refined.onnx"
    out.parent.mkdir()
    s.apply_onnx(str(src), out)
    written = onnx.load(str(out), load_external_data=False)
    locations = {e.value for t in written.graph.initializer for e in t.external_data if e.key == "location"}
    assert locations == {"refined.onnx.data"}
    assert (out.parent / "refined.onnx.data").read_bytes() == (src.parent / "net.weights").read_bytes()
    assert input_dims(written) == [1, 3, 16, 16]
    # onnx loads the weights from the output's directory, and onnxruntime runs the file at 16 px
    full = onnx.load(str(out))
    assert all(t.data_location != TensorProto.EXTERNAL for t in full.graph.initializer)
    ort = import_or_skip("onnxruntime", "onnxruntime runs the refined models")
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    y = sess.run(None, {"x": np.ones((1, 3, 16, 16), np.float32)})[0]
    assert y.shape == (1, 8, 1, 1) and np.isfinite(y).all()
    # written next to the source, the references stay as they are (nothing copied)
    s.apply_onnx(str(src), src.parent / "refined.onnx")
    same = onnx.load(str(src.parent / "refined.onnx"), load_external_data=False)
    assert {e.value for t in same.graph.initializer for e in t.external_data if e.key == "location"} == {"net.weights"}
    assert not (src.parent / "refined.onnx.data").exists()


def test_cli_apply_writes_a_model_that_runs_at_r(tmp_path: Path) -> None:
    src = _external_model(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    res = run("refine", str(src), "-r", "16", "--top", "2", "--apply", "1", "-o", "r.onnx", cwd=out_dir).stdout
    assert res.count("ONNX: applicable") == 2
    assert "applied suggestion 1: wrote r.onnx" in res
    ort = import_or_skip("onnxruntime", "onnxruntime runs the refined models")
    sess = ort.InferenceSession(str(out_dir / "r.onnx"), providers=["CPUExecutionProvider"])
    assert sess.run(None, {"x": np.ones((1, 3, 16, 16), np.float32)})[0].shape == (1, 8, 1, 1)


# -- validation models ---------------------------------------------------------------------


@needs_validation
@pytest.mark.parametrize(
    ("name", "res"),
    [("shufflenet_v2_x1_0", 64), ("shufflenet_v2_x1_0", 32), ("resnet18", 32), ("mobilenet_v3_small", 64),
     ("googlenet", 32), ("inception_v3", 64)],
)  # fmt: skip
def test_validation_models_run_at_r(name: str, res: int) -> None:
    path = str(VALIDATION / f"{name}.graph.onnx")
    sugs = rfa_fast.refine(rfa_fast.load_onnx(path), res)
    for s in sugs[:2]:
        assert s.applicable is True, s.why_not
        refined = s.apply_onnx(path)
        assert input_dims(refined)[2:] == [res, res]
        assert ort_run(refined, res)[0].shape == (1, 1000)


@needs_validation
def test_flatten_head_at_another_resolution_is_not_applicable() -> None:
    # AlexNet's adaptive pool was frozen for 224 px: at 64 px the classifier's input no longer fits,
    # and the suggestion says so (the refined file could not run at 64 px)
    path = str(VALIDATION / "alexnet.graph.onnx")
    s = rfa_fast.refine(rfa_fast.load_onnx(path), 64)[0]
    assert s.applicable is False
    assert s.why_not is not None and "/classifier/classifier.1/Gemm" in s.why_not
    with pytest.raises(OnnxEditError, match="Gemm"):
        s.apply_onnx(path)
