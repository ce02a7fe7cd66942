"""Threads: threads=1 equals threads=N, and concurrent calls from Python threads
on shared batches equal serial calls (the GIL is released, nothing is shared)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np

import rfa_fast
from rfa_fast import GraphBatch, zoo

KEYS = (
    "n_unproductive",
    "n_border",
    "n_critical",
    "macs",
    "macs_unproductive",
    "i_min",
    "i_min_axes",
    "i_max",
    "rf_max",
)


def variants(n: int) -> list[rfa_fast.Graph]:
    rng = np.random.default_rng(5)
    base = zoo.resnet18()
    convs = [i for i, node in enumerate(base.nodes) if node.kind == rfa_fast.Kind.WINDOW]
    out = []
    for _ in range(n):
        g = base
        for i in rng.choice(convs, size=4, replace=False):
            g = g.replace_node(int(i), stride=(int(rng.integers(1, 3)), int(rng.integers(1, 3))))
        out.append(g)
    return out


def same(a: rfa_fast.ScreenResult, b: rfa_fast.ScreenResult) -> None:
    for key in KEYS:
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


def test_thread_counts_agree() -> None:
    # large enough to be split over threads (the core runs small jobs inline)
    batch = GraphBatch.from_graphs(variants(40) * 30)
    one = rfa_fast.screen(batch, [16, 64, 224], threads=1)
    for threads in (2, 3, 8):
        same(one, rfa_fast.screen(batch, [16, 64, 224], threads=threads))


def test_concurrent_python_threads_share_a_batch() -> None:
    batch = GraphBatch.from_graphs(variants(30) * 20)
    k = np.random.default_rng(1).choice([1, 3, 5], size=(20_000, 20))
    s = np.random.default_rng(2).choice([1, 2], size=(20_000, 20))
    serial = [rfa_fast.screen(batch, 32 * (i % 3 + 1)) for i in range(6)]
    serial_chains = rfa_fast.screen_chains(k, s, resolutions=32)
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [pool.submit(rfa_fast.screen, batch, 32 * (i % 3 + 1)) for i in range(6)]
        chain_futures = [pool.submit(rfa_fast.screen_chains, k, s, None, 32) for _ in range(3)]
        for f, expected in zip(futures, serial):
            same(f.result(), expected)
        for f in chain_futures:
            same(f.result(), serial_chains)


def test_batch_equals_one_by_one() -> None:
    graphs = variants(12)
    batch = rfa_fast.screen(graphs, [32, (64, 48)])
    for b, g in enumerate(graphs):
        single = rfa_fast.screen([g], [32, (64, 48)])
        for key in KEYS:
            np.testing.assert_array_equal(getattr(batch, key)[b], getattr(single, key)[0], err_msg=key)
