"""Refinement (Richter & Pal 2022) and trimming (Richter et al. 2021).

The hand-checked case is a VGG-like chain at 32 px whose fields are worked
out in the comments; the real models are the weightless torchvision exports
in ../shared/validation/onnx and the zoo graphs.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import onnx
import pytest
from cli_helpers import package_env
from deps import VALIDATION as VALIDATION_DIR
from deps import missing, needs_validation

import rfa_fast
from rfa_fast import GraphBatch, GraphBuilder, zoo
from rfa_fast.graph import _pack_nodes
from rfa_fast.onnx_edit import OnnxEdit, OnnxEditError, apply_edits, check_weightless, torch_module_path
from rfa_fast.refine import Suggestion, Suggestions
from rfa_fast.refine_candidates import Structure, apply_changes, candidates, edit_rows, tile_arrays

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VALIDATION = str(VALIDATION_DIR / "onnx")


def vgg3() -> rfa_fast.Graph:
    """Three VGG blocks (two 3x3 convs pad 1, a 2x2/2 max pool), global pool, dense.

    Fields by hand (r: receptive field, j: jump; a 3x3 conv adds 2j, a 2x2 pool adds j):
      conv1 3, conv1b 5, pool1 6 (j 2) | conv2 10, conv2b 14, pool2 16 (j 4) | conv3 24, conv3b 32, pool3 36 (j 8).
    A window v with input p is productive at I iff I > r(p) (rule (a) fails) and
    its input map is larger than its kernel (rule (b) fails; here the maps are
    I, I/2, I/4 and I/4 > 3 already at I = 16).  The last window decides:
    I_min = r(conv3b) + 1 = 33, and at 32 px pool3 is the one unproductive layer.
    """
    b = GraphBuilder("vgg3")
    x, c_in = b.input(), 3
    for i, c in enumerate((16, 32, 64), start=1):
        x = b.conv(x, 3, pad=1, c_in=c_in, c_out=c, name=f"conv{i}")
        x = b.conv(x, 3, pad=1, c_in=c, c_out=c, name=f"conv{i}b")
        x = b.pool(x, 2, name=f"pool{i}", op="maxpool")
        c_in = c
    x = b.global_pool(x, name="gap")
    b.dense(x, 64, 10, name="fc")
    return b.build()


def by_actions(sugs: list[Suggestion]) -> dict[tuple[str, ...], Suggestion]:
    return {s.actions: s for s in sugs}


# -- the hand-checked chain ----------------------------------------------------------


def test_vgg3_by_hand() -> None:
    g = vgg3()
    rep = rfa_fast.analyze(g, 32)
    assert rep.i_min == 33 and rep.unproductive == ["pool3"]
    sugs = rfa_fast.refine(g, 32, max_pairs=0)
    assert (sugs.i_min, sugs.n_unproductive) == (33, 1)
    single = by_actions(sugs)
    # remove pool3: the last window is conv3b, r(p) = r(conv3) = 24 -> I_min 25
    assert single[("remove pool 'pool3'",)].i_min == 25
    # remove pool2: conv3 18, conv3b 22 at j 2, pool3 24 (j 4) -> I_min = r(conv3b) + 1 = 23
    assert single[("remove pool 'pool2'",)].i_min == 23
    # remove pool1: conv2 7, conv2b 9, pool2 10 (j 2), conv3 14, conv3b 18, pool3 20 -> 19
    assert single[("remove pool 'pool1'",)].i_min == 19
    # pool1's stride moved to conv2: pool1 6 (j 1), conv2 8 (j 2), conv2b 12, pool2 14 (j 4),
    # conv3 22, conv3b 30, pool3 34 -> I_min 31, the closest below 32: the best suggestion
    best = sugs[0]
    assert best.actions == ("move the stride 2 of pool 'pool1' to conv 'conv2'",)
    assert (best.i_min, best.n_unproductive, best.rank) == (31, 0, 0)
    # the last pool's stride does not change any field: I_min stays 33
    assert single[("pool 'pool3': stride 2 -> 1",)].i_min == 33
    # the first strided layer is the stem, whatever it is
    assert single[("stem pool 'pool1': stride 2 -> 1",)].i_min == 20


def test_describe_text() -> None:
    s = rfa_fast.refine(vgg3(), 32)[0]
    assert s.describe() == (
        "move the stride 2 of pool 'pool1' to conv 'conv2'\n"
        "I_min 33 -> 31 px (I_res 32: at or below), unproductive layers at 32 px: 1 -> 0, "
        "MACs 9.88M -> 9.88M (+0%), params 72.5k (unchanged)"
    )
    assert [str(e) for e in s.edits] == ["pool 'pool1': stride 2 -> 1", "conv 'conv2': stride 1 -> 2"]
    removed = by_actions(rfa_fast.refine(vgg3(), 32, max_pairs=0))[("remove pool 'pool3'",)]
    assert [str(e) for e in removed.edits] == ["remove pool 'pool3'"]
    assert "still above" in rfa_fast.refine(vgg3(), 8)[-1].describe()
    assert "no edit is needed" in str(rfa_fast.refine(vgg3(), 64))


def test_ranking_order() -> None:
    for g, res in ((vgg3(), 32), (vgg3(), 12), (zoo.resnet50(), 64), (zoo.mobilenet_v2(), 64)):
        sugs = rfa_fast.refine(g, res)
        keys = []
        for s in sugs:
            gap = abs(res - s.i_min) if math.isfinite(s.i_min) else math.inf
            keys.append((s.i_min > res, gap, s.n_unproductive, s.macs))
        assert keys == sorted(keys)
        assert [s.rank for s in sugs] == list(range(len(sugs)))
        assert len(rfa_fast.refine(g, res, limit=3)) == min(3, len(sugs))


@pytest.mark.parametrize("make", [vgg3, zoo.resnet50, zoo.mobilenet_v2, zoo.vgg16, zoo.resnet18])
@pytest.mark.parametrize("res", [64, 224])
def test_every_suggestion_keeps_params_and_matches_its_graph(make, res) -> None:  # type: ignore[no-untyped-def]
    g = make()
    params = rfa_fast.analyze(g, res).summary["params"]
    sugs = rfa_fast.refine(g, res)
    assert sugs and all(s.params == params == sugs.params for s in sugs)
    # the refined graphs, packed the ordinary way, screen to the same numbers as the tiled batch did
    batch = GraphBatch.from_graphs([s.graph for s in sugs])
    r = rfa_fast.screen(batch, res)
    assert r.params.tolist() == [params] * len(sugs)
    assert r.i_min.tolist() == [s.i_min for s in sugs]
    assert r.n_unproductive[:, 0].tolist() == [s.n_unproductive for s in sugs]
    assert r.macs[:, 0].tolist() == [s.macs for s in sugs]
    assert r.aligned.all()


def test_tiled_batch_equals_packed_graphs() -> None:
    g = zoo.resnet18()
    s = Structure(g, rfa_fast.analyze(g, 64).raw)
    cands, _ = candidates(s, 50)
    arrays = tile_arrays(g.to_arrays(), len(cands))
    for b, c in enumerate(cands):
        for ch in c.changes:
            edit_rows(arrays, b * len(g) + ch.index, ch)
    packed = _pack_nodes([apply_changes(g, c.changes) for c in cands])
    for k, v in packed.items():
        np.testing.assert_array_equal(arrays[k], v, err_msg=k)
        assert arrays[k].dtype == v.dtype, k


def test_residual_groups_move_together() -> None:
    sugs = rfa_fast.refine(zoo.resnet50(), 64)
    for s in sugs:
        nodes = {e.node for e in s.edits}
        for stage in ("layer2.0", "layer3.0", "layer4.0"):
            # a block's strided conv changes with its shortcut, or moves inside its own branch
            if f"{stage}.downsample.0" in nodes:
                assert f"{stage}.conv2" in nodes
        assert rfa_fast.analyze(s.graph, 64).summary["aligned"]
    assert sugs.dropped["misaligned"] > 0
    assert sugs[0].actions == (
        "conv 'layer4.0.conv2' and conv 'layer4.0.downsample.0': stride 2 -> 1 (parallel branches of merge 'layer4.0')",
    )
    assert (sugs[0].i_min, sugs[0].n_unproductive_before, sugs[0].n_unproductive) == (49, 4, 0)


def test_parallel_pool_and_conv_branches() -> None:
    """A reduction block like NAS-Bench-201's: 3x3/2 conv -> 3x3 conv, shortcut avg pool /2 -> 1x1 conv.

    (A 3x3/2 pool with pad 1, so that both branches are centered alike: NAS-Bench-201's
    2x2/2 pool is half a pixel off, and a graph misaligned to begin with keeps every candidate.)
    """
    b = GraphBuilder("reduction")
    x = b.conv(b.input(), 3, pad=1, c_in=3, c_out=16, name="stem")
    y = b.conv(x, 3, 2, pad=1, c_in=16, c_out=32, name="a")
    y = b.conv(y, 3, pad=1, c_in=32, c_out=32, name="b")
    z = b.pool(x, 3, 2, pad=1, name="short_pool", op="avgpool")
    z = b.conv(z, 1, c_in=16, c_out=32, name="short_conv")
    x = b.add(y, z, name="add")
    x = b.conv(x, 3, pad=1, c_in=32, c_out=32, name="c")
    b.global_pool(x)
    g = b.build()
    assert rfa_fast.analyze(g, 8).summary["aligned"]
    sugs = rfa_fast.refine(g, 8, max_pairs=0)
    assert sorted(s.actions[0] for s in sugs) == [
        "conv 'a' and pool 'short_pool': stride 2 -> 1 (parallel branches of merge 'add')",
        "conv 'a': stride 2 -> 1, remove pool 'short_pool' (parallel branches of merge 'add')",
        "move the stride 2 of conv 'a' and pool 'short_pool' (parallel branches of merge 'add') to conv 'c'",
        "move the stride 2 of conv 'a' to conv 'b'",
        "move the stride 2 of pool 'short_pool' to conv 'short_conv'",
    ]  # one branch's stride alone would misalign the addition: never proposed
    assert sugs.dropped["misaligned"] == 5


def test_flatten_head_without_adaptive_pool_keeps_its_input() -> None:
    # zoo.vgg16's classifier.0 reads 512x7x7 features: edits that change that map would change its weights
    sugs = rfa_fast.refine(zoo.vgg16(), 64)
    assert sugs.dropped["head"] > 0
    for s in sugs[:20]:
        assert rfa_fast.analyze(s.graph, 224).layer("features.30").fmap == (7, 7)
    assert all(a.startswith("move the stride") for s in sugs for a in s.actions)


def test_bad_arguments() -> None:
    with pytest.raises(rfa_fast.ResolutionError):
        rfa_fast.refine(vgg3(), (32, 32))  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        rfa_fast.refine(vgg3(), 32, max_pairs=-1)
    b = GraphBuilder("flat")
    b.conv(b.input(), 3, pad=1)
    sugs = rfa_fast.refine(b.build(), 8)
    assert isinstance(sugs, Suggestions) and len(sugs) == 0 and sugs.n_candidates == 0


# -- ONNX -----------------------------------------------------------------------------


def _external_refs(model: onnx.ModelProto) -> list[tuple[str, int, tuple[tuple[str, str], ...]]]:
    return [
        (t.name, t.data_location, tuple((e.key, e.value) for e in t.external_data)) for t in model.graph.initializer
    ]


@needs_validation
@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "vgg16"])
@pytest.mark.parametrize("res", [224, 64])
def test_apply_onnx_validation_models(name: str, res: int, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = os.path.join(VALIDATION, f"{name}.graph.onnx")
    g = rfa_fast.load_onnx(path)
    sugs = rfa_fast.refine(g, res)
    best = sugs[0]
    if res == 64:
        assert best.i_min <= 64 and best.n_unproductive == 0 < best.n_unproductive_before
    if name == "vgg16" and res == 64:
        # the head's pool is re-frozen for the nominal 224 px: at 64 px the classifier's input no
        # longer fits, so the refined file could not run at 64 px (tests/test_refine_apply.py)
        assert best.applicable is False and best.why_not is not None and "classifier.0/Gemm" in best.why_not
        return
    assert best.applicable is True
    out = tmp_path / f"{name}_refined.onnx"
    model = best.apply_onnx(path, out, verify=False)
    written = onnx.load(str(out), load_external_data=False)
    check_weightless(written, str(out))  # onnx.checker + strict shape inference, without the weights
    original = onnx.load(path, load_external_data=False)
    assert _external_refs(written) == _external_refs(original)  # weightless: references untouched
    assert [n.output for n in written.graph.node] == [n.output for n in original.graph.node]  # nothing to rewrite
    assert [d.dim_value for d in written.graph.input[0].type.tensor_type.shape.dim] == [1, 3, res, res]
    again = rfa_fast.analyze(rfa_fast.load_onnx(str(out)), res)
    assert again.i_min == best.i_min
    assert again.summary["n_unproductive"] == best.n_unproductive
    assert again.summary["params"] == best.params
    assert model.graph.node[0].name == original.graph.node[0].name


@needs_validation
def test_apply_onnx_edits_in_detail() -> None:
    path = os.path.join(VALIDATION, "vgg16.graph.onnx")
    best = rfa_fast.refine(rfa_fast.load_onnx(path), 64)[0]
    # VGG16's adaptive pool was exported at 224 px as a 1x1 AveragePool; with two pools
    # removed it is re-frozen as a 4x4/4 pool so Flatten -> Gemm still gets 512x7x7
    assert [str(e) for e in best.edits] == [
        "remove pool '/features/features.4/MaxPool'",
        "remove pool '/features/features.9/MaxPool'",
        "pool '/avgpool/AveragePool': kernel 1 -> 4, stride 1 -> 4",
    ]
    assert best.actions[-1].endswith("the head keeps its 7x7 input)")
    model = apply_edits(path, [e.to_onnx() for e in best.edits])  # at the nominal 224 px, where the head fits
    nodes = {n.name: n for n in model.graph.node}
    pool = nodes["/features/features.4/MaxPool"]
    assert (pool.op_type, list(pool.input), list(pool.output), list(pool.attribute)) == (
        "Identity", ["/features/features.3/Relu_output_0"], ["/features/features.4/MaxPool_output_0"], [],
    )  # fmt: skip
    attrs = {a.name: list(a.ints) for a in nodes["/avgpool/AveragePool"].attribute}
    assert attrs["kernel_shape"] == [4, 4] and attrs["strides"] == [4, 4]
    # without the re-frozen pool the classifier no longer fits: a clear error
    with pytest.raises(OnnxEditError, match="classifier.0/Gemm"):
        apply_edits(path, [e.to_onnx() for e in best.edits[:2]])


@needs_validation
def test_apply_onnx_stride_attributes_and_input_untouched() -> None:
    path = os.path.join(VALIDATION, "resnet50.graph.onnx")
    original = onnx.load(path, load_external_data=False)
    snapshot = original.SerializeToString()
    best = rfa_fast.refine(rfa_fast.load_onnx(path), 64)[0]
    model = best.apply_onnx(original)
    assert original.SerializeToString() == snapshot  # the caller's model is not modified
    nodes = {n.name: n for n in model.graph.node}
    before = {n.name: n for n in original.graph.node}
    for name in ("/layer4/layer4.0/conv2/Conv", "/layer4/layer4.0/downsample/downsample.0/Conv"):
        attrs = {a.name: list(a.ints) for a in nodes[name].attribute}
        old = {a.name: list(a.ints) for a in before[name].attribute}
        assert old["strides"] == [2, 2] and attrs["strides"] == [1, 1]
        assert attrs["pads"] == old["pads"] and attrs["kernel_shape"] == old["kernel_shape"]  # pads stay


@needs_validation
def test_zoo_suggestion_applies_to_the_torch_export() -> None:
    # zoo names are PyTorch module paths; torch.onnx.export names the node /layer4/layer4.0/conv2/Conv
    assert torch_module_path("/layer4/layer4.0/downsample/downsample.0/Conv") == "layer4.0.downsample.0"
    path = os.path.join(VALIDATION, "resnet50.graph.onnx")
    best = rfa_fast.refine(zoo.resnet50(), 64)[0]
    model = best.apply_onnx(path)  # verify: reloads with the predicted I_min
    assert rfa_fast.analyze(rfa_fast.load_onnx(model), 64).i_min == best.i_min == 49
    # a zoo graph that is not the exported model: verification says so
    vgg = rfa_fast.refine(zoo.vgg16(), 224)[0]
    with pytest.raises(OnnxEditError, match="predicted"):
        vgg.apply_onnx(os.path.join(VALIDATION, "vgg16.graph.onnx"))


@needs_validation
def test_apply_onnx_errors() -> None:
    path = os.path.join(VALIDATION, "resnet50.graph.onnx")
    with pytest.raises(OnnxEditError, match="no node named 'nope'"):
        apply_edits(path, [OnnxEdit("nope", "Conv", stride=(1, 1))])
    with pytest.raises(OnnxEditError, match="not a convolution or pooling"):
        apply_edits(path, [OnnxEdit("/layer1/layer1.0/Add", "Add", stride=(1, 1))])
    with pytest.raises(OnnxEditError, match="only pools"):
        apply_edits(path, [OnnxEdit("/conv1/Conv", "Conv", remove=True)])
    with pytest.raises(OnnxEditError, match="no such file"):
        apply_edits(os.path.join(VALIDATION, "missing.onnx"), [])
    # the stride of one branch alone: the residual addition's shapes no longer match
    with pytest.raises(OnnxEditError, match="invalid"):
        apply_edits(path, [OnnxEdit("/layer2/layer2.0/conv2/Conv", "Conv", stride=(1, 1))])


@needs_validation
def test_apply_onnx_channel_shuffle_follows_the_maps() -> None:
    # ShuffleNet's channel shuffle was exported as Reshape to [1, 2, 58, 28, 28]: the written model
    # computes that target from Shape again (tests/test_refine_apply.py runs it in onnxruntime)
    path = os.path.join(VALIDATION, "shufflenet_v2_x1_0.graph.onnx")
    best = rfa_fast.refine(rfa_fast.load_onnx(path), 64)[0]
    assert best.applicable is True, best.why_not
    model = best.apply_onnx(path)  # verify: reloads with the predicted I_min
    nodes = {n.name: n for n in model.graph.node}
    target = nodes["/stage2/stage2.0/Reshape"].input[1]
    assert next(n for n in model.graph.node if target in n.output).op_type == "Concat"
    # a stale target is still caught when nothing rewrites it
    with pytest.raises(OnnxEditError, match=r"Reshape '/stage2/stage2.0/Reshape' turns a 1x116x56x56 tensor"):
        check_weightless(_stale(path, best), path)


def _stale(path: str, best: Suggestion) -> onnx.ModelProto:
    """The edits written without recomputing the baked shape constants (the old behaviour)."""
    model = onnx.load(path, load_external_data=False)
    for e in best.edits:
        node = next(n for n in model.graph.node if n.name == e.node)
        for a in node.attribute:
            if a.name == "strides":
                del a.ints[:]
                a.ints.extend(e.stride[1])
    return model


@needs_validation
def test_apply_onnx_embedded_weights(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = os.path.join(VALIDATION, "mobilenet_v2.onnx")
    if not os.path.exists(path):
        missing(f"{path} (the embedded-weights MobileNetV2 of the validation corpus) is absent")
    best = rfa_fast.refine(rfa_fast.load_onnx(path), 64)[0]
    out = tmp_path / "m.onnx"
    best.apply_onnx(path, out)
    written = onnx.load(str(out))
    assert sum(len(t.raw_data) for t in written.graph.initializer) > 10_000_000  # the weights came along
    onnx.checker.check_model(written)


# -- trimming ---------------------------------------------------------------------------


def test_trim_vgg16_at_32() -> None:
    g = zoo.vgg16()
    rep = rfa_fast.analyze(g, 32)
    t = rfa_fast.trim(g, 32)
    assert list(t.removed) == rep.unproductive  # exactly the layers past the border
    assert t.macs_saved == rep.summary["macs_unproductive"]
    assert t.params_saved == sum(la.params for la in rep.layers if la.name in rep.unproductive)
    assert t.n_unproductive_before == rep.summary["n_unproductive"] == 10
    assert t.n_unproductive_after == 0 and not t.kept
    assert len(t.graph) == len(g) - 10 and t.report.summary["n_unproductive"] == 0
    assert t.describe().splitlines()[1] == (
        "saves 160M of 437M MACs (37%) and 13.6M of 138M params; unproductive layers at 32 px: 10 -> 0"
    )


@needs_validation
def test_trim_onnx_vgg16_at_32() -> None:
    g = rfa_fast.load_onnx(os.path.join(VALIDATION, "vgg16.graph.onnx"))
    rep = rfa_fast.analyze(g, 32)
    t = rfa_fast.trim(g, 32)
    assert list(t.removed) == rep.unproductive and t.macs_saved == rep.summary["macs_unproductive"]
    assert t.n_unproductive_after == 0


def test_trim_residual_blocks_collapse_to_their_shortcut() -> None:
    t = rfa_fast.trim(zoo.resnet18(), 32)
    assert t.collapsed == ("layer3.1", "layer4.0", "layer4.1")
    assert "layer4.0.downsample.0" not in t.removed  # the shortcut stays, with the stage's stride
    assert t.kept == (("layer3.0.conv2", "inside block 'layer3.0', whose branch also has productive layers"),)
    assert t.n_unproductive_after == 1
    names = [n.name for n in t.graph.nodes]
    fc_input = t.graph.nodes[t.graph.nodes[names.index("avgpool")].inputs[0]].name
    assert fc_input == "layer4.0.downsample.0"  # layer4 collapsed to its shortcut conv
    assert rfa_fast.analyze(t.graph, 32).summary["aligned"]


def test_trim_keeps_strided_layers_in_front_of_kept_ones() -> None:
    # with ignore_1x1 the 1x1 projections stay, so the strided depthwise conv before one must stay too
    t = rfa_fast.trim(zoo.mobilenet_v2(), 32, ignore_1x1=True)
    assert ("features.14.conv.dw", "changes the feature-map size, and layers after it stay") in t.kept
    assert t.macs_saved > 0 and t.n_unproductive_after == len(t.kept)


def test_trim_nothing_to_trim() -> None:
    t = rfa_fast.trim(vgg3(), 64)
    assert t.removed == () and t.macs_saved == 0 and t.n_unproductive_after == 0
    with pytest.raises(rfa_fast.ResolutionError):
        rfa_fast.trim(vgg3(), 32.0)  # type: ignore[arg-type]


# -- the example -----------------------------------------------------------------------


def test_example_refine_resnet() -> None:
    env = package_env()  # the rfa_fast the tests import, not the bare source tree
    out = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "refine_resnet.py"), "--top", "2"],
        capture_output=True, text=True, env=env, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "at 64 px: I_min 97, 4 unproductive" in out
    assert "layer4.0/conv2/Conv' and conv '" in out or "layer4.0.conv2' and conv '" in out
    assert "I_min 97 -> 49 px (I_res 64: at or below), unproductive layers at 64 px: 4 -> 0" in out
    if os.path.isdir(VALIDATION):
        assert "refined ONNX written and reloaded: I_min 49 px (predicted 49)" in out
