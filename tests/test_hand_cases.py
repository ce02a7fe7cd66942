"""Every output key of every public fast path on networks worked out by hand.

``screen_chains`` (the dense path), ``nas.nb201_screen`` (NAS-Bench-201 in
closed form) and ``screen`` (the general core, with its per-node thresholds
for square resolutions and a pass per rectangular one) are checked on fixed
networks whose numbers are derived in the comments, key by key: all the keys
of :class:`rfa_fast.ScreenResult`, none left out.  ``rfa_fast/reference.py``
must give the same numbers on the same networks (built as graphs), so a bug
shared by a fast path and the reference fails here too.

Only the public API is used: these tests hold whatever engine answers.

Notation in the comments: ``rf`` receptive field and ``J`` jump in input
pixels; a ``k x k`` window adds ``(k-1)·J``.  A rated window (conv or pool)
is unproductive at I when (a) ``rf_min(input) >= I`` and ``rf_min(v) > I``,
or (b) its input map is at most ``k`` (docs/semantics.md).  For a square
resolution each holds for I up to a bound; ``T`` is one more than the larger
bound (unproductive for ``I < T``) and I_min is the largest T.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import rfa_fast
from rfa_fast import Graph, GraphBuilder, ScreenResult, reference
from rfa_fast.nas import nb201_graph, nb201_screen

KEYS = ScreenResult.FIELDS
NAN = math.nan


def check(got: dict[str, Any], want: dict[str, Any], who: str) -> None:
    """Every key of ScreenResult, exactly (NaN equal to NaN)."""
    assert set(want) == set(KEYS), f"the expected values must name every key: {set(KEYS) ^ set(want)}"
    for key in KEYS:
        np.testing.assert_array_equal(np.asarray(got[key]), np.asarray(want[key]), err_msg=f"{who}: {key}")


def of_screen(r: ScreenResult) -> dict[str, Any]:
    return {k: getattr(r, k) for k in KEYS}


def of_reference(graphs: Sequence[Graph], resolutions: Sequence[Any], ignore_1x1: bool = False) -> dict[str, Any]:
    dims = graphs[0].dims
    rows = [list(r) if isinstance(r, (tuple, list)) else [r] * dims for r in resolutions]
    out = reference.run_batch(list(graphs), rows, ignore_1x1=ignore_1x1)
    return {k: out["graph_rf_max" if k == "rf_max" else k] for k in KEYS}


def chain_graph(
    kernels: Sequence[Any], strides: Sequence[Any], dims: int, channels: Sequence[int] | None = None
) -> Graph:
    """A chain as ``screen_chains`` reads it with "same" padding: (k'-1)//2 before, the rest after."""
    b = GraphBuilder("chain", dims=dims)
    x = b.input()
    for i, (k, s) in enumerate(zip(kernels, strides)):
        k = tuple(k) if isinstance(k, (tuple, list)) else (k,) * dims
        pb = tuple((kk - 1) // 2 for kk in k)
        pe = tuple(kk - 1 - p for kk, p in zip(k, pb))
        ch = {} if channels is None else {"c_in": channels[i], "c_out": channels[i + 1]}
        x = b.conv(x, k, s, pad_begin=pb, pad_end=pe, **ch)
    return b.build()


# ---------------------------------------------------------------------------
# screen_chains: the dense path

# Five 3x3/2 convs, "same" padding (the map shrinks only by the stride: n -> ceil(n/2)).
#   layer        1   2   3   4   5
#   J in         1   2   4   8  16
#   rf           3   7  15  31  63   (+2J each)
#   map at 8     4   2   1   1   1   (its input's: 8, 4, 2, 1, 1)
#   map at 32   16   8   4   2   1   (its input's: 32, 16, 8, 4, 2)
# (b) holds while the input map ceil(I / J_in) <= 3, i.e. I <= 3·J_in: I <= 3, 6, 12, 24, 48.
# (a) holds for I <= min(rf(input), rf - 1): 1, 3, 7, 15, 31.  So T = 4, 7, 13, 25, 49 and I_min = 49.
# At 8: layers 3, 4, 5 are unproductive (8 < 13, 25, 49), the border is layer 3; critical (rf > 8): 15, 31, 63.
# At 32: layer 5 only (32 < 49), a border; critical: 63.
# A second chain, five 3x3/1 convs: rf 3, 5, 7, 9, 11, maps never shrink; (b) for I <= 3; (a) for
# I <= min(rf(input), rf - 1) = 1, 3, 5, 7, 9: T = 4, 4, 6, 8, 10, I_min 10.  At 8: layer 5 only
# (8 < 10), a border; critical (rf > 8): 9 and 11.
STRIDED, FLAT = ([3] * 5, [2] * 5), ([3] * 5, [1] * 5)


def test_screen_chains_one_resolution() -> None:
    """One resolution, no channels: the search-loop case (one pass per chain, counters in registers)."""
    k = [STRIDED[0], FLAT[0]]
    s = [STRIDED[1], FLAT[1]]
    want = {
        "n_unproductive": [[3], [1]],
        "n_border": [[1], [1]],
        "n_critical": [[3], [2]],
        "n_partially_critical": [[0], [0]],
        "macs": [[0], [0]],
        "macs_unproductive": [[0], [0]],
        "i_min": [49.0, 10.0],
        "i_min_axes": [[49.0, 49.0], [10.0, 10.0]],
        "i_max": [63.0, 11.0],
        "i_max_axes": [[63.0, 63.0], [11.0, 11.0]],
        "rf_max": [[63.0, 63.0], [11.0, 11.0]],
        "connected": [True, True],
        "aligned": [True, True],
        "params": [0, 0],
        "n_dead": [0, 0],
        "macs_dead": [[0], [0]],
    }
    check(of_screen(rfa_fast.screen_chains(k, s, resolutions=8)), want, "screen_chains")
    check(of_screen(rfa_fast.screen_chains(k, s, resolutions=8, threads=1)), want, "screen_chains, 1 thread")
    graphs = [chain_graph(*STRIDED, dims=2), chain_graph(*FLAT, dims=2)]
    check(of_screen(rfa_fast.screen(graphs, 8)), want, "screen")
    check(of_reference(graphs, [8]), want, "reference")


def test_screen_chains_channels_and_two_resolutions() -> None:
    """Channels 3 -> 8 -> ... -> 8 (params: 3·8·9 = 216, then 8·8·9 = 576 four times: 2,520).

    MACs = params x output map area.  At 8 px (maps 4, 2, 1, 1, 1): 216·16 + 576·4 + 576·3 = 7,488,
    of which the unproductive layers 3-5 cost 576·3 = 1,728.  At 32 px (maps 16, 8, 4, 2, 1):
    216·256 + 576·(64 + 16 + 4 + 1) = 104,256, of which layer 5 costs 576.
    """
    channels = [3, 8, 8, 8, 8, 8]
    want = {
        "n_unproductive": [[3, 1]],
        "n_border": [[1, 1]],
        "n_critical": [[3, 1]],
        "n_partially_critical": [[0, 0]],
        "macs": [[7488, 104256]],
        "macs_unproductive": [[1728, 576]],
        "i_min": [49.0],
        "i_min_axes": [[49.0, 49.0]],
        "i_max": [63.0],
        "i_max_axes": [[63.0, 63.0]],
        "rf_max": [[63.0, 63.0]],
        "connected": [True],
        "aligned": [True],
        "params": [2520],
        "n_dead": [0],
        "macs_dead": [[0, 0]],
    }
    r = rfa_fast.screen_chains([STRIDED[0]], [STRIDED[1]], resolutions=[8, 32], channels=[channels])
    check(of_screen(r), want, "screen_chains")
    graph = chain_graph(*STRIDED, dims=2, channels=channels)
    check(of_screen(rfa_fast.screen([graph], [8, 32])), want, "screen")
    check(of_reference([graph], [8, 32]), want, "reference")


def test_screen_chains_per_axis_parameters() -> None:
    """Three layers of kernel (3, 1) and stride (2, 1), "same" padding, at (8, 8) and (4, 1).

    Axis 0 is the strided chain above cut to 3 layers: rf 3, 7, 15; maps ceil(I/2), ceil(I/4),
    ceil(I/8); alone it is unproductive up to I = 3, 6, 12: I_min on axis 0 is 13.
    Axis 1 never grows: rf 1, maps I; (b) holds for I <= 1 (the map fits the 1-wide window) and
    (a) never (rf 1 > I fails): I_min on axis 1 is 2.  Both axes at once: from I = 2 the second
    axis breaks both rules, so the square I_min is 2.
    At (8, 8): nothing is unproductive (axis 1: map 8 > 1, rf 1 < 8); rf > 8 only on axis 0 of
    layer 3 (15): one partially critical node, none critical.
    At (4, 1): axis 1 meets (b) everywhere (map 1 <= 1); axis 0 meets (b) at layer 2 (input map 2)
    and 3 (1), not layer 1 (4 > 3): layers 2 and 3 are unproductive, layer 2 the border. rf > I on
    axis 0 for layers 2 (7) and 3 (15), never on axis 1 (1 > 1 fails): two partially critical.
    """
    k = np.array([[[3, 1]] * 3])
    s = np.array([[[2, 1]] * 3])
    want = {
        "n_unproductive": [[0, 2]],
        "n_border": [[0, 1]],
        "n_critical": [[0, 0]],
        "n_partially_critical": [[1, 2]],
        "macs": [[0, 0]],
        "macs_unproductive": [[0, 0]],
        "i_min": [2.0],
        "i_min_axes": [[13.0, 2.0]],
        "i_max": [15.0],
        "i_max_axes": [[15.0, 1.0]],
        "rf_max": [[15.0, 1.0]],
        "connected": [True],
        "aligned": [True],
        "params": [0],
        "n_dead": [0],
        "macs_dead": [[0, 0]],
    }
    check(of_screen(rfa_fast.screen_chains(k, s, resolutions=[(8, 8), (4, 1)])), want, "screen_chains")
    graph = chain_graph([(3, 1)] * 3, [(2, 1)] * 3, dims=2)
    check(of_screen(rfa_fast.screen([graph], [(8, 8), (4, 1)])), want, "screen")
    check(of_reference([graph], [(8, 8), (4, 1)]), want, "reference")


# ---------------------------------------------------------------------------
# nb201_screen: NAS-Bench-201 without building the networks
#
# The skeleton (channels 16, 32, 64): stem 3x3 pad 1 (3 -> 16); 5 cells; reduction 1 (conv_a 3x3/2
# pad 1 16 -> 32, conv_b 3x3 pad 1 32 -> 32; shortcut 2x2/2 avg pool then 1x1 16 -> 32; summed);
# 5 cells; reduction 2 (the same, 32 -> 64); 5 cells; global pool; dense 64 -> 10.
# Maps at I: stage 0 I; conv_a, conv_b ceil(I/2); the pool floor(I/2); their sum ceil(I/2);
# stage 2 ceil(I/4).  The pool shortcut's center is half a pixel off the conv branch's: misaligned.

ALL_SKIP, ONE_CONV, ALL_NONE = (1,) * 6, (0, 0, 0, 3, 0, 0), (0,) * 6


def test_nb201_screen_by_hand() -> None:
    """Three cells at 8, 32 and 64 px.

    All skip_connect (the skeleton alone; windows, rf_min/rf_max, T):
      stem 3, T 4 | r1.conv_a 5, T 4 ((b) I <= 3) | r1.conv_b 9, T 7 ((b) ceil(I/2) <= 3)
      r1.pool 4, T 4 | r1.1x1 4, T 4 | r1 sum 4/9
      r2.conv_a 8/13, T 7 | r2.conv_b 16/21, T 13 ((b) ceil(I/4) <= 3) | r2.pool 6/11, T 5 | r2.1x1 6/11, T 7
      I_min 13, rf_max and I_max 21.  At 8 px only r2.conv_b (8 < 13), a border; critical (rf_min > 8):
      r1.conv_b (9) and r2.conv_b (16).
      At 32 and 64 nothing.  Params: 432 + 4,608 + 9,216 + 512 + 18,432 + 36,864 + 2,048 + 640 (dense)
      = 72,752.  MACs at 32 (areas 1024, 256, 64): 432·1024 + (4,608 + 9,216 + 512)·256
      + (18,432 + 36,864 + 2,048)·64 + 640 = 7,783,040; at 8 (areas 64, 16, 4): 487,040, of which
      r2.conv_b 36,864·4 = 147,456 unproductive; at 64 (areas 4096, 1024, 256) the same sum.
    Only the 0 -> 3 conv (each cell is one 3x3 conv pad 1 after its input; nodes 1 and 2 are empty sums):
      stage 0 convs rf 5, 7, 9, 11, 13 (T = min(rf in, rf - 1) + 1 = 4, 6, 8, 10, 12)
      r1: conv_a 15 (T 14), conv_b 19 (T 16), pool 14 (T 14), 1x1 14 (T 14), sum 14/19
      stage 1 convs rf_min 18..34, rf_max 23..39 (+4 each; T = 15, 19, 23, 27, 31)
      r2: conv_a 38/43 (T 35), conv_b 46/51 (T 39), pool 36/41 (T 35), 1x1 36/41 (T 36), sum 36/51
      stage 2 convs rf_min 44..76, rf_max 59..91 (+8 each; T = 37, 45, 53, 61, 69)
      I_min 69, rf_max and I_max 91.
      At 32: r2's four windows and the five stage-2 convs (T > 32): 9 unproductive; borders r2.conv_a and
      r2.pool (their nearest window, stage 1's last conv, has T 31).  Critical (rf_min > 32): stage 1's
      last conv and its sum (34), r2's five nodes, stage 2's five convs and five sums: 17.
      At 64: the last conv (T 69), a border; critical: stage 2's last two convs and sums (68, 76): 4.
      At 8: every window with T > 8: stage 0's last two convs (T 10, 12), r1's four, stage 1's five,
      r2's four, stage 2's five: 20; the border is stage 0's fourth conv (its nearest window, the third,
      has T 8).  Critical (rf_min > 8): stage 0's last three convs and their sums (9, 11, 13), r1's five
      nodes (>= 14), stage 1's ten, r2's five, stage 2's ten: 36.
      Params: 432 + 5·2,304 + 14,336 + 5·9,216 + 57,344 + 5·36,864 + 640 = 314,672.
      MACs at 32: 432·1024 + 11,520·1024 + 14,336·256 + 46,080·256 + 57,344·64 + 184,320·64 + 640
      = 43,172,480; unproductive at 32: r2 (18,432 + 36,864 + 2,048)·64 + stage 2 184,320·64
      = 15,466,496; at 8 (areas 64, 16, 4): stage 0's two 2,304·64, then r1, stage 1, r2 and stage 2
      whole; at 64 (4096, 1024, 256): the last conv, 36,864·256.
    All none: node 3 of every cell is an empty sum, so everything after the stem is disconnected:
      connected False, I_min NaN; params 432 (the stem), MACs 432·I².  The stem feeds only none
      edges: no output is reachable from it (nor from the input), it is dead (n_dead 1, its MACs
      macs_dead), so no live node is left: rf_max and I_max NaN.
    """
    res = [8, 32, 64]
    skip_macs = [487040, 7783040, 432 * 4096 + 14336 * 1024 + 57344 * 256 + 640]
    conv_macs_8 = 432 * 64 + 11520 * 64 + 14336 * 16 + 46080 * 16 + 57344 * 4 + 184320 * 4 + 640
    conv_macs_64 = 432 * 4096 + 11520 * 4096 + 14336 * 1024 + 46080 * 1024 + 57344 * 256 + 184320 * 256 + 640
    conv_unprod_8 = 2304 * 2 * 64 + 14336 * 16 + 46080 * 16 + 57344 * 4 + 184320 * 4
    want = {
        "n_unproductive": [[1, 0, 0], [20, 9, 1], [0, 0, 0]],
        "n_border": [[1, 0, 0], [1, 2, 1], [0, 0, 0]],
        "n_critical": [[2, 0, 0], [36, 17, 4], [0, 0, 0]],
        "n_partially_critical": [[0, 0, 0]] * 3,
        "macs": [skip_macs, [conv_macs_8, 43172480, conv_macs_64], [432 * 64, 432 * 1024, 432 * 4096]],
        "macs_unproductive": [[147456, 0, 0], [conv_unprod_8, 15466496, 36864 * 256], [0, 0, 0]],
        "i_min": [13.0, 69.0, NAN],
        "i_min_axes": [[13.0, 13.0], [69.0, 69.0], [NAN, NAN]],
        "i_max": [21.0, 91.0, NAN],
        "i_max_axes": [[21.0, 21.0], [91.0, 91.0], [NAN, NAN]],
        "rf_max": [[21.0, 21.0], [91.0, 91.0], [NAN, NAN]],
        "connected": [True, True, False],
        "aligned": [False, False, True],
        "params": [72752, 314672, 432],
        "n_dead": [0, 0, 1],
        "macs_dead": [[0, 0, 0], [0, 0, 0], [432 * 64, 432 * 1024, 432 * 4096]],
    }
    cells = [ALL_SKIP, ONE_CONV, ALL_NONE]
    check(of_screen(nb201_screen(cells, res)), want, "nb201_screen")
    check(of_screen(nb201_screen(cells, res, threads=1)), want, "nb201_screen, 1 thread")
    graphs = [nb201_graph(c) for c in cells]
    check(of_screen(rfa_fast.screen(graphs, res)), want, "screen")
    check(of_reference(graphs, res), want, "reference")


# ---------------------------------------------------------------------------
# screen: the general core


def border_through_resize() -> Graph:
    """conv 3x3/2 pad 1 (3 -> 4) -> conv 3x3 pad 1 (4 -> 4) -> nearest x2 -> conv 3x3 pad 1 (4 -> 4)."""
    b = GraphBuilder("border_through_resize")
    x = b.conv(b.input(), 3, 2, pad=1, c_in=3, c_out=4, name="c1")
    x = b.conv(x, 3, pad=1, c_in=4, c_out=4, name="c2")
    x = b.resize(x, 2, "nearest", name="up")
    b.conv(x, 3, pad=1, c_in=4, c_out=4, name="c3")
    return b.build()


def test_screen_border_through_a_resize() -> None:
    """The border walk looks through a resize: c3 follows unproductive c2, so it is not a border again.

    Fields: c1 3 (J 2), c2 7 (J 2), up 7 (J 1), c3 9: after the x2 a 3x3 spans three fine units, two
    coarse c2 units 2 px apart: 7 + 2 = 9.  Maps: c1 = c2 = ceil(I/2), up = c3 = 2·ceil(I/2).
    T: c1 4 ((b) I <= 3); c2 7 ((b) ceil(I/2) <= 3); c3 8 ((a) rf(up) 7 >= I and 9 > I up to 7;
    (b) only for I <= 2).  I_min 8, rf_max and I_max 9.
    At 4: c2 and c3 unproductive, c2 the border; critical (rf_min > 4): c2, up, c3.
    At 8: nothing unproductive; critical: c3.
    At (4, 8): c2 fails (b) on axis 1 (map 4 > 3) and (a) on axis 0 (3 < 4); c3 fails (a) on axis 1
    (7 < 8) and (b) (maps 4 and 8): none; c3 is critical (9 > 4, 9 > 8), c2 and up partially (7 > 4, 7 < 8).
    At (4, 5): maps on axis 1 are 3, 3, 6, 6: c2 meets (b) on both axes, c3 (a) on both: 2 unproductive,
    c2 the border; critical c2, up, c3.
    Params 4·3·9 + 4·4·9 + 4·4·9 = 396; MACs = params x own map area:
      4: 108·4 + 144·4 + 144·16 = 3,312 (unproductive 576 + 2,304 = 2,880); 8: 108·16 + 144·16 + 144·64 = 13,248;
      (4, 8): 108·8 + 144·8 + 144·32 = 6,624; (4, 5): 108·6 + 144·6 + 144·24 = 4,968 (unproductive 4,320).
    """
    res = [4, 8, (4, 8), (4, 5)]
    want = {
        "n_unproductive": [[2, 0, 0, 2]],
        "n_border": [[1, 0, 0, 1]],
        "n_critical": [[3, 1, 1, 3]],
        "n_partially_critical": [[0, 0, 2, 0]],
        "macs": [[3312, 13248, 6624, 4968]],
        "macs_unproductive": [[2880, 0, 0, 4320]],
        "i_min": [8.0],
        "i_min_axes": [[8.0, 8.0]],
        "i_max": [9.0],
        "i_max_axes": [[9.0, 9.0]],
        "rf_max": [[9.0, 9.0]],
        "connected": [True],
        "aligned": [True],
        "params": [396],
        "n_dead": [0],
        "macs_dead": [[0, 0, 0, 0]],
    }
    g = border_through_resize()
    check(of_screen(rfa_fast.screen([g], res)), want, "screen")
    check(of_reference([g], res), want, "reference")
    rep = rfa_fast.analyze(g, 4)  # one pass, per node
    assert [layer.status for layer in rep.layers] == ["ok", "ok", "border", "critical", "unproductive"]
    assert rep.summary["border_layers"] == ["c2"] and rep.summary["n_unproductive"] == 2
    assert [layer.rf_max for layer in rep.layers] == [(1, 1), (3, 3), (7, 7), (7, 7), (9, 9)]
    assert [layer.fmap for layer in rep.layers] == [(4, 4), (2, 2), (2, 2), (4, 4), (4, 4)]


def test_screen_reduction_block() -> None:
    """NAS-Bench-201's reduction without its 1x1: a = conv 3x3/2 pad 1 (3 -> 8), b = pool 2x2/2, m = a + b,
    c = conv 3x3 pad 1 (8 -> 8) on m.

    Fields: a 3 (J 2, center 0), b 2 (J 2, center 1/2: misaligned), m 2/3, c 6/7.  Maps: a ceil(I/2),
    b floor(I/2), m their larger, ceil(I/2); c ceil(I/2).  T: a 4, b 3 ((b) I <= 2), c 7 ((b) holds
    while m's map ceil(I/2) <= 3, and the smallest I at which the sum reaches 4 is the smaller of the
    branches' (7 for a, 8 for b): I <= 6; (a) only I <= 2).  I_min 7, rf_max and I_max 7.
    At 5 and 6: c unproductive, a border (a and b are productive); critical (rf_min > I): c at 5 only.
    Params 8·3·9 + 8·8·9 = 792; MACs: 5 and 6 (maps 3): 216·9 + 576·9 = 7,128 (c: 5,184);
    7 (maps 4): 216·16 + 576·16 = 12,672.
    """
    b = GraphBuilder("reduction")
    x = b.input()
    m = b.add(b.conv(x, 3, 2, pad=1, c_in=3, c_out=8), b.pool(x, 2, 2))
    b.conv(m, 3, pad=1, c_in=8, c_out=8)
    g = b.build()
    res = [5, 6, 7]
    want = {
        "n_unproductive": [[1, 1, 0]],
        "n_border": [[1, 1, 0]],
        "n_critical": [[1, 0, 0]],
        "n_partially_critical": [[0, 0, 0]],
        "macs": [[7128, 7128, 12672]],
        "macs_unproductive": [[5184, 5184, 0]],
        "i_min": [7.0],
        "i_min_axes": [[7.0, 7.0]],
        "i_max": [7.0],
        "i_max_axes": [[7.0, 7.0]],
        "rf_max": [[7.0, 7.0]],
        "connected": [True],
        "aligned": [False],
        "params": [792],
        "n_dead": [0],
        "macs_dead": [[0, 0, 0]],
    }
    check(of_screen(rfa_fast.screen([g], res)), want, "screen")
    check(of_reference([g], res), want, "reference")


def test_screen_decoder() -> None:
    """conv 3x3/2 pad 1 (3 -> 8), pool 2x2/2, transposed 4x4/2 pad 1 (8 -> 8), conv 3x3 pad 1 (8 -> 8).

    Fields: conv 3 (J 2), pool 5 (J 4), transposed: J 4/2 = 2, rf 5 + (ceil(4/2) - 1)·4 = 9;
    the 3x3 after it reads three fine units, which hold three pool units: 5 + 2·4 = 13.
    Maps: conv ceil(I/2), pool floor(ceil(I/2)/2), transposed (n-1)·2 - 2 + 4 = 2n, the 3x3 the same.
    T: conv 4, pool 5 ((b) ceil(I/2) <= 2, (a) I <= 3), transposed 19 ((b) its input map,
    floor(ceil(I/2)/2), is at most k' = 4 up to I = 18), last conv 10 ((a) rf 9 >= I and 13 > I).
    I_min 19; rf_max and I_max 13.
    At 8 (maps 4, 2, 4, 4): transposed and last conv unproductive, the transposed the border;
    critical: 9 and 13 > 8.  At 16 (8, 4, 8, 8): the transposed only, a border; none critical.
    Params: 8·3·9 = 216, transposed c_in·c_out·16 = 1,024, 8·8·9 = 576: 1,816.
    MACs: windows params x own map, the transposed params x its input map:
    8: 216·16 + 1,024·4 + 576·16 = 16,768 (unproductive 4,096 + 9,216 = 13,312);
    16: 216·64 + 1,024·16 + 576·64 = 67,072 (unproductive 16,384).
    """
    b = GraphBuilder("decoder")
    x = b.conv(b.input(), 3, 2, pad=1, c_in=3, c_out=8)
    x = b.pool(x, 2, 2)
    x = b.transposed(x, 4, 2, pad=1, c_in=8, c_out=8)
    b.conv(x, 3, pad=1, c_in=8, c_out=8)
    g = b.build()
    want = {
        "n_unproductive": [[2, 1]],
        "n_border": [[1, 1]],
        "n_critical": [[2, 0]],
        "n_partially_critical": [[0, 0]],
        "macs": [[16768, 67072]],
        "macs_unproductive": [[13312, 16384]],
        "i_min": [19.0],
        "i_min_axes": [[19.0, 19.0]],
        "i_max": [13.0],
        "i_max_axes": [[13.0, 13.0]],
        "rf_max": [[13.0, 13.0]],
        "connected": [True],
        "aligned": [True],
        "params": [1816],
        "n_dead": [0],
        "macs_dead": [[0, 0]],
    }
    check(of_screen(rfa_fast.screen([g], [8, 16])), want, "screen")
    check(of_reference([g], [8, 16]), want, "reference")
    rep = rfa_fast.analyze(g, 8)
    assert [layer.jump for layer in rep.layers] == [(1, 1), (2, 2), (4, 4), (2, 2), (2, 2)]
    assert [layer.rf_max for layer in rep.layers] == [(1, 1), (3, 3), (5, 5), (9, 9), (13, 13)]


def tie_break() -> Graph:
    """1-D: a = nearest x2 then k2; b = k2 then nearest x2; their sum; a k2 after it."""
    b = GraphBuilder("tie_break", dims=1)
    x = b.input("x")
    a = b.conv(b.resize(x, 2, "nearest", name="a_up"), 2, name="a_k2")
    c = b.resize(b.conv(x, 2, name="b_k2"), 2, "nearest", name="b_up")
    b.conv(b.add(a, c, name="m"), 2, name="after")
    return b.build()


def test_screen_merge_tie_after_upsampling() -> None:
    """Both inputs of the sum have field 2 (tests/test_reference_rules.py works out the footprints);
    after the last k2 the path through a has 2 and the one through b 3: rf_min 2, rf_max 3.

    Maps: a_up 2I, a_k2 2I - 1, b_k2 I - 1, b_up 2I - 2, sum 2I - 1, after 2I - 2.
    T: a_k2 2 ((b) 2I <= 2), b_k2 3 ((b) I <= 2), after 2 ((a) rf_min 2 >= I and 2 > I: I = 1).
    I_min 3; rf_max and I_max 3.  At 1: all three windows unproductive, a_k2 and b_k2 borders; five
    nodes have rf_min 2 > 1 (a_k2, b_k2, b_up, the sum, after).  At 2: b_k2 only, a border; none critical.
    The centers differ (a_k2 1/4, b_up 1/2): misaligned.
    """
    g = tie_break()
    want = {
        "n_unproductive": [[3, 1]],
        "n_border": [[2, 1]],
        "n_critical": [[5, 0]],
        "n_partially_critical": [[0, 0]],
        "macs": [[0, 0]],
        "macs_unproductive": [[0, 0]],
        "i_min": [3.0],
        "i_min_axes": [[3.0]],
        "i_max": [3.0],
        "i_max_axes": [[3.0]],
        "rf_max": [[3.0]],
        "connected": [True],
        "aligned": [False],
        "params": [0],
        "n_dead": [0],
        "macs_dead": [[0, 0]],
    }
    check(of_screen(rfa_fast.screen([g], [1, 2])), want, "screen")
    check(of_reference([g], [1, 2]), want, "reference")
    rep = rfa_fast.analyze(g, 2)
    assert rep.layer("after").rf_min == (2,) and rep.layer("after").rf_max == (3,)


@pytest.mark.parametrize("n, pool_map", [(3, 2), (4, 2), (5, 3), (6, 3)])
def test_screen_ceil_mode_drops_a_window_starting_in_the_end_pad(n: int, pool_map: int) -> None:
    """1-D: pool 2/2 with pads (0, 1) in ceil mode, then a k2 conv.

    The pool's windows start at 0, 2, 4, ... of the padded input (n + 1 long); ceil mode keeps one
    more window past the last whole one, but not one that starts at n or later (in the end pad).
    n = 4: windows at 0 and 2 are whole, the next starts at 4 = n: dropped, 2 units (not 3).
    In all: ceil(n/2).  The k2 then sees ceil(n/2) units: (b) while ceil(I/2) <= 2, i.e. I <= 4;
    (a) rf 2 >= I and 4 > I for I <= 2: T = 5.  The pool: (b) I <= 2: T = 3.  I_min 5.
    At n = 3, 4 only the conv is unproductive (a border); at 5, 6 nothing.  rf: pool 2, conv 4 (J 2):
    the conv is critical at 3.
    """
    b = GraphBuilder("ceil", dims=1)
    p = b.pool(b.input(), 2, 2, pad_begin=0, pad_end=1, ceil_mode=True, name="pool")
    b.conv(p, 2, name="conv")
    g = b.build()
    unproductive = 1 if n <= 4 else 0
    want = {
        "n_unproductive": [[unproductive]],
        "n_border": [[unproductive]],
        "n_critical": [[1 if n < 4 else 0]],
        "n_partially_critical": [[0]],
        "macs": [[0]],
        "macs_unproductive": [[0]],
        "i_min": [5.0],
        "i_min_axes": [[5.0]],
        "i_max": [4.0],
        "i_max_axes": [[4.0]],
        "rf_max": [[4.0]],
        "connected": [True],
        "aligned": [True],
        "params": [0],
        "n_dead": [0],
        "macs_dead": [[0]],
    }
    check(of_screen(rfa_fast.screen([g], n)), want, "screen")
    check(of_reference([g], [n]), want, "reference")
    assert rfa_fast.analyze(g, n).layer("pool").fmap == (pool_map,)
    assert reference.run_graph(g, [[n]])["fmap"][0, 1, 0] == pool_map


def test_screen_disconnected_graph() -> None:
    """A conv (3 -> 4) and then a constant sum (no inputs): the output is not connected.

    I_min NaN; the conv still costs 4·3·9 = 108 params, 108·I² MACs. It feeds nothing: dead
    (n_dead 1, its MACs macs_dead), so it is neither unproductive nor critical at 2 (where a live
    one would be both: map 2 <= 3, rf 3 > 2), and no live node has a field: rf_max, I_max NaN.
    """
    g = Graph.from_spec(
        [{"op": "input"}, {"op": "conv", "kernel": 3, "pad": 1, "c_in": 3, "c_out": 4}, {"op": "merge", "inputs": []}]
    )
    want = {
        "n_unproductive": [[0, 0]],
        "n_border": [[0, 0]],
        "n_critical": [[0, 0]],
        "n_partially_critical": [[0, 0]],
        "macs": [[432, 6912]],
        "macs_unproductive": [[0, 0]],
        "i_min": [NAN],
        "i_min_axes": [[NAN, NAN]],
        "i_max": [NAN],
        "i_max_axes": [[NAN, NAN]],
        "rf_max": [[NAN, NAN]],
        "connected": [False],
        "aligned": [True],
        "params": [108],
        "n_dead": [1],
        "macs_dead": [[432, 6912]],
    }
    check(of_screen(rfa_fast.screen([g], [2, 8])), want, "screen")
    check(of_reference([g], [2, 8]), want, "reference")


# ---------------------------------------------------------------------------
# Dead branches (issue 17): nodes from which no graph output is reachable

DEAD_CELL = "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|none~2|"


def test_nb201_dead_branch_by_hand() -> None:
    """The conv 2<-0 of this cell feeds node 2, which feeds only a none edge: dead in all 15 cells.

    Live: node 3 = node 0 (skip), so the network is the skeleton with skipping cells, as ALL_SKIP:
    rf_max = I_max = 21 (r2.conv_b), I_min 13; at 8 px r2.conv_b is unproductive (a border) and
    critical with r1.conv_b.  Counted as live, the stage-2 dead conv (input rf 21, jump 4) would
    give rf_max 29.  Dead: the 15 convs (n_dead 15), their sums (node 2) and the empty node 1.
    Each dead conv costs c·c·9 (c = 16, 32, 64) on its stage's map (I, I/2, I/4 at 32: 32, 16, 8):
    macs_dead at 32 = 5·9·(16²·32² + 32²·16² + 64²·8²) = 45·786,432 = 35,389,440;
    at 8 (maps 8, 4, 2): 5·9·(16²·64 + 32²·16 + 64²·4) = 45·49,152 = 2,211,840.
    Totals: the skeleton's (ALL_SKIP) plus the dead convs: params 72,752 + 5·9·(256 + 1,024 + 4,096).
    """
    res = [8, 32]
    dead_params = 5 * 9 * (256 + 1024 + 4096)
    want = {
        "n_unproductive": [[1, 0]],
        "n_border": [[1, 0]],
        "n_critical": [[2, 0]],
        "n_partially_critical": [[0, 0]],
        "macs": [[487040 + 2211840, 7783040 + 35389440]],
        "macs_unproductive": [[147456, 0]],
        "i_min": [13.0],
        "i_min_axes": [[13.0, 13.0]],
        "i_max": [21.0],
        "i_max_axes": [[21.0, 21.0]],
        "rf_max": [[21.0, 21.0]],
        "connected": [True],
        "aligned": [False],
        "params": [72752 + dead_params],
        "n_dead": [15],
        "macs_dead": [[2211840, 35389440]],
    }
    check(of_screen(nb201_screen([DEAD_CELL], res)), want, "nb201_screen")
    g = nb201_graph(DEAD_CELL)
    check(of_screen(rfa_fast.screen([g], res)), want, "screen")
    check(of_reference([g], res), want, "reference")
    from rfa_fast.nas import nb201_space

    check(of_screen(nb201_space().screen(np.array([[0, 3, 0, 1, 0, 0]]), res)), want, "nb201_space")
    rep = rfa_fast.analyze(g, 32)
    dead = rep.dead
    assert len(dead) == 15 * 3 and "stage2.cell4.edge2<-0.nor_conv_3x3" in dead  # conv, node 2, node 1 per cell
    assert rep.layer("stage2.cell4.edge2<-0.nor_conv_3x3").rf_max == (29.0, 29.0)  # its own field is kept
    assert rep.summary["rf_max"] == [21.0, 21.0] and rep.summary["n_dead"] == 15
    assert rep.summary["macs_dead"] == 35389440


def test_dead_branch_and_named_outputs_by_hand() -> None:
    """input -> a 3x3 -> b 3x3 (the output); a -> c 5x5 (dead); c -> d 3x3/2 pool (dead).

    Live fields: a 3, b 5; dead: c 7, d 9 (not counted). b: (a) rf(a) 3 >= I and 5 > I for I <= 3,
    (b) map(a) = I - 2 <= 3 for I <= 5: T 6; a: (b) for I <= 3: T 4. I_min 6. At 4 px b is
    unproductive, a border, and critical (5 > 4). Params: a 1·2·9 = 18, b 2·2·9 = 36, c 2·2·25 = 100.
    MACs at 4 (maps a 2, b 0, c 0): 72; at 10 (maps 8, 6, 4): 18·64 + 36·36 + 100·16, of which
    c's 1,600 dead. With d also an output, nothing is dead and d (rf 9) sets rf_max and I_max.
    """
    b = GraphBuilder("side")
    x = b.input()
    a = b.conv(x, 3, c_in=1, c_out=2, name="a")
    out = b.conv(a, 3, c_in=2, c_out=2, name="b")
    c = b.conv(a, 5, c_in=2, c_out=2, name="c")
    d = b.pool(c, 3, 2, name="d")
    nodes = b.build().nodes
    want = {
        "n_unproductive": [[1, 0]],
        "n_border": [[1, 0]],
        "n_critical": [[1, 0]],
        "n_partially_critical": [[0, 0]],
        "macs": [[72, 18 * 64 + 36 * 36 + 100 * 16]],
        "macs_unproductive": [[0, 0]],
        "i_min": [6.0],
        "i_min_axes": [[6.0, 6.0]],
        "i_max": [5.0],
        "i_max_axes": [[5.0, 5.0]],
        "rf_max": [[5.0, 5.0]],
        "connected": [True],
        "aligned": [True],
        "params": [18 + 36 + 100],
        "n_dead": [2],
        "macs_dead": [[0, 100 * 16]],
    }
    g = Graph(nodes, name="side", outputs=[out])
    check(of_screen(rfa_fast.screen([g], [4, 10])), want, "screen")
    check(of_reference([g], [4, 10]), want, "reference")
    rep = rfa_fast.analyze(g, 4)
    assert [la.status for la in rep.layers] == ["ok", "ok", "border", "dead", "dead"]
    # both heads are outputs: nothing is dead, d (rf 9, jump 2) sets rf_max and I_max
    both = Graph(nodes, name="side", outputs=[out, d])
    r = rfa_fast.screen([both], [4, 10])
    ref = of_reference([both], [4, 10])
    assert r.n_dead.tolist() == [0] and r.rf_max.tolist() == [[9.0, 9.0]] and r.i_max.tolist() == [9.0]
    for key in KEYS:
        np.testing.assert_array_equal(getattr(r, key), ref[key], err_msg=key)
    assert rfa_fast.analyze(both, 4).summary["n_dead"] == 0
    assert "output" in both.to_arrays() and "output" not in b.build().to_arrays()
