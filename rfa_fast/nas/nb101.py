"""NAS-Bench-101 (Ying et al., ICML 2019): a cell is a 7x7 upper-triangular
adjacency matrix and an op list; :func:`nb101_spec` writes the network as a
JSON-able spec (:meth:`~rfa_fast.graph.Graph.from_spec`), :func:`nb101_batch`
packs many.

>>> import rfa_fast
>>> m = [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
>>> rfa_fast.screen(nb101_batch([(m, ["input", "conv3x3-bn-relu", "output"])]), 32).rf_max[0].tolist()
[48.0, 48.0]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import partial
from typing import Any

import numpy as np

from ..batch import GraphBatch
from ..errors import SpecError
from ..graph import Graph
from ..space import Choice, Computed, Space
from ..space.values import Value

NB101_OPS = ("input", "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3", "output")
"""The op names of a NAS-Bench-101 cell."""


def _nb101_check(matrix: Any, ops: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    m = np.asarray(matrix)
    if m.ndim != 2 or m.shape[0] != m.shape[1] or not 2 <= m.shape[0] <= 7:
        raise SpecError(f"a NAS-Bench-101 matrix is square with 2..7 vertices, got shape {m.shape}")
    if m.dtype.kind not in "biu" or not np.isin(m, (0, 1)).all():
        raise SpecError("a NAS-Bench-101 matrix holds 0/1 values")
    m = m.astype(bool)
    if np.tril(m).any():
        raise SpecError("a NAS-Bench-101 matrix is upper triangular (edges go from a lower to a higher vertex)")
    ops = list(ops)
    n = m.shape[0]
    if len(ops) != n:
        raise SpecError(f"{n} vertices but {len(ops)} ops")
    if ops[0] != "input" or ops[-1] != "output":
        raise SpecError(f"ops must start with 'input' and end with 'output', got {ops}")
    for op in ops[1:-1]:
        if op not in NB101_OPS[1:4]:
            raise SpecError(f"unknown NAS-Bench-101 op {op!r} (one of {', '.join(NB101_OPS[1:4])})")
    return m, ops


def _nb101_prune(m: np.ndarray, ops: list[str]) -> tuple[np.ndarray, list[str], list[int]]:
    """Drop interior vertices not on an input->output path, as NAS-Bench-101's ``ModelSpec`` does.

    The benchmark's networks never contain such vertices; keeping them would
    rate layers that do not exist. Also returns the kept vertices' indices in
    the given matrix (node names use them, so they match the user's matrix).
    """
    n = len(ops)
    fwd = {0}
    for v in range(1, n):
        if any(m[u, v] for u in fwd):
            fwd.add(v)
    bwd = {n - 1}
    for v in range(n - 2, -1, -1):
        if any(m[v, w] for w in bwd):
            bwd.add(v)
    keep = [v for v in range(n) if v in (0, n - 1) or (v in fwd and v in bwd)]
    return m[np.ix_(keep, keep)], [ops[v] for v in keep], keep


def _nb101_vertex_channels(c_in: int, c_out: int, m: np.ndarray) -> list[int]:
    """``compute_vertex_channels`` of the NAS-Bench-101 code: how the output's channels split over the cell."""
    n = m.shape[0]
    ch = [0] * n
    ch[0], ch[n - 1] = c_in, c_out
    if n == 2:
        return ch
    in_degree = m[1:].sum(axis=0)
    fan_in = int(in_degree[n - 1])
    if fan_in == 0:  # the output reads only the projected input (or nothing)
        return ch
    interior, correction = divmod(c_out, fan_in)
    for v in range(1, n - 1):
        if m[v, n - 1]:
            ch[v] = interior + (1 if correction > 0 else 0)
            correction -= 1 if correction > 0 else 0
    for v in range(n - 3, 0, -1):
        if not m[v, n - 1]:
            for dst in range(v + 1, n - 1):
                if m[v, dst]:
                    ch[v] = max(ch[v], ch[dst])
    return ch


def _nb101_cell_layers(
    m: np.ndarray, ops: list[str], label: list[int], x: int, first: int, c_in: int, c_out: int, prefix: str
) -> list[dict[str, Any]]:
    """Spec layers of one cell reading layer ``x``; the first new layer gets index ``first``.

    ``m`` and ``ops`` are pruned; ``label[t]`` is vertex t's index before pruning (for names).
    """
    ch = _nb101_vertex_channels(c_in, c_out, m)
    layers: list[dict[str, Any]] = []
    n = len(ops)

    def add(layer: dict[str, Any]) -> int:
        layers.append(layer)
        return first + len(layers) - 1

    def projection(v: int, c: int) -> int:
        return add(
            {"op": "conv", "name": f"{prefix}.proj{label[v]}", "inputs": [x], "kernel": 1, "c_in": c_in, "c_out": c}
        )

    value = {0: x}
    for t in range(1, n - 1):
        summands = [value[s] for s in range(1, t) if m[s, t]]
        if m[0, t]:
            summands.append(projection(t, ch[t]))
        v_in = (
            summands[0]
            if len(summands) == 1
            else add({"op": "add", "name": f"{prefix}.v{label[t]}.sum", "inputs": summands})
        )
        name = f"{prefix}.v{label[t]}.{ops[t]}"
        if ops[t] == "maxpool3x3":
            value[t] = add({"op": "maxpool", "name": name, "inputs": [v_in], "kernel": 3, "stride": 1, "pad": 1})
        else:
            k = 3 if ops[t] == "conv3x3-bn-relu" else 1
            value[t] = add(
                {
                    "op": "conv",
                    "name": name,
                    "inputs": [v_in],
                    "kernel": k,
                    "pad": k // 2,
                    "c_in": ch[t],
                    "c_out": ch[t],
                }
            )
    concat = [value[t] for t in range(1, n - 1) if m[t, n - 1]]
    out = (
        concat[0]
        if len(concat) == 1
        else (add({"op": "concat", "name": f"{prefix}.concat", "inputs": concat}) if concat else None)
    )
    if m[0, n - 1]:
        proj = projection(n - 1, c_out)
        out = proj if out is None else add({"op": "add", "name": f"{prefix}.output", "inputs": [out, proj]})
    if out is None:  # the output is not connected to the input: a zero-input sum
        add({"op": "add", "name": f"{prefix}.output", "inputs": []})
    return layers


def nb101_spec(
    matrix: Any,
    ops: Sequence[str],
    *,
    stem_channels: int = 128,
    num_stacks: int = 3,
    cells_per_stack: int = 3,
    num_classes: int = 10,
    name: str = "nb101",
) -> dict[str, Any]:
    """A NAS-Bench-101 network as a JSON-able spec (see :meth:`Graph.from_spec`).

    The skeleton of the benchmark: a 3x3 conv stem (``stem_channels``);
    ``num_stacks`` stacks of ``cells_per_stack`` cells, a 2x2/2 max pool
    (SAME padding) before every stack but the first, doubling the channels;
    global average pooling; a dense classifier.  In a cell, vertex ``t`` sums
    its inputs (a MERGE), the input vertex entering through a 1x1 projection;
    the output concatenates its interior inputs (a MERGE) and adds the
    projected input (another MERGE).  Interior vertices on no input->output
    path are dropped, as the benchmark's ``ModelSpec`` does; a cell whose
    output is not reachable is kept and comes out disconnected. Node names
    number the vertices as the given matrix does, before pruning
    (``stack0.cell0.v1.conv3x3-bn-relu``, ``stack0.cell0.proj1``).

    >>> spec = nb101_spec([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "conv3x3-bn-relu", "output"])
    >>> [layer["op"] for layer in spec["layers"][:6]]
    ['input', 'conv', 'conv', 'conv', 'conv', 'add']
    """
    m, o, label = _nb101_prune(*_nb101_check(matrix, ops))
    layers: list[dict[str, Any]] = [
        {"op": "input", "name": "input"},
        {"op": "conv", "name": "stem", "kernel": 3, "pad": 1, "c_in": 3, "c_out": stem_channels},
    ]
    c = stem_channels
    for s in range(num_stacks):
        if s > 0:
            layers.append({"op": "maxpool", "name": f"downsample{s}", "kernel": 2, "stride": 2, "pad": "same"})
            c_out = 2 * c
        else:
            c_out = c
        for k in range(cells_per_stack):
            layers += _nb101_cell_layers(m, o, label, len(layers) - 1, len(layers), c, c_out, f"stack{s}.cell{k}")
            c = c_out
    layers.append({"op": "global_pool", "name": "global_pool"})
    layers.append({"op": "dense", "name": "classifier", "c_in": c, "c_out": num_classes})
    return {"name": name, "dims": 2, "layers": layers}


def nb101_graph(matrix: Any, ops: Sequence[str], **kwargs: Any) -> Graph:
    """A NAS-Bench-101 network as a :class:`Graph` (keywords as in :func:`nb101_spec`).

    >>> import rfa_fast
    >>> g = nb101_graph([[0, 1, 1], [0, 0, 1], [0, 0, 0]], ["input", "maxpool3x3", "output"])
    >>> rfa_fast.analyze(g, 32).summary["rf_max"]
    [48.0, 48.0]
    """
    return Graph.from_spec(nb101_spec(matrix, ops, **kwargs))


def nb101_batch(cells: Iterable[tuple[Any, Sequence[str]]], **kwargs: Any) -> GraphBatch:
    """NAS-Bench-101 cells, each ``(matrix, ops)``, packed as one batch (keywords as in :func:`nb101_spec`).

    >>> import rfa_fast
    >>> m = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]
    >>> r = rfa_fast.screen(nb101_batch([(m, ["input", "conv3x3-bn-relu", "output"])] * 2), 32)
    >>> r.connected.tolist()
    [True, True]
    """
    specs = []
    for b, (matrix, ops) in enumerate(cells):
        try:
            specs.append(nb101_spec(matrix, ops, name=f"nb101_{b}", **kwargs))
        except SpecError as e:
            raise SpecError(f"cell {b}: {e}", candidate=b) from None
    return GraphBatch.from_specs(specs)


# ---------------------------------------------------------------------------
# NAS-Bench-101 as a search space: 21 edge bits and 5 interior ops per row

NB101_EDGES = tuple((i, j) for i in range(7) for j in range(i + 1, 7))
"""The 21 edges of a 7-vertex cell as (from, to) pairs: the first 21 columns of a row, row-major upper triangle."""

NB101_INTERIOR_OPS = NB101_OPS[1:4]
"""The options of the 5 op columns (``op1`` .. ``op5``), in index order."""

NB101_MAX_EDGES = 9
"""The benchmark's limit on the edges of a (pruned) cell (``max_edges`` of its config)."""

_IU = np.triu_indices(7, 1)  # the same order as NB101_EDGES


def nb101_encode(matrix: Any, ops: Sequence[str]) -> np.ndarray:
    """The row of :func:`nb101_space` for one cell ``(matrix, ops)``: uint8 [26].

    Columns 0..20 are the matrix's upper triangle, row-major
    (:data:`NB101_EDGES`: ``0->1, 0->2, ..., 0->6, 1->2, ..., 5->6``), each 0
    or 1; columns 21..25 are the ops of vertices 1..5 as indices into
    :data:`NB101_INTERIOR_OPS`. A cell of fewer than 7 vertices (as the
    benchmark's dataset stores pruned cells) keeps its vertices and its
    output becomes vertex 6; the vertices in between are isolated
    ``conv3x3-bn-relu`` ones, which pruning removes, so the network is the same.

    >>> m = [[0, 1, 0], [0, 0, 1], [0, 0, 0]]  # input -> maxpool -> output
    >>> row = nb101_encode(m, ["input", "maxpool3x3", "output"])
    >>> [NB101_EDGES[i] for i in range(21) if row[i]], row[21:].tolist()
    ([(0, 1), (1, 6)], [2, 0, 0, 0, 0])
    >>> matrix, ops = nb101_decode(row)
    >>> ops
    ['input', 'maxpool3x3', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'conv3x3-bn-relu', 'output']
    """
    m, o = _nb101_check(matrix, ops)
    n = len(o)
    place = list(range(n - 1)) + [6]  # vertex v of the cell is vertex place[v] of the row
    full = np.zeros((7, 7), dtype=bool)
    full[np.ix_(place, place)] = m
    interior = [NB101_INTERIOR_OPS[0]] * 7
    for v in range(1, n - 1):
        interior[v] = o[v]
    row = np.empty(26, dtype=np.uint8)
    row[:21] = full[_IU]
    row[21:] = [NB101_INTERIOR_OPS.index(interior[t]) for t in range(1, 6)]
    return row


def nb101_decode(row: Sequence[int] | np.ndarray) -> tuple[np.ndarray, list[str]]:
    """The cell ``(matrix int [7, 7], ops)`` of a row of :func:`nb101_space` (unpruned, as encoded).

    >>> matrix, ops = nb101_decode([1] + [0] * 19 + [1] + [0, 1, 2, 0, 0])
    >>> matrix.tolist()[0], matrix.tolist()[5]
    ([0, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1])
    >>> ops[1:6]
    ['conv3x3-bn-relu', 'conv1x1-bn-relu', 'maxpool3x3', 'conv3x3-bn-relu', 'conv3x3-bn-relu']
    """
    r = _nb101_rows(row)
    if r.shape[0] != 1:
        raise SpecError(f"nb101_decode takes one row of 26 choice indices, got shape {np.shape(row)}")
    m = np.zeros((7, 7), dtype=np.int64)
    m[_IU] = r[0, :21]
    return m, ["input"] + [NB101_INTERIOR_OPS[int(i)] for i in r[0, 21:]] + ["output"]


def _nb101_rows(rows: Any) -> np.ndarray:
    """Rows as int64 [B, 26], checked (edges 0/1, ops 0..2)."""
    r = np.asarray(rows)
    if r.ndim == 1:
        r = r[None, :]
    if r.ndim != 2 or r.shape[1] != 26 or (r.size and r.dtype.kind not in "iu"):
        raise SpecError(f"NAS-Bench-101 rows are integer [B, 26] (21 edges, 5 ops), got {r.dtype} {r.shape}")
    r = r.astype(np.int64, copy=False)
    if r.size and (r[:, :21].min() < 0 or r[:, :21].max() > 1 or r[:, 21:].min() < 0 or r[:, 21:].max() > 2):
        bad = int(np.argmax(((r[:, :21] < 0) | (r[:, :21] > 1)).any(1) | ((r[:, 21:] < 0) | (r[:, 21:] > 2)).any(1)))
        raise SpecError(f"NAS-Bench-101 row {bad}: edges are 0/1 and ops 0..2, got {r[bad].tolist()}", candidate=bad)
    return r


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


class _Cells:
    """The pruning of many rows at once, as ``ModelSpec._prune`` does one cell.

    Vectorized over rows with a bit mask per vertex (uint8 [B]): the computed
    columns of :func:`nb101_space` run it for every screen, so it is cheap.
    """

    def __init__(self, rows: np.ndarray) -> None:
        e = rows[:, :21].astype(np.uint8)
        col = {edge: e[:, i] for i, edge in enumerate(NB101_EDGES)}
        self.edge = col
        zero = np.zeros(len(rows), dtype=np.uint8)
        self.pred = [sum((col[u, v] << np.uint8(u) for u in range(v)), zero) for v in range(7)]
        self.succ = [sum((col[u, v] << np.uint8(v) for v in range(u + 1, 7)), zero) for u in range(7)]
        fwd = zero + 1
        for v in range(1, 7):
            fwd |= ((self.pred[v] & fwd) != 0).astype(np.uint8) << np.uint8(v)
        bwd = zero + (1 << 6)
        for v in range(5, -1, -1):
            bwd |= ((self.succ[v] & bwd) != 0).astype(np.uint8) << np.uint8(v)
        # a vertex stays when it is on an input->output path; a disconnected cell keeps none
        self.keep = fwd & bwd
        self.connected = (fwd >> 6) != 0

    def kept(self, v: int) -> np.ndarray:
        """bool [B]: vertex v stays after pruning."""
        return ((self.keep >> np.uint8(v)) & 1) != 0

    def edges(self) -> np.ndarray:
        """int64 [B]: the edges of the pruned cell."""
        n = np.zeros(len(self.keep), dtype=np.int64)
        for u in range(6):
            n += np.where(self.kept(u), _POPCOUNT[self.succ[u] & self.keep], 0)
        return n

    def channels(self, c_out: int, first: int = 1) -> dict[int, np.ndarray]:
        """int64 [B] per vertex ``first..5``: ``compute_vertex_channels`` of the pruned cell (0 where pruned)."""
        out_mask = self.keep & self.pred[6] & np.uint8(0b0111110)  # kept interior vertices the output concatenates
        fan_in = _POPCOUNT[out_mask].astype(np.int64)
        interior, correction = np.divmod(c_out, np.maximum(fan_in, 1))
        ch: dict[int, np.ndarray] = {}
        for v in range(5, first - 1, -1):
            into_out = ((out_mask >> np.uint8(v)) & 1) != 0
            before = _POPCOUNT[out_mask & np.uint8((1 << v) - 1)]
            c = np.where(into_out, interior + (before < correction), 0)
            # a kept vertex not into the output: the most channels of the kept vertices it feeds
            rest = self.kept(v) & ~into_out
            feeds = self.succ[v] & self.keep
            for w in range(v + 1, 6):
                c = np.where(rest & (((feeds >> np.uint8(w)) & 1) != 0), np.maximum(c, ch[w]), c)
            ch[v] = c
        return ch


def nb101_valid(rows: Any) -> np.ndarray:
    """bool [B]: the rows the benchmark accepts (``NASBench.is_valid`` of their ``ModelSpec``).

    The rules of the benchmark's ``_check_spec``, after its pruning: the
    output is reachable from the input, and the pruned cell has at most
    :data:`NB101_MAX_EDGES` (9) edges (at most 7 vertices, ``input`` first,
    ``output`` last and interior ops among the three hold for every row).
    :func:`nb101_space` screens every row, valid or not (a disconnected one
    comes out ``connected`` False); filter with this to search the benchmark.

    >>> rows = np.zeros((3, 26), dtype=np.uint8)
    >>> rows[1, 5] = 1  # 0 -> 6: the input projected to the output
    >>> rows[2, :] = 1  # every edge: 21 of them
    >>> nb101_valid(rows).tolist()
    [False, True, False]
    """
    r = _nb101_rows(rows)
    cells = _Cells(r)
    return cells.connected & (cells.edges() <= NB101_MAX_EDGES)


def nb101_space(
    *, stem_channels: int = 128, num_stacks: int = 3, cells_per_stack: int = 3, num_classes: int = 10
) -> Space:
    """NAS-Bench-101 as a :class:`~rfa_fast.Space`: a row is a 7-vertex cell, the benchmark's encoding.

    Columns (26): ``edge0->1``, ``edge0->2``, ..., ``edge5->6`` (the upper
    triangle of the adjacency matrix, row-major, :data:`NB101_EDGES`; options
    0, 1), then ``op1`` .. ``op5`` (the interior vertices' ops, options
    :data:`NB101_INTERIOR_OPS`). Every cell of the network is the same cell.
    :func:`nb101_encode` / :func:`nb101_decode` convert between a row and
    ``(matrix, ops)``; :func:`nb101_valid` flags the rows the benchmark accepts.

    The network is :func:`nb101_graph`'s, node for node and with the same
    names, for every row: vertices on no input->output path are pruned as the
    benchmark's ``ModelSpec`` does (per-candidate computed columns say which
    vertices stay and how many channels each has), and a cell whose output is
    not reachable is kept, disconnected (``connected`` False).

    >>> import rfa_fast
    >>> space = nb101_space()
    >>> space.size, len(space.choices)
    (509607936, 26)
    >>> m = [[0, 1, 1], [0, 0, 1], [0, 0, 0]]
    >>> row = nb101_encode(m, ["input", "conv3x3-bn-relu", "output"])
    >>> space.screen(row, 32).rf_max[0].tolist()
    [48.0, 48.0]
    >>> rows = space.sample(1000, seed=0)
    >>> r = space.screen(rows, 32)
    >>> bool((r.connected[nb101_valid(rows)]).all())
    True
    """
    for what, v in (("stem_channels", stem_channels), ("num_stacks", num_stacks), ("cells_per_stack", cells_per_stack)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise SpecError(f"{what} must be an int >= 1, got {v!r}")
    sp = Space("nb101")
    edge = {(i, j): sp.choice(f"edge{i}->{j}", [0, 1]) for i, j in NB101_EDGES}
    op = {t: sp.choice(f"op{t}", NB101_INTERIOR_OPS) for t in range(1, 6)}
    widths = tuple(stem_channels << s for s in range(num_stacks))
    # which vertices stay and their channels, from the whole matrix: one vectorized call per screen
    names = [f"keep{t}" for t in range(1, 6)] + ["disconnected"]
    names += [f"channels{t}@{c}" for c in widths for t in range(1, 6)]
    cols = sp.computed_columns(names, partial(_nb101_columns, widths=widths))
    keep = dict(zip(range(1, 6), cols[:5]))
    disconnected = cols[5]
    channels = {c: dict(zip(range(1, 6), cols[6 + 5 * s : 11 + 5 * s])) for s, c in enumerate(widths)}
    nothing = sp.add(collapse=True, name="nothing")  # absent in every candidate: what a pruned vertex is
    x = sp.input("input")
    x = sp.conv(x, 3, pad=1, c_in=3, c_out=stem_channels, name="stem")
    c = stem_channels
    for s, c_out in enumerate(widths):
        if s > 0:
            x = sp.pool(x, 2, 2, pad="same", name=f"downsample{s}", op="maxpool")
        for k in range(cells_per_stack):
            cell = _Nb101Cell(sp, edge, op, keep, channels[c_out], nothing, c, c_out, f"stack{s}.cell{k}")
            x = cell.build(x, disconnected)
            c = c_out
    x = sp.global_pool(x, name="global_pool")
    sp.dense(x, c, num_classes, name="classifier")
    return sp.build()


def _nb101_columns(rows: np.ndarray, widths: tuple[int, ...]) -> np.ndarray:
    """The computed columns of :func:`nb101_space`: keep1..5, disconnected, channels1..5 per stack width."""
    cells = _Cells(rows)
    out = np.empty((len(rows), 6 + 5 * len(widths)), dtype=np.int64)
    for t in range(1, 6):
        out[:, t - 1] = cells.kept(t)
    out[:, 5] = ~cells.connected
    for s, c in enumerate(widths):
        ch = cells.channels(c)
        for t in range(1, 6):
            out[:, 6 + 5 * s + t - 1] = ch[t]
    return out


class _Nb101Cell:
    """Declares one cell of :func:`nb101_space` in the order :func:`nb101_spec` writes its layers."""

    def __init__(
        self,
        sp: Space,
        edge: dict[tuple[int, int], Choice],
        op: dict[int, Choice],
        keep: dict[int, Computed],
        channels: dict[int, Computed],
        nothing: int,
        c_in: int,
        c_out: int,
        prefix: str,
    ) -> None:
        self.sp, self.edge, self.op, self.keep, self.ch = sp, edge, op, keep, channels
        self.nothing, self.c_in, self.c_out, self.prefix = nothing, c_in, c_out, prefix

    def projection(self, x: int, t: int, c: Value) -> int:
        """The 1x1 projection of the cell input into vertex t, where edge 0->t is on."""
        sp, name = self.sp, f"{self.prefix}.proj{t}"
        return sp.choose(self.edge[0, t], x, {0: None, 1: lambda x: sp.conv(x, 1, c_in=self.c_in, c_out=c, name=name)})

    def build(self, x: int, disconnected: Computed) -> int:
        sp, p = self.sp, self.prefix
        value = {0: x}
        for t in range(1, 6):

            def vertex(_: int, t: int = t) -> int:
                proj = self.projection(x, t, self.ch[t])
                summands = [sp.edge(self.edge[s, t], value[s], name=f"{p}.edge{s}->{t}") for s in range(1, t)]
                v_in = sp.add(*summands, proj, collapse=True, name=f"{p}.v{t}.sum")
                c = self.ch[t]
                return sp.choose(
                    self.op[t],
                    v_in,
                    {
                        "conv3x3-bn-relu": lambda y: sp.conv(
                            y, 3, pad=1, c_in=c, c_out=c, name=f"{p}.v{t}.{NB101_OPS[1]}"
                        ),
                        "conv1x1-bn-relu": lambda y: sp.conv(y, 1, c_in=c, c_out=c, name=f"{p}.v{t}.{NB101_OPS[2]}"),
                        "maxpool3x3": lambda y: sp.pool(y, 3, 1, pad=1, name=f"{p}.v{t}.{NB101_OPS[3]}", op="maxpool"),
                    },
                    name=f"{p}.v{t}",
                )

            # a pruned vertex is absent: its edges drop out of the sums and the concatenation
            value[t] = sp.when(self.keep[t], self.nothing, vertex, name=f"{p}.v{t}.kept")
        cat = sp.concat(*(sp.edge(self.edge[t, 6], value[t]) for t in range(1, 6)), collapse=True, name=f"{p}.concat")
        out = sp.add(cat, self.projection(x, 6, self.c_out), collapse=True, name=f"{p}.output")
        # an unreachable output is a sum of nothing (a constant), as nb101_spec writes it
        return sp.when(disconnected, out, lambda _: sp.add(name=f"{p}.output"), name=f"{p}.disconnected")
