"""Batches that are one topology, run in the space engine's lanes.

A :class:`~rfa_fast.batch.GraphBatch` whose graphs all have the same nodes
and edges (a model's kernel variants, refinement candidates made by tiling, a
chain of layers with per-candidate kernels) is a search space whose every
attribute is a per-candidate column. :func:`batch_program` compiles it into a
program that reads those columns straight from the batch's arrays (no copy),
and :func:`chain_program` does the same for ``screen_chains``' ``[B, L, D]``
arrays. The answers are those of the general engine on the same graphs
(``tests/test_space_batched.py``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..kinds import Kind, PadMode
from .program import CompiledProgram, ProgramBuilder
from .template import AXIS_FIELDS

# Per-node fields of a batch after "mode" in the program's order (NODE_FIELDS), and their arrays.
_NODE_ARRAYS = {
    "pad_mode": "pad_mode",
    "ceil_mode": "ceil_mode",
    "weighted": "weighted",
    "c_in": "c_in",
    "c_out": "c_out",
    "groups": "groups",
}
_LANE_KINDS = frozenset(int(k) for k in (Kind.INPUT, Kind.WINDOW, Kind.MERGE, Kind.GLOBAL, Kind.IDENTITY))


def uniform_topology(arrays: dict[str, np.ndarray]) -> int | None:
    """Nodes per graph when every graph of the batch has the same nodes and edges (else None).

    >>> from rfa_fast import GraphBatch
    >>> specs = [[{"op": "input"}, {"op": "conv", "kernel": k}] for k in (3, 5)]
    >>> uniform_topology(GraphBatch.from_specs(specs).arrays)
    2
    """
    gp = arrays["graph_ptr"]
    B = len(gp) - 1
    if B < 1:
        return None
    n = int(gp[1] - gp[0])
    if n < 1 or int(gp[-1]) != n * B or not (np.diff(gp) == n).all():
        return None
    op = arrays["op"].reshape(B, n)
    if not (op == op[0]).all() or not np.isin(op[0], list(_LANE_KINDS)).all():
        return None
    pp = arrays["pred_ptr"]
    e = int(pp[n] - pp[0])
    if len(arrays["pred"]) != e * B or not (pp[::n][: B + 1] == np.arange(B + 1) * e).all():
        return None
    if not (np.diff(pp).reshape(B, n) == np.diff(pp[: n + 1])).all():
        return None
    pred = arrays["pred"].reshape(B, e).astype(np.int64) - gp[:-1, None]
    if not (pred == pred[0]).all():
        return None
    return n


def batch_program(arrays: dict[str, np.ndarray], dims: int) -> tuple[CompiledProgram, list[np.ndarray]] | None:
    """The program of a same-topology batch and the column arrays it reads, or None.

    Fields that are the same in every graph become constants; the others
    read the batch's own arrays, viewed as [B, nodes * axes] (no copy).
    """
    n = uniform_topology(arrays)
    if n is None:
        return None
    B = len(arrays["graph_ptr"]) - 1
    if "output" in arrays:  # a program's output is its last node: other outputs take the general path
        marks = np.asarray(arrays["output"]).reshape(B, n)
        if not ((marks[:, -1] == 1).all() and (marks[:, :-1] == 0).all()):
            return None
    columns: list[np.ndarray] = []
    b = ProgramBuilder(dims, [], [])

    def field(name: str, width: int) -> np.ndarray:
        """Parameter ids [width] of a batch array seen as [B, width]: constants where every graph agrees."""
        a = arrays[name].reshape(B, width)
        varies = (a != a[0]).any(axis=0)
        ids = b.consts(a[0])
        if varies.any():
            columns.append(np.ascontiguousarray(a))
            b.column_width.append(width)
            ids[varies] = b.columns(len(columns) - 1, np.flatnonzero(varies))
        return ids

    axis = [field(f, n * dims).reshape(n, dims) for f in AXIS_FIELDS]
    node = [field(a, n) for a in _NODE_ARRAYS.values()]
    default = {"mode": b.const(0), "sel": b.const(0)}
    field_param = np.concatenate(
        axis
        + [np.full((n, 1), default["mode"], np.int32)]
        + [x[:, None] for x in node]
        + [np.full((n, 1), default["sel"], np.int32)],
        axis=1,
    )
    pp = arrays["pred_ptr"][: n + 1] - arrays["pred_ptr"][0]
    pred = arrays["pred"][: int(pp[-1])].astype(np.int64) - int(arrays["graph_ptr"][0])
    b.nodes(arrays["op"][:n], pp, pred, field_param)
    return CompiledProgram(b.arrays(), dims, [f"node {i}" for i in range(n)]), columns


@lru_cache(maxsize=64)
def chain_program(L: int, dims: int, per_axis: bool, dilation: bool, padding: str, channels: bool) -> CompiledProgram:
    """The program of ``screen_chains``: an input and L windows whose attributes are columns.

    Column arrays, in order: kernel, stride, then dilation when ``dilation``
    (each [B, L * A], A = dims when ``per_axis`` else 1), then pad_begin,
    pad_end when ``padding`` is "explicit", then channels [B, L + 1] when
    ``channels``.

    "same" padding (k'-1 in all, (k'-1)//2 before) is written as SAME_UPPER:
    the same map, ceil(n / s), the same fields and thresholds; only the center
    of unit 0 differs, which no per-graph result of a chain reads.
    """
    A = dims if per_axis else 1
    widths = [L * A] * (3 if dilation else 2)
    pads = len(widths)
    if padding == "explicit":
        widths += [L * A] * 2
    ch = len(widths)
    if channels:
        widths.append(L + 1)
    b = ProgramBuilder(dims, [], widths)
    x = b.node(int(Kind.INPUT), [])
    for layer in range(L):

        def col(array: int, layer: int = layer) -> list[int]:
            return [b.column(array, layer * A + (d if per_axis else 0)) for d in range(dims)]

        axes = {"kernel": col(0), "stride": col(1)}
        if dilation:
            axes["dilation"] = col(2)
        fields: dict[str, Any] = {}
        if padding == "explicit":
            axes.update(pad_begin=col(pads), pad_end=col(pads + 1))
        else:
            fields["pad_mode"] = b.const(int(PadMode.SAME_UPPER if padding == "same" else PadMode.VALID))
        if channels:
            fields.update(weighted=b.const(1), c_in=b.column(ch, layer), c_out=b.column(ch, layer + 1))
        x = b.node(int(Kind.WINDOW), [x], axes=axes, fields=fields)
    return CompiledProgram(b.arrays(), dims, ["input"] + [f"layer {i}" for i in range(L)])
