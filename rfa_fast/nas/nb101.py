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
from typing import Any

import numpy as np

from ..batch import GraphBatch
from ..errors import SpecError
from ..graph import Graph

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
        return add({"op": "conv", "name": f"{prefix}.proj{label[v]}", "inputs": [x], "kernel": 1, "c_in": c_in, "c_out": c})

    value = {0: x}
    for t in range(1, n - 1):
        summands = [value[s] for s in range(1, t) if m[s, t]]
        if m[0, t]:
            summands.append(projection(t, ch[t]))
        v_in = (
            summands[0] if len(summands) == 1 else add({"op": "add", "name": f"{prefix}.v{label[t]}.sum", "inputs": summands})
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
