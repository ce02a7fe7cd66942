"""Fuzz target: ``rfa_fast.load_onnx`` (then ``analyze``) on mutated ONNX models.

Seeds: the validation exports (``shared/validation/onnx/*.graph.onnx``), the
test fixtures and small models made with ``onnx.helper`` (``fuzz/seeds.py``).
Half the mutations are libFuzzer's byte mutations of the protobuf, half are
structured: parse the model, change one attribute, dim, input name, op type
or node order, serialize again, so that most inputs still parse and reach
the op handlers and the core.

    python fuzz/fuzz_onnx.py CORPUS_DIR SEED_DIR -max_total_time=60
"""

from __future__ import annotations

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import onnx  # noqa: E402
from _runner import EDGE_FLOATS, edge_int, main, mixed_mutator  # noqa: E402

import rfa_fast  # noqa: E402  (instrumented by _runner)

# Op types the structured mutator swaps in: the loader's families and a few it does not know.
OP_TYPES = [
    "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "Resize", "Upsample",
    "Add", "Mul", "Concat", "Relu", "Identity", "Flatten", "Reshape", "Transpose", "Pad", "Slice", "Gemm",
    "MatMul", "Squeeze", "Unsqueeze", "SpaceToDepth", "DepthToSpace", "Split", "Tile", "InstanceNormalization",
    "Softmax", "ReduceMean", "If", "Loop", "Shape", "Gather", "Constant", "MaxUnpool", "Einsum", "NoSuchOp",
]  # fmt: skip


def target(data: bytes) -> None:
    g = rfa_fast.load_onnx(data)
    res = g.input_shape if g.input_shape and all(0 < v <= 4096 for v in g.input_shape) else 64
    rfa_fast.analyze(g, res)


def _mutate_attr(a: onnx.AttributeProto, rng: random.Random) -> None:
    if a.type == onnx.AttributeProto.INT:
        a.i = edge_int(rng)
    elif a.type == onnx.AttributeProto.INTS:
        if a.ints and rng.random() < 0.8:
            a.ints[rng.randrange(len(a.ints))] = edge_int(rng)
        else:
            del a.ints[:]
            a.ints.extend(edge_int(rng) for _ in range(rng.randint(0, 7)))
    elif a.type == onnx.AttributeProto.FLOAT:
        a.f = rng.choice(EDGE_FLOATS)
    elif a.type == onnx.AttributeProto.FLOATS and a.floats:
        a.floats[rng.randrange(len(a.floats))] = rng.choice(EDGE_FLOATS)
    elif a.type == onnx.AttributeProto.STRING:
        a.s = rng.choice([b"", b"SAME_UPPER", b"SAME_LOWER", b"VALID", b"NOTSET", b"linear", b"cubic", b"xx"])


def structured(data: bytes, rng: random.Random) -> bytes | None:
    m = onnx.ModelProto()
    m.ParseFromString(data)
    g = m.graph
    if not g.node:
        return None
    what = rng.randrange(9)
    node = g.node[rng.randrange(len(g.node))]
    if what == 0 and node.attribute:
        _mutate_attr(node.attribute[rng.randrange(len(node.attribute))], rng)
    elif what == 1:
        # a new attribute the op may or may not expect
        name = rng.choice(["kernel_shape", "strides", "dilations", "pads", "group", "auto_pad", "ceil_mode", "axis",
                           "perm", "blocksize", "output_padding", "scales", "mode", "axes", "allowzero"])  # fmt: skip
        if name in ("auto_pad", "mode"):
            node.attribute.append(onnx.helper.make_attribute(name, rng.choice(["SAME_UPPER", "VALID", "linear", ""])))
        elif name in ("group", "ceil_mode", "axis", "blocksize", "allowzero"):
            node.attribute.append(onnx.helper.make_attribute(name, edge_int(rng)))
        else:
            node.attribute.append(onnx.helper.make_attribute(name, [edge_int(rng) for _ in range(rng.randint(0, 6))]))
    elif what == 2:
        node.op_type = rng.choice(OP_TYPES)
    elif what == 3 and node.input:
        # rewire an input to another tensor, to nothing, or to itself (a cycle)
        names = [t for n in g.node for t in n.output] + [i.name for i in g.input] + ["", "missing"]
        node.input[rng.randrange(len(node.input))] = rng.choice(names + list(node.output))
    elif what == 4 and g.initializer:
        t = g.initializer[rng.randrange(len(g.initializer))]
        if t.dims and rng.random() < 0.7:
            t.dims[rng.randrange(len(t.dims))] = edge_int(rng)
        else:
            del t.dims[:]
            t.dims.extend(rng.randint(0, 9) for _ in range(rng.randint(0, 5)))
    elif what == 5 and g.input:
        vi = g.input[rng.randrange(len(g.input))]
        dims = vi.type.tensor_type.shape.dim
        if dims and rng.random() < 0.7:
            d = dims[rng.randrange(len(dims))]
            if rng.random() < 0.3:
                d.dim_param = "N"
            else:
                d.dim_value = edge_int(rng)
        else:
            del dims[:]
            for _ in range(rng.randint(0, 6)):
                dims.add().dim_value = rng.choice([1, 3, 8, 32, 0, -1])
    elif what == 6 and len(g.node) > 1:
        # out-of-order or duplicated nodes: the loader sorts, or reports a cycle
        i, j = rng.randrange(len(g.node)), rng.randrange(len(g.node))
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(g.node[i])
        b.CopyFrom(g.node[j])
        g.node[i].CopyFrom(b)
        g.node[j].CopyFrom(a if rng.random() < 0.8 else b)
    elif what == 7 and len(g.node) > 1:
        del g.node[rng.randrange(len(g.node))]
    elif what == 8:
        m.opset_import[0].version = rng.choice([1, 6, 7, 9, 10, 11, 13, 18, 19, 21, 99]) if m.opset_import else 13
    return m.SerializeToString()


if __name__ == "__main__":
    main(target, mixed_mutator(structured))
