"""nas.nb201_screen (csrc/rfa/nb201.cpp) against the general core on the packed networks.

The closed-form walk must give, key by key, what rfa_fast.screen gives on
nas.nb201_batch: checked on every cell of the space, at resolutions from 1 px
(where every branch of the size rules is hit) to 1024 px, with and without
ignore_1x1, and on other skeletons (channels, classes, cells per stage).
"""

from __future__ import annotations

import numpy as np
import pytest

import rfa_fast
from rfa_fast import _core
from rfa_fast.errors import GraphError, SpecError
from rfa_fast.nas import nb201_all, nb201_batch, nb201_cell_string, nb201_screen

RES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 17, 23, 31, 32, 33, 63, 64, 77, 100, 139, 224, 1024]
KEYS = (
    "n_unproductive", "n_border", "n_critical", "n_partially_critical", "macs", "macs_unproductive",
    "i_min", "i_min_axes", "i_max", "i_max_axes", "rf_max", "connected", "aligned", "params", "n_dead", "macs_dead",
)  # fmt: skip


def assert_equal(fast: rfa_fast.ScreenResult, general: rfa_fast.ScreenResult) -> None:
    for key in KEYS:
        np.testing.assert_array_equal(getattr(fast, key), getattr(general, key), err_msg=key)


@pytest.fixture(scope="module")
def space() -> np.ndarray:
    return nb201_all()


@pytest.fixture(scope="module")
def packed(space: np.ndarray) -> rfa_fast.GraphBatch:
    return nb201_batch(space, names=False)


@pytest.mark.parametrize("ignore_1x1", [False, True])
def test_every_cell_of_the_space(space: np.ndarray, packed: rfa_fast.GraphBatch, ignore_1x1: bool) -> None:
    fast = nb201_screen(space, RES, ignore_1x1=ignore_1x1)
    assert_equal(fast, rfa_fast.screen(packed, RES, ignore_1x1=ignore_1x1))
    # Disconnected: edge 3<-0 none and no path through nodes 1 or 2. Weighting an edge present by 4 ops
    # and absent by 1: with 1<-0 present (4), 3<-1 must be absent and not (3<-2 and (2<-0 or 2<-1)):
    # 125 - 4·24 = 29 of the 125 choices of 2<-0, 2<-1, 3<-2, so 4·29 = 116; with 1<-0 absent (1),
    # 3<-1 and 2<-1 are free (5·5) and not (3<-2 and 2<-0): 25 - 16 = 9, so 225. 15,625 - 341 connected.
    assert int(fast.connected.sum()) == 15_625 - (116 + 225)


def test_without_i_min(space: np.ndarray, packed: rfa_fast.GraphBatch) -> None:
    fast = nb201_screen(space[:500], 32, i_min=False)
    assert np.isnan(fast.i_min).all()
    np.testing.assert_array_equal(fast.n_border, rfa_fast.screen(nb201_batch(space[:500]), 32).n_border)


@pytest.mark.parametrize(
    "channels, classes, per_stage",
    [((8, 24, 40), 100, 5), ((16, 32, 64), 10, 0), ((3, 5, 7), 2, 1), ((16, 32, 64), 10, 3)],
)
def test_other_skeletons(space: np.ndarray, channels: tuple[int, ...], classes: int, per_stage: int) -> None:
    sample = space[np.random.default_rng(7).choice(len(space), 600, replace=False)]
    kw = dict(channels=channels, num_classes=classes, cells_per_stage=per_stage)
    assert_equal(nb201_screen(sample, RES, **kw), rfa_fast.screen(nb201_batch(sample, **kw), RES))


def test_rectangular_resolutions_take_the_general_path(space: np.ndarray) -> None:
    sample = space[:300]
    res = [(32, 64), 32]
    assert_equal(nb201_screen(sample, res), rfa_fast.screen(nb201_batch(sample), res))


def test_strings_names_and_threads(space: np.ndarray) -> None:
    cells = [nb201_cell_string(row) for row in space[:50].tolist()]
    r = nb201_screen(cells, 32, names=True, threads=1)
    assert r.names == cells
    assert_equal(r, nb201_screen(space[:50], 32, threads=2))


def test_bad_cells_are_named() -> None:
    with pytest.raises(SpecError, match="op indices must be in 0..4"):
        nb201_screen(np.array([[0, 1, 2, 3, 4, 5]]), 32)
    with pytest.raises(SpecError, match="cell 1"):
        nb201_screen(["|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|bogus~0|"], 32)
    # the core checks its own input too: an op code past 4 names the cell and edge
    ops = np.zeros((3, 6), np.uint8)
    ops[2, 4] = 9
    with pytest.raises(GraphError, match="cell 2, edge 4: op 9"):
        _core.screen_nb201(ops, np.array([[32]], np.int64), np.array([16, 32, 64], np.int64), 10, 5)
    with pytest.raises(GraphError, match="channels"):
        _core.screen_nb201(ops[:1], np.array([[32]], np.int64), np.array([16, 0, 64], np.int64), 10, 5)
