"""rfa_fast.optuna with real Optuna: suggest, row_from_params, the constraint, pruning, user attributes.

Optuna is the optional extra ``rfa_fast[optuna]``; without it these tests are
skipped on a workstation and fail in CI (tests/deps.py; .ci/run installs it).
"""

from __future__ import annotations

import math
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest
from cli_helpers import package_env
from deps import import_or_skip
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from space_strategies import rows_of, spaces

import rfa_fast
from rfa_fast.errors import MissingDependencyError, SpecError
from rfa_fast.nas import nb201_all, nb201_space

# `python -c` puts its working directory first on sys.path: from the checkout's root it would
# import the source tree (no compiled extension there after `pip install .`), not the package.
OUTSIDE = tempfile.gettempdir()

optuna = import_or_skip("optuna", "Optuna is an optional extra: pip install 'rfa_fast[optuna]'")
ro = import_or_skip("rfa_fast.optuna", "Optuna is an optional extra: pip install 'rfa_fast[optuna]'")

optuna.logging.set_verbosity(optuna.logging.WARNING)
RES = 32


@pytest.fixture(scope="module")
def nb201() -> rfa_fast.Space:
    return nb201_space()


def chain_space() -> rfa_fast.Space:
    """Integer options (numpy ints among them), string op options, an optional block."""
    sp = rfa_fast.Space("chain")
    x = sp.input("input")
    depth = sp.choice("depth", [1, 2, 3])
    for i in range(3):
        k = sp.choice(f"k{i}", [np.int64(1), np.int64(3), np.int64(5)])
        s = sp.choice(f"s{i}", [1, 2])

        def body(x: int, i: int = i, k=k, s=s) -> int:
            return sp.conv(x, k, s, pad=k // 2, c_in=8, c_out=8, name=f"conv{i}")

        x = body(x) if i == 0 else sp.when(depth > i, x, body, name=f"depth>{i}")
    x = sp.choose("head", x, {"pool": lambda x: sp.pool(x, 2, name="pool"), "none": "identity"})
    sp.conv(x, 3, pad=1, c_in=8, c_out=16, name="last")
    return sp.build()


# ---------------------------------------------------------------------------
# the extra is optional


def test_import_rfa_fast_does_not_import_optuna() -> None:
    code = "import sys, rfa_fast, rfa_fast.nas, rfa_fast.space; assert 'optuna' not in sys.modules, 'imported'"
    proc = subprocess.run([sys.executable, "-c", code], env=package_env(), capture_output=True, text=True, cwd=OUTSIDE)
    assert proc.returncode == 0, proc.stderr


def test_missing_optuna_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['optuna'] = None\n"  # as if it were not installed
        "from rfa_fast.errors import MissingDependencyError\n"
        "try:\n    import rfa_fast.optuna\nexcept MissingDependencyError as e:\n"
        "    assert isinstance(e, ImportError) and e.name == 'optuna', e.name\n    print(e)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=package_env(), capture_output=True, text=True, cwd=OUTSIDE)
    assert proc.returncode == 0, proc.stderr
    assert "pip install 'rfa_fast[optuna]'" in proc.stdout


# ---------------------------------------------------------------------------
# suggest: one categorical parameter per choice


@pytest.mark.parametrize("make", [nb201_space, chain_space])
def test_suggest_covers_every_choice(make) -> None:
    space = make()
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    rows = []
    for _ in range(40):
        trial = study.ask()
        row = ro.suggest(space, trial)
        rows.append(row)
        assert row.dtype == space.row_dtype and row.shape == (len(space.choices),)
        assert list(trial.params) == [c.name for c in space.choices]  # every choice, in column order
        for c in space.choices:
            dist = trial.distributions[c.name]
            assert isinstance(dist, optuna.distributions.CategoricalDistribution)
            assert dist.choices == tuple(c.options)  # plain ints and strings as they are
            assert all(type(o) in (int, str) for o in dist.choices)
            assert trial.params[c.name] == c.options[row[c.column]]
        assert np.array_equal(space.encode(space.decode(row)), row)
        study.tell(trial, 0.0)
    assert len({r.tobytes() for r in rows}) > 1
    for t, row in zip(study.trials, rows):  # the way back, from a FrozenTrial and from its params
        assert np.array_equal(ro.row_from_params(space, t), row)
        assert np.array_equal(ro.row_from_params(space, dict(t.params)), row)
        assert np.array_equal(ro.suggest(space, optuna.trial.FixedTrial(t.params)), row)  # replaying best_params


def test_suggest_prefix_keeps_two_spaces_apart(nb201) -> None:
    chain = chain_space()
    trial = optuna.create_study().ask()
    a, b = ro.suggest(nb201, trial, prefix="cell."), ro.suggest(chain, trial, prefix="stem.")
    assert set(trial.params) == {f"cell.{c.name}" for c in nb201.choices} | {f"stem.{c.name}" for c in chain.choices}
    assert np.array_equal(ro.row_from_params(nb201, trial.params, prefix="cell."), a)
    assert np.array_equal(ro.row_from_params(chain, trial.params, prefix="stem."), b)
    with pytest.raises(SpecError, match="no param for 6 of the 6 choices"):
        ro.row_from_params(nb201, trial.params)


def test_options_optuna_cannot_store_are_converted() -> None:
    sp = rfa_fast.Space("odd")
    x = sp.input()
    shape = sp.choice("shape", [(3, 3), (1, 7), (7, 1)])
    flag = sp.choice("flag", [1, True])  # Optuna finds options with ==: 1 and True would be one
    scale = sp.choice("scale", [np.float32(0.5), 2.0, None])
    name = sp.choice("name", [np.str_("a"), "b"])
    for c in (shape, flag, scale, name):
        x = sp.choose(c, x, ["identity"] * len(c.options))
    sp.conv(x, 3)
    space = sp.build()
    assert ro.optuna_options(shape.options) == ("(3, 3)", "(1, 7)", "(7, 1)")
    assert ro.optuna_options(flag.options) == ("1", "True")
    assert ro.optuna_options(scale.options) == (0.5, 2.0, None)
    assert [type(o) for o in ro.optuna_options(name.options)] == [str, str]
    assert ro.optuna_options([float("nan"), 1.0]) == ("nan", "1.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Optuna warns on options a storage cannot keep: none here
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        for _ in range(30):
            trial = study.ask()
            row = ro.suggest(space, trial)
            assert np.array_equal(ro.row_from_params(space, trial.params), row)
            study.tell(trial, 0.0)
    seen = {tuple(ro.row_from_params(space, t)) for t in study.trials}
    assert len(seen) > 5


def test_suggest_rejects_a_value_that_is_no_option(nb201) -> None:
    class Stray:  # a trial that answers something the space never offered
        def suggest_categorical(self, name, options):
            return "conv_9x9" if name == "edge2<-1" else options[0]

    with pytest.raises(SpecError, match=r"suggested 'conv_9x9' for 'edge2<-1', which is not one of its options"):
        ro.suggest(nb201, Stray())
    assert ro.suggest(nb201, optuna.trial.FixedTrial({c.name: "none" for c in nb201.choices})).tolist() == [0] * 6


def test_params_survive_a_database_storage(tmp_path, nb201) -> None:
    """The options must be storable: a sqlite study gives back the same rows."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(storage=storage, study_name="s", sampler=optuna.samplers.RandomSampler(seed=0))
    space = chain_space()
    rows = []

    def objective(trial):
        rows.append(ro.suggest(space, trial))
        ro.record(trial, space.screen(rows[-1], RES))
        return 0.0

    study.optimize(objective, n_trials=8)
    loaded = optuna.load_study(study_name="s", storage=storage)
    back = [ro.row_from_params(space, t) for t in loaded.trials]
    assert all(np.array_equal(a, b) for a, b in zip(rows, back))
    expect = space.screen(np.stack(rows), RES)
    assert [t.user_attrs["n_unproductive"] for t in loaded.trials] == expect.n_unproductive[:, 0].tolist()


@settings(max_examples=25, deadline=None)
@given(spaces(max_steps=8), st.data())
def test_random_spaces_round_trip_and_constraint(space, data) -> None:
    assume(space.choices)
    rows = data.draw(rows_of(space, max_rows=4))
    constraint = ro.unproductive_constraint(space, RES)
    expect = space.screen(rows, RES, i_min=False)
    for b, row in enumerate(rows):
        params = {
            name: opts[int(i)]
            for name, opts, i in zip(
                [c.name for c in space.choices], [ro.optuna_options(c.options) for c in space.choices], row
            )
        }
        assert np.array_equal(ro.suggest(space, optuna.trial.FixedTrial(params)), row.astype(space.row_dtype))
        frozen = optuna.trial.create_trial(
            params=params,
            distributions={
                c.name: optuna.distributions.CategoricalDistribution(ro.optuna_options(c.options))
                for c in space.choices
            },
            value=0.0,
        )
        want = float(expect.n_unproductive[b, 0]) if expect.connected[b] else ro.INFEASIBLE
        assert constraint(frozen) == [want]


# ---------------------------------------------------------------------------
# the constraint


def frozen_trials(space, rows):
    """Finished trials holding ``rows`` as params, as a sampler's constraints_func sees them."""
    study = optuna.create_study()
    dists = {c.name: optuna.distributions.CategoricalDistribution(ro.optuna_options(c.options)) for c in space.choices}
    for row in rows:
        params = {c.name: ro.optuna_options(c.options)[int(row[c.column])] for c in space.choices}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=0.0))
    return study.trials


def test_constraint_values_match_space_screen(nb201) -> None:
    rng = np.random.default_rng(0)
    cells = nb201_all()
    r_all = nb201.screen(cells, RES)
    disconnected = np.flatnonzero(~r_all.connected)[:20]
    productive = np.flatnonzero(r_all.connected & (r_all.n_unproductive[:, 0] == 0))[:20]
    rows = np.concatenate([cells[rng.choice(len(cells), 160, replace=False)], cells[disconnected], cells[productive]])
    expect = nb201.screen(rows, RES)  # one batch call: the constraint screens one row at a time
    trials = frozen_trials(nb201, rows)

    count = ro.unproductive_constraint(nb201, RES, max_unproductive=2)
    both = ro.unproductive_constraint(nb201, RES, max_unproductive=0, i_min_at_most=RES)
    i_min_only = ro.unproductive_constraint(nb201, RES, max_unproductive=None, i_min_at_most=48)
    for b, t in enumerate(trials):
        n, i_min = int(expect.n_unproductive[b, 0]), float(expect.i_min[b])
        if expect.connected[b]:
            assert count(t) == [n - 2]
            assert both(t) == [n, i_min - RES]
            assert i_min_only(t) == [i_min - 48]
            assert (both(t)[0] <= 0) == (n == 0)
        else:  # no unproductive layer, yet not a network: infeasible for every value
            assert n == 0 and math.isnan(i_min)
            assert count(t) == [ro.INFEASIBLE] and both(t) == [ro.INFEASIBLE] * 2
    assert sum(not c for c in expect.connected) >= 20 and (expect.n_unproductive[-20:, 0] == 0).all()


def test_constraint_bad_input(nb201) -> None:
    with pytest.raises(SpecError, match="nothing to check"):
        ro.unproductive_constraint(nb201, RES, max_unproductive=None)
    with pytest.raises(SpecError, match="max_unproductive must be an int >= 0"):
        ro.unproductive_constraint(nb201, RES, max_unproductive=-1)
    with pytest.raises(rfa_fast.ResolutionError):
        ro.unproductive_constraint(nb201, 0)
    with pytest.raises(SpecError, match="expected an rfa_fast.Space"):
        ro.unproductive_constraint("nb201", RES)  # type: ignore[arg-type]
    bad = optuna.trial.create_trial(
        params={"edge1<-0": "none"},
        distributions={"edge1<-0": optuna.distributions.CategoricalDistribution(("none", "x"))},
        value=0.0,
    )
    with pytest.raises(SpecError, match=r"no param for 5 of the 6 choices .*'edge2<-0'.*suggest\(space, trial\)"):
        ro.unproductive_constraint(nb201, RES)(bad)
    with pytest.raises(SpecError, match="param 'edge1<-0' is 'conv', not one of its options"):
        ro.row_from_params(nb201, {c.name: "conv" for c in nb201.choices})


def test_constrain_sets_optuna5_constraints(nb201) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    rows = []

    def objective(trial):
        rows.append(ro.suggest(nb201, trial))
        s = ro.constrain(trial, rows[-1], RES, space=nb201, i_min_at_most=40)
        return s["macs"]

    study.optimize(objective, n_trials=40)
    expect = nb201.screen(np.stack(rows), RES)
    for b, t in enumerate(study.trials):
        if expect.connected[b]:
            want = {"n_unproductive": float(expect.n_unproductive[b, 0]), "i_min": float(expect.i_min[b]) - 40}
        else:
            want = {"n_unproductive": ro.INFEASIBLE, "i_min": ro.INFEASIBLE}
        assert t.constraints == want
        assert t.value == expect.macs[b, 0] == t.user_attrs["macs"]


# ---------------------------------------------------------------------------
# pruning


def vgg(n: int = 4) -> rfa_fast.Graph:
    b = rfa_fast.GraphBuilder("vgg")
    x = b.input()
    for i in range(n):
        x = b.conv(x, 3, pad=1, c_in=8, c_out=8, name=f"conv{i}")
        x = b.pool(x, 2, name=f"pool{i}")
    return b.build()


def test_prune_raises_with_the_reason_in_user_attrs() -> None:
    g = vgg()
    rep = rfa_fast.analyze(g, 8)
    study = optuna.create_study()
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned) as info:
        ro.prune_unproductive(trial, g, 8)
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    t = study.trials[0]
    assert t.state == optuna.trial.TrialState.PRUNED
    attrs = t.user_attrs
    assert attrs["border_layers"] == rep.summary["border_layers"] == ["pool1"]
    assert attrs["n_unproductive"] == rep.summary["n_unproductive"] == 5
    assert attrs["i_min"] == rep.i_min and attrs["rf_max"] == rep.summary["rf_max"]
    assert attrs["resolution"] == [8, 8] and attrs["connected"] is True
    assert attrs["pruned_by"] == str(info.value)
    assert "5 unproductive layers at 8 px" in attrs["pruned_by"] and "border layers: pool1" in attrs["pruned_by"]
    assert f"I_min {rep.i_min:g} px" in attrs["pruned_by"]


def test_prune_keeps_a_productive_candidate() -> None:
    g = vgg(2)
    trial = optuna.create_study().ask()
    s = ro.prune_unproductive(trial, g, 32)
    assert s["n_unproductive"] == 0 and s["border_layers"] == []
    assert trial.user_attrs == s and "pruned_by" not in trial.user_attrs
    # a spec (list of layer dicts) is built and analyzed the same way
    spec = g.to_spec()["layers"]
    assert ro.prune_unproductive(optuna.create_study().ask(), spec, 32)["rf_max"] == s["rf_max"]


def test_prune_a_row_names_its_border_layers(nb201) -> None:
    cells = nb201_all()
    r = nb201.screen(cells[:400], RES)
    wasteful = int(np.flatnonzero(r.connected & (r.n_unproductive[:, 0] > 3))[0])
    row = cells[wasteful]
    rep = rfa_fast.analyze(nb201.graph(row), RES)
    for names in (True, False):
        trial = optuna.create_study().ask()
        with pytest.raises(optuna.TrialPruned):
            ro.prune_unproductive(trial, row, RES, space=nb201, names=names)
        a = trial.user_attrs
        assert a["n_unproductive"] == rep.summary["n_unproductive"] == r.n_unproductive[wasteful, 0]
        assert a["n_border"] == len(rep.summary["border_layers"]) and a["i_min"] == r.i_min[wasteful]
        if names:
            assert a["border_layers"] == rep.summary["border_layers"]
            assert ", ".join(rep.summary["border_layers"]) in a["pruned_by"]
        else:
            assert "border_layers" not in a and f"{a['n_border']} border layer" in a["pruned_by"]
    # a looser limit keeps it; I_min above the training resolution prunes it again
    trial = optuna.create_study().ask()
    assert ro.prune_unproductive(trial, row, RES, space=nb201, max_unproductive=100)["n_unproductive"] > 3
    with pytest.raises(optuna.TrialPruned, match=r"I_min \d+ px above 32"):
        ro.prune_unproductive(
            optuna.create_study().ask(), row, RES, space=nb201, max_unproductive=None, i_min_at_most=32
        )


def test_prune_disconnected_and_batch_results(nb201) -> None:
    cells = nb201_all()
    r = nb201.screen(cells[:300], [16, RES])
    b = int(np.flatnonzero(~r.connected)[0])
    trial = optuna.create_study().ask()
    with pytest.raises(optuna.TrialPruned, match="not connected"):
        ro.prune_unproductive(trial, r, RES, index=b)
    assert trial.user_attrs["connected"] is False and trial.user_attrs["i_min"] is None
    ok = int(np.flatnonzero(r.connected & (r.n_unproductive[:, 1] == 0))[0])
    s = ro.prune_unproductive(optuna.create_study().ask(), r, RES, index=ok)
    assert s["resolution"] == [RES, RES] and s["macs"] == r.macs[ok, 1] and s["i_min"] == r.i_min[ok]
    with pytest.raises(SpecError, match=r"not screened at \[64, 64\]"):
        ro.prune_unproductive(optuna.create_study().ask(), r, 64, index=ok)
    with pytest.raises(SpecError, match="index 300 is out of range"):
        ro.prune_unproductive(optuna.create_study().ask(), r, RES, index=300)
    with pytest.raises(SpecError, match="needs its space"):
        ro.prune_unproductive(optuna.create_study().ask(), cells[0], RES)


def test_attrs_selects_what_is_written(nb201) -> None:
    row = nb201_all()[0]
    t = optuna.create_study().ask()
    s = ro.record(t, nb201.screen(row, RES), attrs=["n_unproductive", "i_min"])
    assert t.user_attrs == {"n_unproductive": s["n_unproductive"], "i_min": s["i_min"]} and len(s) > 2
    t = optuna.create_study().ask()
    ro.constrain(t, row, RES, space=nb201, attrs=False)
    assert t.user_attrs == {} and set(t.constraints) == {"n_unproductive"}
    t = optuna.create_study().ask()
    with pytest.raises(optuna.TrialPruned):
        ro.prune_unproductive(t, row, RES, space=nb201, attrs=False, names=False)
    assert list(t.user_attrs) == ["pruned_by"]
    with pytest.raises(SpecError, match="no summary key 'n_unproductiv'"):
        ro.constrain(optuna.create_study().ask(), row, RES, space=nb201, attrs=["n_unproductiv"])
    with pytest.raises(SpecError, match="attrs is True, False or a sequence"):
        ro.record(optuna.create_study().ask(), nb201.screen(row, RES), attrs="i_min")


def test_summary_of_report_and_screen_agree() -> None:
    g = vgg()
    from_report = ro.summary(rfa_fast.analyze(g, 16))
    from_screen = ro.summary(rfa_fast.screen([g], 16))
    assert from_report.pop("border_layers") == ["pool2"]
    assert from_report == from_screen
    assert set(from_screen) | {"border_layers"} == set(ro.ATTRS)
    assert "i_min" not in ro.summary(rfa_fast.screen([g], 16, i_min=False))  # not computed: not recorded


# ---------------------------------------------------------------------------
# study-level: trials_dataframe and NSGA-II


def test_trials_dataframe_shows_the_summary(nb201) -> None:
    import_or_skip("pandas", "trials_dataframe needs pandas: pip install 'rfa_fast[optuna]'")
    rows = []

    def objective(trial):
        rows.append(ro.suggest(nb201, trial))
        ro.prune_unproductive(trial, rows[-1], RES, space=nb201, max_unproductive=20, names=False)
        return 1.0

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=5))
    study.optimize(objective, n_trials=60)
    df = study.trials_dataframe()
    for key in ("n_unproductive", "n_border", "i_min", "i_max", "macs", "macs_unproductive", "params", "connected"):
        assert f"user_attrs_{key}" in df.columns
    expect = nb201.screen(np.stack(rows), RES)
    assert df["user_attrs_n_unproductive"].tolist() == expect.n_unproductive[:, 0].tolist()
    assert df["user_attrs_macs"].tolist() == expect.macs[:, 0].tolist()
    pruned = (~expect.connected) | (expect.n_unproductive[:, 0] > 20)
    assert 0 < pruned.sum() < 60
    assert (df["state"] == "PRUNED").tolist() == pruned.tolist()
    assert df["user_attrs_pruned_by"].notna().tolist() == pruned.tolist()


def pareto_front(points: list[tuple[float, float]]) -> set[int]:
    """Indices of the points no other point dominates (both minimized), by brute force."""
    front = set()
    for i, p in enumerate(points):
        if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points):
            front.add(i)
    return front


@pytest.mark.parametrize("shape", ["constraints_func", "set_constraint"])
def test_nsga2_front_has_only_feasible_trials(shape) -> None:
    space = chain_space()  # small: feasible and infeasible candidates both common at 8 px
    res = 8
    kwargs = dict(seed=0, population_size=12)
    if shape == "constraints_func":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # Optuna 5 deprecates constraints_func
            sampler = optuna.samplers.NSGAIISampler(constraints_func=ro.unproductive_constraint(space, res), **kwargs)
    else:
        sampler = optuna.samplers.NSGAIISampler(**kwargs)

    def objective(trial):
        row = ro.suggest(space, trial)
        if shape == "set_constraint":
            ro.constrain(trial, row, res, space=space)
        r = space.screen(row, res)
        return float(r.macs[0, 0]), -float(r.rf_max[0, 0])

    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=80)
    trials = study.trials
    rows = np.stack([ro.row_from_params(space, t) for t in trials])
    r = space.screen(rows, res)
    feasible = r.connected & (r.n_unproductive[:, 0] == 0)
    assert 0 < feasible.sum() < len(trials)  # the constraint had work to do
    front = study.best_trials
    assert front and all(feasible[t.number] for t in front)
    # the front is exactly the Pareto front of the feasible trials
    ids = [i for i in range(len(trials)) if feasible[i]]
    points = [tuple(trials[i].values) for i in ids]
    assert {t.number for t in front} == {ids[j] for j in pareto_front(points)}


def test_constrain_needs_optuna5_set_constraint(nb201) -> None:
    class OldTrial:  # an Optuna 4 trial: no set_constraint
        def set_user_attr(self, key, value):
            pass

    with pytest.raises(MissingDependencyError, match="constraints_func"):
        ro.constrain(OldTrial(), nb201_all()[0], RES, space=nb201)
