"""NAS-Bench-201: every cell of the search space in one screen, and a sample of
cells through the plain-Python reference and rfa-toolbox, asserting they agree.

The whole space (15,625 cells at 32 px, ~1.8 million nodes) is one call of
:func:`rfa_fast.nas.nb201_batch` + :func:`rfa_fast.screen`; the baselines go
one network at a time, so they analyze a few sampled cells and every row is
compared per cell (``items``).  The sample group runs all implementations on
the same 10 cells.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import baseline_toolbox as tb
import numpy as np
import pytest
from benchlib import RESOLUTION, record, rounds, sized

import rfa_fast
from rfa_fast import Graph, reference
from rfa_fast.nas import nb201_all, nb201_batch, nb201_graph, nb201_screen

ALL = 15_625
SAMPLE = 10
TOOLBOX_IN_ALL = 5  # cells rfa-toolbox analyzes per call in the whole-space group (~0.2 s each)


@lru_cache(maxsize=1)
def all_ops() -> np.ndarray:
    return nb201_all()


@lru_cache(maxsize=1)
def sample_rows() -> np.ndarray:
    return np.sort(np.random.default_rng(201).choice(ALL, size=SAMPLE, replace=False))


@lru_cache(maxsize=1)
def sample_graphs() -> list[Graph]:
    return [nb201_graph(tuple(int(o) for o in all_ops()[i])) for i in sample_rows()]


@lru_cache(maxsize=1)
def sample_result() -> rfa_fast.ScreenResult:
    return rfa_fast.screen(nb201_batch(all_ops()[sample_rows()]), RESOLUTION)


def toolbox_on(graphs: list[Graph], connected: np.ndarray) -> list[tb.ToolboxResult | None]:
    """rfa-toolbox on each cell network; None for a cell whose output is not connected to its input.

    rfa-toolbox has no notion of a disconnected cell (its nodes without
    predecessors are inputs), so those are not given to it.
    """
    return [tb.analyze_graph(g, RESOLUTION) if ok else None for g, ok in zip(graphs, connected.tolist())]


def check_toolbox(results: list[tb.ToolboxResult | None], r: rfa_fast.ScreenResult) -> None:
    """Connected cells: the same largest field as rfa_fast (its rules agree on NAS-Bench-201's square kernels)."""
    for i, t in enumerate(results):
        if t is not None:
            assert t.rf_max == r.rf_max[i, 0]


@pytest.mark.parametrize(
    "impl",
    [
        "rfa_fast: nb201_batch + screen",
        "rfa_fast: nas.nb201_screen",
        "rfa_fast.screen",
        "rfa_fast.screen, 1 thread",
        "rfa_fast.screen, i_min=False",
        "rfa-toolbox, one at a time",
    ],
)
def test_nb201_all(benchmark: Any, impl: str) -> None:
    """The whole NAS-Bench-201 space at 32 px."""
    benchmark.group = f"nb201: all {ALL:,} NAS-Bench-201 cells at {RESOLUTION} px"
    ops = all_ops()[: sized(benchmark, ALL, 500)]
    if impl == "rfa-toolbox, one at a time":
        if not tb.AVAILABLE:
            pytest.skip(tb.REASON)
        k = sized(benchmark, TOOLBOX_IN_ALL, 2)
        record(benchmark, impl, k, note=f"{k} sampled cells per call")
        args = (sample_graphs()[:k], sample_result().connected[:k])
        res = benchmark.pedantic(toolbox_on, args, rounds=rounds(benchmark, 3))
        check_toolbox(res, sample_result())
        return
    if impl == "rfa_fast: nb201_batch + screen":
        record(benchmark, impl, len(ops), base=True)
        r = benchmark.pedantic(lambda: rfa_fast.screen(nb201_batch(ops), RESOLUTION), rounds=rounds(benchmark, 10))
    elif impl == "rfa_fast: nas.nb201_screen":  # the closed-form walk, no networks built
        record(benchmark, impl, len(ops))
        r = benchmark.pedantic(nb201_screen, (ops, RESOLUTION), rounds=rounds(benchmark, 20))
        np.testing.assert_array_equal(r.n_unproductive, rfa_fast.screen(nb201_batch(ops), RESOLUTION).n_unproductive)
    else:
        threads = 1 if "1 thread" in impl else None
        record(benchmark, impl, len(ops), threads=threads or "all")
        batch = nb201_batch(ops)
        benchmark.extra_info["nodes"] = batch.n_nodes
        kwargs: dict[str, Any] = {"threads": threads, "i_min": "i_min=False" not in impl}
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), kwargs, rounds=rounds(benchmark, 10))
    assert len(r) == len(ops)
    if len(ops) == ALL:
        assert int(r.connected.sum()) == 15_284  # cells whose output is reachable from their input
        rows = sample_rows()
        s = sample_result()
        keys = ("n_unproductive", "n_border", "rf_max", "connected") + (("i_min",) if "i_min=False" not in impl else ())
        for key in keys:
            np.testing.assert_array_equal(getattr(r, key)[rows], getattr(s, key))


@pytest.mark.parametrize("impl", ["rfa_fast: nb201_batch + screen", "reference", "rfa-toolbox, one at a time"])
def test_nb201_sample(benchmark: Any, impl: str) -> None:
    """The same 10 sampled cells through every implementation, asserting the answers agree."""
    benchmark.group = f"nb201: {SAMPLE} sampled NAS-Bench-201 cells at {RESOLUTION} px"
    graphs = sample_graphs()
    expect = sample_result()
    if impl == "rfa_fast: nb201_batch + screen":
        record(benchmark, impl, SAMPLE, base=True)
        ops = all_ops()[sample_rows()]
        r = benchmark(lambda: rfa_fast.screen(nb201_batch(ops), RESOLUTION))
        np.testing.assert_array_equal(r.n_unproductive, expect.n_unproductive)
    elif impl == "reference":
        record(benchmark, impl, SAMPLE)
        out = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 3))
        np.testing.assert_array_equal(out["n_unproductive"], expect.n_unproductive)
        np.testing.assert_array_equal(out["n_border"], expect.n_border)
        np.testing.assert_array_equal(out["i_min"], expect.i_min)
        np.testing.assert_array_equal(out["graph_rf_max"], expect.rf_max)
        np.testing.assert_array_equal(out["connected"], expect.connected)
    else:
        if not tb.AVAILABLE:
            pytest.skip(tb.REASON)
        k = sized(benchmark, SAMPLE, 3)
        record(benchmark, impl, k)
        res = benchmark.pedantic(toolbox_on, (graphs[:k], expect.connected[:k]), rounds=rounds(benchmark, 3))
        check_toolbox(res, expect)
