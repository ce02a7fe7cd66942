"""Writing refinement edits into an ONNX model: attributes and wiring only, never weights.

A refinement changes downsampling: a window's ``strides`` (and, for a
re-frozen adaptive pool, its ``kernel_shape``), or a pool replaced by an
``Identity`` node with the same name, input and output (so every tensor keeps
its name).  Pads are never changed: a stride change keeps every explicit pad
valid (the output stays at least one unit), and ``auto_pad`` windows recompute
theirs.  Weights are never read or written: external-data references stay as
they are, and a model whose weight file is missing is edited and written all
the same.

After editing, the model is checked *without weights*: a copy whose
initializers are graph inputs of the same type and shape goes through
``onnx.checker.check_model`` and strict ``onnx.shape_inference`` (a
``Flatten -> Gemm`` head that no longer fits, a Reshape or Resize to a fixed
size, residual branches of different sizes all fail there), and any failure
is an :class:`OnnxEditError` naming the node.

>>> from onnx import helper, TensorProto
>>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
>>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 32, 32])
>>> nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
...          helper.make_node("Relu", ["p"], ["y"], name="relu")]
>>> m = helper.make_model(helper.make_graph(nodes, "net", [x], [y]))
>>> out = apply_edits(m, [OnnxEdit("pool", "MaxPool", remove=True)])
>>> [(n.name, n.op_type, list(n.input), list(n.output)) for n in out.graph.node]
[('pool', 'Identity', ['x'], ['p']), ('relu', 'Relu', ['p'], ['y'])]
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import onnx
from onnx import helper

from .errors import OnnxError

ModelSource = Union[str, "os.PathLike[str]", onnx.ModelProto]

# ONNX ops whose strides (and kernel_shape) are plain attributes.
_WINDOW_OPS = frozenset(
    {"Conv", "ConvInteger", "QLinearConv", "FusedConv", "MaxPool", "AveragePool", "LpPool", "QLinearAveragePool"}
)
_POOL_OPS = frozenset({"MaxPool", "AveragePool", "LpPool", "QLinearAveragePool"})
# Builder op names (GraphBuilder, zoo) and the ONNX ops they stand for, for name fallback.
_OP_ALIASES = {
    "conv": {"Conv", "ConvInteger", "QLinearConv", "FusedConv"},
    "pool": _POOL_OPS,
    "maxpool": {"MaxPool"},
    "avgpool": {"AveragePool", "QLinearAveragePool"},
}


class OnnxEditError(OnnxError):
    """An edit cannot be written into the model, or the edited model is invalid."""


@dataclass(frozen=True)
class OnnxEdit:
    """One node's change: new ``strides``/``kernel_shape`` or removal (-> Identity).

    ``node`` is the name of the node in the analyzed graph (the ONNX node
    name, see :func:`find_node`), ``op`` its op type.
    """

    node: str
    op: str
    stride: tuple[int, ...] | None = None
    kernel: tuple[int, ...] | None = None
    remove: bool = False


def read_model(source: ModelSource) -> tuple[onnx.ModelProto, str]:
    """A private copy of the model (never its external weights) and a label for messages."""
    if isinstance(source, onnx.ModelProto):
        model = onnx.ModelProto()
        model.CopyFrom(source)
        return model, "<ModelProto>"
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isfile(path):
            raise OnnxEditError(f"{path}: no such file")
        try:
            return onnx.load(path, load_external_data=False), path
        except Exception as e:  # protobuf raises several types
            raise OnnxEditError(f"{path}: not an ONNX model ({_first_line(e)})") from None
    raise OnnxEditError(f"expected a path or an onnx.ModelProto, got {type(source).__name__}")


def _node_label(node: onnx.NodeProto) -> str:
    """The name the loader gives a node: its name, else its first output's name."""
    return node.name or next((t for t in node.output if t), node.op_type)


def torch_module_path(onnx_name: str) -> str | None:
    """The PyTorch module path in a ``torch.onnx.export`` node name.

    >>> torch_module_path("/layer4/layer4.0/conv2/Conv")
    'layer4.0.conv2'
    >>> torch_module_path("/features/features.2/conv/conv.1/conv.1.0/Conv")
    'features.2.conv.1.0'
    """
    parts = [p for p in onnx_name.split("/") if p]
    if len(parts) < 2:
        return None
    full = last = ""
    for comp in parts[:-1]:  # the last part is the op type
        if last and comp.startswith(last + "."):
            full = full[: len(full) - len(last)] + comp  # scope names repeat their parent's name
        else:
            full = f"{full}.{comp}" if full else comp
        last = comp
    return full


def find_node(model: onnx.ModelProto, name: str, op: str, label: str) -> onnx.NodeProto:
    """The ONNX node behind a graph node name.

    The loader names a node after the ONNX node (or its first output), with a
    ``#k`` suffix for the k-th repeat of a name; failing that, a graph built
    in code with PyTorch module paths (``layer4.0.conv2``, the zoo) matches
    the node ``torch.onnx.export`` named ``/layer4/layer4.0/conv2/Conv``.
    """
    nodes = model.graph.node
    ops = _OP_ALIASES.get(op.lower(), {op})
    tries = [(name, 0)]
    head, _, tail = name.rpartition("#")
    if head and tail.isdigit():
        tries.append((head, int(tail)))  # the loader's k-th repeat of a name
    for base, k in tries:
        same = [n for n in nodes if _node_label(n) == base]
        if len(same) > k and (same[k].op_type == op or same[k].op_type in ops):
            return same[k]
    by_path = [n for n in nodes if n.op_type in ops and torch_module_path(n.name) == name]
    if len(by_path) == 1:
        return by_path[0]
    raise OnnxEditError(
        f"{label}: no node named {name!r} (op {op}) in the model"
        + (f" ({len(by_path)} nodes match its module path)" if by_path else "")
        + "; was the suggestion computed on a graph loaded from this model?"
    )


def _set_ints(node: onnx.NodeProto, key: str, values: Sequence[int]) -> None:
    for a in node.attribute:
        if a.name == key:
            del a.ints[:]
            a.ints.extend(int(v) for v in values)
            return
    node.attribute.append(helper.make_attribute(key, [int(v) for v in values]))


def _to_identity(model: onnx.ModelProto, node: onnx.NodeProto, label: str) -> None:
    """Replace a pool by an Identity with the same name, first input and first output."""
    used = {t for n in model.graph.node for t in n.input} | {o.name for o in model.graph.output}
    if len(node.output) > 1 and any(t and t in used for t in node.output[1:]):
        raise OnnxEditError(
            f"{label}: pool {node.name!r} cannot be removed: its Indices output {node.output[1]!r} is used"
        )
    ident = helper.make_node("Identity", [node.input[0]], [node.output[0]], name=node.name)
    node.CopyFrom(ident)


def apply_edits(source: ModelSource, edits: Sequence[OnnxEdit], out_path: str | os.PathLike[str] | None = None,
                *, check: bool = True) -> onnx.ModelProto:  # fmt: skip
    """The model with ``edits`` written in, checked, and saved to ``out_path`` if given.

    The written file keeps every external-data reference exactly as it was
    (the location is relative: put the weight file next to the refined model
    to run it); embedded weights stay embedded.  ``value_info`` shape hints
    are dropped: the edits change shapes (``onnx.shape_inference`` makes
    new ones).

    Raises:
        OnnxEditError: a node is missing or not a window, a pool's Indices
            are used, or the edited model fails the checker or shape inference.
    """
    model, label = read_model(source)
    for e in edits:
        node = find_node(model, e.node, e.op, label)
        if node.op_type not in _WINDOW_OPS:
            raise OnnxEditError(f"{label}: node {node.name!r} is a {node.op_type}, not a convolution or pooling window")
        if e.remove:
            if node.op_type not in _POOL_OPS:
                raise OnnxEditError(f"{label}: only pools can be removed, {node.name!r} is a {node.op_type}")
            _to_identity(model, node, label)
            continue
        if e.stride is not None:
            _set_ints(node, "strides", e.stride)
        if e.kernel is not None:
            _set_ints(node, "kernel_shape", e.kernel)
    del model.graph.value_info[:]
    if check:
        check_weightless(model, label)
    if out_path is not None:
        # Written as is: onnx.save would try to move tensors marked external
        # (and a missing weight file is fine here: nothing reads it).
        with open(out_path, "wb") as f:
            f.write(model.SerializeToString())
    return model


def weightless_copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every initializer turned into a graph input of the same type and shape.

    What the checker and shape inference need, without the weights (which may
    be missing, or large).
    """
    stub = onnx.ModelProto()
    stub.ir_version = model.ir_version
    stub.opset_import.extend(model.opset_import)
    stub.functions.extend(model.functions)
    g = stub.graph
    g.name = model.graph.name
    g.node.extend(model.graph.node)
    g.output.extend(model.graph.output)
    g.input.extend(model.graph.input)
    have = {i.name for i in g.input}
    for t in model.graph.initializer:
        if t.name not in have:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    g.sparse_initializer.extend(model.graph.sparse_initializer)
    return stub


def check_weightless(model: onnx.ModelProto, label: str) -> None:
    """``onnx.checker`` and strict shape inference on :func:`weightless_copy`; errors name the node."""
    stub = weightless_copy(model)
    try:
        onnx.checker.check_model(stub, full_check=False)
        inferred = onnx.shape_inference.infer_shapes(stub, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:  # checker and inference raise their own types
        text = str(e).strip()
        lines = [ln for ln in text.splitlines() if ln.strip() and "expected to have type but instead is null" not in ln]
        reason = "; ".join(ln.strip().rstrip(".") for ln in lines[:3]) or type(e).__name__
        raise OnnxEditError(
            f"{label}: the edited model is invalid: {reason} (layers that depend on static shapes, such as a "
            "Flatten -> Gemm head, a Reshape or Resize to fixed sizes, or residual branches that must match, may no "
            "longer fit)"
        ) from None
    _check_reshapes(inferred, label)


def _static_shapes(model: onnx.ModelProto) -> dict[str, list[int]]:
    out = {}
    for vi in [*model.graph.value_info, *model.graph.input, *model.graph.output]:
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            out[vi.name] = [int(d.dim_value) for d in t.shape.dim]
    return out


def _check_reshapes(inferred: onnx.ModelProto, label: str) -> None:
    """Reshapes to a constant shape must keep the element count.

    Shape inference takes the constant target shape as the output shape
    without comparing sizes, so a channel shuffle exported with fixed spatial
    sizes (ShuffleNet: ``[1, 2, 58, 28, 28]``) passes it and fails at run time.
    """
    shapes = _static_shapes(inferred)
    for node in inferred.graph.node:
        if node.op_type != "Reshape" or not node.input or not node.output:
            continue
        a, b = shapes.get(node.input[0]), shapes.get(node.output[0])
        if a is not None and b is not None and math.prod(a) != math.prod(b):
            raise OnnxEditError(
                f"{label}: the edited model is invalid: Reshape {_node_label(node)!r} turns a {'x'.join(map(str, a))} "
                f"tensor into a fixed {'x'.join(map(str, b))} (its target shape was computed for the old feature "
                "maps; re-export the model with the new strides instead)"
            )


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
