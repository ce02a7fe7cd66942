"""NAS-Bench-201 (Dong & Yang, ICLR 2020) in rfa_fast.

A cell of a search space, placed in the space's fixed macro skeleton, becomes a
:class:`~rfa_fast.graph.Graph` (one at a time, with readable node names, for
:func:`rfa_fast.analyze`) or a row of a :class:`~rfa_fast.batch.GraphBatch`
(thousands at a time, for :func:`rfa_fast.screen`).

NAS-Bench-201 (Dong & Yang, ICLR 2020): a cell is 4 nodes and 6 edges, each
edge one of ``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``;
:func:`nb201_batch` packs cells into the skeleton with numpy, all cells at
once, without a Python object per node.

>>> import rfa_fast
>>> from rfa_fast.nas import nb201_batch, nb201_all
>>> r = rfa_fast.screen(nb201_batch(nb201_all()), 32)
>>> len(r), int(r.connected.sum())
(15625, 15284)
>>> cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
>>> rfa_fast.screen(nb201_batch([cell]), 32).rf_max[0].tolist()
[231.0, 231.0]

:func:`nb201_screen` gives the same answers without building the networks
(the whole space in milliseconds):

>>> from rfa_fast.nas import nb201_screen
>>> fast = nb201_screen(nb201_all(), 32)
>>> bool((fast.n_unproductive == r.n_unproductive).all()), int(fast.connected.sum())
(True, 15284)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Union

import numpy as np

from .. import _core
from .._costs import graph_slice, make_screen_exact
from ..batch import GraphBatch
from ..errors import SpecError
from ..graph import Graph, GraphBuilder
from ..kinds import Kind
from ..results import ScreenResult
from ..space import Space

_SATURATED = 2**63 - 1

# ---------------------------------------------------------------------------
# NAS-Bench-201: cells

NB201_OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
"""Edge operations, in the order of the op indices of a cell tuple."""

NB201_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
"""The 6 edges of a cell as (to, from) node pairs, in the order of a cell tuple."""

NONE, SKIP, CONV1, CONV3, POOL = range(5)
_DROPPED = 255  # prototype code of a slot that has no node (none, skip_connect)
_OP_INDEX = {name: i for i, name in enumerate(NB201_OPS)}

Nb201Cell = Union[str, Sequence[int]]


@lru_cache(maxsize=65536)
def nb201_parse(cell: str) -> tuple[int, ...]:
    """The 6 op indices of a NAS-Bench-201 cell string.

    >>> nb201_parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|")
    (3, 0, 1, 2, 1, 4)
    """
    parts = cell.strip().split("+")
    if len(parts) != 3:
        raise SpecError(f"NAS-Bench-201 cell {cell!r}: expected 3 '+'-separated nodes, got {len(parts)}")
    ops = [-1] * 6
    for j, part in enumerate(parts, start=1):
        entries = [e for e in part.strip().strip("|").split("|") if e]
        if len(entries) != j:
            raise SpecError(f"NAS-Bench-201 cell {cell!r}: node {j} needs {j} incoming edges, got {len(entries)}")
        for entry in entries:
            name, _, src = entry.partition("~")
            if name not in _OP_INDEX:
                raise SpecError(f"NAS-Bench-201 cell {cell!r}: unknown op {name!r} (one of {', '.join(NB201_OPS)})")
            if not src.isdigit() or int(src) >= j:
                raise SpecError(
                    f"NAS-Bench-201 cell {cell!r}: edge {entry!r} into node {j} must come from a node 0..{j - 1}"
                )
            e = NB201_EDGES.index((j, int(src)))
            if ops[e] != -1:
                raise SpecError(f"NAS-Bench-201 cell {cell!r}: edge {src}->{j} is given twice")
            ops[e] = _OP_INDEX[name]
    return tuple(ops)


def nb201_cell_string(ops: Sequence[int]) -> str:
    """The NAS-Bench-201 string of a cell given as 6 op indices (the inverse of :func:`nb201_parse`).

    >>> nb201_cell_string((3, 0, 1, 2, 1, 4))
    '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|'
    """
    t = _check_ops(ops)
    nodes = []
    for j in (1, 2, 3):
        nodes.append("|" + "|".join(f"{NB201_OPS[t[e]]}~{i}" for e, (jj, i) in enumerate(NB201_EDGES) if jj == j) + "|")
    return "+".join(nodes)


def _check_ops(ops: Sequence[int]) -> tuple[int, ...]:
    try:
        t = tuple(int(o) for o in ops)
    except (TypeError, ValueError):
        raise SpecError(f"a NAS-Bench-201 cell is a string or 6 op indices, got {ops!r}") from None
    if len(t) != 6 or not all(0 <= o < 5 for o in t):
        raise SpecError(f"a NAS-Bench-201 cell needs 6 op indices in 0..4, got {t}")
    return t


def nb201_all() -> np.ndarray:
    """All 15,625 cells as op indices, uint8 [15625, 6], lexicographic over the op indices.

    Row ``i`` is ``i`` written in base 5, edge 1<-0 the most significant digit
    (this is not the order of the NAS-Bench-201 benchmark file's arch indices).

    >>> a = nb201_all()
    >>> a.shape, a[0].tolist(), a[-1].tolist()
    ((15625, 6), [0, 0, 0, 0, 0, 0], [4, 4, 4, 4, 4, 4])
    """
    codes = np.arange(5**6)
    return ((codes[:, None] // 5 ** np.arange(5, -1, -1)) % 5).astype(np.uint8)


@lru_cache(maxsize=1)
def _all_cell_strings() -> list[str]:
    return [nb201_cell_string(t) for t in itertools.product(range(5), repeat=6)]


def nb201_connected(ops: Sequence[int]) -> bool:
    """Whether the cell's output (node 3) is reachable from its input (node 0) through non-``none`` edges.

    >>> nb201_connected((0, 0, 0, 3, 0, 0)), nb201_connected((3, 0, 0, 0, 3, 0)), nb201_connected((0,) * 6)
    (True, True, False)
    """
    t = _check_ops(ops)
    reach = {0}
    for e, (j, i) in enumerate(NB201_EDGES):  # edges are ordered by their target node
        if t[e] != NONE and i in reach:
            reach.add(j)
    return 3 in reach


def nb201_ops_array(cells: Iterable[Nb201Cell] | np.ndarray) -> np.ndarray:
    """Cells (strings, op-index tuples, or an int array [B, 6]) as a uint8 array [B, 6]."""
    if isinstance(cells, np.ndarray):
        if cells.ndim != 2 or cells.shape[1] != 6 or cells.dtype.kind not in "iu":
            raise SpecError(f"a cell array must be integer [B, 6], got {cells.dtype} {cells.shape}")
        if cells.size and (int(cells.min()) < 0 or int(cells.max()) > 4):
            raise SpecError("op indices must be in 0..4 (none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3)")
        return np.ascontiguousarray(cells, dtype=np.uint8)
    rows = []
    for b, c in enumerate(cells):
        try:
            rows.append(nb201_parse(c) if isinstance(c, str) else _check_ops(c))
        except SpecError as e:
            raise SpecError(f"cell {b}: {e}", candidate=b) from None
    return np.array(rows, dtype=np.uint8).reshape(len(rows), 6)


# ---------------------------------------------------------------------------
# NAS-Bench-201: the macro skeleton, one graph at a time (GraphBuilder)


def nb201_graph(
    cell: Nb201Cell, *, channels: Sequence[int] = (16, 32, 64), num_classes: int = 10, cells_per_stage: int = 5
) -> Graph:
    """One NAS-Bench-201 network as a :class:`Graph` with readable node names.

    The skeleton of the benchmark's ``TinyNetwork``: a 3x3 stem conv (pad 1,
    ``channels[0]`` out); three stages of ``cells_per_stage`` cells; between
    stages the residual reduction block (3x3/2 conv pad 1 -> 3x3 conv pad 1,
    shortcut 2x2/2 average pool -> 1x1 conv, added); global pooling; a dense
    classifier.  In a cell, ``nor_conv_kxk`` (ReLU-Conv-BN) is a conv, pad
    ``k//2``; ``avg_pool_3x3`` a 3x3 pool, stride 1, pad 1; ``skip_connect`` an
    edge; ``none`` no edge.  Node j of a cell is the sum (a MERGE) of its
    incoming edges: with none it is a zero-input MERGE, disconnected.

    :func:`nb201_batch` packs the same graphs (same node order) without
    building them one by one.

    >>> import rfa_fast
    >>> g = nb201_graph("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|avg_pool_3x3~2|")
    >>> len(g), g.nodes[2].name
    (104, 'stage0.cell0.edge1<-0.nor_conv_3x3')
    >>> s = rfa_fast.analyze(g, 32).summary  # longest path: nor_conv_3x3 then avg_pool_3x3 in every cell
    >>> s["rf_max"], s["i_min"], s["aligned"]  # the 2x2 pool shortcut shifts the center: misaligned
    ([161.0, 161.0], [15.0, 15.0], False)
    """
    ops = nb201_parse(cell) if isinstance(cell, str) else _check_ops(cell)
    if len(channels) != 3:
        raise SpecError(f"NAS-Bench-201 has 3 stages: channels needs 3 values, got {tuple(channels)}")
    b = GraphBuilder(nb201_cell_string(ops))
    x = b.input("input")
    x = b.conv(x, 3, pad=1, c_in=3, c_out=channels[0], name="stem")
    c_prev = channels[0]
    for s, c in enumerate(channels):
        if s > 0:  # ResNetBasicblock(c_prev, c, stride 2)
            r = f"reduce{s}"
            a = b.conv(x, 3, 2, pad=1, c_in=c_prev, c_out=c, name=f"{r}.conv_a")
            a = b.conv(a, 3, pad=1, c_in=c, c_out=c, name=f"{r}.conv_b")
            sc = b.pool(x, 2, 2, name=f"{r}.shortcut.pool", op="avg_pool_2x2")
            sc = b.conv(sc, 1, c_in=c_prev, c_out=c, name=f"{r}.shortcut.conv")
            x = b.add(a, sc, name=f"{r}.add")
        for k in range(cells_per_stage):
            x = _nb201_cell(b, x, ops, c, f"stage{s}.cell{k}")
        c_prev = c
    x = b.global_pool(x, name="global_pool")
    b.dense(x, c_prev, num_classes, name="classifier")
    return b.build()


def _nb201_cell(b: GraphBuilder, x: int, ops: tuple[int, ...], c: int, prefix: str) -> int:
    node = [x]
    for j in (1, 2, 3):
        summands = []
        for e, (jj, i) in enumerate(NB201_EDGES):
            if jj != j or ops[e] == NONE:
                continue
            name = f"{prefix}.edge{j}<-{i}.{NB201_OPS[ops[e]]}"
            if ops[e] == SKIP:
                summands.append(node[i])
            elif ops[e] == POOL:
                summands.append(b.pool(node[i], 3, 1, pad=1, name=name, op=NB201_OPS[POOL]))
            else:
                k = 1 if ops[e] == CONV1 else 3
                summands.append(b.conv(node[i], k, pad=k // 2, c_in=c, c_out=c, name=name, op=NB201_OPS[ops[e]]))
        node.append(b.add(*summands, name=f"{prefix}.node{j}"))
    return node[3]


# ---------------------------------------------------------------------------
# NAS-Bench-201 as a search space (rows of 6 op indices, screened in lanes)


@lru_cache(maxsize=16)
def nb201_space(channels: tuple[int, ...] = (16, 32, 64), num_classes: int = 10, cells_per_stage: int = 5) -> Space:
    """NAS-Bench-201 as a :class:`~rfa_fast.Space`: one choice per cell edge, the benchmark's own encoding.

    Columns: the 6 edges in :data:`NB201_EDGES` order (``edge1<-0``,
    ``edge2<-0``, ``edge2<-1``, ``edge3<-0``, ``edge3<-1``, ``edge3<-2``),
    each with the options of :data:`NB201_OPS` (index = op index), so a row
    is a cell tuple and :func:`nb201_all` lists the whole space. Every cell
    of the network uses the same six choices. ``space.graph(row)`` is
    :func:`nb201_graph` of the cell, node for node, and ``space.screen`` equals
    :func:`nb201_screen` (``tests/test_space_nas.py`` checks every cell).

    >>> space = nb201_space()
    >>> space.size, [c.name for c in space.choices][:2]
    (15625, ['edge1<-0', 'edge2<-0'])
    >>> r = space.screen(nb201_all(), 32)
    >>> bool((r.n_unproductive == nb201_screen(nb201_all(), 32).n_unproductive).all())
    True
    """
    if len(channels) != 3:
        raise SpecError(f"NAS-Bench-201 has 3 stages: channels needs 3 values, got {tuple(channels)}")
    sp = Space("nb201")
    edge = [sp.choice(f"edge{j}<-{i}", NB201_OPS) for j, i in NB201_EDGES]
    x = sp.input("input")
    x = sp.conv(x, 3, pad=1, c_in=3, c_out=channels[0], name="stem")
    c_prev = channels[0]
    for s, c in enumerate(channels):
        if s > 0:
            r = f"reduce{s}"
            a = sp.conv(x, 3, 2, pad=1, c_in=c_prev, c_out=c, name=f"{r}.conv_a")
            a = sp.conv(a, 3, pad=1, c_in=c, c_out=c, name=f"{r}.conv_b")
            sc = sp.pool(x, 2, 2, name=f"{r}.shortcut.pool", op="avg_pool_2x2")
            sc = sp.conv(sc, 1, c_in=c_prev, c_out=c, name=f"{r}.shortcut.conv")
            x = sp.add(a, sc, name=f"{r}.add")
        for k in range(cells_per_stage):
            prefix = f"stage{s}.cell{k}"
            node = [x]
            for j in (1, 2, 3):
                summands = []
                for e, (jj, i) in enumerate(NB201_EDGES):
                    if jj != j:
                        continue
                    name = f"{prefix}.edge{j}<-{i}"
                    summands.append(sp.choose(edge[e], node[i], _nb201_alternatives(sp, name, c), name=name))
                node.append(sp.add(*summands, name=f"{prefix}.node{j}"))
            x = node[3]
        c_prev = c
    x = sp.global_pool(x, name="global_pool")
    sp.dense(x, c_prev, num_classes, name="classifier")
    return sp.build()


def _nb201_alternatives(sp: Space, name: str, c: int) -> dict[str, Any]:
    """The five edge ops of a cell edge (one node each, or none, or the input itself)."""
    return {
        "none": None,
        "skip_connect": "identity",
        "nor_conv_1x1": lambda x: sp.conv(x, 1, c_in=c, c_out=c, name=f"{name}.nor_conv_1x1", op="nor_conv_1x1"),
        "nor_conv_3x3": lambda x: sp.conv(x, 3, pad=1, c_in=c, c_out=c, name=f"{name}.nor_conv_3x3", op="nor_conv_3x3"),
        "avg_pool_3x3": lambda x: sp.pool(x, 3, 1, pad=1, name=f"{name}.avg_pool_3x3", op="avg_pool_3x3"),
    }


# ---------------------------------------------------------------------------
# NAS-Bench-201: all cells at once (numpy)
#
# One "superset" template holds every node any cell can have: per cell, a slot
# node for each of the 6 edges and the 3 sums.  A batch is the template
# repeated B times with, per row, the slot nodes of none/skip edges dropped,
# skip edges rewired to the slot's source, and each slot node's parameters
# looked up from its op.  Everything is a numpy operation over [B, T] arrays.


@dataclass(frozen=True)
class _Nb201Template:
    code: np.ndarray  # uint8 [T]: prototype of each template node (slot nodes: overwritten per row)
    slot_node: np.ndarray  # int64 [S]: template index of each slot node
    slot_edge: np.ndarray  # int64 [S]: which of the 6 cell edges the slot stands for
    slot_lut: np.ndarray  # uint8 [S, 5]: prototype of the slot node for each op (_DROPPED: no node)
    slot_base: np.ndarray  # int64 [S]: 5 * slot, to index slot_lut.ravel()
    e_src: np.ndarray  # int64 [Et]: template edges, sorted by destination
    e_alt: np.ndarray  # int64 [Et]: source when the slot is a skip_connect (edges out of slot nodes)
    e_slot: np.ndarray  # int64 [Et]: the slot an edge depends on (-1: fixed)
    e_into: np.ndarray  # int64: the edges into a slot node (kept when the slot has a node)
    e_out: np.ndarray  # int64: the edges out of a slot node (kept unless none; from the source if skip)
    in_count: np.ndarray  # uint8 [T]: in-degree of each template node
    merge_node: np.ndarray  # int64: the sums of the cells (their inputs are the e_out edges, in order)
    merge_first: np.ndarray  # int64: position in e_out of the first input of each of merge_node
    # per prototype: op, weighted (uint8), c_in, c_out (int64), kernel, stride, pad (int64 = 2 x int32)
    proto: dict[str, np.ndarray]


@lru_cache(maxsize=16)
def _nb201_template(channels: tuple[int, ...], num_classes: int, cells_per_stage: int) -> _Nb201Template:
    protos: dict[tuple[int, ...], int] = {}
    codes: list[int] = []
    edges: list[tuple[int, int, int, int, int]] = []  # (dst, src, alt, slot, role)
    slot_node: list[int] = []
    slot_edge: list[int] = []
    slot_lut: list[list[int]] = []

    def proto(kind: Kind, k: int = 1, s: int = 1, p: int = 0, w: int = 0, ci: int = 0, co: int = 0) -> int:
        return protos.setdefault((int(kind), k, s, p, w, ci, co), len(protos))

    def node(code: int, *inputs: int, alt: Sequence[int] = (), slots: Sequence[int] = (), role: int = 0) -> int:
        """Append a template node; ``slots[n]``/``alt[n]``: the slot and skip source of input n."""
        v = len(codes)
        codes.append(code)
        for n, src in enumerate(inputs):
            edges.append((v, src, alt[n] if alt else src, slots[n] if slots else -1, role))
        return v

    merge = proto(Kind.MERGE)
    x = node(proto(Kind.INPUT))
    x = node(proto(Kind.WINDOW, 3, 1, 1, 1, 3, channels[0]), x)
    c_prev = channels[0]
    for s, c in enumerate(channels):
        if s > 0:
            a = node(proto(Kind.WINDOW, 3, 2, 1, 1, c_prev, c), x)
            a = node(proto(Kind.WINDOW, 3, 1, 1, 1, c, c), a)
            sc = node(proto(Kind.WINDOW, 2, 2, 0, 0), x)
            sc = node(proto(Kind.WINDOW, 1, 1, 0, 1, c_prev, c), sc)
            x = node(merge, a, sc)
        lut = [
            _DROPPED,
            _DROPPED,
            proto(Kind.WINDOW, 1, 1, 0, 1, c, c),
            proto(Kind.WINDOW, 3, 1, 1, 1, c, c),
            proto(Kind.WINDOW, 3, 1, 1),
        ]
        for _ in range(cells_per_stage):
            cell = [x]
            for j in (1, 2, 3):
                into = [e for e, (jj, _i) in enumerate(NB201_EDGES) if jj == j]
                slots = []
                for e in into:
                    slots.append(len(slot_node))
                    slot_node.append(node(lut[CONV3], cell[NB201_EDGES[e][1]], slots=[slots[-1]], role=1))
                    slot_edge.append(e)
                    slot_lut.append(lut)
                alt = [cell[NB201_EDGES[e][1]] for e in into]
                cell.append(node(merge, *[slot_node[sl] for sl in slots], alt=alt, slots=slots, role=2))
            x = cell[3]
        c_prev = c
    x = node(proto(Kind.GLOBAL), x)
    node(proto(Kind.GLOBAL, 1, 1, 0, 1, c_prev, num_classes), x)

    if len(protos) >= _DROPPED:
        raise SpecError(f"too many distinct NAS-Bench-201 layers ({len(protos)}) for uint8 prototype codes")
    edge = np.array(edges, dtype=np.int64).reshape(-1, 5)
    keys = np.array(list(protos), dtype=np.int64)  # rows: kind, k, s, p, w, ci, co (in code order)

    def two_axes(col: int) -> np.ndarray:  # the same int32 on both axes, as one int64 to gather in one go
        return (
            np.ascontiguousarray(np.repeat(keys[:, col : col + 1], 2, axis=1).astype(np.int32)).view(np.int64).ravel()
        )

    return _Nb201Template(
        code=np.array(codes, dtype=np.uint8),
        slot_node=np.array(slot_node, dtype=np.int64),
        slot_edge=np.array(slot_edge, dtype=np.int64),
        slot_lut=np.array(slot_lut, dtype=np.uint8),
        slot_base=5 * np.arange(len(slot_node), dtype=np.int64),
        e_src=edge[:, 1].copy(),
        e_alt=edge[:, 2].copy(),
        e_slot=edge[:, 3].copy(),
        e_into=np.flatnonzero(edge[:, 4] == 1),
        e_out=np.flatnonzero(edge[:, 4] == 2),
        in_count=np.bincount(edge[:, 0], minlength=len(codes)).astype(np.uint8),
        merge_node=np.unique(edge[edge[:, 4] == 2, 0]),
        merge_first=np.flatnonzero(np.diff(edge[edge[:, 4] == 2, 0], prepend=-1)),
        proto={
            "op": keys[:, 0].astype(np.uint8),
            "weighted": keys[:, 4].astype(np.uint8),
            "c_in": keys[:, 5].copy(),
            "c_out": keys[:, 6].copy(),
            "kernel": two_axes(1),
            "stride": two_axes(2),
            "pad": two_axes(3),
        },
    )


def nb201_batch(
    cells: Iterable[Nb201Cell] | np.ndarray,
    *,
    channels: Sequence[int] = (16, 32, 64),
    num_classes: int = 10,
    cells_per_stage: int = 5,
    names: bool = True,
) -> GraphBatch:
    """NAS-Bench-201 cells placed in the benchmark's macro skeleton, packed as one batch.

    Args:
        cells: cell strings (``|nor_conv_3x3~0|+|none~0|skip_connect~1|+|...|``),
            tuples of 6 op indices (order of :data:`NB201_OPS`; edges 1<-0,
            2<-0, 2<-1, 3<-0, 3<-1, 3<-2), or an integer array [B, 6]
            (e.g. :func:`nb201_all`).
        channels: output channels of the three stages.
        num_classes: outputs of the classifier.
        cells_per_stage: 5 in the benchmark.
        names: name each graph by its cell string (else ``graph_<b>``).

    Graph b is exactly :func:`nb201_graph` of cell b (same nodes, same
    order).  A cell whose output is not connected to its input stays in the
    batch; :func:`rfa_fast.screen` reports it with ``connected`` False.

    >>> import rfa_fast
    >>> batch = nb201_batch([(3,) * 6, (0,) * 6, "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|"])
    >>> r = rfa_fast.screen(batch, 32)  # in the last two only the stem is connected, and it reaches no output
    >>> r.connected.tolist(), r.rf_max[:, 0].tolist(), r.n_dead.tolist()
    ([True, False, False], [231.0, nan, nan], [0, 1, 1])
    """
    ops = nb201_ops_array(cells)
    B = len(ops)
    if B == 0:
        raise SpecError("a batch needs at least one cell")
    if len(channels) != 3:
        raise SpecError(f"NAS-Bench-201 has 3 stages: channels needs 3 values, got {tuple(channels)}")
    tpl = _nb201_template(tuple(int(c) for c in channels), int(num_classes), int(cells_per_stage))
    arrays = _pack_nb201(ops, tpl)
    if not names:
        return GraphBatch(arrays)
    if B < 2000:  # cheaper than building the table of all 15,625 strings
        return GraphBatch(arrays, names=[nb201_cell_string(row) for row in ops.tolist()])
    strings = _all_cell_strings()
    label = ops.astype(np.int64) @ (5 ** np.arange(5, -1, -1))
    return GraphBatch(arrays, names=[strings[i] for i in label.tolist()])


def nb201_screen(
    cells: Iterable[Nb201Cell] | np.ndarray,
    resolutions: Any = 32,
    *,
    channels: Sequence[int] = (16, 32, 64),
    num_classes: int = 10,
    cells_per_stage: int = 5,
    ignore_1x1: bool = False,
    threads: int | None = None,
    i_min: bool = True,
    names: bool = False,
) -> ScreenResult:
    """Screen NAS-Bench-201 networks without building them: ``screen(nb201_batch(cells), resolutions)``, fast.

    Every network of the space is the same skeleton around one cell, so the
    core walks the cell's six edges per stage with the skeleton's feature
    maps in closed form (``csrc/rfa/nb201.cpp``) instead of analyzing the
    113 nodes of each packed network: the whole space (15,625 cells) takes
    milliseconds. The results are equal, key by key, to :func:`rfa_fast.screen`
    on :func:`nb201_batch` (``tests/test_nb201_kernel.py`` checks every cell
    of the space). Rectangular resolutions are not in closed form: they go
    through :func:`nb201_batch` and :func:`rfa_fast.screen`.

    Args:
        cells: as for :func:`nb201_batch`.
        resolutions: as for :func:`rfa_fast.screen`.
        channels, num_classes, cells_per_stage: the skeleton, as for :func:`nb201_batch`.
        ignore_1x1, threads, i_min: as for :func:`rfa_fast.screen`.
        names: label the rows with their cell strings (costs a string per cell).

    >>> r = nb201_screen([(3,) * 6, (0,) * 6], [32, 64])
    >>> r.n_unproductive.tolist(), r.i_min.tolist()[0], r.connected.tolist()
    ([[37, 9], [0, 0]], 77.0, [True, False])
    """
    from ..api import resolutions_array, screen  # api imports this module's siblings; keep the import light

    ops = nb201_ops_array(cells)
    if len(ops) == 0:
        raise SpecError("a batch needs at least one cell")
    if len(channels) != 3:
        raise SpecError(f"NAS-Bench-201 has 3 stages: channels needs 3 values, got {tuple(channels)}")
    res = resolutions_array(resolutions, 2)
    if not (res[:, 0] == res[:, 1]).all():
        batch = nb201_batch(
            ops, channels=channels, num_classes=num_classes, cells_per_stage=cells_per_stage, names=names
        )
        return screen(batch, res, ignore_1x1=ignore_1x1, threads=threads, i_min=i_min)
    raw = _core.screen_nb201(
        ops,
        np.ascontiguousarray(res[:, :1]),
        np.array([int(c) for c in channels], dtype=np.int64),
        int(num_classes),
        int(cells_per_stage),
        ignore_1x1,
        threads or 0,
        i_min,
    )
    if raw["macs"].size and int(raw["macs"].max()) == _SATURATED or int(raw["params"].max(initial=0)) == _SATURATED:
        # counts past int64 (the kernel saturates them): exact Python ints from the general engine, cell by cell
        def one_cell(b: int) -> dict[str, np.ndarray]:
            one = nb201_batch(
                ops[b : b + 1], channels=channels, num_classes=num_classes, cells_per_stage=cells_per_stage
            )
            return graph_slice(one.arrays, 0)

        make_screen_exact(raw, res, one_cell, ignore_1x1)
    labels = None
    if names:
        strings = _all_cell_strings()
        labels = [strings[i] for i in (ops.astype(np.int64) @ (5 ** np.arange(5, -1, -1))).tolist()]
    return ScreenResult(raw, res, names=labels)


def _pack_nb201(ops: np.ndarray, tpl: _Nb201Template) -> dict[str, np.ndarray]:
    # Written for memory traffic: 15,625 cells are ~1.8M nodes, so every pass
    # over [B, T] or [N] counts; flat cumulative sums give global indices
    # directly, and 2-axis int32 parameters are gathered as one int64.
    B, T, Et = len(ops), len(tpl.code), len(tpl.e_src)
    slot_ops = ops[:, tpl.slot_edge]  # [B, S] the op of every slot of every row
    code = np.empty((B, T), dtype=np.uint8)
    code[:] = tpl.code
    code[:, tpl.slot_node] = tpl.slot_lut.ravel()[slot_ops + tpl.slot_base]  # DROPPED for none and skip_connect
    keep = code != _DROPPED
    node_index = np.cumsum(keep.ravel(), dtype=np.int64)  # global index + 1 of every kept template node
    graph_ptr = np.zeros(B + 1, dtype=np.int64)
    graph_ptr[1:] = node_index[T - 1 :: T]
    node_index -= 1

    # edges: the template's, filtered and rewired per row (they stay sorted by destination)
    keep_e = np.empty((B, Et), dtype=bool)
    keep_e[:] = True
    keep_e[:, tpl.e_into] = slot_ops[:, tpl.e_slot[tpl.e_into]] >= CONV1
    out_ops = slot_ops[:, tpl.e_slot[tpl.e_out]]
    keep_e[:, tpl.e_out] = out_ops != NONE
    src = np.empty((B, Et), dtype=np.int64)
    src[:] = tpl.e_src
    src[:, tpl.e_out] = np.where(out_ops >= CONV1, tpl.e_src[tpl.e_out], tpl.e_alt[tpl.e_out])
    src += np.arange(0, B * T, T, dtype=np.int64)[:, None]
    pred = node_index[src[keep_e]].astype(np.int32)
    # in-degrees: the template's, except the sums of a cell, which lose their none edges
    degree = np.empty((B, T), dtype=np.uint8)
    degree[:] = tpl.in_count
    degree[:, tpl.merge_node] = np.add.reduceat(
        (out_ops != NONE).view(np.uint8), tpl.merge_first, axis=1, dtype=np.uint8
    )
    kept_degree = degree[keep]
    N = len(kept_degree)
    pred_ptr = np.zeros(N + 1, dtype=np.int64)
    np.cumsum(kept_degree, out=pred_ptr[1:])

    kept = code[keep].astype(np.intp)
    p = tpl.proto
    pad = p["pad"][kept].view(np.int32).reshape(N, 2)
    return dict(
        graph_ptr=graph_ptr,
        op=p["op"][kept],
        kernel=p["kernel"][kept].view(np.int32).reshape(N, 2),
        stride=p["stride"][kept].view(np.int32).reshape(N, 2),
        dilation=np.ones((N, 2), dtype=np.int32),
        pad_begin=pad,
        pad_end=pad.copy(),
        pad_mode=np.zeros(N, dtype=np.uint8),
        ceil_mode=np.zeros(N, dtype=np.uint8),
        scale=np.ones((N, 2), dtype=np.float64),
        mode=np.zeros(N, dtype=np.uint8),
        weighted=p["weighted"][kept],
        c_in=p["c_in"][kept],
        c_out=p["c_out"][kept],
        groups=np.ones(N, dtype=np.int64),
        pred_ptr=pred_ptr,
        pred=pred,
    )
