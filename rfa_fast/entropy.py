"""Dataset entropy: the Shannon entropy of image intensity histograms, streamed.

Gowdra et al. (2021, EBCLE) propose dataset entropy as an a-priori indicator
of how deep a CNN needs to be.  Their exact mapping from entropy to a depth
bound is not available to us, so this module measures and does not map: it
returns the entropy statistics, and a mapping, if you have one, is a function
you supply (:data:`DepthBound`; see docs/entropy.md).

What is measured, per image: every channel is quantized to 256 levels, and
the entropy of a level histogram with frequencies ``p_i`` is
``H = -sum_i p_i log2 p_i`` bits (0 for a constant image, 8 for an image
using all 256 levels equally often).  It is computed per channel and for the
luminance ``Y = 0.299 R + 0.587 G + 0.114 B`` (ITU-R BT.601 weights; computed
exactly from the 8-bit levels and rounded to the nearest level, halves up;
for a grey image Y is the image; the alpha channel of RGBA is not used for Y).
The *image entropy* summarized by :attr:`EntropyResult.mean`, ``std`` and
``quantiles`` is the luminance entropy.

Quantization to 256 levels:

- ``uint8`` (and ``bool``, and integer data within 0..255): the values are the
  levels.
- floats, and any data with an explicit ``value_range=(lo, hi)``: 256
  equal-width bins over ``[lo, hi]``: ``level = floor((x - lo) / (hi - lo) *
  256)``, clipped to 0..255 (``hi`` falls in the last bin; with an explicit
  range, values outside it are clipped into the end bins).  Without
  ``value_range``, float data is taken as ``[0, 1]`` if its maximum is at most
  1 and as ``[0, 255]`` if it is larger (so ``u / 255`` and ``u`` as floats
  give exactly the levels ``u``); data below 0 or above 255 is refused, and so
  is a stream whose first chunk guessed ``[0, 1]`` and a later chunk exceeds 1,
  or that mixes integer and float chunks.  Pass ``value_range`` to take the
  guess out of it.

Layouts (one image): ``"HW"`` (grey), ``"HWC"`` or ``"CHW"`` with 1, 3 or 4
channels; an array or a stream item may be one image or a batch of them (one
more leading axis).  Without ``layout=``, the channel axis is the one of size
1, 3 or 4 at the back (HWC) or the front (CHW), HWC when both fit (3x3x3); a
2-D array is one grey image, a 3-D array with no such axis is a batch of grey
images, and a 4-D array is a batch.  So ``(3, 28, 28)`` is one CHW image: say
``layout="HW"`` for three grey images.

Dataset statistics are streamed in constant memory: mean and standard
deviation (population, ``ddof=0``) by Welford/Chan updates per chunk (exact up
to rounding, so chunking changes them by ~1e-15 at most);
quantiles from a histogram of per-image entropies with 8,192 bins over
[0, 8] bits, so a quantile is within :data:`QUANTILE_RESOLUTION` (1/1024 bit)
of the exact (numpy ``"linear"``) quantile; min and max are exact.

Example:
    >>> import numpy as np
    >>> from rfa_fast.entropy import dataset_entropy, image_entropy
    >>> image_entropy(np.arange(256, dtype=np.uint8).reshape(16, 16))["luminance"]
    8.0
    >>> halves = np.zeros((4, 8, 8, 3), np.uint8)
    >>> halves[:, :4] = 255                   # two equally frequent levels: 1 bit
    >>> r = dataset_entropy(halves, progress=False)
    >>> r.n_images, r.mean, r.std, r.per_channel_mean
    (4, 1.0, 0.0, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import numpy as np

from ._progress import progress_bar
from .errors import RfaError

__all__ = [
    "LUMA_WEIGHTS",
    "QUANTILE_RESOLUTION",
    "DepthBound",
    "EntropyError",
    "EntropyResult",
    "dataset_entropy",
    "image_entropy",
]

#: ITU-R BT.601 luma weights for R, G, B (used in thousandths, exactly).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
_LUMA_MILLI = (299, 587, 114)
LEVELS = 256
#: Largest possible entropy of a 256-level histogram, in bits.
MAX_BITS = 8.0
_QBINS = 8192
#: Width of a bin of the per-image entropy histogram the quantiles come from (bits).
QUANTILE_RESOLUTION = MAX_BITS / _QBINS
DEFAULT_QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
# A chunk holds at most this many values (pixels x channels) of input; with the
# int64 bin indices (and float64 values for float input) that is a few tens of MB of
# temporaries, whatever the dataset size.
CHUNK_VALUES = 1 << 22
_LAYOUTS = ("HW", "HWC", "CHW")
_CHANNELS = (1, 3, 4)

#: A mapping from measured entropy to a depth bound, supplied by the user (none ships here).
DepthBound = Callable[["EntropyResult"], int]
#: What :func:`dataset_entropy` accepts: an array, a .npy file or directory path, or an iterable of arrays.
Data = Union[np.ndarray, str, "os.PathLike[str]", Iterable[Any]]


class EntropyError(RfaError, ValueError):
    """The data cannot be measured: bad shape, dtype, values or layout; says which and why."""


@dataclass
class EntropyResult:
    """Entropy statistics of a dataset, in bits (see the module docstring for the rules).

    Attributes:
        n_images: images measured.
        mean, std: mean and population standard deviation of the per-image
            luminance entropy.
        quantiles: ``{q: value}`` for the requested ``q`` in [0, 1], within
            ``QUANTILE_RESOLUTION`` of the exact quantile.
        per_channel_mean, per_channel_std: the same per channel (one entry for grey).
        luminance_mean: the mean luminance entropy (equals ``mean``; named for symmetry).
        min, max: exact extremes of the per-image luminance entropy.
        channels: channels per image; layout: ``"HW"``, ``"HWC"`` or ``"CHW"``.
        value_range: the ``(lo, hi)`` quantized into 256 levels (``(0, 255)`` for levels).

    >>> import numpy as np
    >>> r = dataset_entropy(np.zeros((2, 8, 8), np.uint8), progress=False)   # two grey images
    >>> r.to_dict()["mean"], r.n_images, r.layout, r.channels
    (0.0, 2, 'HW', 1)
    """

    n_images: int
    mean: float
    std: float
    quantiles: dict[float, float]
    per_channel_mean: list[float]
    per_channel_std: list[float]
    luminance_mean: float
    min: float
    max: float
    channels: int
    layout: str
    value_range: tuple[float, float]
    quantile_resolution: float = field(default=QUANTILE_RESOLUTION)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-able; quantile keys are floats, which ``json`` writes as strings)."""
        return {
            "n_images": self.n_images,
            "mean": self.mean,
            "std": self.std,
            "quantiles": dict(self.quantiles),
            "per_channel_mean": list(self.per_channel_mean),
            "per_channel_std": list(self.per_channel_std),
            "luminance_mean": self.luminance_mean,
            "min": self.min,
            "max": self.max,
            "channels": self.channels,
            "layout": self.layout,
            "value_range": list(self.value_range),
            "quantile_resolution": self.quantile_resolution,
        }

    def __str__(self) -> str:
        lo, hi = self.value_range
        head = (
            f"entropy of {self.n_images:,} image{'s' if self.n_images != 1 else ''} "
            f"({self.layout}, {self.channels} channel{'s' if self.channels != 1 else ''}, "
            f"256 levels over [{lo:g}, {hi:g}]): luminance {self.mean:.3f} ± {self.std:.3f} bits"
        )
        qs = "  ".join(f"{_percent(q)} {v:.3f}" for q, v in self.quantiles.items())
        chans = "  ".join(f"c{i} {m:.3f}" for i, m in enumerate(self.per_channel_mean))
        return f"{head}\n  quantiles: {qs}  (min {self.min:.3f}, max {self.max:.3f})\n  per channel mean: {chans}"


def _percent(q: float) -> str:
    return f"{q * 100:g}%"


# ---------------------------------------------------------------------------
# layouts


def _norm_layout(layout: str | None) -> str | None:
    if layout is None:
        return None
    if not isinstance(layout, str) or layout.upper() not in _LAYOUTS:
        raise EntropyError(f"layout must be one of {', '.join(map(repr, _LAYOUTS))} or None, got {layout!r}")
    return layout.upper()


def _layout_of(shape: tuple[int, ...], layout: str | None, what: str) -> tuple[str, int, bool]:
    """Layout of one image, channel count, and whether an array of this shape is a batch.

    >>> _layout_of((3, 3, 3), None, "x")
    ('HWC', 3, False)
    >>> _layout_of((10, 28, 28), None, "x")
    ('HW', 1, True)
    """
    ndim = len(shape)
    if ndim not in (2, 3, 4):
        raise EntropyError(
            f"{what} has shape {shape} ({ndim}-D): an image is HW, HWC or CHW and a batch has one more "
            "leading axis, so 2 to 4 axes are expected"
        )
    if layout is None:
        if ndim == 2:
            layout = "HW"
        elif ndim == 3:
            # A single image has a channel axis; without one it must be a batch of grey images.
            layout = "HWC" if shape[2] in _CHANNELS else "CHW" if shape[0] in _CHANNELS else "HW"
        elif shape[3] in _CHANNELS:
            layout = "HWC"
        elif shape[1] in _CHANNELS:
            layout = "CHW"
        else:
            raise EntropyError(
                f"{what} has shape {shape}: a 4-D batch needs a channel axis of size 1, 3 or 4 at position 1 "
                "(NCHW) or 3 (NHWC); pass layout= if the data is laid out otherwise"
            )
    rank = len(layout)
    if ndim not in (rank, rank + 1):
        raise EntropyError(
            f"{what} has shape {shape} ({ndim}-D), but layout {layout!r} means {rank}-D for one image "
            f"or {rank + 1}-D for a batch"
        )
    image = shape[ndim - rank :]
    channels = 1 if layout == "HW" else image[2] if layout == "HWC" else image[0]
    if channels not in _CHANNELS:
        raise EntropyError(
            f"{what} has shape {shape}: with layout {layout!r} that is {channels} channels; "
            "1 (grey), 3 (RGB) or 4 (RGBA) are supported"
        )
    if 0 in shape:
        raise EntropyError(f"{what} has shape {shape}: it holds no image or no pixel")
    return layout, channels, ndim == rank + 1


def _as_batch(arr: np.ndarray, layout: str | None, what: str) -> tuple[np.ndarray, str, int]:
    """``arr`` as a batch (one leading image axis), with its layout and channel count.

    >>> _as_batch(np.zeros((32, 32, 3)), None, "x")[0].shape
    (1, 32, 32, 3)
    """
    lay, channels, is_batch = _layout_of(arr.shape, layout, what)
    return (arr if is_batch else arr[None]), lay, channels


def _rows_axis(layout: str) -> int:
    """The row axis (H) of a batch in ``layout``: where a too-large image is sliced."""
    return 2 if layout == "CHW" else 1


# ---------------------------------------------------------------------------
# quantization to 256 levels


class _Quantizer:
    """Turns chunks into uint8 levels with one dataset-wide rule (and a float range guess made once)."""

    def __init__(self, value_range: tuple[float, float] | None) -> None:
        if value_range is not None:
            try:
                lo, hi = (float(v) for v in value_range)
            except (TypeError, ValueError):
                raise EntropyError(f"value_range must be a pair (lo, hi) of numbers, got {value_range!r}") from None
            if not (math.isfinite(lo) and math.isfinite(hi) and hi > lo):
                raise EntropyError(f"value_range must be finite with lo < hi, got {value_range!r}")
            value_range = (lo, hi)
        self.explicit = value_range is not None
        self.range: tuple[float, float] | None = value_range
        self.first_chunk = ""
        self.first_kind = ""

    def levels(self, x: np.ndarray, what: str) -> np.ndarray:
        kind = x.dtype.kind
        if kind not in "buif":
            raise EntropyError(f"{what} has dtype {x.dtype}: images must be numeric (uint8, other integers or floats)")
        if self.explicit:
            return self._bins(x, what)
        family = "floats" if kind == "f" else "integers"
        if not self.first_kind:
            self.first_kind = family
        elif family != self.first_kind:
            # uint8 levels then floats in [0, 1] would silently share one scale: refuse instead.
            raise EntropyError(
                f"{what} holds {family} ({x.dtype}), but {self.first_chunk} held {self.first_kind}: pass "
                "value_range=(lo, hi) to put both on one scale"
            )
        if x.dtype == np.uint8:
            self._set_range((0.0, 255.0), what)
            return x
        if kind in "biu":
            lo, hi = int(x.min()), int(x.max())
            if lo < 0 or hi > 255:
                raise EntropyError(
                    f"{what} holds integers in {lo}..{hi}, outside the 8-bit levels 0..255: pass value_range=(lo, hi), "
                    "e.g. (0, 65535) for 16-bit images"
                )
            self._set_range((0.0, 255.0), what)
            return x.astype(np.uint8)
        lo_f, hi_f = self._finite_min_max(x, what)  # refuses NaN and inf
        if lo_f < 0.0 or hi_f > 255.0:
            raise EntropyError(
                f"{what} holds floats in [{lo_f:g}, {hi_f:g}]: without value_range, floats must lie in [0, 1] or "
                "[0, 255]; pass value_range=(lo, hi) for other data (e.g. normalized images)"
            )
        if self.range is None:
            self._set_range((0.0, 1.0) if hi_f <= 1.0 else (0.0, 255.0), what)
        elif self.range == (0.0, 1.0) and hi_f > 1.0:
            raise EntropyError(
                f"{what} holds floats up to {hi_f:g}, but {self.first_chunk} had all values in [0, 1] and fixed the "
                "range [0, 1]: pass value_range=(0, 255) (or (0, 1)) to say which"
            )
        return self._bins(x, what, checked=True)

    def _set_range(self, r: tuple[float, float], what: str) -> None:
        if self.range is None:
            self.range, self.first_chunk = r, what

    @staticmethod
    def _finite_min_max(x: np.ndarray, what: str) -> tuple[float, float]:
        lo, hi = float(np.min(x)), float(np.max(x))
        # min/max propagate NaN and show inf, so one pass checks finiteness too.
        if not (math.isfinite(lo) and math.isfinite(hi)):
            bad = "NaN" if (math.isnan(lo) or math.isnan(hi)) else "infinite values"
            raise EntropyError(f"{what} contains {bad}: entropy needs finite pixel values")
        return lo, hi

    def _bins(self, x: np.ndarray, what: str, checked: bool = False) -> np.ndarray:
        if x.dtype.kind == "f" and not checked:
            self._finite_min_max(x, what)
        assert self.range is not None
        lo, hi = self.range
        # Work in float32 unless the input needs float64 (float64, or integers wider than 16 bits):
        # half the memory traffic, and still exact for the cases that matter: u/255 times 256 is
        # u + u/255 to within 2e-5, far from the next integer, so u/255 and u both give level u.
        wide = x.dtype == np.float64 or (x.dtype.kind in "iu" and x.dtype.itemsize > 2)
        ftype = np.float64 if wide else np.float32
        scale = ftype(LEVELS / (hi - lo))
        if lo != 0.0:
            v = np.subtract(x, lo, dtype=ftype)
            v *= scale
        else:
            v = np.multiply(x, scale, dtype=ftype)  # a new array: the caller's data is never written
        np.floor(v, out=v)
        np.clip(v, 0, LEVELS - 1, out=v)
        return v.astype(np.uint8)


# ---------------------------------------------------------------------------
# per-image entropies of one chunk


_LUMA_MILLI_F32 = np.array(_LUMA_MILLI, dtype=np.float32)


def _luminance(levels: np.ndarray, layout: str) -> np.ndarray:
    """BT.601 luminance levels [B, H, W] of a batch of RGB(A) levels: round(0.299 R + 0.587 G + 0.114 B), exactly.

    S = 299 R + 587 G + 114 B is an integer below 2**24, so float32 holds it and
    every partial sum exactly; floor((S + 500) / 1000) in float32 then equals the
    integer rounding for every possible S (checked exhaustively), and is faster
    than integer division or table look-ups.

    >>> _luminance(np.array([[[[255, 0, 0], [0, 255, 0], [0, 0, 255]]]], np.uint8), "HWC").tolist()
    [[[76, 150, 29]]]
    """
    if layout == "HWC":
        s = levels[..., :3].astype(np.float32) @ _LUMA_MILLI_F32
    else:
        s = levels[:, 0] * _LUMA_MILLI_F32[0]
        s += levels[:, 1] * _LUMA_MILLI_F32[1]
        s += levels[:, 2] * _LUMA_MILLI_F32[2]
    s += 500
    s /= 1000
    return np.floor(s, out=s).astype(np.uint8)


class _Histogrammer:
    """Level histograms [B, planes, 256] of batches of levels; planes = the channels, then the luminance.

    One ``np.bincount`` per plane family: each value's bin index is offset by
    256 x (its image and channel), so all histograms of a chunk come out of one
    pass with no Python loop over images or pixels.  The offsets depend only on
    the chunk's shape, so they are kept for the next chunk of the same shape.
    """

    def __init__(self) -> None:
        self._offsets: dict[tuple[Any, ...], np.ndarray] = {}

    def _offset(self, layout: str, shape: tuple[int, ...], channels: int) -> np.ndarray:
        key = (layout, shape)
        off = self._offsets.get(key)
        if off is None:
            if len(self._offsets) >= 4:  # a stream of ever-changing sizes must not grow memory
                self._offsets.clear()
            n, per_image = shape[0], math.prod(shape[1:])
            pixels = per_image // channels
            chan = np.arange(channels, dtype=np.intp)
            # Channel of each value in an image, in memory order: interleaved (HWC) or planar (CHW).
            chan_of_value = np.tile(chan, pixels) if layout == "HWC" else np.repeat(chan, pixels)
            off = (np.arange(n, dtype=np.intp)[:, None] * channels + chan_of_value) * LEVELS
            self._offsets[key] = off
        return off

    def counts(self, levels: np.ndarray, layout: str, channels: int) -> np.ndarray:
        n = levels.shape[0]
        counts = np.empty((n, channels + (channels > 1), LEVELS), dtype=np.int64)
        flat = levels.reshape(n, -1)
        idx = np.add(flat, self._offset(layout, levels.shape, channels), dtype=np.intp)
        counts[:, :channels] = np.bincount(idx.ravel(), minlength=n * channels * LEVELS).reshape(n, channels, LEVELS)
        if channels > 1:
            lum = _luminance(levels, layout).reshape(n, -1)
            idx = np.add(lum, (np.arange(n, dtype=np.intp) * LEVELS)[:, None], dtype=np.intp)
            counts[:, channels] = np.bincount(idx.ravel(), minlength=n * LEVELS).reshape(n, LEVELS)
        return counts


def _entropy_bits(counts: np.ndarray, pixels: int) -> np.ndarray:
    """H = sum p log2(1/p) over the last axis, p = count / pixels, 0 log 0 = 0.

    Each term is ``(c / n) * log2(n / c)``: exactly 0 for a constant image and
    exact for equiprobable power-of-two cases (8 bits for 256 equal levels).
    Small images look the term up in a table indexed by the count (the same
    operations, so the same bits, as the direct route large images take).

    >>> _entropy_bits(np.array([[2, 2, 0, 0]]), 4).tolist(), _entropy_bits(np.array([[4, 0]]), 4).tolist()
    ([1.0], [0.0])
    """
    if pixels + 1 <= counts.size:
        c = np.arange(1, pixels + 1, dtype=np.float64)
        table = np.concatenate([[0.0], (c / pixels) * np.log2(pixels / c)])
        return np.take(table, counts).sum(axis=-1)
    c = counts.astype(np.float64)
    with np.errstate(divide="ignore"):
        terms = (c / pixels) * np.log2(np.where(counts > 0, pixels / np.where(counts > 0, c, 1.0), 1.0))
    return terms.sum(axis=-1)


def _chunk_entropies(
    x: np.ndarray, layout: str, channels: int, quant: _Quantizer, hist: _Histogrammer, what: str
) -> np.ndarray:
    """Per-image entropies [B, channels + 1 (luminance)] of a batch, slicing rows of images too large for a chunk."""
    per_image = x[0].size
    pixels = per_image // channels
    if per_image <= CHUNK_VALUES or x.shape[0] > 1:
        counts = hist.counts(quant.levels(np.asarray(x), what), layout, channels)
    else:
        # One huge image: accumulate its histogram over bands of rows to keep memory bounded.
        ax = _rows_axis(layout)
        rows = x.shape[ax]
        step = max(1, rows * CHUNK_VALUES // per_image)
        counts = np.zeros((1, channels + (channels > 1), LEVELS), dtype=np.int64)
        for r0 in range(0, rows, step):
            band = np.asarray(x[(slice(None),) * ax + (slice(r0, r0 + step),)])
            counts += hist.counts(quant.levels(band, what), layout, channels)
    h = _entropy_bits(counts, pixels)
    # A grey image's luminance is the image itself.
    return h if channels > 1 else np.concatenate([h, h], axis=1)


# ---------------------------------------------------------------------------
# streaming statistics


class _Stats:
    """Constant-memory accumulator: Chan/Welford mean and M2 per plane, a fine histogram of luminance entropy."""

    def __init__(self, planes: int) -> None:
        self.n = 0
        self.mean = np.zeros(planes)
        self.m2 = np.zeros(planes)
        self.hist = np.zeros(_QBINS, dtype=np.int64)
        self.lo = math.inf
        self.hi = -math.inf

    def add(self, h: np.ndarray) -> None:
        nb = h.shape[0]
        mean_b = h.mean(axis=0)
        m2_b = ((h - mean_b) ** 2).sum(axis=0)
        tot = self.n + nb
        delta = mean_b - self.mean
        # Chan et al.'s pairwise update: exact in exact arithmetic, and stable (no sum of squares).
        self.mean = self.mean + delta * (nb / tot)
        self.m2 = self.m2 + m2_b + delta**2 * (self.n * nb / tot)
        self.n = tot
        lum = h[:, -1]
        bins = np.minimum((lum * (_QBINS / MAX_BITS)).astype(np.intp), _QBINS - 1)
        self.hist += np.bincount(bins, minlength=_QBINS)
        self.lo = min(self.lo, float(lum.min()))
        self.hi = max(self.hi, float(lum.max()))

    def quantile(self, q: float) -> float:
        """numpy's "linear" quantile, each order statistic placed inside its histogram bin (error < one bin)."""
        pos = q * (self.n - 1)
        k = math.floor(pos)
        a = self._order_stat(k)
        if pos == k:
            return a
        b = self._order_stat(k + 1)
        return a + (b - a) * (pos - k)

    def _order_stat(self, k: int) -> float:
        if k == 0:
            return self.lo
        if k == self.n - 1:
            return self.hi
        cum = np.cumsum(self.hist)
        j = int(np.searchsorted(cum, k, side="right"))
        before = int(cum[j - 1]) if j else 0
        # Spread the bin's values evenly inside it, then clamp to the exact extremes
        # (so a constant dataset gives its exact value).
        v = (j + (k - before + 0.5) / int(self.hist[j])) * QUANTILE_RESOLUTION
        return min(max(v, self.lo), self.hi)


# ---------------------------------------------------------------------------
# sources


def _npy_shape(path: Path) -> tuple[int, ...]:
    """The array shape in a .npy header, without reading or mapping the data."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, _ = np.lib.format.read_array_header_1_0(f)
            else:
                shape, _, _ = np.lib.format.read_array_header_2_0(f)
    except (OSError, ValueError) as e:
        raise EntropyError(f"cannot read {str(path)!r} as a .npy file: {e}") from None
    return tuple(shape)


def _load_npy(path: Path) -> np.ndarray:
    """Memory-mapped: a file larger than memory is read chunk by chunk as it is measured."""
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as e:
        raise EntropyError(f"cannot read {str(path)!r} as a .npy file: {e}") from None


def _images_in(shape: tuple[int, ...], layout: str | None) -> int | None:
    """How many images an array of ``shape`` holds (None if it is malformed: the measurement will say why)."""
    try:
        _, _, is_batch = _layout_of(shape, layout, "")
    except EntropyError:
        return None
    return shape[0] if is_batch else 1


def _sources(data: Any, layout: str | None) -> tuple[Iterator[tuple[Any, str]], int | None]:
    """(item, description) pairs to measure, and the number of images if known in advance."""
    if isinstance(data, (str, os.PathLike)):
        path = Path(data)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix == ".npy" and p.is_file())
            if not files:
                raise EntropyError(f"directory {str(path)!r} holds no .npy file")
        elif path.is_file() and path.suffix == ".npy":
            files = [path]
        else:
            raise EntropyError(f"{str(path)!r} is neither a .npy file nor a directory of .npy files")
        counts = [_images_in(_npy_shape(p), layout) for p in files]
        total = None if any(c is None for c in counts) else sum(c for c in counts if c is not None)
        return ((_load_npy(p), f"file {p.name!r}") for p in files), total
    if isinstance(data, np.ndarray) or hasattr(data, "__array__") or hasattr(data, "__array_interface__"):
        arr = np.asarray(data)
        return iter([(arr, "the array")]), _images_in(arr.shape, layout)
    if isinstance(data, Iterable):
        return ((item, f"item {i}") for i, item in enumerate(data)), None
    raise EntropyError(
        f"cannot measure a {type(data).__name__}: pass a numpy array, an iterable of image arrays, "
        "a .npy file or a directory of .npy files"
    )


# ---------------------------------------------------------------------------
# public API


def image_entropy(
    img: Any, *, layout: str | None = None, value_range: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Entropy in bits of one image's 256-level histograms: per channel and of the luminance.

    Returns ``{"luminance": float, "channels": [float, ...], "layout": str}``
    (for a grey image ``channels`` is ``[luminance]``).  Rules as in the module docstring.

    >>> import numpy as np
    >>> image_entropy(np.zeros((4, 4, 3), np.uint8))
    {'luminance': 0.0, 'channels': [0.0, 0.0, 0.0], 'layout': 'HWC'}
    >>> image_entropy(np.array([[0.0, 1.0], [0.0, 1.0]]))["luminance"]   # two equal levels
    1.0
    """
    arr = _to_array(img, "the image")
    batch, lay, channels = _as_batch(arr, _norm_layout(layout), "the image")
    if batch.shape[0] != 1:
        raise EntropyError(
            f"the image has shape {arr.shape}, read as a batch of {batch.shape[0]} {lay} images: image_entropy takes "
            "one image (use dataset_entropy for a batch, or pass layout=)"
        )
    h = _chunk_entropies(batch, lay, channels, _Quantizer(value_range), _Histogrammer(), "the image")[0]
    return {"luminance": float(h[-1]), "channels": [float(v) for v in h[:channels]], "layout": lay}


def _to_array(item: Any, what: str) -> np.ndarray:
    if isinstance(item, np.ndarray):
        return item
    try:
        return np.asarray(item)
    except (TypeError, ValueError) as e:
        raise EntropyError(f"{what} is not an array of pixel values ({type(item).__name__}): {e}") from None


def dataset_entropy(
    data: Data,
    *,
    layout: str | None = None,
    value_range: tuple[float, float] | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
    progress: bool | None = None,
) -> EntropyResult:
    """Entropy statistics of a dataset, streamed in constant memory.

    Args:
        data: an array of N images or one image (a ``np.memmap`` or
            ``np.load(..., mmap_mode="r")`` is read chunk by chunk); an
            iterable or iterator of image arrays or of batches (anything
            ``np.asarray`` accepts, e.g. CPU tensors); a ``.npy`` file or a
            directory of ``.npy`` files (memory-mapped, in name order).
        layout: ``"HW"``, ``"HWC"`` or ``"CHW"`` for one image; ``None`` detects
            it per array (channel axis of size 1/3/4 at the back, else the front).
        value_range: ``(lo, hi)`` quantized into 256 equal bins; overrides the
            float-range guess (``[0, 1]`` if max <= 1, else ``[0, 255]``).
        quantiles: the ``q`` in [0, 1] to report.
        progress: a ``tqdm.auto`` bar of images: ``True`` on stderr always,
            ``False`` never, ``None`` only when stderr is a terminal (or a
            notebook) and the run takes over half a second.

    All items must have the same channel count; their sizes may differ.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, size=(64, 32, 32, 3), dtype=np.uint8)
    >>> a = dataset_entropy(images, progress=False)
    >>> b = dataset_entropy(iter(images), progress=False)          # one image at a time
    >>> a.n_images == b.n_images == 64, abs(a.mean - b.mean) < 1e-12
    (True, True)
    >>> round(a.per_channel_mean[0], 2), round(a.mean, 2)   # luminance averages noise: fewer levels used
    (7.8, 7.45)
    """
    lay = _norm_layout(layout)
    qs = [float(q) for q in quantiles]
    if any(not 0.0 <= q <= 1.0 for q in qs):
        raise EntropyError(f"quantiles must lie in [0, 1], got {list(quantiles)!r}")
    quant = _Quantizer(value_range)
    hist = _Histogrammer()
    sources, total = _sources(data, lay)
    stats: _Stats | None = None
    first: tuple[str, int, str] | None = None
    with progress_bar(progress, total=total, desc="entropy", unit="img") as bar:
        for item, what in sources:
            arr = _to_array(item, what)
            batch, item_layout, channels = _as_batch(arr, lay, what)
            if first is None:
                first = (item_layout, channels, what)
                stats = _Stats(channels + 1)
            elif channels != first[1]:
                raise EntropyError(
                    f"{what} (shape {arr.shape}) was read as {item_layout} with {channels} channel(s), but "
                    f"{first[2]} had {first[1]}: all images need the same channel count; pass layout= if the "
                    "detection guessed wrong (e.g. layout='HW' for batches of grey images)"
                )
            assert stats is not None
            step = max(1, min(CHUNK_VALUES // batch[0].size, CHUNK_VALUES // ((channels + 1) * LEVELS)))
            for i0 in range(0, batch.shape[0], step):
                h = _chunk_entropies(batch[i0 : i0 + step], item_layout, channels, quant, hist, what)
                stats.add(h)
                bar.update(h.shape[0])
    if stats is None or first is None:
        raise EntropyError("the dataset is empty: no image to measure")
    assert quant.range is not None
    std = np.sqrt(stats.m2 / stats.n)
    return EntropyResult(
        n_images=stats.n,
        mean=float(stats.mean[-1]),
        std=float(std[-1]),
        quantiles={q: stats.quantile(q) for q in qs},
        per_channel_mean=[float(v) for v in stats.mean[:-1]],
        per_channel_std=[float(v) for v in std[:-1]],
        luminance_mean=float(stats.mean[-1]),
        min=stats.lo,
        max=stats.hi,
        channels=first[1],
        layout=first[0],
        value_range=quant.range,
    )
