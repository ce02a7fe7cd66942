"""The capture's state: which tensors carry the image, the layers emitted so far, the module stack.

A tensor computed from the image is *tracked*: the capture keeps, for its
``id``, a :class:`Data` (which emitted layer produces it, where its spatial
axes are, whether its field is already the whole input) and a reference to
the tensor itself, so the ``id`` cannot be reused while the capture runs.
Everything else (parameters, buffers, tensors made from shapes) is a constant
for the analysis.  Op handlers (``ops.py``) read tracked inputs and call
:meth:`State.emit` (a layer) or :meth:`State.alias` (a pass-through).

This module imports no torch: it only stores what handlers give it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..errors import TorchError
from ..graph import Graph, Node
from ..kinds import Kind, PadMode, ResizeMode


class Data:
    """What the capture knows about one tracked tensor.

    Attributes:
        node: index of the emitted record producing it.
        layout: the tensor axes holding spatial axes 0..D-1 (``(2, 3)`` for
            NCHW), or ``None`` once the spatial structure is gone.
        rank: the tensor's rank.
        is_global: True when its field is already the whole input.
    """

    __slots__ = ("node", "layout", "rank", "is_global")

    def __init__(self, node: int, layout: tuple[int, ...] | None, rank: int, is_global: bool) -> None:
        self.node = node
        self.layout = layout
        self.rank = rank
        self.is_global = is_global

    def moved(self, layout: tuple[int, ...] | None, rank: int) -> Data:
        """The same producer with the spatial axes elsewhere (a permute, an unsqueeze...)."""
        return Data(self.node, layout, rank, self.is_global)

    def __repr__(self) -> str:
        return f"Data(node={self.node}, layout={self.layout}, rank={self.rank}, global={self.is_global})"


class Record:
    """An emitted layer before it becomes a :class:`~rfa_fast.graph.Node`.

    ``kind is None`` marks an ``F.pad`` waiting to be folded into the windows
    it feeds (:func:`fold_pads`).
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

    def node(self, inputs: tuple[int, ...]) -> Node:
        return Node(
            self.name,
            self.op,
            self.kind if self.kind is not None else Kind.WINDOW,
            inputs,
            kernel=self.kernel,
            stride=self.stride,
            dilation=self.dilation,
            pad_begin=self.pad_begin,
            pad_end=self.pad_end,
            pad_mode=self.pad_mode,
            ceil_mode=self.ceil_mode,
            scale=self.scale,
            mode=self.mode,
            weighted=self.weighted,
            c_in=self.c_in,
            c_out=self.c_out,
            groups=self.groups,
            attrs=self.attrs,
        )


class State:
    """One capture: tracked tensors, records, names, the stack of module paths, notes."""

    def __init__(self, dims: int, strict: bool, label: str) -> None:
        self.dims = dims
        self.strict = strict
        self.label = label
        self.records: list[Record] = []
        self.tracked: dict[int, tuple[Data, Any]] = {}  # id(tensor) -> (data, the tensor, kept alive)
        self.names: dict[str, int] = {}
        self.stack: list[str] = []  # module paths, innermost last ("" is the root module)
        self.notes: dict[str, list[str]] = {}
        self.unknown: dict[str, None] = {}  # ordered set of function names
        self.twins: dict[int, tuple[Any, Any]] = {}  # id(real tensor) -> (it, its meta twin)

    # -- tracked tensors ---------------------------------------------------------
    def data(self, t: Any) -> Data | None:
        hit = self.tracked.get(id(t))
        return hit[0] if hit is not None and hit[1] is t else None

    def define(self, t: Any, d: Data) -> Any:
        self.tracked[id(t)] = (d, t)
        return t

    # -- naming ------------------------------------------------------------------
    @property
    def path(self) -> str:
        """The module path of the innermost module running (``""``: the root)."""
        return self.stack[-1] if self.stack else ""

    def unique_name(self, name: str) -> str:
        """``name`` the first time, then ``name#1``, ``name#2``... (the ONNX loader's rule)."""
        k = self.names.get(name)
        if k is None:
            self.names[name] = 0
            return name
        while True:
            k += 1
            cand = f"{name}#{k}"
            if cand not in self.names:
                self.names[name] = k
                self.names[cand] = 0
                return cand

    def where(self, fn: str) -> str:
        """``module 'layer1.0' (add)``: the running module and the function, for messages."""
        path = self.path
        return f"module {path!r} ({fn})" if path else f"the root module ({fn})"

    def fail(self, fn: str, message: str) -> TorchError:
        return TorchError(f"{self.label}: {self.where(fn)}: {message}", self.path)

    def note(self, category: str, text: str) -> None:
        self.notes.setdefault(category, []).append(text)

    # -- emitting ------------------------------------------------------------------
    def emit(
        self,
        op: str,
        kind: Kind | None,
        inputs: Sequence[Data],
        *,
        layout: tuple[int, ...] | None,
        rank: int,
        name: str | None = None,
        **fields: Any,
    ) -> Data:
        """Append a record (named after the running module, or ``op`` at the root); returns its output."""
        base = name if name is not None else (self.path or op)
        nodes: list[int] = []
        for d in inputs:
            if d.node not in nodes:
                nodes.append(d.node)
        # a pending pad takes a name only if it stays (fold_pads): a folded one leaves the name to its window
        rec = Record(self.unique_name(base) if kind is not None else base, op, kind, nodes, self.dims)
        for k, v in fields.items():
            setattr(rec, k, v)
        self.records.append(rec)
        if kind == Kind.GLOBAL:
            is_global = True
        elif kind == Kind.MERGE:
            is_global = all(d.is_global for d in inputs)
        else:
            is_global = inputs[0].is_global if inputs else False
        return Data(len(self.records) - 1, layout, rank, is_global)

    # -- the graph -------------------------------------------------------------------
    def graph(self, outputs: Sequence[int], name: str, input_shape: tuple[int, ...]) -> Graph:
        """The records as a :class:`Graph`, pads folded into the windows they feed."""
        records, index = fold_pads(self.records, outputs, self.unique_name)
        nodes = [r.node(tuple(dict.fromkeys(index[p] for p in r.inputs))) for r in records]
        outs = list(dict.fromkeys(index[o] for o in outputs))
        return Graph(nodes, name=name, dims=self.dims, input_shape=input_shape, outputs=outs)


def fold_pads(
    records: list[Record], outputs: Sequence[int], unique_name: Callable[[str], str] = str
) -> tuple[list[Record], list[int]]:
    """Fold pending ``F.pad`` records into the windows they feed; returns records and old->new indices.

    A pad folds when it is not an output and every consumer is an explicitly
    padded WINDOW without ceil_mode (the ONNX loader's rule, docs/onnx.md):
    its pads add to the consumer's.  Otherwise it stays as a WINDOW with
    kernel 1 and those pads, named then with ``unique_name``.  Folded records
    map to their input's index.
    """
    n = len(records)
    if all(r.kind is not None for r in records):
        return records, list(range(n))
    uses: list[list[int]] = [[] for _ in range(n)]
    for i, r in enumerate(records):
        for p in r.inputs:
            uses[p].append(i)
    out_set = set(outputs)
    removed = [False] * n
    for i in range(n - 1, -1, -1):
        r = records[i]
        if r.kind is not None:
            continue
        cons = [c for c in uses[i] if not removed[c]]
        foldable = (
            i not in out_set
            and bool(cons)
            and all(
                records[c].kind == Kind.WINDOW
                and records[c].pad_mode == PadMode.EXPLICIT
                and not records[c].ceil_mode
                and records[c].inputs == [i]
                for c in cons
            )
        )
        if not foldable:
            r.kind = Kind.WINDOW
            r.name = unique_name(r.name)
            continue
        for c in cons:
            w = records[c]
            if _is_same_upper(r, w):
                w.pad_mode = PadMode.SAME_UPPER  # the pads follow the resolution, as the model computes them
            else:
                w.pad_begin = tuple(a + b for a, b in zip(w.pad_begin, r.pad_begin))
                w.pad_end = tuple(a + b for a, b in zip(w.pad_end, r.pad_end))
            w.inputs = list(r.inputs)
            w.attrs["folded_pad"] = r.name
            for p in r.inputs:
                uses[p].append(c)
        removed[i] = True
    index: list[int] = []
    kept: list[Record] = []
    for i, r in enumerate(records):
        if removed[i]:
            index.append(index[r.inputs[0]])
        else:
            index.append(len(kept))
            kept.append(r)
    return kept, index


def _is_same_upper(pad: Record, win: Record) -> bool:
    """Whether ``pad`` holds run-time SAME pads (``attrs["same_pad_n"]``, the input size) equal to the
    SAME_UPPER pads of ``win`` at that size, ``win`` having no pads of its own."""
    sizes = pad.attrs.get("same_pad_n")
    if sizes is None or any(win.pad_begin) or any(win.pad_end):
        return False
    from ..onnx.fold import _same_pads  # the ONNX loader's rule (imports onnx: only for such models)

    return all(
        _same_pads(n, k, d, s, False) == (b, e)
        for n, k, d, s, b, e in zip(sizes, win.kernel, win.dilation, win.stride, pad.pad_begin, pad.pad_end)
    )
