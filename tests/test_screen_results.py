"""ScreenResult helpers: concatenation in order, the pandas table."""

from __future__ import annotations

import math

import numpy as np
import pytest
from deps import import_or_skip

import rfa_fast
from rfa_fast import ScreenResult


def chains(strides: list[int]) -> ScreenResult:
    specs = [
        {
            "name": f"s{s}",
            "layers": [{"op": "input"}] + [{"op": "conv", "kernel": 3, "stride": s, "c_in": 4, "c_out": 4}] * 5,
        }
        for s in strides
    ]
    return rfa_fast.screen(specs, [16, 64])


def test_concatenate_keeps_order_and_names() -> None:
    whole = chains([1, 2, 3, 1])
    parts = ScreenResult.concatenate([chains([1]), chains([2, 3]), chains([1])])
    for f in ScreenResult.FIELDS:
        assert np.array_equal(getattr(parts, f), getattr(whole, f), equal_nan=True), f
    assert parts.names == whole.names == ["s1", "s2", "s3", "s1"]


def test_concatenate_refuses_different_resolutions() -> None:
    other = rfa_fast.screen_chains([[3]], [[1]], resolutions=[16, 32])
    with pytest.raises(ValueError, match="screened at"):
        ScreenResult.concatenate([chains([1]), other])
    with pytest.raises(ValueError, match="nothing"):
        ScreenResult.concatenate([])


def test_to_pandas() -> None:
    pd = import_or_skip("pandas", "pandas is optional: pip install pandas")
    r = chains([1, 2])
    df = r.to_pandas()
    assert isinstance(df, pd.DataFrame) and len(df) == 2
    assert df["name"].tolist() == ["s1", "s2"]
    assert df["n_unproductive@16x16"].tolist() == r.n_unproductive[:, 0].tolist()
    assert df["n_unproductive@64x64"].tolist() == r.n_unproductive[:, 1].tolist()
    assert df["i_min"].tolist() == r.i_min.tolist() and df["rf_max_1"].tolist() == r.rf_max[:, 1].tolist()
    assert df["macs@64x64"].dtype == np.int64 and df["connected"].dtype == bool
    # chains from the dense path have no names: no name column
    assert "name" not in rfa_fast.screen_chains([[3, 3]], [[1, 1]], resolutions=8).to_pandas().columns


def test_mixed_dimensionality_result_concatenate_to_dict_and_filters() -> None:
    """A result mixing 1-D and 2-D chains: rows in the input order, per-axis arrays padded with NaN, dims kept."""
    one = [{"dims": 1, "layers": [{"op": "input"}] + [{"op": "conv", "kernel": 3, "stride": 2}] * 3}]
    two = [[{"op": "input"}] + [{"op": "conv", "kernel": 3}] * 2]
    r = rfa_fast.screen(two + one + two, [8, 16])
    assert r.dims.tolist() == [2, 1, 2] and r.mixed
    assert r.rf_max.tolist()[1][0] == 15.0 and math.isnan(r.rf_max[1, 1]) and r.rf_max[0].tolist() == [5.0, 5.0]
    alone = rfa_fast.screen(one, [8, 16])
    assert r.n_unproductive[1].tolist() == alone.n_unproductive[0].tolist() and r.i_min[1] == alone.i_min[0]
    d = r.to_dict()
    assert d["dims"] == [2, 1, 2] and d["resolutions"] == [[8, 8], [16, 16]]
    assert r.mask(max_unproductive=None, i_min_at_most=alone.i_min[0]).tolist()[1]
    joined = ScreenResult.concatenate([alone, rfa_fast.screen(two, [8, 16])])
    assert joined.dims.tolist() == [1, 2] and joined.rf_max.shape == (2, 2) and math.isnan(joined.rf_max[0, 1])
    with pytest.raises(ValueError, match="part 1 was screened at"):
        ScreenResult.concatenate([alone, rfa_fast.screen(two, [(8, 4), (16, 16)])])
    with pytest.raises(rfa_fast.ResolutionError, match="1-D graphs 'candidate_1'"):
        rfa_fast.screen(two + one, [(8, 8)])
