"""All 15,625 NAS-Bench-201 cells, screened at 32 px (CIFAR) in one call.

Each cell is placed in the benchmark's macro skeleton (stem, 3 stages of 5
cells, residual reduction blocks, global pooling, classifier) by
:func:`rfa_fast.nas.nb201_batch`, which packs every network with numpy at
once; :func:`rfa_fast.screen` then analyzes all of them in one call of the
core. :func:`rfa_fast.nas.nb201_screen` gets the same answers without
building the networks (closed form per cell), about 30 times faster.  The output is how many layers of each network are unproductive at
32 px (their input already sees more than the image), and how many cells
cannot reach their output at all (every path has a ``none`` edge).

Run (from the repository root):

    PYTHONPATH=. python examples/nas_bench_201.py
"""

from __future__ import annotations

import time

import numpy as np

import rfa_fast
from rfa_fast.nas import nb201_all, nb201_batch, nb201_cell_string, nb201_screen

BUCKETS = [(0, 0), (1, 9), (10, 19), (20, 29), (30, 39), (40, 49), (50, 10**9)]


def main() -> None:
    cells = nb201_all()
    t0 = time.perf_counter()
    batch = nb201_batch(cells)
    t1 = time.perf_counter()
    r = rfa_fast.screen(batch, 32)
    t2 = time.perf_counter()
    print(f"NAS-Bench-201: {len(batch)} cells, {batch.n_nodes} nodes in all")
    print(f"packed in {(t1 - t0) * 1e3:.0f} ms; screened at 32 px (with I_min) in {(t2 - t1) * 1e3:.0f} ms")
    t3 = time.perf_counter()
    fast = nb201_screen(cells, 32)  # the same answers without building the networks
    t4 = time.perf_counter()
    assert (fast.n_unproductive == r.n_unproductive).all() and np.array_equal(fast.i_min, r.i_min, equal_nan=True)
    print(f"nas.nb201_screen, closed form per cell: the same answers in {(t4 - t3) * 1e3:.0f} ms")

    ok = r.connected
    print(f"connected: {int(ok.sum())} (disconnected: {int((~ok).sum())}, output not reachable from the input)")
    print("unproductive layers at 32 px, connected cells:")
    n = r.n_unproductive[ok, 0]
    width = 40
    for lo, hi in BUCKETS:
        count = int(((n >= lo) & (n <= hi)).sum())
        label = f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi < 10**9 else f"{lo}+")
        print(f"  {label:>6}: {count:6d} {'#' * round(width * count / len(n))}")
    print(f"  mean {n.mean():.1f}, max {n.max()}")
    print("I_min, the smallest input with no unproductive layer, connected cells:")
    i_min = r.i_min[ok]
    for lo, hi in ((1, 32), (33, 64), (65, 128), (129, 256)):
        print(f"  {lo:3d}-{hi:3d} px: {int(((i_min >= lo) & (i_min <= hi)).sum()):6d}")

    worst = int(np.nanargmax(np.where(ok, r.n_unproductive[:, 0], -1)))
    print(
        f"most unproductive at 32 px: {nb201_cell_string(cells[worst])} with {r.n_unproductive[worst, 0]} "
        f"(I_min {r.i_min[worst]:.0f} px, rf_max {r.rf_max[worst, 0]:.0f} px)"
    )


if __name__ == "__main__":
    main()
