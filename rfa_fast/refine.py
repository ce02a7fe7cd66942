"""Receptive field refinement (Richter & Pal 2022): change downsampling, keep the parameters.

For a network and a training resolution I_res, :func:`refine` proposes edits
of its downsampling (a stride set to 1, a stride moved to a later or an
earlier layer, a pool removed, the stem stride halved, a patchify window's
kernel and stride halved together), combined by a beam search of up to
``max_edits`` edits, each size screened in one call of the core, and ranks
them: I_min at or below I_res and as close to it as possible (the paper moves
I_min just below I_res, from either side), then fewer edits, then fewer MACs
in unproductive layers, then fewer MACs.  Every edit but the patchify one
keeps the parameter count (asserted); no edit creates a window whose stride
exceeds its kernel.  A
:class:`Suggestion` says in words what changes, carries the refined
:class:`~rfa_fast.graph.Graph` and writes the same edits into the ONNX model
(:meth:`Suggestion.apply_onnx`).  Decisions and limits: ``docs/refine.md``.

>>> import rfa_fast
>>> b = rfa_fast.GraphBuilder("vgg3")
>>> x, c_in = b.input(), 3
>>> for i, c in enumerate((16, 32, 64), start=1):
...     x = b.conv(x, 3, pad=1, c_in=c_in, c_out=c, name=f"conv{i}")
...     x = b.conv(x, 3, pad=1, c_in=c, c_out=c, name=f"conv{i}b")
...     x = b.pool(x, 2, name=f"pool{i}")
...     c_in = c
>>> g = b.build()
>>> s = rfa_fast.refine(g, 32)
>>> s.i_min, s.n_unproductive
(33.0, 1)
>>> print(s[0].describe())
move the stride 2 of pool 'pool1' earlier, to conv 'conv1b', and remove the pool
I_min 33 -> 32 px (I_res 32: at or below), unproductive layers at 32 px: 1 -> 0, MACs 9.88M -> 8.11M (-18%), params 71.9k (unchanged)
"""

from __future__ import annotations

import math
import os
import time
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _core
from ._progress import progress_bar
from .api import analyze, resolutions_array, screen
from .batch import GraphBatch
from .errors import ResolutionError, RfaError
from .graph import Graph
from .kinds import Kind
from .refine_candidates import (
    Atomic,
    Candidate,
    NodeChange,
    Structure,
    apply_changes,
    consistent_edits,
    edit_rows,
    tile_arrays,
    without_identity_pools,
)
from .report import fmt_axes, fmt_count

if TYPE_CHECKING:  # onnx costs ~0.5 s to import: only apply_onnx needs it
    from .onnx_edit import ModelSource, OnnxEdit


class RefineError(RfaError, ValueError):
    """Refinement cannot run on this graph or resolution."""


@dataclass(frozen=True)
class Edit:
    """One node's change, as :meth:`Suggestion.describe` prints it.

    ``layer`` is ``"conv"`` (weighted) or ``"pool"``; ``remove`` replaces a
    pool by the identity; ``kernel`` is set only for a re-frozen adaptive pool.
    """

    node: str
    op: str
    layer: str
    stride: tuple[tuple[int, ...], tuple[int, ...]]
    remove: bool = False
    kernel: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def __str__(self) -> str:
        if self.remove:
            return f"remove {self.layer} {self.node!r}"
        text = f"{self.layer} {self.node!r}: "
        if self.kernel is not None:
            text += f"kernel {fmt_axes(self.kernel[0])} -> {fmt_axes(self.kernel[1])}, "
        return text + f"stride {fmt_axes(self.stride[0])} -> {fmt_axes(self.stride[1])}"

    def to_onnx(self) -> OnnxEdit:
        from .onnx_edit import OnnxEdit

        return OnnxEdit(
            self.node,
            self.op,
            stride=None if self.remove else self.stride[1],
            kernel=None if self.kernel is None else self.kernel[1],
            remove=self.remove,
        )


@dataclass(frozen=True)
class Suggestion:
    """A refinement of a graph at a training resolution: what changes, and what it gives.

    Attributes:
        actions: the edits in words, one per atomic edit (a move, a removed
            pool, a group of parallel strided branches...).
        edits: every node change (:class:`Edit`), including a re-frozen
            adaptive pool in front of a flatten head.
        resolution: the training resolution I_res (square).
        i_min_before, i_min: the smallest square resolution with no
            unproductive layer, before and after.
        n_unproductive_before, n_unproductive: unproductive layers at I_res.
        macs_before, macs: total MACs at I_res.
        params: the parameter count after the edits (the same as before,
            except for a patchify edit, which shrinks a kernel).
        rank: 0 for the best suggestion.
        graph: the refined graph, as refinement rates it (a 1x1 stride-1 pool
            without pads is an IDENTITY node).
        params_before: the parameter count before (``None``: the same as ``params``).
        source: the ONNX model the graph was loaded from
            (:attr:`Graph.source <rfa_fast.graph.Graph.source>`), else ``None``;
            :attr:`applicable` checks the edits against it.
    """

    actions: tuple[str, ...]
    edits: tuple[Edit, ...]
    resolution: int
    i_min_before: float
    i_min: float
    n_unproductive_before: int
    n_unproductive: int
    macs_before: int
    macs: int
    params: int
    rank: int
    graph: Graph = field(compare=False, repr=False)
    params_before: int | None = None
    source: Any = field(default=None, compare=False, repr=False)
    _checked: dict[str, str | None] = field(default_factory=dict, compare=False, repr=False)

    @property
    def applicable(self) -> bool | None:
        """Can :meth:`apply_onnx` write these edits into the source model?

        ``True``: the refined model passes every check of :meth:`apply_onnx`
        (the full ``onnx.checker``, strict shape inference at the training
        resolution, reshapes that keep their sizes, and a reload that analyzes
        to the predicted I_min); ``False``: :attr:`why_not` says which node
        fails and why; ``None``: the graph was not loaded from ONNX (no model
        to check: see :meth:`check_onnx`).  Computed on first use (it writes
        the model in memory: ~10-100 ms) and cached.
        """
        if self.source is None:
            return None
        return self.why_not is None

    @property
    def why_not(self) -> str | None:
        """Why :attr:`applicable` is ``False`` (the :class:`OnnxEditError` message); ``None`` otherwise."""
        if self.source is None:
            return None
        if "source" not in self._checked:
            self._checked["source"] = self.check_onnx(self.source)
        return self._checked["source"]

    def check_onnx(self, model_or_path: ModelSource) -> str | None:
        """Why these edits cannot be written into ``model_or_path``, or ``None`` when they can.

        The same work as ``apply_onnx(model_or_path, verify=True)`` without
        writing a file: the reason is the message of the error it would raise.
        """
        from .onnx_edit import OnnxEditError

        try:
            self.apply_onnx(model_or_path)
        except OnnxEditError as e:
            return str(e)
        return None

    @property
    def feasible(self) -> bool:
        """I_min <= I_res: no unproductive layer at the training resolution."""
        return self.i_min <= self.resolution

    @property
    def macs_increase(self) -> float:
        """MACs after / before - 1 (0.5 = 50% more)."""
        return self.macs / self.macs_before - 1 if self.macs_before else 0.0

    def describe(self) -> str:
        """The edits, one per line, then the numbers.

        >>> import rfa_fast
        >>> b = rfa_fast.GraphBuilder("net")
        >>> x = b.conv(b.input(), 3, 2, pad=1, c_in=3, c_out=8, name="stem")
        >>> x = b.conv(x, 3, pad=1, c_in=8, c_out=8, name="conv")
        >>> print(rfa_fast.refine(b.build(), 4)[0].describe())
        move the stride 2 of conv 'stem' to conv 'conv'
        I_min 7 -> 4 px (I_res 4: at or below), unproductive layers at 4 px: 1 -> 0, MACs 3.17k -> 5.76k (+82%), params 792 (unchanged)
        """
        i_res = self.resolution
        where = "at or below" if self.feasible else "still above"
        if self.feasible and self.i_min_before <= i_res:
            where += "; it was already"
        nums = (
            f"I_min {_px(self.i_min_before)} -> {_px(self.i_min)} px (I_res {i_res}: {where}), "
            f"unproductive layers at {i_res} px: {self.n_unproductive_before} -> {self.n_unproductive}, "
            f"MACs {fmt_count(self.macs_before)} -> {fmt_count(self.macs)} ({100 * self.macs_increase:+.0f}%), "
            + self._params_text()
        )
        lines = [*self.actions, nums]
        if self.source is not None:
            why = self.why_not
            lines.append("ONNX: applicable" if why is None else f"ONNX: not applicable: {_short_reason(why)}")
        return "\n".join(lines)

    def _params_text(self) -> str:
        before = self.params if self.params_before is None else self.params_before
        if before == self.params:
            return f"params {fmt_count(self.params)} (unchanged)"
        return f"params {fmt_count(before)} -> {fmt_count(self.params)} ({self.params - before:+,})"

    def __str__(self) -> str:
        return f"#{self.rank}: " + "; ".join(self.actions) + f" (I_min {_px(self.i_min_before)} -> {_px(self.i_min)})"

    def apply_onnx(self, model_or_path: ModelSource, out_path: str | os.PathLike[str] | None = None, *,
                   verify: bool = True) -> Any:  # fmt: skip
        """Write these edits into the ONNX model; returns the refined ``onnx.ModelProto``.

        Strides change (``strides``; ``kernel_shape`` too for a re-frozen
        adaptive pool), a removed pool becomes an ``Identity`` node with the
        same name and tensors; pads are not touched.  The image input's
        spatial dims are set to the training resolution, and shape constants
        baked at export (a channel shuffle's Reshape target, a Resize to a
        fixed size) are computed from ``Shape`` again, so the refined model
        runs at that resolution (:func:`rfa_fast.onnx_edit.apply_edits`).
        Weights are never read; written elsewhere than the source model's
        directory, its external-data files are copied next to the output.
        The result must pass the full ``onnx.checker`` and strict shape
        inference, without weights.  :attr:`applicable` tells beforehand.

        Args:
            model_or_path: the model the suggestion's graph was loaded from
                (a path or a ``ModelProto``; the latter is not modified).
            out_path: where to write the refined model (optional).
            verify: reload the refined model with :func:`rfa_fast.load_onnx`
                and check that it analyzes to the predicted I_min.

        Raises:
            OnnxEditError: a node is missing, the refined model is invalid, or
                (``verify``) it does not reload with the predicted I_min.
        """
        from .onnx_edit import OnnxEditError, apply_edits
        from .onnx_loader import load_onnx

        model = apply_edits(model_or_path, [e.to_onnx() for e in self.edits], out_path, resolution=self.resolution)
        if verify:
            # as refine rates it: a 1x1 stride-1 pool (VGG's head) is an identity, not a layer
            got = analyze(without_identity_pools(load_onnx(model)), self.resolution).i_min
            if got != self.i_min:
                raise OnnxEditError(
                    f"the refined model analyzes to I_min {_px(got)} px, the suggestion predicted {_px(self.i_min)}: "
                    "the model is not the one the suggestion's graph was loaded from, or it has layers the loader "
                    "reads from static shapes that no longer fit"
                )
        return model

    def apply_torch(self, module: Any, *, example: Any = None, verify: bool = True) -> Any:
        """A refined copy of the PyTorch ``module`` with these edits; ``module`` is not changed.

        Strides become the ``stride`` attribute of the convolution and pooling
        modules named by the edits (module paths, as :func:`rfa_fast.from_torch`
        names layers); a removed pool becomes ``nn.Identity()``; an average pool
        in front of a flatten head gets the re-frozen kernel (an adaptive pool
        needs nothing).  Every weight keeps its shape and value.

        Args:
            module: the model the suggestion's graph was captured from.
            example: the input shape (or tensor) to re-capture the copy with;
                default: the example the graph was captured with.
            verify: capture and analyze the copy, and check the promised I_min,
                unproductive count, MACs and parameter count.

        Raises:
            TorchError: an edited layer is not a module of its own (a functional
                op, a module called twice), or (``verify``) the copy does not
                analyze as promised.

        >>> import torch, rfa_fast
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.Conv2d(8, 8, 3, 1, 1))
        >>> s = rfa_fast.refine(rfa_fast.from_torch(net, (1, 3, 4, 4)), 4)[0]
        >>> s.actions
        ("move the stride 2 of conv '0' to conv '1'",)
        >>> refined = s.apply_torch(net)
        >>> refined[0].stride, refined[1].stride, net[0].stride
        ((1, 1), (2, 2), (2, 2))
        """
        from .torch.apply import apply_suggestion
        from .torch.deps import require

        require("torch", "apply_torch")
        return apply_suggestion(self, module, example=example, verify=verify)


class Suggestions(list):  # type: ignore[type-arg]
    """The ranked :class:`Suggestion` list :func:`refine` returns, with the baseline.

    Attributes:
        graph: the graph refined; ``resolution``: I_res.
        i_min, n_unproductive, macs, params: the unedited graph's numbers.
        n_candidates: candidates screened (in one call of the core).
        dropped: candidates left out, by reason: ``"misaligned"`` (a merge
            would get inputs of different jumps or centers), ``"head"`` (a
            flatten head's input size would change: its parameter count
            would), ``"disconnected"``, ``"redundant"`` (a set of edits
            one of whose edits could go with the same I_min and unproductive count).
        identity_pools: names of the 1x1 stride-1 pools without pads (exports
            leave one in front of a flattened head): identities, not rated, so
            ``i_min`` can be lower than :func:`rfa_fast.analyze` says.
        seconds: wall time of the whole :func:`refine` call.
    """

    graph: Graph
    resolution: int
    i_min: float
    n_unproductive: int
    macs: int
    params: int
    n_candidates: int
    dropped: dict[str, int]
    identity_pools: tuple[str, ...] = ()
    seconds: float

    @property
    def already_feasible(self) -> bool:
        """The unedited graph has I_min <= I_res: every edit here only lowers I_min further."""
        return self.i_min <= self.resolution

    def __str__(self) -> str:
        note = f" (I_min <= {self.resolution} already: no edit is needed)" if self.already_feasible else ""
        head = (
            f"{self.graph.name} at {self.resolution} px: I_min {_px(self.i_min)}, {self.n_unproductive} unproductive, "
            f"MACs {fmt_count(self.macs)}, params {fmt_count(self.params)}; {self.n_candidates} candidates screened, "
            f"{len(self)} kept ({self.seconds * 1e3:.0f} ms){note}"
        )
        return "\n".join([head] + [str(s) for s in self[:10]])


GAP_STEP = 0.05
"""I_min gaps to I_res are compared in steps of this share of I_res (11 px at 224).

Within a step, fewer edits and then fewer MACs decide. A careful architect
does not take a third edit, or quadruple the stem's MACs, for an I_min 4 px
nearer: with a pure closest-first rule, such sets pushed two-edit refinements
like the authors' of MobileNetV1 (219 at 224 px) off the top. Between
steps, closer wins: VGG11's two earlier pools (147, 45% of the MACs) beat one
(143), and at 32 px a step is 1.6 px, so MobileNetV2's 31 beats 29.
"""


def _short_reason(why: str) -> str:
    """An OnnxEditError message without the file label in front."""
    head, sep, rest = why.partition(": ")
    return rest if sep and (head.endswith(".onnx") or head.startswith("<")) else why


def _px(v: float) -> str:
    return "inf" if math.isinf(v) else ("nan" if math.isnan(v) else str(int(v)))


@dataclass
class _Screened:
    """What the core said about one candidate (``ok``: connected, aligned, head kept)."""

    cand: Candidate
    i_min: float
    n_unproductive: int
    macs: int
    macs_unproductive: int
    params: int
    ok: bool
    extra: tuple[tuple[NodeChange, str], ...]

    def key(self, i_res: int) -> tuple[Any, ...]:
        """The ranking: I_min <= I_res first; then the gap to I_res in steps of
        :data:`GAP_STEP` · I_res; then fewer edits, fewer MACs lost, fewer MACs."""
        v = self.i_min
        gap = abs(i_res - v) if math.isfinite(v) else math.inf
        step = math.floor(gap / (GAP_STEP * i_res)) if math.isfinite(gap) else math.inf
        return (v > i_res, step, len(self.cand.atoms), self.macs_unproductive, self.macs, gap,
                self.n_unproductive, str(self.cand.signature))  # fmt: skip


def refine(graph: Graph, resolution: int, *, max_edits: int = 3, beam: int = 16, max_pairs: int | None = None,
           ignore_1x1: bool = False, limit: int | None = None, progress: bool | None = None) -> Suggestions:  # fmt: skip
    """Rank downsampling edits of ``graph`` for training at ``resolution`` px.

    The search is a beam search over sets of edits: every single edit is
    screened, then the ``beam`` best candidates of each size are extended by
    one more edit, up to ``max_edits``.  An extension only uses edits that
    alone move I_min the way the candidate needs (down while I_min > I_res, up
    while below), and the search stops once a candidate lands exactly on I_res.
    Each size is screened in one call of the core.

    Args:
        graph: the network (from :func:`rfa_fast.load_onnx`, the builder or the zoo).
        resolution: the training resolution I_res (square, an int).
        max_edits: at most this many edits per suggestion (1: single edits only).
        beam: candidates of each size extended by one more edit.
        max_pairs: deprecated (it capped the pairs of the former two-edit
            search): 0 means ``max_edits=1``; other values are ignored.
        ignore_1x1: do not rate 1x1 layers (as in :func:`rfa_fast.analyze`).
        limit: keep only the best ``limit`` suggestions.
        progress: a ``tqdm.auto`` bar of the candidates written into the
            batch (``True`` always, ``False`` never, ``None`` on a terminal
            or in a notebook once it lasts half a second); the screen of the
            batch that follows is one call of the core.

    Returns:
        :class:`Suggestions`, best first: I_min <= I_res and closest to it,
        then fewer edits, then fewer MACs in unproductive layers at I_res,
        then fewer MACs (``docs/refine.md``).

    >>> import rfa_fast
    >>> s = rfa_fast.refine(rfa_fast.zoo.resnet50(), 64)
    >>> s.i_min, s[0].i_min, s[0].actions
    (97.0, 49.0, ("conv 'layer4.0.conv2' and conv 'layer4.0.downsample.0': stride 2 -> 1 (parallel branches of merge 'layer4.0')",))
    """
    t0 = time.perf_counter()
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)):
        raise ResolutionError(f"refine() takes one square training resolution (an int), got {resolution!r}")
    i_res = int(resolution)
    if max_pairs is not None:
        warnings.warn("refine(max_pairs=...) is deprecated: use max_edits and beam", DeprecationWarning, stacklevel=2)
        if max_pairs < 0:
            raise RefineError(f"max_pairs must be >= 0, got {max_pairs}")
        if max_pairs == 0:
            max_edits = 1
    if max_edits < 1 or beam < 1:
        raise RefineError(f"max_edits and beam must be >= 1, got {max_edits} and {beam}")
    base = analyze(graph, i_res, ignore_1x1=ignore_1x1)
    s = Structure(graph, base.raw)
    atoms, n_inconsistent = consistent_edits(s)
    arrays0 = dict(graph.to_arrays())  # a new dict: the graph caches its arrays
    arrays0["op"] = arrays0["op"].copy()
    arrays0["op"][s.identity_pools] = Kind.IDENTITY  # not rated (a re-frozen head pool rates again)
    dropped = {"misaligned": n_inconsistent, "head": 0, "disconnected": 0, "redundant": 0}
    stats: dict[str, Any] = {}
    level = [Candidate((a,)) for a in atoms]
    screened: dict[tuple, _Screened] = {}
    kept: list[_Screened] = []
    effect: dict[Atomic, float] = {}  # I_min change of each edit alone (valid ones only)
    n_cands = 0
    for size in range(1, max_edits + 1):
        if not level:
            break
        n_cands += len(level)
        rows = _screen_level(s, arrays0, level, i_res, ignore_1x1, dropped, stats, progress)
        good = []
        for r in rows:
            screened[r.cand.signature] = r
            if not r.ok:
                continue
            if size > 1 and any(
                (sub := screened.get(r.cand.without(k).signature)) is not None
                and sub.i_min == r.i_min
                and sub.n_unproductive == r.n_unproductive
                for k in range(size)
            ):
                dropped["redundant"] += 1  # one of its edits does nothing for I_min: it only costs or saves MACs
                continue
            good.append(r)
            if size == 1:
                effect[r.cand.atoms[0]] = r.i_min - stats["i_min"]
        kept.extend(good)
        if size == max_edits or not good:
            break
        best = min(kept, key=lambda r: r.key(i_res))
        if best.i_min == i_res:
            break  # a larger set of edits is in the same gap step with one edit more: it ranks below
        level = _extend(sorted(good, key=lambda r: r.key(i_res))[:beam], effect, i_res, set(screened))
    kept.sort(key=lambda r: r.key(i_res))
    if limit is not None:
        kept = kept[: max(0, limit)]
    out = Suggestions(_suggestion(s, r, rank, i_res, stats) for rank, r in enumerate(kept))
    out.graph, out.resolution = graph, i_res
    out.i_min, out.n_unproductive = stats.get("i_min", base.i_min), stats.get("n_unproductive", 0)
    out.macs, out.params = stats.get("macs", base.summary["macs"]), stats.get("params", base.summary["params"])
    out.n_candidates, out.dropped = n_cands, dropped
    out.identity_pools = tuple(graph.nodes[i].name for i in s.identity_pools)
    if "i_min" not in stats:  # nothing to screen: the baseline in refine's terms (identity pools not rated)
        res0 = screen(GraphBatch(arrays0, names=[graph.name]), i_res, ignore_1x1=ignore_1x1, i_min=True)
        out.i_min, out.n_unproductive = float(res0.i_min[0]), int(res0.n_unproductive[0, 0])
        out.macs, out.params = int(res0.macs[0, 0]), int(res0.params[0])
    out.seconds = time.perf_counter() - t0
    return out


def _extend(frontier: list[_Screened], effect: dict[Atomic, float], i_res: int, seen: set[tuple]) -> list[Candidate]:
    """The next size of the beam: each frontier candidate plus one edit on other nodes that,
    alone, moves I_min the way the candidate needs (down above I_res, up below it)."""
    out: list[Candidate] = []
    for r in frontier:
        if r.i_min == i_res:
            continue
        down = not r.i_min < i_res  # above I_res (or infinite): lower it
        used = frozenset().union(*(a.nodes for a in r.cand.atoms))
        for atom, d in effect.items():
            if (d < 0) != down or d == 0 or atom.nodes & used:
                continue
            c = r.cand.plus(atom)
            sig = c.signature
            if sig not in seen:
                seen.add(sig)
                out.append(c)
    return out


def _screen_level(s: Structure, arrays0: dict[str, np.ndarray], cands: list[Candidate], i_res: int,
                  ignore_1x1: bool, dropped: dict[str, int], stats: dict[str, Any],
                  progress: bool | None) -> list[_Screened]:  # fmt: skip
    """Screen ``cands`` in one call of the core (row 0: the graph unedited; sets ``stats``)."""
    graph = s.graph
    n = len(graph)
    arrays = tile_arrays(arrays0, len(cands) + 1)  # row block 0: the graph unedited
    with progress_bar(progress, total=len(cands), desc="refine", unit="cand") as bar:
        for b, c in enumerate(cands, start=1):
            for ch in c.changes:
                edit_rows(arrays, b * n + ch.index, ch)
            bar.update(1)
    extra, head_drop = _fit_heads(s, arrays, len(cands), i_res, ignore_1x1)
    names = [graph.name] + [f"{graph.name}+{b}" for b in range(1, len(cands) + 1)]
    res = screen(GraphBatch(arrays, names=names), i_res, ignore_1x1=ignore_1x1, i_min=True)
    stats.update(i_min=float(res.i_min[0]), n_unproductive=int(res.n_unproductive[0, 0]),
                 macs=int(res.macs[0, 0]), params=int(res.params[0]),
                 macs_unproductive=int(res.macs_unproductive[0, 0]))  # fmt: skip
    out = []
    for b, c in enumerate(cands, start=1):
        ok = True
        if b in head_drop:
            dropped["head"] += 1
            ok = False
        elif not res.connected[b]:
            dropped["disconnected"] += 1
            ok = False
        elif res.aligned[0] and not res.aligned[b]:
            dropped["misaligned"] += 1
            ok = False
        elif res.params[b] != res.params[0] and not c.changes_kernel:  # the invariant: a bug if it fails
            raise AssertionError(f"candidate {c.signature} changes the parameter count")
        out.append(
            _Screened(
                c,
                float(res.i_min[b]),
                int(res.n_unproductive[b, 0]),
                int(res.macs[b, 0]),
                int(res.macs_unproductive[b, 0]),
                int(res.params[b]),
                ok,
                extra.get(b, ()),
            )  # fmt: skip
        )
    return out


def _fit_heads(s: Structure, arrays: dict[str, np.ndarray], n_cands: int, i_res: int,
               ignore_1x1: bool) -> tuple[dict[int, tuple[tuple[NodeChange, str], ...]], set[int]]:  # fmt: skip
    """Keep flatten heads' inputs at their nominal size; returns re-frozen pools and dropped candidates.

    A flatten head's weights are sized for the feature map at the nominal
    input size (``graph.input_shape``, else I_res).  Per candidate: a
    re-freezable adaptive pool in front of it gets ``kernel = stride =
    n_in / n_out`` (as PyTorch's adaptive pool would), written into the batch;
    any other change of the head's input size drops the candidate.  One extra
    feature-map pass of the core, only for graphs with such a head.
    """
    if not s.heads or n_cands == 0:
        return {}, set()
    g = s.graph
    nominal = g.input_shape if g.input_shape is not None else (i_res,) * g.dims
    raw = _core.analyze_batch(arrays, resolutions_array(tuple(nominal), g.dims), ignore_1x1, 0, True, False)
    fmap = raw["fmap"][0]
    n = len(g)
    extra: dict[int, tuple[tuple[NodeChange, str], ...]] = {}
    drop: set[int] = set()
    for b in range(1, n_cands + 1):
        changes = []
        for h in s.heads:
            out0 = fmap[h.feeder]
            if not h.refreeze:
                if not np.array_equal(fmap[b * n + h.feeder], out0):
                    drop.add(b)
                continue
            src = g.nodes[h.feeder].inputs[0]
            fin, fin0 = fmap[b * n + src], fmap[src]
            if np.array_equal(fin, fin0):
                continue
            if (out0 < 1).any() or (fin % out0).any() or (fin < out0).any():
                drop.add(b)
                continue
            k = tuple(int(v) for v in fin // out0)
            ch = NodeChange(h.feeder, stride=k, kernel=k)
            edit_rows(arrays, b * n + h.feeder, ch)
            node = g.nodes[h.feeder]
            changes.append(
                (
                    ch,
                    f"pool {node.name!r}: kernel {fmt_axes(node.kernel)} -> {fmt_axes(k)}, stride {fmt_axes(node.stride)} "
                    f"-> {fmt_axes(k)} (the adaptive pool in front of the flatten head, re-frozen for the new feature map: "
                    f"the head keeps its {'x'.join(str(int(v)) for v in out0)} input)",
                )
            )
        if changes and b not in drop:
            extra[b] = tuple(changes)
    return extra, drop


def _suggestion(s: Structure, r: _Screened, rank: int, i_res: int, stats: dict[str, Any]) -> Suggestion:
    cand, extra = r.cand, r.extra
    changes = cand.changes + tuple(c for c, _ in extra)
    edits = []
    for c in changes:
        node = s.nodes[c.index]
        layer = "conv" if node.weighted else "pool"
        new_stride = (1,) * s.graph.dims if c.remove else (c.stride or node.stride)
        kernel = (node.kernel, c.kernel) if c.kernel is not None else None
        edits.append(Edit(node.name, node.op, layer, (node.stride, new_stride), c.remove, kernel))
    actions = [a.label for a in cand.atoms] + [text for _, text in extra]
    # the identity pools refinement does not rate are IDENTITY nodes in the refined graph
    changed = {c.index for c in changes}
    identity = tuple(NodeChange(p, remove=True) for p in s.identity_pools if p not in changed)
    graph = apply_changes(s.graph, changes + identity)
    return Suggestion(
        actions=tuple(actions),
        edits=tuple(edits),
        resolution=i_res,
        i_min_before=stats["i_min"],
        i_min=r.i_min,
        n_unproductive_before=stats["n_unproductive"],
        n_unproductive=r.n_unproductive,
        macs_before=stats["macs"],
        macs=r.macs,
        params=r.params,
        rank=rank,
        graph=graph,
        params_before=stats["params"],
        source=s.graph.source,
    )


__all__ = ["Edit", "RefineError", "Suggestion", "Suggestions", "refine"]
