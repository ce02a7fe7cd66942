"""The loader's state while it walks an ONNX graph, and the helpers op handlers use.

A tensor computed from the image is *data*; everything else (weights, shape
arithmetic, other graph inputs) is *constant* for the analysis.  For each data
tensor the loader keeps a :class:`Data`: which emitted node produces it (pass-
through ops point to their producer, so chains of ReLUs collapse), where its
spatial axes are (its *layout*; a channel-only Reshape/Transpose moves them,
a Flatten loses them) and whether it is already global.

Handlers (``ops.py``) read attributes, constants and shapes through a
:class:`Context` and call :meth:`Context.emit` / :meth:`Context.alias`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import onnx

from ..errors import OnnxError, UnsupportedOpError
from ..kinds import Kind, PadMode, ResizeMode
from .order import OpNode
from .values import Shape, Tensors


class Data:
    """What the loader knows about one data tensor.

    Attributes:
        node: index of the emitted record producing it.
        layout: the tensor axes holding spatial axes 0..D-1, or ``None`` once
            the spatial structure is gone (after a Flatten; then ``is_global``,
            or ``flat``).
        rank: the tensor's rank, when known.
        is_global: True when its field is already the whole input.
        flat: set while a Reshape has merged the spatial axes with others but
            no op has mixed positions yet (GroupNorm's ``Reshape ->
            InstanceNorm -> Reshape``): the last shape and layout where the
            axes were separate, and the Reshape's name.  A Reshape back to
            that structure restores the layout (reshapes keep row-major
            order); any other op sees the tensor as global.
    """

    __slots__ = ("node", "layout", "rank", "is_global", "flat")

    def __init__(
        self,
        node: int,
        layout: tuple[int, ...] | None,
        rank: int | None,
        is_global: bool,
        flat: Flat | None = None,
    ) -> None:
        self.node = node
        self.layout = layout
        self.rank = rank
        self.is_global = is_global
        self.flat = flat

    def __repr__(self) -> str:
        return (
            f"Data(node={self.node}, layout={self.layout}, rank={self.rank}, global={self.is_global}, flat={self.flat})"
        )


class Flat:
    """Where a flattened tensor's spatial axes were (see :attr:`Data.flat`)."""

    __slots__ = ("name", "shape", "layout", "materialized")

    def __init__(self, name: str, shape: Shape, layout: tuple[int, ...]) -> None:
        self.name = name
        self.shape = shape
        self.layout = layout
        self.materialized: dict[int, Data] = {}

    def __repr__(self) -> str:
        return f"Flat({self.name!r}, {self.shape}, {self.layout})"


class Record:
    """An emitted node before it becomes a :class:`~rfa_fast.graph.Node`.

    ``kind is None`` marks a Pad waiting to be folded into its consumers
    (``fold.py``); ``pad_dynamic`` says its pads were computed from the input
    shape at run time (TF-style SAME), ``pad_n`` the nominal size it saw.
    """

    __slots__ = (
        "name",
        "op",
        "kind",
        "inputs",
        "kernel",
        "stride",
        "dilation",
        "pad_begin",
        "pad_end",
        "pad_mode",
        "ceil_mode",
        "scale",
        "mode",
        "weighted",
        "c_in",
        "c_out",
        "groups",
        "attrs",
        "pad_dynamic",
        "pad_n",
    )

    def __init__(self, name: str, op: str, kind: Kind | None, inputs: list[int], dims: int) -> None:
        one, zero = (1,) * dims, (0,) * dims
        self.name = name
        self.op = op
        self.kind = kind
        self.inputs = inputs
        self.kernel: tuple[int, ...] = one
        self.stride: tuple[int, ...] = one
        self.dilation: tuple[int, ...] = one
        self.pad_begin: tuple[int, ...] = zero
        self.pad_end: tuple[int, ...] = zero
        self.pad_mode = PadMode.EXPLICIT
        self.ceil_mode = False
        self.scale: tuple[float, ...] = (1.0,) * dims
        self.mode = ResizeMode.NEAREST
        self.weighted = False
        self.c_in = 0
        self.c_out = 0
        self.groups = 1
        self.attrs: dict[str, Any] = {}
        self.pad_dynamic = False
        self.pad_n: tuple[int | None, ...] | None = None


_KEEP: Any = object()  # alias(): keep the source's layout / rank


class Context:
    """State of one load: emitted records, data tensors, constants, shapes, notes."""

    def __init__(
        self,
        model: onnx.ModelProto,
        label: str,
        dims: int,
        strict: bool,
        tensors: Tensors,
        data: dict[str, Data],
        dynamic_input: bool,
    ) -> None:
        self.model = model
        self.label = label
        self.dims = dims
        self.strict = strict
        self.tensors = tensors
        self.dynamic_input = dynamic_input
        self.records: list[Record] = []
        self.data = data
        self.names: set[str] = set()
        self.notes: dict[str, list[str]] = {}
        self.unknown_ops: dict[str, None] = {}  # ordered set of op types
        self.opsets = {(o.domain or "ai.onnx"): o.version for o in model.opset_import}
        self.canonical = tuple(range(2, dims + 2))
        self.size_reads = 0  # spatial sizes read at the load resolution (see Graph.size_nodes)
        self.size_nodes: list[str] = []  # the nodes whose geometry used them

    # -- reading the node ----------------------------------------------------
    def opset(self, node: OpNode) -> int:
        """The opset version of the node's domain (ai.onnx by default)."""
        v = self.opsets.get(node.domain or "ai.onnx")
        return v if v is not None else onnx.defs.onnx_opset_version()

    @staticmethod
    def attrs(node: OpNode) -> dict[str, Any]:
        return node.attrs()

    @staticmethod
    def node_name(node: OpNode) -> str:
        """The node's name, or its first output's name when it has none."""
        if node.name:
            return node.name
        return next((t for t in node.output if t), node.op_type)

    def where(self, node: OpNode) -> str:
        return f"{self.label}: node {self.node_name(node)!r} ({node.op_type}, opset {self.opset(node)})"

    def fail(self, node: OpNode, message: str) -> OnnxError:
        """An error naming the file, the node and its op (raise it)."""
        return OnnxError(f"{self.where(node)}: {message}")

    def needs_resolution(self, node: OpNode, what: str) -> OnnxError:
        hint = "; the input's spatial size is dynamic: pass resolution= to load_onnx" if self.dynamic_input else ""
        why = next((w for w in map(self.tensors.why, node.input) if w), None)
        if why is not None:  # a constant fold failed on the way: say where and why
            hint += f"; the constant folder could not evaluate {why}"
        return self.fail(node, f"{what} is not known statically{hint}")

    def unsupported(self, node: OpNode, why: str = "is not supported by rfa_fast") -> UnsupportedOpError:
        return UnsupportedOpError(f"{self.where(node)}: op {node.op_type} {why}")

    def note(self, category: str, text: str) -> None:
        """Remember something to warn about once per category at the end of the load."""
        self.notes.setdefault(category, []).append(text)

    def data_inputs(self, node: OpNode) -> list[Data]:
        """The node's data inputs, in input order (constants left out)."""
        out = []
        for t in node.input:
            if t:
                d = self.data.get(t)
                if d is not None:
                    out.append(d)
        return out

    def first_input(self, node: OpNode) -> Data | None:
        """The data at input 0, or None when input 0 is a constant."""
        return self.data.get(node.input[0]) if node.input and node.input[0] else None

    def shape(self, name: str) -> Shape | None:
        return self.tensors.shape(name)

    def spatial_sizes(self, node: OpNode, name: str, layout: Sequence[int], what: str) -> tuple[int, ...]:
        """The static size of each spatial axis of tensor ``name`` (an error if unknown)."""
        s = self.tensors.shape(name)
        if s is None or any(p >= len(s) or not isinstance(s[p], int) for p in layout):
            raise self.needs_resolution(node, what)
        self.size_reads += 1
        return tuple(int(s[p]) for p in layout)  # type: ignore[arg-type]

    # -- writing ---------------------------------------------------------------
    def unique_name(self, name: str) -> str:
        if name not in self.names:
            self.names.add(name)
            return name
        k = 1
        while f"{name}#{k}" in self.names:
            k += 1
        self.names.add(f"{name}#{k}")
        return f"{name}#{k}"

    def record(self, name: str, op: str, kind: Kind | None, inputs: Sequence[Data]) -> Record:
        """Append a record (fill its fields, then :meth:`define` its outputs)."""
        rec = Record(self.unique_name(name), op, kind, _unique_nodes(inputs), self.dims)
        self.records.append(rec)
        return rec

    def define(
        self, tensor: str, rec_or_node: Record | int, layout: tuple[int, ...] | None, rank: int | None, is_global: bool
    ) -> Data:
        idx = rec_or_node if isinstance(rec_or_node, int) else len(self.records) - 1
        d = Data(idx, layout, rank, is_global)
        if tensor:
            self.data[tensor] = d
        return d

    def emit(
        self,
        node: OpNode,
        kind: Kind,
        inputs: Sequence[Data],
        *,
        layout: tuple[int, ...] | None = None,
        rank: int | None = None,
        outputs: Sequence[str] | None = None,
        name: str | None = None,
        **fields: Any,
    ) -> Record:
        """Emit one record for ``node`` and define its outputs (all of them by default).

        ``layout``/``rank`` default to those of the first input; ``fields``
        set :class:`Record` attributes (kernel, stride, ...).
        """
        rec = self.record(name if name is not None else self.node_name(node), node.op_type, kind, inputs)
        for k, v in fields.items():
            setattr(rec, k, v)
        if kind == Kind.GLOBAL:
            is_global = True
        elif kind == Kind.MERGE:
            is_global = all(d.is_global for d in inputs)
        else:
            is_global = inputs[0].is_global
        if layout is None and kind != Kind.GLOBAL and inputs:
            layout, rank = inputs[0].layout, inputs[0].rank if rank is None else rank
        if rank is None and inputs:
            rank = inputs[0].rank
        idx = len(self.records) - 1
        for t in node.output if outputs is None else outputs:
            if t:
                self.data[t] = Data(idx, layout, rank, is_global)
        return rec

    def materialize(self, d: Data) -> Data:
        """A flattened tensor used by an op that mixes positions: a GLOBAL node named after its Reshape."""
        if d.flat is None:
            return d
        hit = d.flat.materialized.get(d.node)
        if hit is None:
            rec = self.record(d.flat.name, "Reshape", Kind.GLOBAL, [d])
            del rec
            hit = Data(len(self.records) - 1, None, d.rank, True)
            d.flat.materialized[d.node] = hit
        return hit

    def alias(
        self,
        node: OpNode,
        src: Data,
        *,
        layout: Any = _KEEP,
        rank: Any = _KEEP,
        outputs: Sequence[str] | None = None,
    ) -> None:
        """Make the node's outputs point to ``src``'s producer (a pass-through)."""
        lay = src.layout if layout is _KEEP else layout
        rk = src.rank if rank is _KEEP else rank
        for t in node.output if outputs is None else outputs:
            if t:
                self.data[t] = Data(src.node, lay, rk, src.is_global)


def _unique_nodes(inputs: Sequence[Data]) -> list[int]:
    seen: list[int] = []
    for d in inputs:
        if d.node not in seen:
            seen.append(d.node)
    return seen
