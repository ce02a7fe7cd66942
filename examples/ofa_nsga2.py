"""NSGA-II over the Once-for-All MobileNetV3 space, constrained to subnets with no unproductive layer.

Optuna's ``NSGAIISampler`` searches the 45 choices of OFA's supernet
(``rfa_fast.nas.ofa_mbv3_space``: kernel 3/5/7 and expand ratio 3/4/6 per
block, depth 2/3/4 per stage) for the Pareto front of two objectives: fewer
MACs at the training resolution, and a cheap accuracy proxy, the parameter
count (the training-free baseline that zero-cost proxies are compared
against; put a real predictor in its place). The constraint, computed by
``rfa_fast.optuna.constrain`` from one ``space.screen`` of the trial's row,
makes every subnet with an unproductive layer at the training resolution
infeasible (``--constraint i_min``: every subnet whose I_min is above it, a
graded violation), so the front holds only subnets whose every layer can
still learn at 224 px; at 224 px only about 4% of uniformly drawn OFA subnets
qualify. It prints the front, and the time of the loop split between
rfa_fast and Optuna (the aim: rfa_fast under 5% of a 10,000-trial loop).

Needs Optuna (``pip install 'rfa_fast[optuna]'``). Run (from the repository
root; ``PYTHONPATH=.`` only when rfa_fast is built in place):

    PYTHONPATH=. python examples/ofa_nsga2.py [--trials 400]        # seconds
    PYTHONPATH=. python examples/ofa_nsga2.py --trials 10000       # the long run (minutes)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import optuna

from rfa_fast.nas import ofa_decode, ofa_mbv3_space
from rfa_fast.optuna import constrain, row_from_params, suggest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=400)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--population", type=int, default=50)
    parser.add_argument("--constraint", choices=("count", "i_min"), default="count")
    parser.add_argument("--show", type=int, default=12, help="rows of the front to print")
    parser.add_argument(
        "--all-attrs", action="store_true", help="store the whole summary (12 user attributes), not only 5"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    res = args.resolution
    space = ofa_mbv3_space()
    limits = {"max_unproductive": 0} if args.constraint == "count" else {"max_unproductive": None, "i_min_at_most": res}

    # Each user attribute is one write to Optuna's storage (~10 us in memory): store what the search reads.
    attrs = True if args.all_attrs else ("n_unproductive", "i_min", "rf_max", "macs", "params")
    timing = {"suggest": 0.0, "constrain": 0.0}

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        t0 = time.perf_counter()
        row = suggest(space, trial)  # 45 x trial.suggest_categorical: Optuna's sampling, mostly
        t1 = time.perf_counter()
        s = constrain(
            trial, row, res, space=space, attrs=attrs, **limits
        )  # screen, user attributes, trial.set_constraint
        t2 = time.perf_counter()
        timing["suggest"] += t1 - t0
        timing["constrain"] += t2 - t1
        return s["macs"] / 1e6, -s["params"] / 1e6  # minimize MACs, maximize the proxy

    sampler = optuna.samplers.NSGAIISampler(population_size=args.population, seed=args.seed)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    t0 = time.perf_counter()
    study.optimize(objective, n_trials=args.trials)
    loop = time.perf_counter() - t0

    trials = study.get_trials(deepcopy=False)
    feasible = [t for t in trials if all(v <= 0 for v in t.constraints.values())]
    last = trials[-args.population :]
    print(
        f"OFA MobileNetV3 at {res} px, NSGA-II (population {args.population}), {len(trials)} trials, constraint "
        f"{'no unproductive layer' if args.constraint == 'count' else f'I_min <= {res}'}"
    )
    print(
        f"feasible: {len(feasible)} of {len(trials)} trials "
        f"({100 * sum(all(v <= 0 for v in t.constraints.values()) for t in last) / len(last):.0f}% of the last "
        f"{len(last)}; about 4% of uniformly drawn subnets)"
    )
    front, seen = [], set()
    for t in sorted(study.best_trials, key=lambda t: (t.values[0], t.number)):
        key = tuple(row_from_params(space, t))
        if key not in seen:  # NSGA-II may ask for a subnet twice: list each once
            seen.add(key)
            front.append(t)
    again = space.screen(np.stack([row_from_params(space, t) for t in front]), res)  # one batch call
    print(
        f"Pareto front: {len(front)} distinct subnets; unproductive layers on the front, screened again: "
        f"{int(again.n_unproductive.sum())}"
    )
    print(f"{'trial':>6} {'MMACs':>7} {'Mparams':>8} {'I_min':>6} {'rf_max':>7}  depths     kernels (per stage)")
    step = max(1, len(front) // args.show) if args.show else len(front) + 1
    for t in front[::step][: args.show]:
        a = t.user_attrs
        arch = ofa_decode(row_from_params(space, t))
        kernels = " ".join("".join(str(k) for k in arch["ks"][4 * s : 4 * s + arch["d"][s]]) for s in range(5))
        print(
            f"{t.number:>6} {a['macs'] / 1e6:>7.1f} {a['params'] / 1e6:>8.2f} {a['i_min']:>6.0f} {a['rf_max'][0]:>7.0f}"
            f"  {''.join(map(str, arch['d'])):<10} {kernels}"
        )

    # rfa_fast's time: constrain(), timed in the loop (one space.screen, the summary, and its writes to Optuna's
    # storage: the user attributes and the constraint), plus its own work inside suggest(), measured apart on
    # 200 of the trials as the same suggest_categorical calls on a FixedTrial with and without it.
    sample = trials[:200]
    t1 = time.perf_counter()
    for t in sample:
        suggest(space, optuna.trial.FixedTrial(t.params))
    t2 = time.perf_counter()
    for t in sample:
        ft = optuna.trial.FixedTrial(t.params)
        for c in space.choices:
            ft.suggest_categorical(c.name, c.options)
    t3 = time.perf_counter()
    n = len(trials)
    conversion = max(0.0, (t2 - t1) - (t3 - t2)) / len(sample) * n
    rfa = timing["constrain"] + conversion
    print(f"loop: {loop:.2f} s for {n} trials, {1e3 * loop / n:.2f} ms per trial")
    print(
        f"rfa_fast: {100 * rfa / loop:.1f}% of the loop, {1e6 * rfa / n:.0f} us per trial (constrain "
        f"{1e6 * timing['constrain'] / n:.0f} us, suggest's conversion {1e6 * conversion / n:.0f} us)"
    )
    print(f"Optuna (sampling, NSGA-II selection, storage): {100 * (loop - rfa) / loop:.1f}% of the loop")


if __name__ == "__main__":
    main()
