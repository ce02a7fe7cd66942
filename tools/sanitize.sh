#!/usr/bin/env bash
# Build both compiled extensions (the C++ core and the Cython packer) with
# AddressSanitizer + UndefinedBehaviorSanitizer in a temporary copy of the
# tree, then run the property and bad-input tests against that build with
# the sanitizer runtimes preloaded. Any heap/stack overflow, use-after-free
# or undefined behaviour (signed overflow, bad shift, misaligned load...)
# stops the run with a report and a non-zero exit.
#
#   bash tools/sanitize.sh                 # build + the default test set
#   bash tools/sanitize.sh tests/test_x.py # build + these pytest arguments instead
#   SANITIZE_KEEP=1 bash tools/sanitize.sh # keep the build dir (path printed)
#
# The in-place .so files of the source tree are never touched. On a fresh
# machine it installs what it needs: g++ and Python headers from Debian, the
# build and test requirements from PyPI. docs/hardening.md explains the choices.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-python3}"

say() { echo "== sanitize: $*"; }

# -- toolchain ----------------------------------------------------------------
apt_install() {
  if command -v apt-get >/dev/null 2>&1; then
    say "installing Debian packages: $*"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
  else
    echo "sanitize: missing $* and no apt-get to install it" >&2
    exit 2
  fi
}
command -v g++ >/dev/null 2>&1 || apt_install g++
ASAN_LIB="$(g++ -print-file-name=libasan.so)"
UBSAN_LIB="$(g++ -print-file-name=libubsan.so)"
# -print-file-name echoes the bare name when the library is not installed.
if [[ "$ASAN_LIB" != /* || "$UBSAN_LIB" != /* ]]; then
  # Debian ships the link-time libasan.so/libubsan.so with libgcc-N-dev.
  apt_install "libgcc-$(g++ -dumpversion | cut -d. -f1)-dev"
  ASAN_LIB="$(g++ -print-file-name=libasan.so)"
  UBSAN_LIB="$(g++ -print-file-name=libubsan.so)"
  [[ "$ASAN_LIB" == /* && "$UBSAN_LIB" == /* ]] || { echo "sanitize: no libasan/libubsan for $(g++ --version | head -1)" >&2; exit 2; }
fi
PY_INCLUDE="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
[[ -f "$PY_INCLUDE/Python.h" ]] || apt_install python3-dev

# Build and test requirements (pyproject's build-system.requires and the test extra).
if ! "$PY" -c 'import pybind11, Cython, numpy, onnx, pytest, hypothesis' 2>/dev/null; then
  say "installing build and test requirements from PyPI"
  "$PY" -m pip install -q "pybind11>=2.12" "Cython>=3.0" "numpy>=1.24" "onnx>=1.14" "pytest>=7" "hypothesis>=6" \
    "setuptools>=68" wheel
fi

# -- build in a copy ----------------------------------------------------------
BUILD="${SANITIZE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/rfa_sanitize.XXXXXX")}"
mkdir -p "$BUILD"
if [[ -z "${SANITIZE_KEEP:-}" && -z "${SANITIZE_DIR:-}" ]]; then
  trap 'rm -rf "$BUILD"' EXIT
fi
say "copying the tree to $BUILD"
# Everything but compiled artifacts: the copy must build its own .so and .c.
(cd "$ROOT" && tar -cf - --exclude='*.so' --exclude='rfa_fast/_pack.c' --exclude='__pycache__' \
  --exclude='.pytest_cache' --exclude='./build' --exclude='.git' --exclude='.hypothesis' \
  setup.py pyproject.toml README.md csrc rfa_fast tests $( [[ -d fuzz ]] && echo fuzz )) | (cd "$BUILD" && tar -xf -)

say "building with -fsanitize=address,undefined -O1 -g (log: $BUILD/build.log)"
start=$(date +%s)
if ! (cd "$BUILD" && RFA_FAST_SANITIZE=address,undefined "$PY" setup.py -q build_ext --inplace -j 2 >build.log 2>&1); then
  tail -40 "$BUILD/build.log"
  echo "sanitize: the sanitizer build failed" >&2
  exit 1
fi
say "built in $(( $(date +%s) - start )) s"
for so in "$BUILD"/rfa_fast/_core*.so "$BUILD"/rfa_fast/_pack*.so; do
  # A build that silently lost the flags would pass every test and prove nothing.
  if ! ldd "$so" | grep libasan >/dev/null; then
    echo "sanitize: $so is not linked against libasan" >&2
    exit 1
  fi
done

# -- run ----------------------------------------------------------------------
# Python itself is not instrumented: leak checking would report every
# interned object at exit, so it is off (RSS growth is tested instead, in
# tests/test_hardening.py). PYTHONMALLOC=malloc routes Python's allocations
# through ASan's malloc, so an overflow from the extensions into a Python
# object is caught too.
export LD_PRELOAD="$ASAN_LIB $UBSAN_LIB"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=1:strict_init_order=1:check_initialization_order=1:allocator_may_return_null=1:handle_segv=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export PYTHONMALLOC=malloc
export PYTHONPATH="$BUILD"
export RFA_FAST_SANITIZED=1 # tests that only measure time or RSS skip themselves under ASan
cd "$BUILD"
"$PY" - <<'EOF'
import rfa_fast._core as c, rfa_fast._pack as p, os
build = os.environ["PYTHONPATH"]
assert c.__file__.startswith(build) and p.__file__.startswith(build), (c.__file__, p.__file__)
print("== sanitize: importing", c.__file__, "and", p.__file__)
EOF

if [[ $# -gt 0 ]]; then
  TESTS=("$@")
else
  TESTS=()
  for t in test_validation_errors test_threads test_chains test_pack test_property test_onnx_loader test_hardening \
    test_limits test_thresholds test_nb201_kernel test_hand_cases test_oracle test_space test_space_property \
    test_space_batched test_space_nas; do
    [[ -f "tests/$t.py" ]] && TESTS+=("tests/$t.py")
  done
  # Bounded hypothesis runs: the sanitized build is ~3x slower and CI has minutes.
  TESTS+=(-m "not slow")
fi
say "pytest ${TESTS[*]}"
start=$(date +%s)
"$PY" -m pytest -q -p no:cacheprovider -x "${TESTS[@]}"
say "tests ran in $(( $(date +%s) - start )) s under ASan+UBSan: no memory error, no undefined behaviour"
