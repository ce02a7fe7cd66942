"""Core throughput on chains and DAGs: rfa_fast (sparse batch and dense chain
path) against the numpy baseline and the plain-Python reference, on the same
workload in the same group, asserting they agree.

Groups whose baselines cannot do the whole batch in reasonable time run them
on a sample and compare per candidate (``items`` in extra_info); the small
groups run every implementation on the same candidates.

Run: ``pytest bench/ --benchmark-only`` (docs/benchmarks.md has a run).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from benchlib import RESOLUTION, assert_agrees, record, rounds, sized
from numpy_baseline import screen_chains_numpy
from workloads import chain_batch_arrays, chain_graphs, chain_params, chain_specs, graph_from_batch, random_dag_batch

import rfa_fast
from rfa_fast import GraphBatch, reference, zoo
from rfa_fast.graph import Graph


@cache
def chains_reference(seed: int, B: int, n: int) -> dict[str, np.ndarray]:
    """The reference on the first n of the chains ``chain_params(default_rng(seed), B, 32)`` at 32 px."""
    k, s = chain_params(np.random.default_rng(seed), B, 32)
    return reference.run_batch(chain_graphs(k[:n], s[:n]), [[RESOLUTION, RESOLUTION]])


# -- chains: the same 50 chains by every implementation ----------------------


@pytest.mark.benchmark(group="chains: 50 random chains of 32 layers")
@pytest.mark.parametrize("impl", ["sparse", "dense", "numpy", "reference"])
def test_small_chain_batch(benchmark: Any, impl: str) -> None:
    k, s = chain_params(np.random.default_rng(50), 50, 32)
    record(benchmark, f"rfa_fast {impl}" if impl in ("sparse", "dense") else impl, 50, base=impl == "sparse")
    if impl == "sparse":
        batch = chain_batch_arrays(k, s)
        got: Any = benchmark(rfa_fast.screen, batch, RESOLUTION)
    elif impl == "dense":
        got = benchmark(rfa_fast.screen_chains, k, s, None, RESOLUTION)
    elif impl == "numpy":
        got = benchmark(screen_chains_numpy, k, s, [RESOLUTION])
    else:
        graphs = chain_graphs(k, s)
        got = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 3))
    assert_agrees(got, chains_reference(50, 50, 50), who=impl)


LARGE_IMPLS = [
    "sparse",
    "sparse, 1 thread",
    "sparse: pack + screen",
    "sparse, i_min=False",
    "dense",
    "dense, 1 thread",
    "numpy",
    "reference",
]


@pytest.mark.benchmark(group="chains: 100,000 random chains of 32 layers")
@pytest.mark.parametrize("impl", LARGE_IMPLS)
def test_large_chain_batch(benchmark: Any, impl: str) -> None:
    """The dense path (base) and the sparse one, all threads and one; the numpy baseline; the reference on a sample.

    "sparse: pack + screen" starts from the [B, L] arrays (packed with numpy, timed), the other sparse rows from
    the packed batch. Every row agrees with the reference on its first chains and with numpy on 2,000.
    """
    B = sized(benchmark, 100_000, 5_000)
    k, s = chain_params(np.random.default_rng(100), B, 32)
    threads = 1 if "1 thread" in impl else None
    label = impl if impl in ("numpy", "reference") else f"rfa_fast {impl}"
    record(benchmark, label, B, base=impl == "dense", single=impl == "dense, 1 thread", threads=threads or "all")
    n_ref = sized(benchmark, 50, 5)
    if impl == "sparse, i_min=False":
        # where the sparse path's time goes: without I_min only the counts at 32 px are computed
        batch = chain_batch_arrays(k, s)
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"i_min": False}, rounds=rounds(benchmark, 10))
        assert np.isnan(r.i_min).all() and np.isnan(r.i_min_axes).all()
        assert_agrees(r, chains_reference(100, B, n_ref), rows=n_ref, skip=("i_min", "i_min_axes"), who=impl)
        return
    if impl == "sparse: pack + screen":
        r: Any = benchmark.pedantic(
            lambda: rfa_fast.screen(chain_batch_arrays(k, s), RESOLUTION), rounds=rounds(benchmark, 10)
        )
    elif impl.startswith("sparse"):
        batch = chain_batch_arrays(k, s)
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"threads": threads}, rounds=rounds(benchmark, 10))
    elif impl.startswith("dense"):
        args = (k, s, None, RESOLUTION)
        r = benchmark.pedantic(rfa_fast.screen_chains, args, {"threads": threads}, rounds=rounds(benchmark, 10))
    elif impl == "numpy":
        r = benchmark.pedantic(screen_chains_numpy, (k, s, [RESOLUTION]), rounds=rounds(benchmark, 10))
    else:
        record(benchmark, impl, n_ref, note=f"the first {n_ref} chains per call")
        graphs = chain_graphs(k[:n_ref], s[:n_ref])
        r = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 2))
    assert_agrees(r, chains_reference(100, B, n_ref), rows=n_ref, who=impl)
    if impl != "reference":
        m = min(2000, B)
        assert_agrees(r, screen_chains_numpy(k[:m], s[:m], [RESOLUTION]), rows=m, who=f"{impl} against numpy")


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
    assert_agrees(rfa_fast.screen(batch, RESOLUTION), screen_chains_numpy(k, s, [RESOLUTION]), who=impl)


# -- random DAGs -------------------------------------------------------------------

DAG_NODES = 64


@cache
def dags(B: int) -> GraphBatch:
    return random_dag_batch(np.random.default_rng(64), B, DAG_NODES)


@cache
def dags_reference(B: int, n: int) -> dict[str, np.ndarray]:
    """The reference on the first n DAGs of the batch of B."""
    return reference.run_batch([graph_from_batch(dags(B), b) for b in range(n)], [[RESOLUTION, RESOLUTION]])


@pytest.mark.benchmark(group=f"dags: 10,000 random DAGs of {DAG_NODES} nodes")
@pytest.mark.parametrize("impl", ["rfa_fast", "rfa_fast, 1 thread", "rfa_fast: from Graph objects", "reference"])
def test_random_dags(benchmark: Any, impl: str) -> None:
    """Random DAGs with skips, strides, dilations and misaligned merges: rfa_fast on all, the reference on 20.

    "from Graph objects" starts from the DAGs as :class:`Graph` objects (made before the timer) and packs
    them in the timed call; the other rfa_fast rows screen the batch as packed arrays.
    """
    B = sized(benchmark, 10_000, 500)
    batch = dags(B)
    n = 20
    threads = 1 if "1 thread" in impl else None
    items = n if impl == "reference" else B
    record(
        benchmark,
        impl,
        items,
        base=impl == "rfa_fast",
        single=impl == "rfa_fast, 1 thread",
        nodes=batch.n_nodes if items == B else n * DAG_NODES,
        input="Graph objects" if "Graph" in impl else "prepacked",
    )
    if impl == "rfa_fast: from Graph objects":
        graphs = [graph_from_batch(batch, b) for b in range(B)]
        r: Any = benchmark.pedantic(
            lambda: rfa_fast.screen(GraphBatch.from_graphs(graphs), RESOLUTION), rounds=rounds(benchmark, 5)
        )
    elif impl.startswith("rfa_fast"):
        benchmark.extra_info["threads"] = threads or "all"
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"threads": threads}, rounds=rounds(benchmark, 10))
    else:
        benchmark.extra_info["note"] = f"the first {n} DAGs per call"
        graphs = [graph_from_batch(batch, b) for b in range(n)]
        r = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 3))
        assert_agrees(r, rfa_fast.screen(batch, RESOLUTION), rows=n, who="reference against rfa_fast")
    assert_agrees(r, dags_reference(B, n), rows=n, who=impl)


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


@cache
def resnet50_reference(seed: int, n: int) -> dict[str, np.ndarray]:
    return reference.run_batch(resnet50_variants(np.random.default_rng(seed), n), [[224, 224]])


@pytest.mark.benchmark(group="dags: 10 ResNet-50 stride variants at 224 px")
@pytest.mark.parametrize("impl", ["rfa_fast", "rfa_fast, 1 thread", "reference"])
def test_resnet50_small(benchmark: Any, impl: str) -> None:
    graphs = resnet50_variants(np.random.default_rng(10), 10)
    threads = 1 if "1 thread" in impl else None
    record(benchmark, impl, 10, base=impl == "rfa_fast", single=impl == "rfa_fast, 1 thread")
    if impl.startswith("rfa_fast"):
        batch = GraphBatch.from_graphs(graphs)
        got: Any = benchmark(rfa_fast.screen, batch, 224, threads=threads)
    else:
        got = benchmark.pedantic(reference.run_batch, (graphs, [[224, 224]]), rounds=rounds(benchmark, 2))
        assert_agrees(got, rfa_fast.screen(graphs, 224), who="reference against rfa_fast")
    assert_agrees(got, resnet50_reference(10, 10), who=impl)


@pytest.mark.benchmark(group="dags: 10,000 ResNet-50 stride variants at 224 px")
@pytest.mark.parametrize("impl", ["rfa_fast", "rfa_fast, 1 thread", "rfa_fast: from Graph objects"])
def test_resnet50_large(benchmark: Any, impl: str) -> None:
    """100 variants, each 100 times; every copy of a variant must answer as the reference on that variant."""
    graphs = resnet50_variants(np.random.default_rng(100), 100)
    copies = sized(benchmark, 100, 5)
    threads = 1 if "1 thread" in impl else None
    record(benchmark, impl, 100 * copies, base=impl == "rfa_fast", single=impl == "rfa_fast, 1 thread")
    benchmark.extra_info["input"] = "Graph objects" if "Graph" in impl else "prepacked"
    if impl == "rfa_fast: from Graph objects":
        many = graphs * copies
        r = benchmark.pedantic(lambda: rfa_fast.screen(GraphBatch.from_graphs(many), 224), rounds=rounds(benchmark, 5))
    else:
        batch = GraphBatch.from_graphs(graphs * copies)
        r = benchmark.pedantic(rfa_fast.screen, (batch, 224), {"threads": threads}, rounds=rounds(benchmark, 10))
    n = sized(benchmark, 10, 2)
    for c in (0, copies - 1):  # the first and the last copy of the first n variants
        assert_agrees(r, resnet50_reference(100, n), start=c * 100, who=f"{impl}, copy {c}")
