# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Packing JSON-able candidate specs into the core's arrays, fast.

The same rules as ``Graph.from_spec`` followed by ``GraphBatch.from_graphs``
(``tests/test_pack.py`` checks that both give identical arrays), without
building a Python object per node: in a search loop the packing, not the
analysis, would otherwise dominate.
"""

import numpy as np

cimport numpy as cnp
from libc.stdint cimport int32_t, int64_t, uint8_t

from .errors import SpecError

cnp.import_array()

# Node kinds, pad modes, resize modes: rfa_fast/kinds.py
cdef enum:
    K_INPUT = 0
    K_WINDOW = 1
    K_TRANSPOSED = 2
    K_RESIZE = 3
    K_MERGE = 4
    K_GLOBAL = 5
    K_IDENTITY = 6

_KIND_BY_NAME = {"input": 0, "window": 1, "transposed": 2, "resize": 3, "merge": 4, "global": 5, "identity": 6}
_KIND_BY_OP = {
    "input": 0, "conv": 1, "pool": 1, "maxpool": 1, "avgpool": 1, "transposed": 2, "resize": 3,
    "add": 4, "mul": 4, "concat": 4, "merge": 4, "global": 5, "global_pool": 5, "dense": 5, "identity": 6,
}
_POOL_OPS = frozenset(("pool", "maxpool", "avgpool"))
_WEIGHTED_OPS = frozenset(("conv", "transposed", "dense"))
_PAD_BY_NAME = {"explicit": 0, "same": 1, "same_upper": 1, "same_lower": 2, "valid": 3}
_MODE_BY_NAME = {"nearest": 0, "linear": 1, "cubic": 2}


class _LayerError(Exception):
    pass


cdef inline int64_t _as_int(object v, str what) except? -1:
    if isinstance(v, bool):
        raise _LayerError(f"{what} must be an int or a sequence of ints, got a bool")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise _LayerError(f"{what} must be an int or a sequence of ints, got {v!r}") from None


cdef int _axes(object v, int dims, int64_t* out, str what, int64_t minimum, bint check_min) except -1:
    """Broadcast an int or read a per-axis sequence into out[0:dims]."""
    cdef int d
    cdef int64_t x
    if isinstance(v, int) and not isinstance(v, bool):
        x = v
        for d in range(dims):
            out[d] = x
    elif isinstance(v, (list, tuple)):
        if len(v) != dims:
            raise _LayerError(f"{what} has {len(v)} values but the graph has {dims} spatial axes")
        for d in range(dims):
            out[d] = _as_int(v[d], what)
    else:
        x = _as_int(v, what)
        for d in range(dims):
            out[d] = x
    if check_min:
        for d in range(dims):
            if out[d] < minimum:
                raise _LayerError(f"{what} must be >= {minimum} on every axis, got {tuple(out[d] for d in range(dims))}")
    for d in range(dims):
        if out[d] < -2147483648 or out[d] > 2147483647:
            raise _LayerError(f"{what} does not fit in int32")
    return 0


def pack_specs(list specs, dims=None):
    """Pack specs into (arrays, names). See ``Graph.from_spec`` for the format."""
    cdef Py_ssize_t B = len(specs), b, i, j, n_layers, N = 0, E = 0
    cdef int D
    if B == 0:
        raise SpecError("a batch needs at least one graph")
    # Pass 1: dims, layer lists, sizes.
    layer_lists = []
    names = []
    D = -1 if dims is None else int(dims)
    for b in range(B):
        spec = specs[b]
        if isinstance(spec, dict):
            layers = spec.get("layers")
            gd = spec.get("dims", 2 if dims is None else dims)
            names.append(str(spec.get("name", f"candidate_{b}")))
        else:
            layers = spec
            gd = 2 if dims is None else dims
            names.append(f"candidate_{b}")
        if not isinstance(layers, (list, tuple)) or len(layers) == 0:
            raise SpecError(f"candidate {b}: a spec needs a non-empty list of layers", candidate=b)
        if gd not in (1, 2, 3):
            raise SpecError(f"candidate {b}: dims must be 1, 2 or 3, got {gd!r}", candidate=b)
        if D == -1:
            D = gd
        elif gd != D:
            raise SpecError(f"candidate {b} has {gd} spatial axes, the batch has {D}", candidate=b)
        layer_lists.append(layers)
        n_layers = len(layers)
        N += n_layers
        for i in range(n_layers):
            layer = layers[i]
            if not isinstance(layer, dict):
                raise SpecError(f"candidate {b}: layer {i}: a layer must be a dict, got {type(layer).__name__}",
                                candidate=b, layer=i)
            ins = layer.get("inputs")
            if ins is None:
                E += 1 if i > 0 else 0
            elif isinstance(ins, (list, tuple)):
                E += len(ins)
            else:
                raise SpecError(f"candidate {b}: layer {i}: inputs must be a list of earlier layer indices, got {ins!r}",
                                candidate=b, layer=i)

    cdef cnp.ndarray[int64_t, ndim=1] graph_ptr = np.zeros(B + 1, np.int64)
    cdef cnp.ndarray[uint8_t, ndim=1] op = np.zeros(N, np.uint8)
    cdef cnp.ndarray[int32_t, ndim=2] kernel = np.ones((N, D), np.int32)
    cdef cnp.ndarray[int32_t, ndim=2] stride = np.ones((N, D), np.int32)
    cdef cnp.ndarray[int32_t, ndim=2] dilation = np.ones((N, D), np.int32)
    cdef cnp.ndarray[int32_t, ndim=2] pad_begin = np.zeros((N, D), np.int32)
    cdef cnp.ndarray[int32_t, ndim=2] pad_end = np.zeros((N, D), np.int32)
    cdef cnp.ndarray[uint8_t, ndim=1] pad_mode = np.zeros(N, np.uint8)
    cdef cnp.ndarray[uint8_t, ndim=1] ceil_mode = np.zeros(N, np.uint8)
    cdef cnp.ndarray[double, ndim=2] scale = np.ones((N, D), np.float64)
    cdef cnp.ndarray[uint8_t, ndim=1] mode = np.zeros(N, np.uint8)
    cdef cnp.ndarray[uint8_t, ndim=1] weighted = np.zeros(N, np.uint8)
    cdef cnp.ndarray[int64_t, ndim=1] c_in = np.zeros(N, np.int64)
    cdef cnp.ndarray[int64_t, ndim=1] c_out = np.zeros(N, np.int64)
    cdef cnp.ndarray[int64_t, ndim=1] groups = np.ones(N, np.int64)
    cdef cnp.ndarray[int64_t, ndim=1] pred_ptr = np.zeros(N + 1, np.int64)
    cdef cnp.ndarray[int32_t, ndim=1] pred = np.zeros(E, np.int32)

    cdef int64_t tmp[3]
    cdef int64_t tmp2[3]
    cdef int64_t outpad[3]
    cdef Py_ssize_t v = 0, e = 0, base, n_in
    cdef int d, kind
    cdef int64_t p, g
    for b in range(B):
        layers = layer_lists[b]
        base = v
        n_layers = len(layers)
        for i in range(n_layers):
            layer = layers[i]
            try:
                opname = layer.get("op", layer.get("kind", ""))
                low = str(opname).lower()
                kname = layer.get("kind")
                if kname is not None:
                    k = _KIND_BY_NAME.get(str(kname).lower())
                    if k is None:
                        raise _LayerError(f"kind {kname!r} is not one of {sorted(_KIND_BY_NAME)}")
                else:
                    k = _KIND_BY_OP.get(low)
                    if k is None:
                        raise _LayerError(f"op {opname!r} needs a 'kind' (one of {sorted(_KIND_BY_NAME)})")
                kind = k
                ins = layer.get("inputs")
                if ins is None:
                    ins = (i - 1,) if i > 0 else ()
                n_in = len(ins)
                if kind == K_INPUT and n_in != 0:
                    raise _LayerError("an input layer takes no inputs")
                if (kind == K_WINDOW or kind == K_TRANSPOSED or kind == K_RESIZE or kind == K_IDENTITY) and n_in != 1:
                    raise _LayerError(f"a {str(kname or low) if kname else ['input', 'window', 'transposed', 'resize', 'merge', 'global', 'identity'][kind]} layer takes exactly one input, got {list(ins)}")
                if kind == K_GLOBAL and n_in < 1:
                    raise _LayerError("a global layer needs at least one input")
                for j in range(n_in):
                    p = _as_int(ins[j], "input")
                    if p < 0 or p >= i:
                        raise _LayerError(f"input {p} is not an earlier node (there are {i} so far)")
                    pred[e] = <int32_t>(base + p)
                    e += 1
                op[v] = <uint8_t>kind
                weighted[v] = 1 if layer.get("weighted", low in _WEIGHTED_OPS) else 0
                c_in[v] = _as_int(layer.get("c_in", 0), "c_in")
                c_out[v] = _as_int(layer.get("c_out", 0), "c_out")
                g = _as_int(layer.get("groups", 1), "groups")
                if kind == K_WINDOW or kind == K_TRANSPOSED:
                    _axes(layer.get("kernel", 1), D, tmp, "kernel", 1, True)
                    for d in range(D):
                        kernel[v, d] = <int32_t>tmp[d]
                    _axes(layer.get("stride", layer.get("kernel", 1) if low in _POOL_OPS else 1), D, tmp, "stride", 1, True)
                    for d in range(D):
                        stride[v, d] = <int32_t>tmp[d]
                    _axes(layer.get("dilation", 1), D, tmp, "dilation", 1, True)
                    for d in range(D):
                        dilation[v, d] = <int32_t>tmp[d]
                    pad = layer.get("pad", 0)
                    pm = layer.get("pad_mode")
                    if pm is not None and pm != "explicit":
                        pad = pm
                    if isinstance(pad, str):
                        m = _PAD_BY_NAME.get(pad.lower())
                        if m is None:
                            raise _LayerError(f"pad {pad!r} is not one of {sorted(_PAD_BY_NAME)}")
                        pad_mode[v] = <uint8_t>m
                        for d in range(D):
                            tmp[d] = 0
                            tmp2[d] = 0
                    else:
                        _axes(pad, D, tmp, "pad", 0, False)
                        for d in range(D):
                            tmp2[d] = tmp[d]
                    if "pad_begin" in layer:
                        _axes(layer["pad_begin"], D, tmp, "pad_begin", 0, False)
                    if "pad_end" in layer:
                        _axes(layer["pad_end"], D, tmp2, "pad_end", 0, False)
                    if kind == K_TRANSPOSED and "pad_end" not in layer:
                        _axes(layer.get("output_padding", 0), D, outpad, "output_padding", 0, True)
                        for d in range(D):
                            tmp2[d] -= outpad[d]
                    for d in range(D):
                        pad_begin[v, d] = <int32_t>tmp[d]
                        pad_end[v, d] = <int32_t>tmp2[d]
                    if kind == K_WINDOW:
                        ceil_mode[v] = 1 if layer.get("ceil_mode", False) else 0
                        if g < 1:
                            raise _LayerError(f"groups must be >= 1, got {g}")
                    else:
                        weighted[v] = 1
                    groups[v] = g
                elif kind == K_RESIZE:
                    sc = layer.get("scale", 2.0)
                    if isinstance(sc, (list, tuple)):
                        if len(sc) != D:
                            raise _LayerError(f"scale has {len(sc)} values but the graph has {D} spatial axes")
                        vals = [float(x) for x in sc]
                    else:
                        vals = [float(sc)] * D
                    for d in range(D):
                        if not (vals[d] > 0 and vals[d] < float("inf")):
                            raise _LayerError(f"scale must be finite and > 0, got {tuple(vals)}")
                        scale[v, d] = vals[d]
                    m = _MODE_BY_NAME.get(str(layer.get("mode", "nearest")).lower())
                    if m is None:
                        raise _LayerError(f"resize mode {layer.get('mode')!r} is not one of {sorted(_MODE_BY_NAME)}")
                    mode[v] = <uint8_t>m
                    weighted[v] = 0
                elif kind != K_GLOBAL:
                    weighted[v] = 0
            except _LayerError as err:
                raise SpecError(f"candidate {b}: layer {i}: {err}", candidate=b, layer=i) from None
            except (TypeError, ValueError, OverflowError) as err:
                # OverflowError: an int beyond int64 (c_in=2**70) converted to a C integer
                raise SpecError(f"candidate {b}: layer {i}: {err}", candidate=b, layer=i) from None
            v += 1
            pred_ptr[v] = e
        graph_ptr[b + 1] = v
    arrays = dict(
        graph_ptr=graph_ptr, op=op, kernel=kernel, stride=stride, dilation=dilation, pad_begin=pad_begin,
        pad_end=pad_end, pad_mode=pad_mode, ceil_mode=ceil_mode, scale=scale, mode=mode, weighted=weighted,
        c_in=c_in, c_out=c_out, groups=groups, pred_ptr=pred_ptr, pred=pred,
    )
    return arrays, names
