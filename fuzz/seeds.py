"""Seed corpora for the three fuzz targets, written into a directory.

    python fuzz/seeds.py OUT_DIR     # makes OUT_DIR/onnx, OUT_DIR/specs, OUT_DIR/core

- onnx: the validation exports (``shared/validation/onnx/*.graph.onnx``:
  graph-only exports of real torchvision models, found beside the repo or
  through ``RFA_VALIDATION_ONNX``), the fixtures in ``tests/data`` and small
  models made here with ``onnx.helper``, one per op family the loader
  handles (so the mutator starts from every handler, not only from Convs).
- specs: JSON spec lists: every zoo model as a spec, and small specs with
  every layer kind and option.
- core: a few byte strings; the decoder turns any bytes into arrays.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.append(ROOT)  # a fallback: an installed rfa_fast (with its compiled core) comes first

F = TensorProto.FLOAT


def validation_dir() -> str | None:
    for d in (os.environ.get("RFA_VALIDATION_ONNX"), os.path.join(ROOT, "..", "shared", "validation", "onnx")):
        if d and os.path.isdir(d):
            return d
    return None


def _w(name: str, dims: list[int]) -> onnx.TensorProto:
    # Zero-filled weights: the loader reads only the dims.
    return helper.make_tensor(name, F, dims, np.zeros(int(np.prod(dims)), np.float32).tolist())


def _ints(name: str, vals: list[int]) -> onnx.TensorProto:
    return helper.make_tensor(name, TensorProto.INT64, [len(vals)], vals)


def _model(nodes: list, inits: list, shape: list, name: str, opset: int = 17) -> bytes:
    x = helper.make_tensor_value_info("x", F, shape)
    y = helper.make_tensor_value_info(nodes[-1].output[0], F, None)
    g = helper.make_graph(nodes, name, [x], [y], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString()


def helper_models() -> dict[str, bytes]:
    n = helper.make_node
    m: dict[str, bytes] = {}
    m["conv_chain"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
            n("Relu", ["a"], ["b"]),
            n("MaxPool", ["b"], ["c"], kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1),
            n("Conv", ["c", "w2"], ["d"], kernel_shape=[3, 3], dilations=[2, 2], auto_pad="SAME_UPPER"),
            n("GlobalAveragePool", ["d"], ["e"]),
            n("Flatten", ["e"], ["f"]),
            n("Gemm", ["f", "wf"], ["y"], transB=1),
        ],
        [_w("w1", [8, 3, 3, 3]), _w("w2", [8, 8, 3, 3]), _w("wf", [10, 8])],
        [1, 3, 32, 32],
        "conv_chain",
    )
    m["residual"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
            n("Conv", ["a", "w2"], ["b"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=2),
            n("Add", ["a", "b"], ["c"]),
            n("Concat", ["c", "a"], ["d"], axis=1),
            n("AveragePool", ["d"], ["y"], kernel_shape=[2, 2], strides=[2, 2], count_include_pad=1),
        ],
        [_w("w1", [4, 3, 3, 3]), _w("w2", [4, 2, 3, 3])],
        [1, 3, 16, 16],
        "residual",
    )
    m["decoder"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
            n(
                "ConvTranspose",
                ["a", "wt"],
                ["b"],
                kernel_shape=[4, 4],
                strides=[2, 2],
                pads=[1, 1, 1, 1],
                output_padding=[0, 0],
            ),  # fmt: skip
            n("Resize", ["b", "", "scales"], ["c"], mode="linear"),
            n("Pad", ["c", "pads"], ["d"], mode="constant"),
            n("Conv", ["d", "w2"], ["y"], kernel_shape=[3, 3]),
        ],
        [
            _w("w1", [4, 3, 3, 3]),
            _w("wt", [4, 4, 4, 4]),
            _w("w2", [2, 4, 3, 3]),
            helper.make_tensor("scales", F, [4], [1.0, 1.0, 2.0, 2.0]),
            _ints("pads", [0, 0, 1, 1, 0, 0, 1, 1]),
        ],  # fmt: skip
        [1, 3, 16, 16],
        "decoder",
    )
    m["reshapes"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[1, 1]),
            n("Reshape", ["a", "shape1"], ["b"]),
            n("Transpose", ["b"], ["c"], perm=[0, 2, 1, 3, 4]),
            n("Reshape", ["c", "shape2"], ["d"]),
            n("SpaceToDepth", ["d"], ["e"], blocksize=2),
            n("DepthToSpace", ["e"], ["f"], blocksize=2),
            n("Slice", ["f", "starts", "ends", "axes"], ["g"]),
            n("Softmax", ["g"], ["y"], axis=1),
        ],
        [
            _w("w1", [8, 3, 1, 1]),
            _ints("shape1", [1, 2, 4, 8, 8]),
            _ints("shape2", [1, 8, 8, 8]),
            _ints("starts", [1]),
            _ints("ends", [7]),
            _ints("axes", [2]),
        ],  # fmt: skip
        [1, 3, 8, 8],
        "reshapes",
    )
    m["nhwc_1d_3d"] = _model(
        [
            n("Transpose", ["x"], ["a"], perm=[0, 3, 1, 2]),
            n("Conv", ["a", "w1"], ["b"], kernel_shape=[5, 5], strides=[1, 2]),
            n("InstanceNormalization", ["b", "s", "bb"], ["c"]),
            n("ReduceMean", ["c"], ["y"], axes=[2, 3], keepdims=1),
        ],
        [_w("w1", [4, 3, 5, 5]), _w("s", [4]), _w("bb", [4])],
        [1, 24, 24, 3],
        "nhwc",
        opset=13,
    )
    m["conv1d"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[7], strides=[3]),
            n("Upsample", ["a", "sc"], ["y"], mode="nearest"),
        ],
        [_w("w1", [4, 2, 7]), helper.make_tensor("sc", F, [3], [1.0, 1.0, 3.0])],
        [1, 2, 100],
        "conv1d",
        opset=9,
    )
    m["conv3d"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3, 3], pads=[1] * 6),
            n("MaxPool", ["a"], ["y"], kernel_shape=[2, 2, 2]),
        ],
        [_w("w1", [2, 1, 3, 3, 3])],
        [1, 1, 8, 8, 8],
        "conv3d",
    )
    body = helper.make_graph(
        [n("Relu", ["a"], ["r"])], "body", [], [helper.make_tensor_value_info("r", F, None)]
    )  # reads 'a' from the outer graph
    m["control_flow"] = _model(
        [
            n("Conv", ["x", "w1"], ["a"], kernel_shape=[3, 3]),
            n("If", ["cond"], ["b"], then_branch=body, else_branch=body),
            n("NoSuchOp", ["b"], ["y"], domain="custom"),
        ],
        [_w("w1", [2, 3, 3, 3]), helper.make_tensor("cond", TensorProto.BOOL, [], [True])],
        [1, 3, 16, 16],
        "control_flow",
    )
    return m


def helper_specs() -> dict[str, list]:
    from rfa_fast import zoo

    out: dict[str, list] = {}
    for name in ("resnet18", "vgg16", "mobilenet_v2", "densenet121"):
        fn = getattr(zoo, name, None)
        if fn is not None:
            out[f"zoo_{name}"] = [fn().to_spec()]
    out["all_kinds"] = [
        {"name": "a", "dims": 2, "layers": [
            {"op": "input"},
            {"op": "conv", "kernel": [3, 5], "stride": 2, "pad": "same", "c_in": 3, "c_out": 8},
            {"op": "pool", "kernel": 3, "ceil_mode": True, "pad_begin": 1, "pad_end": [0, 1]},
            {"op": "transposed", "kernel": 4, "stride": 2, "pad": 1, "output_padding": 1, "c_in": 8, "c_out": 4, "groups": 2},
            {"op": "resize", "scale": [2.0, 1.5], "mode": "cubic"},
            {"op": "add", "inputs": [1, 4]},
            {"op": "identity"},
            {"op": "mystery", "kind": "window", "kernel": 2, "dilation": 3, "pad_mode": "valid"},
            {"op": "global_pool"},
            {"op": "dense", "c_in": 4, "c_out": 10},
        ]},
        {"name": "b", "dims": 2, "layers": [{"op": "input"}, {"op": "conv", "kernel": 7}, {"op": "concat", "inputs": [0, 1]}]},
    ]  # fmt: skip
    out["dims1"] = [[{"op": "input"}, {"op": "conv", "kernel": 3, "stride": 2}] * 1 + [{"op": "maxpool", "kernel": 2}]]
    out["dims3"] = [{"dims": 3, "layers": [{"op": "input"}, {"op": "conv", "kernel": [3, 3, 1], "pad": "same_lower"}]}]
    out["bare"] = [[{"op": "input"}, {"op": "conv", "kernel": k, "stride": s}] for k, s in ((3, 1), (5, 2), (1, 1))]
    return out


def write(out: str) -> dict[str, int]:
    counts = {}
    for sub in ("onnx", "specs", "core"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    vdir = validation_dir()
    files = sorted(glob.glob(os.path.join(vdir, "*.graph.onnx"))) if vdir else []
    files += sorted(glob.glob(os.path.join(ROOT, "tests", "data", "*.onnx")))
    for f in files:
        shutil.copy(f, os.path.join(out, "onnx", os.path.basename(f)))
    for name, data in helper_models().items():
        with open(os.path.join(out, "onnx", f"{name}.onnx"), "wb") as fh:
            fh.write(data)
    for name, specs in helper_specs().items():
        with open(os.path.join(out, "specs", f"{name}.json"), "w") as fh:
            json.dump(specs, fh)
    rng = np.random.default_rng(0)
    for i, n in enumerate((0, 16, 64, 256, 1024)):
        with open(os.path.join(out, "core", f"random_{i}"), "wb") as fh:
            fh.write(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
    for sub in ("onnx", "specs", "core"):
        counts[sub] = len(os.listdir(os.path.join(out, sub)))
    if not vdir:
        print(
            "seeds: no validation exports found (shared/validation/onnx); ONNX seeds are the fixtures and helper models"
        )
    return counts


if __name__ == "__main__":
    print(write(sys.argv[1] if len(sys.argv) > 1 else "fuzz_seeds"))
