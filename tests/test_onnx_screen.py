"""screen_onnx: a directory of ONNX files in one screen, per-file errors collected, progress on stderr."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from deps import VALIDATION, needs_validation

import rfa_fast
from rfa_fast import GraphBatch, onnx_screen
from rfa_fast.onnx_screen import OnnxScreenResult, loading_processes, onnx_paths

MODELS = sorted((VALIDATION / "onnx").glob("*.graph.onnx"))
pytestmark = needs_validation


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    """The validation models plus a truncated file and a file that is not ONNX."""
    for m in MODELS:
        (tmp_path / m.name).symlink_to(m)
    (tmp_path / "broken.onnx").write_bytes(MODELS[0].read_bytes()[:200])
    sub = tmp_path / "more"
    sub.mkdir()
    (sub / "text.onnx").write_text("not a model")
    return tmp_path


def test_directory_equals_screen_of_the_loaded_graphs(model_dir: Path) -> None:
    r = rfa_fast.screen_onnx(model_dir, [32, 224], progress=False)
    assert isinstance(r, OnnxScreenResult) and isinstance(r, rfa_fast.ScreenResult)
    expected_paths = sorted(str(p) for p in model_dir.rglob("*.onnx"))
    good = [p for p in expected_paths if not p.endswith(("broken.onnx", "text.onnx"))]
    assert r.names == good == r.paths
    assert list(r.errors) == [str(model_dir / "broken.onnx"), str(model_dir / "more" / "text.onnx")]
    assert all(msg.split(":")[0].endswith("Error") for msg in r.errors.values())

    direct = rfa_fast.screen(GraphBatch.from_graphs([rfa_fast.load_onnx(p) for p in good]), [32, 224])
    for f in rfa_fast.ScreenResult.FIELDS:
        assert np.array_equal(getattr(r, f), getattr(direct, f), equal_nan=True), f
    assert r.result.names == good and not hasattr(r.result, "errors")
    assert repr(r).startswith("<OnnxScreenResult") and "2 failed" in repr(r)


def test_list_of_paths_keeps_the_order_given(model_dir: Path) -> None:
    paths = [MODELS[2], model_dir / "missing.onnx", MODELS[0]]
    r = rfa_fast.screen_onnx(paths, 64, progress=False)
    assert r.names == [str(MODELS[2]), str(MODELS[0])]
    assert list(r.errors) == [str(model_dir / "missing.onnx")]


def test_parallel_loading_gives_the_same_result(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    one = rfa_fast.screen_onnx(model_dir, [32, 224], progress=False)
    # force the pool (the machine's load and the file count would keep 14 files serial)
    monkeypatch.setattr(onnx_screen, "MIN_FILES_PER_PROCESS", 1)
    monkeypatch.setattr(onnx_screen, "idle_cpus", lambda: 3)
    assert loading_processes(3, len(onnx_paths(model_dir))) == 3
    calls: list[int] = []
    real = onnx_screen._load_all
    monkeypatch.setattr(onnx_screen, "_load_all", lambda *a: calls.append(a[2]) or real(*a))
    two = rfa_fast.screen_onnx(model_dir, [32, 224], progress=False, jobs=3)
    assert calls == [3]
    assert one.names == two.names and one.errors == two.errors and one.warnings == two.warnings
    for f in rfa_fast.ScreenResult.FIELDS:
        assert np.array_equal(getattr(one, f), getattr(two, f), equal_nan=True), f


def test_jobs_are_capped_at_the_work() -> None:
    assert loading_processes(1000, 46, cpus=2) == 2  # never more than the CPUs
    assert loading_processes(1000, 46, cpus=64) == 46 // onnx_screen.MIN_FILES_PER_PROCESS
    assert loading_processes(8, 3, cpus=8) == 1  # a few files: serial
    assert loading_processes(1, 1000, cpus=8) == 1 and loading_processes(0, 1000, cpus=8) == 1
    assert 1 <= onnx_screen.idle_cpus() <= (os.cpu_count() or 1)


def test_all_files_failing_gives_an_empty_result(tmp_path: Path) -> None:
    (tmp_path / "a.onnx").write_text("nope")
    r = rfa_fast.screen_onnx([tmp_path / "a.onnx"], [32, 64], progress=False)
    assert len(r) == 0 and r.n_unproductive.shape == (0, 2) and r.rf_max.shape == (0, 2)
    assert list(r.errors) == [str(tmp_path / "a.onnx")]


def test_progress_bar_on_stderr(model_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rfa_fast.screen_onnx(model_dir, 32, progress=True)
    err = capsys.readouterr().err
    n = len(onnx_paths(model_dir))
    assert f"{n}/{n}" in err and "loading" in err and "100%" in err and err.endswith("\n")
    rfa_fast.screen_onnx(model_dir, 32, progress=False)
    rfa_fast.screen_onnx(model_dir, 32)  # auto: stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""


def test_onnx_paths_expands_directories(tmp_path: Path) -> None:
    shutil.copy(MODELS[0], tmp_path / "b.onnx")
    (tmp_path / "notes.txt").write_text("")
    assert onnx_paths(tmp_path) == [str(tmp_path / "b.onnx")]
    assert onnx_paths([tmp_path, "x.onnx"]) == [str(tmp_path / "b.onnx"), "x.onnx"]


def _conv_file(folder: Path, dims: int, name: str, size: int = 16) -> str:
    """An ONNX file of two strided 3-wide convs over ``dims`` spatial axes."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3] + [size] * dims)
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w0 = helper.make_tensor("w0", TensorProto.FLOAT, [4, 3] + [3] * dims, [0.0] * (12 * 3**dims))
    w1 = helper.make_tensor("w1", TensorProto.FLOAT, [4, 4] + [3] * dims, [0.0] * (16 * 3**dims))
    nodes = [
        helper.make_node("Conv", ["x", "w0"], ["a"], name="c0", kernel_shape=[3] * dims, strides=[2] * dims),
        helper.make_node("Conv", ["a", "w1"], ["y"], name="c1", kernel_shape=[3] * dims, strides=[dims] * dims),
    ]
    path = folder / f"{name}.onnx"
    onnx.save(helper.make_model(helper.make_graph(nodes, name, [x], [y], [w0, w1])), str(path))
    return str(path)


def test_mixed_dimensionality_in_any_order(tmp_path: Path) -> None:
    """1-D, 2-D and 3-D files screen together whatever their order (issue 17: the first file's D
    used to reject the others); each row equals the file screened alone, with its D recorded."""
    import itertools

    files = [_conv_file(tmp_path, d, f"conv{d}d") for d in (1, 2, 3)] + [str(MODELS[0])]
    alone = {p: rfa_fast.screen_onnx([p], [8, 32]) for p in files}
    for order in itertools.permutations(files):
        r = rfa_fast.screen_onnx(list(order), [8, 32])
        assert r.names == list(order) and not r.errors
        assert r.rf_max.shape == (4, 3) and r.resolutions.tolist() == [[8, 8, 8], [32, 32, 32]]
        for b, p in enumerate(order):
            one = alone[p]
            D = int(one.dims[0])
            assert r.dims[b] == D
            assert r.n_unproductive[b].tolist() == one.n_unproductive[0].tolist()
            assert r.macs[b].tolist() == one.macs[0].tolist()
            assert r.i_min[b] == one.i_min[0] and r.i_max[b] == one.i_max[0]
            assert r.rf_max[b, :D].tolist() == one.rf_max[0].tolist() and np.isnan(r.rf_max[b, D:]).all()


def test_mixed_dimensionality_refuses_a_per_axis_resolution_naming_the_graphs(tmp_path: Path) -> None:
    files = [_conv_file(tmp_path, d, f"conv{d}d") for d in (1, 2)]
    with pytest.raises(rfa_fast.ResolutionError, match=r"1-D graphs .*conv1d\.onnx"):
        rfa_fast.screen_onnx(files, [(32, 16)])
    ok = rfa_fast.screen_onnx(files[1:], [(32, 16)])  # one D: a per-axis resolution is fine
    assert ok.resolutions.tolist() == [[32, 16]]
