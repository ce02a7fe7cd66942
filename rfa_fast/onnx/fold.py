"""Folding Pad nodes into the windows they feed, and numbering the final nodes.

A ``Pad -> Conv`` pair is one layer with bigger pads: the pads add to the
window's ``pad_begin``/``pad_end``, so the table shows the conv with its true
padding and fmap, not a separate zero-size layer.  A Pad is folded when every
consumer is an explicitly padded (or VALID) WINDOW without ceil_mode and the
Pad is not a graph output; otherwise it stays, as a WINDOW with kernel 1 and
those pads (exact for the field, the center and the feature map).

TF-style SAME exports compute the pads at run time from the input shape
(``Shape -> ... -> Pad``).  When such dynamic pads, at the nominal size,
equal what SAME_UPPER (or SAME_LOWER) gives the consumer, the consumer becomes
a SAME window: right at every resolution, not only the exported one.

>>> from rfa_fast.kinds import Kind
>>> from rfa_fast.onnx.context import Record
>>> inp = Record("x", "Input", Kind.INPUT, [], 2)
>>> p = Record("pad", "Pad", None, [0], 2); p.pad_begin = p.pad_end = (1, 1)
>>> c = Record("conv", "Conv", Kind.WINDOW, [1], 2); c.kernel = (3, 3)
>>> recs, index = fold_pads([inp, p, c], [2])
>>> [r.name for r in recs], recs[1].inputs, recs[1].pad_begin
(['x', 'conv'], [0], (1, 1))
"""

from __future__ import annotations

from collections.abc import Sequence

from ..kinds import Kind, PadMode
from .context import Record


def _same_pads(n: int, k: int, d: int, s: int, lower: bool) -> tuple[int, int]:
    kext = d * (k - 1) + 1
    out = -(-n // s)
    total = max((out - 1) * s + kext - n, 0)
    small, big = total // 2, total - total // 2
    return (big, small) if lower else (small, big)


def _same_mode(pad: Record, win: Record) -> PadMode | None:
    """SAME_UPPER/LOWER when the dynamic pads equal the SAME pads of ``win`` at the nominal size."""
    if not pad.pad_dynamic or pad.pad_n is None or any(n is None for n in pad.pad_n):
        return None
    if any(win.pad_begin) or any(win.pad_end):
        return None
    for mode, lower in ((PadMode.SAME_UPPER, False), (PadMode.SAME_LOWER, True)):
        ok = True
        for n, k, d, s, b, e in zip(pad.pad_n, win.kernel, win.dilation, win.stride, pad.pad_begin, pad.pad_end):
            if _same_pads(int(n), k, d, s, lower) != (b, e):  # type: ignore[arg-type]
                ok = False
                break
        if ok:
            return mode
    return None


def fold_pads(records: list[Record], outputs: Sequence[int]) -> tuple[list[Record], list[int]]:
    """Fold or materialize pending Pad records; returns the final records and old->new indices.

    Removed records map to the index of the node that replaces them (their
    input).  Runs in reverse order so ``Pad -> Pad -> Conv`` folds fully.
    """
    n = len(records)
    if all(r.kind is not None for r in records):
        return records, list(range(n))  # no Pad: nothing to fold or renumber
    uses: list[list[int]] = [[] for _ in range(n)]
    for i, r in enumerate(records):
        for p in r.inputs:
            uses[p].append(i)
    out_set = set(outputs)
    removed = [False] * n
    for i in range(n - 1, -1, -1):
        r = records[i]
        if r.kind is not None:
            continue
        cons = uses[i]
        foldable = (
            i not in out_set
            and bool(cons)
            and all(
                records[c].kind == Kind.WINDOW
                and records[c].pad_mode in (PadMode.EXPLICIT, PadMode.VALID)
                and not records[c].ceil_mode
                and records[c].inputs == [i]
                for c in cons
            )
        )
        if not foldable:
            r.kind = Kind.WINDOW  # kernel 1, stride 1, the Pad's pads
            continue
        src = r.inputs[0]
        for c in cons:
            w = records[c]
            same = _same_mode(r, w)
            w.inputs = [src]
            if same is not None:
                w.pad_mode = same
            else:
                w.pad_mode = PadMode.EXPLICIT
                w.pad_begin = tuple(a + b for a, b in zip(w.pad_begin, r.pad_begin))
                w.pad_end = tuple(a + b for a, b in zip(w.pad_end, r.pad_end))
            w.attrs["folded_pad"] = r.name
            uses[src].append(c)
        uses[src] = [u for u in uses[src] if u != i]
        removed[i] = True
    index = [0] * n
    kept: list[Record] = []
    for i, r in enumerate(records):
        if removed[i]:
            index[i] = index[r.inputs[0]]
            continue
        r.inputs = [index[p] for p in r.inputs]
        index[i] = len(kept)
        kept.append(r)
    return kept, index
