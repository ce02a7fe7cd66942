"""Builds the two extensions: the C++ core (pybind11) and the Cython packer."""

import os
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension
from setuptools import Extension, setup

HERE = Path(__file__).parent
CXX_FLAGS = ["-O3", "-std=c++17", "-fvisibility=hidden"]
C_FLAGS = ["-O3"]
LINK_FLAGS: list[str] = []
# tools/sanitize.sh builds both extensions with e.g. RFA_FAST_SANITIZE=address,undefined:
# -O1 -g keeps stack traces readable; extra_compile_args come last on the
# command line, so this is the only place the -O3 above can be replaced.
SANITIZE = os.environ.get("RFA_FAST_SANITIZE", "").strip()
if SANITIZE:
    SAN_FLAGS = [f"-fsanitize={SANITIZE}", "-fno-omit-frame-pointer", "-fno-sanitize-recover=all", "-O1", "-g"]
    CXX_FLAGS = ["-std=c++17", "-fvisibility=hidden"] + SAN_FLAGS
    C_FLAGS = SAN_FLAGS
    LINK_FLAGS = [f"-fsanitize={SANITIZE}"]

core_sources = sorted(str(p.relative_to(HERE)) for p in (HERE / "csrc").glob("*/*.cpp"))
# The headers: build_ext rebuilds the extension when any of them is newer than it
# (without them an edited header leaves a stale _core in place).
core_headers = sorted(str(p.relative_to(HERE)) for p in (HERE / "csrc").rglob("*.hpp"))

ext_modules = [
    Pybind11Extension(
        "rfa_fast._core",
        core_sources,
        include_dirs=["csrc"],
        depends=core_headers,
        cxx_std=17,
        extra_compile_args=CXX_FLAGS,
        extra_link_args=LINK_FLAGS,
    )
]

if (HERE / "rfa_fast" / "_pack.pyx").exists():
    import numpy
    from Cython.Build import cythonize

    ext_modules += cythonize(
        [
            Extension(
                "rfa_fast._pack",
                ["rfa_fast/_pack.pyx"],
                include_dirs=[numpy.get_include()],
                extra_compile_args=C_FLAGS,
                extra_link_args=LINK_FLAGS,
            )
        ],
        compiler_directives={"language_level": "3", "boundscheck": False, "wraparound": False},
    )

setup(ext_modules=ext_modules)
