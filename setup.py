"""Builds the two extensions: the C++ core (pybind11) and the Cython packer."""

from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension
from setuptools import Extension, setup

HERE = Path(__file__).parent
CXX_FLAGS = ["-O3", "-std=c++17", "-fvisibility=hidden"]

core_sources = ["csrc/bindings.cpp"] + sorted(str(p.relative_to(HERE)) for p in (HERE / "csrc" / "rfa").glob("*.cpp"))

ext_modules = [
    Pybind11Extension(
        "rfa_fast._core",
        core_sources,
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=CXX_FLAGS,
    )
]

if (HERE / "rfa_fast" / "_pack.pyx").exists():
    import numpy
    from Cython.Build import cythonize

    ext_modules += cythonize(
        [Extension("rfa_fast._pack", ["rfa_fast/_pack.pyx"], include_dirs=[numpy.get_include()], extra_compile_args=["-O3"])],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )

setup(ext_modules=ext_modules)
