"""An ask-and-tell search loop that prunes candidates with unproductive layers before training.

Optuna documents an "ask-and-tell" interface: ``trial = study.ask()``, build
and evaluate a model from ``trial.suggest_*`` values, ``study.tell(trial,
value)``, or ``study.tell(trial, state=PRUNED)`` to give up on it.  This
example writes a tiny ``Study`` with the same shape (random sampling, no
dependency) and puts the receptive-field check between ask and train: one
:func:`rfa_fast.screen` call per candidate, microseconds, against an hour of
training.  With Optuna installed the loop is the same with
``optuna.create_study(direction="maximize")`` and
``optuna.trial.TrialState.PRUNED``.

Run (from the repository root):

    PYTHONPATH=. python examples/ask_tell.py [--trials 300]
"""

from __future__ import annotations

import argparse
import random
import time
from dataclasses import dataclass, field
from typing import Any

import rfa_fast

RESOLUTION = 32


@dataclass
class Trial:
    """One candidate: the parameters suggested so far, then a value or a pruned state."""

    number: int
    rng: random.Random
    params: dict[str, Any] = field(default_factory=dict)
    state: str = "running"
    value: float | None = None

    def suggest_int(self, name: str, low: int, high: int) -> int:
        return self.params.setdefault(name, self.rng.randint(low, high))

    def suggest_categorical(self, name: str, choices: tuple[Any, ...]) -> Any:
        return self.params.setdefault(name, self.rng.choice(choices))


class Study:
    """A random-sampling study with Optuna's ask/tell shape (``direction="maximize"``)."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        self.trials: list[Trial] = []

    def ask(self) -> Trial:
        trial = Trial(len(self.trials), random.Random(self.rng.random()))
        self.trials.append(trial)
        return trial

    def tell(self, trial: Trial, value: float | None = None, *, state: str = "complete") -> None:
        if state not in ("complete", "pruned"):
            raise ValueError(f"state must be 'complete' or 'pruned', got {state!r}")
        trial.state, trial.value = state, value

    @property
    def best_trial(self) -> Trial:
        return max((t for t in self.trials if t.state == "complete"), key=lambda t: t.value or 0.0)


def build(trial: Trial) -> list[dict[str, Any]]:
    """Define-by-run: a plain CNN whose depth, kernels and downsampling come from the trial."""
    layers: list[dict[str, Any]] = [{"op": "input"}]
    c_in = 3
    for s in range(trial.suggest_int("stages", 2, 5)):
        width = trial.suggest_categorical(f"width{s}", (16, 32, 64, 128))
        k = trial.suggest_categorical(f"kernel{s}", (3, 5, 7))
        for _ in range(trial.suggest_int(f"depth{s}", 1, 4)):
            layers.append({"op": "conv", "kernel": k, "pad": k // 2, "c_in": c_in, "c_out": width})
            c_in = width
        if trial.suggest_categorical(f"downsample{s}", ("maxpool", "stride")) == "maxpool":
            layers.append({"op": "maxpool", "kernel": 2})
        else:
            layers.append({"op": "conv", "kernel": 3, "stride": 2, "pad": 1, "c_in": c_in, "c_out": c_in})
    return layers + [{"op": "global_pool"}, {"op": "dense", "c_in": c_in, "c_out": 10}]


def train(layers: list[dict[str, Any]], trial: Trial) -> float:
    """Stand-in for an hour of training: a made-up accuracy."""
    convs = sum(layer["op"] == "conv" for layer in layers)
    return min(0.95, 0.55 + 0.02 * convs + trial.rng.gauss(0, 0.02))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    study = Study(seed=args.seed)
    screen_seconds = 0.0
    for _ in range(args.trials):
        trial = study.ask()
        layers = build(trial)
        t0 = time.perf_counter()
        r = rfa_fast.screen([layers], RESOLUTION, i_min=False)
        screen_seconds += time.perf_counter() - t0
        if r.n_unproductive[0, 0] > 0:  # layers past the border at 32 px: not worth training
            study.tell(trial, state="pruned")
            continue
        study.tell(trial, train(layers, trial))

    pruned = sum(t.state == "pruned" for t in study.trials)
    complete = sum(t.state == "complete" for t in study.trials)
    print(f"trials: {len(study.trials)}, pruned before training: {pruned}, trained: {complete}")
    print(f"screening: {1e6 * screen_seconds / len(study.trials):.0f} us per trial (one screen() call each)")
    best = study.best_trial
    print(f"best trial #{best.number}: value {best.value:.3f}, params {best.params}")


if __name__ == "__main__":
    main()
