"""The dense chain path gives exactly what the sparse core gives on the same chains."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rfa_fast
from rfa_fast import GraphBatch, GraphBuilder

KEYS = ("n_unproductive", "n_border", "n_critical", "n_partially_critical", "macs", "macs_unproductive", "params")
FLOAT_KEYS = ("i_min", "i_min_axes", "i_max", "i_max_axes", "rf_max")


def as_graphs(k, s, d, pb, pe, ch):  # type: ignore[no-untyped-def]
    graphs = []
    B, L, D = k.shape
    for b in range(B):
        g = GraphBuilder(f"c{b}", dims=D)
        x = g.input()
        for layer in range(L):
            x = g.conv(
                x,
                tuple(k[b, layer]),
                tuple(s[b, layer]),
                dilation=tuple(d[b, layer]),
                pad_begin=tuple(pb[b, layer]),
                pad_end=tuple(pe[b, layer]),
                c_in=0 if ch is None else int(ch[b, layer]),
                c_out=0 if ch is None else int(ch[b, layer + 1]),
            )
        graphs.append(g.build())
    return graphs


@st.composite
def chain_batches(draw):  # type: ignore[no-untyped-def]
    B = draw(st.integers(1, 6))
    L = draw(st.integers(1, 12))
    D = draw(st.integers(1, 3))
    shape = (B, L, D)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    k = rng.choice([1, 2, 3, 5, 7], size=shape).astype(np.int32)
    s = rng.choice([1, 1, 2, 3], size=shape).astype(np.int32)
    d = rng.choice([1, 1, 2], size=shape).astype(np.int32)
    pb = rng.integers(0, 4, size=shape).astype(np.int32)
    pe = rng.integers(0, 4, size=shape).astype(np.int32)
    ch = rng.integers(1, 9, size=(B, L + 1)) if draw(st.booleans()) else None
    res = rng.integers(1, 300, size=(draw(st.integers(1, 4)), D))
    return k, s, d, pb, pe, ch, res, draw(st.booleans())


@settings(max_examples=150, deadline=None)
@given(chain_batches())
def test_dense_equals_sparse(case) -> None:  # type: ignore[no-untyped-def]
    k, s, d, pb, pe, ch, res, ignore_1x1 = case
    dense = rfa_fast.screen_chains(k, s, d, res, padding=(pb, pe), channels=ch, ignore_1x1=ignore_1x1)
    sparse = rfa_fast.screen(GraphBatch.from_graphs(as_graphs(k, s, d, pb, pe, ch)), res, ignore_1x1=ignore_1x1)
    for key in KEYS:
        np.testing.assert_array_equal(getattr(dense, key), getattr(sparse, key), err_msg=key)
    for key in FLOAT_KEYS:
        np.testing.assert_array_equal(getattr(dense, key), getattr(sparse, key), err_msg=key)


def test_isotropic_shortcut_matches_per_axis_arrays() -> None:
    rng = np.random.default_rng(3)
    k = rng.choice([1, 3, 5], size=(200, 15))
    s = rng.choice([1, 2], size=(200, 15))
    flat = rfa_fast.screen_chains(k, s, resolutions=[16, 64])
    full = rfa_fast.screen_chains(np.repeat(k[:, :, None], 2, 2), np.repeat(s[:, :, None], 2, 2), resolutions=[16, 64])
    for key in KEYS + FLOAT_KEYS:
        np.testing.assert_array_equal(getattr(flat, key), getattr(full, key), err_msg=key)


def test_same_padding_default() -> None:
    # "same": the map shrinks only by the stride, so 3x3/2 convs: 32 -> 16 -> 8 -> 4
    r = rfa_fast.screen_chains([[3, 3, 3]], [[2, 2, 2]], resolutions=32, channels=[[1, 1, 1, 1]])
    # MACs = 9 * (16^2 + 8^2 + 4^2)
    assert r.macs[0, 0] == 9 * (256 + 64 + 16)
    assert r.rf_max[0].tolist() == [15.0, 15.0]


def test_chain_errors_name_candidate_and_layer() -> None:
    k = np.full((3, 4), 3)
    s = np.ones((3, 4), int)
    s[2, 1] = 0
    try:
        rfa_fast.screen_chains(k, s, resolutions=32)
    except rfa_fast.GraphError as e:
        assert "candidate 2, layer 1: stride is 0" in str(e)
        assert e.graph_index == 2 and e.node_index == 1
    else:
        raise AssertionError("stride 0 was accepted")


@settings(max_examples=60, deadline=None)
@given(chain_batches())
def test_i_min_is_the_smallest_resolution_without_unproductive_layers(case) -> None:  # type: ignore[no-untyped-def]
    """Brute force: every square resolution from 1 to past I_min."""
    k, s, d, pb, pe, ch, res, ignore_1x1 = case
    r = rfa_fast.screen_chains(k[:1], s[:1], d[:1], 8, padding=(pb[:1], pe[:1]), ignore_1x1=ignore_1x1)
    i_min = r.i_min[0]
    if not i_min <= 20000:  # too far for a sweep: the field alone must still be unproductive there
        r2 = rfa_fast.screen_chains(k[:1], s[:1], d[:1], 20000, padding=(pb[:1], pe[:1]), ignore_1x1=ignore_1x1)
        assert r2.n_unproductive[0, 0] > 0
        return
    top = int(i_min) + 50
    sweep = rfa_fast.screen_chains(
        k[:1], s[:1], d[:1], np.arange(1, top), padding=(pb[:1], pe[:1]), ignore_1x1=ignore_1x1
    )
    bad = np.nonzero(sweep.n_unproductive[0])[0]
    expected = 1 if bad.size == 0 else int(bad[-1]) + 2  # resolutions start at 1
    assert i_min == expected


@pytest.mark.parametrize("shape", [(0, 4), (0, 4, 2), (3, 0)])
def test_empty_batches_and_empty_chains(shape: tuple[int, ...]) -> None:
    # zero candidates (a helper's finding: numpy cannot reshape (0, -1)) and zero layers (only the input)
    k = np.full(shape, 3)
    r = rfa_fast.screen_chains(
        k, np.ones(shape, int), resolutions=[32, 64], channels=np.ones(shape[:1] + (shape[1] + 1,), int)
    )
    assert r.n_unproductive.shape == (shape[0], 2)
    assert r.i_min.shape == (shape[0],)
    assert len(r) == shape[0]
    if shape[0]:
        assert (r.n_unproductive == 0).all() and (r.macs == 0).all()
        np.testing.assert_array_equal(r.rf_max, 1)  # the input alone
