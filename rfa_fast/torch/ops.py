"""The function table: how each PyTorch function acts on the receptive field.

The capture (``capture.py``) sees every torch function the model calls
(``F.conv2d``, ``torch.cat``, ``Tensor.__add__``, ``Tensor.view``...) with a
tracked input, and hands it to the handler registered here under the
function's name.  A handler returns what the function would return, as
tensors on the meta device (no data, no weights read), and either *emits* a
layer (:meth:`~rfa_fast.torch.state.State.emit`) or passes its input through
(the output gets the input's :class:`~rfa_fast.torch.state.Data`).  The kinds
mirror the ONNX loader's op table (docs/onnx.md), so a captured model and its
``torch.onnx.export`` analyze the same; docs/torch.md lists the functions.

Outputs are made with ``torch.empty`` where the shape is simple (element-wise
ops, activations, concatenation, adaptive pools, interpolation): the meta
kernels of those run as Python decompositions and cost 0.1-5 ms each.
Windows and view ops run their own meta kernels (C++, tens of microseconds),
so their shapes are PyTorch's own.

>>> sorted(k for k, v in HANDLERS.items() if v is window)[:3]
['avg_pool1d', 'avg_pool2d', 'avg_pool3d']
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

import torch

from ..kinds import Kind, PadMode, ResizeMode
from .state import Data, State

Handler = Callable[[State, str, Any, tuple, dict, list], Any]
_META = torch.device("meta")
_Tensor = torch.Tensor

# -- running on the meta device ---------------------------------------------------


def twin(st: State, t: torch.Tensor) -> torch.Tensor:
    """``t`` itself on the meta device, else a meta tensor of its shape (cached): weights are never read."""
    if t.device.type == "meta":
        return t
    hit = st.twins.get(id(t))
    if hit is not None and hit[0] is t:
        return hit[1]  # type: ignore[no-any-return]
    m = torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=_META)
    st.twins[id(t)] = (t, m)
    return m


def _to_meta(st: State, v: Any) -> Any:
    if isinstance(v, _Tensor):
        return twin(st, v)
    if type(v) in (list, tuple) and any(isinstance(x, (_Tensor, list, tuple)) for x in v):
        return type(v)(_to_meta(st, x) for x in v)
    if type(v) is dict:
        return {k: _to_meta(st, x) for k, x in v.items()}
    return v


def run(st: State, func: Any, args: tuple, kwargs: dict) -> Any:
    """``func`` on meta tensors: real tensors among the arguments are replaced by meta twins."""
    return func(*_to_meta(st, args), **{k: _to_meta(st, v) for k, v in kwargs.items()})


def empty(shape: Sequence[int], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(tuple(shape), dtype=dtype, device=_META)


def tracked(st: State, args: tuple, kwargs: dict) -> list[tuple[torch.Tensor, Data]]:
    """The tracked tensors among the arguments (searched through lists, tuples and dicts)."""
    out: list[tuple[torch.Tensor, Data]] = []

    def visit(v: Any) -> None:
        if isinstance(v, _Tensor):
            d = st.data(v)
            if d is not None:
                out.append((v, d))
        elif type(v) in (list, tuple):
            for x in v:
                if isinstance(x, (_Tensor, list, tuple, dict)):
                    visit(x)
        elif type(v) is dict:
            for x in v.values():
                visit(x)

    for a in args:
        visit(a)
    for a in kwargs.values():
        visit(a)
    return out


# -- small helpers --------------------------------------------------------------------


def _arg(args: tuple, kwargs: dict, i: int, name: str, default: Any = None) -> Any:
    if len(args) > i:
        return args[i]
    return kwargs.get(name, default)


def _tuple(v: Any, n: int) -> tuple[int, ...]:
    if isinstance(v, (list, tuple, torch.Size)):
        vals = tuple(int(x) for x in v)
        return vals * n if len(vals) == 1 and n > 1 else vals
    return (int(v),) * n


def _dims(v: Any, rank: int) -> list[int]:
    """Normalized axes of a ``dim`` argument (int or sequence)."""
    vals = [v] if isinstance(v, int) else list(v)
    return [int(d) % rank if rank else int(d) for d in vals]


def _shift(layout: tuple[int, ...] | None, by: int) -> tuple[int, ...] | None:
    return None if layout is None else tuple(p + by for p in layout)


def _canonical(st: State, d: Data, n: int) -> bool:
    """Whether the window of ``n`` axes runs over the tensor's spatial axes (its last ``n``)."""
    return n == st.dims and d.layout == tuple(range(d.rank - n, d.rank))


def _window_order(st: State, d: Data, n: int) -> tuple[int, ...] | None:
    """For each spatial axis, which of a window's ``n`` axes (the tensor's last ``n``) slides over it.

    ``(0, 1)`` for NCHW; ``(1, 0)`` after ``transpose(2, 3)`` (H and W swapped:
    the kernel's axes swap with them); None when the window runs over axes that
    are not exactly the spatial ones (then the layer is analyzed as global).
    """
    if n != st.dims or d.layout is None:
        return None
    axes = tuple(range(d.rank - n, d.rank))
    if sorted(d.layout) != list(axes):
        return None
    return tuple(axes.index(p) for p in d.layout)


def _reorder(values: tuple[int, ...], order: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(values[o] for o in order)


def _alias(st: State, out: Any, d: Data, layout: Any = ..., rank: int | None = None) -> Any:
    """Give every tensor in ``out`` the producer of ``d`` (a pass-through)."""
    for t in _tensors(out):
        st.define(t, d.moved(d.layout if layout is ... else layout, t.dim() if rank is None else rank))
    return out


def _define(st: State, out: Any, d: Data) -> Any:
    for t in _tensors(out):
        st.define(t, Data(d.node, d.layout, t.dim(), d.is_global))
    return out


def _tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, _Tensor):
        return [out]
    if isinstance(out, (list, tuple)):
        return [t for t in out if isinstance(t, _Tensor)]
    return []


def _lead(ins: list[tuple[torch.Tensor, Data]]) -> tuple[torch.Tensor, Data]:
    """The first non-global input with spatial axes (the one whose layout the output keeps)."""
    return next((td for td in ins if not td[1].is_global and td[1].layout is not None), ins[0])


def _global(st: State, fn: str, out: Any, ins: list[tuple[torch.Tensor, Data]], op: str | None = None,
            *, keep_layout: bool = False, **fields: Any) -> Any:  # fmt: skip
    """Emit a GLOBAL layer reading ``ins``; the outputs are global."""
    lead = ins[0][1]
    first = _tensors(out)
    rank = first[0].dim() if first else lead.rank
    layout = lead.layout if keep_layout and lead.layout is not None and rank == lead.rank else None
    d = st.emit(op or fn, Kind.GLOBAL, [x for _, x in ins], layout=layout, rank=rank, **fields)
    return _define(st, out, d)


# -- pass-through ------------------------------------------------------------------------


def passthrough(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Activations, normalization with fixed statistics, dropout, copies: the output is the input.

    In-place forms (``relu_``) return their input; the others a new meta
    tensor of the same shape.
    """
    x, d = ins[0]
    if fn.endswith("_") and not fn.startswith("__") and args and args[0] is x:
        return x
    return st.define(empty(x.shape, x.dtype), d.moved(d.layout, x.dim()))


def cast(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Dtype changes and moves (``to``, ``float``, ``type_as``...): run on meta, a pass-through."""
    out = run(st, func, args, kwargs)
    return _alias(st, out, ins[0][1])


def constant(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Tensors made from a tracked tensor's shape only (``zeros_like``, ``new_ones``): constants."""
    return run(st, func, args, kwargs)


# -- merges --------------------------------------------------------------------------------

_BOOL_RESULT = frozenset(
    {"eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor", "isclose", "greater", "less"}
)


def elementwise(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Element-wise ops of several operands (add, mul, where...): a MERGE of the tracked ones.

    Constant operands (biases, layer scales) are not inputs of the analysis;
    one tracked producer (``x * sigmoid(x)``) is a pass-through.  With
    broadcasting the output rank is the largest and the spatial axes shift.
    In-place forms (``add_``, ``+=``) update their first operand.
    """
    operands = [a for a in args if isinstance(a, (_Tensor, int, float, bool))]
    operands += [v for k, v in kwargs.items() if k in ("other", "input", "tensor1", "tensor2") and v is not None]
    shapes = [a.shape for a in operands if isinstance(a, _Tensor)]
    shape = torch.broadcast_shapes(*shapes) if len(shapes) > 1 else shapes[0]
    if fn in _BOOL_RESULT or fn.lstrip("_").rstrip("_") in _BOOL_RESULT:
        dtype = torch.bool
    elif len(operands) >= 2:
        try:
            dtype = torch.result_type(operands[0], operands[1])
        except (TypeError, RuntimeError):
            dtype = ins[0][0].dtype
    else:
        dtype = ins[0][0].dtype
    lead_t, lead = _lead(ins)
    rank = len(shape)
    layout = _shift(lead.layout, rank - lead.rank)
    producers = {d.node for _, d in ins}
    if len(producers) == 1:
        d = lead.moved(layout, rank)
    else:
        ordered = [lead] + [d for _, d in ins if d is not lead]
        d = st.emit(_merge_op(fn), Kind.MERGE, ordered, layout=layout, rank=rank)
    inplace = fn.startswith("__i") or (fn.endswith("_") and not fn.startswith("__"))
    if inplace and args and isinstance(args[0], _Tensor) and tuple(args[0].shape) == tuple(shape):
        return st.define(args[0], d)
    return st.define(empty(shape, dtype), d)


def _merge_op(fn: str) -> str:
    name = fn.strip("_")
    if name.startswith("i") and name[1:] in ("add", "sub", "mul", "truediv", "floordiv", "and", "or", "xor"):
        name = name[1:]
    elif name.startswith("r") and name[1:] in ("add", "sub", "mul", "truediv", "floordiv", "and", "or", "xor"):
        name = name[1:]
    return name.rstrip("_")


def concat(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``torch.cat``/``stack``: a MERGE; along a spatial axis (not modelled exactly) it is noted."""
    tensors = _arg(args, kwargs, 0, "tensors")
    dim = int(_arg(args, kwargs, 1, "dim", 0))
    items = [t for t in tensors if isinstance(t, _Tensor)]
    first = items[0]
    rank = first.dim()
    lead_t, lead = _lead(ins)
    if fn == "stack":
        dim %= rank + 1
        shape = list(first.shape)
        shape.insert(dim, len(items))
        layout = None if lead.layout is None else tuple(p + (p >= dim) for p in lead.layout)
    else:
        dim %= rank
        shape = list(first.shape)
        shape[dim] = sum(int(t.shape[dim]) for t in items)
        layout = lead.layout
        if not lead.is_global and lead.layout is not None and dim in lead.layout:
            if st.strict:
                raise st.fail(fn, f"concatenates along spatial axis {dim}; rfa_fast models only channel concatenation")
            st.note("spatial concat", f"{st.where(fn)} concatenates along spatial axis {dim}")
    producers = {d.node for _, d in ins}
    if len(producers) == 1:
        d = lead.moved(layout, len(shape))
    else:
        ordered = [lead] + [x for _, x in ins if x is not lead]
        d = st.emit("cat", Kind.MERGE, ordered, layout=layout, rank=len(shape))
    return st.define(empty(shape, first.dtype), d)


# -- windows ---------------------------------------------------------------------------------


def _geometry(v: Any, n: int, what: str, st: State, fn: str) -> tuple[int, ...]:
    out = _tuple(v, n)
    if len(out) != n:
        raise st.fail(fn, f"{what} {list(out)} does not have {n} values")
    return out


def _spatial_axes(fn: str) -> int:
    """The axes a window function slides over, from its name: ``conv2d`` 2, ``max_pool3d_with_indices`` 3."""
    return int(fn.removesuffix("_with_indices")[-2])


def window(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Convolutions and pooling (max, average, Lp): a WINDOW, weighted for convolutions."""
    x, d = ins[0]
    if len(ins) > 1 or x is not _arg(args, kwargs, 0, "input"):
        return _global(st, fn, run(st, func, args, kwargs), ins)  # the kernel itself is data
    out = run(st, func, args, kwargs)
    n = _spatial_axes(fn)
    fields: dict[str, Any] = {}
    mode = PadMode.EXPLICIT
    if fn.startswith("conv"):
        w = _arg(args, kwargs, 1, "weight")
        groups = int(_arg(args, kwargs, 6, "groups", 1))
        kernel = tuple(int(k) for k in w.shape[2:])
        fields = dict(weighted=True, c_in=int(w.shape[1]) * groups, c_out=int(w.shape[0]), groups=groups)
        stride = _geometry(_arg(args, kwargs, 3, "stride", 1), n, "stride", st, fn)
        padding = _arg(args, kwargs, 4, "padding", 0)
        dilation = _geometry(_arg(args, kwargs, 5, "dilation", 1), n, "dilation", st, fn)
        pb = pe = (0,) * n  # "valid"
        if padding == "same":  # stride 1; PyTorch puts the odd pixel at the end: ONNX's SAME_UPPER, as exported
            mode = PadMode.SAME_UPPER
        elif not isinstance(padding, str):
            pb = pe = _geometry(padding, n, "padding", st, fn)
        ceil = False
        op = "conv"
    else:
        if fn.startswith("lp_pool"):
            kernel = _geometry(_arg(args, kwargs, 2, "kernel_size"), n, "kernel_size", st, fn)
            stride_arg = _arg(args, kwargs, 3, "stride")
            pb = pe = (0,) * n
            dilation = (1,) * n
            ceil = bool(_arg(args, kwargs, 4, "ceil_mode", False))
            op = "lppool"
        else:
            kernel = _geometry(_arg(args, kwargs, 1, "kernel_size"), n, "kernel_size", st, fn)
            stride_arg = _arg(args, kwargs, 2, "stride")
            pb = pe = _geometry(_arg(args, kwargs, 3, "padding", 0), n, "padding", st, fn)
            if fn.startswith("max"):
                dilation = _geometry(_arg(args, kwargs, 4, "dilation", 1), n, "dilation", st, fn)
                ceil = bool(_arg(args, kwargs, 5, "ceil_mode", False))
                op = "maxpool"
            else:
                dilation = (1,) * n
                ceil = bool(_arg(args, kwargs, 4, "ceil_mode", False))
                op = "avgpool"
        has_stride = stride_arg is not None and not (isinstance(stride_arg, (list, tuple)) and len(stride_arg) == 0)
        stride = _geometry(stride_arg, n, "stride", st, fn) if has_stride else kernel
    if d.is_global:
        # Geometry is moot on a global tensor; the kernel is kept for parameter counts.
        k = kernel if len(kernel) == st.dims else (1,) * st.dims
        res = st.emit(op, Kind.WINDOW, [d], layout=d.layout, rank=d.rank, kernel=k, **fields)
        return _define(st, out, res)
    order = _window_order(st, d, n)
    if order is None:
        st.note("layout", f"{st.where(fn)} runs a window over axes that are not the input's spatial axes; global")
        return _global(st, fn, out, ins, op, **fields)
    res = st.emit(
        op,
        Kind.WINDOW,
        [d],
        layout=d.layout,
        rank=d.rank,
        kernel=_reorder(kernel, order),
        stride=_reorder(stride, order),
        dilation=_reorder(dilation, order),
        pad_begin=_reorder(pb, order),
        pad_end=_reorder(pe, order),
        pad_mode=mode,
        ceil_mode=ceil,
        **fields,
    )
    return _define(st, out, res)


def transposed(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Transposed convolution: TRANSPOSED, weighted; ``output_padding`` folded into ``pad_end``."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    n = _spatial_axes(fn)
    w = _arg(args, kwargs, 1, "weight")
    groups = int(_arg(args, kwargs, 6, "groups", 1))
    kernel = tuple(int(k) for k in w.shape[2:])
    fields: dict[str, Any] = dict(weighted=True, c_in=int(w.shape[0]), c_out=int(w.shape[1]) * groups, groups=groups)
    if d.is_global:
        k = kernel if len(kernel) == st.dims else (1,) * st.dims
        return _define(st, out, st.emit("conv_transpose", Kind.WINDOW, [d], layout=d.layout, rank=d.rank,
                                        kernel=k, **fields))  # fmt: skip
    order = _window_order(st, d, n)
    if order is None:
        st.note("layout", f"{st.where(fn)} runs a window over axes that are not the input's spatial axes; global")
        return _global(st, fn, out, ins, "conv_transpose", **fields)
    stride = _geometry(_arg(args, kwargs, 3, "stride", 1), n, "stride", st, fn)
    pad = _geometry(_arg(args, kwargs, 4, "padding", 0), n, "padding", st, fn)
    out_pad = _geometry(_arg(args, kwargs, 5, "output_padding", 0), n, "output_padding", st, fn)
    dilation = _geometry(_arg(args, kwargs, 7, "dilation", 1), n, "dilation", st, fn)
    res = st.emit(
        "conv_transpose",
        Kind.TRANSPOSED,
        [d],
        layout=d.layout,
        rank=d.rank,
        kernel=_reorder(kernel, order),
        stride=_reorder(stride, order),
        dilation=_reorder(dilation, order),
        pad_begin=_reorder(pad, order),
        pad_end=_reorder(tuple(p - o for p, o in zip(pad, out_pad)), order),
        **fields,
    )
    return _define(st, out, res)


def adaptive(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Adaptive pooling: GLOBAL to 1 unit; k = s = n_in / n_out when it divides (as the ONNX export freezes it).

    Uneven windows (n_in not a multiple of n_out) have no single kernel and
    stride: such a pool is analyzed as global, with a warning.
    """
    x, d = ins[0]
    n = _spatial_axes(fn)
    size = _arg(args, kwargs, 1, "output_size")
    sizes = list(size) if isinstance(size, (list, tuple, torch.Size)) else [size] * n
    n_in = [int(v) for v in x.shape[-n:]]
    n_out = [n_in[i] if s is None else int(s) for i, s in enumerate(sizes)]
    shape = list(x.shape[:-n]) + n_out
    out: Any = empty(shape, x.dtype)
    if "max" in fn and (fn.endswith("_with_indices") or bool(_arg(args, kwargs, 2, "return_indices", False))):
        out = (out, empty(shape, torch.int64))
    op = "adaptive_maxpool" if "max" in fn else "adaptive_avgpool"
    if all(o == 1 for o in n_out) or d.is_global:
        return _global(st, fn, out, ins, op, keep_layout=True)
    if not _canonical(st, d, n):
        return _global(st, fn, out, ins, op)
    if any(i % o for i, o in zip(n_in, n_out)):
        if st.strict:
            raise st.fail(fn, f"pools {n_in} into {n_out}: uneven windows have no single kernel and stride")
        st.note("uneven adaptive pool", f"{st.where(fn)} pools {n_in} into {n_out} (uneven windows): treated as global")
        return _global(st, fn, out, ins, op, keep_layout=True)
    k = tuple(i // o for i, o in zip(n_in, n_out))
    return _define(st, out, st.emit(op, Kind.WINDOW, [d], layout=d.layout, rank=d.rank, kernel=k, stride=k))


_RESIZE_MODES = {
    "nearest": ResizeMode.NEAREST,
    "nearest-exact": ResizeMode.NEAREST,
    "linear": ResizeMode.LINEAR,
    "bilinear": ResizeMode.LINEAR,
    "trilinear": ResizeMode.LINEAR,
    "bicubic": ResizeMode.CUBIC,
}


def interpolate(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``F.interpolate`` / ``nn.Upsample``: RESIZE by out/in (``size``) or by ``scale_factor``.

    The output size is PyTorch's, ``floor(n * scale_factor)``; the scale is
    what ``torch.onnx.export`` writes (the factor itself unless
    ``recompute_scale_factor``).  ``mode="area"`` is adaptive average pooling.
    """
    x, d = ins[0]
    n = x.dim() - 2
    size = _arg(args, kwargs, 1, "size")
    factor = _arg(args, kwargs, 2, "scale_factor")
    default_mode = {"upsample_bilinear": "bilinear"}.get(fn, "nearest")
    mode_name = (
        default_mode if fn in ("upsample_nearest", "upsample_bilinear") else _arg(args, kwargs, 3, "mode", "nearest")
    )
    recompute = bool(kwargs.get("recompute_scale_factor", args[5] if len(args) > 5 and fn == "interpolate" else False))
    n_in = [int(v) for v in x.shape[2:]]
    if size is not None:
        n_out = list(_tuple(size, n))
        scales = [o / i for o, i in zip(n_out, n_in)]
    else:
        f = [float(v) for v in (factor if isinstance(factor, (list, tuple)) else [factor] * n)]
        n_out = [math.floor(i * s) for i, s in zip(n_in, f)]
        scales = [o / i for o, i in zip(n_out, n_in)] if recompute else f
    out = empty(list(x.shape[:2]) + n_out, x.dtype)
    if d.is_global:
        return _alias(st, out, d)
    if mode_name == "area":
        return _area(st, fn, out, d, n_in, n_out, ins)
    if not _canonical(st, d, n):
        return _global(st, fn, out, ins, "interpolate")
    mode = _RESIZE_MODES.get(str(mode_name))
    if mode is None:
        raise st.fail(fn, f"mode {mode_name!r} is not nearest, linear, bilinear, bicubic, trilinear or area")
    if all(s == 1.0 for s in scales):
        return _alias(st, out, d)
    return _define(st, out, st.emit("interpolate", Kind.RESIZE, [d], layout=d.layout, rank=d.rank,
                                    scale=tuple(scales), mode=mode))  # fmt: skip


def _area(st: State, fn: str, out: Any, d: Data, n_in: list[int], n_out: list[int], ins: list) -> Any:
    if any(i % o for i, o in zip(n_in, n_out)) or any(o > i for i, o in zip(n_in, n_out)):
        st.note("uneven adaptive pool", f"{st.where(fn)} (mode='area') pools {n_in} into {n_out}: treated as global")
        return _global(st, fn, out, ins, "interpolate", keep_layout=True)
    k = tuple(i // o for i, o in zip(n_in, n_out))
    return _define(st, out, st.emit("avgpool", Kind.WINDOW, [d], layout=d.layout, rank=d.rank, kernel=k, stride=k))


_SAME_PAD_HELPERS = frozenset({"pad_same"})  # timm.layers.padding: TF-style SAME pads from the input size


def _same_padding_caller() -> bool:
    """Whether ``F.pad`` was called by a helper that computes TF-style SAME pads at run time (timm's
    ``pad_same``, in ``Conv2dSame`` and the ``tf_*`` models): those pads follow the resolution."""
    f = sys._getframe(2)
    for _ in range(8):
        if f is None:
            return False
        if f.f_code.co_name in _SAME_PAD_HELPERS and str(f.f_globals.get("__name__", "")).startswith("timm"):
            return True
        f = f.f_back  # type: ignore[assignment]
    return False


def pad(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``F.pad``: folded into the windows it feeds (a WINDOW with kernel 1 and those pads otherwise).

    Pads that timm's ``pad_same`` computed from the input size are marked:
    folded into a window whose SAME_UPPER pads they equal, that window becomes
    a SAME window, right at every resolution (as the ONNX loader does for
    TF-style exports).
    """
    x, d = ins[0]
    pads = [int(v) for v in _arg(args, kwargs, 1, "pad")]
    out = run(st, func, args, kwargs)
    if d.is_global or d.layout is None:
        return _alias(st, out, d)
    rank = x.dim()
    pb, pe = [], []
    for p in d.layout:
        j = rank - 1 - p  # pads run from the last axis backwards
        pb.append(pads[2 * j] if 2 * j < len(pads) else 0)
        pe.append(pads[2 * j + 1] if 2 * j + 1 < len(pads) else 0)
    if not any(pb) and not any(pe):
        return _alias(st, out, d)
    res = st.emit("pad", None, [d], layout=d.layout, rank=rank, pad_begin=tuple(pb), pad_end=tuple(pe))
    if _same_padding_caller():
        st.records[res.node].attrs["same_pad_n"] = tuple(int(x.shape[p]) for p in d.layout)
    return _define(st, out, res)


def pixel_shuffle(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """PixelShuffle(r): nearest RESIZE by r; PixelUnshuffle(r): WINDOW k = s = r (DepthToSpace / SpaceToDepth)."""
    x, d = ins[0]
    r = int(_arg(args, kwargs, 1, "upscale_factor" if fn == "pixel_shuffle" else "downscale_factor"))
    c, h, w = (int(v) for v in x.shape[-3:])
    if fn == "pixel_shuffle":
        out = empty(list(x.shape[:-3]) + [c // (r * r), h * r, w * r], x.dtype)
    else:
        out = empty(list(x.shape[:-3]) + [c * r * r, h // r, w // r], x.dtype)
    if d.is_global:
        return _alias(st, out, d)
    if not _canonical(st, d, 2):
        return _global(st, fn, out, ins)
    if r == 1:
        return _alias(st, out, d)
    if fn == "pixel_shuffle":
        res = st.emit(fn, Kind.RESIZE, [d], layout=d.layout, rank=d.rank, scale=(float(r),) * 2)
    else:
        res = st.emit(fn, Kind.WINDOW, [d], layout=d.layout, rank=d.rank, kernel=(r, r), stride=(r, r))
    return _define(st, out, res)


# -- dense layers and attention ------------------------------------------------------------


def linear(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``F.linear``: GLOBAL and weighted on a flat or global input; a 1x1 WINDOW on a channels-last map."""
    x, d = ins[0]
    w = _arg(args, kwargs, 1, "weight")
    if len(ins) > 1 or x is not _arg(args, kwargs, 0, "input"):
        return _global(st, fn, run(st, func, args, kwargs), ins, "linear")  # data as the weight
    out = empty(list(x.shape[:-1]) + [int(w.shape[0])], x.dtype)
    fields: dict[str, Any] = dict(weighted=True, c_in=int(w.shape[-1]), c_out=int(w.shape[0]))
    if not d.is_global and d.layout is not None and x.dim() - 1 not in d.layout:
        # per pixel: a channels-last map times a matrix (ConvNeXt's MLP)
        return _define(st, out, st.emit("linear", Kind.WINDOW, [d], layout=d.layout, rank=d.rank, **fields))
    return _global(st, fn, out, ins, "linear", **fields)


def matmul(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Matrix products: two data operands (attention) are GLOBAL; a channels-last map times a constant is per pixel."""
    out = run(st, func, args, kwargs)
    x, d = ins[0]
    other = args[1] if len(args) > 1 else kwargs.get("other")
    if (
        len(ins) == 1
        and fn in ("matmul", "__matmul__")
        and x is _arg(args, kwargs, 0, "input")
        and isinstance(other, _Tensor)
        and other.dim() == 2
        and not d.is_global
        and d.layout is not None
        and x.dim() - 1 not in d.layout
    ):
        fields: dict[str, Any] = dict(weighted=True, c_in=int(other.shape[0]), c_out=int(other.shape[1]))
        return _define(st, out, st.emit("matmul", Kind.WINDOW, [d], layout=d.layout, rank=d.rank, **fields))
    return _global(st, fn, out, ins, "matmul")


def opaque(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Ops that mix every position or sample where data says (attention, grid_sample...): GLOBAL."""
    return _global(st, fn, run(st, func, args, kwargs), ins)


# -- reductions and statistics ----------------------------------------------------------------


def reduce(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Reductions (mean, sum, amax, max over a dim...): GLOBAL over a spatial axis, else a pass-through."""
    x, d = ins[0]
    if fn in ("max", "min") and len(args) > 1 and isinstance(args[1], _Tensor):
        return elementwise(st, fn, func, args, kwargs, ins)
    out = run(st, func, args, kwargs)
    dim = kwargs.get("dim", kwargs.get("axis"))
    if dim is None and len(args) > 1 and isinstance(args[1], (int, list, tuple)) and not isinstance(args[1], bool):
        dim = args[1]
    rank = x.dim()
    axes = set(range(rank)) if dim is None or (isinstance(dim, (list, tuple)) and not dim) else set(_dims(dim, rank))
    first = _tensors(out)
    keep = bool(first) and first[0].dim() == rank
    if not d.is_global and d.layout is not None and axes & set(d.layout):
        return _global(st, fn, out, ins, fn, keep_layout=keep)
    if d.layout is None or keep:
        return _alias(st, out, d)
    return _alias(st, out, d, layout=tuple(p - sum(a < p for a in axes) for p in d.layout))


def stats_norm(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Ops whose statistics span spatial axes (GroupNorm, InstanceNorm, softmax over space...).

    A MERGE of the input with a GLOBAL ``<name>/stats`` node: the layer and
    everything after it carry ``global_context`` while the field stays that
    of the spatial path.  Over channels only, they are pass-throughs.
    """
    x, d = ins[0]
    rank = x.dim()
    if fn == "group_norm":
        axes: set[int] = set(range(1, rank))
    elif fn in ("layer_norm", "rms_norm"):
        shape = _arg(args, kwargs, 1, "normalized_shape")
        k = 1 if isinstance(shape, int) else len(shape)
        axes = set(range(rank - k, rank))
    elif fn == "instance_norm":
        use = _arg(args, kwargs, 5, "use_input_stats", True)
        axes = set(range(2, rank)) if use else set()
    elif fn == "normalize":
        axes = set(_dims(_arg(args, kwargs, 2, "dim", 1), rank))
    else:  # softmax, log_softmax
        dim = _arg(args, kwargs, 1, "dim")
        axes = set(_dims(dim, rank)) if dim is not None else set(range(rank))
    out = empty(x.shape, x.dtype)
    if d.is_global or d.layout is None or not axes & set(d.layout):
        return _alias(st, out, d)
    base = st.path or fn
    stats = st.emit(fn, Kind.GLOBAL, [d], layout=d.layout, rank=rank, name=f"{base}/stats")
    others = [x2 for _, x2 in ins[1:]]
    return st.define(out, st.emit(fn, Kind.MERGE, [d, stats] + others, layout=d.layout, rank=rank, name=base))


# -- layout ops ----------------------------------------------------------------------------------


def _map_axes(s_in: Sequence[int], s_out: Sequence[int], layout: tuple[int, ...]) -> tuple[int, ...] | None:
    """Where the spatial axes of ``s_in`` sit in ``s_out``: the same size after the same product of sizes."""
    prefix = [1]
    for v in s_out:
        prefix.append(prefix[-1] * int(v))
    mapped = []
    for p in layout:
        before = math.prod(int(v) for v in s_in[:p])
        q = next((q for q in range(len(s_out)) if s_out[q] == s_in[p] and prefix[q] == before), None)
        if q is None:
            return None
        mapped.append(q)
    return tuple(mapped)


def reshape(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``view``/``reshape``: a pass-through when the spatial axes survive (ShuffleNet's channel shuffle), else GLOBAL."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    if d.is_global or d.layout is None:
        return _alias(st, out, d, layout=None)
    layout = _map_axes(tuple(x.shape), tuple(out.shape), d.layout)
    if layout is not None:
        return _alias(st, out, d, layout=layout)
    return _global(st, fn, out, ins, "reshape")


def flatten(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``flatten``: GLOBAL when it merges a spatial axis with others (a pass-through once global)."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    rank = x.dim()
    if rank == 0:
        return _alias(st, out, d)
    start = int(_arg(args, kwargs, 1, "start_dim", 0)) % rank
    end = int(_arg(args, kwargs, 2, "end_dim", -1)) % rank
    if end <= start:
        return _alias(st, out, d)
    if d.is_global or d.layout is None:
        return _alias(st, out, d, layout=None)
    if any(start <= p <= end for p in d.layout):
        return _global(st, fn, out, ins, "flatten")
    return _alias(st, out, d, layout=tuple(p - (end - start) if p > end else p for p in d.layout))


def permute(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``permute``/``transpose``/``movedim``/``.T``: a pass-through that moves the spatial axes."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    if d.layout is None:
        return _alias(st, out, d)
    rank = x.dim()
    if fn == "permute":
        dims: Any = args[1:] if len(args) > 1 else kwargs.get("dims")
        if len(dims) == 1 and isinstance(dims[0], (list, tuple, torch.Size)):
            dims = dims[0]
        perm = [int(v) % rank for v in dims]
    elif fn in ("movedim", "moveaxis"):
        src = _dims(_arg(args, kwargs, 1, "source"), rank)
        dst = _dims(_arg(args, kwargs, 2, "destination"), rank)
        perm = [-1] * rank
        for s, t in zip(src, dst):
            perm[t] = s
        rest = iter(a for a in range(rank) if a not in src)
        perm = [p if p >= 0 else next(rest) for p in perm]
    else:  # transpose, swapaxes, swapdims, t, T, mT
        if fn in ("t", "T"):
            a, b = 0, rank - 1
        elif fn == "mT":
            a, b = rank - 2, rank - 1
        else:
            a, b = int(_arg(args, kwargs, 1, "dim0")) % rank, int(_arg(args, kwargs, 2, "dim1")) % rank
        perm = list(range(rank))
        perm[a], perm[b] = perm[b], perm[a]
    return _alias(st, out, d, layout=tuple(perm.index(p) for p in d.layout))


def squeeze(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``squeeze``/``unsqueeze``: the spatial axes shift; squeezing one away makes the tensor global."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    if d.layout is None:
        return _alias(st, out, d)
    rank = x.dim()
    if fn.startswith("unsqueeze"):
        dim = int(_arg(args, kwargs, 1, "dim")) % (rank + 1)
        return _alias(st, out, d, layout=tuple(p + (p >= dim) for p in d.layout))
    dim = _arg(args, kwargs, 1, "dim")
    gone = [a for a in range(rank) if x.shape[a] == 1] if dim is None else _dims(dim, rank)
    gone = [a for a in gone if x.shape[a] == 1]
    if any(p in gone for p in d.layout):
        if d.is_global:
            return _alias(st, out, d, layout=None)
        return _global(st, fn, out, ins)
    return _alias(st, out, d, layout=tuple(p - sum(a < p for a in gone) for p in d.layout))


def expand(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``expand``/``repeat``/``tile``: a pass-through (a global [N, C, 1, 1] stays global); new leading axes shift."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    by = out.dim() - x.dim()
    layout = _shift(d.layout, by)
    if not d.is_global and layout is not None and any(out.shape[q] != x.shape[p] for p, q in zip(d.layout, layout)):  # type: ignore[arg-type]
        st.note("spatial repeat", f"{st.where(fn)} repeats a map along a spatial axis")
    return _alias(st, out, d, layout=layout)


def getitem(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """Indexing: channels pass through; a slice of a spatial axis is a crop (WINDOW k=1, stride = step).

    ``pad_begin = -start`` and ``pad_end = -(n - stop)``, as the ONNX loader
    reads a Slice: exact in field, center and feature map.  An integer or a
    tensor index on a spatial axis makes the tensor global.
    """
    x, d = ins[0]
    if x is not args[0]:
        return _global(st, fn, run(st, func, args, kwargs), ins)  # data used as an index
    out = run(st, func, args, kwargs)
    if d.layout is None or d.is_global:
        return _alias(st, out, d, layout=None)
    index = args[1] if isinstance(args[1], tuple) else (args[1],)
    rank = x.dim()
    n_used = sum(1 for i in index if i is not None and i is not Ellipsis)
    axis = out_axis = 0
    where: dict[int, int] = {}  # input axis -> output axis
    crops: dict[int, tuple[int, int, int]] = {}  # input axis -> (start, stop, step)
    advanced = False
    for item in index:
        if item is None:
            out_axis += 1
        elif item is Ellipsis:
            for _ in range(rank - n_used):
                where[axis] = out_axis
                axis += 1
                out_axis += 1
        elif isinstance(item, slice):
            n = int(x.shape[axis])
            start, stop, step = item.indices(n)
            if (start, stop, step) != (0, n, 1):
                crops[axis] = (start, stop, step)
            where[axis] = out_axis
            axis += 1
            out_axis += 1
        elif isinstance(item, (int, torch.SymInt)) and not isinstance(item, bool):
            axis += 1  # the axis is gone
        else:
            advanced = True
            where[axis] = out_axis
            axis += 1
            out_axis += 1
    while axis < rank:
        where[axis] = out_axis
        axis += 1
        out_axis += 1
    if any(p not in where for p in d.layout) or (advanced and out.dim() != out_axis):
        return _global(st, fn, out, ins)
    if advanced and any(not isinstance(index[i], (slice, type(None))) for i in range(len(index)) if i in d.layout):
        return _global(st, fn, out, ins)
    layout = tuple(where[p] for p in d.layout)
    spatial = [crops.get(p) for p in d.layout]
    if not any(spatial):
        return _alias(st, out, d, layout=layout)
    if any(c is not None and c[2] < 1 for c in spatial):
        return _global(st, fn, out, ins)
    pb, pe, stride = [], [], []
    for p, c in zip(d.layout, spatial):
        n = int(x.shape[p])
        start, stop, step = c if c is not None else (0, n, 1)
        pb.append(-start)
        pe.append(-(n - stop))
        stride.append(step)
    res = st.emit("slice", Kind.WINDOW, [d], layout=layout, rank=out.dim(), stride=tuple(stride),
                  pad_begin=tuple(pb), pad_end=tuple(pe))  # fmt: skip
    return _define(st, out, res)


def split(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``chunk``/``split``/``unbind``/``narrow``: channels pass through; a spatial axis is cut into crops."""
    x, d = ins[0]
    out = run(st, func, args, kwargs)
    rank = x.dim()
    if fn == "narrow":
        dim = int(_arg(args, kwargs, 1, "dim")) % rank
    else:
        dim = int(kwargs.get("dim", args[2] if len(args) > 2 else (args[1] if fn == "unbind" and len(args) > 1 else 0)))
        dim %= rank
    parts = [out] if isinstance(out, _Tensor) else list(out)
    if d.layout is None or d.is_global or dim not in d.layout:
        layout = d.layout
        if fn == "unbind" and layout is not None:
            layout = tuple(p - (p > dim) for p in layout)
        return _alias(st, out, d, layout=layout)
    if fn == "unbind":
        return _global(st, fn, out, ins)
    n = int(x.shape[dim])
    start = int(_arg(args, kwargs, 2, "start")) % n if fn == "narrow" else 0
    base = st.path or fn
    for i, part in enumerate(parts):
        size = int(part.shape[dim])
        pb = [0] * st.dims
        pe = [0] * st.dims
        a = d.layout.index(dim)
        pb[a], pe[a] = -start, -(n - start - size)
        name = base if fn == "narrow" else f"{base}:{i}"
        res = st.emit("split", Kind.WINDOW, [d], layout=d.layout, rank=rank, name=name, pad_begin=tuple(pb),
                      pad_end=tuple(pe))  # fmt: skip
        st.define(part, res)
        start += size
    return out


def setitem(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """``x[idx] = y`` with ``y`` tracked: ``x`` becomes a MERGE of both (or ``y``'s copy when ``x`` was constant)."""
    run(st, func, args, kwargs)
    target, value = args[0], args[2] if len(args) > 2 else None
    dt = st.data(target)
    dv = st.data(value) if isinstance(value, _Tensor) else None
    if dv is None or value is None:
        return None
    if dt is None:
        st.define(target, dv.moved(dv.layout if target.dim() == value.dim() else None, target.dim()))
    elif dt.node != dv.node:
        st.define(target, st.emit("setitem", Kind.MERGE, [dt, dv], layout=dt.layout, rank=dt.rank))
    return None


def unknown(st: State, fn: str, func: Any, args: tuple, kwargs: dict, ins: list) -> Any:
    """A function the table does not know: identity when it keeps the shape, else GLOBAL; warned about."""
    if st.strict:
        raise st.fail(fn, f"torch function {fn!r} is not in rfa_fast's table (strict=True)")
    st.unknown[fn] = None
    out = run(st, func, args, kwargs)
    x, d = ins[0]
    outs = _tensors(out)
    if outs and all(tuple(t.shape) == tuple(x.shape) for t in outs):
        return _alias(st, out, d)
    if outs:
        return _global(st, fn, out, ins)
    return out


# -- the table ------------------------------------------------------------------------------------

HANDLERS: dict[str, Handler] = {}


def _register(handler: Handler, *names: str) -> None:
    for n in names:
        HANDLERS[n] = handler


_register(
    passthrough,
    *"""relu relu_ relu6 gelu silu silu_ sigmoid sigmoid_ tanh tanh_ hardswish hardswish_ hardsigmoid hardsigmoid_
    hardtanh hardtanh_ leaky_relu leaky_relu_ elu elu_ selu selu_ celu celu_ mish mish_ softplus softsign tanhshrink
    hardshrink softshrink threshold threshold_ logsigmoid prelu rrelu rrelu_ dropout dropout_ dropout1d dropout2d
    dropout3d alpha_dropout feature_alpha_dropout batch_norm local_response_norm abs abs_ neg neg_ __neg__ __pos__
    __abs__ exp exp_ log log_ log1p expm1 sqrt sqrt_ rsqrt square reciprocal sin cos erf sign floor ceil round trunc
    frac clamp clamp_ clip clip_ clamp_min clamp_min_ clamp_max clamp_max_ nan_to_num contiguous clone detach
    detach_ requires_grad_ channel_shuffle native_channel_shuffle alias logit sinc erfc exp2 log2 log10 sgn
    __invert__ bitwise_not logical_not isnan isinf isfinite""".split(),
)
_register(cast, "to", "float", "half", "double", "bfloat16", "type", "type_as", "cpu", "cuda", "int", "long", "bool")
_register(
    constant,
    *"""zeros_like ones_like empty_like full_like rand_like randn_like randint_like new_zeros new_ones new_empty
    new_full new_tensor""".split(),
)
_register(
    elementwise,
    *"""add add_ __add__ __radd__ __iadd__ sub sub_ subtract __sub__ __rsub__ __isub__ rsub mul mul_ multiply
    __mul__ __rmul__ __imul__ div div_ divide true_divide __truediv__ __rtruediv__ __itruediv__ floor_divide
    __floordiv__ __rfloordiv__ pow pow_ __pow__ __rpow__ maximum minimum fmax fmin remainder fmod __mod__ atan2
    hypot eq ne lt le gt ge __eq__ __ne__ __lt__ __le__ __gt__ __ge__ logical_and logical_or logical_xor
    bitwise_and bitwise_or bitwise_xor __and__ __or__ __xor__ where lerp lerp_ addcmul addcmul_ addcdiv addcdiv_
    copysign masked_fill masked_fill_ xlogy greater less""".split(),
)
_register(concat, "cat", "concat", "concatenate", "stack")
_register(
    window,
    *"""conv1d conv2d conv3d max_pool1d max_pool2d max_pool3d max_pool1d_with_indices max_pool2d_with_indices
    max_pool3d_with_indices avg_pool1d avg_pool2d avg_pool3d lp_pool1d lp_pool2d lp_pool3d""".split(),
)
_register(transposed, "conv_transpose1d", "conv_transpose2d", "conv_transpose3d")
_register(
    adaptive,
    *"""adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d adaptive_max_pool2d
    adaptive_max_pool3d adaptive_max_pool1d_with_indices adaptive_max_pool2d_with_indices
    adaptive_max_pool3d_with_indices""".split(),
)
_register(interpolate, "interpolate", "upsample", "upsample_nearest", "upsample_bilinear")
_register(pad, "pad")
_register(pixel_shuffle, "pixel_shuffle", "pixel_unshuffle")
_register(linear, "linear")
_register(matmul, "matmul", "__matmul__", "__rmatmul__", "mm", "bmm", "baddbmm", "addmm", "addbmm", "einsum",
          "tensordot", "bilinear")  # fmt: skip
_register(
    opaque,
    *"""scaled_dot_product_attention multi_head_attention_forward grid_sample affine_grid roi_align roi_pool
    deform_conv2d fractional_max_pool2d fractional_max_pool3d embedding_bag fft rfft2 fft2 ifft2 irfft2 cumsum
    cumprod sort topk argsort""".split(),
)
_register(
    reduce,
    *"""mean sum amax amin max min std var var_mean std_mean norm logsumexp prod argmax argmin median nanmean
    nansum count_nonzero all any""".split(),
)
_register(stats_norm, "group_norm", "layer_norm", "rms_norm", "instance_norm", "softmax", "log_softmax",
          "normalize")  # fmt: skip
_register(reshape, "view", "reshape", "view_as", "reshape_as")
_register(flatten, "flatten")
_register(permute, "permute", "transpose", "transpose_", "swapaxes", "swapdims", "movedim", "moveaxis", "t")
_register(squeeze, "squeeze", "squeeze_", "unsqueeze", "unsqueeze_")
_register(expand, "expand", "expand_as", "broadcast_to", "repeat", "tile")
_register(getitem, "__getitem__")
_register(split, "chunk", "split", "tensor_split", "unbind", "narrow", "split_with_sizes")
_register(setitem, "__setitem__")

# Functions that only read metadata (shapes, dtypes): called as they are, whatever their input.
METADATA = frozenset(
    """size dim numel ndimension nelement stride is_contiguous element_size __len__ storage_offset data_ptr
    get_device is_floating_point is_complex __format__ __repr__ __hash__ has_names is_pinned is_shared
    __dlpack_device__ __reduce_ex__ __deepcopy__ _is_view""".split()
)
# Tensor properties that return another view of the data.
PROPERTIES: dict[str, Handler] = {"T": permute, "mT": permute, "data": passthrough}
