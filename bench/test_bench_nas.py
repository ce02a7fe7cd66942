"""NAS-Bench-201: every cell of the search space in one screen, and a sample of
cells through the plain-Python reference and rfa-toolbox, asserting they agree.

The whole space (15,625 cells at 32 px, ~1.8 million nodes) is one call of
:func:`rfa_fast.nas.nb201_batch` + :func:`rfa_fast.screen`; the baselines go
one network at a time, so they analyze a few sampled cells and every row is
compared per cell (``items``).  The sample group runs all implementations on
the same 10 cells.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import baseline_toolbox as tb
import numpy as np
import pytest
from benchlib import RESOLUTION, assert_agrees, missing, record, rounds, sized

import rfa_fast
from rfa_fast import Graph, reference
from rfa_fast.nas import nb201_all, nb201_batch, nb201_cell_string, nb201_graph, nb201_screen

ALL = 15_625
SAMPLE = 10
FIRST = 20  # every row answers as the reference on the first cells of the space
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


@cache
def first_reference(n: int) -> dict[str, np.ndarray]:
    """The reference on the networks of the first n cells, built one by one (nb201_graph)."""
    graphs = [nb201_graph(tuple(int(o) for o in row)) for row in all_ops()[:n]]
    return reference.run_batch(graphs, [[RESOLUTION, RESOLUTION]])


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


ALL_IMPLS = {
    # impl: (input the timed call starts from, threads)
    "rfa_fast: nb201_batch + screen": ("rows", None),
    "rfa_fast: nb201_batch + screen, 1 thread": ("rows", 1),
    "rfa_fast: nas.nb201_screen": ("rows", None),
    "rfa_fast: nas.nb201_screen, 1 thread": ("rows", 1),
    "rfa_fast: nas.nb201_screen from cell strings": ("strings", None),
    "rfa_fast.screen": ("prepacked", None),
    "rfa_fast.screen, 1 thread": ("prepacked", 1),
    "rfa_fast.screen, i_min=False": ("prepacked", None),
    "rfa-toolbox, one at a time": ("Graph objects", None),
}


@pytest.mark.parametrize("impl", list(ALL_IMPLS))
def test_nb201_all(benchmark: Any, impl: str) -> None:
    """The whole NAS-Bench-201 space at 32 px: from the cells' op rows (base), their strings, or packed arrays."""
    benchmark.group = f"nb201: all {ALL:,} NAS-Bench-201 cells at {RESOLUTION} px"
    ops = all_ops()[: sized(benchmark, ALL, 500)]
    source, threads = ALL_IMPLS[impl]
    if impl == "rfa-toolbox, one at a time":
        if not tb.AVAILABLE:
            missing(tb.REASON)
        k = sized(benchmark, TOOLBOX_IN_ALL, 2)
        record(benchmark, impl, k, note=f"{k} sampled cells per call")
        args = (sample_graphs()[:k], sample_result().connected[:k])
        res = benchmark.pedantic(toolbox_on, args, rounds=rounds(benchmark, 3))
        check_toolbox(res, sample_result())
        return
    record(
        benchmark,
        impl,
        len(ops),
        base=impl == "rfa_fast: nb201_batch + screen",
        single=impl == "rfa_fast: nb201_batch + screen, 1 thread",
        input=source,
        threads=threads or "all",
    )
    if impl.startswith("rfa_fast: nb201_batch"):
        r = benchmark.pedantic(
            lambda: rfa_fast.screen(nb201_batch(ops), RESOLUTION, threads=threads), rounds=rounds(benchmark, 10)
        )
    elif impl == "rfa_fast: nas.nb201_screen from cell strings":  # the closed-form walk, from the strings
        strings = [nb201_cell_string(row) for row in ops.tolist()]
        r = benchmark.pedantic(nb201_screen, (strings, RESOLUTION), rounds=rounds(benchmark, 10))
    elif impl.startswith("rfa_fast: nas.nb201_screen"):  # the closed-form walk, no networks built
        r = benchmark.pedantic(nb201_screen, (ops, RESOLUTION), {"threads": threads}, rounds=rounds(benchmark, 20))
    else:
        batch = nb201_batch(ops)
        benchmark.extra_info["nodes"] = batch.n_nodes
        kwargs: dict[str, Any] = {"threads": threads, "i_min": "i_min=False" not in impl}
        r = benchmark.pedantic(rfa_fast.screen, (batch, RESOLUTION), kwargs, rounds=rounds(benchmark, 10))
    assert len(r) == len(ops)
    skip = ("i_min", "i_min_axes") if "i_min=False" in impl else ()
    assert_agrees(r, first_reference(FIRST), rows=FIRST, skip=skip, who=impl)
    if len(ops) == ALL:
        assert int(r.connected.sum()) == 15_625 - 341  # cells whose output is reachable (tests/test_nb201_kernel.py)
        for key in set(rfa_fast.ScreenResult.FIELDS) - set(skip):
            np.testing.assert_array_equal(getattr(r, key)[sample_rows()], getattr(sample_result(), key), err_msg=key)


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
        assert_agrees(r, reference.run_batch(graphs, [[RESOLUTION, RESOLUTION]]), who=impl)
    elif impl == "reference":
        record(benchmark, impl, SAMPLE)
        out = benchmark.pedantic(reference.run_batch, (graphs, [[RESOLUTION, RESOLUTION]]), rounds=rounds(benchmark, 3))
        assert_agrees(out, expect, who=impl)
    else:
        if not tb.AVAILABLE:
            missing(tb.REASON)
        k = sized(benchmark, SAMPLE, 3)
        record(benchmark, impl, k)
        res = benchmark.pedantic(toolbox_on, (graphs[:k], expect.connected[:k]), rounds=rounds(benchmark, 3))
        check_toolbox(res, expect)
