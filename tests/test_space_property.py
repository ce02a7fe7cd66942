"""Property tests of the space engine: ``space.screen`` is ``screen`` of the materialized graphs.

That equality is the spec of :meth:`rfa_fast.Space.screen` (DESIGN.md); it
is checked key by key on random spaces (``space_strategies.py``) and random
rows, against the general engine and against the plain-Python reference,
and the core's own materialization (its fallback path) against
``Space.graph``.
"""

from __future__ import annotations

import os

import numpy as np
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from space_strategies import resolutions_for, rows_of, spaces

import rfa_fast
from rfa_fast import reference
from rfa_fast.results import ScreenResult

EXAMPLES = int(os.environ.get("RFA_FAST_PROPERTY_EXAMPLES", "400"))
PROPERTY = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same(want: ScreenResult, got: ScreenResult, what: str = "") -> None:
    for f in ScreenResult.FIELDS:
        a, b = getattr(want, f), getattr(got, f)
        assert a.dtype == b.dtype and a.shape == b.shape, f"{f}: {b.dtype}{b.shape}, expected {a.dtype}{a.shape}"
        same = np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
        if not same:
            where = np.argwhere(~((a == b) | (np.isnan(a) & np.isnan(b))) if a.dtype.kind == "f" else a != b)[0]
            raise AssertionError(f"{what}{f} differs at {where.tolist()}: space {b[tuple(where)]}, graphs {a[tuple(where)]}")


@PROPERTY
@given(spaces(), st.data(), st.booleans())
def test_space_screen_equals_screen_of_graphs(space: rfa_fast.Space, data: st.DataObject, ignore_1x1: bool) -> None:
    rows = data.draw(rows_of(space))
    res = data.draw(resolutions_for(space.dims))
    graphs = [space.graph(r) for r in rows]
    note(f"rows {rows.tolist()}, resolutions {res}, lanes {space.program.lanes}")
    note("\n".join(g.to_json() for g in graphs[:2]))
    want = rfa_fast.screen(graphs, res, ignore_1x1=ignore_1x1)
    got = space.screen(rows, res, ignore_1x1=ignore_1x1)
    assert_same(want, got)


@settings(max_examples=max(EXAMPLES // 4, 20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces(max_steps=10), st.data())
def test_space_screen_equals_reference(space: rfa_fast.Space, data: st.DataObject) -> None:
    """Against the plain-Python oracle, which shares no code with the lanes."""
    rows = data.draw(rows_of(space, max_rows=4))
    res = data.draw(resolutions_for(space.dims, max_count=2))
    graphs = [space.graph(r) for r in rows]
    want = reference.run_batch(graphs, res)
    got = space.screen(rows, res)
    for key in ("n_unproductive", "n_border", "n_critical", "macs", "macs_unproductive", "i_min", "i_max", "params"):
        np.testing.assert_array_equal(getattr(got, key), want[key], err_msg=key)
    np.testing.assert_array_equal(got.rf_max, want["graph_rf_max"])
    np.testing.assert_array_equal(got.connected, want["connected"])
    np.testing.assert_array_equal(got.aligned, want["aligned"])


@settings(max_examples=max(EXAMPLES // 4, 20), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces(), st.data())
def test_core_materializes_like_space_graph(space: rfa_fast.Space, data: st.DataObject) -> None:
    """The core's materialization (its fallback) builds the graph Space.graph builds, node for node."""
    rows = data.draw(rows_of(space, max_rows=3))
    prog = space.program
    columns = prog.columns(rows)
    for b, row in enumerate(rows):
        graph = space.graph(row)
        core = prog.core.materialize(rows, columns, b)
        mine = graph.to_arrays()
        for key in mine:
            np.testing.assert_array_equal(core[key], mine[key], err_msg=f"{key} of candidate {b}")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces(lanes_only=True), st.integers(33, 200), st.integers(0, 2**32 - 1))
def test_many_tiles_and_threads(space: rfa_fast.Space, n: int, seed: int) -> None:
    """Several tiles of lanes, one thread or two: the same as the graphs, and the same as each other."""
    rows = space.sample(n, seed=seed)
    want = rfa_fast.screen([space.graph(r) for r in rows], [16, 64])
    assert_same(want, space.screen(rows, [16, 64], threads=1))
    assert_same(want, space.screen(rows, [16, 64], threads=2))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spaces(lanes_only=True), st.data())
def test_more_resolutions_than_a_mask_holds(space: rfa_fast.Space, data: st.DataObject) -> None:
    """Over 64 resolutions the lanes run in passes of 64; the answers do not change."""
    rows = data.draw(rows_of(space, max_rows=5))
    res = [[i] * space.dims for i in range(1, 140)]
    assert_same(rfa_fast.screen([space.graph(r) for r in rows], res), space.screen(rows, res))
