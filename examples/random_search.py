"""Random architecture search with Optuna that trains only the candidates with no unproductive layer.

The candidates form a :class:`rfa_fast.Space`: VGG/ResNet-like CNNs for
32x32 inputs with 2 to 5 stages, 1 to 4 convolutions per stage, a kernel
(1, 3, 5, 7) and an optional residual block per convolution, and max pooling
or a strided convolution to downsample (51 choices in all). Optuna's
``RandomSampler`` draws them through ask-and-tell, in batches: each round
asks ``--batch`` trials (``rfa_fast.optuna.suggest``: one
``suggest_categorical`` per choice), screens the whole batch with one
``space.screen`` call (no graph is built), prunes the trials whose candidate
wastes layers (``prune_unproductive`` on the batch's result: the reason and
the receptive-field summary go to the trial's user attributes) and passes only
the others to the expensive step: ``train`` here is a stand-in that would cost
a GPU-hour each.

Needs Optuna (``pip install 'rfa_fast[optuna]'``). Run (from the repository
root; ``PYTHONPATH=.`` only when rfa_fast is built in place):

    PYTHONPATH=. python examples/random_search.py [--rounds 4] [--batch 250]
"""

from __future__ import annotations

import argparse
import random
import time

import numpy as np
import optuna
from optuna.trial import TrialState

import rfa_fast
from rfa_fast.optuna import prune_unproductive, suggest
from rfa_fast.space import combine

RESOLUTION = 32
MAX_STAGES, MAX_DEPTH = 5, 4


def cnn_space() -> rfa_fast.Space:
    """Stages of convolutions (optional residual blocks), each followed by a downsampling, for 32 px inputs."""
    sp = rfa_fast.Space("random_cnn")
    x = sp.input("input")
    stages = sp.choice("stages", [2, 3, 4, 5])

    def stage(s: int, x: int) -> int:
        width, c_in = 16 << s, (3 if s == 0 else 16 << (s - 1))
        depth = sp.choice(f"depth{s}", list(range(1, MAX_DEPTH + 1)))
        for d in range(MAX_DEPTH):
            k = sp.choice(f"kernel{s}.{d}", [1, 3, 5, 7])

            def block(
                x: int, s: int = s, d: int = d, k: rfa_fast.space.Choice = k, c: int = c_in if d == 0 else width
            ) -> int:
                x = sp.conv(x, k, pad=k // 2, c_in=c, c_out=width, name=f"s{s}.conv{d}")
                residual = {
                    "plain": "identity",
                    "residual": lambda y: sp.add(
                        y, sp.conv(y, 3, pad=1, c_in=width, c_out=width, name=f"s{s}.res{d}"), name=f"s{s}.add{d}"
                    ),
                }
                return sp.choose(f"residual{s}.{d}", x, residual, name=f"s{s}.block{d}")

            x = block(x) if d == 0 else sp.when(depth > d, x, block, name=f"s{s}.depth>{d}")
        down = {
            "maxpool": lambda x: sp.pool(x, 2, name=f"s{s}.pool"),
            "stride": lambda x: sp.conv(x, 3, 2, pad=1, c_in=width, c_out=width, name=f"s{s}.down"),
        }
        return sp.choose(f"down{s}", x, down)

    for s in range(MAX_STAGES):
        x = stage(s, x) if s < 2 else sp.when(stages > s, x, lambda x, s=s: stage(s, x), name=f"stage{s}")
    x = sp.global_pool(x, name="gap")
    sp.dense(x, combine(lambda n: 16 << (n - 1), stages), 10, name="fc")
    return sp.build()


def train(convs: int, rng: random.Random) -> float:
    """Stand-in for an hour of training: a made-up accuracy that likes depth, with noise."""
    return min(0.95, 0.6 + 0.015 * convs + rng.gauss(0, 0.02))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(args.seed)
    space = cnn_space()
    print(f"space {space.name!r}: {len(space.choices)} choices, {space.size:.3g} candidates")

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=args.seed))
    asked = productive = 0
    optuna_seconds = rfa_seconds = 0.0
    for round_ in range(1, args.rounds + 1):
        t0 = time.perf_counter()
        trials = [study.ask() for _ in range(args.batch)]
        rows = np.stack([suggest(space, t) for t in trials])  # Optuna's suggest_categorical, one per choice
        t1 = time.perf_counter()
        result = space.screen(rows, RESOLUTION)  # the whole batch in one call
        t2 = time.perf_counter()
        kept, pruned = [], []
        for b, trial in enumerate(trials):
            try:
                prune_unproductive(trial, result, RESOLUTION, index=b)  # records the summary; raises if wasteful
                kept.append(b)
            except optuna.TrialPruned:
                pruned.append(b)
        t3 = time.perf_counter()
        for b in pruned:
            study.tell(trials[b], state=TrialState.PRUNED)
        t4 = time.perf_counter()
        for b in kept:  # training: not timed
            decoded = space.decode(rows[b])
            n_convs = sum(decoded[f"depth{s}"] for s in range(decoded["stages"]))
            study.tell(trials[b], train(n_convs, rng))
        optuna_seconds += (t1 - t0) + (t4 - t3)
        rfa_seconds += t3 - t1
        asked += len(trials)
        productive += len(kept)
        print(
            f"round {round_:2d}: asked {len(trials)}, screened in {(t2 - t1) * 1e3:.1f} ms, "
            f"{len(kept)} productive -> trained {len(kept)}"
        )
    print(f"total: asked {asked}, productive {productive} ({100 * productive / asked:.1f}%), trained {productive}")
    print(
        f"rfa_fast (one space.screen per round + prune_unproductive per trial): {rfa_seconds:.3f} s, "
        f"{1e6 * rfa_seconds / asked:.1f} us per candidate; Optuna (ask, suggest, tell): {optuna_seconds:.3f} s"
    )
    print(f"training saved: {asked - productive} of {asked} GPU-hours")
    best = study.best_trial
    print(f"best stand-in accuracy {best.value:.3f} (trial #{best.number})")
    reasons = [t.user_attrs["pruned_by"] for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))]
    if reasons:
        print(f"e.g. trial pruned because {reasons[0]}")


if __name__ == "__main__":
    main()
