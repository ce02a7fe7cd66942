"""Core throughput: rfa_fast against the plain-Python reference and the numpy
baseline, on the same workload in the same group, asserting they agree.

Run: ``pytest bench/ --benchmark-only`` (docs/benchmarks.md has a run).
"""

from __future__ import annotations

import numpy as np
import pytest
from numpy_baseline import screen_chains_numpy

import rfa_fast
from rfa_fast import GraphBatch, GraphBuilder, reference, zoo


def chain_params(rng: np.random.Generator, B: int, L: int) -> tuple[np.ndarray, np.ndarray]:
    k = rng.choice(np.array([1, 3, 5, 7], np.int32), size=(B, L))
    s = rng.choice(np.array([1, 1, 1, 2], np.int32), size=(B, L))
    return k, s


def chain_graphs(k: np.ndarray, s: np.ndarray) -> list[rfa_fast.Graph]:
    graphs = []
    for b in range(k.shape[0]):
        g = GraphBuilder(f"chain{b}")
        x = g.input()
        for kk, ss in zip(k[b], s[b]):
            kk, ss = int(kk), int(ss)
            x = g.conv(x, kk, ss, pad_begin=(kk - 1) // 2, pad_end=kk - 1 - (kk - 1) // 2)
        graphs.append(g.build())
    return graphs


def chain_batch_arrays(k: np.ndarray, s: np.ndarray) -> GraphBatch:
    """Pack chains with numpy (as a search loop generating arrays would)."""
    B, L = k.shape
    n = B * (L + 1)
    op = np.ones(n, np.uint8)
    op[:: L + 1] = 0
    win = op == 1
    kk = np.ones((n, 2), np.int32)
    ss = np.ones((n, 2), np.int32)
    kk[win] = k.reshape(-1, 1)
    ss[win] = s.reshape(-1, 1)
    pb = ((kk - 1) // 2).astype(np.int32)
    pred_ptr = np.zeros(n + 1, np.int64)
    pred_ptr[1:] = np.cumsum(win)
    return GraphBatch.from_arrays(
        graph_ptr=np.arange(B + 1) * (L + 1),
        op=op,
        kernel=kk,
        stride=ss,
        dilation=np.ones((n, 2)),
        pad_begin=pb,
        pad_end=kk - 1 - pb,
        pad_mode=np.zeros(n),
        ceil_mode=np.zeros(n),
        scale=np.ones((n, 2)),
        mode=np.zeros(n),
        weighted=np.zeros(n),
        c_in=np.zeros(n),
        c_out=np.zeros(n),
        groups=np.ones(n),
        pred_ptr=pred_ptr,
        pred=np.nonzero(win)[0] - 1,
    )


# -- one small graph: per-call overhead -------------------------------------


@pytest.mark.benchmark(group="one graph: VGG16 at 32 px")
@pytest.mark.parametrize("impl", ["rfa_fast.analyze", "rfa_fast.screen", "reference"])
def test_one_graph(benchmark, impl: str) -> None:  # type: ignore[no-untyped-def]
    g = zoo.vgg16()
    if impl == "rfa_fast.analyze":
        out = benchmark(rfa_fast.analyze, g, 32)
        rf, n = out.summary["rf_max"][0], out.summary["n_unproductive"]
    elif impl == "rfa_fast.screen":
        batch = GraphBatch.from_graphs([g])
        out = benchmark(rfa_fast.screen, batch, 32)
        rf, n = out.rf_max[0, 0], out.n_unproductive[0, 0]
    else:
        out = benchmark(reference.run_graph, g, [[32, 32]])
        rf, n = out["graph_rf_max"][0, 0], out["n_unproductive"][0, 0]
    assert (rf, n) == (212.0, 10)


# -- chains: the same 50 chains by every implementation ----------------------


@pytest.mark.benchmark(group="50 chains x 32 layers")
@pytest.mark.parametrize("impl", ["sparse", "dense", "numpy", "reference"])
def test_small_chain_batch(benchmark, rng, impl: str) -> None:  # type: ignore[no-untyped-def]
    k, s = chain_params(rng, 50, 32)
    expected = screen_chains_numpy(k, s, [32])
    if impl == "sparse":
        batch = chain_batch_arrays(k, s)
        r = benchmark(rfa_fast.screen, batch, 32)
        got = (r.n_unproductive, r.i_min)
    elif impl == "dense":
        r = benchmark(rfa_fast.screen_chains, k, s, None, 32)
        got = (r.n_unproductive, r.i_min)
    elif impl == "numpy":
        o = benchmark(screen_chains_numpy, k, s, [32])
        got = (o["n_unproductive"], o["i_min"])
    else:
        graphs = chain_graphs(k, s)
        o = benchmark.pedantic(reference.run_batch, (graphs, [[32, 32]]), rounds=2, iterations=1)
        got = (o["n_unproductive"], o["i_min"])
    np.testing.assert_array_equal(got[0], expected["n_unproductive"])
    np.testing.assert_array_equal(got[1], expected["i_min"])


@pytest.mark.benchmark(group="100,000 chains x 32 layers")
@pytest.mark.parametrize("impl", ["sparse", "sparse, 1 thread", "dense", "dense, 1 thread", "numpy"])
def test_large_chain_batch(benchmark, rng, impl: str) -> None:  # type: ignore[no-untyped-def]
    k, s = chain_params(rng, 100_000, 32)
    threads = 1 if "1 thread" in impl else None
    if impl.startswith("sparse"):
        batch = chain_batch_arrays(k, s)
        r = benchmark.pedantic(rfa_fast.screen, (batch, 32), {"threads": threads}, rounds=5, iterations=1)
        got = (r.n_unproductive, r.i_min)
    elif impl.startswith("dense"):
        r = benchmark.pedantic(rfa_fast.screen_chains, (k, s, None, 32), {"threads": threads}, rounds=5, iterations=1)
        got = (r.n_unproductive, r.i_min)
    else:
        o = benchmark.pedantic(screen_chains_numpy, (k, s, [32]), rounds=3, iterations=1)
        got = (o["n_unproductive"], o["i_min"])
    sample = screen_chains_numpy(k[:2000], s[:2000], [32])
    np.testing.assert_array_equal(got[0][:2000], sample["n_unproductive"])
    np.testing.assert_array_equal(got[1][:2000], sample["i_min"])


# -- DAGs: ResNet-50 -----------------------------------------------------------


def resnet50_variants(rng: np.random.Generator, n: int) -> list[rfa_fast.Graph]:
    """ResNet-50 with the stage strides shuffled between the blocks of each stage."""
    base = zoo.resnet50()
    out = []
    convs = [i for i, node in enumerate(base.nodes) if node.name.endswith(".conv2")]
    for _ in range(n):
        g = base
        for i in rng.choice(convs, size=3, replace=False):
            g = g.replace_node(int(i), stride=(int(rng.integers(1, 3)),) * 2)
        out.append(g)
    return out


@pytest.mark.benchmark(group="10 ResNet-50 DAGs at 224 px")
@pytest.mark.parametrize("impl", ["rfa_fast", "reference"])
def test_resnet50_small(benchmark, rng, impl: str) -> None:  # type: ignore[no-untyped-def]
    graphs = resnet50_variants(rng, 10)
    if impl == "rfa_fast":
        batch = GraphBatch.from_graphs(graphs)
        r = benchmark(rfa_fast.screen, batch, 224)
        got = (r.n_unproductive, r.i_min, r.rf_max)
    else:
        o = benchmark.pedantic(reference.run_batch, (graphs, [[224, 224]]), rounds=2, iterations=1)
        got = (o["n_unproductive"], o["i_min"], o["graph_rf_max"])
    ref = reference.run_batch(graphs[:3], [[224, 224]])
    np.testing.assert_array_equal(got[0][:3], ref["n_unproductive"])
    np.testing.assert_array_equal(got[1][:3], ref["i_min"])
    np.testing.assert_array_equal(got[2][:3], ref["graph_rf_max"])


@pytest.mark.benchmark(group="10,000 ResNet-50 DAGs at 224 px")
@pytest.mark.parametrize("threads", [1, None])
def test_resnet50_large(benchmark, rng, threads: int | None) -> None:  # type: ignore[no-untyped-def]
    graphs = resnet50_variants(rng, 100)
    batch = GraphBatch.from_graphs(graphs * 100)
    r = benchmark.pedantic(rfa_fast.screen, (batch, 224), {"threads": threads}, rounds=5, iterations=1)
    assert r.i_min.shape == (10_000,)
    np.testing.assert_array_equal(r.i_min[:100], r.i_min[100:200])
