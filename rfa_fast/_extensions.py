"""The first thing ``import rfa_fast`` does: import the compiled extensions, or say how to build them.

rfa_fast needs two compiled modules, the C++ core (``rfa_fast._core``, pybind11)
and the Cython packer (``rfa_fast._pack``).  ``pip install .`` builds them into
site-packages, not into the checkout: Python started in the checkout's root
(``python -c``, a REPL, ``python -m rfa_fast.cli``) finds the source tree first,
which has none.  Without this check that ends in "cannot import name '_core'
from partially initialized module"; with it, in an
:class:`~rfa_fast.errors.ExtensionNotBuiltError` naming the directory and the
fix (run from elsewhere, ``pip install -e .``, or
``python setup.py build_ext --inplace``), as numpy does.

>>> require_extensions()  # the package imported here is built: nothing happens
>>> "pip install -e ." in missing_message(Path("/src/rfa_fast"), {"_core": ImportError("x")}, source_tree=True)
True
"""

from __future__ import annotations

import importlib
import importlib.machinery
from collections.abc import Mapping
from pathlib import Path

from .errors import ExtensionNotBuiltError

EXTENSIONS = ("_core", "_pack")
"""The compiled modules of the package: the C++ core and the Cython packer (setup.py builds both)."""

PACKAGE_DIR = Path(__file__).resolve().parent


def is_source_tree(package_dir: Path) -> bool:
    """True when ``package_dir`` is the ``rfa_fast/`` of a checkout (``setup.py`` and ``csrc/`` beside it)."""
    root = package_dir.parent
    return (root / "setup.py").is_file() and (root / "csrc").is_dir()


def built_files(package_dir: Path, name: str) -> list[Path]:
    """The compiled files of extension ``name`` in ``package_dir`` (any platform suffix), sorted."""
    return sorted(
        p for suffix in importlib.machinery.EXTENSION_SUFFIXES if (p := package_dir / f"{name}{suffix}").is_file()
    )


def missing_message(package_dir: Path, failed: Mapping[str, ImportError], *, source_tree: bool) -> str:
    """The text of :class:`ExtensionNotBuiltError`: what failed, where, and the command that fixes it.

    ``failed`` maps each extension that could not be imported (``"_core"``,
    ``"_pack"``) to its import error; ``source_tree`` says whether
    ``package_dir`` belongs to a checkout (:func:`is_source_tree`).
    """
    names = " and ".join(f"rfa_fast.{n}" for n in failed)
    present = {n: built_files(package_dir, n) for n in failed}
    causes = "; ".join(f"{n}: {type(e).__name__}: {e}" for n, e in failed.items())
    if any(present.values()):
        # a build is there but does not load: another Python, another numpy, a stale build
        files = ", ".join(p.name for ps in present.values() for p in ps)
        fix = (
            "rebuild them in place: `python setup.py build_ext --inplace` (or `pip install -e .`) from the checkout"
            if source_tree
            else "reinstall the package: `pip install --force-reinstall --no-cache-dir rfa_fast`"
        )
        return f"rfa_fast's compiled extensions {names} are in {package_dir} ({files}) but cannot be loaded ({causes}); {fix}."
    if source_tree:
        return (
            f"rfa_fast's compiled extensions are not built: {names} missing from {package_dir}. "
            f"Python imported rfa_fast from the source tree {package_dir.parent}, which has no compiled extension "
            "(`pip install .` builds them into site-packages, not into the checkout). Either run Python from "
            "outside the checkout, so that the installed package is imported, or build the extensions in place: "
            "`pip install -e .` (the development install) or `python setup.py build_ext --inplace` "
            f"(see README.md, Development). ({causes})"
        )
    return (
        f"rfa_fast's compiled extensions {names} are missing from the installed package in {package_dir} ({causes}); "
        "reinstall it with a C++17 compiler available: `pip install --force-reinstall --no-cache-dir rfa_fast`."
    )


def require_extensions(package_dir: Path = PACKAGE_DIR) -> None:
    """Import ``rfa_fast._core`` and ``rfa_fast._pack``, or raise :class:`ExtensionNotBuiltError` saying how to fix it.

    ``import rfa_fast`` calls this before any module that needs the core.
    """
    failed: dict[str, ImportError] = {}
    for name in EXTENSIONS:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ImportError as e:
            failed[name] = e
            continue
        found = Path(module.__file__ or "").resolve().parent
        if found != package_dir.resolve():
            # Another installation's build (an editable install of another checkout answers for
            # submodules its package directory lacks): the Python code here would run with it.
            failed[name] = ImportError(f"found only {module.__file__}, outside {package_dir}")
    if failed:
        message = missing_message(package_dir, failed, source_tree=is_source_tree(package_dir))
        raise ExtensionNotBuiltError(message) from next(iter(failed.values()))
