"""Scaling: time against batch size (1 to 10^6 chains), against graph size
(10 to 10^5 layers, two topologies), and 1 thread against all.

bench/report.py turns these rows into the scaling tables of
docs/benchmarks.md: time per candidate (flat once the per-call overhead is
amortized) and time per node+edge (flat when the core is linear in N+E).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import numpy as np
import pytest
from benchlib import RESOLUTION, assert_agrees, assert_same_raw, quick, record, rounds
from numpy_baseline import screen_chains_numpy
from workloads import chain_batch_arrays, chain_params, dense_dag, n_edges, residual_chain

import rfa_fast
from rfa_fast import Graph, GraphBatch, reference

LAYERS = 20
BATCH_SIZES = [1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]
QUICK_MAX_BATCH = 10_000


@lru_cache(maxsize=2)
def chains(B: int) -> tuple[np.ndarray, np.ndarray]:
    return chain_params(np.random.default_rng(B), B, LAYERS)


CASES = [(path, B, None) for path in ("dense", "sparse") for B in BATCH_SIZES]
CASES += [("dense", 100_000, 1), ("dense", 1_000_000, 1), ("sparse", 100_000, 1)]


@pytest.mark.parametrize(("path", "B", "threads"), CASES, ids=[f"{p}-{b}-{t or 'all'}" for p, b, t in CASES])
def test_batch_size(benchmark: Any, path: str, B: int, threads: int | None) -> None:
    """Chains of 20 layers at 32 px: dense (screen_chains) and sparse (packed batch) paths."""
    if quick(benchmark) and B > QUICK_MAX_BATCH:
        pytest.skip(f"quick mode stops at {QUICK_MAX_BATCH:,} candidates")
    benchmark.group = f"scaling: batch size, chains of {LAYERS} layers at {RESOLUTION} px"
    k, s = chains(B)
    label = f"rfa_fast {path}" + (", 1 thread" if threads == 1 else "")
    record(benchmark, label, B, batch=B, threads=threads or "all")
    # a stable median, while the sparse 10^6 screen (~2 GB of arrays) stays within seconds
    n = rounds(benchmark, 3 if B >= 1_000_000 else 10 if B >= 100_000 else 20)
    if path == "dense":
        r = benchmark.pedantic(rfa_fast.screen_chains, (k, s, None, RESOLUTION), {"threads": threads}, rounds=n)
    else:
        batch = chain_batch_arrays(k, s)
        benchmark.extra_info["nodes"] = batch.n_nodes
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"threads": threads}, rounds=n)
        del batch
    m = min(B, 1000)
    assert_agrees(r, screen_chains_numpy(k[:m], s[:m], [RESOLUTION]), rows=m, who=f"{path}, B = {B}")


GRAPH_SIZES = [10, 100, 1_000, 10_000, 100_000]
REFERENCE_MAX = 1_000
CHECK_MAX = 10_000
"""Every row answers as the reference up to this many layers (the reference takes ~20 s at 10^4 and is
quadratic beyond); at 10^5 layers the rfa_fast rows are checked against each other only."""
FAMILIES = {"residual": residual_chain, "dense": dense_dag}


@cache
def sized_graph(family: str, layers: int) -> Graph:
    return FAMILIES[family](layers)


@cache
def graph_reference(family: str, layers: int) -> dict[str, np.ndarray] | None:
    """The reference's analysis of the graph at 32 px (None beyond CHECK_MAX layers)."""
    if layers > CHECK_MAX:
        return None
    return reference.run_graph(sized_graph(family, layers), [[RESOLUTION, RESOLUTION]])


GRAPH_IMPLS = ("rfa_fast.analyze", "rfa_fast.screen, i_min=False", "reference")
GCASES = [(f, L, impl) for f in FAMILIES for L in GRAPH_SIZES for impl in GRAPH_IMPLS]


@pytest.mark.parametrize(("family", "layers", "impl"), GCASES, ids=[f"{f}-{L}-{i}" for f, L, i in GCASES])
def test_graph_size(benchmark: Any, family: str, layers: int, impl: str) -> None:
    """One graph of 10 to 10^5 layers: residual pairs (E ~ 1.3 N) or DenseNet-style concatenations (E ~ 4.5 N)."""
    if impl == "reference" and layers > REFERENCE_MAX:
        pytest.skip(f"the reference takes seconds beyond {REFERENCE_MAX:,} layers")
    if quick(benchmark) and layers > 1_000:
        pytest.skip("quick mode stops at 1,000 layers")
    benchmark.group = f"scaling: graph size, {family} topology at {RESOLUTION} px"
    g = sized_graph(family, layers)
    N, E = len(g.nodes), n_edges(g)
    record(benchmark, impl, 1, family=family, layers=layers, nodes=N, edges=E)
    n = rounds(
        benchmark,
        3 if layers >= 1_000 and impl == "reference" else 5 if layers >= 10_000 or impl == "reference" else 20,
    )
    expected = graph_reference(family, layers)
    if impl == "rfa_fast.analyze":
        g.to_arrays()  # packed once: this measures the core and the report, as repeated analyses of one model see
        rep = benchmark.pedantic(rfa_fast.analyze, (g, RESOLUTION), rounds=n)
        assert rep.summary["rf_max"][0] > layers
        if expected is not None:
            assert_same_raw(rep.raw, expected, f"{family} {layers}: analyze against the reference")
    elif impl == "rfa_fast.screen, i_min=False":
        # propagation and the status rules only, no I_min
        batch = GraphBatch.from_graphs([g])
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), {"i_min": False}, rounds=n)
        assert r.rf_max[0, 0] > layers and np.isnan(r.i_min).all()
        against = expected if expected is not None else rfa_fast.analyze(g, RESOLUTION).raw
        assert_agrees(r, against, skip=("i_min", "i_min_axes"), who=f"{family} {layers}: screen")
    else:
        out = benchmark.pedantic(reference.run_graph, (g, [[RESOLUTION, RESOLUTION]]), rounds=n)
        assert_same_raw(rfa_fast.analyze(g, RESOLUTION).raw, out, f"{family} {layers}: the reference against analyze")
