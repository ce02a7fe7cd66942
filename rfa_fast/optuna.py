"""Optuna in a search loop: suggest a candidate of a :class:`~rfa_fast.Space`, prune, constrain, record.

The optional extra ``rfa_fast[optuna]`` (``pip install 'rfa_fast[optuna]'``: Optuna 4.0 or newer);
``import rfa_fast`` never imports Optuna, and importing this module without
it raises :class:`~rfa_fast.errors.MissingDependencyError` naming the extra.
Three shapes (docs/search_loops.md):

- define-by-run: ``row = suggest(space, trial)`` in the objective, then
  :func:`prune_unproductive` before training (it raises
  ``optuna.TrialPruned``);
- ask-and-tell: the same two calls between ``study.ask()`` and
  ``study.tell(...)``, or one ``space.screen`` of a whole batch of asked
  trials and :func:`record` per trial;
- constraints for multi-objective samplers (NSGA-II/III, TPE, GP):
  :func:`constrain` in the objective (Optuna 5's ``trial.set_constraint``), or
  :func:`unproductive_constraint` as the sampler's ``constraints_func``.

Every helper stores the receptive-field summary as the trial's user
attributes (:data:`ATTRS`), so ``study.trials_dataframe()`` has the columns
``user_attrs_n_unproductive``, ``user_attrs_i_min``, ...

>>> import optuna, rfa_fast
>>> from rfa_fast.optuna import suggest, prune_unproductive
>>> optuna.logging.set_verbosity(optuna.logging.WARNING)
>>> sp = rfa_fast.Space("chain")
>>> x = sp.input()
>>> for i in range(4):
...     x = sp.conv(x, 3, stride=sp.choice(f"stride{i}", [1, 2]), pad=1, name=f"conv{i}")
>>> space = sp.build()
>>> def objective(trial):
...     row = suggest(space, trial)                    # one suggest_categorical per choice
...     prune_unproductive(trial, row, 8, space=space)  # raises optuna.TrialPruned, reason in user attrs
...     return float(space.decode(row)["stride0"])     # stand-in for training
>>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
>>> study.optimize(objective, n_trials=20)
>>> pruned = study.trials_dataframe().query("state == 'PRUNED'")
>>> bool((pruned.user_attrs_n_unproductive > 0).all()), len(pruned) > 0
(True, True)
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Union

import numpy as np

from .errors import MissingDependencyError, SpecError

try:
    import optuna
except ModuleNotFoundError as _e:  # only optuna's own absence; a broken install keeps its error
    if (_e.name or "").split(".")[0] != "optuna":
        raise
    raise MissingDependencyError(
        "rfa_fast.optuna needs Optuna, which is not installed: pip install 'rfa_fast[optuna]'", name="optuna"
    ) from None

from .api import analyze
from .graph import Graph
from .report import Report
from .results import ScreenResult
from .space import Space

OptunaValue = Union[None, bool, int, float, str]
"""What Optuna's ``suggest_categorical`` takes and every storage keeps."""

Candidate = Union[Graph, Report, ScreenResult, np.ndarray, Sequence[Any], Mapping[str, Any]]
"""What :func:`prune_unproductive` and :func:`constrain` screen: a row of ``space`` (an int array or a
sequence of ints), a :class:`~rfa_fast.Graph` or a spec of one (a list of layer dicts), or a result
already computed (a :class:`~rfa_fast.Report` or a :class:`~rfa_fast.ScreenResult` and ``index``)."""

ATTRS = (
    "resolution",
    "n_unproductive",
    "n_border",
    "border_layers",
    "i_min",
    "i_max",
    "rf_max",
    "macs",
    "macs_unproductive",
    "params",
    "connected",
    "aligned",
)
"""The user attributes the helpers store (``border_layers`` only where names are known: a graph, a
:class:`~rfa_fast.Report`, or a pruned row; ``i_min`` only where it was computed), plus ``pruned_by``
(the reason, a sentence) on a trial :func:`prune_unproductive` prunes. Per-axis values are lists
(``resolution``, ``rf_max``); ``i_min`` and ``i_max`` are the square values of
:class:`~rfa_fast.ScreenResult`; ``i_min`` is ``inf`` when no resolution up to 2^30 is enough and
``None`` for a candidate whose output is not connected to its input."""

INFEASIBLE = float(2**30)
"""The constraint value of a candidate whose output is not connected to its input (every constraint),
and the cap of an infinite I_min: finite, so model-based samplers (GP, TPE) can use it."""


# ---------------------------------------------------------------------------
# choices <-> Optuna's categorical parameters


class _Encoding:
    """A space's choices as Optuna categorical parameters: names, options, and the way back."""

    __slots__ = ("names", "options", "index", "space")

    def __init__(self, space: Space, prefix: str) -> None:
        self.space = space
        self.names = tuple(prefix + c.name for c in space.choices)
        self.options = tuple(optuna_options(c.options) for c in space.choices)
        # no two options of a choice compare equal after optuna_options(): a plain dict is exact
        self.index: tuple[dict[Any, int], ...] = tuple({v: i for i, v in enumerate(o)} for o in self.options)


_ENCODINGS: weakref.WeakKeyDictionary[Space, dict[str, _Encoding]] = weakref.WeakKeyDictionary()


def _encoding(space: Space, prefix: str) -> _Encoding:
    if not isinstance(space, Space):
        raise SpecError(f"expected an rfa_fast.Space, got {type(space).__name__}")
    space.build()  # the choices are final from here on (as space.screen does)
    per_space = _ENCODINGS.setdefault(space, {})
    enc = per_space.get(prefix)
    if enc is None:
        enc = per_space[prefix] = _Encoding(space, prefix)
    return enc


def _plain(o: Any) -> Any:
    """An option as one of Optuna's storable types, or ``o`` unchanged when it is none of them."""
    if o is None or type(o) in (bool, int, float, str):
        return o
    if isinstance(o, (bool, np.bool_)):
        return bool(o)
    if isinstance(o, (int, np.integer)):  # numpy ints, IntEnum
        return int(o)
    if isinstance(o, (float, np.floating)):
        return float(o)
    if isinstance(o, str):  # numpy str_, str subclasses
        return str(o)
    return o


def optuna_options(options: Sequence[Any]) -> tuple[OptunaValue, ...]:
    """The options of a choice as Optuna's ``suggest_categorical`` takes them (None, bool, int, float, str).

    ``None``, ``bool``, ``int``, ``float`` and ``str`` are kept (numpy scalars and
    ``int``/``str`` subclasses such as ``IntEnum`` become the plain type); any
    other option becomes its ``str()`` (a tuple ``(3, 5)`` becomes ``"(3, 5)"``).
    When that would make two options equal for Optuna (it finds an option with
    ``==``, so ``1``, ``1.0`` and ``True`` are one; NaN is never found), every
    option of the choice becomes its ``repr()``, which :class:`~rfa_fast.space.Choice`
    keeps distinct.

    >>> optuna_options([3, 5, 7]), optuna_options(["none", "skip"])
    ((3, 5, 7), ('none', 'skip'))
    >>> optuna_options([(3, 3), (1, 7)]), optuna_options([1, True])
    (('(3, 3)', '(1, 7)'), ('1', 'True'))
    """
    out = [_plain(o) for o in options]
    out = [v if v is None or isinstance(v, (bool, int, float, str)) else str(v) for v in out]
    distinct = len(set(out)) == len(out) and all(v == v for v in out)  # v != v: NaN
    if not distinct:
        out = [repr(o) for o in options]
    return tuple(out)


def suggest(space: Space, trial: Any, *, prefix: str = "") -> np.ndarray:
    """The row of one candidate of ``space``, one ``trial.suggest_categorical`` per choice.

    Parameter names are the choices' names (``space.choices[c].name``, with
    ``prefix`` in front: two spaces, or a name taken by another parameter of
    the objective), in column order; options as :func:`optuna_options` makes
    them. Every choice is suggested, also those a candidate does not use (the
    kernel of a block its depth choice leaves out), so each trial's params are
    a whole row and rebuild it (:func:`row_from_params`).

    Args:
        space: a :class:`~rfa_fast.Space` (built here if it is not yet).
        trial: an ``optuna.Trial`` (from ``study.optimize`` or ``study.ask()``),
            an ``optuna.trial.FixedTrial`` (replaying ``study.best_params``) or a
            ``FrozenTrial``; anything with ``suggest_categorical``.
        prefix: put in front of every parameter name.

    Returns:
        int array [C] of choice indices (``space.row_dtype``), for
        ``space.screen``, ``space.graph`` and ``space.decode``.

    >>> import optuna, rfa_fast
    >>> from rfa_fast.nas import nb201_space
    >>> space = nb201_space()
    >>> trial = optuna.trial.FixedTrial({c.name: "nor_conv_3x3" for c in space.choices})
    >>> suggest(space, trial).tolist()
    [3, 3, 3, 3, 3, 3]
    """
    enc = _encoding(space, prefix)
    suggest_categorical = trial.suggest_categorical
    values = [suggest_categorical(name, options) for name, options in zip(enc.names, enc.options)]
    try:  # one list, one array: this runs once per trial of a loop
        return np.array([index[v] for index, v in zip(enc.index, values)], dtype=space.row_dtype)
    except (KeyError, TypeError):
        for name, options, index, v in zip(enc.names, enc.options, enc.index, values):
            if not isinstance(v, (type(None), bool, int, float, str)) or v not in index:
                raise SpecError(
                    f"trial suggested {v!r} for {name!r}, which is not one of its options {list(options)}"
                ) from None
        raise


def row_from_params(space: Space, params: Mapping[str, Any] | Any, *, prefix: str = "") -> np.ndarray:
    """The row a trial's params stand for (the params :func:`suggest` made), checked like ``space.encode``.

    Args:
        space: the space the params were suggested from.
        params: ``trial.params`` (a dict), or a trial (``FrozenTrial``,
            ``Trial``); params that are not choices of the space (a learning
            rate) are ignored.
        prefix: as given to :func:`suggest`.

    Raises:
        SpecError: a choice has no param (naming it), or a value that is not
            one of its options.

    >>> from rfa_fast.nas import nb201_space
    >>> space = nb201_space()
    >>> params = {c.name: "skip_connect" for c in space.choices} | {"lr": 0.1}
    >>> row_from_params(space, params).tolist()
    [1, 1, 1, 1, 1, 1]
    """
    enc = _encoding(space, prefix)
    p = params.params if hasattr(params, "params") and not isinstance(params, Mapping) else params
    if not isinstance(p, Mapping):
        raise SpecError(f"row_from_params() needs a trial or its params dict, got {type(params).__name__}")
    missing = [n for n in enc.names if n not in p]
    if missing:
        shown = ", ".join(map(repr, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise SpecError(
            f"the trial has no param for {len(missing)} of the {len(enc.names)} choices of space "
            f"{space.name!r} ({shown}): call rfa_fast.optuna.suggest(space, trial{', prefix=...' if prefix else ''}) "
            "in the objective first"
        )
    row = np.empty(len(enc.names), dtype=space.row_dtype)
    for c, (name, options, index) in enumerate(zip(enc.names, enc.options, enc.index)):
        value = p[name]
        try:
            row[c] = index[value]
        except (KeyError, TypeError):
            raise SpecError(f"param {name!r} is {value!r}, not one of its options {list(options)}") from None
    return row


# ---------------------------------------------------------------------------
# screening one candidate, and its summary as user attributes


def summary(result: Report | ScreenResult, *, index: int = 0, column: int = 0) -> dict[str, Any]:
    """The receptive-field summary of one candidate as plain Python values (the user attributes of :data:`ATTRS`).

    Args:
        result: a :class:`~rfa_fast.Report` (``analyze``) or a
            :class:`~rfa_fast.ScreenResult` (``screen``, ``space.screen``).
        index: the candidate in a ScreenResult.
        column: the resolution column of a ScreenResult.

    >>> import rfa_fast
    >>> r = rfa_fast.screen_chains([[3] * 4], [[2] * 4], resolutions=16)
    >>> s = summary(r)
    >>> s["n_unproductive"], s["i_min"], s["rf_max"]
    (1, 25.0, [31.0, 31.0])
    """
    if isinstance(result, Report):
        raw, b, j = result.raw, 0, 0
        arrays = {f: raw["graph_rf_max" if f == "rf_max" else f] for f in _SUMMARY_FIELDS}
        resolution = list(result.resolution)
    elif isinstance(result, ScreenResult):
        n = len(result)
        if not 0 <= index < n:
            raise SpecError(f"index {index} is out of range for a ScreenResult of {n} candidates")
        if not 0 <= column < result.resolutions.shape[0]:
            raise SpecError(
                f"column {column} is out of range: the result has {result.resolutions.shape[0]} resolutions"
            )
        arrays, b, j = {f: getattr(result, f) for f in _SUMMARY_FIELDS}, index, column
        resolution = result.resolutions[j].tolist()
    else:
        raise SpecError(f"summary() takes a Report or a ScreenResult, got {type(result).__name__}")
    # .item() gives Python scalars straight away: this runs once per trial of a loop
    connected = bool(arrays["connected"].item(b))
    i_min, i_max = arrays["i_min"].item(b), arrays["i_max"].item(b)
    out: dict[str, Any] = {
        "resolution": resolution,
        "n_unproductive": arrays["n_unproductive"].item(b, j),
        "n_border": arrays["n_border"].item(b, j),
    }
    if isinstance(result, Report):
        out["border_layers"] = list(result.summary["border_layers"])
    if i_min == i_min or not connected:  # NaN and connected: screened with i_min=False, so not known
        out["i_min"] = None if i_min != i_min else i_min
    out["i_max"] = None if i_max != i_max else i_max
    out["rf_max"] = [None if v != v else v for v in arrays["rf_max"][b].tolist()]
    out["macs"] = arrays["macs"].item(b, j)
    out["macs_unproductive"] = arrays["macs_unproductive"].item(b, j)
    out["params"] = arrays["params"].item(b)
    out["connected"] = connected
    out["aligned"] = bool(arrays["aligned"].item(b))
    return out


_SUMMARY_FIELDS = (
    "connected",
    "i_min",
    "i_max",
    "n_unproductive",
    "n_border",
    "rf_max",
    "macs",
    "macs_unproductive",
    "params",
    "aligned",
)


def record(
    trial: Any,
    result: Report | ScreenResult | Mapping[str, Any],
    *,
    index: int = 0,
    column: int = 0,
    attrs: bool | Sequence[str] = True,
) -> dict[str, Any]:
    """Store one candidate's receptive-field summary as the trial's user attributes; return it.

    The keys are :data:`ATTRS`, so ``study.trials_dataframe()`` shows the
    columns ``user_attrs_n_unproductive``, ``user_attrs_i_min``, ... For a
    batch of asked trials screened in one call, record each with its
    ``index``.

    Args:
        trial: an ``optuna.Trial`` (or anything with ``set_user_attr``).
        result: a :class:`~rfa_fast.Report`, a :class:`~rfa_fast.ScreenResult`,
            or a dict from :func:`summary`.
        index, column: the candidate and resolution column of a ScreenResult.
        attrs: which keys to store: all (True), none (False), or some (a
            sequence of names from :data:`ATTRS`). Each is one write to the
            study's storage (about 8 us each in memory, 12 in all: more than
            the screen itself in a fast loop).

    Returns:
        The whole summary, whatever was stored.

    >>> import optuna, rfa_fast
    >>> from rfa_fast.nas import nb201_space
    >>> space = nb201_space()
    >>> study = optuna.create_study()
    >>> trials = [study.ask() for _ in range(3)]
    >>> rows = np.stack([suggest(space, t) for t in trials])
    >>> r = space.screen(rows, 32)                     # the whole batch in one call
    >>> for b, t in enumerate(trials):
    ...     _ = record(t, r, index=b)
    ...     _ = study.tell(t, float(r.macs[b, 0]))
    >>> df = study.trials_dataframe()
    >>> df["user_attrs_n_unproductive"].tolist() == r.n_unproductive[:, 0].tolist()
    True
    """
    s = dict(result) if isinstance(result, Mapping) else summary(result, index=index, column=column)
    for key in _attr_keys(attrs):
        if key in s:
            trial.set_user_attr(key, s[key])
    return s


def _attr_keys(attrs: bool | Sequence[str]) -> Sequence[str]:
    if attrs is True:
        return ATTRS
    if attrs is False:
        return ()
    if isinstance(attrs, str) or not all(isinstance(a, str) for a in attrs):
        raise SpecError(f"attrs is True, False or a sequence of names from {list(ATTRS)}, got {attrs!r}")
    unknown = [a for a in attrs if a not in ATTRS]
    if unknown:
        raise SpecError(f"attrs: no summary key {unknown[0]!r} (the keys: {list(ATTRS)})")
    return tuple(attrs)


def _screen(
    candidate: Candidate,
    resolution: Any,
    space: Space | None,
    index: int,
    ignore_1x1: bool,
) -> tuple[dict[str, Any], Space | None, np.ndarray | None]:
    """The summary of one candidate; for a row, also the space and the row (to name border layers later)."""
    if isinstance(candidate, (Report, ScreenResult)):
        if isinstance(candidate, Report):
            col = _column(np.asarray([candidate.resolution]), resolution, candidate.graph.dims)
        else:
            col = _column(candidate.resolutions, resolution, candidate.resolutions.shape[1])
        return summary(candidate, index=index, column=col), None, None
    if isinstance(candidate, Graph):
        return summary(analyze(candidate, resolution, ignore_1x1=ignore_1x1)), None, None
    if isinstance(candidate, Mapping) or (
        isinstance(candidate, (list, tuple)) and candidate and all(isinstance(x, Mapping) for x in candidate)
    ):
        graph = Graph.from_spec(candidate)  # type: ignore[arg-type]
        return summary(analyze(graph, resolution, ignore_1x1=ignore_1x1)), None, None
    if space is None:
        raise SpecError(
            "a row of choice indices needs its space: pass space=...; or pass a Graph, a spec (list of layer "
            f"dicts), a Report or a ScreenResult (got {type(candidate).__name__})"
        )
    if not isinstance(space, Space):
        raise SpecError(f"space must be an rfa_fast.Space, got {type(space).__name__}")
    row = np.asarray(candidate)
    r = space.screen(row, resolution, ignore_1x1=ignore_1x1, threads=1)
    return summary(r), space, row


def _column(resolutions: np.ndarray, resolution: Any, dims: int) -> int:
    """The column of an already screened result that holds ``resolution``."""
    from .api import resolutions_array

    want = resolutions_array(resolution, dims)
    if want.shape[0] != 1:
        raise SpecError("one resolution, please: the one the candidate is judged at")
    hits = np.flatnonzero((np.asarray(resolutions) == want[0]).all(axis=1))
    if hits.size == 0:
        have = [list(map(int, r)) for r in np.asarray(resolutions)]
        raise SpecError(f"the result was not screened at {want[0].tolist()} (its resolutions: {have})")
    return int(hits[0])


def _violations(s: Mapping[str, Any], max_unproductive: int | None, i_min_at_most: float | None) -> dict[str, float]:
    """Constraint values, Optuna's convention: <= 0 feasible."""
    out: dict[str, float] = {}
    if max_unproductive is not None:
        out["n_unproductive"] = float(s["n_unproductive"] - max_unproductive)
    if not s["connected"]:
        return {k: INFEASIBLE for k in ([*out] + (["i_min"] if i_min_at_most is not None else []))}
    if i_min_at_most is not None:
        if s.get("i_min") is None:
            raise SpecError("i_min_at_most needs I_min: screen the candidate with i_min=True")
        out["i_min"] = min(float(s["i_min"]), INFEASIBLE) - float(i_min_at_most)
    return out


def _check_limits(max_unproductive: int | None, i_min_at_most: float | None) -> None:
    if max_unproductive is None and i_min_at_most is None:
        raise SpecError("nothing to check: give max_unproductive, i_min_at_most or both")
    if max_unproductive is not None and (isinstance(max_unproductive, bool) or int(max_unproductive) != max_unproductive
                                         or max_unproductive < 0):  # fmt: skip
        raise SpecError(f"max_unproductive must be an int >= 0 or None, got {max_unproductive!r}")
    if i_min_at_most is not None and not (isinstance(i_min_at_most, (int, float, np.number)) and i_min_at_most > 0):
        raise SpecError(f"i_min_at_most must be a resolution > 0 or None, got {i_min_at_most!r}")


def _reason(s: Mapping[str, Any], max_unproductive: int | None, i_min_at_most: float | None) -> str | None:
    """Why a candidate is rejected, a sentence; None when it passes."""
    res = "x".join(str(v) for v in s["resolution"]) if len(set(s["resolution"])) > 1 else str(s["resolution"][0])
    if not s["connected"]:
        return f"rfa_fast: the output is not connected to the input (at {res} px)"
    parts = []
    if max_unproductive is not None and s["n_unproductive"] > max_unproductive:
        n = s["n_unproductive"]
        parts.append(f"{n} unproductive layer{'s' * (n != 1)} at {res} px (at most {max_unproductive} allowed)")
    i_min = s.get("i_min")
    if i_min_at_most is not None and i_min is not None and i_min > i_min_at_most:
        parts.append(f"I_min {i_min:g} px above {i_min_at_most:g}")
    if not parts:
        return None
    if s.get("border_layers"):
        parts.append("border layers: " + ", ".join(s["border_layers"]))
    elif s["n_border"]:
        parts.append(f"{s['n_border']} border layer{'s' * (s['n_border'] != 1)}")
    if i_min is not None and not any(p.startswith("I_min") for p in parts):
        parts.append(f"I_min {i_min:g} px")
    return "rfa_fast: " + "; ".join(parts)


def prune_unproductive(
    trial: Any,
    candidate: Candidate,
    resolution: Any,
    *,
    space: Space | None = None,
    index: int = 0,
    max_unproductive: int | None = 0,
    i_min_at_most: float | None = None,
    ignore_1x1: bool = False,
    names: bool = True,
    attrs: bool | Sequence[str] = True,
) -> dict[str, Any]:
    """Screen one candidate, store its summary in the trial's user attributes, raise ``optuna.TrialPruned`` if it wastes layers.

    A candidate is pruned when its output is not connected to its input, when
    it has more than ``max_unproductive`` unproductive layers at
    ``resolution``, or when its I_min is above ``i_min_at_most`` (the criteria
    of :meth:`~rfa_fast.ScreenResult.mask`; None turns one off). Before
    raising, the summary (:data:`ATTRS`) and the reason (user attribute
    ``pruned_by``, a sentence naming the border layers, the count and I_min)
    are stored; the exception carries the same sentence. In
    ``study.optimize`` the trial ends PRUNED; in ask-and-tell, catch it and
    ``study.tell(trial, state=optuna.trial.TrialState.PRUNED)``.

    Args:
        trial: an ``optuna.Trial``.
        candidate: a row of ``space`` (screened with ``space.screen``, tens of
            microseconds), a :class:`~rfa_fast.Graph` or a spec (``analyze``),
            or a :class:`~rfa_fast.Report` / :class:`~rfa_fast.ScreenResult`
            already computed at ``resolution`` (``index`` picks the candidate).
        resolution: the training resolution, an int or one per axis.
        space: the space of a row.
        names: for a pruned row, name the border layers: the candidate is
            built once with ``space.graph(row)`` and analyzed (a millisecond or
            so, only for pruned rows); False keeps their count only.
        attrs: which summary keys to store, as for :func:`record`
            (``pruned_by`` is stored on a pruned trial in any case).

    Returns:
        The summary of a candidate that is kept.

    >>> import optuna, rfa_fast
    >>> b = rfa_fast.GraphBuilder("vgg")
    >>> x = b.input()
    >>> for i in range(4):
    ...     x = b.conv(x, 3, pad=1, name=f"conv{i}")
    ...     x = b.pool(x, 2, name=f"pool{i}")
    >>> study = optuna.create_study()
    >>> trial = study.ask()
    >>> try:
    ...     prune_unproductive(trial, b.build(), 8)
    ... except optuna.TrialPruned as e:
    ...     print(e)
    ...     _ = study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    rfa_fast: 5 unproductive layers at 8 px (at most 0 allowed); border layers: pool1; I_min 39 px
    >>> study.trials[0].user_attrs["border_layers"], study.trials[0].state.name
    (['pool1'], 'PRUNED')
    """
    _check_limits(max_unproductive, i_min_at_most)
    attrs = _attr_keys(attrs)
    s, sp, row = _screen(candidate, resolution, space, index, ignore_1x1)
    reason = _reason(s, max_unproductive, i_min_at_most)
    if reason is not None and names and sp is not None and row is not None and s["n_border"] > 0:
        full = summary(analyze(sp.graph(row), resolution, ignore_1x1=ignore_1x1))
        s["border_layers"] = full["border_layers"]
        reason = _reason(s, max_unproductive, i_min_at_most)
    record(trial, s, attrs=attrs)
    if reason is not None:
        trial.set_user_attr("pruned_by", reason)
        raise optuna.TrialPruned(reason)
    return s


def constrain(
    trial: Any,
    candidate: Candidate,
    resolution: Any,
    *,
    space: Space | None = None,
    index: int = 0,
    max_unproductive: int | None = 0,
    i_min_at_most: float | None = None,
    ignore_1x1: bool = False,
    attrs: bool | Sequence[str] = True,
) -> dict[str, Any]:
    """Screen one candidate, store its summary, and set its constraint values on the trial (Optuna 5).

    The objective-side form of :func:`unproductive_constraint` (Optuna 5
    deprecates samplers' ``constraints_func`` for ``trial.set_constraint``):
    one screen gives the constraints and the summary the objective may use
    (``macs``, ``params``). Constraint keys and values, Optuna's convention
    (<= 0 feasible): ``"n_unproductive"``: ``n_unproductive - max_unproductive``;
    ``"i_min"``: ``I_min - i_min_at_most`` (where given; an infinite I_min
    counts as :data:`INFEASIBLE`). A candidate whose output is not connected
    gets :data:`INFEASIBLE` for each.

    Args: as :func:`prune_unproductive`.

    Returns:
        The summary (:func:`summary`), also stored as user attributes.

    >>> import optuna, rfa_fast
    >>> from rfa_fast.nas import nb201_space
    >>> space = nb201_space()
    >>> def objective(trial):
    ...     s = constrain(trial, suggest(space, trial), 32, space=space, i_min_at_most=32)
    ...     return s["macs"], -s["params"]
    >>> sampler = optuna.samplers.NSGAIISampler(seed=0, population_size=10)
    >>> study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    >>> study.optimize(objective, n_trials=30)
    >>> all(t.user_attrs["n_unproductive"] == 0 and t.user_attrs["i_min"] <= 32 for t in study.best_trials)
    True
    """
    _check_limits(max_unproductive, i_min_at_most)
    set_constraint = getattr(trial, "set_constraint", None)
    if set_constraint is None:
        raise MissingDependencyError(
            f"constrain() needs Optuna 5's Trial.set_constraint (Optuna {optuna.__version__} is installed): "
            "pip install -U 'rfa_fast[optuna]', or pass unproductive_constraint(space, ...) as the sampler's "
            "constraints_func",
            name="optuna",
        )
    keys = _attr_keys(attrs)  # bad attrs fail before anything is written
    s, _, _ = _screen(candidate, resolution, space, index, ignore_1x1)
    record(trial, s, attrs=keys)
    for key, value in _violations(s, max_unproductive, i_min_at_most).items():
        set_constraint(key, value)
    return s


class UnproductiveConstraint:
    """A ``constraints_func`` for Optuna's samplers: the candidate's unproductive layers (and I_min) as violations.

    Made by :func:`unproductive_constraint`; called by the sampler with each
    finished trial (``FrozenTrial``), it rebuilds the row from
    ``trial.params`` (:func:`row_from_params`), screens it and returns the
    constraint values, in this order: ``n_unproductive - max_unproductive``
    (where ``max_unproductive`` is not None), ``I_min - i_min_at_most`` (where
    given). Optuna's convention: a trial is feasible when every value is <= 0;
    the size of a positive value is how far it is from feasible
    (NSGA-II's constrained domination prefers smaller violations), so
    ``i_min_at_most`` gives a graded signal where the count is a step. An
    infinite I_min counts as :data:`INFEASIBLE`; a candidate whose output is
    not connected gets :data:`INFEASIBLE` for every value.
    """

    def __init__(
        self,
        space: Space,
        resolution: Any,
        *,
        max_unproductive: int | None = 0,
        i_min_at_most: float | None = None,
        ignore_1x1: bool = False,
        prefix: str = "",
    ) -> None:
        _check_limits(max_unproductive, i_min_at_most)
        self.space = space
        self.resolution = resolution
        self.max_unproductive = max_unproductive
        self.i_min_at_most = i_min_at_most
        self.ignore_1x1 = ignore_1x1
        self.prefix = prefix
        _encoding(space, prefix)  # a bad space fails here, not in the sampler's after_trial
        space.screen(space.sample(1, seed=0), resolution, ignore_1x1=ignore_1x1, threads=1)  # and a bad resolution

    def __repr__(self) -> str:
        return (
            f"UnproductiveConstraint({self.space.name!r}, {self.resolution!r}, max_unproductive="
            f"{self.max_unproductive!r}, i_min_at_most={self.i_min_at_most!r})"
        )

    def __call__(self, trial: Any) -> list[float]:
        row = row_from_params(self.space, trial, prefix=self.prefix)
        r = self.space.screen(
            row, self.resolution, ignore_1x1=self.ignore_1x1, threads=1, i_min=self.i_min_at_most is not None
        )
        return list(_violations(summary(r), self.max_unproductive, self.i_min_at_most).values())


def unproductive_constraint(
    space: Space,
    resolution: Any,
    *,
    max_unproductive: int | None = 0,
    i_min_at_most: float | None = None,
    ignore_1x1: bool = False,
    prefix: str = "",
) -> Callable[[Any], list[float]]:
    """A ``constraints_func`` for NSGA-II/III, TPE and GP samplers: unproductive layers at ``resolution``.

    ``sampler = NSGAIISampler(constraints_func=unproductive_constraint(space, 224))``
    marks infeasible (value > 0) every trial whose candidate has more than
    ``max_unproductive`` unproductive layers at 224 px; with
    ``i_min_at_most=224`` (another value) also one whose I_min is above
    224. The values are computed from the trial's params, which
    :func:`suggest` made (same ``prefix``); see :class:`UnproductiveConstraint`
    for the convention. With Optuna 5 (which deprecates ``constraints_func``),
    :func:`constrain` in the objective does the same with one screen less.

    >>> import optuna, warnings
    >>> from rfa_fast.nas import nb201_space
    >>> space = nb201_space()
    >>> constraint = unproductive_constraint(space, 32)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", FutureWarning)  # Optuna 5 deprecates constraints_func
    ...     sampler = optuna.samplers.NSGAIISampler(seed=0, population_size=10, constraints_func=constraint)
    >>> def objective(trial):
    ...     r = space.screen(suggest(space, trial), 32)
    ...     return float(r.macs[0, 0]), -float(r.params[0])
    >>> study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    >>> study.optimize(objective, n_trials=30)
    >>> front = study.best_trials
    >>> all(constraint(t)[0] <= 0 for t in front), len(front) > 0
    (True, True)
    """
    return UnproductiveConstraint(
        space,
        resolution,
        max_unproductive=max_unproductive,
        i_min_at_most=i_min_at_most,
        ignore_1x1=ignore_1x1,
        prefix=prefix,
    )


__all__ = [
    "ATTRS",
    "INFEASIBLE",
    "UnproductiveConstraint",
    "constrain",
    "optuna_options",
    "prune_unproductive",
    "record",
    "row_from_params",
    "suggest",
    "summary",
    "unproductive_constraint",
]
