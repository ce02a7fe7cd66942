"""Graphs: what a network looks like to the receptive-field analysis.

A :class:`Graph` is a list of :class:`Node` in topological order; each node
says what it does to the receptive field (its :class:`~rfa_fast.kinds.Kind`),
with per-axis kernel, stride, dilation and padding.  Graphs come from the ONNX
loader (:func:`rfa_fast.load_onnx`), from a :class:`GraphBuilder`, or from a
JSON-able spec (:meth:`Graph.from_spec`).

Example:
    >>> from rfa_fast import GraphBuilder
    >>> b = GraphBuilder("tiny")
    >>> x = b.input()
    >>> x = b.conv(x, 3, pad=1, c_in=3, c_out=16)
    >>> x = b.pool(x, 2, stride=2)
    >>> g = b.build()
    >>> len(g), g.nodes[1].kernel
    (3, (3, 3))
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Union

import numpy as np

from .errors import SpecError
from .kinds import KIND_NAMES, Kind, PadMode, ResizeMode

try:
    from ._pack import pack_nodes as _compiled_pack_nodes
except ImportError:  # pragma: no cover - a source tree without the built extension
    _compiled_pack_nodes = None

IntOrSeq = Union[int, Sequence[int]]
Pad = Union[int, Sequence[int], str]

_KIND_BY_NAME = {v: k for k, v in KIND_NAMES.items()}
_PAD_BY_NAME = {
    "explicit": PadMode.EXPLICIT,
    "same": PadMode.SAME_UPPER,
    "same_upper": PadMode.SAME_UPPER,
    "same_lower": PadMode.SAME_LOWER,
    "valid": PadMode.VALID,
}
_MODE_BY_NAME = {m.name.lower(): m for m in ResizeMode}


@dataclass(frozen=True)
class Node:
    """One layer as the analysis sees it.

    Per-axis tuples are ordered like the tensor's spatial axes (H, W for 2-D).
    ``op`` is the user's op type (``"Conv"``, ``"conv"``, ``"MaxPool"``...),
    ``kind`` what it does to the receptive field.
    """

    name: str
    op: str
    kind: Kind
    inputs: tuple[int, ...] = ()
    kernel: tuple[int, ...] = (1, 1)
    stride: tuple[int, ...] = (1, 1)
    dilation: tuple[int, ...] = (1, 1)
    pad_begin: tuple[int, ...] = (0, 0)
    pad_end: tuple[int, ...] = (0, 0)
    pad_mode: PadMode = PadMode.EXPLICIT
    ceil_mode: bool = False
    scale: tuple[float, ...] = (1.0, 1.0)
    mode: ResizeMode = ResizeMode.NEAREST
    weighted: bool = False
    c_in: int = 0
    c_out: int = 0
    groups: int = 1
    attrs: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def kernel_extent(self) -> tuple[int, ...]:
        """k' = d(k-1)+1 per axis: the span of the dilated kernel."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))

    def to_spec(self) -> dict[str, Any]:
        """This node as a JSON-able layer dict (see :meth:`Graph.from_spec`)."""
        d: dict[str, Any] = {"name": self.name, "op": self.op, "kind": KIND_NAMES[self.kind]}
        d["inputs"] = list(self.inputs)
        if self.kind in (Kind.WINDOW, Kind.TRANSPOSED):
            d.update(
                kernel=list(self.kernel),
                stride=list(self.stride),
                dilation=list(self.dilation),
                pad_begin=list(self.pad_begin),
                pad_end=list(self.pad_end),
                pad_mode=self.pad_mode.name.lower(),
                ceil_mode=bool(self.ceil_mode),
            )
        if self.kind == Kind.RESIZE:
            d.update(scale=list(self.scale), mode=self.mode.name.lower())
        if self.weighted or self.c_in or self.c_out:
            d.update(weighted=bool(self.weighted), c_in=self.c_in, c_out=self.c_out, groups=self.groups)
        return d


def per_axis(value: IntOrSeq, dims: int, what: str, *, minimum: int | None = None) -> tuple[int, ...]:
    """Broadcast an int to ``dims`` axes, or check a per-axis sequence."""
    if isinstance(value, (bool, np.bool_)):
        raise SpecError(f"{what} must be an int or a sequence of {dims} ints, got a bool")
    if isinstance(value, (int, np.integer)):
        out = (int(value),) * dims
    else:
        try:
            out = tuple(int(v) for v in value)
        except (TypeError, ValueError):
            raise SpecError(f"{what} must be an int or a sequence of {dims} ints, got {value!r}") from None
        if len(out) != dims:
            raise SpecError(f"{what} has {len(out)} values but the graph has {dims} spatial axes")
    if minimum is not None and any(v < minimum for v in out):
        raise SpecError(f"{what} must be >= {minimum} on every axis, got {out}")
    if any(v < -(2**31) or v > 2**31 - 1 for v in out):
        # the core's per-axis arrays are int32 (the compiled packer checks the same)
        raise SpecError(f"{what} does not fit in int32, got {out}")
    return out


class Graph:
    """A network in topological order, ready for :func:`rfa_fast.analyze`.

    Attributes:
        name: a label used in reports.
        dims: number of spatial axes (1, 2 or 3).
        nodes: the layers; ``nodes[i].inputs`` are indices of earlier nodes.
        input_shape: the nominal spatial size of the input, when known
            (an ONNX export's static shape), else ``None``.
        source: the ONNX model the graph was loaded from (the path, bytes or
            ``ModelProto`` given to :func:`rfa_fast.load_onnx`), else ``None``;
            refinement writes its edits into it; messages
            name it by :attr:`source_label`.
        folded_at: the input resolution at which sizes that depend on it
            (Resize by ``sizes``, spatial slices, reshapes, pads computed from
            ``Shape``) were folded into the nodes; ``None`` when no node
            depends on the input size (docs/onnx.md, "Sizes folded at one
            resolution").
        size_nodes: the names of those nodes.
        refold: how to read the model again at another resolution (the
            loader's :class:`~rfa_fast.onnx.loader.Refold`), or ``None``.
    """

    folded_at: tuple[int, ...] | None = None
    size_nodes: tuple[str, ...] = ()
    refold: Any = None

    def __init__(
        self,
        nodes: Sequence[Node],
        *,
        name: str = "graph",
        dims: int = 2,
        input_shape: tuple[int, ...] | None = None,
        outputs: Sequence[int] | None = None,
        source: Any = None,
    ) -> None:
        if dims not in (1, 2, 3):
            raise SpecError(f"graph {name!r}: dims must be 1, 2 or 3, got {dims}")
        self.name = name
        self.dims = dims
        self.nodes: list[Node] = list(nodes)
        self.input_shape = input_shape
        self.source = source
        self.outputs: list[int] = list(outputs) if outputs is not None else [len(self.nodes) - 1]
        self.source = source
        self._arrays: dict[str, np.ndarray] | None = None

    @property
    def source_label(self) -> str | None:
        """:attr:`source` for a message: the file's path, ``<bytes>`` or ``<ModelProto>``; ``None`` when built in code."""
        if self.source is None:
            return None
        if isinstance(self.source, (str, os.PathLike)):
            return os.fspath(self.source)
        return "<bytes>" if isinstance(self.source, (bytes, bytearray)) else "<ModelProto>"

    def __len__(self) -> int:
        return len(self.nodes)

    def __repr__(self) -> str:
        return f"Graph({self.name!r}, {len(self.nodes)} nodes, dims={self.dims})"

    def index(self, name: str) -> int:
        """The index of the node called ``name``."""
        for i, n in enumerate(self.nodes):
            if n.name == name:
                return i
        raise KeyError(f"graph {self.name!r} has no node named {name!r}")

    def replace_node(self, i: int, **changes: Any) -> Graph:
        """A copy of this graph with node ``i``'s fields changed."""
        nodes = list(self.nodes)
        nodes[i] = replace(nodes[i], **changes)
        g = Graph(
            nodes,
            name=self.name,
            dims=self.dims,
            input_shape=self.input_shape,
            outputs=self.outputs,
            source=self.source,
        )
        g.folded_at, g.size_nodes = self.folded_at, self.size_nodes  # an edited graph is not its model: no refold
        return g

    # -- arrays for the core ------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The struct-of-arrays form the core reads (one graph; see DESIGN.md)."""
        if self._arrays is None:
            self._arrays = _pack_graphs([self])
        return self._arrays

    # -- spec form -----------------------------------------------------------
    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict; ``Graph.from_spec(g.to_spec())`` rebuilds ``g``.

        ``outputs`` (node indices) is there when the outputs are not just the last node.
        """
        spec: dict[str, Any] = {"name": self.name, "dims": self.dims, "layers": [n.to_spec() for n in self.nodes]}
        if self.outputs != [len(self.nodes) - 1]:
            spec["outputs"] = list(self.outputs)
        return spec

    def to_json(self) -> str:
        return json.dumps(self.to_spec())

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | Sequence[dict[str, Any]], *, index: int | None = None) -> Graph:
        """Build a graph from a spec: ``{"name", "dims", "layers": [...]}`` or a bare layer list.

        Each layer is a dict with ``op`` (a builder op: input, conv, pool,
        transposed, resize, add, mul, concat, merge, global, dense, identity,
        or any op name together with ``kind``), optional ``inputs`` (indices of
        earlier layers; default: the previous layer), ``kernel``, ``stride``,
        ``dilation`` (int or per-axis list), ``pad`` (int, list, ``"same"``,
        ``"same_lower"``, ``"valid"``) or ``pad_begin``/``pad_end``,
        ``ceil_mode``, ``scale``, ``mode``, ``c_in``, ``c_out``, ``groups``.
        A dict spec may name its ``outputs`` (layer indices; default: the
        last layer): layers from which no output is reachable are dead.

        >>> g = Graph.from_spec([{"op": "input"}, {"op": "conv", "kernel": 3, "stride": 2}])
        >>> g.nodes[1].stride
        (2, 2)
        """
        where = f"candidate {index}: " if index is not None else ""
        if isinstance(spec, dict):
            layers = spec.get("layers")
            dims = spec.get("dims", 2)
            name = spec.get("name", "graph" if index is None else f"candidate_{index}")
        else:
            layers, dims, name = spec, 2, ("graph" if index is None else f"candidate_{index}")
        if not isinstance(layers, (list, tuple)) or not layers:
            raise SpecError(f"{where}a spec needs a non-empty list of layers")
        if dims not in (1, 2, 3):
            raise SpecError(f"{where}dims must be 1, 2 or 3, got {dims!r}")
        b = GraphBuilder(str(name), dims=int(dims))
        for i, layer in enumerate(layers):
            try:
                b.add_spec_layer(layer)
            except SpecError as e:
                raise SpecError(f"{where}layer {i}: {e}", candidate=index, layer=i) from None
            except (TypeError, ValueError, OverflowError) as e:
                # int("add"), int(None), int(inf) on a spec value: the spec is at
                # fault, and callers catch SpecError (the compiled packer does the same).
                raise SpecError(f"{where}layer {i}: {e}", candidate=index, layer=i) from None
        g = b.build()
        outputs = spec_outputs(spec, len(g.nodes), index)
        return g if outputs is None else Graph(g.nodes, name=g.name, dims=g.dims, outputs=outputs)


class GraphBuilder:
    """Build a :class:`Graph` by hand.

    Every method returns the new node's index, to pass as input to the next.
    Per-axis parameters take an int (same on every axis) or a tuple.

    >>> b = GraphBuilder("resblock")
    >>> x = b.input()
    >>> y = b.conv(x, 3, pad=1)
    >>> y = b.conv(y, 3, pad=1)
    >>> z = b.add(x, y)
    >>> b.build().nodes[z].kind.name
    'MERGE'
    """

    def __init__(self, name: str = "graph", *, dims: int = 2) -> None:
        if dims not in (1, 2, 3):
            raise SpecError(f"dims must be 1, 2 or 3, got {dims}")
        self.name = name
        self.dims = dims
        self.nodes: list[Node] = []

    def _check_inputs(self, inputs: Iterable[int]) -> tuple[int, ...]:
        out = tuple(int(i) for i in inputs)
        for i in out:
            if not 0 <= i < len(self.nodes):
                raise SpecError(f"input {i} is not an earlier node (there are {len(self.nodes)} so far)")
        return out

    def _name(self, name: str | None, op: str) -> str:
        return name if name is not None else f"{op}{len(self.nodes)}"

    def _pads(
        self, pad: Pad, kernel: tuple[int, ...], dilation: tuple[int, ...]
    ) -> tuple[tuple[int, ...], tuple[int, ...], PadMode]:
        if isinstance(pad, str):
            mode = _PAD_BY_NAME.get(pad.lower())
            if mode is None:
                raise SpecError(f"pad {pad!r} is not one of {sorted(_PAD_BY_NAME)}")
            zero = (0,) * self.dims
            return zero, zero, mode
        p = per_axis(pad, self.dims, "pad")
        return p, p, PadMode.EXPLICIT

    def add(self, *inputs: int, name: str | None = None, op: str = "add") -> int:
        """Element-wise sum (a MERGE)."""
        return self.merge(*inputs, name=name, op=op)

    def mul(self, *inputs: int, name: str | None = None) -> int:
        """Element-wise product, e.g. a squeeze-excitation gate (a MERGE)."""
        return self.merge(*inputs, name=name, op="mul")

    def concat(self, *inputs: int, name: str | None = None) -> int:
        """Concatenation on the channel axis (a MERGE)."""
        return self.merge(*inputs, name=name, op="concat")

    def merge(self, *inputs: int, name: str | None = None, op: str = "merge") -> int:
        """Any node that combines its inputs unit by unit."""
        return self._append(Node(self._name(name, op), op, Kind.MERGE, self._check_inputs(inputs), **self._unit()))

    def input(self, name: str | None = None) -> int:
        """The image input (receptive field 1, jump 1)."""
        return self._append(Node(self._name(name, "input"), "input", Kind.INPUT, (), **self._unit()))

    def _unit(self) -> dict[str, Any]:
        one, zero = (1,) * self.dims, (0,) * self.dims
        return dict(kernel=one, stride=one, dilation=one, pad_begin=zero, pad_end=zero, scale=(1.0,) * self.dims)

    def _append(self, node: Node) -> int:
        self.nodes.append(node)
        return len(self.nodes) - 1

    def conv(
        self,
        x: int,
        kernel: IntOrSeq,
        stride: IntOrSeq = 1,
        *,
        dilation: IntOrSeq = 1,
        pad: Pad = 0,
        pad_begin: IntOrSeq | None = None,
        pad_end: IntOrSeq | None = None,
        c_in: int = 0,
        c_out: int = 0,
        groups: int = 1,
        name: str | None = None,
        op: str = "conv",
    ) -> int:
        """A convolution (a weighted WINDOW). ``pad`` follows PyTorch (default 0)."""
        return self._window(
            x,
            kernel,
            stride,
            dilation,
            pad,
            pad_begin,
            pad_end,
            False,
            True,
            c_in,
            c_out,
            groups,
            name,
            op,
            Kind.WINDOW,
        )

    def pool(
        self,
        x: int,
        kernel: IntOrSeq,
        stride: IntOrSeq | None = None,
        *,
        dilation: IntOrSeq = 1,
        pad: Pad = 0,
        pad_begin: IntOrSeq | None = None,
        pad_end: IntOrSeq | None = None,
        ceil_mode: bool = False,
        name: str | None = None,
        op: str = "pool",
    ) -> int:
        """Max or average pooling (an unweighted WINDOW); stride defaults to the kernel."""
        return self._window(
            x,
            kernel,
            kernel if stride is None else stride,
            dilation,
            pad,
            pad_begin,
            pad_end,
            ceil_mode,
            False,
            0,
            0,
            1,
            name,
            op,
            Kind.WINDOW,
        )

    def transposed(
        self,
        x: int,
        kernel: IntOrSeq,
        stride: IntOrSeq = 1,
        *,
        dilation: IntOrSeq = 1,
        pad: Pad = 0,
        output_padding: IntOrSeq = 0,
        c_in: int = 0,
        c_out: int = 0,
        groups: int = 1,
        name: str | None = None,
        op: str = "transposed",
    ) -> int:
        """A transposed convolution; ``output_padding`` is folded into ``pad_end``."""
        k = per_axis(kernel, self.dims, "kernel", minimum=1)
        d = per_axis(dilation, self.dims, "dilation", minimum=1)
        pb, pe, mode = self._pads(pad, k, d)
        op_pad = per_axis(output_padding, self.dims, "output_padding", minimum=0)
        pe = tuple(p - o for p, o in zip(pe, op_pad))
        return self._append(
            Node(
                self._name(name, op),
                op,
                Kind.TRANSPOSED,
                self._check_inputs([x]),
                kernel=k,
                stride=per_axis(stride, self.dims, "stride", minimum=1),
                dilation=d,
                pad_begin=pb,
                pad_end=pe,
                pad_mode=mode,
                scale=(1.0,) * self.dims,
                weighted=True,
                c_in=c_in,
                c_out=c_out,
                groups=groups,
            )
        )

    def _window(
        self,
        x: int,
        kernel: IntOrSeq,
        stride: IntOrSeq,
        dilation: IntOrSeq,
        pad: Pad,
        pad_begin: IntOrSeq | None,
        pad_end: IntOrSeq | None,
        ceil_mode: bool,
        weighted: bool,
        c_in: int,
        c_out: int,
        groups: int,
        name: str | None,
        op: str,
        kind: Kind,
    ) -> int:
        k = per_axis(kernel, self.dims, "kernel", minimum=1)
        d = per_axis(dilation, self.dims, "dilation", minimum=1)
        pb, pe, mode = self._pads(pad, k, d)
        if pad_begin is not None:
            pb = per_axis(pad_begin, self.dims, "pad_begin")
        if pad_end is not None:
            pe = per_axis(pad_end, self.dims, "pad_end")
        if groups < 1:
            raise SpecError(f"groups must be >= 1, got {groups}")
        return self._append(
            Node(
                self._name(name, op),
                op,
                kind,
                self._check_inputs([x]),
                kernel=k,
                stride=per_axis(stride, self.dims, "stride", minimum=1),
                dilation=d,
                pad_begin=pb,
                pad_end=pe,
                pad_mode=mode,
                ceil_mode=bool(ceil_mode),
                scale=(1.0,) * self.dims,
                weighted=weighted,
                c_in=int(c_in),
                c_out=int(c_out),
                groups=int(groups),
            )
        )

    def resize(
        self,
        x: int,
        scale: float | Sequence[float],
        mode: str = "nearest",
        *,
        name: str | None = None,
        op: str = "resize",
    ) -> int:
        """Up- (scale > 1) or down-sampling by interpolation: nearest, linear or cubic."""
        if isinstance(scale, (int, float, np.integer, np.floating)):
            s = (float(scale),) * self.dims
        else:
            s = tuple(float(v) for v in scale)
            if len(s) != self.dims:
                raise SpecError(f"scale has {len(s)} values but the graph has {self.dims} spatial axes")
        if not all(np.isfinite(v) and v > 0 for v in s):
            raise SpecError(f"scale must be finite and > 0, got {s}")
        m = _MODE_BY_NAME.get(str(mode).lower())
        if m is None:
            raise SpecError(f"resize mode {mode!r} is not one of {sorted(_MODE_BY_NAME)}")
        node = Node(self._name(name, op), op, Kind.RESIZE, self._check_inputs([x]), **self._unit())
        return self._append(replace(node, scale=s, mode=m))

    def global_pool(self, x: int, *, name: str | None = None, op: str = "global_pool") -> int:
        """Global pooling: the field becomes the whole input."""
        return self._append(Node(self._name(name, op), op, Kind.GLOBAL, self._check_inputs([x]), **self._unit()))

    def dense(self, x: int, c_in: int = 0, c_out: int = 0, *, name: str | None = None, op: str = "dense") -> int:
        """A fully connected layer (GLOBAL, weighted)."""
        node = Node(self._name(name, op), op, Kind.GLOBAL, self._check_inputs([x]), **self._unit())
        return self._append(replace(node, weighted=True, c_in=int(c_in), c_out=int(c_out)))

    def identity(self, x: int, *, name: str | None = None, op: str = "identity") -> int:
        """A pass-through (activation, normalization...)."""
        return self._append(Node(self._name(name, op), op, Kind.IDENTITY, self._check_inputs([x]), **self._unit()))

    def add_spec_layer(self, layer: dict[str, Any]) -> int:
        """Append one layer given in the spec form (see :meth:`Graph.from_spec`)."""
        if not isinstance(layer, dict):
            raise SpecError(f"a layer must be a dict, got {type(layer).__name__}")
        op = str(layer.get("op", layer.get("kind", "")))
        kind_name = layer.get("kind")
        name = layer.get("name")
        if "inputs" in layer:
            inputs = layer["inputs"]
            if not isinstance(inputs, (list, tuple)):
                raise SpecError(f"inputs must be a list of earlier layer indices, got {inputs!r}")
        else:
            inputs = [len(self.nodes) - 1] if self.nodes else []
        low = op.lower()
        kind = _KIND_BY_NAME.get(str(kind_name).lower()) if kind_name is not None else None
        if kind_name is not None and kind is None:
            raise SpecError(f"kind {kind_name!r} is not one of {sorted(_KIND_BY_NAME)}")
        if kind is None:
            kind = {
                "input": Kind.INPUT,
                "conv": Kind.WINDOW,
                "pool": Kind.WINDOW,
                "maxpool": Kind.WINDOW,
                "avgpool": Kind.WINDOW,
                "transposed": Kind.TRANSPOSED,
                "resize": Kind.RESIZE,
                "add": Kind.MERGE,
                "mul": Kind.MERGE,
                "concat": Kind.MERGE,
                "merge": Kind.MERGE,
                "global": Kind.GLOBAL,
                "global_pool": Kind.GLOBAL,
                "dense": Kind.GLOBAL,
                "identity": Kind.IDENTITY,
            }.get(low)
            if kind is None:
                raise SpecError(f"op {op!r} needs a 'kind' (one of {sorted(_KIND_BY_NAME)})")
        weighted = bool(layer.get("weighted", low in ("conv", "transposed", "dense")))
        c_in, c_out, groups = int(layer.get("c_in", 0)), int(layer.get("c_out", 0)), int(layer.get("groups", 1))
        one_input = kind in (Kind.WINDOW, Kind.TRANSPOSED, Kind.RESIZE, Kind.IDENTITY)
        if kind == Kind.INPUT:
            if inputs:
                raise SpecError("an input layer takes no inputs")
            idx = self.input(name)
        elif one_input and len(inputs) != 1:
            raise SpecError(f"a {KIND_NAMES[kind]} layer takes exactly one input, got {list(inputs)}")
        elif kind == Kind.WINDOW:
            kernel = layer.get("kernel", 1)
            pad = layer.get("pad", 0)
            if layer.get("pad_mode", "explicit") != "explicit":
                pad = layer["pad_mode"]
            # pooling strides default to the kernel, as in PyTorch
            default_stride = kernel if low in ("pool", "maxpool", "avgpool") else 1
            idx = self._window(
                inputs[0],
                kernel,
                layer["stride"] if "stride" in layer else default_stride,
                layer.get("dilation", 1),
                pad,
                layer.get("pad_begin"),
                layer.get("pad_end"),
                bool(layer.get("ceil_mode", False)),
                weighted,
                c_in,
                c_out,
                groups,
                name,
                op or "conv",
                Kind.WINDOW,
            )
        elif kind == Kind.TRANSPOSED:
            pad = layer.get("pad", 0)
            if layer.get("pad_mode", "explicit") != "explicit":
                pad = layer["pad_mode"]
            idx = self.transposed(
                inputs[0],
                layer.get("kernel", 1),
                layer.get("stride", 1),
                dilation=layer.get("dilation", 1),
                pad=pad,
                output_padding=0 if "pad_end" in layer else layer.get("output_padding", 0),
                c_in=c_in,
                c_out=c_out,
                groups=groups,
                name=name,
                op=op or "transposed",
            )
            n = self.nodes[idx]
            if "pad_begin" in layer:
                n = replace(n, pad_begin=per_axis(layer["pad_begin"], self.dims, "pad_begin"))
            if "pad_end" in layer:
                n = replace(n, pad_end=per_axis(layer["pad_end"], self.dims, "pad_end"))
            self.nodes[idx] = n
        elif kind == Kind.RESIZE:
            idx = self.resize(
                inputs[0], layer.get("scale", 2.0), layer.get("mode", "nearest"), name=name, op=op or "resize"
            )
        elif kind == Kind.MERGE:
            idx = self.merge(*inputs, name=name, op=op or "merge")
        elif kind == Kind.GLOBAL:
            if not inputs:
                raise SpecError("a global layer needs at least one input")
            gi = self._check_inputs(inputs)
            node = Node(self._name(name, op or "global"), op or "global", Kind.GLOBAL, gi, **self._unit())
            idx = self._append(replace(node, weighted=weighted, c_in=c_in, c_out=c_out))
        else:
            idx = self.identity(inputs[0], name=name, op=op or "identity")
        if kind not in (Kind.WINDOW, Kind.TRANSPOSED, Kind.GLOBAL) and (c_in or c_out):
            self.nodes[idx] = replace(self.nodes[idx], c_in=c_in, c_out=c_out)
        return idx

    def build(self, *, input_shape: tuple[int, ...] | None = None) -> Graph:
        """The finished graph."""
        if not self.nodes:
            raise SpecError(f"graph {self.name!r} has no nodes")
        return Graph(self.nodes, name=self.name, dims=self.dims, input_shape=input_shape)


# --------------------------------------------------------------------------
# Packing graphs into the core's struct of arrays.  _pack_nodes is the plain-
# Python packer: the fallback when the compiled rfa_fast._pack is not built,
# and the oracle its tests compare against (tests/test_pack.py).


def _pack_graphs(graphs: Sequence[Graph]) -> dict[str, np.ndarray]:
    """The core's arrays for ``graphs``: the compiled ``pack_nodes`` when built, else :func:`_pack_nodes`.

    Plus ``output`` (uint8 [N], 1 on each graph's outputs) when some graph's
    outputs are not just its last node, the core's rule without it.
    """
    arrays = _compiled_pack_nodes(graphs) if _compiled_pack_nodes is not None else _pack_nodes(graphs)
    output = _output_marks(graphs, arrays["graph_ptr"])
    if output is not None:
        arrays["output"] = output
    return arrays


def spec_outputs(spec: Any, n_layers: int, index: int | None = None) -> list[int] | None:
    """The ``outputs`` of a dict spec, checked (None when it names none: the last layer is the output)."""
    if not isinstance(spec, dict) or spec.get("outputs") is None:
        return None
    where = f"candidate {index}: " if index is not None else ""
    outs = spec["outputs"]
    if (
        not isinstance(outs, (list, tuple))
        or not outs
        or not all(isinstance(o, int) and not isinstance(o, bool) and 0 <= o < n_layers for o in outs)
    ):
        raise SpecError(f"{where}outputs must be a non-empty list of layer indices (0..{n_layers - 1}), got {outs!r}")
    return sorted(set(outs))


def _output_marks(graphs: Sequence[Graph], graph_ptr: np.ndarray) -> np.ndarray | None:
    """uint8 [N]: 1 on the outputs of each graph; None when every graph's only output is its last node."""
    if all(g.outputs == [len(g.nodes) - 1] for g in graphs):
        return None
    out = np.zeros(int(graph_ptr[-1]), np.uint8)
    for g, base in zip(graphs, graph_ptr[:-1].tolist()):
        for o in g.outputs:
            if not 0 <= o < len(g.nodes):
                raise SpecError(f"graph {g.name!r}: output {o} is not a node index (0..{len(g.nodes) - 1})")
            out[base + o] = 1
    return out


def _pack_nodes(graphs: Sequence[Graph]) -> dict[str, np.ndarray]:
    """Concatenate graphs into the arrays of DESIGN.md ("Data model").

    Columns are gathered as Python lists and converted once: assigning numpy
    rows node by node would cost more than the analysis of a small graph.
    """
    if not graphs:
        raise SpecError("a batch needs at least one graph")
    dims = graphs[0].dims
    for b, g in enumerate(graphs):
        if g.dims != dims:
            raise SpecError(f"graph {b} ({g.name!r}) has {g.dims} spatial axes, graph 0 has {dims}")
    nodes = [node for g in graphs for node in g.nodes]
    graph_ptr = np.zeros(len(graphs) + 1, np.int64)
    np.cumsum([len(g.nodes) for g in graphs], out=graph_ptr[1:])
    pred: list[int] = []
    counts: list[int] = []
    for g, base in zip(graphs, graph_ptr[:-1].tolist()):
        for node in g.nodes:
            pred.extend(base + p for p in node.inputs)
            counts.append(len(node.inputs))
    pred_ptr = np.zeros(len(nodes) + 1, np.int64)
    np.cumsum(counts, out=pred_ptr[1:])

    def column(field: str, dtype: Any) -> np.ndarray:
        return _node_column(field, dtype, False, graphs, graph_ptr, nodes, dims)

    def axes(field: str, dtype: Any) -> np.ndarray:
        return _node_column(field, dtype, True, graphs, graph_ptr, nodes, dims)

    return dict(
        graph_ptr=graph_ptr,
        op=column("kind", np.uint8),
        kernel=axes("kernel", np.int32),
        stride=axes("stride", np.int32),
        dilation=axes("dilation", np.int32),
        pad_begin=axes("pad_begin", np.int32),
        pad_end=axes("pad_end", np.int32),
        pad_mode=column("pad_mode", np.uint8),
        ceil_mode=column("ceil_mode", np.uint8),
        scale=axes("scale", np.float64),
        mode=column("mode", np.uint8),
        weighted=column("weighted", np.uint8),
        c_in=column("c_in", np.int64),
        c_out=column("c_out", np.int64),
        groups=column("groups", np.int64),
        pred_ptr=pred_ptr,
        pred=np.array(pred, dtype=np.int32),
    )


def _node_column(
    field: str,
    dtype: Any,
    per_axis: bool,
    graphs: Sequence[Graph],
    graph_ptr: np.ndarray,
    nodes: list[Node],
    dims: int,
) -> np.ndarray:
    """One array of the core's from the attribute ``field`` of every node, converted by numpy.

    A per-axis value of the wrong length, or a value beyond the dtype (kernel
    2**31, c_in 2**63), is a SpecError naming the graph and node. Shared by
    :func:`_pack_nodes` and the compiled packer's path for unusual values.
    """

    def where(i: int) -> str:
        """Graph and node of global node ``i``, as errors name them (indices within the graph)."""
        b = int(np.searchsorted(graph_ptr, i, side="right")) - 1
        return f"graph {b} ({graphs[b].name!r}), node {i - int(graph_ptr[b])} ({nodes[i].name!r})"

    values = [getattr(node, field) for node in nodes]
    if per_axis:
        for i, v in enumerate(values):
            if len(v) != dims:
                raise SpecError(f"{where(i)}: {field} has {len(v)} values, the graphs have {dims} axes")
    try:
        arr = np.array(values, dtype=dtype)
    except OverflowError as e:
        if np.dtype(dtype).kind not in "iu":
            raise SpecError(f"{field}: {e}") from None
        info = np.iinfo(dtype)
        for i, v in enumerate(values):
            if any(not info.min <= x <= info.max for x in (v if isinstance(v, (tuple, list)) else (v,))):
                raise SpecError(f"{where(i)}: {field} {v} does not fit in {np.dtype(dtype).name}") from None
        raise
    return arr.reshape(len(nodes), dims) if per_axis else arr


ARRAY_NAMES = (
    "graph_ptr",
    "op",
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
    "pred_ptr",
    "pred",
)
