"""The public entry points: analyze one graph, screen a batch, screen chains.

These functions only turn Python inputs into the core's arrays and wrap the
arrays that come back; every rule lives in the core (docs/semantics.md).

>>> import rfa_fast
>>> r = rfa_fast.screen_chains([[3, 3, 3]], [[1, 2, 1]], resolutions=[8, 32])
>>> r.rf_max[0].tolist(), r.i_min.tolist()  # at 6 px the last conv sees a 3x3 map: one window
([9.0, 9.0], [7.0])
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, Union

import numpy as np

from . import _core
from ._costs import graph_slice, make_report_exact, make_screen_exact
from ._naming import name_graph_error
from .batch import GraphBatch
from .errors import GraphError, ResolutionError, SpecError
from .graph import Graph
from .refold import graph_at
from .report import Report
from .results import ScreenResult

Resolution = Union[int, Sequence[int]]


@lru_cache(maxsize=256)
def _square(size: int, dims: int) -> np.ndarray:
    """[[size] * dims], shared between calls, so read-only."""
    a = np.full((1, dims), size, dtype=np.int64)
    a.setflags(write=False)
    return a


def resolutions_array(resolutions: Any, dims: int) -> np.ndarray:
    """Normalize resolutions to an int64 array [R, dims].

    Accepts an int (square), a per-axis tuple (one resolution), a list of
    either (several: ``[32, 64]`` is two square resolutions), or an array
    [R] (square) / [R, dims].  Each form has this one meaning in
    :func:`screen`, :func:`screen_chains` and ``Space.screen``;
    :func:`analyze` takes one resolution, so it refuses a list.

    >>> resolutions_array([32, (64, 48)], 2).tolist()
    [[32, 32], [64, 48]]
    """
    if type(resolutions) is int and 1 <= resolutions <= 2**30:
        return _square(resolutions, dims)  # the common call, once per analyze: no numpy at all
    if isinstance(resolutions, (bool, np.bool_)):
        raise ResolutionError(f"a resolution must be a positive int, got {resolutions!r}")
    if isinstance(resolutions, (int, np.integer)):
        v = int(resolutions)
        if 1 <= v <= 2**30:
            return _square(v, dims)
        rows: list[list[int]] = [[v] * dims]
    elif isinstance(resolutions, np.ndarray) and resolutions.ndim == 2:
        if resolutions.shape[1] != dims:
            raise ResolutionError(f"resolutions array has {resolutions.shape[1]} columns, the graphs have {dims} axes")
        rows = resolutions.tolist()
    else:
        try:
            items = list(resolutions)
        except TypeError:
            raise ResolutionError(
                f"resolutions must be an int, a tuple or a list of them, got {resolutions!r}"
            ) from None
        if not items:
            raise ResolutionError("at least one resolution is needed")
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in items) and isinstance(
            resolutions, tuple
        ):
            # a tuple of ints is one per-axis resolution
            if len(items) != dims:
                raise ResolutionError(f"resolution {tuple(items)} has {len(items)} values, the graph has {dims} axes")
            rows = [[int(v) for v in items]]
        else:
            rows = []
            for v in items:
                if isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_)):
                    rows.append([int(v)] * dims)
                else:
                    try:
                        row = [int(x) for x in v]
                    except (TypeError, ValueError):
                        raise ResolutionError(f"resolution {v!r} is not an int or a tuple of ints") from None
                    if len(row) != dims:
                        raise ResolutionError(
                            f"resolution {tuple(row)} has {len(row)} values, the graph has {dims} axes"
                        )
                    rows.append(row)
    arr = np.asarray(rows, dtype=np.int64).reshape(len(rows), dims)
    if (arr < 1).any() or (arr > 2**30).any():
        bad = arr[(arr < 1) | (arr > 2**30)][0]
        raise ResolutionError(f"resolution {int(bad)} is outside 1..2^30")
    return arr


def analyze(graph: Graph, resolution: Resolution | None = None, *, ignore_1x1: bool = False) -> Report:
    """Analyze one graph at one input resolution: the per-layer table and summary.

    Args:
        graph: from :func:`rfa_fast.load_onnx`, a :class:`GraphBuilder` or a spec.
        resolution: input size, an int (square) or a tuple with one size per
            spatial axis (H, W for 2-D); defaults to the graph's static input
            shape.  A list is refused (:class:`ResolutionError`): everywhere
            else a list means several resolutions, which is :func:`screen`'s job.
        ignore_1x1: do not rate layers whose kernel is 1 on every axis.

    Raises:
        ResolutionError: a list, several resolutions, or a size outside 1..2^30.

    >>> import rfa_fast
    >>> b = rfa_fast.GraphBuilder("vggish")
    >>> x = b.input()
    >>> for _ in range(3):
    ...     x = b.conv(x, 3, pad=1, name=None)
    ...     x = b.pool(x, 2)
    >>> rep = rfa_fast.analyze(b.build(), 8)
    >>> rep.summary["border_layers"], rep.summary["n_unproductive"]  # pool4 gets the 2x2 map of conv4
    (['pool4'], 3)
    >>> rfa_fast.analyze(b.build(), (8, 16)).resolution  # a tuple: one size per axis
    (8, 16)
    """
    if resolution is None:
        if graph.input_shape is None:
            raise ResolutionError(f"graph {graph.name!r} has no static input size: pass a resolution")
        resolution = tuple(graph.input_shape)
    elif isinstance(resolution, list):
        # screen() reads a list as several resolutions; reading it here as one per-axis
        # resolution would give the same argument two meanings (issue 17), so refuse it
        raise ResolutionError(
            f"analyze() takes one resolution, got the list {resolution!r}: pass a tuple for one size per axis "
            f"(e.g. {tuple(resolution)!r}) or use screen() for several resolutions"
        )
    res = resolutions_array(resolution, graph.dims)
    if res.shape[0] != 1:
        raise ResolutionError("analyze() takes one resolution; use screen() for several")
    if graph.folded_at is not None:  # sizes folded at another resolution: read the model there (rfa_fast/refold.py)
        graph = graph_at(graph, res[0].tolist())
    arrays = graph.to_arrays()
    try:
        raw = _core.analyze_batch(arrays, res, ignore_1x1, 1, True, True)
    except GraphError as e:
        raise name_graph_error(e, [graph], [0]) from None
    make_report_exact(arrays, raw, where=lambda v: f"node {graph.nodes[v].name!r} of graph {graph.name!r}")
    return Report(graph, res[0], raw)


def _as_batch(batch: GraphBatch | Iterable[Any]) -> GraphBatch:
    if isinstance(batch, GraphBatch):
        return batch
    if isinstance(batch, Graph):
        return GraphBatch.from_graphs([batch])
    items = list(batch)
    if items and all(isinstance(g, Graph) for g in items):
        return GraphBatch.from_graphs(items)
    return GraphBatch.from_specs(items)


def screen(
    batch: GraphBatch | Iterable[Any],
    resolutions: Any,
    *,
    ignore_1x1: bool = False,
    threads: int | None = None,
    i_min: bool = True,
) -> ScreenResult:
    """Screen many graphs at many resolutions in one call of the core.

    Args:
        batch: a :class:`GraphBatch`, or a list of graphs or specs.  A list
            may mix graphs of 1, 2 and 3 spatial axes: each dimensionality is
            screened in one call of the core and the rows come back in the
            list's order, the per-axis arrays padded with NaN to the largest D
            and ``dims`` [B] saying which axes each graph has (then only
            square resolutions apply to every graph, see
            :func:`group_resolutions`).
        resolutions: an int (square), a tuple (one size per axis: a single
            resolution), or a list of ints and tuples (R resolutions in all:
            ``[32, 64]`` is 32x32 and 64x64, never 32x64), or an int array
            [R] (square) or [R, D].
        ignore_1x1: do not rate layers whose kernel is 1 on every axis.
        threads: worker threads (default: every core).
        i_min: compute I_min (a maximum of per-node thresholds); off saves a little when
            only the counts at the given resolutions matter.

    Returns:
        A :class:`ScreenResult` of numpy arrays shaped [B] / [B, R] / [B, D].

    >>> import rfa_fast
    >>> specs = [[{"op": "input"}] + [{"op": "conv", "kernel": 3, "stride": s}] * 4 for s in (1, 2)]
    >>> r = rfa_fast.screen(specs, [8, 64])
    >>> r.n_unproductive.tolist(), r.i_min.tolist()
    ([[1, 0], [3, 0]], [10.0, 39.0])
    """
    if isinstance(batch, Graph):
        batch = [batch]
    if not isinstance(batch, GraphBatch):
        batch = list(batch)
        if any(isinstance(g, Graph) and g.folded_at is not None for g in batch):
            refolded = _screen_refolded(batch, resolutions, ignore_1x1, threads, i_min)
            if refolded is not None:
                return refolded
    return _screen(batch, resolutions, ignore_1x1, threads, i_min)


def _screen(
    batch: GraphBatch | list[Any], resolutions: Any, ignore_1x1: bool, threads: int | None, i_min: bool
) -> ScreenResult:
    """:func:`screen` with the graphs as they are (no re-folding)."""
    if not isinstance(batch, GraphBatch):
        items = batch
        groups = _dim_groups(items)
        if len(groups) > 1:
            return _screen_mixed(items, groups, resolutions, ignore_1x1, threads, i_min)
        batch = items
    b = _as_batch(batch)
    if len(b) == 0:
        raise SpecError("the batch is empty")
    res = resolutions_array(resolutions, b.dims)
    raw = _screen_in_lanes(b, res, ignore_1x1, threads, i_min)
    if raw is None:
        try:
            raw = _core.analyze_batch(b.arrays, res, ignore_1x1, threads or 0, False, i_min)
        except GraphError as e:
            raise name_graph_error(e, b.graphs, b.arrays["graph_ptr"], b.names) from None
    # counts past int64 (the core saturates them): exact Python ints, graph by graph
    make_screen_exact(raw, res, lambda g: graph_slice(b.arrays, g), ignore_1x1)
    return ScreenResult(raw, res, names=b.names)


def _reindexed(e: GraphError, positions: Sequence[int]) -> GraphError:
    """``e`` raised for a sub-batch, its graph named by its index in the caller's list (``positions[i]``
    is the caller's index of the sub-batch's graph ``i``); the node, column and names are kept."""
    where = positions[e.graph_index] if 0 <= e.graph_index < len(positions) else e.graph_index
    out = GraphError(str(e).replace(f"graph {e.graph_index}", f"graph {where}", 1), where, e.node_index, e.column)
    out.graph_name, out.node_name = e.graph_name, e.node_name
    return out


def _square_or_tuple(row: np.ndarray) -> int | tuple[int, ...]:
    """One resolution row as screen() takes it: an int when square (it then fits every D)."""
    values = tuple(int(v) for v in row)
    return values[0] if len(set(values)) == 1 else values


def _screen_refolded(
    items: list[Any], resolutions: Any, ignore_1x1: bool, threads: int | None, i_min: bool
) -> ScreenResult | None:
    """Screen graphs whose sizes were folded at another resolution than some columns (None: none is).

    Every graph is read at each column's resolution (``refold.graph_at``): the
    per-resolution columns (counts, MACs) of a column come from the graphs read
    there; the per-graph values (I_min, I_max, rf_max, params, ...) from the
    graphs read at the first resolution.  Graphs without a record are screened once.
    """
    per_column: list[list[Any]] = []
    rows: list[np.ndarray] = []
    for item in items:
        if isinstance(item, Graph) and item.folded_at is not None:
            rows.append(group_resolutions(resolutions, item.dims, [item.name]))
        else:
            rows.append(np.zeros((0, 0), np.int64))
    R = max(len(r) for r in rows)
    for c in range(R):
        per_column.append(
            [graph_at(g, rows[i][c].tolist(), stacklevel=4) if len(rows[i]) else g for i, g in enumerate(items)]
        )
    if all(a is b for col in per_column for a, b in zip(col, items)):
        return None  # every graph was folded at the resolutions asked for, or keeps its sizes
    result = _screen(per_column[0], resolutions, ignore_1x1, threads, i_min)
    for c in range(1, R):
        changed = [i for i, g in enumerate(per_column[c]) if g is not per_column[0][i]]
        if not changed:
            continue
        spec = [_square_or_tuple(result.resolutions[c][: per_column[c][changed[0]].dims])]
        try:
            column = _screen([per_column[c][i] for i in changed], spec, ignore_1x1, threads, False)
        except GraphError as e:  # name the graph by its index in the caller's list
            raise _reindexed(e, changed) from None
        for f in ScreenResult.PER_RESOLUTION:
            getattr(result, f)[changed, c] = getattr(column, f)[:, 0]
    return result


def _item_dims(item: Any) -> int | None:
    """The number of spatial axes of a Graph or a spec (None: not readable here; the packer reports it)."""
    if isinstance(item, Graph):
        return item.dims
    if isinstance(item, dict):
        d = item.get("dims", 2)
        return d if type(d) is int else None
    return 2  # a bare layer list is 2-D


def _dim_groups(items: Sequence[Any]) -> dict[int, list[int]]:
    """Indices of the items by number of spatial axes, in order of first appearance of each D."""
    groups: dict[int, list[int]] = {}
    for i, item in enumerate(items):
        d = _item_dims(item)
        groups.setdefault(d if d is not None else 2, []).append(i)
    return groups


def group_resolutions(resolutions: Any, dims: int, names: Sequence[str]) -> np.ndarray:
    """The [R, dims] resolutions of the graphs of one dimensionality in a mixed batch.

    An int (or an int array [R]) is square and applies to every D; a per-axis
    tuple (or an [R, D] array) applies only to graphs with that many axes, so
    any other graph in the batch is a :class:`ResolutionError` naming it.

    >>> group_resolutions([32, 64], 3, ["a"]).tolist()
    [[32, 32, 32], [64, 64, 64]]
    """
    try:
        return resolutions_array(resolutions, dims)
    except ResolutionError as e:
        shown = ", ".join(repr(n) for n in names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        raise ResolutionError(
            f"{e}: in a batch mixing graphs of 1, 2 and 3 spatial axes a per-axis resolution applies only to "
            f"graphs with that many axes; the {dims}-D graphs {shown} need a square size (an int) instead"
        ) from None


def _screen_mixed(
    items: list[Any],
    groups: dict[int, list[int]],
    resolutions: Any,
    ignore_1x1: bool,
    threads: int | None,
    i_min: bool,
) -> ScreenResult:
    """One core call per dimensionality; one result with the rows in the input order (ScreenResult, "mixed")."""
    parts: list[tuple[list[int], ScreenResult]] = []
    for d in sorted(groups):
        idx = groups[d]
        sub = [items[i] for i in idx]
        b = _as_batch(sub)
        # specs without a name are called after their index: in the caller's list, not in the group
        b.names = [
            f"candidate_{idx[j]}" if n == f"candidate_{j}" and not isinstance(sub[j], Graph) else n
            for j, n in enumerate(b.names)
        ]
        res = group_resolutions(resolutions, d, b.names)
        try:
            r = _screen(b, res, ignore_1x1, threads, i_min)
        except GraphError as e:
            raise _reindexed(e, idx) from None  # the graph's index in the caller's list, not in its group
        except SpecError as e:
            if e.candidate is None or not 0 <= e.candidate < len(idx):
                raise
            where = idx[e.candidate]
            msg = str(e).replace(f"candidate {e.candidate}", f"candidate {where}", 1)
            raise SpecError(msg, where, e.layer) from None
        parts.append((idx, r))
    joined = ScreenResult.concatenate([r for _, r in parts])
    order = np.argsort(np.concatenate([np.asarray(idx, np.int64) for idx, _ in parts]), kind="stable")
    raw = {("graph_rf_max" if f == "rf_max" else f): getattr(joined, f)[order] for f in ScreenResult.FIELDS}
    raw["dims"] = joined.dims[order]
    names = None if joined.names is None else [joined.names[i] for i in order]
    return ScreenResult(raw, joined.resolutions, names)


# A batch this large, all of one topology, runs in the space engine's lanes:
# compiling it costs about a millisecond, which the lanes win back from here on.
_LANES_MIN_GRAPHS = 64
_LANES_MIN_NODES = 20_000


def _screen_in_lanes(
    b: GraphBatch, res: np.ndarray, ignore_1x1: bool, threads: int | None, i_min: bool
) -> dict[str, np.ndarray] | None:
    """The per-graph results of a same-topology batch through the lanes (None: not such a batch)."""
    if len(b) < _LANES_MIN_GRAPHS or b.n_nodes < _LANES_MIN_NODES:
        return None
    from .space.batched import batch_program

    compiled = batch_program(b.arrays, b.dims)
    if compiled is None:
        return None
    program, columns = compiled
    rows = np.zeros((len(b), 0), np.uint8)
    try:
        return program.core.screen(rows, columns, res, ignore_1x1, threads or 0, i_min)  # type: ignore[no-any-return]
    except GraphError:
        return None  # a bad value: the general path names it in the batch's own terms


def _chain_array(x: Any, name: str) -> np.ndarray:
    """An int32 C-contiguous [B, L] or [B, L, D] array, copied only when it must be."""
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise SpecError(f"{name} must be an integer array, got dtype {a.dtype}")
    if a.ndim not in (2, 3):
        raise SpecError(f"{name} must be [B, L] or [B, L, D], got shape {a.shape}")
    if a.dtype != np.int32:
        if a.size and (int(a.min()) < -(2**31) or int(a.max()) > 2**31 - 1):
            raise SpecError(f"{name} has values outside int32")
        a = a.astype(np.int32)
    return np.ascontiguousarray(a)


def screen_chains(
    kernel: Any,
    stride: Any,
    dilation: Any = None,
    resolutions: Any = 224,
    *,
    padding: str | tuple[Any, Any] = "same",
    dims: int = 2,
    channels: Any = None,
    ignore_1x1: bool = False,
    threads: int | None = None,
) -> ScreenResult:
    """Dense fast path: B chains of L windows with per-candidate parameters.

    Args:
        kernel, stride, dilation: integer arrays [B, L] (the same on every
            one of ``dims`` axes) or [B, L, D].
        resolutions: as in :func:`screen`.
        padding: ``"same"`` (total k'-1, ``(k'-1)//2`` before: the map
            shrinks only by the stride), ``"valid"`` (none), or a pair of
            arrays ``(pad_begin, pad_end)`` shaped like ``kernel``.
        channels: optional [B, L+1] (input channels, then each layer's
            output channels) for parameter and MAC counts.

    Returns the same :class:`ScreenResult` as :func:`screen` on the same
    chains packed as graphs (``tests/test_chains.py`` checks it).

    >>> import numpy as np, rfa_fast
    >>> k = np.full((2, 5), 3); s = np.array([[1] * 5, [2] * 5])
    >>> rfa_fast.screen_chains(k, s, resolutions=32).n_unproductive[:, 0].tolist()  # strided: 32, 16, 8, 4, 2
    [0, 1]
    """
    named = [(_chain_array(kernel, "kernel"), "kernel"), (_chain_array(stride, "stride"), "stride")]
    if dilation is not None:
        named.append((_chain_array(dilation, "dilation"), "dilation"))
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise SpecError(f"padding must be 'same', 'valid' or (pad_begin, pad_end), got {padding!r}")
    else:
        named += [
            (_chain_array(padding[0], "pad_begin"), "pad_begin"),
            (_chain_array(padding[1], "pad_end"), "pad_end"),
        ]
    arrays = [a for a, _ in named]
    B, L = arrays[0].shape[:2]
    for a, name in named:
        if a.shape[:2] != (B, L):
            raise SpecError(f"{name} has shape {a.shape}, kernel has [B, L] = {(B, L)}")
    per_axis = [a.shape[2] for a in arrays if a.ndim == 3]
    D = per_axis[0] if per_axis else dims
    if any(n != D for n in per_axis):
        raise SpecError(f"per-axis arrays disagree on the number of axes: {per_axis}")
    res = resolutions_array(resolutions, D)
    if channels is None:
        ch = None
    else:
        ch = np.ascontiguousarray(channels, dtype=np.int64)
        if ch.shape != (B, L + 1):
            raise SpecError(f"channels must be [B, L+1] = {(B, L + 1)}, got {ch.shape}")
    from .space.batched import chain_program

    # chains are a space whose every attribute is a per-candidate column (the space engine's lanes)
    per_axis_arrays = bool(per_axis)
    padding_kind = padding if isinstance(padding, str) else "explicit"
    program = chain_program(L, D, per_axis_arrays, dilation is not None, padding_kind, ch is not None)
    columns = [
        np.ascontiguousarray(
            np.broadcast_to(a[:, :, None], (B, L, D)) if (per_axis_arrays and a.ndim == 2) else a
        ).reshape(B, L * D if per_axis_arrays else L)  # not -1: numpy cannot infer it when B is 0
        for a in arrays
    ]
    if ch is not None:
        columns.append(ch)
    rows = np.zeros((B, 0), np.uint8)
    try:
        raw = program.core.screen(rows, columns, res, ignore_1x1, threads or 0, True)
    except GraphError as e:
        layer = e.node_index - 1  # node 0 is the input
        msg = str(e).replace(f"template node {e.node_index}", f"layer {layer}")
        raise GraphError(msg, e.graph_index, layer) from None
    make_screen_exact(raw, res, lambda g: program.core.materialize(rows, columns, g), ignore_1x1)
    return ScreenResult(raw, res, names=None)
