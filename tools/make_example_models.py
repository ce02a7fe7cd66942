"""Write the weightless example models shipped in ``rfa_fast/examples/`` from the zoo graphs.

    python tools/make_example_models.py           # (re)writes rfa_fast/examples/*.onnx
    python tools/make_example_models.py --check   # exit 1 if a shipped file differs from what this makes

Each model is the zoo graph (``rfa_fast.zoo``, built in code with torchvision's
layout) written as the ONNX a torchvision export with folded batch norms looks
like: Conv (+ Relu), MaxPool, Add, GlobalAveragePool, Flatten, Gemm.  Weights
are initializers with their dims and dtype and no bytes: they point to an
external data file that does not exist (the convention of the shared
validation exports), so ``onnx.load(path, load_external_data=False)`` and
``rfa_fast.load_onnx(path)`` read the file, and it stays a few KB.  ONNX node
names are the zoo's layer names, so the loaded graph and the zoo graph can be
compared layer by layer (tests/test_install.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from rfa_fast import Graph, Kind, zoo

OUT_DIR = Path(__file__).resolve().parents[1] / "rfa_fast" / "examples"
MODELS: dict[str, Callable[[], Graph]] = {"resnet18": zoo.resnet18}
OPSET = 17
IR_VERSION = 8


def _weight(name: str, dims: list[int], location: str) -> TensorProto:
    """A float initializer with ``dims`` whose bytes live in ``location``, a file that is not shipped."""
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=dims)
    t.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", "0")):
        entry = t.external_data.add()
        entry.key, entry.value = key, value
    return t


def to_onnx(g: Graph, name: str) -> onnx.ModelProto:
    """``g`` (input, conv, max/avg pool, add, global pool, dense nodes) as a weightless ONNX model."""
    consumers: list[list[int]] = [[] for _ in g.nodes]
    for i, n in enumerate(g.nodes):
        for p in n.inputs:
            consumers[p].append(i)
    first_conv = next(n for n in g.nodes if n.kind == Kind.WINDOW and n.weighted)
    location = f"{name}.weights"
    nodes: list[onnx.NodeProto] = []
    inits: list[TensorProto] = []
    out: list[str] = []  # the tensor each graph node produces
    graph_input = graph_output = ""
    for i, n in enumerate(g.nodes):
        ins = [out[p] for p in n.inputs]
        y = n.name
        if n.kind == Kind.INPUT:
            graph_input = y
        elif n.kind == Kind.WINDOW and n.weighted:
            w = f"{n.name}.weight"
            inits.append(_weight(w, [n.c_out, n.c_in // n.groups, *n.kernel], location))
            attrs = dict(kernel_shape=list(n.kernel), strides=list(n.stride), dilations=list(n.dilation))
            nodes.append(
                helper.make_node(
                    "Conv", [*ins, w], [y], name=n.name, pads=[*n.pad_begin, *n.pad_end], group=n.groups, **attrs
                )
            )
        elif n.kind == Kind.WINDOW:
            op = {"maxpool": "MaxPool", "avgpool": "AveragePool"}[n.op]
            attrs = dict(kernel_shape=list(n.kernel), strides=list(n.stride), pads=[*n.pad_begin, *n.pad_end])
            nodes.append(helper.make_node(op, ins, [y], name=n.name, ceil_mode=int(n.ceil_mode), **attrs))
        elif n.kind == Kind.MERGE and n.op == "add":
            nodes.append(helper.make_node("Add", ins, [y], name=n.name))
        elif n.kind == Kind.GLOBAL and n.op == "global_pool":
            nodes.append(helper.make_node("GlobalAveragePool", ins, [y], name=n.name))
        elif n.kind == Kind.GLOBAL and n.op == "dense":
            flat = f"{n.name}.flatten"
            nodes.append(helper.make_node("Flatten", ins, [flat], name=flat, axis=1))
            w, b = f"{n.name}.weight", f"{n.name}.bias"
            inits += [_weight(w, [n.c_out, n.c_in], location), _weight(b, [n.c_out], location)]
            nodes.append(helper.make_node("Gemm", [flat, w, b], [y], name=n.name, transB=1))
        else:
            raise ValueError(f"{g.name}: node {n.name!r} ({n.op}, {n.kind.name}) has no ONNX form in this script")
        # torchvision's ReLUs: after every conv and addition, except a conv whose output goes into an addition
        feeds_add = any(g.nodes[c].kind == Kind.MERGE for c in consumers[i])
        if n.kind == Kind.MERGE or (n.kind == Kind.WINDOW and n.weighted and not feeds_add):
            nodes.append(helper.make_node("Relu", [y], [f"{y}.relu"], name=f"{n.name}.relu"))
            y = f"{y}.relu"
        out.append(y)
        if not consumers[i] and n.kind != Kind.INPUT:
            graph_output = y
    h, w_ = g.input_shape or (224, 224)
    x = helper.make_tensor_value_info(graph_input, TensorProto.FLOAT, [1, first_conv.c_in, h, w_])
    last = g.nodes[-1]
    y_info = helper.make_tensor_value_info(graph_output, TensorProto.FLOAT, [1, last.c_out])
    graph = helper.make_graph(nodes, g.name, [x], [y_info], initializer=inits)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rfa_fast tools/make_example_models.py",
        ir_version=IR_VERSION,
        doc_string=(
            f"{g.name} from rfa_fast.zoo, weightless: initializer dims only, their data file "
            f"{location} is not shipped. Load with rfa_fast.load_onnx or onnx.load(path, load_external_data=False)."
        ),
    )
    return model


def check(model: onnx.ModelProto) -> None:
    """``onnx.checker`` on the model with its absent weights declared as inputs (the checker opens external data)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    weights = [helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)) for t in copy.graph.initializer]
    del copy.graph.initializer[:]
    copy.graph.input.extend(weights)
    onnx.checker.check_model(copy, full_check=True)


def build(name: str) -> onnx.ModelProto:
    """The example model ``name`` (a key of :data:`MODELS`) as this script writes it."""
    return to_onnx(MODELS[name](), name)


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) every example model; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare the shipped files instead of writing them")
    args = parser.parse_args(argv)
    status = 0
    for name in MODELS:
        path = OUT_DIR / f"{name}.onnx"
        model = build(name)
        if args.check:
            same = path.is_file() and onnx.load(str(path), load_external_data=False) == model
            print(f"{path}: {'up to date' if same else 'DIFFERS from tools/make_example_models.py'}")
            status |= 0 if same else 1
        else:
            check(model)
            path.write_bytes(model.SerializeToString())
            print(f"{path}: {path.stat().st_size:,} bytes, {len(model.graph.node)} nodes")
    return status


if __name__ == "__main__":
    sys.exit(main())
