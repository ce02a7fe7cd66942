"""The ops table: how each ONNX op acts on the receptive field.

One handler per op family.  A handler reads the node (attributes, constant
inputs, inferred shapes) through the :class:`~rfa_fast.onnx.context.Context`
and either *emits* a record (a layer of the graph) or *aliases* its outputs
to its input's producer (pass-through ops: they do not appear in reports).
``docs/onnx.md`` lists every op with its kind and the reason.

>>> sorted(k for k, v in OPS.items() if v is window)[:4]
['AveragePool', 'Conv', 'ConvInteger', 'FusedConv']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from ..kinds import Kind, PadMode, ResizeMode
from .context import Context, Data, Flat
from .order import OpNode, node_inputs

Handler = Callable[[Context, OpNode], None]

_AUTO_PAD = {
    "NOTSET": PadMode.EXPLICIT,
    "": PadMode.EXPLICIT,
    "SAME_UPPER": PadMode.SAME_UPPER,
    "SAME_LOWER": PadMode.SAME_LOWER,
    "VALID": PadMode.VALID,
}
_RESIZE_MODE = {
    "nearest": ResizeMode.NEAREST,
    "linear": ResizeMode.LINEAR,
    "bilinear": ResizeMode.LINEAR,
    "trilinear": ResizeMode.LINEAR,
    "cubic": ResizeMode.CUBIC,
    "bicubic": ResizeMode.CUBIC,
}
# Weight input index of the weighted window ops.
_WEIGHT_INDEX = {"Conv": 1, "ConvInteger": 1, "FusedConv": 1, "QLinearConv": 3, "ConvTranspose": 1, "NhwcConv": 1}


# -- helpers -------------------------------------------------------------------


def _norm_axis(axis: int, rank: int | None, ctx: Context, node: OpNode) -> int:
    if axis >= 0:
        return axis
    if rank is None:
        raise ctx.needs_resolution(node, "the rank of its input (to resolve a negative axis)")
    return axis + rank


def _rank(ctx: Context, d: Data, tensor: str) -> int | None:
    if d.rank is not None:
        return d.rank
    s = ctx.shape(tensor)
    return len(s) if s is not None else None


def _axes_input(ctx: Context, node: OpNode, index: int, attr: str = "axes") -> list[int] | None:
    """Axes from the attribute (older opsets) or the constant input ``index`` (newer)."""
    a = ctx.attrs(node)
    if attr in a:
        v = a[attr]
        return [v] if isinstance(v, int) else list(v)
    if len(node.input) > index and node.input[index]:
        vals = ctx.tensors.ints(node.input[index])
        if vals is None:
            raise ctx.fail(node, f"its {attr} input {node.input[index]!r} is not a constant the loader can fold")
        return vals
    return None


def _lead(ctx: Context, node: OpNode) -> Data | None:
    """The first non-global data input with a layout (or the first data input)."""
    ins = ctx.data_inputs(node)
    for d in ins:
        if not d.is_global and d.layout is not None:
            return d
    return ins[0] if ins else None


def _shift(layout: tuple[int, ...] | None, by: int) -> tuple[int, ...] | None:
    return None if layout is None else tuple(p + by for p in layout)


def _opaque_global(ctx: Context, node: OpNode, **fields: object) -> None:
    """A node whose output sees the whole input (global), named after the node."""
    ins = ctx.data_inputs(node)
    ctx.emit(node, Kind.GLOBAL, ins, layout=None, rank=None, **fields)  # type: ignore[arg-type]


def _kernel(ctx: Context, node: OpNode, weight_shape: Sequence[object] | None) -> tuple[int, ...]:
    a = ctx.attrs(node)
    k = a.get("kernel_shape")
    if k:
        return _checked(ctx, node, "kernel_shape", tuple(int(v) for v in k), 1, _MAX_WINDOW)
    if weight_shape is not None and len(weight_shape) > 2 and all(isinstance(v, int) for v in weight_shape[2:]):
        return tuple(int(v) for v in weight_shape[2:])  # type: ignore[call-overload]
    raise ctx.fail(node, "has no kernel_shape attribute and the shape of its weight is unknown")


def _window_geometry(
    ctx: Context, node: OpNode, kernel: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[int, ...], PadMode]:
    """strides, dilations, pad_begin, pad_end, pad_mode of a Conv/Pool node."""
    a = ctx.attrs(node)
    n = len(kernel)
    strides = tuple(a.get("strides") or (1,) * n)
    dil = tuple(a.get("dilations") or (1,) * n)
    pads = tuple(a.get("pads") or (0,) * (2 * n))
    auto = str(a.get("auto_pad", "NOTSET")).upper()
    if auto not in _AUTO_PAD:
        raise ctx.fail(node, f"auto_pad {auto!r} is not NOTSET, SAME_UPPER, SAME_LOWER or VALID")
    if len(strides) != n or len(dil) != n or len(pads) != 2 * n:
        raise ctx.fail(
            node,
            f"kernel {list(kernel)}, strides {list(strides)}, dilations {list(dil)} and pads {list(pads)} disagree on the number of axes",
        )
    _checked(ctx, node, "strides", strides, 1, _MAX_WINDOW)
    _checked(ctx, node, "dilations", dil, 1, _MAX_WINDOW)
    mode = _AUTO_PAD[auto]
    if mode != PadMode.EXPLICIT:
        pads = (0,) * (2 * n)
    _checked(ctx, node, "pads", pads, -_MAX_PAD, _MAX_PAD)
    return strides, dil, pads[:n], pads[n:], mode


# The core's limits (csrc/rfa/batch.hpp): checked here too, so that a file's
# bad attribute is refused in the file's words (node, attribute) rather than
# in the core's (array positions).
_MAX_WINDOW = 1 << 16
_MAX_PAD = 1 << 20


def _checked(ctx: Context, node: OpNode, attribute: str, values: tuple[int, ...], lo: int, hi: int) -> tuple[int, ...]:
    """``values`` of an ONNX attribute, refused (naming file, node and attribute) unless all are in lo..hi."""
    for axis, v in enumerate(values):
        if not lo <= int(v) <= hi:
            raise ctx.fail(
                node, f"attribute {attribute} is {list(values)}: {v} at position {axis} is not in {lo}..{hi}"
            )
    return values


def _group(ctx: Context, node: OpNode) -> int:
    """The ``group`` attribute of a Conv/ConvTranspose (default 1), refused unless >= 1."""
    group = int(ctx.attrs(node).get("group", 1))
    if group < 1:
        raise ctx.fail(node, f"attribute group is {group}, must be >= 1")
    return group


def _spatial_ok(ctx: Context, node: OpNode, x: Data, what: str) -> bool:
    """Whether ``x`` has the NC<spatial> layout an ONNX window op expects; notes it if not."""
    if x.layout == ctx.canonical and (x.rank is None or x.rank == ctx.dims + 2):
        return True
    ctx.note(
        "layout",
        f"{ctx.node_name(node)} ({node.op_type}) runs {what} over axes that are not the input's spatial axes "
        f"(spatial axes at {x.layout}); treated as global",
    )
    return False


# -- windows -------------------------------------------------------------------


def _weight_channels(wshape: Any, group: int, *, transposed: bool) -> tuple[int, int]:
    """(c_in, c_out) from a weight's static dims; (0, 0) when unknown.

    Conv weights are [c_out, c_in / group, k...]; ConvTranspose weights are
    [c_in, c_out / group, k...].
    """
    if wshape is None or len(wshape) < 2 or not isinstance(wshape[0], int) or not isinstance(wshape[1], int):
        return 0, 0
    first, second = int(wshape[0]), int(wshape[1]) * group
    return (first, second) if transposed else (second, first)


def window(ctx: Context, node: OpNode) -> None:
    """Conv, pooling: a sliding window (WINDOW); weighted for convolutions."""
    x = ctx.first_input(node)
    if x is None:
        return _opaque_global(ctx, node)
    op = node.op_type
    wi = _WEIGHT_INDEX.get(op)
    weighted = wi is not None
    wshape = None
    if wi is not None and len(node.input) > wi and node.input[wi]:
        wshape = ctx.tensors.const_shape(node.input[wi])
    kernel = _kernel(ctx, node, wshape)
    a = ctx.attrs(node)
    group = _group(ctx, node)
    c_in, c_out = _weight_channels(wshape if weighted else None, group, transposed=False)
    extra: dict[str, Any] = dict(weighted=weighted, c_in=c_in, c_out=c_out, groups=group)
    if x.is_global:
        # Geometry is moot on a global tensor (the field is already the whole
        # input); the kernel is kept when it fits, for parameter counts.
        k = kernel if len(kernel) == ctx.dims else (1,) * ctx.dims
        ctx.emit(node, Kind.WINDOW, [x], outputs=node.output[:1], kernel=k, **extra)
        _alias_rest(ctx, node)
        return
    if len(kernel) != ctx.dims:
        if x.layout == ctx.canonical:
            raise ctx.fail(
                node, f"has a {len(kernel)}-D kernel {list(kernel)} but the input has {ctx.dims} spatial axes"
            )
    if not _spatial_ok(ctx, node, x, "a window"):
        ctx.emit(node, Kind.GLOBAL, [x], layout=None, outputs=node.output[:1], **extra)
        _alias_rest(ctx, node)
        return
    strides, dil, pb, pe, mode = _window_geometry(ctx, node, kernel)
    ceil = bool(a.get("ceil_mode", 0))
    ctx.emit(
        node,
        Kind.WINDOW,
        [x],
        outputs=node.output[:1],
        kernel=kernel,
        stride=strides,
        dilation=dil,
        pad_begin=pb,
        pad_end=pe,
        pad_mode=mode,
        ceil_mode=ceil,
        **extra,
    )
    _alias_rest(ctx, node)


def _alias_rest(ctx: Context, node: OpNode) -> None:
    """Secondary outputs (MaxPool's Indices...) follow the first output."""
    if len(node.output) > 1 and node.output[0] in ctx.data:
        ctx.alias(node, ctx.data[node.output[0]], outputs=node.output[1:])


def transposed(ctx: Context, node: OpNode) -> None:
    """ConvTranspose (weighted) and MaxUnpool (unweighted): TRANSPOSED.

    ``output_padding`` is folded into ``pad_end`` as a negative (DESIGN.md);
    an ``output_shape`` attribute sets the pads from the nominal input size.
    """
    x = ctx.first_input(node)
    if x is None:
        return _opaque_global(ctx, node)
    weighted = node.op_type == "ConvTranspose"
    a = ctx.attrs(node)
    wshape = ctx.tensors.const_shape(node.input[1]) if weighted and len(node.input) > 1 and node.input[1] else None
    kernel = _kernel(ctx, node, wshape)
    group = _group(ctx, node)
    c_in, c_out = _weight_channels(wshape if weighted else None, group, transposed=True)
    extra: dict[str, Any] = dict(weighted=weighted, c_in=c_in, c_out=c_out, groups=group)
    if x.is_global:
        k = kernel if len(kernel) == ctx.dims else (1,) * ctx.dims
        ctx.emit(node, Kind.WINDOW, [x], kernel=k, **extra)
        return
    if not _spatial_ok(ctx, node, x, "a transposed convolution"):
        ctx.emit(node, Kind.GLOBAL, [x], layout=None, **extra)
        return
    if len(kernel) != ctx.dims:
        raise ctx.fail(node, f"has a {len(kernel)}-D kernel {list(kernel)} but the input has {ctx.dims} spatial axes")
    strides, dil, pb, pe, mode = _window_geometry(ctx, node, kernel)
    n = len(kernel)
    out_pad = tuple(a.get("output_padding") or (0,) * n)
    out_shape = a.get("output_shape")
    if out_shape:
        out_shape = list(out_shape)[-n:]
        sizes = ctx.spatial_sizes(node, node.input[0], x.layout, "the input size (needed for output_shape)")  # type: ignore[arg-type]
        kext = [d * (k - 1) + 1 for k, d in zip(kernel, dil)]
        total = [s * (i - 1) + o + ke - out for s, i, o, ke, out in zip(strides, sizes, out_pad, kext, out_shape)]
        if mode == PadMode.SAME_UPPER:
            pb = tuple(t // 2 for t in total)
            pe = tuple(t - t // 2 for t in total)
        else:
            pb = tuple(t - t // 2 for t in total)
            pe = tuple(t // 2 for t in total)
        mode = PadMode.EXPLICIT
    pe = tuple(p - o for p, o in zip(pe, out_pad))
    ctx.emit(
        node,
        Kind.TRANSPOSED,
        [x],
        kernel=kernel,
        stride=strides,
        dilation=dil,
        pad_begin=pb,
        pad_end=pe,
        pad_mode=mode,
        **extra,
    )


def global_pool(ctx: Context, node: OpNode) -> None:
    """GlobalAveragePool, GlobalMaxPool, GlobalLpPool: GLOBAL; the tensor keeps its 1x1 axes."""
    ins = ctx.data_inputs(node)
    x = ctx.first_input(node) or ins[0]
    ctx.emit(node, Kind.GLOBAL, ins, layout=x.layout, rank=x.rank)


def roi(ctx: Context, node: OpNode) -> None:
    """RoiAlign, MaxRoiPool, GridSample, DeformConv: sample where data says: GLOBAL."""
    _opaque_global(ctx, node)


def space_to_depth(ctx: Context, node: OpNode) -> None:
    """SpaceToDepth(b): output unit (i, j) reads the b x b block at (b·i, b·j): WINDOW k=b, s=b."""
    x = ctx.first_input(node)
    if x is None or x.is_global:
        return _passthrough(ctx, node)
    if not _spatial_ok(ctx, node, x, "SpaceToDepth"):
        return _opaque_global(ctx, node)
    b = int(ctx.attrs(node).get("blocksize", 1))
    if b == 1:
        return ctx.alias(node, x)
    k = (b,) * ctx.dims
    ctx.emit(node, Kind.WINDOW, [x], kernel=k, stride=k)


def depth_to_space(ctx: Context, node: OpNode) -> None:
    """DepthToSpace(b): output unit i reads input unit floor(i/b) only: RESIZE nearest by b.

    Nearest upsampling is exact here (the field of output unit 0 is that of
    input unit 0, and the center does not move); a TRANSPOSED k=b, s=b would
    shift the center by (b-1)/2b and count weights that are not there.
    """
    x = ctx.first_input(node)
    if x is None or x.is_global:
        return _passthrough(ctx, node)
    if not _spatial_ok(ctx, node, x, "DepthToSpace"):
        return _opaque_global(ctx, node)
    b = int(ctx.attrs(node).get("blocksize", 1))
    if b == 1:
        return ctx.alias(node, x)
    ctx.emit(node, Kind.RESIZE, [x], scale=(float(b),) * ctx.dims, mode=ResizeMode.NEAREST)


# -- resize ----------------------------------------------------------------------


def resize(ctx: Context, node: OpNode) -> None:
    """Resize and Upsample: RESIZE by the spatial scales (from scales, or sizes / input size)."""
    x = ctx.first_input(node)
    if x is None or x.is_global:
        # Upsampling a global tensor (DeepLab's image pooling) keeps it global.
        return _passthrough(ctx, node)
    a = ctx.attrs(node)
    mode_name = str(a.get("mode", "nearest")).lower()
    mode = _RESIZE_MODE.get(mode_name)
    if mode is None:
        if ctx.strict:
            raise ctx.unsupported(node, f"with mode {mode_name!r}")
        ctx.note("resize", f"{ctx.node_name(node)}: unknown resize mode {mode_name!r}, treated as linear")
        mode = ResizeMode.LINEAR
    layout = x.layout
    if layout is None:
        return _passthrough(ctx, node)
    rank = _rank(ctx, x, node.input[0])
    opset = ctx.opset(node)
    scales: list[float] | None = None
    sizes: list[int] | None = None
    if node.op_type == "Upsample":
        if "scales" in a:
            scales = [float(v) for v in a["scales"]]
        elif len(node.input) > 1 and node.input[1]:
            scales = ctx.tensors.floats(node.input[1])
            if scales is None:
                raise ctx.needs_resolution(node, "its scales input")
    elif opset < 11:
        if len(node.input) > 1 and node.input[1]:
            scales = ctx.tensors.floats(node.input[1])
            if scales is None:
                raise ctx.needs_resolution(node, "its scales input")
    else:
        if len(node.input) > 2 and node.input[2]:
            scales = ctx.tensors.floats(node.input[2])
            if scales is None:
                raise ctx.needs_resolution(node, "its scales input")
            if not scales:
                scales = None
        if scales is None and len(node.input) > 3 and node.input[3]:
            sizes = ctx.tensors.ints(node.input[3])
            if sizes is None:
                raise ctx.needs_resolution(node, f"its sizes input {node.input[3]!r}")
    if scales is None and sizes is None:
        raise ctx.fail(node, "has neither scales nor sizes")
    axes = a.get("axes")
    given = scales if scales is not None else sizes
    assert given is not None
    if axes is None:
        if rank is not None and len(given) != rank:
            raise ctx.fail(node, f"has {len(given)} scales/sizes for a rank-{rank} input")
        axes = list(range(len(given)))
    axes = [_norm_axis(int(v), rank, ctx, node) for v in axes]
    per_axis = dict(zip(axes, given))
    out: list[float] = []
    if scales is not None:
        out = [float(per_axis.get(p, 1.0)) for p in layout]
    else:
        n_in = ctx.spatial_sizes(node, node.input[0], layout, "the input size (needed to turn sizes into scales)")
        fr = [Fraction(int(per_axis.get(p, n)), n) for p, n in zip(layout, n_in)]
        policy = str(a.get("keep_aspect_ratio_policy", "stretch")).lower()
        listed = [f for p, f in zip(layout, fr) if p in per_axis]
        if policy in ("not_larger", "not_smaller") and listed:
            f = min(listed) if policy == "not_larger" else max(listed)
            fr = [f if p in per_axis else g for p, g in zip(layout, fr)]
        out = [float(f) for f in fr]
    if any(not (s > 0) for s in out):
        raise ctx.fail(node, f"has non-positive spatial scales {out}")
    if str(a.get("coordinate_transformation_mode", "")) == "align_corners":
        ctx.note("align_corners", f"{ctx.node_name(node)}: align_corners resize analyzed with scale out/in")
    if all(s == 1.0 for s in out):
        return ctx.alias(node, x)
    ctx.emit(node, Kind.RESIZE, [x], scale=tuple(out), mode=mode)


# -- merges and pass-through -----------------------------------------------------------


def _passthrough(ctx: Context, node: OpNode) -> None:
    elementwise(ctx, node)


def elementwise(ctx: Context, node: OpNode) -> None:
    """Element-wise ops: one data input is a pass-through (alias), several are a MERGE.

    Constant operands (biases, scales, BatchNormalization statistics) are not
    inputs of the analysis.  ``x * sigmoid(x)`` (SiLU) reads one producer
    twice and stays a pass-through.  With broadcasting, the output rank is
    the largest input rank and the spatial axes shift accordingly.
    """
    ins = ctx.data_inputs(node)
    if not ins:
        return
    first = ins[0]
    if len(ins) == 1 or all(d is first for d in ins):
        # The common case (activations, normalization, x * const): no rank change.
        for t in node.output:
            if t:
                ctx.data[t] = first
        return
    ins = [ctx.materialize(d) if d.flat is not None else d for d in ins]
    lead = next((d for d in ins if not d.is_global and d.layout is not None), ins[0])
    ranks = [d.rank for d in ins]
    out_rank = None if any(r is None for r in ranks) else max(ranks)  # type: ignore[type-var]
    if out_rank is not None and lead.rank is not None:
        layout = _shift(lead.layout, out_rank - lead.rank)
    else:
        layout = lead.layout
    nodes = {d.node for d in ins}
    if len(nodes) == 1:
        ctx.alias(node, lead, layout=layout, rank=out_rank)
        return
    ordered = [lead] + [d for d in ins if d is not lead]
    ctx.emit(node, Kind.MERGE, ordered, layout=layout, rank=out_rank)


def concat(ctx: Context, node: OpNode) -> None:
    """Concat on the channel axis: a MERGE.  On a spatial axis: MERGE with a warning (fmap is wrong)."""
    lead = _lead(ctx, node)
    if lead is None:
        return
    if not lead.is_global and lead.layout is not None:
        rank = _rank(ctx, lead, node.input[0])
        axis = _norm_axis(int(ctx.attrs(node).get("axis", 1)), rank, ctx, node)
        if axis in lead.layout:
            if ctx.strict:
                raise ctx.fail(
                    node, f"concatenates along spatial axis {axis}; rfa_fast models only channel concatenation"
                )
            ctx.note("spatial concat", f"{ctx.node_name(node)} (Concat on spatial axis {axis})")
    elementwise(ctx, node)


def tile(ctx: Context, node: OpNode) -> None:
    """Tile: a pass-through; repeating a non-global map along a spatial axis is noted."""
    x = ctx.first_input(node)
    if x is not None and not x.is_global and x.layout is not None and len(node.input) > 1:
        reps = ctx.tensors.ints(node.input[1])
        if reps is None or any(reps[p] != 1 for p in x.layout if p < len(reps)):
            ctx.note("spatial concat", f"{ctx.node_name(node)} (Tile along a spatial axis)")
    elementwise(ctx, node)


def context_norm(ctx: Context, node: OpNode) -> None:
    """Ops whose statistics span spatial axes (InstanceNorm, GroupNorm, softmax over space...).

    Output = f(x, statistics of x over the map): a MERGE of the input with a
    GLOBAL statistics node, so the layer and everything after it carry
    ``global_context`` while the field stays that of the spatial path.
    Over channels only, they are pass-throughs.
    """
    x = ctx.first_input(node)
    if x is not None and x.flat is not None and not x.is_global:
        return _flat_context_norm(ctx, node, x)
    if x is None or x.is_global or x.layout is None:
        return elementwise(ctx, node)
    rank = _rank(ctx, x, node.input[0])
    axes = _stat_axes(ctx, node, rank)
    if axes is not None and not any(p in axes for p in x.layout):
        return elementwise(ctx, node)
    ctx.emit(node, Kind.GLOBAL, [x], outputs=(), name=f"{ctx.node_name(node)}/stats", layout=x.layout, rank=x.rank)
    stats_data = Data(len(ctx.records) - 1, x.layout, x.rank, True)
    others = [d for d in ctx.data_inputs(node) if d is not x]
    ctx.emit(node, Kind.MERGE, [x, stats_data] + others)


def _flat_context_norm(ctx: Context, node: OpNode, x: Data) -> None:
    """InstanceNorm of a flattened map (GroupNorm): statistics over everything past axis 1.

    Whether they span the merged spatial positions is read from the shapes:
    the statistics axes cover every element of one (batch, group) slice, which
    holds spatial positions unless the flattening kept them on axes 0-1.
    """
    rank = x.rank if x.rank is not None else _rank(ctx, x, node.input[0])
    axes = _stat_axes(ctx, node, rank)
    if axes is not None and rank is not None and not any(a >= 2 for a in axes):
        return elementwise(ctx, node)
    ctx.emit(node, Kind.GLOBAL, [x], outputs=(), name=f"{ctx.node_name(node)}/stats", layout=None, rank=x.rank)
    stats = Data(len(ctx.records) - 1, None, x.rank, True)
    rec_inputs = [x, stats]
    ctx.emit(node, Kind.MERGE, rec_inputs, outputs=(), layout=None, rank=x.rank)
    out = Data(len(ctx.records) - 1, None, x.rank, False, x.flat)
    for t in node.output:
        if t:
            ctx.data[t] = out


def _stat_axes(ctx: Context, node: OpNode, rank: int | None) -> set[int] | None:
    """Axes the op's statistics run over (None: all of them)."""
    op = node.op_type
    a = ctx.attrs(node)
    if op in ("InstanceNormalization", "GroupNormalization"):
        return None if rank is None else set(range(2, rank))
    if op == "MeanVarianceNormalization":
        axes = a.get("axes", [0, 2, 3])
        return {_norm_axis(int(v), rank, ctx, node) for v in axes}
    if op in ("LayerNormalization", "SimplifiedLayerNormalization", "SkipLayerNormalization"):
        axis = _norm_axis(int(a.get("axis", -1)), rank, ctx, node)
        return None if rank is None else set(range(axis, rank))
    if op == "LpNormalization":
        return {_norm_axis(int(a.get("axis", -1)), rank, ctx, node)}
    # Softmax, LogSoftmax, Hardmax
    if ctx.opset(node) < 13:
        axis = _norm_axis(int(a.get("axis", 1)), rank, ctx, node)
        return None if rank is None else set(range(axis, rank))
    return {_norm_axis(int(a.get("axis", -1)), rank, ctx, node)}


# -- layout ops ------------------------------------------------------------------------


def transpose(ctx: Context, node: OpNode) -> None:
    """Transpose: a pass-through that moves the spatial axes."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.layout is None:
        return ctx.alias(node, x)
    perm = ctx.attrs(node).get("perm")
    rank = _rank(ctx, x, node.input[0])
    if perm is None:
        if rank is None:
            raise ctx.needs_resolution(node, "the rank of its input")
        perm = list(range(rank - 1, -1, -1))
    perm = [perm] if isinstance(perm, int) else list(perm)
    if sorted(perm) != list(range(len(perm))) or (rank is not None and len(perm) != rank):
        raise ctx.fail(node, f"perm {perm} is not a permutation of the input's {rank} axes")
    if any(p >= len(perm) for p in x.layout):
        raise ctx.fail(node, f"perm {perm} has fewer axes than its input")
    ctx.alias(node, x, layout=tuple(perm.index(p) for p in x.layout), rank=len(perm))


def reshape(ctx: Context, node: OpNode) -> None:
    """Reshape: keeps the spatial axes when their sizes survive intact (ShuffleNet's channel shuffle).

    A spatial axis survives when some output axis has its size and the same
    product of sizes before it (symbolic dims compare by name).  Cutting an
    axis into blocks or rebuilding it from blocks (PixelUnshuffle/PixelShuffle
    as reshapes) is a WINDOW k=b, s=b or a nearest RESIZE by r (``_blocks``).
    Otherwise the map is flattened: global as soon as an op mixes positions,
    unless a Reshape restores the axes first (GroupNorm, ``Data.flat``).
    """
    x = ctx.first_input(node)
    if x is None:
        return
    if x.is_global or (x.layout is None and x.flat is None):
        return ctx.alias(node, x, layout=None, rank=None)
    s_in = ctx.shape(node.input[0])
    s_out = ctx.shape(node.output[0])
    if s_out is None and s_in is not None and len(node.input) > 1:
        target = ctx.tensors.ints(node.input[1])
        if target is not None:
            s_out = _reshape_shape(s_in, target, bool(ctx.attrs(node).get("allowzero", 0)))  # type: ignore[assignment]
    if s_in is None or s_out is None:
        raise ctx.needs_resolution(node, "the shape of its input or output")
    if x.layout is not None and all(p < len(s_in) and isinstance(s_in[p], int) for p in x.layout):
        ctx.size_reads += 1  # where the spatial axes go was decided from their sizes at the load resolution
    if x.flat is not None:
        # Back to the structure before the flattening (GroupNorm's second Reshape)?
        layout = _map_axes(x.flat.shape, s_out, x.flat.layout)
        if layout is not None:
            return ctx.alias(node, x, layout=layout, rank=len(s_out))  # type: ignore[misc]
        return ctx.data.__setitem__(node.output[0], Data(x.node, None, len(s_out), False, x.flat))
    layout = _map_axes(s_in, s_out, x.layout)  # type: ignore[arg-type]
    blocks = _blocks(s_in, s_out, x.layout) if layout is None else None  # type: ignore[arg-type]
    if blocks is not None:
        new, split, merge = blocks
        cur = x
        outs = [t for t in node.output if t]
        if any(b > 1 for b in split):
            rec = ctx.emit(
                node, Kind.WINDOW, [cur], outputs=outs, layout=new, rank=len(s_out), kernel=split, stride=split
            )
            rec.attrs["reshape"] = "space_to_depth"
            cur = ctx.data[outs[0]]
        if any(r > 1 for r in merge):
            name = ctx.node_name(node) + ("/upsample" if any(b > 1 for b in split) else "")
            scale = tuple(float(r) for r in merge)
            ctx.emit(node, Kind.RESIZE, [cur], outputs=outs, name=name, layout=new, rank=len(s_out), scale=scale)
        return None
    if layout is None:
        if not all(isinstance(d, int) for d in s_in):
            ctx.emit(node, Kind.GLOBAL, [x], layout=None, rank=len(s_out))
            return
        # Flattened, not yet mixed: global only if an op mixes positions before a Reshape back.
        flat = Flat(ctx.node_name(node), s_in, x.layout)  # type: ignore[arg-type]
        return ctx.data.__setitem__(node.output[0], Data(x.node, None, len(s_out), False, flat))
    ctx.alias(node, x, layout=layout, rank=len(s_out))


def _reshape_shape(s_in: Sequence[object], target: list[int], allowzero: bool) -> tuple[object, ...] | None:
    out: list[object] = []
    for i, v in enumerate(target):
        out.append(s_in[i] if v == 0 and not allowzero and i < len(s_in) else v)
    if -1 in out:
        if not all(isinstance(d, int) for d in s_in):
            return None
        total = 1
        for d in s_in:
            total *= d  # type: ignore[operator]
        known = 1
        for d in out:
            if d != -1:
                if not isinstance(d, int):
                    return None
                known *= d
        out[out.index(-1)] = total // known if known else 0
    return tuple(out)


def _prefix_key(dims: Sequence[object]) -> tuple[int, tuple[str, ...]] | None:
    prod = 1
    syms: list[str] = []
    for d in dims:
        if isinstance(d, int):
            prod *= d
        elif isinstance(d, str):
            syms.append(d)
        else:
            return None
    return prod, tuple(sorted(syms))


def _map_axes(s_in: Sequence[object], s_out: Sequence[object], layout: tuple[int, ...]) -> tuple[int, ...] | None:
    """Where the spatial axes of ``s_in`` sit in ``s_out``, or None if a reshape mixes them."""
    out_keys = [_prefix_key(s_out[:q]) for q in range(len(s_out))]
    mapped = []
    for p in layout:
        key = _prefix_key(s_in[:p])
        size = s_in[p]
        if key is None or size is None:
            return None
        q = next((q for q in range(len(s_out)) if s_out[q] == size and out_keys[q] == key), None)
        if q is None:
            return None
        mapped.append(q)
    return tuple(mapped)


def _blocks(
    s_in: Sequence[object], s_out: Sequence[object], layout: tuple[int, ...]
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]] | None:
    """Spatial axes a reshape cuts into blocks or rebuilds from blocks (PixelUnshuffle/-Shuffle written as reshapes).

    Returns (new layout, split factor per axis, merge factor per axis):
    - split: axis ``n`` becomes ``(n/b, b, ...)``: the outer part stays
      spatial and output unit i holds input units b·i .. b·i+b-1, a WINDOW
      k=b, s=b once the inner part joins the channels;
    - merge: axis ``n`` and the non-spatial axes right after it (the
      faster-varying ones, of product r) become one axis of ``n·r``: unit i
      reads unit floor(i/r), nearest upsampling by r.
    Static shapes only; None when an axis is mixed any other way.
    """
    if not all(isinstance(d, int) for d in s_in) or not all(isinstance(d, int) for d in s_out):
        return None
    out_keys = [_prefix_key(s_out[:q]) for q in range(len(s_out))]
    new, split, merge = [], [], []
    for p in layout:
        key = _prefix_key(s_in[:p])
        n = int(s_in[p])  # type: ignore[call-overload]
        if n <= 0:  # an empty axis has no blocks
            return None
        found = None
        for q in range(len(s_out)):
            if out_keys[q] != key:
                continue
            m = int(s_out[q])  # type: ignore[call-overload]
            if m <= 0:  # (a shape with a 0 dim, as a hostile file may hold)
                continue
            if m == n:
                found = (q, 1, 1)
            elif m < n and n % m == 0 and q + 1 < len(s_out):
                inner, r = 1, q + 1
                while r < len(s_out) and inner < n // m:
                    inner *= int(s_out[r])  # type: ignore[call-overload]
                    r += 1
                if inner == n // m:
                    found = (q, n // m, 1)
            elif m > n and m % n == 0:
                inner, r = 1, p + 1
                while r < len(s_in) and inner < m // n and r not in layout:
                    inner *= int(s_in[r])  # type: ignore[call-overload]
                    r += 1
                if inner == m // n:
                    found = (q, 1, m // n)
            if found is not None:
                break
        if found is None:
            return None
        new.append(found[0])
        split.append(found[1])
        merge.append(found[2])
    return tuple(new), tuple(split), tuple(merge)


def flatten(ctx: Context, node: OpNode) -> None:
    """Flatten: the map becomes a vector: GLOBAL (a pass-through when already global)."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.is_global or x.layout is None:
        return ctx.alias(node, x, layout=None, rank=2)
    ctx.emit(node, Kind.GLOBAL, [x], layout=None, rank=2)


def unsqueeze(ctx: Context, node: OpNode) -> None:
    """Unsqueeze: a pass-through that shifts the spatial axes."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.layout is None:
        return ctx.alias(node, x)
    rank = _rank(ctx, x, node.input[0])
    axes = _axes_input(ctx, node, 1)
    if axes is None or rank is None:
        raise ctx.needs_resolution(node, "its axes or its input rank")
    out_rank = rank + len(axes)
    inserted = {a + out_rank if a < 0 else a for a in axes}
    kept = [q for q in range(out_rank) if q not in inserted]
    ctx.alias(node, x, layout=tuple(kept[p] for p in x.layout), rank=out_rank)


def squeeze(ctx: Context, node: OpNode) -> None:
    """Squeeze: a pass-through unless it removes a spatial axis of a non-global map (then GLOBAL)."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.layout is None:
        return ctx.alias(node, x)
    rank = _rank(ctx, x, node.input[0])
    axes = _axes_input(ctx, node, 1)
    if axes is None:
        s = ctx.shape(node.input[0])
        if s is None or any(d is None for d in s):
            raise ctx.needs_resolution(node, "which axes it squeezes")
        axes = [i for i, d in enumerate(s) if d == 1]
        rank = len(s)
    if rank is None:
        raise ctx.needs_resolution(node, "the rank of its input")
    removed = {a + rank if a < 0 else a for a in axes}
    if any(p in removed for p in x.layout):
        if x.is_global:
            return ctx.alias(node, x, layout=None, rank=rank - len(removed))
        ctx.emit(node, Kind.GLOBAL, [x], layout=None, rank=rank - len(removed))
        return
    kept = [q for q in range(rank) if q not in removed]
    ctx.alias(node, x, layout=tuple(kept.index(p) for p in x.layout), rank=rank - len(removed))


def _crop(
    ctx: Context, node: OpNode, x: Data, out: str, n: dict[int, int], spans: dict[int, tuple[int, int, int]], name: str
) -> None:
    """Emit a k=1 WINDOW for a crop/stride along spatial axes: pads -start, -(n-end), stride step."""
    pb, pe, st = [], [], []
    for p in x.layout:  # type: ignore[union-attr]
        if p in spans:
            start, end, step = spans[p]
            size = n[p]
            if step > 0:
                pb.append(-start)
                pe.append(-(size - end))
            else:
                # Reversed slice: same units, mirrored; fmap is right, center is not.
                pb.append(-(end + 1))
                pe.append(-(size - 1 - start))
            st.append(abs(step))
        else:
            pb.append(0)
            pe.append(0)
            st.append(1)
    ctx.emit(node, Kind.WINDOW, [x], outputs=[out], name=name, stride=tuple(st), pad_begin=tuple(pb), pad_end=tuple(pe))


def _clamp_slice(start: int, end: int, step: int, n: int) -> tuple[int, int]:
    """ONNX Slice clamping of start/end for a dim of size n."""
    if start < 0:
        start += n
    if end < 0:
        end += n
    if step > 0:
        start = max(0, min(n, start))
        end = max(0, min(n, end))
    else:
        start = max(-1, min(n - 1, start))
        end = max(-1, min(n - 1, end))
    return start, end


def slice_(ctx: Context, node: OpNode) -> None:
    """Slice: channel slices are pass-throughs; on a spatial axis a k=1 WINDOW (crop, stride = step)."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.is_global or x.layout is None:
        return ctx.alias(node, x)
    a = ctx.attrs(node)
    rank = _rank(ctx, x, node.input[0])
    starts: list[int] | None
    ends: list[int] | None
    steps: list[int] | None
    axes: list[int] | None
    if "starts" in a:
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = ctx.tensors.ints(node.input[1]) if len(node.input) > 1 else None
        ends = ctx.tensors.ints(node.input[2]) if len(node.input) > 2 else None
        axes = _axes_input(ctx, node, 3)
        steps = ctx.tensors.ints(node.input[4]) if len(node.input) > 4 and node.input[4] else None
        if axes is None and starts is not None:
            axes = list(range(len(starts)))
        if steps is None and starts is not None:
            steps = [1] * len(starts)
    if axes is None:
        raise ctx.fail(node, "its axes are not constant")
    axes = [_norm_axis(int(v), rank, ctx, node) for v in axes]
    spatial = [i for i, ax in enumerate(axes) if ax in x.layout]
    if not spatial:
        return ctx.alias(node, x)
    if starts is None or ends is None or steps is None:
        raise ctx.needs_resolution(node, "the bounds of a slice along a spatial axis")
    sizes = dict(
        zip(x.layout, ctx.spatial_sizes(node, node.input[0], x.layout, "the input size (needed for a spatial slice)"))
    )
    spans: dict[int, tuple[int, int, int]] = {}
    for i in spatial:
        p, step = axes[i], steps[i]
        if step == 0:
            raise ctx.fail(node, "has a zero step")
        s, e = _clamp_slice(starts[i], ends[i], step, sizes[p])
        if step == 1 and s == 0 and e == sizes[p]:
            continue
        spans[p] = (s, e, step)
    if not spans:
        return ctx.alias(node, x)
    _crop(ctx, node, x, node.output[0], sizes, spans, ctx.node_name(node))


def split(ctx: Context, node: OpNode) -> None:
    """Split: on channels every output is a pass-through; on a spatial axis each output is a crop."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.is_global or x.layout is None:
        return ctx.alias(node, x)
    a = ctx.attrs(node)
    rank = _rank(ctx, x, node.input[0])
    axis = _norm_axis(int(a.get("axis", 0)), rank, ctx, node)
    if axis not in x.layout:
        return ctx.alias(node, x)
    (n,) = ctx.spatial_sizes(node, node.input[0], (axis,), "the input size (needed for a spatial split)")
    parts = a.get("split")
    if parts is None and len(node.input) > 1 and node.input[1]:
        parts = ctx.tensors.ints(node.input[1])
        if parts is None:
            raise ctx.needs_resolution(node, "its split sizes")
    outs = [t for t in node.output]
    if parts is None:
        k = len(outs)
        chunk = -(-n // k)
        parts = [min(chunk, n - i * chunk) for i in range(k)]
    offset = 0
    base = ctx.node_name(node)
    for i, (out, size) in enumerate(zip(outs, parts)):
        if out:
            _crop(ctx, node, x, out, {axis: n}, {axis: (offset, offset + size, 1)}, f"{base}:{i}")
        offset += size


def pad(ctx: Context, node: OpNode) -> None:
    """Pad: a pending record that ``fold.py`` folds into the windows it feeds (or a k=1 WINDOW).

    Pads come from the attribute (opset < 11) or a constant input, including
    the ``Shape -> Gather -> ... -> Pad`` arithmetic of TF-style SAME exports,
    folded at the nominal input size.
    """
    x = ctx.first_input(node)
    if x is None:
        return
    if x.is_global or x.layout is None:
        return ctx.alias(node, x)
    a = ctx.attrs(node)
    rank = _rank(ctx, x, node.input[0])
    dynamic = False
    pads: list[int] | None
    if "pads" in a or "paddings" in a:
        pads = list(a.get("pads", a.get("paddings")) or ())
    else:
        pads = ctx.tensors.ints(node.input[1]) if len(node.input) > 1 and node.input[1] else None
        if pads is None:
            raise ctx.needs_resolution(node, f"its pads input {node.input[1] if len(node.input) > 1 else ''!r}")
        dynamic = ctx.tensors.dynamic(node.input[1])
    axes = _axes_input(ctx, node, 3) if len(node.input) > 3 and node.input[3] else None
    if axes is None:
        if rank is None:
            rank = len(pads) // 2
        axes = list(range(rank))
    axes = [_norm_axis(int(v), rank, ctx, node) for v in axes]
    if len(pads) != 2 * len(axes):
        raise ctx.fail(node, f"has {len(pads)} pads for {len(axes)} axes")
    begin = dict(zip(axes, pads[: len(axes)]))
    end = dict(zip(axes, pads[len(axes) :]))
    pb = tuple(int(begin.get(p, 0)) for p in x.layout)
    pe = tuple(int(end.get(p, 0)) for p in x.layout)
    if not any(pb) and not any(pe):
        return ctx.alias(node, x)
    rec = ctx.record(ctx.node_name(node), node.op_type, None, [x])
    rec.pad_begin, rec.pad_end = pb, pe
    rec.pad_dynamic = dynamic
    s = ctx.shape(node.input[0]) if dynamic else None
    rec.pad_n = tuple(_static_dim(s, p) for p in x.layout)
    ctx.define(node.output[0], len(ctx.records) - 1, x.layout, x.rank, False)


def _static_dim(s: Sequence[object] | None, p: int) -> int | None:
    if s is None or p >= len(s):
        return None
    d = s[p]
    return d if isinstance(d, int) else None


def gather(ctx: Context, node: OpNode) -> None:
    """Gather: on channels a pass-through; picking positions of a non-global map: GLOBAL."""
    x = ctx.first_input(node)
    if x is None:
        return elementwise(ctx, node)
    if x.layout is None:
        return ctx.alias(node, x)
    rank = _rank(ctx, x, node.input[0])
    axis = _norm_axis(int(ctx.attrs(node).get("axis", 0)), rank, ctx, node)
    if axis in x.layout:
        if x.is_global:
            return ctx.alias(node, x, layout=None, rank=None)
        return _opaque_global(ctx, node)
    ishape = ctx.tensors.const_shape(node.input[1]) if len(node.input) > 1 else None
    if ishape is None:
        raise ctx.needs_resolution(node, "the rank of its indices")
    q = len(ishape)
    layout = tuple(p if p < axis else p + q - 1 for p in x.layout)
    ctx.alias(node, x, layout=layout, rank=None if rank is None else rank + q - 1)


def reduce(ctx: Context, node: OpNode) -> None:
    """ReduceMean/Max/... and ArgMax/ArgMin: over a spatial axis GLOBAL, over channels a pass-through."""
    x = ctx.first_input(node)
    if x is None:
        return
    if x.layout is None:
        return ctx.alias(node, x)
    a = ctx.attrs(node)
    rank = _rank(ctx, x, node.input[0])
    keep = bool(a.get("keepdims", 1))
    if node.op_type in ("ArgMax", "ArgMin"):
        axes: list[int] | None = [int(a.get("axis", 0))]
    else:
        axes = _axes_input(ctx, node, 1)
        if not axes:
            if a.get("noop_with_empty_axes", 0):
                return ctx.alias(node, x)
            axes = None
    reduced = None if axes is None else {_norm_axis(v, rank, ctx, node) for v in axes}
    hits_space = reduced is None or any(p in reduced for p in x.layout)
    if hits_space:
        layout = x.layout if keep else None
        if x.is_global:
            return ctx.alias(node, x, layout=layout, rank=rank if keep else None)
        ctx.emit(node, Kind.GLOBAL, [x], layout=layout, rank=rank if keep else None)
        return
    if keep:
        return ctx.alias(node, x)
    assert reduced is not None
    layout = tuple(p - sum(1 for r in reduced if r < p) for p in x.layout)
    ctx.alias(node, x, layout=layout, rank=None if rank is None else rank - len(reduced))


def gemm(ctx: Context, node: OpNode) -> None:
    """Gemm: a dense layer: GLOBAL, weighted (c_in, c_out from B's dims)."""
    ins = ctx.data_inputs(node)
    a = ctx.attrs(node)
    c_in = c_out = 0
    if len(node.input) > 1 and node.input[1] not in ctx.data:
        ws = ctx.tensors.const_shape(node.input[1])
        if ws is not None and len(ws) == 2 and all(isinstance(v, int) for v in ws):
            k, n = (ws[1], ws[0]) if a.get("transB", 0) else (ws[0], ws[1])
            c_in, c_out = int(k), int(n)  # type: ignore[arg-type]
    ctx.emit(node, Kind.GLOBAL, ins, layout=None, rank=2, weighted=bool(c_in), c_in=c_in, c_out=c_out)


def matmul(ctx: Context, node: OpNode) -> None:
    """MatMul: attention-like (two data operands) or over a spatial axis: GLOBAL; per-pixel (channels-last) a 1x1 WINDOW."""
    ins = ctx.data_inputs(node)
    wi = {"MatMul": 1, "MatMulInteger": 1, "QLinearMatMul": 3}.get(node.op_type, 1)
    x = ctx.first_input(node)
    c_in = c_out = 0
    if x is not None and len(ins) == 1 and len(node.input) > wi and node.input[wi] not in ctx.data:
        ws = ctx.tensors.const_shape(node.input[wi])
        if ws is not None and len(ws) >= 2 and isinstance(ws[-2], int) and isinstance(ws[-1], int):
            c_in, c_out = int(ws[-2]), int(ws[-1])
        rank = _rank(ctx, x, node.input[0])
        if (
            not x.is_global
            and x.layout is not None
            and rank is not None
            and (rank - 1) not in x.layout
            and len(ws or ()) == 2
        ):
            ctx.emit(node, Kind.WINDOW, [x], weighted=bool(c_in), c_in=c_in, c_out=c_out)
            return
    ctx.emit(node, Kind.GLOBAL, ins, layout=None, weighted=bool(c_in), c_in=c_in, c_out=c_out)


# -- unknown ops ---------------------------------------------------------------------------


def unknown(ctx: Context, node: OpNode) -> None:
    """An op the table does not know: strict -> error; else identity if shape-preserving, global if not."""
    if ctx.strict:
        raise ctx.unsupported(node)
    key = node.op_type if not node.domain or node.domain == "ai.onnx" else f"{node.domain}.{node.op_type}"
    ctx.unknown_ops[key] = None
    lead = _lead(ctx, node)
    if lead is None:
        # Data reaches it only through a subgraph (If/Loop body): conservative.
        ins = [ctx.data[t] for t in _outer_data(ctx, node)]
        if ins:
            ctx.emit(node, Kind.GLOBAL, ins, layout=None)
        return
    src = next((t for t in node.input if t in ctx.data and ctx.data[t] is lead), None)
    if lead.is_global or lead.layout is None:
        return elementwise(ctx, node)
    s_in = ctx.shape(src) if src else None
    keeps = s_in is not None and bool(node.output)
    if s_in is not None and keeps:
        for out in node.output:
            if not out:
                continue
            s_out = ctx.shape(out)
            if (
                s_out is None
                or len(s_out) != len(s_in)
                or any(s_out[p] != s_in[p] or s_in[p] is None for p in lead.layout)
            ):  # type: ignore[index]
                keeps = False
                break
    if keeps:
        return elementwise(ctx, node)
    _opaque_global(ctx, node)


def _outer_data(ctx: Context, node: OpNode) -> list[str]:
    return [t for t in node_inputs(node) if t in ctx.data]


# -- the table -----------------------------------------------------------------------------

_PASSTHROUGH = """
Abs Acos Acosh Asin Asinh Atan Atanh BatchNormalization BitwiseNot Cast CastLike Ceil Celu Clip Cos Cosh
DequantizeLinear Dropout DynamicQuantizeLinear Elu Erf Exp Expand FastGelu Floor Gelu HardSigmoid HardSwish
Identity IsInf IsNaN LeakyRelu Log LRN Mish Neg Not QuantizeLinear QuickGelu Reciprocal Relu Round Selu
Shrink Sigmoid Sign Sin Sinh Softplus Softsign Sqrt Swish Tan Tanh ThresholdedRelu Trilu BiasGelu
QLinearLeakyRelu QLinearSigmoid
""".split()

_MERGE = """
Add Sub Mul Div Pow Max Min Mean Sum Where Equal Greater Less GreaterOrEqual LessOrEqual And Or Xor
BitShift Mod PRelu BitwiseAnd BitwiseOr BitwiseXor QLinearAdd QLinearMul
""".split()

OPS: dict[str, Handler] = {}
OPS.update({op: elementwise for op in _PASSTHROUGH})
OPS.update({op: elementwise for op in _MERGE})
OPS.update(
    {
        "Conv": window,
        "ConvInteger": window,
        "QLinearConv": window,
        "FusedConv": window,
        "MaxPool": window,
        "AveragePool": window,
        "LpPool": window,
        "QLinearAveragePool": window,
        "ConvTranspose": transposed,
        "MaxUnpool": transposed,
        "GlobalAveragePool": global_pool,
        "GlobalMaxPool": global_pool,
        "GlobalLpPool": global_pool,
        "QLinearGlobalAveragePool": global_pool,
        "RoiAlign": roi,
        "MaxRoiPool": roi,
        "GridSample": roi,
        "DeformConv": roi,
        "SpaceToDepth": space_to_depth,
        "DepthToSpace": depth_to_space,
        "Resize": resize,
        "Upsample": resize,
        "Concat": concat,
        "Tile": tile,
        "InstanceNormalization": context_norm,
        "GroupNormalization": context_norm,
        "MeanVarianceNormalization": context_norm,
        "LayerNormalization": context_norm,
        "SimplifiedLayerNormalization": context_norm,
        "SkipLayerNormalization": context_norm,
        "LpNormalization": context_norm,
        "Softmax": context_norm,
        "LogSoftmax": context_norm,
        "Hardmax": context_norm,
        "Transpose": transpose,
        "Reshape": reshape,
        "Flatten": flatten,
        "Squeeze": squeeze,
        "Unsqueeze": unsqueeze,
        "Slice": slice_,
        "Split": split,
        "Pad": pad,
        "Gather": gather,
        "ReduceMean": reduce,
        "ReduceMax": reduce,
        "ReduceMin": reduce,
        "ReduceSum": reduce,
        "ReduceProd": reduce,
        "ReduceL1": reduce,
        "ReduceL2": reduce,
        "ReduceLogSum": reduce,
        "ReduceLogSumExp": reduce,
        "ReduceSumSquare": reduce,
        "ArgMax": reduce,
        "ArgMin": reduce,
        "Gemm": gemm,
        "MatMul": matmul,
        "MatMulInteger": matmul,
        "QLinearMatMul": matmul,
    }
)

KNOWN_DOMAINS = frozenset({"", "ai.onnx", "com.microsoft"})
"""Domains whose ops the table covers (ONNX Runtime's contrib ops share names)."""


def handler_for(node: OpNode) -> Handler:
    """The handler of the node's op (``unknown`` when the table has none)."""
    if node.domain not in KNOWN_DOMAINS:
        return unknown
    return OPS.get(node.op_type, unknown)
