"""Core throughput on chains and DAGs: rfa_fast (sparse batch and dense chain
path) against the numpy baseline and the plain-Python reference, on the same
workload in the same group, asserting they agree.

Groups whose baselines cannot do the whole batch in reasonable time run them
on a sample and compare per candidate (``items`` in extra_info); the small
groups run every implementation on the same candidates.

Run: ``pytest bench/ --benchmark-only`` (docs/benchmarks.md has a run).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from benchlib import RESOLUTION, record, rounds, sized
from numpy_baseline import screen_chains_numpy
from workloads import chain_batch_arrays, chain_graphs, chain_params, chain_specs, graph_from_batch, random_dag_batch

import rfa_fast
from rfa_fast import GraphBatch, reference, zoo
from rfa_fast.graph import Graph

# -- chains: the same 50 chains by every implementation ----------------------


@pytest.mark.benchmark(group="chains: 50 random chains of 32 layers")
@pytest.mark.parametrize("impl", ["sparse", "dense", "numpy", "reference"])
def test_small_chain_batch(benchmark: Any, impl: str) -> None:
    k, s = chain_params(np.random.default_rng(50), 50, 32)
    expected = screen_chains_numpy(k, s, [RESOLUTION])
    record(benchmark, f"rfa_fast {impl}" if impl in ("sparse", "dense") else impl, 50, base=impl == "sparse")
    if impl == "sparse":
        batch = chain_batch_arrays(k, s)
        r = benchmark(rfa_fast.screen, batch, RESOLUTION)
        got = (r.n_unproductive, r.i_min)
    elif impl == "dense":
        r = benchmark(rfa_fast.screen_chains, k, s, None, RESOLUTION)
        got = (r.n_unproductive, r.i_min)
    elif impl == "numpy":
        o = benchmark(screen_chains_numpy, k, s, [RESOLUTION])
        got = (o["n_unproductive"], o["i_min"])
    else:
        graphs = chain_graphs(k, s)
        o = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 3))
        got = (o["n_unproductive"], o["i_min"])
    np.testing.assert_array_equal(got[0], expected["n_unproductive"])
    np.testing.assert_array_equal(got[1], expected["i_min"])


@pytest.mark.benchmark(group="chains: 100,000 random chains of 32 layers")
@pytest.mark.parametrize(
    "impl", ["sparse", "sparse, 1 thread", "sparse, i_min=False", "dense", "dense, 1 thread", "numpy", "reference"]
)
def test_large_chain_batch(benchmark: Any, impl: str) -> None:
    B = sized(benchmark, 100_000, 5_000)
    k, s = chain_params(np.random.default_rng(100), B, 32)
    threads = 1 if "1 thread" in impl else None
    label = impl if impl in ("numpy", "reference") else f"rfa_fast {impl}"
    record(benchmark, label, B, base=impl == "dense", threads=threads or "all")
    if impl == "sparse, i_min=False":
        # where the sparse path's time goes: without I_min only the counts at 32 px are computed
        batch = chain_batch_arrays(k, s)
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"i_min": False}, rounds=rounds(benchmark, 10))
        np.testing.assert_array_equal(r.n_unproductive, screen_chains_numpy(k, s, [RESOLUTION])["n_unproductive"])
        return
    if impl.startswith("sparse"):
        batch = chain_batch_arrays(k, s)
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"threads": threads}, rounds=rounds(benchmark, 10))
        got = (r.n_unproductive, r.i_min)
    elif impl.startswith("dense"):
        args = (k, s, None, RESOLUTION)
        r = benchmark.pedantic(rfa_fast.screen_chains, args, {"threads": threads}, rounds=rounds(benchmark, 10))
        got = (r.n_unproductive, r.i_min)
    elif impl == "numpy":
        o = benchmark.pedantic(screen_chains_numpy, (k, s, [RESOLUTION]), rounds=rounds(benchmark, 3))
        got = (o["n_unproductive"], o["i_min"])
    else:
        n = sized(benchmark, 50, 5)
        record(benchmark, impl, n, note=f"the first {n} chains per call")
        graphs = chain_graphs(k[:n], s[:n])
        o = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 2))
        got = (o["n_unproductive"], o["i_min"])
    m = min(2000, len(got[0]))
    sample = screen_chains_numpy(k[:m], s[:m], [RESOLUTION])
    np.testing.assert_array_equal(got[0][:m], sample["n_unproductive"])
    np.testing.assert_array_equal(got[1][:m], sample["i_min"])


# -- packing: from Python-level specs to the core's arrays ----------------------


@pytest.mark.benchmark(group="packing: 1,000 chain specs of 32 layers (Python lists of dicts)")
@pytest.mark.parametrize(
    "impl", ["Cython packer (GraphBatch.from_specs)", "pure Python (Graph.from_spec + from_graphs)"]
)
def test_pack_specs(benchmark: Any, impl: str) -> None:
    """The packer is the hot spot when a search loop in Python hands over specs."""
    B = sized(benchmark, 1_000, 100)
    k, s = chain_params(np.random.default_rng(10), B, 32)
    specs = chain_specs(k, s)
    if impl.startswith("Cython"):
        record(benchmark, impl, B, base=True)
        batch = benchmark.pedantic(GraphBatch.from_specs, (specs,), rounds=rounds(benchmark, 10))
    else:
        record(benchmark, impl, B)

        def pack() -> GraphBatch:
            return GraphBatch.from_graphs([Graph.from_spec(sp, index=i) for i, sp in enumerate(specs)])

        batch = benchmark.pedantic(pack, rounds=rounds(benchmark, 2))
    r = rfa_fast.screen(batch, RESOLUTION)
    np.testing.assert_array_equal(r.n_unproductive, screen_chains_numpy(k, s, [RESOLUTION])["n_unproductive"])


# -- random DAGs -------------------------------------------------------------------

DAG_NODES = 64


@pytest.mark.benchmark(group=f"dags: 10,000 random DAGs of {DAG_NODES} nodes")
@pytest.mark.parametrize("impl", ["rfa_fast", "rfa_fast, 1 thread", "reference"])
def test_random_dags(benchmark: Any, impl: str) -> None:
    """Random DAGs with skips, strides, dilations and misaligned merges: rfa_fast on all, the reference on 20."""
    B = sized(benchmark, 10_000, 500)
    batch = random_dag_batch(np.random.default_rng(64), B, DAG_NODES)
    n = 20 if not impl.startswith("rfa_fast") else B
    threads = 1 if "1 thread" in impl else None
    record(benchmark, impl, n, base=impl == "rfa_fast", nodes=batch.n_nodes if n == B else n * DAG_NODES)
    if impl.startswith("rfa_fast"):
        benchmark.extra_info["threads"] = threads or "all"
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"threads": threads}, rounds=rounds(benchmark, 10))
        assert len(r) == B
        return
    benchmark.extra_info["note"] = f"the first {n} DAGs per call"
    graphs = [graph_from_batch(batch, b) for b in range(n)]
    out = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 3))
    r = rfa_fast.screen(batch, RESOLUTION)
    for key, mine in (("n_unproductive", r.n_unproductive), ("n_border", r.n_border), ("i_min", r.i_min)):
        np.testing.assert_array_equal(out[key], mine[:n])
    np.testing.assert_array_equal(out["graph_rf_max"], r.rf_max[:n])
    np.testing.assert_array_equal(out["aligned"], r.aligned[:n])


# -- DAGs: ResNet-50 at 224 px (issue 2's acceptance workload) -------------------------


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


@pytest.mark.benchmark(group="dags: 10 ResNet-50 stride variants at 224 px")
@pytest.mark.parametrize("impl", ["rfa_fast", "reference"])
def test_resnet50_small(benchmark: Any, impl: str) -> None:
    graphs = resnet50_variants(np.random.default_rng(10), 10)
    record(benchmark, impl, 10, base=impl == "rfa_fast")
    if impl == "rfa_fast":
        batch = GraphBatch.from_graphs(graphs)
        r = benchmark(rfa_fast.screen, batch, 224)
        got = (r.n_unproductive, r.i_min, r.rf_max)
    else:
        o = benchmark.pedantic(reference.run_batch, (graphs, [[224, 224]]), rounds=rounds(benchmark, 2))
        got = (o["n_unproductive"], o["i_min"], o["graph_rf_max"])
    ref = reference.run_batch(graphs[:3], [[224, 224]])
    np.testing.assert_array_equal(got[0][:3], ref["n_unproductive"])
    np.testing.assert_array_equal(got[1][:3], ref["i_min"])
    np.testing.assert_array_equal(got[2][:3], ref["graph_rf_max"])


@pytest.mark.benchmark(group="dags: 10,000 ResNet-50 stride variants at 224 px")
@pytest.mark.parametrize("threads", [None, 1])
def test_resnet50_large(benchmark: Any, threads: int | None) -> None:
    graphs = resnet50_variants(np.random.default_rng(100), 100)
    copies = sized(benchmark, 100, 5)
    batch = GraphBatch.from_graphs(graphs * copies)
    record(benchmark, "rfa_fast" if threads is None else "rfa_fast, 1 thread", len(batch), base=threads is None)
    r = benchmark.pedantic(rfa_fast.screen, (batch, 224), {"threads": threads}, rounds=rounds(benchmark, 10))
    assert r.i_min.shape == (100 * copies,)
    np.testing.assert_array_equal(r.i_min[:100], r.i_min[100:200])
