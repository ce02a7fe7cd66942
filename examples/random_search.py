"""Random architecture search that trains only the candidates with no unproductive layer.

A search loop asks a generator for candidates in batches, screens each batch
with one call of :func:`rfa_fast.screen` (Cython packing + compiled core), and
passes only the productive candidates to the expensive step: ``train`` here is
a stand-in that would cost a GPU-hour each.  Candidates are JSON-able specs
(:meth:`rfa_fast.Graph.from_spec`): VGG/ResNet-like stacks of random stages
with random kernels, residual additions and downsampling, for 32x32 inputs.

Run (from the repository root; ``PYTHONPATH=.`` only when rfa_fast is built in
place rather than installed):

    PYTHONPATH=. python examples/random_search.py [--rounds 10] [--batch 2000]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import rfa_fast

RESOLUTION = 32


def random_candidate(rng: random.Random) -> list[dict[str, Any]]:
    """One random CNN for 32 px inputs as a list of spec layers (inputs default to the previous layer)."""
    layers: list[dict[str, Any]] = [{"op": "input"}]
    c_in = 3
    for stage in range(rng.randint(2, 5)):
        width = 16 << stage
        for _ in range(rng.randint(1, 4)):
            k = rng.choice((1, 3, 3, 5, 7))
            layers.append({"op": "conv", "kernel": k, "pad": k // 2, "c_in": c_in, "c_out": width})
            c_in = width
            if rng.random() < 0.3:  # a residual block: conv, then add the block's input
                layers.append({"op": "conv", "kernel": 3, "pad": 1, "c_in": width, "c_out": width})
                layers.append({"op": "add", "inputs": [len(layers) - 2, len(layers) - 1]})
        if rng.random() < 0.5:
            layers.append({"op": "maxpool", "kernel": 2, "stride": 2})
        else:
            layers.append({"op": "conv", "kernel": 3, "stride": 2, "pad": 1, "c_in": c_in, "c_out": c_in})
    layers += [{"op": "global_pool"}, {"op": "dense", "c_in": c_in, "c_out": 10}]
    return layers


def train(spec: list[dict[str, Any]], rng: random.Random) -> float:
    """Stand-in for an hour of training: a made-up accuracy that likes depth, with noise."""
    convs = sum(layer["op"] == "conv" for layer in spec)
    return min(0.95, 0.6 + 0.015 * convs + rng.gauss(0, 0.02))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    asked = productive = 0
    screen_seconds = 0.0
    best = (0.0, -1, -1)
    for round_ in range(1, args.rounds + 1):
        candidates = [random_candidate(rng) for _ in range(args.batch)]  # ask
        t0 = time.perf_counter()
        batch = rfa_fast.GraphBatch.from_specs(candidates)
        t1 = time.perf_counter()
        result = rfa_fast.screen(batch, RESOLUTION, i_min=False)  # only the count at 32 px is needed
        t2 = time.perf_counter()
        keep = result.mask(max_unproductive=0)
        screen_seconds += t2 - t0
        for b in keep.nonzero()[0]:
            score = train(candidates[b], rng)
            best = max(best, (score, round_, int(b)))
        asked += len(candidates)
        productive += int(keep.sum())
        print(
            f"round {round_:2d}: asked {len(candidates)}, packed in {(t1 - t0) * 1e3:.1f} ms, "
            f"screened in {(t2 - t1) * 1e3:.1f} ms, {int(keep.sum())} productive -> trained {int(keep.sum())}"
        )
    print(f"total: asked {asked}, productive {productive} ({100 * productive / asked:.1f}%), trained {productive}")
    print(
        f"screening (packing included): {screen_seconds:.3f} s in all, "
        f"{1e6 * screen_seconds / asked:.1f} us per candidate"
    )
    print(f"training saved: {asked - productive} of {asked} GPU-hours")
    print(f"best stand-in accuracy {best[0]:.3f} (round {best[1]}, candidate {best[2]})")


if __name__ == "__main__":
    main()
