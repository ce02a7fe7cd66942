"""Installing and running as the README says (issue 15): the message when the compiled extensions
are missing, the ``dev`` extra, the shipped example model, the README tour, the docs' commands.

The editable install itself (``pip install -e ".[dev]"`` in a fresh venv) is checked by .ci/run,
which has the time to build it; these tests check what can be checked in the test run.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import onnx
import pytest
from cli_helpers import PKG_ROOT, package_env, unbuilt_checkout
from deps import import_or_skip

import rfa_fast
from rfa_fast import zoo
from rfa_fast._extensions import built_files, is_source_tree, missing_message

ROOT = Path(__file__).resolve().parents[1]
LAYER_KEYS = ["op", "kind", "kernel", "stride", "dilation", "rf_min", "rf_max", "jump", "fmap", "status"]
LAYER_KEYS += ["global_context", "params", "macs"]


def python(code: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``python -c CODE`` in ``cwd``, without PYTHONPATH: Python finds what a user's Python would."""
    env = package_env()
    env.pop("PYTHONPATH")
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


# -- 1. a source tree without compiled extensions ----------------------------------------------
def test_import_from_an_unbuilt_checkout_names_the_fix(tmp_path: Path) -> None:
    root = unbuilt_checkout(tmp_path / "checkout")
    proc = python("import rfa_fast", cwd=root)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("rfa_fast.errors.ExtensionNotBuiltError: rfa_fast's compiled extensions are not built")
    assert "rfa_fast._core and rfa_fast._pack missing from " + str(root / "rfa_fast") in last
    assert "run Python from outside the checkout" in last
    assert "`pip install -e .`" in last and "`python setup.py build_ext --inplace`" in last
    assert "partially initialized" not in proc.stderr  # the error this replaces


def test_python_m_cli_from_an_unbuilt_checkout_names_the_fix(tmp_path: Path) -> None:
    root = unbuilt_checkout(tmp_path / "checkout")
    env = package_env()
    env.pop("PYTHONPATH")
    proc = subprocess.run(
        [sys.executable, "-m", "rfa_fast.cli", "demo"], cwd=root, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1
    assert "ExtensionNotBuiltError" in proc.stderr and "pip install -e ." in proc.stderr


def test_the_error_is_an_import_error_and_an_rfa_error(tmp_path: Path) -> None:
    root = unbuilt_checkout(tmp_path / "checkout")
    code = (
        "import sys\n"
        "try:\n    import rfa_fast\n"
        "except ImportError as e:\n"
        "    from rfa_fast.errors import RfaError\n"
        "    print(type(e).__name__, isinstance(e, RfaError), isinstance(e.__cause__, ImportError))\n"
    )
    proc = python(code, cwd=root)
    assert proc.stdout.split() == ["ExtensionNotBuiltError", "True", "True"], proc.stderr


def test_a_build_that_cannot_be_loaded_says_rebuild(tmp_path: Path) -> None:
    root = unbuilt_checkout(tmp_path / "checkout")
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (root / "rfa_fast" / f"_core{suffix}").write_bytes(b"not a shared object")
    proc = python("import rfa_fast", cwd=root)
    last = proc.stderr.strip().splitlines()[-1]
    assert f"are in {root / 'rfa_fast'} (_core{suffix}) but cannot be loaded" in last
    assert "rebuild them in place: `python setup.py build_ext --inplace`" in last


def test_an_installed_package_without_extensions_says_reinstall(tmp_path: Path) -> None:
    site = unbuilt_checkout(tmp_path / "site-packages", checkout=False)
    proc = python("import rfa_fast", cwd=site)
    last = proc.stderr.strip().splitlines()[-1]
    assert "missing from the installed package in " + str(site / "rfa_fast") in last
    assert "pip install --force-reinstall --no-cache-dir rfa_fast" in last


def test_the_package_the_tests_import_is_built(tmp_path: Path) -> None:
    pkg = PKG_ROOT / "rfa_fast"
    assert built_files(pkg, "_core") and built_files(pkg, "_pack")
    assert Path(rfa_fast._core.__file__).parent == pkg  # the core of this package, not another installation's
    assert not built_files(pkg, "_nothing")
    assert is_source_tree(ROOT / "rfa_fast") and not is_source_tree(tmp_path / "rfa_fast")
    text = missing_message(pkg, {"_pack": ImportError("boom")}, source_tree=False)
    assert "rfa_fast._pack are in" in text and "boom" in text  # present but not loadable


# -- 2. the dev extra covers the Development section --------------------------------------------
def _pyproject() -> dict[str, Any]:
    try:
        import tomllib as toml  # Python 3.11+
    except ImportError:  # pragma: no cover - Python < 3.11
        toml = import_or_skip("tomli", "reading pyproject.toml needs tomli before Python 3.11")  # type: ignore[assignment]
    with open(ROOT / "pyproject.toml", "rb") as fh:
        data: dict[str, Any] = toml.load(fh)
    return data


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


def test_dev_extra_has_what_the_development_section_runs() -> None:
    meta = _pyproject()
    extras = meta["project"]["optional-dependencies"]
    dev = _names(extras["dev"])
    # `python setup.py build_ext --inplace` needs the build requirements; then the tests, the benchmarks, lint
    assert _names(meta["build-system"]["requires"]) <= dev
    assert _names(extras["test"]) <= dev and _names(extras["bench"]) <= dev
    assert {"ruff", "mypy", "setuptools"} <= dev
    section = README.split("## Development", 1)[1]
    assert 'pip install -e ".[dev]"' in section and "python setup.py build_ext --inplace" in section
    for tool in re.findall(r"^(ruff|mypy|pytest)\b", section, re.M):
        assert tool in dev


# -- 5. the example model and the README tour -----------------------------------------------------
README = (ROOT / "README.md").read_text()


def test_example_model_ships_as_package_data() -> None:
    path = rfa_fast.examples.path("resnet18")
    # the tests import the installed package in CI: the file is there only if the install shipped it
    assert path.is_file() and path.parent == Path(rfa_fast.__file__).resolve().parent / "examples"
    assert path.stat().st_size < 50_000  # weightless: a few KB
    data = _pyproject()["tool"]["setuptools"]["package-data"]["rfa_fast"]
    assert "examples/*.onnx" in data
    model = onnx.load(str(path), load_external_data=False)
    assert all(not t.raw_data and t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer)
    assert rfa_fast.examples.names() == ("resnet18",) and "ResNet-18" in rfa_fast.examples.describe("resnet18")


@pytest.mark.parametrize("resolution", [32, 224, (64, 48)])
def test_example_model_analyzes_like_the_zoo_graph(resolution: Any) -> None:
    loaded = rfa_fast.analyze(rfa_fast.load_onnx(rfa_fast.examples.path("resnet18")), resolution).to_dict()
    built = rfa_fast.analyze(zoo.resnet18(), resolution).to_dict()
    assert [layer["name"] for layer in loaded["layers"]] == [layer["name"] for layer in built["layers"]]
    ops = {"conv": "Conv", "maxpool": "MaxPool", "add": "Add", "global_pool": "GlobalAveragePool", "dense": "Gemm"}
    for a, b in zip(loaded["layers"], built["layers"]):
        b = dict(b, op=ops.get(b["op"], "Input"))
        assert {k: a[k] for k in LAYER_KEYS} == {k: b[k] for k in LAYER_KEYS}, a["name"]
    assert loaded["summary"] == built["summary"]
    if resolution == 32:
        assert loaded["summary"]["border_layers"] == ["layer3.0.conv2"] and loaded["summary"]["n_unproductive"] == 7


def test_unknown_example_names_the_shipped_ones() -> None:
    with pytest.raises(
        rfa_fast.UnknownExampleError, match=r"no example model 'resnet50': the shipped examples are resnet18"
    ):
        rfa_fast.examples.path("resnet50")
    assert issubclass(rfa_fast.UnknownExampleError, ValueError)


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_example_models", ROOT / "tools" / "make_example_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_example_is_what_the_tool_writes() -> None:
    tool = _tool()
    model = tool.build("resnet18")
    tool.check(model)  # onnx.checker, full check
    shipped = onnx.load(str(ROOT / "rfa_fast" / "examples" / "resnet18.onnx"), load_external_data=False)
    assert shipped == model, "rfa_fast/examples/resnet18.onnx is stale: run python tools/make_example_models.py"


def test_readme_tour_runs_as_written(tmp_path: Path) -> None:
    tour = README.split("## A 30-second tour", 1)[1]
    code = re.search(r"```python\n(.*?)```", tour, re.S)
    assert code is not None
    check = (
        "\nprint('TOUR', report.summary['border_layers'], report.summary['i_min'], len(keep) > 0,"
        " r.n_unproductive.shape, g.name)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code.group(1) + check],
        cwd=tmp_path,  # a user's directory: no model file there, the tour must not need one
        env=package_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1] == "TOUR ['layer3.0.conv2'] [97.0, 97.0] True (1000000, 1) resnet18"
    assert "resnet18 at 32 px (32 layers)" in proc.stdout  # print(report)


# -- the docs' commands ---------------------------------------------------------------------------
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]


def test_docs_do_not_put_the_source_tree_on_pythonpath() -> None:
    """``PYTHONPATH=.`` imports the source tree, which has no compiled extension after ``pip install .``:
    the docs' commands are written for an installed package (``pip install .`` or ``-e .``)."""
    found = [
        f"{p.name}:{i}" for p in DOCS for i, line in enumerate(p.read_text().splitlines(), 1) if "PYTHONPATH=." in line
    ]
    assert not found, found


def test_docs_python_snippets_name_the_editable_install() -> None:
    """The docs whose commands run ``python -c`` or a script from the checkout's root say how to install for that."""
    for path in DOCS:
        text = path.read_text()
        if re.search(r"^\$ python (-c|examples/)", text, re.M):
            assert "pip install -e" in text, f"{path.name} runs python from the checkout without saying how to install"
