"""What the three atheris targets share: the contract, the instrumentation, the libFuzzer flags.

A target is a function of the fuzz bytes.  Its contract: it returns, or it
raises an :class:`rfa_fast.errors.RfaError` (GraphError, SpecError,
OnnxError...).  Any other exception type, a crash (ASan/UBSan report, signal),
a hang (libFuzzer ``-timeout``) or a memory blow-up (``-rss_limit_mb``) is a
finding; libFuzzer writes the input to ``crash-*``/``timeout-*``/``oom-*`` in
the working directory, and ``tests/test_hardening.py`` replays it.

Run one target directly (``python fuzz/fuzz_core.py CORPUS_DIR SEED_DIR
-max_total_time=60``) or all three with ``fuzz/run_all.py``.
"""

from __future__ import annotations

import os
import random
import sys
import warnings
from collections.abc import Callable
from typing import Any

import atheris

# The repo root as a fallback only: a PYTHONPATH build (the sanitized one,
# fuzz/run_all.py --build) or an installed package comes first.
sys.path.append(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Only rfa_fast is instrumented for coverage: onnx/numpy/protobuf would slow
# every execution and their branches are not ours to explore.
with atheris.instrument_imports(include=["rfa_fast"]):
    import rfa_fast  # noqa: F401
    import rfa_fast.onnx  # noqa: F401
    from rfa_fast.errors import RfaError

# Loader warnings (unknown ops, spatial concats) are expected on mutated models.
warnings.simplefilter("ignore")

# Values at the edges of every range the core and the packer check: the
# limits themselves (2^16 window params, 2^20 pads, 2^30 resolutions), one
# past them, the int32/int64 extremes, zero and negative.
EDGE_INTS = [
    0, 1, 2, 3, 5, 7, -1, -2, 2**16, 2**16 + 1, 2**20, 2**20 + 1, 2**30, 2**30 + 1, 2**31 - 1, -(2**31),
    2**31, 2**32, 2**62, 2**63 - 1, -(2**63), 4096, 4097, 65535,
]  # fmt: skip
EDGE_FLOATS = [
    0.0, -0.0, 1.0, 2.0, 0.5, 1.5, 3.0, 1 / 3, 4097 / 4096, 1e-9, 1e-10, 1e9, 1e10, 1e308, -1.0,
    float("inf"), float("-inf"), float("nan"), 5e-324,
]  # fmt: skip


def contract(fn: Callable[[bytes], Any]) -> Callable[[bytes], None]:
    """Wrap a target so that an RfaError is an accepted outcome and anything else propagates."""

    def one_input(data: bytes) -> None:
        try:
            fn(data)
        except RfaError:
            pass

    return one_input


def main(fn: Callable[[bytes], Any], custom_mutator: Callable[[bytes, int, int], bytes] | None = None) -> None:
    """Start libFuzzer on ``fn`` with the command line's corpus dirs and flags.

    Defaults (overridable on the command line): a 20 s timeout per input
    (a hang, not a slow input: the largest seed loads in well under a
    second), a 6 GB RSS limit (the sanitized build holds ASan's quarantine).
    """
    argv = list(sys.argv)
    flags = {a.split("=")[0] for a in argv[1:] if a.startswith("-")}
    for flag, value in (("-timeout", "20"), ("-rss_limit_mb", "6144"), ("-print_final_stats", "1")):
        if flag not in flags:
            argv.append(f"{flag}={value}")
    kwargs: dict[str, Any] = {}
    if custom_mutator is not None:
        kwargs["custom_mutator"] = custom_mutator
    atheris.Setup(argv, contract(fn), **kwargs)
    atheris.Fuzz()


def mixed_mutator(structured: Callable[[bytes, random.Random], bytes | None]) -> Callable[[bytes, int, int], bytes]:
    """A custom mutator: half libFuzzer's byte mutations, half a structure-aware one.

    Byte mutations alone mostly break the format (protobuf, JSON) at the
    first byte and never reach the analysis; the structured half keeps the
    input well-formed and changes one meaningful value.
    """

    def mutate(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        if rng.random() < 0.5:
            try:
                out = structured(data, rng)
            except Exception:  # noqa: BLE001 - an unparsable input just gets byte mutations
                out = None
            if out is not None and len(out) <= max_size:
                return out
        return atheris.Mutate(data, max_size)

    return mutate


def edge_int(rng: random.Random) -> int:
    return rng.choice(EDGE_INTS) if rng.random() < 0.7 else rng.randint(-8, 300)


def env_flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")
