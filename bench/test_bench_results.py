"""Converting results: ``ScreenResult.to_dict`` / ``to_json`` of a large screen, and loading ONNX files.

``to_dict`` turns each field into lists with one ``tolist`` while the garbage
collector is paused; the baseline is the same conversion one Python value per
candidate. ``to_json`` is compared with ``json.dumps`` of the dict with
inf/NaN replaced element by element (``Report.to_json``'s route). Each row
asserts that both give the same answer.

The loading rows time ``screen_onnx`` of the validation models serially and
with two processes forced (what ``--jobs 2`` does on an idle 2-core machine).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import numpy as np
import pytest
from benchlib import VALIDATION, missing, record, rounds, sized

import rfa_fast
from rfa_fast import onnx_screen
from rfa_fast.report import _inf_to_none


@cache
def result(n: int) -> rfa_fast.ScreenResult:
    rng = np.random.default_rng(0)
    kernel = rng.choice(np.array([1, 3, 5, 7], np.int32), size=(n, 16))
    stride = np.where(rng.random((n, 16)) < 0.2, 2, 1).astype(np.int32)
    return rfa_fast.screen_chains(kernel, stride, resolutions=[32, 224])


def per_row(r: rfa_fast.ScreenResult) -> dict[str, Any]:
    d: dict[str, Any] = {}
    for f in r.FIELDS:
        a = getattr(r, f)
        py = bool if a.dtype == bool else int if a.dtype.kind == "i" else float
        d[f] = [[py(x) for x in row] if a.ndim == 2 else py(row) for row in a]
    d["dims"] = [int(x) for x in r.dims]
    d["resolutions"] = r.resolutions.tolist()
    return d


@pytest.mark.parametrize("impl", ["to_dict", "to_dict, per row", "to_json", "to_json, json.dumps"])
def test_convert(benchmark: Any, impl: str) -> None:
    r = result(sized(benchmark, 1_000_000, 10_000))
    record(benchmark, f"ScreenResult.{impl}", len(r), base=impl.endswith(("per row", "json.dumps")))
    calls = {
        "to_dict": r.to_dict,
        "to_dict, per row": lambda: per_row(r),
        "to_json": r.to_json,
        "to_json, json.dumps": lambda: json.dumps(_inf_to_none(per_row(r)), allow_nan=False),
    }
    out = benchmark.pedantic(calls[impl], rounds=rounds(benchmark, 3), iterations=1)
    if impl.startswith("to_dict"):
        assert out == r.to_dict()
    else:
        assert out == json.dumps(_inf_to_none(r.to_dict()), allow_nan=False)


@pytest.mark.parametrize("processes", [1, 2])
def test_load_validation_models(benchmark: Any, processes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(str(p) for p in (VALIDATION / "onnx").glob("*.onnx"))
    if not files:
        missing(f"no validation models in {VALIDATION}")
    import rfa_fast.onnx_loader  # noqa: F401  (imported once, as a CLI run does before loading)

    monkeypatch.setattr(onnx_screen, "MIN_FILES_PER_PROCESS", 1)
    monkeypatch.setattr(onnx_screen, "idle_cpus", lambda: processes)
    record(benchmark, f"screen_onnx, {processes} loading process(es)", len(files), base=processes == 1)
    r = benchmark.pedantic(
        lambda: rfa_fast.screen_onnx(files, 224, jobs=processes, progress=False), rounds=rounds(benchmark, 5)
    )
    assert len(r) == len(files) and not r.errors
