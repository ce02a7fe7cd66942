"""Fuzz target: ``GraphBatch.from_specs`` (the Cython packer), then ``screen``, on mutated JSON specs.

The fuzz bytes are JSON (bytes that are not JSON are skipped: the JSON
decoder is not ours).  A spec list is packed by the compiled packer and by
the plain-Python path (``Graph.from_spec``); tests/test_pack.py says both
give identical arrays, so the fuzzer checks it too: a disagreement (arrays
differ, or one refuses what the other packs) is a finding.  Packed batches
are screened, to reach the core with what users' specs produce.

    python fuzz/fuzz_specs.py CORPUS_DIR SEED_DIR -max_total_time=60
"""

from __future__ import annotations

import json
import os
import random
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from _runner import EDGE_FLOATS, edge_int, env_flag, main, mixed_mutator  # noqa: E402

import rfa_fast  # noqa: E402
from rfa_fast import Graph, GraphBatch  # noqa: E402
from rfa_fast.errors import RfaError, SpecError  # noqa: E402

# The packers differ on what they refuse at the margins (the compiled one
# refuses a bool where an int is expected, the Python one reads True as 1):
# not a crash nor a wrong answer, so by default only arrays that both packed
# must agree; RFA_FUZZ_DIFF=1 makes every refuse/accept difference a finding.
STRICT_DIFF = env_flag("RFA_FUZZ_DIFF")


class PackerMismatch(AssertionError):
    """The compiled and the plain-Python packer disagree on a spec."""


def decode(data: bytes) -> Any:
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def target(data: bytes) -> None:
    specs = decode(data)
    if not isinstance(specs, list):
        if specs is not None:  # not a list: the packer must refuse it cleanly
            try:
                GraphBatch.from_specs(specs)
            except (RfaError, TypeError):
                # TypeError: from_specs(specs: Iterable) given a non-iterable, as documented
                pass
        return
    try:
        batch = GraphBatch.from_specs(specs)
    except SpecError as e:
        fast_error: SpecError | None = e
    else:
        fast_error = None
    try:
        slow = GraphBatch.from_graphs([Graph.from_spec(s, index=i) for i, s in enumerate(specs)])
    except SpecError as e:
        slow_error: SpecError | None = e
    else:
        slow_error = None
    if STRICT_DIFF and (fast_error is None) != (slow_error is None):
        raise PackerMismatch(f"compiled packer: {fast_error!r}; Python packer: {slow_error!r}")
    if fast_error is not None or slow_error is not None:
        raise fast_error or slow_error  # type: ignore[misc]
    for key, arr in batch.arrays.items():
        if not np.array_equal(arr, slow.arrays[key], equal_nan=True):
            raise PackerMismatch(f"array {key!r} differs: {arr!r} vs {slow.arrays[key]!r}")
    rfa_fast.screen(batch, [8, 33], threads=1)


LAYER_KEYS = ["op", "kind", "inputs", "kernel", "stride", "dilation", "pad", "pad_begin", "pad_end", "pad_mode",
              "ceil_mode", "scale", "mode", "c_in", "c_out", "groups", "weighted", "output_padding", "name"]  # fmt: skip
VALUES: list[Any] = [
    None, True, False, [], {}, "", "same", "same_lower", "valid", "explicit", "conv", "pool", "transposed", "resize",
    "add", "global", "dense", "identity", "input", "window", "merge", "linear", "cubic", "nearest", [1, 2], [3, 3, 3],
    [0], [-1, 2], "3", 2.5, [2.0, 0.5], [[1]],
]  # fmt: skip


def _random_value(rng: random.Random) -> Any:
    r = rng.random()
    if r < 0.4:
        return edge_int(rng)
    if r < 0.55:
        return rng.choice(EDGE_FLOATS)
    if r < 0.7:
        return [edge_int(rng) for _ in range(rng.randint(0, 4))]
    return rng.choice(VALUES)


def structured(data: bytes, rng: random.Random) -> bytes | None:
    specs = decode(data)
    if not isinstance(specs, list) or not specs:
        return None
    b = rng.randrange(len(specs))
    spec = specs[b]
    layers = spec.get("layers") if isinstance(spec, dict) else spec
    what = rng.randrange(6)
    if isinstance(layers, list) and layers and what < 4:
        i = rng.randrange(len(layers))
        layer = layers[i]
        if not isinstance(layer, dict):
            layers[i] = {"op": "conv"}
        elif what == 0 or not layer:
            layer[rng.choice(LAYER_KEYS)] = _random_value(rng)
        elif what == 1:
            layer.pop(rng.choice(list(layer)))
        elif what == 2:
            layer["inputs"] = [rng.randint(-2, len(layers)) for _ in range(rng.randint(0, 3))]
        else:
            layers.insert(rng.randrange(len(layers) + 1), dict(layer))
    elif what == 4 and isinstance(spec, dict):
        spec[rng.choice(["dims", "name", "layers"])] = _random_value(rng) if rng.random() < 0.5 else rng.randint(0, 4)
    else:
        if rng.random() < 0.5:
            specs.append(specs[b])
        else:
            specs.pop(b)
    return json.dumps(specs).encode()


if __name__ == "__main__":
    main(target, mixed_mutator(structured))
