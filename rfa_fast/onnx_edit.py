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

import heapq
import math
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import onnx
from onnx import helper, numpy_helper

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
                *, check: bool = True, resolution: int | Sequence[int] | None = None) -> onnx.ModelProto:  # fmt: skip
    """The model with ``edits`` written in, checked, and saved to ``out_path`` if given.

    Besides the edits:

    - with ``resolution`` (the training resolution the edits were chosen
      for: an int, or one size per spatial axis), the image input's spatial
      dims are set to it, so the refined model runs at that size;
    - shape constants that ``torch.onnx.export`` baked for the exported size
      are made to follow the tensors again (:func:`follow_shapes`): a
      Reshape's constant target (ShuffleNet's channel shuffle) and the fixed
      spatial part of a Resize's ``sizes`` (DeepLabV3's and LR-ASPP's heads)
      are computed from ``Shape`` at run time, as the framework computed them;
    - ``value_info`` shape hints are dropped and the graph outputs' shapes
      are those inferred for the refined model.

    Weights are never read or changed.  Written to ``out_path``, the model
    references its external weights so that they load wherever the file
    goes: in the source model's directory the references stay as they are;
    elsewhere each external-data file that exists is copied next to the
    output as ``<output name>.data`` (``.1.data``, ... for several) and the
    references point there (ONNX only reads external data inside the
    model's directory).  A weightless export (weight file missing on
    purpose) keeps its references unchanged; embedded weights stay embedded.

    Raises:
        OnnxEditError: a node is missing or not a window, a pool's Indices
            are used, or the edited model fails the checker or shape inference.

    >>> from onnx import helper, TensorProto
    >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
    >>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 16, 16])
    >>> nodes = [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2, 2], strides=[2, 2])]
    >>> m = helper.make_model(helper.make_graph(nodes, "net", [x], [y]))
    >>> out = apply_edits(m, [OnnxEdit("pool", "MaxPool", stride=(1, 1))], resolution=8)
    >>> [d.dim_value for d in out.graph.input[0].type.tensor_type.shape.dim]
    [1, 3, 8, 8]
    >>> [d.dim_value for d in out.graph.output[0].type.tensor_type.shape.dim]
    [1, 3, 7, 7]
    """
    model, label = read_model(source)
    before = _ShapesBefore(model)
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
    if resolution is not None:
        set_input_size(model, resolution, label)
    follow_shapes(model, before)
    _infer_outputs(model)
    if check:
        check_weightless(model, label)
    if out_path is not None:
        write_model(model, out_path, source if isinstance(source, (str, os.PathLike)) else None)
    return model


def _infer_outputs(model: onnx.ModelProto) -> None:
    """Give the graph outputs the shapes inference finds for the edited model (unknown dims where it finds none)."""
    old = {
        o.name: len(o.type.tensor_type.shape.dim) for o in model.graph.output if o.type.tensor_type.HasField("shape")
    }
    for o in model.graph.output:
        o.type.tensor_type.ClearField("shape")  # the old sizes
    inferred = {vi.name: vi for vi in _infer(weightless_copy(model)).graph.output}
    for o in model.graph.output:
        got = inferred.get(o.name)
        if got is not None and got.type.tensor_type.HasField("shape"):
            o.type.tensor_type.shape.CopyFrom(got.type.tensor_type.shape)
        elif o.name in old:
            o.type.tensor_type.shape.dim.extend(onnx.TensorShapeProto.Dimension() for _ in range(old[o.name]))


def set_input_size(model: onnx.ModelProto, resolution: int | Sequence[int], label: str) -> None:
    """Set the image input's spatial dims to ``resolution`` (an int, or one size per spatial axis).

    The image input and its spatial axes are the ones :func:`rfa_fast.load_onnx`
    analyzes (NC<spatial>, or channels-last when Transposes say so).
    """
    from .onnx.loader import _input_layout, _pick_input
    from .onnx.order import wrap

    image, shape = _pick_input(model.graph, None, label)
    layout = _input_layout(wrap(model.graph.node), image, shape)
    sizes = (
        [int(resolution)] * len(layout) if isinstance(resolution, (int, np.integer)) else [int(v) for v in resolution]
    )
    if len(sizes) != len(layout) or min(sizes) < 1:
        raise OnnxEditError(f"{label}: resolution {resolution!r} does not fit the input's {len(layout)} spatial axes")
    vi = next(v for v in model.graph.input if v.name == image)
    dims = vi.type.tensor_type.shape.dim
    for axis, size in zip(layout, sizes):
        dims[axis].Clear()
        dims[axis].dim_value = size


def _const_ints(model: onnx.ModelProto, producers: dict[str, onnx.NodeProto], name: str) -> list[int] | None:
    """The value of an integer constant (an embedded initializer or a Constant node), else None."""
    init = next((t for t in model.graph.initializer if t.name == name), None)
    try:
        if init is not None:
            if init.data_location == onnx.TensorProto.EXTERNAL:
                return None
            return [int(v) for v in numpy_helper.to_array(init).reshape(-1)]
        node = producers.get(name)
        if node is None or node.op_type != "Constant":
            return None
        for a in node.attribute:
            if a.name == "value":
                return [int(v) for v in numpy_helper.to_array(a.t).reshape(-1)]
            if a.name == "value_ints":
                return [int(v) for v in a.ints]
    except (ValueError, TypeError):
        return None
    return None


class _ShapesBefore:
    """Static shapes of the model as it was before the edits (looked up lazily, by tensor name).

    ``onnx.shape_inference`` leaves shapes after ``Shape -> Div -> Slice``
    arithmetic (ShuffleNet's ``chunk``) unknown; the loader's resolver
    (:class:`rfa_fast.onnx.values.Tensors`) folds it.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        from .onnx.values import Tensors

        stub = weightless_copy(model)  # a copy: the edits do not reach it
        inits = {t.name for t in stub.graph.initializer}
        image = next((v.name for v in stub.graph.input if v.name not in inits), "")
        self._tensors = Tensors(stub, list(stub.graph.node), image, None)

    def get(self, name: str) -> list[int] | None:
        """The shape of ``name`` when every dim is known."""
        try:
            s = self._tensors.shape(name)
        except Exception:  # the resolver reports malformed models its own way; unknown here
            return None
        if s is None:
            return None
        dims = [d for d in s if isinstance(d, (int, np.integer))]
        return [int(d) for d in dims] if len(dims) == len(s) else None


class _Builder:
    """New nodes for :func:`follow_shapes`, with names that do not clash."""

    def __init__(self, model: onnx.ModelProto) -> None:
        self.taken = {t for n in model.graph.node for t in [*n.input, *n.output, n.name]}
        self.taken |= {v.name for v in [*model.graph.input, *model.graph.output]}
        self.taken |= {t.name for t in model.graph.initializer}
        self.nodes: list[onnx.NodeProto] = []

    def _fresh(self, base: str) -> str:
        k, name = 0, base
        while name in self.taken:
            k += 1
            name = f"{base}_{k}"
        self.taken.add(name)
        return name

    def add(self, op: str, inputs: Sequence[str], base: str, **attrs: Any) -> str:
        out = self._fresh(f"{base}/{op}_output")
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=self._fresh(f"{base}/{op}"), **attrs))
        return out

    def const(self, values: Sequence[int], base: str) -> str:
        t = helper.make_tensor("value", onnx.TensorProto.INT64, [len(values)], [int(v) for v in values])
        return self.add("Constant", [], base, value=t)

    def dims(self, shape: str, start: int, end: int, base: str) -> str:
        """``shape[start:end]`` of a Shape output, as a 1-D int64 tensor."""
        return self.add("Slice", [shape, self.const([start], base), self.const([end], base)], base)


def _groups(a: Sequence[int], b: Sequence[int]) -> list[tuple[list[int], list[int]]] | None:
    """Consecutive axes of shape ``a`` and of shape ``b`` with equal products (how a reshape regroups them)."""
    if 0 in a or 0 in b or math.prod(a) != math.prod(b):
        return None
    out: list[tuple[list[int], list[int]]] = []
    i = j = 0
    while i < len(a) and j < len(b):
        ga, gb = [i], [j]
        pa, pb = a[i], b[j]
        i, j = i + 1, j + 1
        while pa != pb:
            if pa < pb and i < len(a):
                pa *= a[i]
                ga.append(i)
                i += 1
            elif pb < pa and j < len(b):
                pb *= b[j]
                gb.append(j)
                j += 1
            else:
                return None
        out.append((ga, gb))
    if not out:
        return None
    out[-1][0].extend(range(i, len(a)))  # trailing 1s
    out[-1][1].extend(range(j, len(b)))
    return out


def _follow_reshape(node: onnx.NodeProto, target: list[int], before: _ShapesBefore, b: _Builder) -> bool:
    """Compute a Reshape's constant target from ``Shape(input)``; False when it cannot be (left as is)."""
    x = node.input[0]
    old_in, old_out = before.get(x), before.get(node.output[0])
    if old_in is None or old_out is None or len(old_out) != len(target):
        return False
    if any(a.name == "allowzero" and a.i for a in node.attribute):
        return False
    groups = _groups(old_in, old_out)
    if groups is None or all(max(ga) < 2 for ga, _ in groups):
        return False  # only batch and channel axes: stride edits do not change them
    base = node.name or node.output[0]
    shape = b.add("Shape", [x], base)
    pieces = []
    for ga, gb in groups:
        if max(ga) < 2:
            pieces.append(b.const([old_out[k] for k in gb], base))
            continue
        if len(gb) == 1:  # one axis or several merged: their product
            v = b.dims(shape, ga[0], ga[0] + 1, base)
            for k in ga[1:]:
                v = b.add("Mul", [v, b.dims(shape, k, k + 1, base)], base)
            pieces.append(v)
        elif len(ga) == 1:  # one axis split: the first part follows it, the others are fixed
            rest = math.prod(old_out[k] for k in gb[1:])
            pieces.append(b.add("Div", [b.dims(shape, ga[0], ga[0] + 1, base), b.const([rest], base)], base))
            pieces.append(b.const([old_out[k] for k in gb[1:]], base))
        else:
            return False
    node.input[1] = b.add("Concat", pieces, base, axis=0)
    return True


def _descendants(model: onnx.ModelProto, start: str) -> set[str]:
    """Tensors computed from ``start`` (including it)."""
    out = {start}
    for n in model.graph.node:  # nodes are in topological order
        if any(t in out for t in n.input):
            out.update(t for t in n.output if t)
    return out


def _size_source(model: onnx.ModelProto, node: onnx.NodeProto, sizes: list[int], image: str | None,
                 before: _ShapesBefore, producers: dict[str, onnx.NodeProto],
                 consumers: dict[str, list[onnx.NodeProto]]) -> str | None:  # fmt: skip
    """The tensor whose spatial size a Resize's fixed ``sizes`` were read from at export.

    In order: a tensor the Resize's output is combined with (ASPP's
    concatenation, LR-ASPP's sum), the image input (an output resized to the
    input's size), the nearest ancestor of the resized tensor.  Each must have
    had exactly that spatial size in the exported model.
    """
    x = node.input[0]
    rank = len(before.get(x) or ())
    if rank < 3:
        return None
    after = _descendants(model, node.output[0])

    def fits(t: str) -> bool:
        s = before.get(t)
        return t not in after and s is not None and len(s) == rank and s[2:] == sizes

    frontier, seen = [node.output[0]], {node.output[0]}
    for _ in range(4):  # a few layers downstream (LR-ASPP: Resize -> Conv -> Add)
        nxt = []
        for t in frontier:
            for c in consumers.get(t, ()):
                for other in c.input:
                    if other and other not in after and fits(other):
                        return other
                for o in c.output:
                    if o and o not in seen:
                        seen.add(o)
                        nxt.append(o)
        frontier = nxt
    if image is not None and fits(image):
        return image
    frontier, seen = [x], {x}
    while frontier:  # breadth-first up the data inputs
        nxt = []
        for t in frontier:
            if fits(t):
                return t
            p = producers.get(t)
            for i in p.input if p is not None else ():
                if i and i not in seen:
                    seen.add(i)
                    nxt.append(i)
        frontier = nxt
    return None


def _follow_resize(model: onnx.ModelProto, node: onnx.NodeProto, image: str | None, before: _ShapesBefore,
                   producers: dict[str, onnx.NodeProto], consumers: dict[str, list[onnx.NodeProto]],
                   b: _Builder) -> bool:  # fmt: skip
    """Compute the fixed spatial part of a Resize's ``sizes`` from the tensor it came from."""
    if len(node.input) < 4 or not node.input[3]:
        return False
    rank = len(before.get(node.input[0]) or ())
    d = rank - 2
    base = node.name or node.output[0]
    sizes = node.input[3]
    whole = _const_ints(model, producers, sizes)
    cat = producers.get(sizes)
    if whole is not None and len(whole) == rank:
        src = _size_source(model, node, whole[2:], image, before, producers, consumers)
        if src is None:
            return False
        spatial = b.dims(b.add("Shape", [src], base), 2, rank, base)
        node.input[3] = b.add("Concat", [b.const(whole[:2], base), spatial], base, axis=0)
        return True
    if cat is not None and cat.op_type == "Concat" and cat.input:
        tail = _const_ints(model, producers, cat.input[-1])
        if tail is None or len(tail) != d:
            return False
        src = _size_source(model, node, tail, image, before, producers, consumers)
        if src is None:
            return False
        cat.input[-1] = b.dims(b.add("Shape", [src], base), 2, rank, base)
        return True
    return False


def follow_shapes(model: onnx.ModelProto, before: _ShapesBefore) -> int:
    """Make shape constants baked at export follow the feature maps again; returns how many were changed.

    ``torch.onnx.export`` at a fixed input size folds ``x.shape``-based
    values into constants: ShuffleNet's channel shuffle becomes a Reshape to
    ``[1, 2, 58, 28, 28]``; DeepLabV3's and LR-ASPP's ``F.interpolate(...,
    size=y.shape[-2:])`` a Resize whose ``sizes`` end in a fixed
    ``[28, 28]``.  After a stride edit (or at another input size) these
    no longer fit.  Each is replaced by the same value computed from
    ``Shape`` at run time, as the framework computed it:

    - a Reshape's constant target: ``before`` (the static shapes of the
      model as exported) tells which input axes each target axis regroups
      (one axis, several merged, or one split with fixed later parts); the
      axes that come from spatial axes are read from ``Shape(input)``;
    - a Resize's fixed spatial sizes: read from ``Shape(y)`` of the tensor
      ``y`` they were taken from (see :func:`_size_source`).

    Values that cannot be traced stay as they are (the checks then report
    them).  Nodes are added in front of their consumers; the node order
    stays topological.
    """
    producers = {o: n for n in model.graph.node for o in n.output if o}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for n in model.graph.node:
        for t in n.input:
            if t:
                consumers.setdefault(t, []).append(n)
    inits = {t.name for t in model.graph.initializer}
    image = next((v.name for v in model.graph.input if v.name not in inits), None)
    live = _descendants(model, image) if image is not None else set()
    b = _Builder(model)
    changed = 0
    for node in list(model.graph.node):
        if not node.input or node.input[0] not in live:
            continue
        if node.op_type == "Reshape" and len(node.input) > 1:
            target = _const_ints(model, producers, node.input[1])
            if target is not None and _follow_reshape(node, target, before, b):
                changed += 1
        elif node.op_type == "Resize" and _follow_resize(model, node, image, before, producers, consumers, b):
            changed += 1
    if changed:
        nodes = _topological([*model.graph.node, *b.nodes])
        del model.graph.node[:]
        model.graph.node.extend(nodes)
    return changed


def _topological(nodes: Sequence[onnx.NodeProto]) -> list[onnx.NodeProto]:
    """Nodes in an order where each comes after its producers, otherwise in the given order."""
    producer = {o: i for i, n in enumerate(nodes) for o in n.output if o}
    deps = [{producer[t] for t in n.input if t in producer and producer[t] != i} for i, n in enumerate(nodes)]
    users: dict[int, list[int]] = {}
    for i, ds in enumerate(deps):
        for d in ds:
            users.setdefault(d, []).append(i)
    waiting = [len(ds) for ds in deps]
    ready = [i for i, w in enumerate(waiting) if w == 0]
    heapq.heapify(ready)
    out = []
    while ready:
        i = heapq.heappop(ready)
        out.append(nodes[i])
        for u in users.get(i, ()):
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    if len(out) != len(nodes):  # a cycle: not ours to fix; the checker reports it
        return list(nodes)
    return out


def write_model(
    model: onnx.ModelProto, out_path: str | os.PathLike[str], source_path: str | os.PathLike[str] | None
) -> None:
    """Write ``model`` so that its external weights load from where it is written.

    In the source model's directory the references stay as they are.  Elsewhere
    each external-data file that exists is copied (bytes, not tensors) next to
    the output as ``<output name>.data`` (``<output name>.<k>.data`` for the
    k-th of several) and the references point there; offsets and lengths do
    not change.  Serialized ourselves: ``onnx.save`` would try to move
    tensors marked external (and a missing weight file is fine here).
    """
    out = os.path.abspath(os.fspath(out_path))
    out_dir = os.path.dirname(out)
    if source_path is not None:
        src_dir = os.path.dirname(os.path.abspath(os.fspath(source_path)))
        if os.path.realpath(src_dir) != os.path.realpath(out_dir):
            _relocate_external(model, src_dir, out)
    with open(out, "wb") as f:
        f.write(model.SerializeToString())


def _relocate_external(model: onnx.ModelProto, src_dir: str, out: str) -> None:
    tensors = [t for t in model.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    locations = list(dict.fromkeys(e.value for t in tensors for e in t.external_data if e.key == "location"))
    present = [loc for loc in locations if os.path.isfile(os.path.join(src_dir, loc))]
    if not present:
        return  # a weightless export: nothing to carry along
    base = os.path.basename(out)
    renamed = {loc: f"{base}.data" if len(present) == 1 else f"{base}.{k}.data" for k, loc in enumerate(present)}
    for loc, new in renamed.items():
        shutil.copyfile(os.path.join(src_dir, loc), os.path.join(os.path.dirname(out), new))
    for t in tensors:
        for e in t.external_data:
            if e.key == "location" and e.value in renamed:
                e.value = renamed[e.value]


def weightless_copy(model: onnx.ModelProto) -> onnx.ModelProto:
    """The model with every weight turned into a graph input of the same type and shape.

    What the checker and shape inference need, without the weights (which may
    be missing, or large).  Small embedded integer initializers (shape
    constants) stay initializers, so that inference can read their values.
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
        if _is_shape_constant(t):
            g.initializer.append(t)
        elif t.name not in have:
            g.input.append(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims)))
    g.sparse_initializer.extend(model.graph.sparse_initializer)
    return stub


def _is_shape_constant(t: onnx.TensorProto) -> bool:
    """An embedded int64/int32 tensor of at most 16 values (a shape, axes, pads...)."""
    return (
        t.data_location != onnx.TensorProto.EXTERNAL
        and t.data_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
        and math.prod(t.dims) <= 16
    )


def _infer(stub: onnx.ModelProto) -> onnx.ModelProto:
    """Shape inference with data propagation, lenient (the shapes it can find)."""
    try:
        return onnx.shape_inference.infer_shapes(stub, data_prop=True)
    except Exception:  # inference raises its own types on malformed models
        return stub


def check_weightless(model: onnx.ModelProto, label: str) -> onnx.ModelProto:
    """``onnx.checker`` (full check) and strict shape inference on :func:`weightless_copy`.

    Returns the inferred weightless model; errors name the node.
    """
    stub = weightless_copy(model)
    try:
        onnx.checker.check_model(stub, full_check=True)
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
    return inferred


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
