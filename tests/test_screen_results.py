"""ScreenResult helpers: concatenation in order, the pandas table."""

from __future__ import annotations

import io
import json
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
    assert list(df.columns[-3:]) == ["n_dead", "macs_dead@16x16", "macs_dead@64x64"]  # appended last
    assert df["n_dead"].tolist() == [0, 0]
    # chains from the dense path have no names: no name column
    assert "name" not in rfa_fast.screen_chains([[3, 3]], [[1, 1]], resolutions=8).to_pandas().columns


def _random_result(rng: np.random.Generator, B: int, R: int, D: int, names: bool) -> ScreenResult:
    """Arrays of every dtype and shape of ScreenResult, with inf, NaN, big ints and fractional floats."""
    raw: dict[str, np.ndarray] = {}
    assert ScreenResult.PER_RESOLUTION == (*ScreenResult.FIELDS[:6], "macs_dead")
    for f in ScreenResult.PER_RESOLUTION:
        raw[f] = rng.integers(0, 2**40 if f.startswith("macs") else 50, size=(B, R), dtype=np.int64)
    for f in ("i_min", "i_max"):
        raw[f] = rng.choice([np.inf, np.nan, 3.0, 224.5, 1e9], size=B)
    for f in ("i_min_axes", "i_max_axes", "graph_rf_max"):
        raw[f] = rng.choice([np.inf, 519.0, 17.25, 1.0], size=(B, D))
    raw["connected"] = rng.random(B) < 0.8
    raw["aligned"] = rng.random(B) < 0.5
    raw["params"] = rng.integers(0, 2**50, size=B, dtype=np.int64)
    raw["n_dead"] = rng.integers(0, 5, size=B, dtype=np.int64)
    res = rng.integers(1, 500, size=(R, D), dtype=np.int64)
    return ScreenResult(raw, res, [f"net{b}" for b in range(B)] if names else None)


def _per_row_dict(r: ScreenResult) -> dict:
    """The old formulation, one Python value per candidate: the oracle of the columnar conversion."""
    d: dict = {}
    for f in ScreenResult.FIELDS:
        a = getattr(r, f)
        py = bool if a.dtype == bool else int if a.dtype.kind == "i" else float
        d[f] = [[py(x) for x in row] if a.ndim == 2 else py(row) for row in a]
    d["dims"] = [int(x) for x in r.dims]
    d["resolutions"] = [[int(x) for x in row] for row in r.resolutions]
    if r.names is not None:
        d["names"] = list(r.names)
    return d


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN, and the same Python types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[call-overload]
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    return a == b


@pytest.mark.parametrize("seed", range(6))
def test_to_dict_and_to_json_equal_the_per_row_formulation(seed: int) -> None:
    from rfa_fast.report import _inf_to_none

    rng = np.random.default_rng(seed)
    r = _random_result(rng, int(rng.integers(0, 40)), int(rng.integers(1, 4)), int(rng.integers(1, 4)), seed % 2 == 0)
    old = _per_row_dict(r)
    assert _same(r.to_dict(), old)
    # the JSON text: the old dict with inf/NaN as null (Report.to_json's convention), byte for byte
    text = json.dumps(_inf_to_none(old), allow_nan=False)
    assert r.to_json() == text
    out = io.StringIO()
    assert r.to_json(out) is None and out.getvalue() == text
    assert json.loads(text).keys() == old.keys()


def test_to_dict_of_a_screen_and_its_progress(capsys: pytest.CaptureFixture[str]) -> None:
    r = rfa_fast.screen_chains([[3] * 5, [7] * 5], [[2] * 5, [1] * 5], resolutions=[8, 64])
    assert _same(r.to_dict(progress=True), _per_row_dict(r))
    err = capsys.readouterr().err
    assert "to_dict" in err and f"{len(ScreenResult.FIELDS)}/{len(ScreenResult.FIELDS)}" in err
    r.to_json(progress=True)
    assert "to_json" in capsys.readouterr().err
    r.to_dict()
    r.to_json(progress=False)
    assert capsys.readouterr().err == ""


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
