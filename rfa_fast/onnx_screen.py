"""Screen a directory (or list) of ONNX files in one call of the core.

Each file is read with :func:`rfa_fast.load_onnx` (weights are never read);
the graphs are packed into one :class:`~rfa_fast.batch.GraphBatch` and
screened together.  A file that cannot be read or analyzed does not stop the
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

import os
import sys
import time
import warnings
from collections.abc import Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TextIO, Union

import numpy as np

from .api import resolutions_array, screen
from .batch import GraphBatch
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


class _Progress:
    """A one-line progress bar on a stream: ``[#####.....] 12/20 name``, redrawn at most 10 times a second."""

    def __init__(self, total: int, enabled: bool, stream: TextIO | None = None, width: int = 24) -> None:
        self.total, self.enabled, self.stream, self.width = total, enabled and total > 0, stream or sys.stderr, width
        self.done = 0
        self._last = 0.0

    def update(self, label: str = "") -> None:
        self.done += 1
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self.done < self.total):
            return
        self._last = now
        filled = self.width * self.done // self.total
        line = f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} {label}"
        self.stream.write(line[:100].ljust(100))
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _empty_result(resolutions: np.ndarray) -> ScreenResult:
    R, D = resolutions.shape
    raw: dict[str, np.ndarray] = {f: np.zeros((0, R), np.int64) for f in ScreenResult.FIELDS[:6]}
    raw.update(i_min=np.zeros(0), i_max=np.zeros(0), params=np.zeros(0, np.int64))
    raw.update(i_min_axes=np.zeros((0, D)), i_max_axes=np.zeros((0, D)), graph_rf_max=np.zeros((0, D)))
    raw.update(connected=np.zeros(0, bool), aligned=np.zeros(0, bool))
    raw.update(n_dead=np.zeros(0, np.int64), macs_dead=np.zeros((0, R), np.int64))
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
        progress: a progress bar on stderr while loading; ``None`` shows it
            when stderr is a terminal.
        jobs: processes loading files in parallel (loading, not the screen,
            is the slow part for large models).
        ignore_1x1, threads: as in :func:`rfa_fast.screen`.
        load_kwargs: passed to :func:`rfa_fast.load_onnx` (``strict``,
            ``input_name``, ``resolution``).

    Returns:
        An :class:`OnnxScreenResult`: one row per file that could be screened
        (``names`` are their paths), ``errors`` for the others.  The batch
        takes its number of spatial axes from the first good file; a file with
        another number is an error.
    """
    files = onnx_paths(paths)
    bar = _Progress(len(files), sys.stderr.isatty() if progress is None else bool(progress))
    loaded: list[tuple[str, Graph | None, str | None, list[str]]] = []
    try:
        if jobs > 1 and len(files) > 1:
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                for path, out in zip(files, pool.map(_load, files, [load_kwargs] * len(files))):
                    loaded.append((path, *out))
                    bar.update(os.path.basename(path))
        else:
            for path in files:
                loaded.append((path, *_load(path, load_kwargs)))
                bar.update(os.path.basename(path))
    finally:
        bar.close()

    errors: dict[str, str] = {}
    warns = {path: w for path, _, _, w in loaded if w}
    good: list[tuple[str, Graph]] = []
    dims: int | None = None
    for path, graph, error, _ in loaded:
        if graph is None:
            errors[path] = error or "not loaded"
        elif dims is not None and graph.dims != dims:
            errors[path] = f"SpecError: {graph.dims} spatial axes; the batch has {dims} (from {good[0][0]})"
        else:
            dims = graph.dims
            good.append((path, graph))
    return OnnxScreenResult(
        _screen_graphs(good, resolutions, errors, dims or 2, ignore_1x1, threads), _ordered(errors, files), warns
    )


def _screen_graphs(
    good: list[tuple[str, Graph]],
    resolutions: Any,
    errors: dict[str, str],
    dims: int,
    ignore_1x1: bool,
    threads: int | None,
) -> ScreenResult:
    """One screen of every good graph; a graph the core rejects moves to ``errors`` and the rest are screened again."""
    while good:
        batch = GraphBatch.from_graphs([g for _, g in good])
        batch.names = [p for p, _ in good]
        try:
            return screen(batch, resolutions, ignore_1x1=ignore_1x1, threads=threads)
        except GraphError as e:
            if not 0 <= e.graph_index < len(good):
                raise
            errors[good[e.graph_index][0]] = f"GraphError: {e}"
            del good[e.graph_index]
    return _empty_result(resolutions_array(resolutions, dims))


def _ordered(errors: dict[str, str], files: list[str]) -> dict[str, str]:
    rank = {p: i for i, p in enumerate(files)}
    return dict(sorted(errors.items(), key=lambda kv: rank.get(kv[0], len(rank))))


__all__ = ["OnnxScreenResult", "onnx_paths", "screen_onnx"]
