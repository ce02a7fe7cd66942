"""Screen a directory (or list) of ONNX files in one call of the core.

Each file is read with :func:`rfa_fast.load_onnx` (weights are never read);
the graphs are packed into one :class:`~rfa_fast.batch.GraphBatch` per number
of spatial axes and screened together.  A file that cannot be read or analyzed does not stop the
others: its error is collected in :attr:`OnnxScreenResult.errors`.

>>> import os, tempfile, onnx, rfa_fast
>>> from onnx import TensorProto, helper
>>> conv = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], strides=[2, 2])
>>> x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])
>>> y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
>>> w = helper.make_tensor("w", TensorProto.FLOAT, [8, 3, 3, 3], [0.0] * 216)
>>> folder = tempfile.mkdtemp()
>>> onnx.save(helper.make_model(helper.make_graph([conv], "tiny", [x], [y], [w])), os.path.join(folder, "tiny.onnx"))
>>> r = rfa_fast.screen_onnx([os.path.join(folder, "tiny.onnx"), "missing.onnx"], [2, 32])
>>> [os.path.basename(p) for p in r.names], r.n_unproductive.tolist()  # at 2 px the 3x3 conv sees one window
(['tiny.onnx'], [[1, 0]])
>>> list(r.errors)
['missing.onnx']
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Union

import numpy as np

from ._progress import progress_bar
from .api import resolutions_array, screen
from .errors import GraphError
from .graph import Graph
from .results import ScreenResult

PathLike = Union[str, "os.PathLike[str]"]


class OnnxScreenResult(ScreenResult):
    """A :class:`ScreenResult` for the files that could be screened, plus the errors of the others.

    Attributes (besides every array of :class:`ScreenResult`, one row per good file):
        names: the paths of the good files, in the order given.
        errors: ``{path: message}`` for the files that failed, in the order given.
        warnings: ``{path: [message, ...]}`` the loader's warnings (e.g. unknown
            ops treated as identity), for files that have any.
    """

    def __init__(
        self, result: ScreenResult, errors: Mapping[str, str], warnings: Mapping[str, list[str]] | None = None
    ) -> None:
        self.__dict__.update(result.__dict__)
        self.errors: dict[str, str] = dict(errors)
        self.warnings: dict[str, list[str]] = dict(warnings or {})

    @property
    def paths(self) -> list[str]:
        """The paths of the screened files (the same as ``names``)."""
        return list(self.names or [])

    @property
    def result(self) -> ScreenResult:
        """The same arrays as a plain :class:`ScreenResult`."""
        plain = ScreenResult.__new__(ScreenResult)
        plain.__dict__.update({k: v for k, v in self.__dict__.items() if k not in ("errors", "warnings")})
        return plain

    @classmethod
    def concatenate(cls, parts: Any) -> OnnxScreenResult:
        """Join results of consecutive groups of files, keeping the order of rows and of errors."""
        parts = list(parts)
        screened = [p for p in parts if len(p)] or parts[:1]
        errors: dict[str, str] = {}
        warns: dict[str, list[str]] = {}
        for p in parts:
            errors.update(getattr(p, "errors", {}))
            warns.update(getattr(p, "warnings", {}))
        return cls(ScreenResult.concatenate(screened), errors, warns)

    def __repr__(self) -> str:
        return (
            super().__repr__().replace("<ScreenResult", "<OnnxScreenResult", 1)[:-1] + f"; {len(self.errors)} failed>"
        )


def onnx_paths(paths: PathLike | Iterable[PathLike]) -> list[str]:
    """Expand a directory (recursively, ``*.onnx``), a file, or a list of either into a list of paths.

    Directories are listed in sorted order; everything else keeps the given order.
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[str] = []
    for p in items:
        if os.path.isdir(p):
            out += sorted(str(f) for f in Path(p).rglob("*.onnx") if f.is_file())
        else:
            out.append(os.fspath(p))
    return out


def _load(path: str, load_kwargs: dict[str, Any]) -> tuple[Graph | None, str | None, list[str]]:
    """(graph, None, warnings) or (None, error message, warnings); never raises for a bad file."""
    from . import load_onnx  # lazy: onnx is imported only when ONNX files are screened

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            graph: Graph | None = load_onnx(path, **load_kwargs)
            error = None
        except Exception as e:  # a corrupt or unsupported file is reported, not fatal
            graph, error = None, f"{type(e).__name__}: {e}"
    return graph, error, [str(w.message) for w in caught]


Loaded = tuple[Union[Graph, None], Union[str, None], list[str]]
"""One file: its graph (packed already, so a packer error is that file's error) or None, the error,
the loader's warnings."""


def _load_packed(path: str, load_kwargs: dict[str, Any]) -> Loaded:
    """:func:`_load`, with the graph packed: a graph the packer refuses is that file's error, and a
    worker sends back its arrays with it (the graph keeps them), not only ``Node`` objects to pack again."""
    graph, error, caught = _load(path, load_kwargs)
    if graph is None:
        return None, error, caught
    try:
        graph.to_arrays()
    except Exception as e:  # e.g. a graph the packer refuses: that file's error, as for a bad file
        return None, f"{type(e).__name__}: {e}", caught
    return graph, None, caught


def _load_chunk(paths: list[str], load_kwargs: dict[str, Any]) -> list[Loaded]:
    """What one worker task runs: a chunk of files (one task per chunk, not per file: fewer round trips)."""
    return [_load_packed(p, load_kwargs) for p in paths]


def _import_loader() -> None:
    """Pool initializer: import onnx once per worker (spawned workers start without it)."""
    from . import onnx_loader  # noqa: F401


MIN_FILES_PER_PROCESS = 8
"""Below this many files per extra process, loading stays serial.

A validation model loads in 1-30 ms; a worker costs a fork and a round trip
of its packed arrays (docs/cli.md, "screen": measured on 2 cores), so a few
files per process cannot pay for it."""


def loading_processes(jobs: int, n_files: int, cpus: int | None = None) -> int:
    """How many processes load ``n_files`` files when ``jobs`` are asked for: never more than the work.

    Capped at the idle CPUs (:func:`idle_cpus`) and at one process per
    :data:`MIN_FILES_PER_PROCESS` files (1 = serial, in this process).

    >>> loading_processes(1000, 46, cpus=2), loading_processes(2, 5, cpus=2), loading_processes(4, 100, cpus=8)
    (2, 1, 4)
    """
    if cpus is None:
        cpus = idle_cpus()
    return max(1, min(int(jobs), cpus, n_files // MIN_FILES_PER_PROCESS))


def idle_cpus() -> int:
    """CPUs this process may use, less the load average (as ``make -l``): a worker without a free core only costs.

    Measured on a shared 2-core machine with a load average of 6-7: a second
    loading process made the first twice as slow per file, and the whole run
    slower than serial (docs/cli.md, "screen").
    """
    try:
        cpus = len(os.sched_getaffinity(0))  # type: ignore[attr-defined,unused-ignore]
    except (AttributeError, OSError):  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0])
    except (AttributeError, OSError):  # no load average (Windows)
        busy = 0
    return max(1, cpus - busy)


def _chunks_by_size(files: list[str], n_chunks: int) -> list[list[int]]:
    """Indices of ``files`` in ``n_chunks`` groups of about equal bytes (largest file first to the lightest group)."""

    def size(i: int) -> int:
        try:
            return os.path.getsize(files[i])
        except OSError:
            return 0

    groups: list[list[int]] = [[] for _ in range(n_chunks)]
    weight = [0] * n_chunks
    for i in sorted(range(len(files)), key=size, reverse=True):
        g = weight.index(min(weight))
        groups[g].append(i)
        weight[g] += size(i) + 1
    return [sorted(g) for g in groups if g]


def _load_all(files: list[str], load_kwargs: dict[str, Any], processes: int, bar: Any) -> list[Loaded]:
    """Every file loaded and packed, in order: serially, or by ``processes`` processes (this one included)."""
    if processes <= 1:
        out = []
        for path in files:
            out.append(_load_packed(path, load_kwargs))
            bar.update(1)
        return out
    _import_loader()  # before the fork: forked workers inherit onnx instead of importing it each
    # About 8 chunks per process keep the bar moving and even out slow files. This process works
    # too: it takes back, from the end of the queue, every chunk no worker has started.
    chunks = _chunks_by_size(files, 8 * processes)
    ctx = multiprocessing.get_context("fork") if sys.platform.startswith("linux") else None
    loaded: list[Loaded | None] = [None] * len(files)

    def store(chunk: list[int], items: list[Loaded]) -> None:
        for i, item in zip(chunk, items):
            loaded[i] = item
        bar.update(len(chunk))

    with ProcessPoolExecutor(max_workers=processes - 1, mp_context=ctx, initializer=_import_loader) as pool:
        futures = [(c, pool.submit(_load_chunk, [files[i] for i in c], load_kwargs)) for c in chunks]
        running = {}
        for chunk, fut in reversed(futures):
            if fut.cancel():
                store(chunk, _load_chunk([files[i] for i in chunk], load_kwargs))
            else:
                running[fut] = chunk
        for fut in as_completed(running):
            store(running[fut], fut.result())
    return [x for x in loaded if x is not None]


def _empty_result(resolutions: np.ndarray) -> ScreenResult:
    R, D = resolutions.shape
    raw: dict[str, np.ndarray] = {f: np.zeros((0, R), np.int64) for f in ScreenResult.PER_RESOLUTION}
    raw.update(i_min=np.zeros(0), i_max=np.zeros(0), params=np.zeros(0, np.int64))
    raw.update(i_min_axes=np.zeros((0, D)), i_max_axes=np.zeros((0, D)), graph_rf_max=np.zeros((0, D)))
    raw.update(connected=np.zeros(0, bool), aligned=np.zeros(0, bool))
    raw.update(n_dead=np.zeros(0, np.int64))
    return ScreenResult(raw, resolutions, names=[])


def screen_onnx(
    paths: PathLike | Iterable[PathLike],
    resolutions: Any,
    *,
    progress: bool | None = None,
    jobs: int = 1,
    ignore_1x1: bool = False,
    threads: int | None = None,
    **load_kwargs: Any,
) -> OnnxScreenResult:
    """Screen ONNX files at the given resolutions: all graphs in one batch, errors collected per file.

    Args:
        paths: a directory (searched recursively for ``*.onnx``), a file, or a
            list of files and directories.
        resolutions: as in :func:`rfa_fast.screen`.
        progress: a progress bar (``tqdm.auto``, one step per file) while
            loading: ``True`` on stderr always, ``False`` never, ``None`` when
            stderr is a terminal (or a notebook) and loading lasts over half a
            second.  The screen itself is one call of the core, without a bar.
        jobs: processes loading files, this one included (loading, not the
            screen, is the slow part).  Capped by :func:`loading_processes` at
            the CPUs and at the work: a directory of a few dozen small models
            loads serially, since a worker costs more than it saves there.
        ignore_1x1, threads: as in :func:`rfa_fast.screen`.
        load_kwargs: passed to :func:`rfa_fast.load_onnx` (``strict``,
            ``input_name``, ``resolution``).

    Returns:
        An :class:`OnnxScreenResult`: one row per file that could be screened
        (``names`` are their paths), ``errors`` for the others.  Files of 1,
        2 and 3 spatial axes screen together, whatever their order: one core
        call per dimensionality, rows in the order of the files, ``dims``
        per row (docs/screening.md, "Mixed dimensionality").
    """
    files = onnx_paths(paths)
    processes = loading_processes(jobs, len(files))
    with progress_bar(progress, total=len(files), desc="loading", unit="file") as bar:
        loaded = _load_all(files, load_kwargs, processes, bar)

    errors: dict[str, str] = {}
    warns = {path: w for path, (_, _, w) in zip(files, loaded) if w}
    good: list[tuple[str, Graph]] = []
    for path, (graph, error, _) in zip(files, loaded):
        if graph is None:
            errors[path] = error or "not loaded"
        else:
            good.append((path, graph))
    return OnnxScreenResult(
        _screen_graphs(good, resolutions, errors, ignore_1x1, threads), _ordered(errors, files), warns
    )


def _screen_graphs(
    good: list[tuple[str, Graph]],
    resolutions: Any,
    errors: dict[str, str],
    ignore_1x1: bool,
    threads: int | None,
) -> ScreenResult:
    """One screen of every good graph (one core call per dimensionality, rows in the given order);
    a graph the core rejects moves to ``errors`` and the rest are screened again."""
    dims = max((g.dims for _, g in good), default=2)
    while good:
        graphs = [_named(g, p) for p, g in good]
        try:
            return screen(graphs, resolutions, ignore_1x1=ignore_1x1, threads=threads)
        except GraphError as e:
            if not 0 <= e.graph_index < len(good):
                raise
            errors[good[e.graph_index][0]] = f"GraphError: {e}"
            del good[e.graph_index]
    return _empty_result(resolutions_array(resolutions, dims))


def _named(graph: Graph, path: str) -> Graph:
    """The graph under its file's path (the name its row carries), sharing nodes and packed arrays."""
    if graph.name == path:
        return graph
    g = copy.copy(graph)
    g.name = path
    return g


def _ordered(errors: dict[str, str], files: list[str]) -> dict[str, str]:
    rank = {p: i for i, p in enumerate(files)}
    return dict(sorted(errors.items(), key=lambda kv: rank.get(kv[0], len(rank))))


__all__ = ["OnnxScreenResult", "loading_processes", "onnx_paths", "screen_onnx"]
