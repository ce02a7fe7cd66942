"""ScreenResult helpers: concatenation in order, the pandas table."""

from __future__ import annotations

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
    assert list(df.columns[-3:]) == ["n_dead", "macs_dead@16x16", "macs_dead@64x64"]  # appended last
    assert df["n_dead"].tolist() == [0, 0]
    # chains from the dense path have no names: no name column
    assert "name" not in rfa_fast.screen_chains([[3, 3]], [[1, 1]], resolutions=8).to_pandas().columns
