"""numpy baselines for the search spaces, vectorized over candidates (bench/test_bench_space.py).

The receptive fields of a space's candidates written directly in numpy, one
array operation per layer over all candidates: the fastest honest program a
user would write for *these* spaces without rfa_fast. They compute the
largest receptive field (``rf_max``, ``i_max``) and whether the output is
connected; the benchmarks compare those keys with the space engine's, which
computes every key of a screen (statuses, I_min, MACs) besides.
"""

from __future__ import annotations

import numpy as np

from rfa_fast.nas.ofa import ofa_widths  # noqa: F401  (the same network the space describes)

# NAS-Bench-201: edge ops none, skip, conv 1x1, conv 3x3, pool 3x3; edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2
_GROW = np.array([0, 0, 0, 2, 2], dtype=np.int64)  # k' - 1 of each op (skip: 0, absent: masked)
_EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))


def nb201_rf_numpy(ops: np.ndarray, cells_per_stage: int = 5) -> dict[str, np.ndarray]:
    """rf_max, i_max and connected of NAS-Bench-201 networks, ops [B, 6], vectorized over cells (dead nodes left out).

    The skeleton of ``nas.nb201_graph``: stem 3x3; per stage cells_per_stage
    cells (node j = sum of its edges, each an op on node i); between stages
    conv 3x3/2 -> conv 3x3 beside pool 2x2/2 -> conv 1x1, added.
    """
    B = len(ops)
    present = ops != 0  # [B, 6]
    grow = _GROW[ops]  # [B, 6]
    windowed = ops >= 2
    J = 1
    # per node of the current cell: (connected, largest field); the input is connected, field 1
    conn = np.ones(B, dtype=bool)
    hi = np.full(B, 3, dtype=np.int64)  # after the stem
    best = hi.copy()  # the largest field of any windowed node (i_max)
    for s in range(3):
        if s > 0:  # the reduction block: conv 3x3/2 then conv 3x3 (the pool branch is smaller)
            hi = hi + 2 * J
            J *= 2
            hi = hi + 2 * J
            best = np.where(conn, np.maximum(best, hi), best)
        # a node is live when it reaches the cell's output (node 3): dead ones take no part in rf_max
        live = {3: np.ones(B, dtype=bool), 2: present[:, 5]}
        live[1] = present[:, 4] | (present[:, 2] & live[2])
        for _ in range(cells_per_stage):
            nodes_conn = [conn]
            nodes_hi = [hi]
            for j in (1, 2, 3):
                c = np.zeros(B, dtype=bool)
                h = np.zeros(B, dtype=np.int64)
                for e, (jj, i) in enumerate(_EDGES):
                    if jj != j:
                        continue
                    on = present[:, e] & nodes_conn[i]
                    field = nodes_hi[i] + grow[:, e] * J
                    best = np.where(on & windowed[:, e] & live[j], np.maximum(best, field), best)
                    h = np.where(on, np.maximum(h, field), h)
                    c |= on
                nodes_conn.append(c)
                nodes_hi.append(h)
            conn, hi = nodes_conn[3], nodes_hi[3]
    # a disconnected network has no live node at all (none reaches the output): no rf_max, no i_max
    rf = np.where(conn, best.astype(np.float64), np.nan)
    return {"rf_max": np.stack([rf, rf], axis=1), "i_max": rf, "connected": conn}


def ofa_rf_numpy(rows: np.ndarray, width_mult: float = 1.0) -> dict[str, np.ndarray]:
    """rf_max and i_max of Once-for-All MobileNetV3 subnets, rows [B, 45] (ks0..19, e0..19, d0..4 indices).

    The spatial chain of OFAMobileNetV3: first conv 3x3/2, the first block's
    depthwise 3x3, then per stage the active blocks' depthwise k x k (the
    first of a stage strided: 2, 2, 2, 1, 2), the final 1x1 convs.
    """
    ks = np.array([3, 5, 7], dtype=np.int64)[rows[:, :20]]  # [B, 20]
    depth = np.array([2, 3, 4], dtype=np.int64)[rows[:, 40:45]]  # [B, 5]
    B = len(rows)
    J = np.full(B, 2, dtype=np.int64)
    rf = np.full(B, 3, dtype=np.int64)  # first conv 3x3/2
    rf = rf + 2 * J  # the first block's depthwise 3x3, stride 1
    strides = (2, 2, 2, 1, 2)
    for s in range(5):
        for b in range(4):
            active = depth[:, s] > b
            k = ks[:, 4 * s + b]
            rf = np.where(active, rf + (k - 1) * J, rf)
            if b == 0 and strides[s] == 2:
                J = J * 2
    r = rf.astype(np.float64)
    return {"rf_max": np.stack([r, r], axis=1), "i_max": r, "connected": np.ones(B, dtype=bool)}
