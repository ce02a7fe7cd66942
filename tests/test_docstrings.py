"""The examples in the docstrings are part of the documentation: run them.

Each module of the package is imported and its doctests run; a wrong
example fails here (a user reads them as the reference).
"""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import pkgutil

import pytest
from deps import missing

import rfa_fast

MODULES = sorted(
    m.name for m in pkgutil.walk_packages(rfa_fast.__path__, "rfa_fast.") if not m.name.split(".")[-1].startswith("__")
)
OPTIONAL = {
    "dask",
    "distributed",
    "pandas",
    "tqdm",
    "graphviz",
    "torch",
    "torchvision",
    "timm",
    "optuna",
}  # extras of pyproject.toml

EXAMPLES_NEED = {name: ("torch",) for name in MODULES if name == "rfa_fast.refine" or name.startswith("rfa_fast.torch")}
"""Modules that import without the extra but whose examples run it."""


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    try:
        module = importlib.import_module(name)
    except ImportError as e:  # only an optional extra may be missing
        if (e.name or "").split(".")[0] not in OPTIONAL:
            raise
        missing(f"{name} needs the optional {e.name!r}")
    # examples that use an optional extra (from_torch, apply_torch) need it installed; a missing one is a
    # skip outside CI and a failure in CI (tests/deps.py), like a module that imports it
    for extra in EXAMPLES_NEED.get(name, ()):
        if importlib.util.find_spec(extra) is None:
            missing(f"the examples of {name} use the optional {extra!r}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_the_examples_exist() -> None:
    finder = doctest.DocTestFinder()
    api = importlib.import_module("rfa_fast.api")
    assert sum(len(t.examples) for t in finder.find(api)) >= 10
