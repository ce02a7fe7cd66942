"""The bundled demo behind ``rfa-fast demo``: nothing to download, nothing to train.

It analyzes a ResNet-18 built in code (:func:`rfa_fast.zoo.resnet18`, laid
out as torchvision lays it out, with channels for MACs) at 32 px and 224 px,
then screens a bundled search space (random chains of convolutions, made
from a fixed seed) at both resolutions with one call of the compiled core,
and says what it found.

>>> import io
>>> out = io.StringIO()
>>> run(out, candidates=200)
>>> "resnet18 at 32 px" in out.getvalue(), "200 random" in out.getvalue()
(True, True)
"""

from __future__ import annotations

import textwrap
import time
from typing import TextIO

import numpy as np

from ._progress import progress_bar
from .api import analyze, screen_chains
from .graph import Graph
from .report import fmt_axes, fmt_count
from .results import ScreenResult

DEPTH = 16  # layers per candidate chain
KERNELS = (1, 3, 5, 7)
KERNEL_P = (0.2, 0.5, 0.2, 0.1)
RESOLUTIONS = (32, 224)
_SPACE_CHUNK = 1 << 18  # rows per progress step of search_space


def bundled_model() -> Graph:
    """torchvision's ResNet-18, built with :class:`~rfa_fast.graph.GraphBuilder` (rfa_fast.zoo)."""
    from .zoo import resnet18

    return resnet18()


def search_space(n: int, seed: int = 0, *, progress: bool | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` random chains of :data:`DEPTH` convolutions: kernel, stride [n, DEPTH] and channels [n, DEPTH+1].

    Kernels are 1, 3, 5 or 7; two to five layers at random positions have
    stride 2; widths start at 32 and double at each stride-2 layer (at most
    512), as in hand-made CNNs.
    """
    rng = np.random.default_rng(seed)
    kernel = rng.choice(np.array(KERNELS, dtype=np.int32), size=(n, DEPTH), p=KERNEL_P)
    # stride-2 positions: rank random keys per row and keep the lowest n_down ranks
    n_down = rng.integers(2, 6, size=(n, 1))
    keys = rng.random((n, DEPTH))
    stride = np.empty((n, DEPTH), np.int32)
    # The double argsort is the slow part (most of a 10^7-candidate demo): done in
    # chunks of rows, one progress step each; the same numbers as in one piece.
    with progress_bar(progress, total=n, desc="search space", unit="cand", unit_scale=True) as bar:
        for i0 in range(0, n, _SPACE_CHUNK):
            ranks = np.argsort(np.argsort(keys[i0 : i0 + _SPACE_CHUNK], axis=1), axis=1)
            stride[i0 : i0 + _SPACE_CHUNK] = np.where(ranks < n_down[i0 : i0 + _SPACE_CHUNK], 2, 1)
            bar.update(len(ranks))
    width = np.minimum(32 * 2 ** np.cumsum(stride == 2, axis=1), 512)
    channels = np.concatenate([np.full((n, 1), 3), width], axis=1).astype(np.int64)
    return kernel, stride, channels


def _chain_text(kernel: np.ndarray, stride: np.ndarray) -> str:
    """``3 3/2 5 ...``: each layer's kernel, ``/2`` when it downsamples."""
    return " ".join(f"{k}/{s}" if s != 1 else str(k) for k, s in zip(kernel.tolist(), stride.tolist()))


def _screen_summary(r: ScreenResult, n: int, elapsed: float) -> list[str]:
    lines = [f"  one call of the core: {1e3 * elapsed:.1f} ms ({n / elapsed:,.0f} candidates/s)"]
    for c, res in enumerate(RESOLUTIONS):
        ok = int(r.productive(c).sum())
        total = r.macs[:, c].astype(np.float64)
        share = np.divide(r.macs_unproductive[:, c], total, out=np.zeros_like(total), where=total > 0)
        wasted = share[r.n_unproductive[:, c] > 0]
        waste = (
            f"; the others spend a median {100 * np.median(wasted):.0f}% of their MACs past the border"
            if wasted.size
            else ""
        )
        lines.append(f"  at {res} px: {ok:,} of {n:,} ({100 * ok / n:.1f}%) have no unproductive layer{waste}")
    finite = r.i_min[np.isfinite(r.i_min)]
    if finite.size:
        q10, q50, q90 = np.percentile(finite, [10, 50, 90])
        lines.append(
            f"  I_min (smallest input with every layer productive): median {q50:.0f} px, 10-90% {q10:.0f}-{q90:.0f} px"
        )
    return lines


def run(out: TextIO, *, candidates: int = 10_000, seed: int = 0, progress: bool | None = None) -> None:
    """Print the demo to ``out``: the model's analysis, the screening summary, and what it means.

    ``progress``: a ``tqdm.auto`` bar on stderr while the search space is made
    (``None``: on a terminal, once it lasts half a second).
    """
    model = bundled_model()
    small, large = (analyze(model, res) for res in RESOLUTIONS)
    out.write(
        f"rfa-fast demo 1/2: {model.name} built in code (torchvision layout, no download), analyzed at 32 and 224 px\n\n"
    )
    out.write(f"{small}\n\nat 224 px: {large.summary_line()}\n\n")

    kernel, stride, channels = search_space(candidates, seed, progress=progress)
    t0 = time.perf_counter()
    # one call of the core: no progress bar (it is the part the demo measures)
    r = screen_chains(kernel, stride, resolutions=list(RESOLUTIONS), channels=channels)
    elapsed = time.perf_counter() - t0
    out.write(
        f"rfa-fast demo 2/2: a search space of {candidates:,} random {DEPTH}-layer chains "
        f"(kernels {'/'.join(map(str, KERNELS))}, 2-5 stride-2 layers, seed {seed}) screened at "
        f"{' and '.join(map(str, RESOLUTIONS))} px\n"
    )
    out.write("\n".join(_screen_summary(r, candidates, elapsed)) + "\n")
    # the refinement paper's target: I_min at or just below the training resolution
    fit = np.flatnonzero(r.productive(0))
    if fit.size:
        best = fit[np.lexsort((-r.rf_max[fit, 0], -r.i_min[fit]))][:3]
        out.write("  best at 32 px (every layer productive, I_min closest to 32, then the largest field):\n")
        for b in best:
            out.write(
                f"    #{b}: I_min {r.i_min[b]:g}, rf_max {fmt_axes(tuple(r.rf_max[b]))}, "
                f"{fmt_count(int(r.macs[b, 0]))} MACs: {_chain_text(kernel[b], stride[b])}\n"
            )
    s = small.summary
    border = s["border_layers"][0] if s["border_layers"] else "none"
    text = (
        "What this did: rfa-fast computed every layer's receptive field in the ResNet-18 and found that at 32 px "
        f"(CIFAR size) the layers from {border} on ({s['n_unproductive']} convolutions, "
        f"{100 * small.macs_unproductive_share:.0f}% of the MACs) already see more than the whole image and "
        f"cannot learn anything new; at 224 px all of them are productive (I_min {fmt_axes(tuple(s['i_min']))} px). "
        f"It then rated {candidates:,} candidate architectures at two resolutions in one call, the filter a "
        "search loop applies before training anything. Next: rfa-fast analyze MODEL.onnx -r 224, "
        "rfa-fast report MODEL.onnx -r 32 -r 224 -o report.html (docs/cli.md)."
    )
    out.write("\n" + textwrap.fill(text, width=100) + "\n")


__all__ = ["bundled_model", "run", "search_space"]
