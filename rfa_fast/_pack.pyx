# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""Packing graphs into the core's arrays, fast.

``pack_specs`` takes JSON-able candidate specs: the same rules as
``Graph.from_spec`` followed by ``GraphBatch.from_graphs`` (``tests/test_pack.py``
checks that both give identical arrays), without building a Python object per
node: in a search loop the packing, not the analysis, would otherwise dominate.

``pack_nodes`` takes Graph objects: ``rfa_fast.graph._pack_nodes`` in one typed
loop, what ``Graph.to_arrays`` and ``GraphBatch.from_graphs`` use when built.
"""

import numpy as np

cimport numpy as cnp
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdint cimport INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN, int32_t, int64_t, uint8_t, uint32_t

from .errors import SpecError
from .kinds import Kind, PadMode, ResizeMode

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


# --------------------------------------------------------------------------
# Graph objects to arrays: the compiled twin of rfa_fast.graph._pack_nodes.
#
# A fresh Graph pays its packing on every analyze(); in _pack_nodes that is a
# getattr and a list per field, then numpy converting each list: more than the
# core's own run on a VGG-sized graph.  Here one typed loop reads each
# field once and writes the preallocated arrays.  Values the loop does not
# recognise (numpy scalars, int subclasses, a number beyond the dtype, a tuple
# of the wrong length) are left to numpy: that column is redone from scratch
# the way _pack_nodes converts it, so odd input gets the same arrays or the
# same error, in the same order (_pack_nodes converts column by column).

cdef object _KIND_T = Kind
cdef object _PAD_MODE_T = PadMode
cdef object _RESIZE_MODE_T = ResizeMode
cdef object _FLOAT64_T = np.float64

# Columns in the order _pack_nodes converts them: the first bad column is the one it reports.
cdef enum:
    F_KIND = 0
    F_KERNEL = 1
    F_STRIDE = 2
    F_DILATION = 3
    F_PAD_BEGIN = 4
    F_PAD_END = 5
    F_PAD_MODE = 6
    F_CEIL_MODE = 7
    F_SCALE = 8
    F_MODE = 9
    F_WEIGHTED = 10
    F_C_IN = 11
    F_C_OUT = 12
    F_GROUPS = 13

# (Node attribute, array name, dtype, per axis), indexed by the F_* codes
_NODE_COLUMNS = (
    ("kind", "op", np.uint8, False),
    ("kernel", "kernel", np.int32, True),
    ("stride", "stride", np.int32, True),
    ("dilation", "dilation", np.int32, True),
    ("pad_begin", "pad_begin", np.int32, True),
    ("pad_end", "pad_end", np.int32, True),
    ("pad_mode", "pad_mode", np.uint8, False),
    ("ceil_mode", "ceil_mode", np.uint8, False),
    ("scale", "scale", np.float64, True),
    ("mode", "mode", np.uint8, False),
    ("weighted", "weighted", np.uint8, False),
    ("c_in", "c_in", np.int64, False),
    ("c_out", "c_out", np.int64, False),
    ("groups", "groups", np.int64, False),
)

cdef int64_t EXACT_DOUBLE = 9007199254740992  # 2**53: every int up to here is a double as is


cdef inline int _plain_int(object x, int64_t lo, int64_t hi, int64_t* out) except -1:
    """1 with the value in out[0] if x is an int, bool or one of the kinds' IntEnums in [lo, hi], else 0.

    Only these types: numpy converts an int subclass through its __int__,
    and numpy scalars by rules of their own, so those go to numpy.
    """
    cdef int overflow = 0
    cdef long long value
    t = type(x)
    if not (t is int or t is bool or t is _KIND_T or t is _PAD_MODE_T or t is _RESIZE_MODE_T):
        return 0
    value = PyLong_AsLongLongAndOverflow(x, &overflow)
    if overflow != 0 or value < lo or value > hi:
        return 0
    out[0] = value
    return 1


cdef inline int _plain_float(object x, double* out) except -1:
    """1 with the value in out[0] if x is a float, numpy float64, or an int/bool a double holds exactly, else 0."""
    cdef int64_t i
    t = type(x)
    if t is float or t is _FLOAT64_T:
        out[0] = <double>x
        return 1
    if (t is int or t is bool) and _plain_int(x, -EXACT_DOUBLE, EXACT_DOUBLE, &i):
        out[0] = <double>i
        return 1
    return 0


cdef inline int _put_u8(object x, uint8_t* out, int f, uint32_t* slow) except -1:
    cdef int64_t t
    if _plain_int(x, 0, 255, &t):
        out[0] = <uint8_t>t
    else:
        slow[0] |= 1u << f
    return 0


cdef inline int _put_i64(object x, int64_t* out, int f, uint32_t* slow) except -1:
    cdef int64_t t
    if _plain_int(x, INT64_MIN, INT64_MAX, &t):
        out[0] = t
    else:
        slow[0] |= 1u << f
    return 0


cdef inline int _put_axes_i32(object x, Py_ssize_t D, int32_t* out, int f, uint32_t* slow) except -1:
    """One row of a per-axis int32 column from a tuple or list of D plain ints."""
    cdef Py_ssize_t d
    cdef int64_t t
    if type(x) is tuple:
        if len(<tuple>x) == D:
            for d in range(D):
                if not _plain_int((<tuple>x)[d], INT32_MIN, INT32_MAX, &t):
                    break
                out[d] = <int32_t>t
            else:
                return 0
    elif type(x) is list:
        if len(<list>x) == D:
            for d in range(D):
                if not _plain_int((<list>x)[d], INT32_MIN, INT32_MAX, &t):
                    break
                out[d] = <int32_t>t
            else:
                return 0
    slow[0] |= 1u << f
    return 0


cdef inline int _put_axes_f64(object x, Py_ssize_t D, double* out, int f, uint32_t* slow) except -1:
    cdef Py_ssize_t d
    if type(x) is tuple:
        if len(<tuple>x) == D:
            for d in range(D):
                if not _plain_float((<tuple>x)[d], &out[d]):
                    break
            else:
                return 0
    elif type(x) is list:
        if len(<list>x) == D:
            for d in range(D):
                if not _plain_float((<list>x)[d], &out[d]):
                    break
            else:
                return 0
    slow[0] |= 1u << f
    return 0


cdef cnp.ndarray _empty(int ndim, Py_ssize_t n, Py_ssize_t width, int typenum):
    """An uninitialized (n,) or (n, width) array: the loop writes every entry."""
    cdef cnp.npy_intp shape[2]
    shape[0] = n
    shape[1] = width
    return cnp.PyArray_EMPTY(ndim, shape, typenum, 0)


def _numpy_column(int f, list graphs, cnp.ndarray graph_ptr, list nodes, Py_ssize_t D):
    """Column f converted by numpy, with _pack_nodes' checks and messages (the cold path)."""
    from .graph import _node_column  # graph imports this module: import on use

    field, _, dtype, per_axis = _NODE_COLUMNS[f]
    return _node_column(field, dtype, per_axis, graphs, graph_ptr, nodes, D)


def _python_pred(list node_lists, cnp.ndarray graph_ptr):
    """Edges and in-degrees in Python ints, as _pack_nodes gathers them (its errors, in its order)."""
    pred = []
    counts = []
    for nodes, base in zip(node_lists, graph_ptr.tolist()):  # zip drops the end pointer
        for node in nodes:
            pred.extend(base + p for p in node.inputs)
            counts.append(len(node.inputs))
    return pred, counts


def pack_nodes(graphs):
    """Pack graphs of ``Node`` objects into the core's arrays: ``rfa_fast.graph._pack_nodes``, compiled.

    Args:
        graphs: a sequence of objects with ``.nodes`` (``rfa_fast.graph.Node``
            dataclasses), ``.name`` and ``.dims``, all with the same ``dims``.

    Returns:
        The dict of arrays of DESIGN.md ("Data model"); the same keys,
        dtypes, shapes and values as ``_pack_nodes``, and the same
        :class:`SpecError` for a value beyond its dtype, a per-axis tuple of
        the wrong length or graphs with different ``dims``
        (``tests/test_pack.py`` holds the two packers equal).
    """
    # Private copies of the graph and node lists: the loops below write as many
    # rows as they counted, so the lists must not change length under them.
    cdef list gs = list(graphs)
    cdef Py_ssize_t B = len(gs), N = 0, E = 0, D, b, j, n, v, e
    if B == 0:
        raise SpecError("a batch needs at least one graph")
    dims = gs[0].dims
    for b in range(B):
        g = gs[b]
        if g.dims != dims:
            raise SpecError(f"graph {b} ({g.name!r}) has {g.dims} spatial axes, graph 0 has {dims}")
    D = dims
    # Row width of the per-axis arrays.  A negative dims (only a duck-typed graph
    # can have one) fits no row: those columns go to numpy, which says what is wrong.
    cdef Py_ssize_t W = D if D >= 0 else 0

    cdef cnp.ndarray graph_ptr = _empty(1, B + 1, 0, cnp.NPY_INT64)
    cdef int64_t* gp = <int64_t*>cnp.PyArray_DATA(graph_ptr)
    cdef list node_lists = []
    gp[0] = 0
    for b in range(B):
        ns = list(gs[b].nodes)
        node_lists.append(ns)
        N += len(ns)
        gp[b + 1] = N

    # In-degrees first: pred is allocated once its size is known.
    cdef cnp.ndarray pred_ptr = _empty(1, N + 1, 0, cnp.NPY_INT64)
    cdef int64_t* pp = <int64_t*>cnp.PyArray_DATA(pred_ptr)
    cdef bint pred_slow = False
    pred_list = None
    pp[0] = 0
    v = 0
    for b in range(B):
        for node in <list>node_lists[b]:
            ins = node.inputs
            if type(ins) is tuple or type(ins) is list:
                E += len(ins)
            else:
                pred_slow = True
                break
            v += 1
            pp[v] = E
        if pred_slow:
            break
    if pred_slow:
        pred_list, counts = _python_pred(node_lists, graph_ptr)
        np.cumsum(np.array(counts, dtype=np.int64), out=pred_ptr[1:])
        E = 0

    cdef cnp.ndarray op = _empty(1, N, 0, cnp.NPY_UINT8)
    cdef cnp.ndarray kernel = _empty(2, N, W, cnp.NPY_INT32)
    cdef cnp.ndarray stride = _empty(2, N, W, cnp.NPY_INT32)
    cdef cnp.ndarray dilation = _empty(2, N, W, cnp.NPY_INT32)
    cdef cnp.ndarray pad_begin = _empty(2, N, W, cnp.NPY_INT32)
    cdef cnp.ndarray pad_end = _empty(2, N, W, cnp.NPY_INT32)
    cdef cnp.ndarray pad_mode = _empty(1, N, 0, cnp.NPY_UINT8)
    cdef cnp.ndarray ceil_mode = _empty(1, N, 0, cnp.NPY_UINT8)
    cdef cnp.ndarray scale = _empty(2, N, W, cnp.NPY_FLOAT64)
    cdef cnp.ndarray mode = _empty(1, N, 0, cnp.NPY_UINT8)
    cdef cnp.ndarray weighted = _empty(1, N, 0, cnp.NPY_UINT8)
    cdef cnp.ndarray c_in = _empty(1, N, 0, cnp.NPY_INT64)
    cdef cnp.ndarray c_out = _empty(1, N, 0, cnp.NPY_INT64)
    cdef cnp.ndarray groups = _empty(1, N, 0, cnp.NPY_INT64)
    cdef cnp.ndarray pred = _empty(1, E, 0, cnp.NPY_INT32)
    cdef uint8_t* op_p = <uint8_t*>cnp.PyArray_DATA(op)
    cdef int32_t* kernel_p = <int32_t*>cnp.PyArray_DATA(kernel)
    cdef int32_t* stride_p = <int32_t*>cnp.PyArray_DATA(stride)
    cdef int32_t* dilation_p = <int32_t*>cnp.PyArray_DATA(dilation)
    cdef int32_t* pad_begin_p = <int32_t*>cnp.PyArray_DATA(pad_begin)
    cdef int32_t* pad_end_p = <int32_t*>cnp.PyArray_DATA(pad_end)
    cdef uint8_t* pad_mode_p = <uint8_t*>cnp.PyArray_DATA(pad_mode)
    cdef uint8_t* ceil_mode_p = <uint8_t*>cnp.PyArray_DATA(ceil_mode)
    cdef double* scale_p = <double*>cnp.PyArray_DATA(scale)
    cdef uint8_t* mode_p = <uint8_t*>cnp.PyArray_DATA(mode)
    cdef uint8_t* weighted_p = <uint8_t*>cnp.PyArray_DATA(weighted)
    cdef int64_t* c_in_p = <int64_t*>cnp.PyArray_DATA(c_in)
    cdef int64_t* c_out_p = <int64_t*>cnp.PyArray_DATA(c_out)
    cdef int64_t* groups_p = <int64_t*>cnp.PyArray_DATA(groups)
    cdef int32_t* pred_p = <int32_t*>cnp.PyArray_DATA(pred)

    cdef uint32_t slow = 0  # bit F_*: that column is redone by numpy after the loop
    if D < 0:
        slow = ((1u << F_KERNEL) | (1u << F_STRIDE) | (1u << F_DILATION) | (1u << F_PAD_BEGIN)
                | (1u << F_PAD_END) | (1u << F_SCALE))
    cdef int64_t base, t
    v = 0
    e = 0
    for b in range(B):
        base = gp[b]
        for node in <list>node_lists[b]:
            if not pred_slow:
                ins = node.inputs
                n = pp[v + 1] - pp[v]
                # re-read: an inputs that changed under us since the count must not overrun pred
                if (type(ins) is tuple or type(ins) is list) and len(ins) == n:
                    for j in range(n):
                        if not _plain_int(ins[j], INT32_MIN - base, INT32_MAX - base, &t):
                            pred_slow = True
                            break
                        pred_p[e] = <int32_t>(base + t)
                        e += 1
                else:
                    pred_slow = True
            _put_u8(node.kind, &op_p[v], F_KIND, &slow)
            _put_axes_i32(node.kernel, D, &kernel_p[v * W], F_KERNEL, &slow)
            _put_axes_i32(node.stride, D, &stride_p[v * W], F_STRIDE, &slow)
            _put_axes_i32(node.dilation, D, &dilation_p[v * W], F_DILATION, &slow)
            _put_axes_i32(node.pad_begin, D, &pad_begin_p[v * W], F_PAD_BEGIN, &slow)
            _put_axes_i32(node.pad_end, D, &pad_end_p[v * W], F_PAD_END, &slow)
            _put_u8(node.pad_mode, &pad_mode_p[v], F_PAD_MODE, &slow)
            _put_u8(node.ceil_mode, &ceil_mode_p[v], F_CEIL_MODE, &slow)
            _put_axes_f64(node.scale, D, &scale_p[v * W], F_SCALE, &slow)
            _put_u8(node.mode, &mode_p[v], F_MODE, &slow)
            _put_u8(node.weighted, &weighted_p[v], F_WEIGHTED, &slow)
            _put_i64(node.c_in, &c_in_p[v], F_C_IN, &slow)
            _put_i64(node.c_out, &c_out_p[v], F_C_OUT, &slow)
            _put_i64(node.groups, &groups_p[v], F_GROUPS, &slow)
            v += 1

    arrays = dict(
        graph_ptr=graph_ptr, op=op, kernel=kernel, stride=stride, dilation=dilation, pad_begin=pad_begin,
        pad_end=pad_end, pad_mode=pad_mode, ceil_mode=ceil_mode, scale=scale, mode=mode, weighted=weighted,
        c_in=c_in, c_out=c_out, groups=groups, pred_ptr=pred_ptr, pred=pred,
    )
    if slow == 0 and not pred_slow:
        return arrays
    # The cold path, in _pack_nodes' order: edges gathered, columns converted, edges converted.
    if pred_slow and pred_list is None:
        pred_list, _ = _python_pred(node_lists, graph_ptr)
    cdef list nodes = [node for ns in node_lists for node in ns]
    cdef int f
    for f in range(F_GROUPS + 1):
        if slow & (1u << f):
            arrays[_NODE_COLUMNS[f][1]] = _numpy_column(f, gs, graph_ptr, nodes, D)
    if pred_slow:
        arrays["pred"] = np.array(pred_list, dtype=np.int32)
    return arrays
