"""Resolution sweeps: one call answers many resolutions for a whole batch.

The fields are propagated once per graph and every status rule becomes a
threshold on the resolution (csrc/rfa/thresholds.cpp), so each extra square
resolution costs a count and the map sizes of a few feature-map classes, not
a pass over the graph (issue 3: "little more than one resolution").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from benchlib import record

import rfa_fast
from rfa_fast import nas

SWEEP = list(range(8, 8 + 128 * 8, 8))  # 8..1024 px, 128 resolutions


@pytest.fixture(scope="module")
def cells() -> rfa_fast.GraphBatch:
    return nas.nb201_batch(nas.nb201_all()[:10_000])


@pytest.mark.benchmark(group="sweep: 10,000 NAS-Bench-201 networks, 1 vs 128 resolutions")
@pytest.mark.parametrize("resolutions", [[32], SWEEP], ids=["1 resolution", "128 resolutions"])
def test_sweep(benchmark: Any, cells: rfa_fast.GraphBatch, resolutions: list[int]) -> None:
    record(
        benchmark,
        f"rfa_fast.screen, {len(resolutions)} resolution{'s' if len(resolutions) > 1 else ''}",
        len(cells),
        base=len(resolutions) == 1,
        resolutions=len(resolutions),
    )
    r = benchmark.pedantic(rfa_fast.screen, (cells, resolutions), rounds=3, iterations=1)
    assert r.n_unproductive.shape == (10_000, len(resolutions))
    # the sweep's column at 32 px is the single-resolution answer
    single = rfa_fast.screen(cells, 32)
    col = SWEEP.index(32) if len(resolutions) > 1 else 0
    np.testing.assert_array_equal(r.n_unproductive[:, col], single.n_unproductive[:, 0])
    np.testing.assert_array_equal(r.i_min, single.i_min)
