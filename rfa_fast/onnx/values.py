"""What the loader knows about tensors that are not the image: constants and shapes.

One lazy store, :class:`Tensors`, computed only when an op asks:

- it folds the small integer computations exporters write
  into the graph (``Shape -> Gather -> Add -> Div -> Pad``, ``Shape -> Slice ->
  Concat -> Resize``, Constant nodes, small initializers) with numpy.  It never
  decodes a tensor with more than :data:`MAX_ELEMENTS` elements, so weights
  are never read; a weight's *shape* comes from the initializer dims.
- it runs ``onnx.shape_inference`` once, on a copy of the graph
  whose large tensors are replaced by dims-only stubs (a 100 MB model is not
  serialized for it), and with the image input fixed to ``resolution`` when
  one is given.

Every evaluation is iterative (an explicit stack): graphs can have a million
nodes.

>>> import numpy as np
>>> from onnx import helper, numpy_helper
>>> c = helper.make_node("Constant", [], ["k"], value=numpy_helper.from_array(np.array([2, 3])))
>>> m = helper.make_node("Mul", ["k", "k"], ["k2"])
>>> x = helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 3, 8, 8])
>>> model = helper.make_model(helper.make_graph([c, m], "g", [x], []))
>>> tensors = Tensors(model, [c, m], "x", None)
>>> tensors.value("k2").tolist(), tensors.shape("x")
([4, 9], (1, 3, 8, 8))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Union

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import OnnxError

MAX_ELEMENTS = 1 << 16
"""Largest tensor the constant folder decodes (shape arguments, not weights)."""

Shape = tuple[Union[int, str, None], ...]
"""A tensor shape: an int per static dim, the symbol's name for a symbolic dim, ``None`` if unknown."""

# Unary ops whose output has the shape of their first input (for weight
# shapes seen through an Identity / DequantizeLinear chain).
_SHAPE_KEEPING = frozenset(
    {
        "Identity",
        "Cast",
        "CastLike",
        "DequantizeLinear",
        "QuantizeLinear",
        "Neg",
        "Abs",
        "Relu",
        "Sigmoid",
        "Tanh",
        "Clip",
    }
)


def attr_value(a: onnx.AttributeProto) -> Any:
    """A Python value for an attribute (faster than ``helper.get_attribute_value``)."""
    t = a.type
    if t == onnx.AttributeProto.INT:
        return a.i
    if t == onnx.AttributeProto.INTS:
        return list(a.ints)
    if t == onnx.AttributeProto.FLOAT:
        return a.f
    if t == onnx.AttributeProto.FLOATS:
        return list(a.floats)
    if t == onnx.AttributeProto.STRING:
        return a.s.decode("utf-8", "replace")
    if t == onnx.AttributeProto.STRINGS:
        return [s.decode("utf-8", "replace") for s in a.strings]
    if t == onnx.AttributeProto.TENSOR:
        return a.t
    if t == onnx.AttributeProto.GRAPH:
        return a.g
    return None


def attrs_of(node: Any) -> dict[str, Any]:
    """The attributes of a NodeProto (or the cached ones of an ``OpNode``) as a dict."""
    cached = getattr(node, "attrs", None)
    if cached is not None:
        return cached()  # type: ignore[no-any-return]
    return {a.name: attr_value(a) for a in node.attribute}


def tensor_elements(t: onnx.TensorProto) -> int:
    n = 1
    for d in t.dims:
        n *= d
    return n


def small_array(t: onnx.TensorProto) -> np.ndarray | None:
    """The tensor as numpy if it is small and its data is in the file, else ``None``."""
    if t.data_location == onnx.TensorProto.EXTERNAL or tensor_elements(t) > MAX_ELEMENTS:
        return None
    try:
        return numpy_helper.to_array(t)
    except Exception:  # data missing or malformed: a value we do not know
        return None


class Tensors:
    """Values of constant tensors and shapes of all tensors, computed on demand.

    Both come from one iterative resolver: a value may need a shape (``Shape``
    of a data tensor), and a shape ONNX inference left unknown (it does not
    fold ``Shape -> Gather -> Div -> Slice``) is recomputed node by node
    with ``onnx.shape_inference.infer_node_outputs``, given the folded values.

    Args:
        model: the model (its large tensors are never copied or decoded).
        nodes: the graph's nodes in topological order.
        image: name of the image input.
        override: the image's shape to use when ``resolution`` is given (an
            int per axis to fix, ``None`` to keep), or ``None`` to keep the
            declared shape.
        data: names of tensors computed from the image (never constant); the
            loader fills it while it walks.
    """

    def __init__(
        self,
        model: onnx.ModelProto,
        nodes: Sequence[Any],
        image: str,
        override: tuple[int | None, ...] | None,
        data: set[str] | dict[str, Any] | None = None,
    ) -> None:
        self._model = model
        self._image = image
        self._override = override
        self._producer: dict[str, Any] = {}  # OpNode (or NodeProto) by output name
        for n in nodes:
            for t in n.output:
                if t:
                    self._producer[t] = n
        self._init = {t.name: t for t in model.graph.initializer}
        self._data = data if data is not None else set()
        self._values: dict[str, np.ndarray | None] = {}
        self._dynamic: dict[str, bool] = {}
        self._why: dict[str, str] = {}  # the reason a fold failed, by output name
        self._shapes: dict[str, Shape | None] = {}
        self._elem: dict[str, int] = {}
        self._inferred: dict[str, Shape | None] | None = None
        self._declared: dict[str, Shape | None] = {}
        g = model.graph
        for vi in list(g.input) + list(g.output) + ([] if override is not None else list(g.value_info)):
            self._declared[vi.name] = value_info_shape(vi)
            self._elem[vi.name] = vi.type.tensor_type.elem_type
        if override is not None:
            declared = self._declared.get(image) or (None,) * len(override)
            self._declared[image] = tuple(v if v is not None else d for v, d in zip(override, declared))
        for t in g.initializer:
            self._elem[t.name] = t.data_type
        self.inference_ran = False
        self.dynamic_reads = 0
        """How many times a caller read a folded value computed from a shape (Shape/Size):
        the loader notes the nodes whose handler did (``Graph.size_nodes``)."""

    # -- public ------------------------------------------------------------------
    def is_initializer(self, name: str) -> bool:
        return name in self._init

    def value(self, name: str) -> np.ndarray | None:
        """The tensor's value, or ``None`` if it is not a foldable constant."""
        if not name:
            return None
        if name not in self._values:
            self._resolve(("v", name))
        v = self._values.get(name)
        if v is not None and self._dynamic.get(name, False):
            self.dynamic_reads += 1
        return v

    def dynamic(self, name: str) -> bool:
        """Whether the (folded) value depends on the shape of the image path."""
        self.value(name)
        return self._dynamic.get(name, False)

    def why(self, name: str) -> str | None:
        """Why the folder could not compute the value of ``name``, when a fold failed on its way."""
        return self._why.get(name)

    def ints(self, name: str) -> list[int] | None:
        v = self.value(name)
        if v is None:
            return None
        return [int(x) for x in np.asarray(v).reshape(-1)]

    def floats(self, name: str) -> list[float] | None:
        v = self.value(name)
        if v is None:
            return None
        return [float(x) for x in np.asarray(v).reshape(-1)]

    def shape(self, name: str) -> Shape | None:
        """The tensor's shape (see :data:`Shape`), or ``None`` if even its rank is unknown."""
        if not name:
            return None
        if name not in self._shapes:
            self._resolve(("s", name))
        return self._shapes.get(name)

    __call__ = shape

    def const_shape(self, name: str) -> Shape | None:
        """A constant's shape (weights: initializer dims), without decoding it."""
        t = name
        for _ in range(64):  # Identity/Dequantize chains are short; no unbounded walk
            init = self._init.get(t)
            if init is not None:
                return tuple(int(d) for d in init.dims)
            node = self._producer.get(t)
            if node is None:
                break
            if node.op_type == "Constant":
                for a in node.attribute:
                    if a.name == "value" and a.type == onnx.AttributeProto.TENSOR:
                        return tuple(int(d) for d in a.t.dims)
                break
            if node.op_type in _SHAPE_KEEPING and node.input:
                t = node.input[0]
                continue
            break
        return self.shape(name)

    # -- the resolver ------------------------------------------------------------------
    def _static(self, name: str) -> Shape | None:
        """Shape from declarations, then whole-graph inference (run once, lazily)."""
        s = self._declared.get(name)
        if s is not None and all(isinstance(d, int) for d in s):
            return s
        init = self._init.get(name)
        if init is not None:
            return tuple(int(d) for d in init.dims)
        if self._inferred is None:
            self._inferred = self._infer()
        inferred = self._inferred.get(name)
        if inferred is not None:
            return inferred
        return s

    def _resolve(self, goal: tuple[str, str]) -> None:
        stack = [goal]
        # Goals that asked for inputs and are not done: the current path of the
        # walk. Meeting one again among the inputs is a cycle (a tensor written
        # by two nodes, one reading the other's output); it looped forever.
        waiting: set[tuple[str, str]] = set()
        while stack:
            kind, t = stack[-1]
            done = self._values if kind == "v" else self._shapes
            if t in done:
                stack.pop()
                waiting.discard((kind, t))
                continue
            missing = self._value_step(t) if kind == "v" else self._shape_step(t)
            if missing:
                waiting.add((kind, t))
                for m in dict.fromkeys(missing):
                    if m in waiting:
                        self._unknown(m)  # on a cycle: not a constant we can fold
                    else:
                        stack.append(m)
            else:
                stack.pop()
                waiting.discard((kind, t))

    def _unknown(self, goal: tuple[str, str]) -> None:
        kind, t = goal
        if kind == "v":
            self._set_value(t, None, True)
        else:
            self._shapes[t] = None

    def _value_step(self, t: str) -> list[tuple[str, str]]:
        """Fold ``t`` if its inputs are known; else return what is missing."""
        if t in self._data:
            self._set_value(t, None, False)
            return []
        node = self._producer.get(t)
        if node is None:
            init = self._init.get(t)
            self._set_value(t, small_array(init) if init is not None else None, False)
            return []
        if node.op_type in ("Shape", "Size"):
            src = node.input[0] if node.input else ""
            if src and src not in self._shapes:
                return [("s", src)]
            v = _shape_op(node, self._shapes.get(src) if src else None)
            for out in node.output:
                if out:
                    self._set_value(out, v, True)
            return []
        missing = [("v", i) for i in node.input if i and i not in self._values]
        if missing:
            return missing
        args = [self._values.get(i) if i else None for i in node.input]
        outs, why = self._fold(node, args)
        dyn = any(self._dynamic.get(i, False) for i in node.input if i)
        for k, out in enumerate(node.output):
            if out:
                v = outs[k] if outs is not None and k < len(outs) else None
                if v is not None and v.size > MAX_ELEMENTS:
                    v = None
                self._set_value(out, v, dyn)
                if v is None and why is not None:
                    self._why[out] = why
        return []

    def _fold(self, node: Any, args: list[np.ndarray | None]) -> tuple[list[np.ndarray | None] | None, str | None]:
        """Fold one node: the numpy table, else ONNX's reference evaluator; values and why not.

        A fold that fails leaves the value unknown, never raises: the reason
        (naming the node and its op) is kept for the error of a handler that
        needs the value (:meth:`why`).
        """
        unknown = [i for i, a in zip(node.input, args) if i and a is None]
        if unknown:  # not a constant, or a fold that failed upstream: pass its reason on
            return None, next((self._why[i] for i in unknown if i in self._why), None)
        op = node.op_type
        where = f"node {node.name or next((t for t in node.output if t), op)!r} ({op})"
        if op == "Constant" or op in _FOLD:
            try:
                return _evaluate(node, args), None
            except Exception as e:  # a fold we cannot do: the value is unknown, never an error
                return None, f"{where}: {type(e).__name__}: {e}"
        from .reference_fold import FoldError, fold_reference

        try:
            return fold_reference(node, args, self._opset(node.domain)), None
        except FoldError as e:
            return None, f"{where}: {e}"

    def _shape_step(self, t: str) -> list[tuple[str, str]]:
        """Shape of ``t``: static if known, else re-inferred from its producer's inputs."""
        s = self._static(t)
        node = self._producer.get(t)
        if (s is not None and all(isinstance(d, int) for d in s)) or node is None or node.op_type == "Constant":
            if s is None and node is not None:
                v = self.value(t)
                s = tuple(v.shape) if v is not None else None
            self._shapes[t] = s
            return []
        ins = [i for i in node.input if i]
        missing = [("s", i) for i in ins if i not in self._shapes]
        missing += [("v", i) for i in ins if i not in self._values]
        if missing:
            return missing
        local = self._infer_node(node)
        for out in node.output:
            if out:
                got = local.get(out)
                prev = self._static(out)
                self._shapes[out] = got if got is not None and _better(got, prev) else prev
        return []

    def _infer_node(self, node: onnx.NodeProto) -> dict[str, Shape | None]:
        """ONNX's inference for one node, with our shapes and folded values as inputs."""
        try:
            schema = onnx.defs.get_schema(node.op_type, self._opset(node.domain), node.domain)
        except Exception:
            return {}
        types: dict[str, onnx.TypeProto] = {}
        values: dict[str, onnx.TensorProto] = {}
        for i in node.input:
            if not i:
                continue
            s = self._shapes.get(i)
            elem = self._elem.get(i) or onnx.TensorProto.FLOAT
            if s is None:
                types[i] = onnx.helper.make_tensor_type_proto(elem, None)
            else:
                types[i] = onnx.helper.make_tensor_type_proto(
                    elem, [d if isinstance(d, (int, str)) else None for d in s]
                )
            v = self._values.get(i)
            if v is not None:
                try:
                    values[i] = numpy_helper.from_array(np.asarray(v), i)
                except Exception:
                    pass
        try:
            proto = node.proto if hasattr(node, "proto") else node
            out = onnx.shape_inference.infer_node_outputs(
                schema, proto, types, values, opset_imports=list(self._model.opset_import)
            )
        except Exception:
            return {}
        result: dict[str, Shape | None] = {}
        for name, tp in out.items():
            if tp.HasField("tensor_type") and tp.tensor_type.HasField("shape"):
                result[name] = tuple(_dim(d) for d in tp.tensor_type.shape.dim)
                self._elem.setdefault(name, tp.tensor_type.elem_type)
        return result

    def _opset(self, domain: str) -> int:
        for o in self._model.opset_import:
            if (o.domain or "") == (domain or "") or (o.domain in ("", "ai.onnx") and domain in ("", "ai.onnx")):
                return o.version
        return onnx.defs.onnx_opset_version()

    def _infer(self) -> dict[str, Shape | None]:
        self.inference_ran = True
        stub = _stub_model(self._model, self._image, self._override)
        try:
            # ONNX's data propagation materializes every 1-D integer tensor it
            # follows, whatever its declared length: a ConstantOfShape of length
            # 2^57 in a mutated file allocated past 6 GB. A first pass without
            # it (no values, only shapes) shows such vectors; then the loader
            # keeps that pass (data_prop only refines sizes).
            inferred = onnx.shape_inference.infer_shapes(stub, data_prop=False)
            if not _long_int_vector(inferred.graph):
                inferred = onnx.shape_inference.infer_shapes(stub, data_prop=True)
        except Exception:  # inference is a help, never a hard requirement
            return {}
        out: dict[str, Shape | None] = {}
        g = inferred.graph
        for vi in list(g.value_info) + list(g.output) + list(g.input):
            out[vi.name] = value_info_shape(vi)
            self._elem.setdefault(vi.name, vi.type.tensor_type.elem_type)
        return out

    def _set_value(self, name: str, v: np.ndarray | None, dyn: bool) -> None:
        self._values[name] = v
        self._dynamic[name] = dyn


def _better(a: Shape, b: Shape | None) -> bool:
    """Whether shape ``a`` knows more static dims than ``b``."""
    if b is None:
        return True
    return sum(isinstance(d, int) for d in a) >= sum(isinstance(d, int) for d in b)


_MISSING = object()


def _shape_op(node: onnx.NodeProto, s: Shape | None) -> np.ndarray | None:
    if s is None or not all(isinstance(d, int) for d in s):
        return None
    if node.op_type == "Size":
        size = 1
        for d in s:
            size *= int(d)  # type: ignore[arg-type]
        return np.array(size, dtype=np.int64)
    a = attrs_of(node)
    r = len(s)
    start = a.get("start", 0)
    end = a.get("end", r)
    start = max(0, min(r, start + r if start < 0 else start))
    end = max(0, min(r, end + r if end < 0 else end))
    return np.array(s[start:end], dtype=np.int64)


def _evaluate(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    """Fold one node on numpy values; ``None`` when the op or an input is unknown."""
    op = node.op_type
    if op == "Constant":
        return [_constant(node)]
    fn = _FOLD.get(op)
    if fn is None:
        return None
    # Optional inputs may be absent (None); required ones are checked by fn.
    return fn(node, args)


def _constant(node: onnx.NodeProto) -> np.ndarray | None:
    for a in node.attribute:
        if a.name == "value":
            return small_array(a.t)
        if a.name == "value_int":
            return np.array(a.i, dtype=np.int64)
        if a.name == "value_ints":
            return np.array(list(a.ints), dtype=np.int64)
        if a.name == "value_float":
            return np.array(a.f, dtype=np.float32)
        if a.name == "value_floats":
            return np.array(list(a.floats), dtype=np.float32)
    return None


def _need(args: list[np.ndarray | None], n: int) -> bool:
    return len(args) >= n and all(a is not None for a in args[:n])


def _axes_arg(node: onnx.NodeProto, args: list[np.ndarray | None], index: int) -> list[int] | None:
    a = attrs_of(node)
    if "axes" in a:
        return list(a["axes"])
    if len(args) > index and args[index] is not None:
        return [int(x) for x in np.asarray(args[index]).reshape(-1)]
    return None


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., list[np.ndarray | None] | None]:
    def run(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
        if not _need(args, 2):
            return None
        return [np.asarray(fn(args[0], args[1]))]  # type: ignore[arg-type]

    return run


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        # ONNX integer division truncates toward zero.
        q = np.abs(a) // np.abs(b)
        return (np.sign(a) * np.sign(b) * q).astype(np.result_type(a, b))
    return a / b


def _pow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    # ONNX's Pow has the type of its base, whatever the exponent's.
    return np.asarray(np.power(a, b)).astype(np.asarray(a).dtype)


def _mod(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 2):
        return None
    # fmod=0 (integers): the sign of the divisor, like Python's %; fmod=1: C's fmod.
    fn = np.fmod if attrs_of(node).get("fmod", 0) else np.mod
    return [np.asarray(fn(args[0], args[1]))]  # type: ignore[arg-type]


def _variadic(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[..., list[np.ndarray | None] | None]:
    def run(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
        if not args or any(a is None for a in args):
            return None
        out = args[0]
        for a in args[1:]:
            out = fn(out, a)  # type: ignore[arg-type]
        return [np.asarray(out)]

    return run


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[..., list[np.ndarray | None] | None]:
    def run(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
        if not _need(args, 1):
            return None
        return [np.asarray(fn(args[0]))]  # type: ignore[arg-type]

    return run


def _cast(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    to = attrs_of(node).get("to")
    try:
        dtype = onnx.helper.tensor_dtype_to_np_dtype(int(to))  # type: ignore[arg-type]
    except Exception:
        return None
    return [np.asarray(args[0]).astype(dtype)]


def _gather(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 2):
        return None
    axis = attrs_of(node).get("axis", 0)
    return [np.take(np.asarray(args[0]), np.asarray(args[1], dtype=np.int64), axis=axis)]


def _concat(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not args or any(a is None for a in args):
        return None
    axis = attrs_of(node).get("axis", 0)
    return [np.concatenate([np.atleast_1d(np.asarray(a)) for a in args], axis=axis)]


def _unsqueeze(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    axes = _axes_arg(node, args, 1)
    if axes is None:
        return None
    x = np.asarray(args[0])
    r = x.ndim + len(axes)
    for ax in sorted(a + r if a < 0 else a for a in axes):
        x = np.expand_dims(x, ax)
    return [x]


def _squeeze(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    axes = _axes_arg(node, args, 1)
    x = np.asarray(args[0])
    if axes is None:
        return [np.squeeze(x)]
    return [np.squeeze(x, axis=tuple(a + x.ndim if a < 0 else a for a in axes))]


def _slice(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    a = attrs_of(node)
    if "starts" in a:  # opset < 10: attributes
        if not _need(args, 1):
            return None
        starts, ends = a["starts"], a["ends"]
        axes = a.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        if not _need(args, 3):
            return None
        starts = [int(v) for v in np.asarray(args[1]).reshape(-1)]
        ends = [int(v) for v in np.asarray(args[2]).reshape(-1)]
        axes = (
            [int(v) for v in np.asarray(args[3]).reshape(-1)]
            if len(args) > 3 and args[3] is not None
            else list(range(len(starts)))
        )
        steps = (
            [int(v) for v in np.asarray(args[4]).reshape(-1)]
            if len(args) > 4 and args[4] is not None
            else [1] * len(starts)
        )
    x = np.asarray(args[0])
    index = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[ax + x.ndim if ax < 0 else ax] = slice(s, e, st)
    return [x[tuple(index)]]


def _reshape(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 2):
        return None
    x = np.asarray(args[0])
    shape = [int(v) for v in np.asarray(args[1]).reshape(-1)]
    shape = [x.shape[i] if v == 0 and i < x.ndim else v for i, v in enumerate(shape)]
    return [x.reshape(shape)]


def _constant_of_shape(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    shape = [int(v) for v in np.asarray(args[0]).reshape(-1)]
    if int(np.prod(shape, dtype=np.int64)) > MAX_ELEMENTS:
        return None
    t = attrs_of(node).get("value")
    fill = small_array(t) if t is not None else np.zeros(1, np.float32)
    if fill is None:
        return None
    return [np.full(shape, fill.reshape(-1)[0], dtype=fill.dtype)]


def _range(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 3):
        return None
    start, limit, delta = (np.asarray(a).reshape(()) for a in args[:3])  # type: ignore[union-attr]
    if delta == 0 or abs((limit - start) / delta) > MAX_ELEMENTS:
        return None
    return [np.arange(start, limit, delta, dtype=np.result_type(start, limit, delta))]  # type: ignore[call-overload]


def _where(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 3):
        return None
    return [np.asarray(np.where(args[0], args[1], args[2]))]  # type: ignore[arg-type]


def _reduce(fn: Callable[..., np.ndarray]) -> Callable[..., list[np.ndarray | None] | None]:
    def run(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
        if not _need(args, 1):
            return None
        x = np.asarray(args[0])
        axes = _axes_arg(node, args, 1)
        a = attrs_of(node)
        if not axes and a.get("noop_with_empty_axes", 0):
            return [x]
        keep = bool(a.get("keepdims", 1))
        ax = None if not axes else tuple(v + x.ndim if v < 0 else v for v in axes)
        # numpy widens small integers in sums and products; ONNX keeps the input's type
        return [np.asarray(fn(x, axis=ax, keepdims=keep)).astype(x.dtype, copy=False)]

    return run


def _expand(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 2):
        return None
    shape = [int(v) for v in np.asarray(args[1]).reshape(-1)]
    x = np.asarray(args[0])
    out_shape = np.broadcast_shapes(x.shape, tuple(shape))
    if int(np.prod(out_shape, dtype=np.int64)) > MAX_ELEMENTS:
        return None
    return [np.broadcast_to(x, out_shape).copy()]


def _transpose(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    perm = attrs_of(node).get("perm")
    return [np.transpose(args[0], perm)]  # type: ignore[arg-type]


def _split(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    a = attrs_of(node)
    x = np.asarray(args[0])
    axis = a.get("axis", 0)
    sizes = a.get("split")
    if sizes is None and len(args) > 1 and args[1] is not None:
        sizes = [int(v) for v in np.asarray(args[1]).reshape(-1)]
    n_out = len(node.output)
    if sizes is None:
        # Equal parts; with opset 18's num_outputs, parts of ceil(n / k) and a smaller last one.
        n = x.shape[axis]
        step = -(-n // n_out)
        if n % n_out == 0 or "num_outputs" not in a:
            return [np.asarray(p) for p in np.array_split(x, n_out, axis=axis)]
        return [np.asarray(p) for p in np.split(x, list(range(step, n, step)), axis=axis)]
    return [np.asarray(p) for p in np.split(x, np.cumsum(sizes)[:-1], axis=axis)]


def _identity(node: onnx.NodeProto, args: list[np.ndarray | None]) -> list[np.ndarray | None] | None:
    if not _need(args, 1):
        return None
    return [args[0]]


_FOLD: dict[str, Callable[[onnx.NodeProto, list[np.ndarray | None]], list[np.ndarray | None] | None]] = {
    "Identity": _identity,
    "Cast": _cast,
    "Gather": _gather,
    "Concat": _concat,
    "Unsqueeze": _unsqueeze,
    "Squeeze": _squeeze,
    "Slice": _slice,
    "Reshape": _reshape,
    "ConstantOfShape": _constant_of_shape,
    "Range": _range,
    "Where": _where,
    "Expand": _expand,
    "Transpose": _transpose,
    "Split": _split,
    "Add": _binary(np.add),
    "Sub": _binary(np.subtract),
    "Mul": _binary(np.multiply),
    "Div": _binary(_div),
    "Mod": _mod,
    "Pow": _binary(_pow),
    "Equal": _binary(np.equal),
    "Less": _binary(np.less),
    "Greater": _binary(np.greater),
    "LessOrEqual": _binary(np.less_equal),
    "GreaterOrEqual": _binary(np.greater_equal),
    "And": _binary(np.logical_and),
    "Or": _binary(np.logical_or),
    "Max": _variadic(np.maximum),
    "Min": _variadic(np.minimum),
    "Sum": _variadic(np.add),
    "Neg": _unary(np.negative),
    "Abs": _unary(np.abs),
    "Floor": _unary(np.floor),
    "Ceil": _unary(np.ceil),
    "Round": _unary(np.round),
    "Sqrt": _unary(np.sqrt),
    "Not": _unary(np.logical_not),
    "ReduceProd": _reduce(np.prod),
    "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max),
    "ReduceMin": _reduce(np.min),
}


_INT_TYPES = frozenset(
    {onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.UINT64, onnx.TensorProto.UINT32}
)


def _long_int_vector(g: onnx.GraphProto) -> bool:
    """Whether some 1-D integer tensor has more than MAX_ELEMENTS entries (a shape vector never does)."""
    for vi in g.value_info:
        tt = vi.type.tensor_type
        if tt.elem_type in _INT_TYPES and len(tt.shape.dim) == 1 and tt.shape.dim[0].dim_value > MAX_ELEMENTS:
            return True
    return False


def value_info_shape(vi: onnx.ValueInfoProto) -> Shape | None:
    """A value's shape (see :data:`Shape`), or ``None`` when its rank is unknown."""
    tt = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not tt.HasField("shape"):
        return None
    return tuple(_dim(d) for d in tt.shape.dim)


def _dim(d: onnx.TensorShapeProto.Dimension) -> int | str | None:
    if d.HasField("dim_value") and d.dim_value > 0:
        return int(d.dim_value)
    # (a dim_param that is not UTF-8 comes back as bytes: unknown, like a missing one)
    if d.HasField("dim_param") and isinstance(d.dim_param, str) and d.dim_param and not d.dim_param.startswith("unk__"):
        # Named symbols (a user's "height") compare by name; ONNX's anonymous
        # unk__N placeholders say nothing.
        return d.dim_param
    return None


def _stub_tensor(t: onnx.TensorProto) -> onnx.TensorProto:
    """Dims and type only: what shape inference reads of a weight."""
    s = onnx.TensorProto(name=t.name, data_type=t.data_type, dims=t.dims)
    s.data_location = onnx.TensorProto.EXTERNAL
    s.external_data.add(key="location", value="rfa_fast-stub")
    return s


def _stub_model(model: onnx.ModelProto, image: str, override: tuple[int | None, ...] | None) -> onnx.ModelProto:
    """A copy of the model for shape inference without its large tensors."""
    src = model.graph
    stub = onnx.ModelProto(ir_version=model.ir_version)
    stub.opset_import.extend(model.opset_import)
    g = stub.graph
    g.name = src.name
    for n in src.node:
        if n.op_type == "Constant" and len(n.attribute) != 1 and n.domain in ("", "ai.onnx"):
            # The spec wants exactly one value attribute. ONNX's inference reads
            # a stray INTS attribute as the value and its data propagation then
            # allocates a tensor of that size (a mutated model took 23 GB).
            names = [a.name for a in n.attribute]
            raise OnnxError(f"node {n.name!r} (Constant): needs exactly one value attribute, has {names}")
        if n.op_type == "Constant" and any(
            a.name == "value" and a.type == onnx.AttributeProto.TENSOR and tensor_elements(a.t) > MAX_ELEMENTS
            for a in n.attribute
        ):
            c = g.node.add(op_type="Constant", name=n.name, domain=n.domain)
            c.output.extend(n.output)
            big = next(a.t for a in n.attribute if a.name == "value")
            c.attribute.add(name="value", type=onnx.AttributeProto.TENSOR).t.CopyFrom(_stub_tensor(big))
        else:
            g.node.add().CopyFrom(n)
    for t in src.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL or tensor_elements(t) > MAX_ELEMENTS:
            g.initializer.add().CopyFrom(_stub_tensor(t))
        else:
            g.initializer.add().CopyFrom(t)
    g.sparse_initializer.extend(src.sparse_initializer)
    for vi in src.input:
        new = g.input.add()
        new.CopyFrom(vi)
        if override is not None and vi.name == image:
            for d, v in zip(new.type.tensor_type.shape.dim, override):
                if v is not None:
                    d.Clear()
                    d.dim_value = int(v)
    if override is None:
        g.output.extend(src.output)
        g.value_info.extend(src.value_info)
    else:
        # Declared output shapes hold the exported size: drop them so they
        # cannot contradict the resolution asked for.
        for vi in src.output:
            new = g.output.add(name=vi.name)
            if vi.type.HasField("tensor_type"):
                new.type.tensor_type.elem_type = vi.type.tensor_type.elem_type
    stub.functions.extend(model.functions)
    return stub
