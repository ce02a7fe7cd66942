"""An Optuna ask-and-tell loop that prunes candidates with unproductive layers before training.

Optuna's ask-and-tell interface: ``trial = study.ask()``, build a model from
the trial's ``suggest_*`` values (define-by-run: the number of stages decides
which other parameters exist), then ``study.tell(trial, value)``, or
``study.tell(trial, state=TrialState.PRUNED)`` to give up on it.
:func:`rfa_fast.optuna.prune_unproductive` sits between ask and train: one
``analyze`` of the candidate (tens of microseconds, against an hour of
training), its receptive-field summary stored in the trial's user attributes,
and ``optuna.TrialPruned`` raised with the border layers when the candidate
has unproductive layers at the training resolution.

Needs Optuna (``pip install 'rfa_fast[optuna]'``). Run (from the repository
root; ``PYTHONPATH=.`` only when rfa_fast is built in place):

    PYTHONPATH=. python examples/ask_tell.py [--trials 200] [--sampler tpe|random]
"""

from __future__ import annotations

import argparse
import random
import time
from typing import Any

import optuna
from optuna.trial import TrialState

from rfa_fast.optuna import prune_unproductive

RESOLUTION = 32


def build(trial: optuna.Trial) -> list[dict[str, Any]]:
    """Define-by-run: a plain CNN whose depth, kernels and downsampling come from the trial."""
    layers: list[dict[str, Any]] = [{"op": "input", "name": "input"}]
    c_in = 3
    for s in range(trial.suggest_int("stages", 2, 5)):
        width = trial.suggest_categorical(f"width{s}", (16, 32, 64, 128))
        k = trial.suggest_categorical(f"kernel{s}", (3, 5, 7))
        for d in range(trial.suggest_int(f"depth{s}", 1, 4)):
            layers.append(
                {"op": "conv", "kernel": k, "pad": k // 2, "c_in": c_in, "c_out": width, "name": f"s{s}.conv{d}"}
            )
            c_in = width
        if trial.suggest_categorical(f"downsample{s}", ("maxpool", "stride")) == "maxpool":
            layers.append({"op": "maxpool", "kernel": 2, "name": f"s{s}.pool"})
        else:
            layers.append(
                {"op": "conv", "kernel": 3, "stride": 2, "pad": 1, "c_in": c_in, "c_out": c_in, "name": f"s{s}.down"}
            )
    return layers + [{"op": "global_pool", "name": "gap"}, {"op": "dense", "c_in": c_in, "c_out": 10, "name": "fc"}]


def train(layers: list[dict[str, Any]], rng: random.Random) -> float:
    """Stand-in for an hour of training: a made-up accuracy that likes depth, with noise."""
    convs = sum(layer["op"] == "conv" for layer in layers)
    return min(0.95, 0.55 + 0.02 * convs + rng.gauss(0, 0.02))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--sampler", choices=("tpe", "random"), default="tpe")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = random.Random(args.seed)

    sampler = (
        optuna.samplers.TPESampler(seed=args.seed)
        if args.sampler == "tpe"
        else optuna.samplers.RandomSampler(args.seed)
    )
    study = optuna.create_study(direction="maximize", sampler=sampler)
    rfa_seconds = 0.0
    t_loop = time.perf_counter()
    for _ in range(args.trials):
        trial = study.ask()
        layers = build(trial)
        t0 = time.perf_counter()
        try:
            prune_unproductive(trial, layers, RESOLUTION)  # layers past the border at 32 px: not worth training
        except optuna.TrialPruned:
            rfa_seconds += time.perf_counter() - t0
            study.tell(trial, state=TrialState.PRUNED)
            continue
        rfa_seconds += time.perf_counter() - t0
        study.tell(trial, train(layers, rng))
    loop_seconds = time.perf_counter() - t_loop

    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    print(f"trials: {len(study.trials)}, pruned before training: {len(pruned)}, trained: {len(complete)}")
    print(
        f"rfa_fast: {1e6 * rfa_seconds / args.trials:.0f} us per trial (prune_unproductive: analyze + user attributes), "
        f"{100 * rfa_seconds / loop_seconds:.1f}% of the loop ({args.sampler} sampler)"
    )
    best = study.best_trial
    print(f"best trial #{best.number}: value {best.value:.3f}, params {best.params}")
    if pruned:
        t = pruned[0]
        print(f"first pruned trial #{t.number}: {t.user_attrs['pruned_by']}")
    df = study.trials_dataframe(attrs=("number", "state", "user_attrs"))
    columns = ["number", "state", "user_attrs_n_unproductive", "user_attrs_border_layers", "user_attrs_i_min"]
    print(df[columns].head(8).to_string(index=False))


if __name__ == "__main__":
    main()
