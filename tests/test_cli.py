"""The rfa-fast command line, run as a subprocess: analyze, screen, refine, demo, entropy, bench, errors.

Outputs are checked for their numbers (vgg16 at 224 px: rf_max 212; resnet18 at
32 px: 7 unproductive layers from layer3.0.conv2 on), not only exit codes.
Drawing and HTML reports: tests/test_draw_html.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import (
    PKG_ROOT,
    assert_one_line_error,
    chain_onnx,
    model_path,
    needs_validation,
    run,
    run_script,
    unbuilt_checkout,
)
from deps import import_or_skip
from test_report import LAYER_KEYS, SUMMARY_KEYS  # the stable schema, written down once

import rfa_fast

ROOT = Path(__file__).resolve().parents[1]
R18_BORDER = "/layer3/layer3.0/conv2/Conv"


def table_row(text: str, name: str) -> list[str]:
    """The cells of the table row whose first cell is ``name``."""
    for line in text.splitlines():
        cells = line.split()
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row {name!r} in:\n{text}")


# -- analyze ---------------------------------------------------------------------
@needs_validation
def test_analyze_vgg16_at_224_table_and_summary(tmp_path: Path) -> None:
    out = run("analyze", model_path("vgg16"), "-r", "224", cwd=tmp_path).stdout
    lines = out.splitlines()
    assert lines[0] == "vgg16.graph at 224 px (24 layers)"
    assert lines[1].split() == ["layer", "op", "k", "s", "d", "rf_min", "rf_max", "jump", "fmap", "macs", "status"]
    # the last pool: rf 212, jump 32, a 7x7 map
    assert table_row(out, "/features/features.30/MaxPool")[1:] == ["MaxPool", "2", "2", "212", "212", "32", "7", "ok"]
    assert table_row(out, "/features/features.0/Conv")[-3:] == ["224", "86.7M", "ok"]
    assert lines[-1] == (
        "border layers: none; unproductive: 0; I_min: 212; I_max: 212; rf_max: 212; MACs past the border: 0 of 15.5G (0%)"
    )


@needs_validation
def test_analyze_json_resnet18_at_32(tmp_path: Path) -> None:
    out = run("analyze", model_path("resnet18"), "-r", "32", "--json", cwd=tmp_path).stdout
    d = json.loads(out)
    assert list(d) == ["model", "resolution", "layers", "summary"]
    assert d["model"] == "resnet18.graph" and d["resolution"] == [32, 32]
    assert all(list(la) == LAYER_KEYS for la in d["layers"])
    s = d["summary"]
    assert list(s) == SUMMARY_KEYS
    assert s["border_layers"] == [R18_BORDER] and s["n_unproductive"] == 7
    assert s["i_min"] == [97.0, 97.0] and s["i_max"] == [435.0, 435.0] and s["rf_max"] == [435.0, 435.0]
    assert s["macs_unproductive"] == 15_335_424 and s["aligned"] is True
    by = {la["name"]: la for la in d["layers"]}
    assert by[R18_BORDER]["status"] == "border" and by[R18_BORDER]["rf_min"] == [59.0, 59.0]
    assert by["/layer4/layer4.1/conv2/Conv"]["status"] == "unproductive"
    assert by["/layer2/layer2.0/conv2/Conv"]["status"] == "critical"
    assert by["/fc/Gemm"]["rf_max"] == [None, None]  # inf is null in JSON
    assert sum(la["status"] in ("unproductive", "border") for la in d["layers"]) == 7


@needs_validation
def test_analyze_several_resolutions_json_is_a_list(tmp_path: Path) -> None:
    out = run("analyze", model_path("resnet18"), "-r", "32", "-r", "224", "--json", cwd=tmp_path).stdout
    a, b = json.loads(out)
    assert (a["resolution"], b["resolution"]) == ([32, 32], [224, 224])
    assert (a["summary"]["n_unproductive"], b["summary"]["n_unproductive"]) == (7, 0)
    assert b["summary"]["macs"] == 1_814_073_344


@needs_validation
def test_analyze_text_for_several_resolutions_and_per_axis(tmp_path: Path) -> None:
    out = run("analyze", model_path("resnet18"), "-r", "32", "-r", "64x48", cwd=tmp_path).stdout
    heads = [line for line in out.splitlines() if " px (" in line]
    assert heads == ["resnet18.graph at 32 px (32 layers)", "resnet18.graph at 64x48 px (32 layers)"]
    at_32, at_64x48 = out.split("\n\n")
    assert table_row(at_32, "/conv1/Conv")[7] == "16"
    assert table_row(at_64x48, "/conv1/Conv")[7] == "32x24"  # fmap per axis
    summaries = [line for line in out.splitlines() if line.startswith("border layers:")]
    assert len(summaries) == 2 and "unproductive: 7;" in summaries[0]


@needs_validation
def test_analyze_defaults_to_the_static_input_size(tmp_path: Path) -> None:
    out = run("analyze", model_path("alexnet"), cwd=tmp_path).stdout
    assert out.startswith("alexnet.graph at 224 px")
    assert "rf_max: 195;" in out.splitlines()[-1]


def test_analyze_small_model_and_ignore_1x1(tmp_path: Path) -> None:
    # 4 convs 3x3/2 pad 1 at 16 px: fields 3, 7, 15, 31, maps 8, 4, 2, 1; then two 1x1 convs.
    # conv3's input map (2) fits its kernel (3): the border; the 1x1s after it are unproductive.
    path = chain_onnx(tmp_path / "chain.onnx", [(3, 2, 1)] * 4 + [(1, 1, 0)] * 2, size=16)
    out = run("analyze", str(path), cwd=tmp_path).stdout
    assert table_row(out, "conv3")[1:] == ["Conv", "3", "2", "31", "31", "16", "1", "144", "border"]
    assert table_row(out, "conv5")[-1] == "unproductive"
    assert out.splitlines()[-1].startswith("border layers: conv3; unproductive: 3; I_min: 31; I_max: 31;")
    d = json.loads(run("analyze", str(path), "--ignore-1x1", "--json", cwd=tmp_path).stdout)
    assert d["summary"]["n_unproductive"] == 1 and d["summary"]["border_layers"] == ["conv3"]
    assert {la["name"]: la["status"] for la in d["layers"]}["conv5"] == "critical"  # rated no more, still rf 31 > 16


def test_unknown_op_warns_on_stderr_and_strict_refuses(tmp_path: Path) -> None:
    path = chain_onnx(tmp_path / "odd.onnx", [(3, 1, 1)] * 2, size=16, extra_op="Mystery")
    proc = run("analyze", str(path), "-r", "16", cwd=tmp_path)
    assert proc.stderr.startswith("rfa-fast: warning: ") and "Mystery" in proc.stderr
    assert "conv0" in proc.stdout
    assert_one_line_error(run("analyze", str(path), "--strict", cwd=tmp_path, expect=1), "Mystery")


# -- errors ----------------------------------------------------------------------------
def test_error_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run("analyze", "nope.onnx", cwd=tmp_path, expect=1), "nope.onnx", "no such file")


def test_error_not_an_onnx_file(tmp_path: Path) -> None:
    (tmp_path / "notes.onnx").write_text("these are not the weights you are looking for\n")
    assert_one_line_error(run("analyze", "notes.onnx", cwd=tmp_path, expect=1), "notes.onnx", "not an ONNX model")
    (tmp_path / "folder.onnx").mkdir()
    assert_one_line_error(run("analyze", "folder.onnx", cwd=tmp_path, expect=1), "is a directory")


@pytest.mark.parametrize(
    ("value", "needle"),
    [("abc", "bad resolution 'abc'"), ("0", "between 1 and 2^30"), ("32x", "bad resolution '32x'"), ("-4", "")],
)
def test_error_bad_resolution(tmp_path: Path, value: str, needle: str) -> None:
    path = chain_onnx(tmp_path / "c.onnx", [(3, 1, 1)])
    line = assert_one_line_error(run("analyze", str(path), "-r", value, cwd=tmp_path, expect=2), needle)
    assert "analyze --help" in line


def test_error_resolution_with_the_wrong_number_of_axes(tmp_path: Path) -> None:
    path = chain_onnx(tmp_path / "c.onnx", [(3, 1, 1)])
    assert_one_line_error(
        run("analyze", str(path), "-r", "8x8x8", cwd=tmp_path, expect=1), "(8, 8, 8) has 3 values", "2 axes"
    )


def test_error_unwritable_outputs(tmp_path: Path) -> None:
    path = chain_onnx(tmp_path / "c.onnx", [(3, 2, 1)] * 3)
    missing_dir = tmp_path / "no" / "such" / "dir"
    assert_one_line_error(
        run("draw", str(path), "-o", str(missing_dir / "g.dot"), cwd=tmp_path, expect=1), "No such file or directory"
    )
    assert_one_line_error(run("report", str(path), "-o", str(tmp_path), cwd=tmp_path, expect=1), "Is a directory")
    assert_one_line_error(
        run("screen", str(path), "-r", "32", "--csv", str(missing_dir / "t.csv"), cwd=tmp_path, expect=1),
        "No such file or directory",
    )


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    for args in (["--debug", "analyze", "nope.onnx"], ["analyze", "nope.onnx", "--debug"]):
        proc = run(*args, cwd=tmp_path, expect=1)
        assert "Traceback" in proc.stderr and "OnnxError" in proc.stderr
        assert proc.stderr.strip().splitlines()[-1] == "rfa-fast: error: nope.onnx: no such file"


def test_usage_errors_help_and_version(tmp_path: Path) -> None:
    assert_one_line_error(run("frobnicate", cwd=tmp_path, expect=2), "invalid choice: 'frobnicate'")
    assert_one_line_error(run("analyze", cwd=tmp_path, expect=2), "the following arguments are required: model")
    proc = run(cwd=tmp_path, expect=2)
    assert "analyze" in proc.stdout and "screen" in proc.stdout and "demo" in proc.stdout
    assert run("--version", cwd=tmp_path).stdout.strip() == f"rfa-fast {rfa_fast.__version__}"


# -- screen ---------------------------------------------------------------------------------
def _screen_table(out: str) -> dict[str, list[str]]:
    """file -> cells, in the printed order (a dict keeps it)."""
    lines = out.splitlines()
    assert lines[0].split()[0] == "file" and set(lines[1]) <= {"-", " "}
    rows: dict[str, list[str]] = {}
    for line in lines[2:]:
        if not line.strip() or re.match(r"\d+ files in ", line):
            break
        cells = re.split(r"\s{2,}", line.strip())
        rows[cells[0]] = cells[1:]
    return rows


@needs_validation
def test_screen_directory_sorted_table_csv_and_errors(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "sub").mkdir(parents=True)
    for name in ("vgg16", "resnet18", "alexnet"):
        shutil.copy(model_path(name), models / "sub" / f"{name}.onnx")  # found recursively
    chain_onnx(models / "tiny.onnx", [(3, 1, 1)] * 2)
    (models / "broken.onnx").write_bytes(b"\x08\x07garbage")
    (models / "readme.txt").write_text("not screened: not .onnx")
    proc = run("screen", "models", "-r", "32", "--csv", "out.csv", cwd=tmp_path, expect=1)
    rows = _screen_table(proc.stdout)
    # sorted by n_unproductive, then name: tiny (0), alexnet (7), resnet18 (7), vgg16 (11)
    assert list(rows) == [
        "models/tiny.onnx",
        "models/sub/alexnet.onnx",
        "models/sub/resnet18.onnx",
        "models/sub/vgg16.onnx",
    ]
    assert rows["models/sub/resnet18.onnx"] == ["7", "1", "15.3M (41%)", "97", "435", "435"]
    assert rows["models/sub/vgg16.onnx"] == ["11", "1", "160M (37%)", "212", "212", "212"]
    assert rows["models/tiny.onnx"][:2] == ["0", "0"] and rows["models/tiny.onnx"][-1] == "5"
    assert re.search(
        r"^5 files in [\d.]+ s: 4 screened, 1 failed; 3 with unproductive layers at 32 px$", proc.stdout, re.M
    )
    errors = proc.stdout.split("\nerrors:\n")[1].strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("models/broken.onnx: ") and "not an ONNX model" in errors[0]

    with open(tmp_path / "out.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table][-1] == "models/broken.onnx" and "not an ONNX model" in table[-1]["error"]
    r18 = next(r for r in table if r["file"].endswith("resnet18.onnx"))
    assert (r18["n_unproductive"], r18["n_border"], r18["macs_unproductive"]) == ("7", "1", "15335424")
    assert (r18["i_min"], r18["i_max"], r18["rf_max"], r18["macs"], r18["error"]) == (
        "97",
        "435",
        "435",
        "37523456",
        "",
    )


@needs_validation
def test_screen_several_resolutions_jobs_and_progress(tmp_path: Path) -> None:
    files = [model_path(n) for n in ("resnet18", "vgg16", "mobilenet_v2")]
    one = run("screen", *files, "-r", "32", "-r", "224", cwd=tmp_path)
    head = one.stdout.splitlines()[0].split()
    assert head[:4] == ["file", "n_unproductive@32", "n_border@32", "MACs"] and "n_unproductive@224" in head
    rows = _screen_table(one.stdout)
    assert rows[model_path("resnet18")][:6] == ["7", "1", "15.3M (41%)", "0", "0", "0 (0%)"]
    assert list(rows) == [model_path("resnet18"), model_path("vgg16"), model_path("mobilenet_v2")]
    assert one.stderr == ""  # no progress bar when stderr is not a terminal
    two = run("screen", *files, "-r", "32", "-r", "224", "--jobs", "2", "--progress", cwd=tmp_path)
    assert _screen_table(two.stdout) == rows
    assert "3/3" in two.stderr and "loading" in two.stderr and "100%" in two.stderr  # the tqdm bar, forced on


def test_screen_needs_onnx_files_and_a_resolution(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("screen", "empty", "-r", "32", cwd=tmp_path, expect=1), "no .onnx files found in empty")
    assert_one_line_error(run("screen", "empty", cwd=tmp_path, expect=2), "-r/--resolution")
    chain_onnx(tmp_path / "ok.onnx", [(3, 2, 1)] * 2)
    out = run("screen", "ok.onnx", "-r", "8", cwd=tmp_path).stdout
    # conv1 (3x3/2) needs an input map larger than its kernel: ceil(I/2) > 3, so I_min = 7
    assert _screen_table(out)["ok.onnx"] == ["0", "0", "0 (0%)", "7", "7", "7"]


# -- refine ------------------------------------------------------------------------------------
@needs_validation
def test_refine_ranks_and_applies_a_suggestion(tmp_path: Path) -> None:
    out = run(
        "refine", model_path("resnet18"), "-r", "64", "--top", "2", "--apply", "1", "-o", "r.onnx", cwd=tmp_path
    ).stdout
    assert out.splitlines()[0].startswith("resnet18.graph at 64 px: I_min 97, 3 unproductive")
    assert re.search(r"^2 of \d+ suggestions, best first:$", out, re.M)
    first = out.split("  1. ")[1]
    assert "stride 2 -> 1" in first and "I_min 97 -> 49 px (I_res 64: at or below)" in first
    assert "ONNX: applicable" in first  # checked before anyone writes a file
    assert "applied suggestion 1: wrote r.onnx (reloaded: I_min 49 px)" in out
    d = json.loads(run("analyze", "r.onnx", "-r", "64", "--json", cwd=tmp_path).stdout)
    assert d["summary"]["n_unproductive"] == 0 and d["summary"]["i_min"] == [49.0, 49.0]


def test_refine_argument_errors(tmp_path: Path) -> None:
    path = str(chain_onnx(tmp_path / "c.onnx", [(3, 2, 1)] * 5, size=16))
    assert_one_line_error(run("refine", path, "--apply", "1", cwd=tmp_path, expect=2), "--apply N needs -o")
    assert_one_line_error(run("refine", path, "-r", "16x8", cwd=tmp_path, expect=2), "square")
    assert_one_line_error(run("refine", path, "--apply", "99", "-o", "x.onnx", cwd=tmp_path, expect=2), "--apply 99")


def test_missing_backend_is_one_line(tmp_path: Path) -> None:
    """A build without rfa_fast.refine / rfa_fast.entropy says so in one line."""
    code = (
        "import sys, rfa_fast; sys.modules['rfa_fast.refine'] = None; sys.modules['rfa_fast.entropy'] = None\n"
        "from rfa_fast.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    for cmd in (["refine", "m.onnx"], ["entropy", "d.npy"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *cmd],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(PKG_ROOT)},
        )
        assert_one_line_error(proc, f"{cmd[0]} is not available in this build")


# -- demo, entropy, bench -------------------------------------------------------------------------
def test_demo(tmp_path: Path) -> None:
    out = run("demo", cwd=tmp_path).stdout
    assert "resnet18 at 32 px (32 layers)" in out
    assert table_row(out, "layer3.0.conv2")[-1] == "border"
    assert "border layers: layer3.0.conv2; unproductive: 7; I_min: 97; I_max: 435;" in out
    assert "at 224 px: border layers: none; unproductive: 0;" in out
    m = re.search(r"one call of the core: ([\d.]+) ms \(([\d,]+) candidates/s\)", out)
    assert m and float(m.group(1)) > 0
    counts = re.findall(r"at (\d+) px: ([\d,]+) of 10,000 \(", out)
    assert [c[0] for c in counts] == ["32", "224"]
    ok32, ok224 = (int(c[1].replace(",", "")) for c in counts)
    assert 0 < ok32 < ok224 < 10_000  # a larger input leaves more of the space productive
    assert "What this did:" in out and "10,000 candidate architectures" in out


def test_entropy(tmp_path: Path) -> None:
    np.save(tmp_path / "flat.npy", np.full((3, 8, 8), 7, np.uint8))
    d = json.loads(run("entropy", "flat.npy", "--json", cwd=tmp_path).stdout)
    assert d["n_images"] == 1 and d["layout"] == "CHW" and d["channels"] == 3  # (3, 8, 8) reads as one CHW image
    d = json.loads(run("entropy", "flat.npy", "--layout", "HW", "--json", cwd=tmp_path).stdout)
    assert d["n_images"] == 3 and d["mean"] == 0.0 and d["layout"] == "HW"  # three constant grey images: 0 bits
    assert d["quantiles"]["0.5"] == 0.0
    data = tmp_path / "data"
    data.mkdir()
    halves = np.zeros((2, 8, 8), np.uint8)  # a batch of two grey images (no axis of 1, 3 or 4 channels)
    halves[:, :, 4:] = 255  # two levels, equally often: 1 bit per image
    np.save(data / "a.npy", halves)
    np.save(data / "b.npy", halves)
    out = run("entropy", "data", cwd=tmp_path).stdout
    assert out.startswith("entropy of 4 images (HW, 1 channel") and "luminance 1.000 ± 0.000 bits" in out
    (tmp_path / "x.txt").write_text("hi")
    assert_one_line_error(run("entropy", "x.txt", cwd=tmp_path, expect=1), "neither a .npy file")
    assert_one_line_error(run("entropy", "missing.npy", cwd=tmp_path, expect=1), "missing.npy: no such file")


def _tiny_suite(root: Path, test: str) -> Path:
    """A bench/ in ``root`` that ``rfa-fast bench`` accepts (conftest.py, benchlib.py) with one test file."""
    bench = root / "bench"
    bench.mkdir(parents=True)
    (bench / "conftest.py").write_text("")
    (bench / "benchlib.py").write_text("")
    (bench / "test_tiny.py").write_text(test)
    return bench


def test_bench_runs_pytest_benchmark_in_the_checkout(tmp_path: Path) -> None:
    import_or_skip("pytest_benchmark", "pytest-benchmark is a test dependency: pip install pytest-benchmark")
    _tiny_suite(
        tmp_path,
        "def test_tiny_sum(benchmark):\n    assert benchmark(sum, [1, 2, 3]) == 6\n\n"
        "def test_not_a_benchmark():\n    pass\n",
    )
    proc = run("bench", "--", "-q", "-p", "no:cacheprovider", cwd=tmp_path)
    assert "1 passed, 1 skipped" in proc.stdout and "test_tiny_sum" in proc.stdout  # --benchmark-only
    assert "pytest bench --benchmark-only -q" in proc.stderr  # the command it ran


def test_bench_from_an_unbuilt_checkout_measures_the_installed_package(tmp_path: Path) -> None:
    """After ``pip install .`` the checkout has no compiled extension: the suite must not import it (issue 15)."""
    import_or_skip("pytest_benchmark", "pytest-benchmark is a test dependency: pip install pytest-benchmark")
    root = unbuilt_checkout(tmp_path / "checkout")
    _tiny_suite(
        root,
        "import rfa_fast, rfa_fast._core\n\n"
        "def test_core(benchmark):\n"
        "    assert benchmark(rfa_fast.screen_chains, [[3, 3]], [[1, 2]], resolutions=8).rf_max.tolist() == [[5, 5]]\n"
        "    print('imported', rfa_fast.__file__)\n",
    )
    proc = run_script("bench", "--", "-q", "-s", "-p", "no:cacheprovider", cwd=root)  # as the console script
    assert "1 passed" in proc.stdout
    assert f"imported {PKG_ROOT / 'rfa_fast' / '__init__.py'}" in proc.stdout
    assert "ExtensionNotBuiltError" not in proc.stdout + proc.stderr


def test_bench_without_a_checkout_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from rfa_fast import cli

    site = tmp_path / "site-packages" / "rfa_fast"
    site.mkdir(parents=True)
    monkeypatch.setattr(cli, "__file__", str(site / "cli.py"))  # an installed package: no bench/ beside it
    monkeypatch.chdir(tmp_path)
    assert cli.main(["bench"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rfa-fast: error: no benchmark suite found (looked in ")
    assert str(tmp_path / "bench") in err and str(tmp_path / "site-packages" / "bench") in err
    assert "not of the installed package" in err and "--dir PATH/bench" in err and "pip install -e" in err
    (tmp_path / "other").mkdir()
    assert cli.main(["bench", "--dir", "other"]) == 1
    assert "other: not rfa_fast's benchmark suite" in capsys.readouterr().err


def test_bench_dir_option_and_the_child_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rfa_fast import cli

    bench = _tiny_suite(tmp_path / "elsewhere", "")
    assert cli.find_bench_dir(str(bench)) == bench.resolve()
    monkeypatch.chdir(tmp_path / "elsewhere")
    assert cli.find_bench_dir() == bench.resolve()  # ./bench first
    cmd = cli.bench_command(bench, ["--", "-k", "x"])
    assert cmd[0] == sys.executable and cmd[1] == "-c" and "del sys.path[0]" in cmd[2]
    assert cmd[3:] == [str(bench), "--benchmark-only", "-k", "x"]
    monkeypatch.setattr(sys, "path", [str(tmp_path / "script dir"), str(tmp_path / "site")])
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    assert cli.bench_env(tmp_path / "site")["PYTHONPATH"] == "/elsewhere"  # found anyway: not ahead of the stdlib
    assert cli.bench_env(tmp_path / "script dir")["PYTHONPATH"] == f"{tmp_path / 'script dir'}{os.pathsep}/elsewhere"


def test_docs_bench_example_selects_benchmarks() -> None:
    """docs/cli.md's ``rfa-fast bench -- -k ...`` selects tests of the real suite (it once selected none)."""
    import_or_skip("pytest_benchmark", "pytest-benchmark is a test dependency: pip install pytest-benchmark")
    text = (ROOT / "docs" / "cli.md").read_text()
    lines = [line for line in text.splitlines() if line.startswith("$ rfa-fast bench -- ")]
    assert lines, "docs/cli.md shows no rfa-fast bench command"
    for line in lines:
        args = shlex.split(line)[3:]
        assert "-k" in args
        if "--collect-only" not in args:
            args.append("--collect-only")
        out = run_script("bench", "--", *args, "-p", "no:cacheprovider", cwd=ROOT).stdout
        m = re.search(r"^(\d+)/(\d+) tests? collected", out, re.M)
        assert m, out
        selected, total = int(m.group(1)), int(m.group(2))
        assert 0 < selected < total, out
        keyword = args[args.index("-k") + 1]
        ids = [x for x in out.splitlines() if x.startswith("bench/")]
        assert len(ids) == selected and all(keyword in x for x in ids), out


def test_screen_mixes_1d_2d_and_3d_models_in_any_order(tmp_path: Path) -> None:
    """Issue 17: `screen conv1d.onnx conv3d.onnx model2d.onnx` rejected whichever files did not have the
    first file's number of axes; every file is now in the table (with a dims column) and the CSV, in any order."""
    from test_onnx_screen import _conv_file

    files = [
        _conv_file(tmp_path, 1, "c1"),
        _conv_file(tmp_path, 3, "c3"),
        str(chain_onnx(tmp_path / "c2.onnx", [(3, 2, 0)] * 2)),
    ]
    tables = []
    for order in (files, files[::-1]):
        proc = run("screen", *order, "-r", "8", "--csv", "out.csv", cwd=tmp_path)
        rows = _screen_table(proc.stdout)
        assert sorted(rows) == sorted(files) and "3 screened, 0 failed" in proc.stdout
        assert {f: cells[0] for f, cells in rows.items()} == {files[0]: "1", files[1]: "3", files[2]: "2"}  # dims
        tables.append(rows)
        with open(tmp_path / "out.csv", newline="") as f:
            table = {r["file"]: r for r in csv.DictReader(f)}
        assert {f: table[f]["dims"] for f in files} == {files[0]: "1", files[1]: "3", files[2]: "2"}
        assert table[files[0]]["rf_max_axis1"] == "" and table[files[1]]["rf_max_axis2"] != ""
    assert tables[0] == tables[1]
    proc = run("screen", *files, "-r", "8x8", cwd=tmp_path, expect=1)
    assert_one_line_error(proc, "the 1-D graphs")
