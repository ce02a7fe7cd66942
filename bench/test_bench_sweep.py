"""Resolution sweeps: one call answers many resolutions for a whole batch.

The fields are propagated once per graph and every status rule becomes a
threshold on the resolution (csrc/rfa/thresholds.cpp), so each extra square
resolution costs a count and the map sizes of a few feature-map classes, not
a pass over the graph (issue 3: "little more than one resolution").

The baseline is what a user without the sweep would write: one ``screen``
call per resolution. Every row answers as the reference on a sample of cells,
at every resolution of the row, on every key.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pytest
from benchlib import assert_agrees, record, rounds, sized

import rfa_fast
from rfa_fast import nas, reference

SWEEP = list(range(8, 8 + 128 * 8, 8))  # 8..1024 px, 128 resolutions
SAMPLE = 20


@cache
def cells(n: int) -> rfa_fast.GraphBatch:
    return nas.nb201_batch(nas.nb201_all()[:n])


@cache
def sample_reference(resolutions: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The reference on the first cells at every resolution (from the same cells' graphs)."""
    graphs = [nas.nb201_graph(tuple(int(o) for o in row)) for row in nas.nb201_all()[:SAMPLE]]
    return reference.run_batch(graphs, [[i, i] for i in resolutions])


IMPLS = {
    "1 resolution": ([32], None, False),
    "1 resolution, 1 thread": ([32], 1, False),
    "128 resolutions": (SWEEP, None, False),
    "128 resolutions, 1 thread": (SWEEP, 1, False),
    "128 resolutions, one call each": (SWEEP, None, True),
}


@pytest.mark.benchmark(group="sweep: 10,000 NAS-Bench-201 networks, 1 vs 128 resolutions")
@pytest.mark.parametrize("impl", list(IMPLS))
def test_sweep(benchmark: Any, impl: str) -> None:
    resolutions, threads, one_by_one = IMPLS[impl]
    batch = cells(sized(benchmark, 10_000, 1_000))
    record(
        benchmark,
        f"rfa_fast.screen, {impl}",
        len(batch),
        base=impl == "1 resolution",
        single=impl == "1 resolution, 1 thread",
        resolutions=len(resolutions),
        threads=threads or "all",
    )
    if one_by_one:

        def per_resolution() -> rfa_fast.ScreenResult:
            parts = [rfa_fast.screen(batch, r) for r in resolutions]
            out = parts[0]
            for key in rfa_fast.ScreenResult.PER_RESOLUTION:
                setattr(out, key, np.concatenate([getattr(p, key) for p in parts], axis=1))
            return out

        r = benchmark.pedantic(per_resolution, rounds=rounds(benchmark, 3), iterations=1)
    else:
        r = benchmark.pedantic(
            rfa_fast.screen, (batch, resolutions), {"threads": threads}, rounds=rounds(benchmark, 3), iterations=1
        )
    assert r.n_unproductive.shape == (len(batch), len(resolutions))
    assert_agrees(r, sample_reference(tuple(resolutions)), rows=SAMPLE, who=impl)
