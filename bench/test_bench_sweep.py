"""Resolution sweeps: one call answers many resolutions for a whole batch.

The fields are propagated once per graph; each extra resolution costs one
feature-map-and-status pass (issue 3 asks for "little more than one
resolution": docs/benchmarks.md shows where that stands).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import rfa_fast
from rfa_fast import nas

SWEEP = list(range(8, 8 + 128 * 8, 8))  # 8..1024 px, 128 resolutions


@pytest.fixture(scope="module")
def cells() -> rfa_fast.GraphBatch:
    return nas.nb201_batch(nas.nb201_all()[:10_000])


@pytest.mark.benchmark(group="sweep: 10,000 NAS-Bench-201 networks, 1 vs 128 resolutions")
@pytest.mark.parametrize("resolutions", [[32], SWEEP], ids=["1 resolution", "128 resolutions"])
def test_sweep(benchmark: Any, cells: rfa_fast.GraphBatch, resolutions: list[int]) -> None:
    r = benchmark.pedantic(rfa_fast.screen, (cells, resolutions), rounds=3, iterations=1)
    assert r.n_unproductive.shape == (10_000, len(resolutions))
    # the sweep's column at 32 px is the single-resolution answer
    single = rfa_fast.screen(cells, 32)
    col = SWEEP.index(32) if len(resolutions) > 1 else 0
    np.testing.assert_array_equal(r.n_unproductive[:, col], single.n_unproductive[:, 0])
    np.testing.assert_array_equal(r.i_min, single.i_min)
