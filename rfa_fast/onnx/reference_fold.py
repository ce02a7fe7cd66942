"""Folding the ops the numpy table does not know, with ONNX's reference evaluator.

The constant folder (``values.py``) evaluates the common shape-arithmetic ops
with a table of numpy functions.  Any other op of the standard domain whose
inputs are all known constants is evaluated here, as a one-node graph run by
``onnx.reference.ReferenceEvaluator`` at the model's opset: exports that
compute pads with ``Clip``/``Ceil``/``CumSum``/``Sign``... fold like the rest.

The reference evaluator is slow next to numpy (about 70 µs a node after a
first import of about 0.2 s), so it is imported lazily and only used for ops
outside the table.  Before it runs, ONNX's shape inference for the node (given
the input values) must show outputs of at most :data:`~rfa_fast.onnx.values.MAX_ELEMENTS`
elements, and the work, (input elements + 1) x output elements, must stay
under :data:`MAX_WORK`: a mutated model cannot make it allocate gigabytes
(``Tile`` by 2^40) or spin (an ``Einsum`` outer product of two long vectors).
Control flow (subgraphs reading the outer scope, unbounded loops) and random
ops (not constants) are never evaluated.

Every failure is a :class:`FoldError` with the reason; the folder turns it
into an unknown value, and the loader names the node and the reason if that
value turns out to be needed.

>>> import numpy as np
>>> from onnx import helper
>>> clip = helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip")
>>> fold_reference(clip, [np.array([-3, 2, 9]), np.array(0), np.array(4)], 17)[0].tolist()
[0, 2, 4]
>>> fold_reference(helper.make_node("Tile", ["x", "r"], ["y"], name="t"), [np.arange(3), np.array([1 << 40])], 17)
Traceback (most recent call last):
...
rfa_fast.onnx.reference_fold.FoldError: its output would have 3298534883328 elements (the folder's limit is 65536)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from .values import MAX_ELEMENTS

MAX_WORK = 1 << 24
"""Largest (input elements + 1) x output elements the reference evaluator is run on."""

NOT_FOLDED = frozenset(
    {
        # control flow: subgraphs read outer-scope names, loops may not end
        "If",
        "Loop",
        "Scan",
        "SequenceMap",
        # random: the values are not constants
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
    }
)
"""Standard ops the fallback never evaluates."""

# Ops whose output size shape inference cannot know (it depends on the
# values) but which never produce more than rank x input elements.
_BOUNDED = frozenset({"NonZero", "Unique", "Compress"})

_STANDARD = ("", "ai.onnx")


class FoldError(Exception):
    """The reference evaluator did not (or may not) fold a node; the message says why."""


def fold_reference(node: Any, args: list[np.ndarray | None], opset: int) -> list[np.ndarray | None]:
    """Evaluate one standard-domain node on known constant inputs with ``onnx.reference``.

    Args:
        node: the node (a ``NodeProto`` or the loader's ``OpNode``).
        args: the value of each input, ``None`` for an omitted optional input
            (an empty input name); every named input must have a value.
        opset: the model's opset of the default domain.

    Returns:
        The value of each output (``None`` for an output that is not a tensor,
        e.g. a sequence).

    Raises:
        FoldError: a non-standard domain, an op never folded, outputs or work
            over the limits, or any failure of the evaluator (the reason).
    """
    proto: onnx.NodeProto = node.proto if hasattr(node, "proto") else node
    if proto.domain not in _STANDARD:
        raise FoldError(f"domain {proto.domain!r} is not the standard one")
    if proto.op_type in NOT_FOLDED:
        raise FoldError("control flow and random ops are not folded")
    names = list(proto.input)
    feeds: dict[str, np.ndarray] = {}
    for name, v in zip(names, args):
        if name:
            if v is None:
                raise FoldError(f"input {name!r} is not a known constant")
            feeds[name] = np.asarray(v)
    n_in = sum(int(v.size) for v in feeds.values())
    n_out = _output_elements(proto, feeds, opset)
    if n_out is None:
        if proto.op_type not in _BOUNDED:
            raise FoldError("ONNX shape inference does not give the size of its output")
        n_out = n_in * max([v.ndim for v in feeds.values()] + [1])
    if n_out > MAX_ELEMENTS:
        raise FoldError(f"its output would have {n_out} elements (the folder's limit is {MAX_ELEMENTS})")
    if (n_in + 1) * n_out > MAX_WORK:
        raise FoldError(f"{n_in} input elements x {n_out} output elements is over the folder's work limit")
    try:
        from onnx.reference import ReferenceEvaluator  # lazy: importing it costs ~0.2 s

        results = ReferenceEvaluator(_one_node_model(proto, list(feeds), int(opset))).run(None, feeds)
    except Exception as e:  # any failure: the evaluator's reason, never its traceback
        raise FoldError(f"onnx.reference failed: {type(e).__name__}: {_first_line(e)}") from None
    outs: list[np.ndarray | None] = []
    for r in results:
        if isinstance(r, (np.ndarray, np.generic)):
            a = np.asarray(r)
            outs.append(a if a.size <= MAX_ELEMENTS else None)
        else:
            outs.append(None)
    return outs


def _one_node_model(proto: onnx.NodeProto, inputs: list[str], opset: int) -> onnx.ModelProto:
    """A model of the node alone (a model, not the bare node: the evaluator honours its opset only then)."""
    model = onnx.ModelProto(ir_version=onnx.IR_VERSION)
    model.opset_import.add(domain="", version=opset)
    graph = model.graph
    graph.node.add().CopyFrom(proto)
    graph.input.extend(onnx.helper.make_empty_tensor_value_info(n) for n in inputs)
    graph.output.extend(onnx.helper.make_empty_tensor_value_info(n) for n in proto.output if n)
    return model


def _output_elements(proto: onnx.NodeProto, feeds: dict[str, np.ndarray], opset: int) -> int | None:
    """Total elements of the node's outputs from ONNX shape inference, ``None`` if not all static."""
    try:
        schema = onnx.defs.get_schema(proto.op_type, int(opset), "")
    except Exception as e:
        raise FoldError(f"no schema for the op at opset {opset}: {_first_line(e)}") from None
    types: dict[str, onnx.TypeProto] = {}
    data: dict[str, onnx.TensorProto] = {}
    for name, v in feeds.items():
        try:
            elem = onnx.helper.np_dtype_to_tensor_dtype(v.dtype)
            types[name] = onnx.helper.make_tensor_type_proto(elem, list(v.shape))
            data[name] = numpy_helper.from_array(v, name)
        except Exception as e:
            raise FoldError(f"input {name!r} of dtype {v.dtype} cannot be passed on: {_first_line(e)}") from None
    try:
        inferred = onnx.shape_inference.infer_node_outputs(
            schema, proto, types, data, opset_imports=[onnx.helper.make_opsetid("", int(opset))]
        )
    except Exception as e:
        raise FoldError(f"ONNX shape inference rejects the node: {_first_line(e)}") from None
    total = 0
    for out in proto.output:
        if not out:
            continue
        tp = inferred.get(out)
        if tp is None or not tp.HasField("tensor_type") or not tp.tensor_type.HasField("shape"):
            return None
        n = 1
        for d in tp.tensor_type.shape.dim:
            if not d.HasField("dim_value") or d.dim_value < 0:
                return None
            n *= int(d.dim_value)
        total += n
    return total


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:300] if text else ""
