"""``rfa-fast`` with PyTorch model specs: ``package.module:factory`` (here), ``torchvision:``/``timm:`` errors.

The factories below are what a user's ``package.module:factory`` names; the
commands run as subprocesses with this directory on PYTHONPATH.  Building
real torchvision and timm models by spec is tested with the marker
``torchvision`` (tests/test_torch_models.py).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

if os.environ.get("CI"):
    import torch  # CI installs torch (.ci/run): its absence is a failure there, not a skip
else:
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")

from cli_helpers import assert_one_line_error, run  # noqa: E402
from test_torch_capture import Net1d, ResNetish  # noqa: E402

import rfa_fast  # noqa: E402

TESTS = Path(__file__).resolve().parent


def small_resnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return ResNetish()


def signal_net() -> torch.nn.Module:
    return Net1d()


def not_a_model() -> str:
    return "a string"


built_resnet = ResNetish()  # a module instance works too


@pytest.fixture(autouse=True)
def tests_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH", "")) if p))


def test_analyze_a_factory(tmp_path: Path) -> None:
    out = run("analyze", "test_torch_cli:small_resnet", "-r", "32", cwd=tmp_path).stdout
    assert out.startswith("small_resnet at 32 px")
    assert "layer2.0.downsample.0" in out and "layer1.1" in out
    data = json.loads(
        run("analyze", "test_torch_cli:built_resnet", "-r", "32", "-r", "64", "--json", cwd=tmp_path).stdout
    )
    assert [d["resolution"] for d in data] == [[32, 32], [64, 64]]
    ref = rfa_fast.analyze(rfa_fast.from_torch(ResNetish(), (1, 3, 32, 32), name="built_resnet"), 64)
    assert data[1] == json.loads(ref.to_json())
    one_d = json.loads(run("analyze", "test_torch_cli:signal_net", "-r", "128", "--json", cwd=tmp_path).stdout)
    assert one_d["resolution"] == [128] and one_d["layers"][1]["name"] == "features.0"


def test_draw_and_report(tmp_path: Path) -> None:
    dot = run("draw", "test_torch_cli:small_resnet", "-r", "32", cwd=tmp_path).stdout
    assert dot.startswith("digraph") and "layer2.0.conv1" in dot
    run("report", "test_torch_cli:small_resnet", "-r", "32", "-o", "r.html", "--no-drawing", cwd=tmp_path)
    page = (tmp_path / "r.html").read_text()
    assert "small_resnet" in page and "layer2.0.downsample.0" in page


def test_refine_applies_to_the_module_and_writes_onnx(tmp_path: Path) -> None:
    proc = run("refine", "test_torch_cli:small_resnet", "-r", "24", "--apply", "1", "-o", "refined.onnx", cwd=tmp_path)
    assert "applied suggestion 1: wrote refined.onnx" in proc.stdout
    g = rfa_fast.from_torch(small_resnet(), (1, 3, 24, 24))
    best = rfa_fast.refine(g, 24)[0]
    assert f"(reloaded: I_min {best.i_min:g} px)" in proc.stdout
    refined = rfa_fast.load_onnx(tmp_path / "refined.onnx")  # exported with its weights, at the nominal size
    assert rfa_fast.analyze(refined, 24).i_min == best.i_min
    proc = run(
        "refine", "test_torch_cli:small_resnet", "-r", "24", "--apply", "1", "-o", "x.pt", cwd=tmp_path, expect=2
    )
    assert_one_line_error(proc, "-o x.pt: the refined model is written as ONNX")


def test_spec_errors_are_one_line(tmp_path: Path) -> None:
    assert_one_line_error(
        run("analyze", "test_torch_cli:small_resnet", cwd=tmp_path, expect=1), "no default input size; give one with -r"
    )
    assert_one_line_error(
        run("analyze", "test_torch_cli:nope", "-r", "32", cwd=tmp_path, expect=1),
        "module 'test_torch_cli' has no attribute 'nope'",
    )
    assert_one_line_error(
        run("analyze", "test_torch_cli:not_a_model", "-r", "32", cwd=tmp_path, expect=1), "returned a str, not a"
    )
    assert_one_line_error(
        run("analyze", "no_such_package.models:net", "-r", "32", cwd=tmp_path, expect=1),
        "cannot import module 'no_such_package.models'",
    )
    assert_one_line_error(
        run("analyze", "test_torch_cli:signal_net", "-r", "32x32", cwd=tmp_path, expect=1),
        "resolution 32x32 has 2 axes; the model has 1",
    )


@pytest.mark.parametrize(
    ("hidden", "spec", "extra"),
    [
        ("torchvision", "torchvision:resnet18", "rfa_fast[torchvision]"),
        ("timm", "timm:convnext_tiny", "rfa_fast[timm]"),
        ("torch", "test_torch_cli:small_resnet", "rfa_fast[torch]"),
    ],
)
def test_a_missing_package_names_the_extra(tmp_path: Path, hidden: str, spec: str, extra: str) -> None:
    code = (
        f"import sys; sys.modules[{hidden!r}] = None\n"
        "from rfa_fast.cli import main\n"
        f"sys.exit(main(['analyze', {spec!r}, '-r', '32']))\n"
    )
    import subprocess

    from cli_helpers import package_env

    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=package_env(), capture_output=True, text=True)
    line = assert_one_line_error(proc, f"needs {hidden}", f"pip install '{extra}'")
    assert spec in line
