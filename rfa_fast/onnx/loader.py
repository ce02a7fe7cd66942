"""``load_onnx``: an ONNX model as a :class:`~rfa_fast.graph.Graph`, without its weights.

The walk: read the model (``source.py``), sort its nodes (``order.py``), pick
the image input, then visit every node that reads data computed from the
image and let its op handler (``ops.py``) emit a layer or pass its input
through; Pad nodes are folded into the windows they feed (``fold.py``).
Constants (shape arithmetic) and inferred shapes are computed only when an
op needs them (``values.py``).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Callable, Sequence

import onnx

from ..errors import OnnxError, ResolutionError
from ..graph import Graph, Node
from ..kinds import Kind
from . import ops
from .context import Context, Data, Record
from .fold import fold_pads
from .ops import OPS, handler_for
from .order import OpNode, node_inputs, topological_order, wrap
from .source import Source, read_model
from .values import Tensors, value_info_shape


class OnnxWarning(UserWarning):
    """Something in an ONNX model was analyzed conservatively (unknown op, spatial concat...)."""


class UnknownOpWarning(OnnxWarning):
    """The model has ops rfa_fast does not know (treated as identity or global)."""


# Ops that run a window over axes 2.. of an NC<spatial> tensor: they tell
# where the input's spatial axes are (after any Transposes from NHWC).
_LAYOUT_WITNESSES = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "MaxPool",
        "AveragePool",
        "LpPool",
        "GlobalAveragePool",
        "GlobalMaxPool",
        "QLinearConv",
        "ConvInteger",
    }
)
_ELEMENTWISE = frozenset(k for k, v in OPS.items() if v.__name__ == "elementwise")
# Handlers that understand flattened inputs (Data.flat); the others see them as global.
_FLAT_AWARE = frozenset({ops.elementwise, ops.reshape, ops.context_norm})


def load_onnx(
    source: Source,
    *,
    input_name: str | None = None,
    strict: bool = False,
    resolution: int | Sequence[int] | None = None,
) -> Graph:
    """Read an ONNX model (path, bytes or ``onnx.ModelProto``) into a :class:`Graph`.

    Weight bytes are never read: kernels come from attributes or initializer
    dims, channels and groups from weight dims.  Each node keeps the ONNX
    node name (``Node.name``) and op type (``Node.op``); pass-through ops
    (activations, normalization, casts...) are collapsed into their producer.

    Args:
        source: a path, the file's bytes, or a ``ModelProto``.
        input_name: the image input to analyze from (default: the first
            graph input of rank 3, 4 or 5; other inputs are constants).
        strict: raise :class:`~rfa_fast.errors.UnsupportedOpError` on an op
            the loader does not know, instead of treating it as identity
            (shape-preserving) or global with a warning.
        resolution: the spatial input size (an int, or a tuple with one size
            per axis; a list is refused, as in :func:`rfa_fast.analyze`) at which
            sizes computed at run time (Resize by ``sizes``, TF-style SAME
            pads, reshapes) are folded; needed when the input size is dynamic
            and such ops exist.  Default: the size declared in the model.

    Raises:
        OnnxError: not a file, not ONNX, truncated, cyclic, a Conv without a
            kernel shape, a size needed but dynamic... naming file, node, op.
        ResolutionError: ``resolution`` is a list (a list means several
            resolutions everywhere in rfa_fast; one per axis is a tuple).

    Example:
        >>> from onnx import helper, TensorProto
        >>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
        >>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
        >>> w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)
        >>> nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        ...          helper.make_node("Relu", ["c"], ["y"], name="relu")]
        >>> g = load_onnx(helper.make_model(helper.make_graph(nodes, "net", [x], [y], [w])))
        >>> [(n.name, n.op, n.kind.name, n.kernel, n.c_out) for n in g.nodes]
        [('x', 'Input', 'INPUT', (1, 1), 0), ('conv', 'Conv', 'WINDOW', (3, 3), 8)]
        >>> g.input_shape, g.outputs
        ((32, 32), [1])
    """
    try:
        return _load(source, input_name, strict, resolution)
    except UnicodeDecodeError as e:
        # ONNX is proto2: protobuf accepts any bytes in a string field and
        # only fails when the loader reads it (a node name, an op type).
        label = os.fspath(source) if isinstance(source, (str, os.PathLike)) else f"<{type(source).__name__}>"
        raise OnnxError(f"{label}: a string in the model is not valid UTF-8 ({e.reason} at byte {e.start})") from None


def _load(source: Source, input_name: str | None, strict: bool, resolution: int | Sequence[int] | None) -> Graph:
    model, label = read_model(source)
    graph = model.graph
    nodes = topological_order(wrap(graph.node), label)
    image, in_shape = _pick_input(graph, input_name, label)
    rank = len(in_shape)
    dims = rank - 2
    layout = _input_layout(nodes, image, in_shape)
    override = _override(in_shape, layout, resolution, dims, label)
    spatial = tuple(in_shape[p] for p in layout)
    if override is not None:
        input_shape: tuple[int, ...] | None = tuple(int(override[p]) for p in layout)  # type: ignore[arg-type]
    elif all(isinstance(v, int) for v in spatial):
        input_shape = tuple(int(v) for v in spatial)  # type: ignore[arg-type]
    else:
        input_shape = None

    data: dict[str, Data] = {}
    tensors = Tensors(model, nodes, image, override, data)
    ctx = Context(model, label, dims, strict, tensors, data, dynamic_input=input_shape is None)
    ctx.record(image, "Input", Kind.INPUT, [])
    ctx.define(image, 0, layout, rank, False)

    for node in nodes:
        if node.op_type in ("Shape", "Size"):
            continue  # their outputs are shape arithmetic: constants for us
        for t in node.input:
            if t in data:
                break
        else:
            if not node.has_graph or not any(t in data for t in node_inputs(node)):
                continue  # constant computation
        handler = handler_for(node)
        reads = ctx.size_reads + tensors.dynamic_reads
        try:
            if handler in _FLAT_AWARE:
                handler(ctx, node)
            else:
                _call_materialized(ctx, handler, node)
            if ctx.size_reads + tensors.dynamic_reads != reads:
                ctx.size_nodes.append(ctx.node_name(node))
        except UnicodeDecodeError:
            raise  # load_onnx says which string is not UTF-8
        except (TypeError, ValueError, IndexError, KeyError) as e:
            # Handlers read attributes and constants as the spec types them; a
            # file can hold anything (an attribute of another type or none at
            # all: int(None)). That is the file's fault: say which node.
            raise ctx.fail(node, f"malformed attributes or inputs ({type(e).__name__}: {e})") from None

    outputs: list[int] = []
    for o in graph.output:
        d = data.get(o.name)
        if d is not None and d.node not in outputs:
            outputs.append(d.node)
    if not outputs:
        raise OnnxError(f"{label}: no graph output depends on the input {image!r}")
    records, index = fold_pads(ctx.records, outputs)
    outputs = list(dict.fromkeys(index[i] for i in outputs))
    _warn(ctx)
    built = [_node(r) for r in records]
    keep = os.fspath(source) if isinstance(source, (str, os.PathLike)) else source
    g = Graph(built, name=_graph_name(label, graph), dims=dims, input_shape=input_shape, outputs=outputs, source=keep)
    if ctx.size_nodes and input_shape is not None:
        g.folded_at = input_shape
        g.size_nodes = tuple(dict.fromkeys(ctx.size_nodes))
        # a dynamic input can be read again at any resolution: what analyze()/screen() do (rfa_fast/refold.py)
        g.refold = Refold(source, input_name, strict, dynamic=not all(isinstance(v, int) for v in spatial))
    return g


@dataclasses.dataclass(frozen=True)
class Refold:
    """How to read a graph's model again at another resolution (``Graph.refold``).

    Attributes:
        source: what :func:`load_onnx` was given (a path, bytes or a ``ModelProto``; kept by reference).
        input_name, strict: the options it was given.
        dynamic: whether the model's input size is dynamic; only then does reading it at another
            resolution give the model that runs there (a static model's sizes are those of its export).
    """

    source: Source
    input_name: str | None
    strict: bool
    dynamic: bool

    def load(self, resolution: tuple[int, ...]) -> Graph:
        """The graph with its sizes folded at ``resolution`` (warnings of the first load are not repeated)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OnnxWarning)
            return load_onnx(self.source, input_name=self.input_name, strict=self.strict, resolution=resolution)


# Defaults of Node fields the loader does not set (should Node grow one).
_NODE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(Node) if f.default is not dataclasses.MISSING}
_NODE_FACTORIES = [
    (f.name, f.default_factory)
    for f in dataclasses.fields(Node)
    if f.default_factory is not dataclasses.MISSING and f.name != "attrs"
]


def _call_materialized(ctx: Context, handler: Callable[[Context, OpNode], None], node: OpNode) -> None:
    """Run ``handler`` with flattened inputs seen as global (see ``Data.flat``)."""
    saved = []
    for t in node.input:
        d = ctx.data.get(t)
        if d is not None and d.flat is not None:
            saved.append((t, d))
            ctx.data[t] = ctx.materialize(d)
    try:
        handler(ctx, node)
    finally:
        for t, d in saved:
            ctx.data[t] = d


def _node(r: Record) -> Node:
    """The final Node.  Filled through ``__dict__``: a frozen dataclass's
    ``__init__`` pays an ``object.__setattr__`` per field, 5x the cost, and
    graphs can have a million nodes.  Same fields, same values."""
    node = Node.__new__(Node)
    d = node.__dict__
    d.update(_NODE_DEFAULTS)
    for name, factory in _NODE_FACTORIES:
        d[name] = factory()
    d.update(
        name=r.name,
        op=r.op,
        kind=r.kind,
        inputs=tuple(r.inputs),
        kernel=r.kernel,
        stride=r.stride,
        dilation=r.dilation,
        pad_begin=r.pad_begin,
        pad_end=r.pad_end,
        pad_mode=r.pad_mode,
        ceil_mode=r.ceil_mode,
        scale=r.scale,
        mode=r.mode,
        weighted=r.weighted,
        c_in=r.c_in,
        c_out=r.c_out,
        groups=r.groups,
        attrs=r.attrs,
    )
    return node


def _graph_name(label: str, graph: onnx.GraphProto) -> str:
    if not label.startswith("<"):
        base = os.path.basename(label)
        return base[: -len(".onnx")] if base.endswith(".onnx") else base
    return graph.name or "onnx"


def _pick_input(graph: onnx.GraphProto, input_name: str | None, label: str) -> tuple[str, tuple]:
    """The image input: named, or the first of rank 3-5 that is not an initializer."""
    inits = {t.name for t in graph.initializer}
    candidates = [vi for vi in graph.input if vi.name not in inits]
    if input_name is not None:
        vi = next((v for v in candidates if v.name == input_name), None)
        if vi is None:
            names = [v.name for v in candidates]
            raise OnnxError(f"{label}: no graph input named {input_name!r} (inputs: {names})")
        shape = value_info_shape(vi)
        if shape is None or not 3 <= len(shape) <= 5:
            raise OnnxError(
                f"{label}: input {input_name!r} has shape {shape}; an image input has rank 3, 4 or 5 (N, C, spatial...)"
            )
        return vi.name, shape
    for vi in candidates:
        shape = value_info_shape(vi)
        if shape is not None and 3 <= len(shape) <= 5:
            return vi.name, shape
    desc = [(v.name, value_info_shape(v)) for v in candidates]
    raise OnnxError(f"{label}: no image-like graph input (rank 3, 4 or 5) among {desc}; pass input_name=")


def _input_layout(nodes: Sequence[OpNode], image: str, shape: tuple) -> tuple[int, ...]:
    """The image's spatial axes: NC<spatial> unless Transposes before the first window say NHWC.

    Follows the image through element-wise ops and Transposes (composing the
    permutations) to the first Conv/pool; without one, guesses from the dims
    (a last axis of 1, 3 or 4 after a larger axis 1 reads as channels-last).
    """
    rank = len(shape)
    consumers: dict[str, list[OpNode]] = {}
    for n in nodes:
        for t in n.input:
            if t:
                consumers.setdefault(t, []).append(n)
    frontier = [(image, list(range(rank)))]
    seen = {image}
    steps = 0
    while frontier and steps < 256:
        t, cur = frontier.pop(0)
        steps += 1
        for c in consumers.get(t, ()):
            if not c.output or not c.input or c.input[0] != t and c.op_type not in _ELEMENTWISE:
                continue
            out = c.output[0]
            if c.op_type in _LAYOUT_WITNESSES:
                return tuple(cur[2:])
            if c.op_type == "Transpose":
                perm = c.attrs().get("perm") or list(range(len(cur) - 1, -1, -1))
                if sorted(perm) != list(range(len(cur))):
                    continue  # not a permutation of this rank: the Transpose handler reports it
                nxt = [cur[p] for p in perm]
            elif c.op_type in _ELEMENTWISE:
                nxt = cur
            else:
                continue
            if out not in seen:
                seen.add(out)
                frontier.append((out, nxt))
    if rank >= 3 and shape[-1] in (1, 3, 4) and isinstance(shape[1], int) and shape[1] > 4:
        return tuple(range(1, rank - 1))
    return tuple(range(2, rank))


def _override(
    shape: tuple, layout: tuple[int, ...], resolution: int | Sequence[int] | None, dims: int, label: str
) -> tuple[int | None, ...] | None:
    """The input shape to infer with when ``resolution`` is given (batch 1 if symbolic)."""
    if resolution is None:
        return None
    if isinstance(resolution, list):
        # a list means several resolutions everywhere else (screen): one meaning per form
        raise ResolutionError(
            f"{label}: resolution must be an int or a tuple with one size per axis, got the list {resolution!r} "
            f"(pass {tuple(resolution)!r})"
        )
    if isinstance(resolution, (int,)) and not isinstance(resolution, bool):
        res = (int(resolution),) * dims
    else:
        try:
            res = tuple(int(v) for v in resolution)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise OnnxError(f"{label}: resolution must be an int or {dims} ints, got {resolution!r}") from None
        if len(res) != dims:
            raise OnnxError(f"{label}: resolution has {len(res)} values but the input has {dims} spatial axes")
    if any(v < 1 for v in res):
        raise OnnxError(f"{label}: resolution must be positive, got {res}")
    out: list[int | None] = [v if isinstance(v, int) else None for v in shape]
    if out[0] is None:
        out[0] = 1
    for p, v in zip(layout, res):
        out[p] = v
    return tuple(out)


def _warn(ctx: Context) -> None:
    """One warning per category, each listing what it concerns once."""
    if ctx.unknown_ops:
        warnings.warn(
            f"{ctx.label}: ONNX ops rfa_fast does not know were treated as identity when shape-preserving, "
            f"else as global: {', '.join(ctx.unknown_ops)} (strict=True makes this an error)",
            UnknownOpWarning,
            stacklevel=3,
        )
    for category, items in ctx.notes.items():
        shown = "; ".join(items[:5]) + (f"; and {len(items) - 5} more" if len(items) > 5 else "")
        warnings.warn(f"{ctx.label}: {category}: {shown}", OnnxWarning, stacklevel=3)
