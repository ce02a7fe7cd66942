"""Exact parameter and MAC counts where the core's int64 arithmetic overflows.

The core counts costs in int64 and saturates: a count that reaches
``2**63 - 1`` (:data:`SATURATED`) stands for "at least that much", never for
itself (every term is non-negative, so a saturated partial sum or product
stays saturated).  At large resolutions this is real: ResNet-18 at 10^9 px
costs about 7e24 MACs.  No output may show a saturated number as if it
were a count (docs/semantics.md, "Cost"), so the Python layer looks for the
sentinel (one vectorized comparison per screen) and, for the few graphs
that carry it, counts again here with Python ints from the core's per-node
terms: parameters and feature maps, which stay exact far past the totals.

The arrays holding such counts become numpy ``object`` arrays of Python
ints; every other screen keeps its int64 arrays.

>>> import numpy as np
>>> raw = {"macs": np.array([[5, SATURATED]]), "macs_unproductive": np.zeros((1, 2), np.int64),
...        "params": np.array([3])}
>>> saturated_graphs(raw).tolist()
[0]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._core import analyze_batch
from .errors import GraphError
from .graph import ARRAY_NAMES
from .kinds import Kind, Status

SATURATED = int(np.iinfo(np.int64).max)
"""The core's saturated count: "at least 2**63 - 1", never a value."""

_COST_FIELDS = ("macs", "macs_unproductive", "params", "macs_dead")


_NONE = np.zeros(0, np.int64)
_NONE.flags.writeable = False


def _saturated(a: Any) -> bool:
    """Whether an int64 count array holds the saturated value (small arrays without a ufunc call)."""
    if a is None or a.dtype != np.int64 or not a.size:
        return False
    return (max(a.ravel().tolist()) if a.size <= 64 else int(a.max())) == SATURATED


def saturated_graphs(raw: dict[str, Any]) -> np.ndarray:
    """Indices of the graphs whose per-graph counts in ``raw`` are saturated (usually none).

    One maximum of ``macs`` and one of ``params``: the other MAC counts are sums over subsets of
    the nodes ``macs`` sums (saturating adds of non-negative terms), so they saturate only with it.
    Cheap next to the screen that made them, also for a search loop's one-row calls.
    """
    if not any(_saturated(raw.get(f)) for f in ("macs", "params")):
        return _NONE
    hit = [f for f in _COST_FIELDS if _saturated(raw.get(f))]
    B = raw["params"].shape[0]
    mask = np.zeros(B, dtype=bool)
    for f in hit:
        a = raw[f].reshape(B, -1)
        mask |= (a == SATURATED).any(axis=1)
    return np.flatnonzero(mask)


def _node_params(arrays: dict[str, Any], raw: dict[str, Any], v: int) -> int:
    """Parameters of node ``v`` (docs/semantics.md, "Cost") as a Python int."""
    if not arrays["weighted"][v] or not raw["node_connected"][v]:
        return 0
    ci, co, gr = int(arrays["c_in"][v]), int(arrays["c_out"][v]), int(arrays["groups"][v])
    if ci <= 0 or co <= 0:
        return 0
    kind = int(arrays["op"][v])
    if kind == Kind.GLOBAL:
        return ci * co
    if kind == Kind.WINDOW:
        p = co * (ci // gr)
    elif kind == Kind.TRANSPOSED:
        p = ci * (co // gr)
    else:
        return 0
    for k in arrays["kernel"][v].tolist():
        p *= int(k)
    return p


def exact_node_costs(
    arrays: dict[str, Any], raw: dict[str, Any], *, where: Callable[[int], str] | None = None
) -> tuple[list[int], list[list[int]]]:
    """Exact parameters [N] and MACs [R][N] of every node of a per-node core run, as Python ints.

    ``arrays`` are the core's input arrays, ``raw`` what ``analyze_batch``
    returned for them with ``per_node=True``.  Counts the core kept in range
    are taken as they are; saturated ones are counted again from the node's
    parameters and feature maps.  A feature map that is itself beyond int64
    (absurd upsampling) cannot be counted: that is a :class:`GraphError`.
    ``where(v)`` names node ``v`` in that message.
    """
    params = raw["node_params"].tolist()
    macs = raw["node_macs"].tolist()
    fmap = raw["fmap"]
    ops = arrays["op"]
    pred, pred_ptr = arrays["pred"], arrays["pred_ptr"]
    for v in range(len(params)):
        recount = params[v] == SATURATED
        if recount:
            params[v] = _node_params(arrays, raw, v)
        p = params[v]
        for r, row in enumerate(macs):
            if not (recount or row[v] == SATURATED):
                continue
            kind = int(ops[v])
            if p == 0 or kind not in (Kind.WINDOW, Kind.TRANSPOSED):
                row[v] = p  # 0, or a dense GLOBAL: MACs = parameters
                continue
            src = v if kind == Kind.WINDOW else int(pred[pred_ptr[v]])
            m = p
            for f in fmap[r, src].tolist():
                if f == SATURATED:
                    name = where(v) if where is not None else f"node {v}"
                    raise GraphError(
                        f"{name}: a feature map at resolution {r} exceeds the int64 range, so its MACs cannot be "
                        "counted (too many upsampling layers)",
                        node_index=v,
                    )
                m *= int(f)
            row[v] = m
    return params, macs


def exact_totals(
    arrays: dict[str, Any], raw: dict[str, Any], *, where: Callable[[int], str] | None = None
) -> tuple[int, list[int], list[int], list[int], list[list[int]]]:
    """(params, macs [R], macs_unproductive [R], node params [N], node MACs [R][N]) of a one-graph per-node run."""
    params, macs = exact_node_costs(arrays, raw, where=where)
    status = raw["status"]
    total = [sum(row) for row in macs]
    unprod_rows = ((status & Status.UNPRODUCTIVE) != 0).tolist()
    unprod = [sum(m for m, u in zip(row, flags) if u) for row, flags in zip(macs, unprod_rows)]
    return sum(params), total, unprod, params, macs


def dead_macs(status: np.ndarray, node_macs: list[list[int]]) -> list[int]:
    """Per resolution, the sum of the MACs of the dead nodes (status DEAD), as Python ints.

    >>> dead_macs(np.array([[16, 0, 16]], np.uint8), [[5, 7, 2**70]])
    [1180591620717411303429]
    """
    rows = ((status & Status.DEAD) != 0).tolist()
    return [sum(m for m, d in zip(row, flags) if d) for row, flags in zip(node_macs, rows)]


def make_report_exact(
    arrays: dict[str, Any], raw: dict[str, Any], *, where: Callable[[int], str] | None = None
) -> None:
    """Replace saturated counts of a one-graph per-node run (``analyze``) by exact Python ints, in place."""
    fields = (*_COST_FIELDS, "node_params", "node_macs")
    if not any(raw[f].size and int(raw[f].max()) == SATURATED for f in fields):
        return
    params, macs, unprod, node_params, node_macs = exact_totals(arrays, raw, where=where)
    raw["params"] = _objects([params])
    raw["macs"] = _objects([macs])
    raw["macs_unproductive"] = _objects([unprod])
    raw["macs_dead"] = _objects([dead_macs(raw["status"], node_macs)])
    raw["node_params"] = _objects(node_params)
    raw["node_macs"] = _objects(node_macs)


def make_screen_exact(
    raw: dict[str, Any],
    resolutions: np.ndarray,
    graph_arrays: Callable[[int], dict[str, Any]],
    ignore_1x1: bool,
) -> dict[str, Any]:
    """Replace the saturated per-graph counts of a screen by exact Python ints, in place; returns ``raw``.

    ``graph_arrays(b)`` gives the core arrays of graph (candidate) ``b``
    alone; only graphs whose counts saturated are analyzed again, node by node.
    """
    bad = saturated_graphs(raw)
    if bad.size == 0:
        return raw
    for f in _COST_FIELDS:
        raw[f] = raw[f].astype(object)
    for b in bad.tolist():
        arrays = graph_arrays(b)
        one = analyze_batch(arrays, resolutions, ignore_1x1, 1, True, False)

        def where(v: int, b: int = b) -> str:
            return f"graph {b}, node {v}"

        params, macs, unprod, _, node_macs = exact_totals(arrays, one, where=where)
        raw["params"][b] = params
        raw["macs"][b, :] = macs
        raw["macs_unproductive"][b, :] = unprod
        raw["macs_dead"][b, :] = dead_macs(one["status"], node_macs)
    return raw


def _objects(values: list[Any]) -> np.ndarray:
    """An object array of Python ints shaped like the nested list ``values``."""
    arr = np.empty(np.shape(values), dtype=object)
    arr[...] = values
    return arr


def graph_slice(arrays: dict[str, Any], b: int) -> dict[str, np.ndarray]:
    """The core arrays of graph ``b`` of a packed batch, as a batch of one graph."""
    gp = arrays["graph_ptr"]
    s, e = int(gp[b]), int(gp[b + 1])
    p0, p1 = int(arrays["pred_ptr"][s]), int(arrays["pred_ptr"][e])
    out = {k: np.ascontiguousarray(arrays[k][s:e]) for k in _NODE_ARRAYS}
    out["graph_ptr"] = np.array([0, e - s], dtype=np.int64)
    out["pred_ptr"] = np.ascontiguousarray(arrays["pred_ptr"][s : e + 1] - p0)
    out["pred"] = np.ascontiguousarray((arrays["pred"][p0:p1] - s).astype(np.int32))
    if "output" in arrays:  # the graph's outputs, when they are not just its last node
        out["output"] = np.ascontiguousarray(arrays["output"][s:e])
    return out


# one row per node (the pointer arrays are rebuilt for the slice)
_NODE_ARRAYS = tuple(k for k in ARRAY_NAMES if k not in ("graph_ptr", "pred_ptr", "pred"))
