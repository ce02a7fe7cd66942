"""The space engine: whole spaces and sampled candidates screened in lanes, against the baselines.

Every group asserts, before it times anything, that the rows agree: the
space engine with the special kernel (NAS-Bench-201) or the general engine
on the materialized graphs, key by key; the numpy programs
(``bench/numpy_spaces.py``, vectorized over candidates) on the keys they
compute (``rf_max``, ``i_max``, ``connected``).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import baseline_toolbox as tb
import numpy as np
import pytest
from benchlib import assert_agrees, missing, record, rounds, sized
from numpy_spaces import nb201_rf_numpy, ofa_rf_numpy

import rfa_fast
from rfa_fast import GraphBatch
from rfa_fast.nas import nb101_space, nb201_all, nb201_screen, nb201_space, ofa_mbv3_space

RF_KEYS = ("rf_max", "i_max", "connected")


def assert_rf(got: dict[str, np.ndarray], r: rfa_fast.ScreenResult, who: str) -> None:
    for key in RF_KEYS:
        np.testing.assert_array_equal(got[key], getattr(r, key), err_msg=f"{who}: {key}")


NB201 = {
    "rfa_fast: nb201_space().screen": None,
    "rfa_fast: nb201_space().screen, 1 thread": 1,
    "rfa_fast: nas.nb201_screen (closed-form kernel)": None,
    "rfa_fast: nas.nb201_screen, 1 thread": 1,
    "numpy rf-only program, vectorized over cells": None,
}


@pytest.mark.benchmark(group="spaces: all 15,625 NAS-Bench-201 cells at 32 px")
@pytest.mark.parametrize("impl", list(NB201))
def test_nb201_space(benchmark: Any, impl: str) -> None:
    ops = nb201_all()[: sized(benchmark, 15_625, 500)]
    space = nb201_space()
    threads = NB201[impl]
    record(
        benchmark,
        impl,
        len(ops),
        base=impl == "rfa_fast: nb201_space().screen",
        single=impl == "rfa_fast: nb201_space().screen, 1 thread",
        threads=threads or "all",
    )
    want = nb201_screen(ops, 32)
    if impl.startswith("numpy"):
        got = benchmark.pedantic(nb201_rf_numpy, (ops,), rounds=rounds(benchmark, 20))
        assert_rf(got, want, impl)
        return
    if "nb201_space" in impl:
        space.screen(ops[:1], 32)  # compiled once, outside the timing
        r = benchmark.pedantic(space.screen, (ops, 32), {"threads": threads}, rounds=rounds(benchmark, 20))
    else:
        r = benchmark.pedantic(nb201_screen, (ops, 32), {"threads": threads}, rounds=rounds(benchmark, 20))
    assert_agrees(r, want, who=impl)


@lru_cache(maxsize=4)
def ofa_rows(n: int) -> np.ndarray:
    return ofa_mbv3_space().sample(n, seed=2021)


@lru_cache(maxsize=2)
def ofa_graphs_batch(n: int, sample: int) -> tuple[GraphBatch, rfa_fast.ScreenResult]:
    """The first ``sample`` of the ``n`` rows as graphs, packed, and their screen by the general engine."""
    space = ofa_mbv3_space()
    batch = GraphBatch.from_graphs([space.graph(r) for r in ofa_rows(n)[:sample]])
    return batch, rfa_fast.screen(batch, 224)


OFA = {
    "rfa_fast: ofa_mbv3_space().screen": None,
    "rfa_fast: ofa_mbv3_space().screen, 1 thread": 1,
    "rfa_fast.screen of the materialized graphs (prepacked, 2,000 per call)": None,
    "numpy rf-only program, vectorized over candidates": None,
}


@pytest.mark.benchmark(group="spaces: Once-for-All MobileNetV3, sampled candidates at 224 px")
@pytest.mark.parametrize("impl", list(OFA))
def test_ofa_space(benchmark: Any, impl: str) -> None:
    space = ofa_mbv3_space()
    n, sample = sized(benchmark, 1_000_000, 2_000), sized(benchmark, 2_000, 50)
    batch, want = ofa_graphs_batch(n, sample)
    if impl.startswith("rfa_fast.screen of the materialized"):
        record(benchmark, impl, sample, input="prepacked graphs (packing excluded)")
        r = benchmark.pedantic(rfa_fast.screen, (batch, 224), rounds=rounds(benchmark, 5))
        assert_agrees(r, want, who=impl)
        return
    rows = ofa_rows(n)
    threads = OFA[impl]
    record(
        benchmark,
        impl,
        n,
        base=impl == "rfa_fast: ofa_mbv3_space().screen",
        single=impl == "rfa_fast: ofa_mbv3_space().screen, 1 thread",
        threads=threads or "all",
        input="rows",
    )
    if impl.startswith("numpy"):
        got = benchmark.pedantic(ofa_rf_numpy, (rows,), rounds=rounds(benchmark, 3))
        assert_rf({k: v[:sample] for k, v in got.items()}, want, impl)
        return
    space.screen(rows[:1], 224)
    r = benchmark.pedantic(space.screen, (rows, 224), {"threads": threads}, rounds=rounds(benchmark, 3))
    assert_agrees(r, want, rows=sample, who=impl)


@lru_cache(maxsize=2)
def nb101_case(n: int, sample: int) -> tuple[np.ndarray, GraphBatch, rfa_fast.ScreenResult]:
    space = nb101_space()
    rows = space.sample(n, seed=101)
    batch = GraphBatch.from_graphs([space.graph(r) for r in rows[:sample]])
    return rows, batch, rfa_fast.screen(batch, 32)


NB101 = {
    "rfa_fast: nb101_space().screen": None,
    "rfa_fast: nb101_space().screen, 1 thread": 1,
    "rfa_fast.screen of the materialized graphs (prepacked, 2,000 per call)": None,
}


@pytest.mark.benchmark(group="spaces: NAS-Bench-101, 100,000 sampled cells at 32 px")
@pytest.mark.parametrize("impl", list(NB101))
def test_nb101_space(benchmark: Any, impl: str) -> None:
    n, sample = sized(benchmark, 100_000, 1_000), sized(benchmark, 2_000, 50)
    rows, batch, want = nb101_case(n, sample)
    if impl.startswith("rfa_fast.screen of the materialized"):
        record(benchmark, impl, sample, input="prepacked graphs (packing excluded)")
        r = benchmark.pedantic(rfa_fast.screen, (batch, 32), rounds=rounds(benchmark, 5))
        assert_agrees(r, want, who=impl)
        return
    threads = NB101[impl]
    record(
        benchmark,
        impl,
        n,
        base=impl == "rfa_fast: nb101_space().screen",
        single=impl == "rfa_fast: nb101_space().screen, 1 thread",
        threads=threads or "all",
        input="rows (computed channel columns included)",
    )
    space = nb101_space()
    space.screen(rows[:1], 32)
    r = benchmark.pedantic(space.screen, (rows, 32), {"threads": threads}, rounds=rounds(benchmark, 3))
    assert_agrees(r, want, rows=sample, who=impl)


# -- the search-loop case: one candidate per call --------------------------------

ONE = [
    "rfa_fast.screen of one prepacked graph (VGG16, 22 nodes)",
    "rfa_fast.analyze of one graph (VGG16, packing included)",
    "rfa_fast: space.screen of one row (NAS-Bench-201, 149 template nodes)",
    "rfa_fast: space.screen of one row (Once-for-All, 142 template nodes)",
    "rfa-toolbox: one VGG16 (its graph API)",
]


@pytest.mark.benchmark(group="search loop: one candidate per call")
@pytest.mark.parametrize("impl", ONE)
def test_one_candidate_per_call(benchmark: Any, impl: str) -> None:
    g = rfa_fast.zoo.vgg16()
    want_vgg = rfa_fast.screen([g], 32)
    record(benchmark, impl, 1, base=impl == ONE[0])
    if impl == ONE[0]:
        batch = GraphBatch.from_graphs([g])
        r = benchmark(rfa_fast.screen, batch, 32)
        assert_agrees(r, want_vgg, who=impl)
    elif impl == ONE[1]:
        rep = benchmark(rfa_fast.analyze, g, 32)
        assert rep.summary["rf_max"] == want_vgg.rf_max[0].tolist()
        assert rep.summary["n_unproductive"] == int(want_vgg.n_unproductive[0, 0])
    elif impl.startswith("rfa-toolbox"):
        if not tb.AVAILABLE:
            missing(tb.REASON)
        res = benchmark.pedantic(tb.analyze_graph, (g, 32), rounds=rounds(benchmark, 20))
        assert res.rf_max == want_vgg.rf_max[0, 0]
    else:
        space = nb201_space() if "NAS-Bench-201" in impl else ofa_mbv3_space()
        row = space.sample(1, seed=5)
        res = 32 if "NAS-Bench-201" in impl else 224
        space.screen(row, res)
        r = benchmark(space.screen, row, res)
        assert_agrees(r, rfa_fast.screen([space.graph(row[0])], res), who=impl)
