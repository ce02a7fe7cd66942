"""The honest fast baseline: the chain rules of docs/semantics.md in numpy, as fast as numpy goes.

This is what a careful user would write without a compiled core: one loop
over the layers, each step a handful of whole-array operations over the
batch.  It is written for speed the way numpy rewards it:

- layer-major: the [B, L] parameters are transposed into contiguous [L, B]
  rows, so every step reads a contiguous row (a column of a C-ordered [B, L]
  array is a strided gather, about twice as slow);
- cache-blocked: the batch goes through in blocks of 16,384 candidates, so a
  block's work rows stay in the CPU cache across the layers;
- in place: every step writes into buffers allocated once (``out=``), no
  temporaries; the per-resolution counters are uint8 (a chain has fewer than
  256 layers), a quarter of the memory traffic of int64;
- "same" padding specialized: the map of layer l's input is ``ceil(I / J_l)``
  (J_l its jump), so rule (b), ``map <= k'``, holds exactly for
  ``I <= J_l·k'``; rule (a) for ``I <= min(rf_in, rf_out - 1)``.  Both are
  the closed forms the core's dense path uses, so the two must agree exactly.

It returns every key of :class:`rfa_fast.ScreenResult` for chains without
channels (MACs and parameters are 0, every chain is connected and aligned,
every axis alike), so a benchmark can compare all of them.
"""

from __future__ import annotations

import numpy as np

BLOCK = 16_384
"""Candidates per block: a block's dozen int64 work rows (128 kB each) stay in the CPU's L2 cache."""


def screen_chains_numpy(
    kernel: np.ndarray, stride: np.ndarray, resolutions: list[int], dims: int = 2
) -> dict[str, np.ndarray]:
    """Square inputs, the same kernel and stride on every axis, "same" padding, no channels.

    Returns the ScreenResult keys: counts [B, R], i_min/i_max [B], per-axis [B, dims], flags and params [B].
    The batch is processed in blocks of :data:`BLOCK` candidates (cache blocking).
    """
    kernel = np.asarray(kernel, dtype=np.int64)
    stride = np.asarray(stride, dtype=np.int64)
    B, L = kernel.shape
    res = [int(r) for r in resolutions]
    R = len(res)
    counts = {key: np.empty((R, B), np.uint8) for key in ("n_unproductive", "n_border", "n_critical")}
    worst = np.zeros(B, np.int64)
    rf = np.ones(B, np.int64)
    for lo in range(0, B, BLOCK):
        hi = min(B, lo + BLOCK)
        _block(kernel[lo:hi], stride[lo:hi], res, {k: v[:, lo:hi] for k, v in counts.items()}, worst[lo:hi], rf[lo:hi])
    rf_f = rf.astype(np.float64)
    i_max = rf_f if L else np.full(B, np.nan)
    i_min = np.where(worst >= 2**30, np.inf, worst + 1.0)  # inf: no resolution up to 2^30 is free
    zeros = np.zeros((B, R), np.int64)
    return {
        "n_unproductive": counts["n_unproductive"].T.astype(np.int64),
        "n_border": counts["n_border"].T.astype(np.int64),
        "n_critical": counts["n_critical"].T.astype(np.int64),
        "n_partially_critical": zeros,
        "macs": zeros,
        "macs_unproductive": zeros,
        "i_min": i_min,
        "i_min_axes": np.repeat(i_min[:, None], dims, axis=1),
        "i_max": i_max,
        "i_max_axes": np.repeat(i_max[:, None], dims, axis=1),
        "rf_max": np.repeat(rf_f[:, None], dims, axis=1),
        "connected": np.ones(B, bool),
        "aligned": np.ones(B, bool),
        "params": np.zeros(B, np.int64),
        "n_dead": np.zeros(B, np.int64),  # a chain has no dead layer
        "macs_dead": zeros,
    }


def _block(
    kernel: np.ndarray, stride: np.ndarray, res: list[int], counts: dict[str, np.ndarray], worst: np.ndarray,
    rf_final: np.ndarray,
) -> None:  # fmt: skip
    """One block of candidates; writes its counts, worst threshold and final rf into the given views."""
    k = np.ascontiguousarray(kernel.T)  # [L, b]: one contiguous row per layer
    s = np.ascontiguousarray(stride.T)
    L, b = k.shape
    R = len(res)
    jump = np.ones(b, np.int64)
    rf = np.ones(b, np.int64)
    rf_out = np.empty(b, np.int64)
    a = np.empty(b, np.int64)
    thr = np.empty(b, np.int64)
    unprod = np.empty((R, b), bool)
    prev = np.zeros((R, b), bool)
    flag = np.empty((R, b), bool)
    n_unprod, n_border, n_crit = counts["n_unproductive"], counts["n_border"], counts["n_critical"]
    for c in (n_unprod, n_border, n_crit):
        c.fill(0)
    for layer in range(L):
        kl = k[layer]
        np.subtract(kl, 1, out=a)
        np.multiply(a, jump, out=rf_out)
        np.add(rf_out, rf, out=rf_out)  # rf + (k' - 1)·J
        np.subtract(rf_out, 1, out=a)
        np.minimum(a, rf, out=a)  # (a) holds for I <= a
        np.multiply(jump, kl, out=thr)  # (b) holds for I <= J·k'
        np.maximum(thr, a, out=thr)
        np.maximum(worst, thr, out=worst)
        for r in range(R):
            np.less_equal(res[r], thr, out=unprod[r])
            np.add(n_unprod[r], unprod[r], out=n_unprod[r])
            np.greater(unprod[r], prev[r], out=flag[r])  # unproductive here, not before: a border
            np.add(n_border[r], flag[r], out=n_border[r])
            np.greater(rf_out, res[r], out=flag[r])  # critical: rf > I (on every axis alike)
            np.add(n_crit[r], flag[r], out=n_crit[r])
        unprod, prev = prev, unprod
        np.multiply(jump, s[layer], out=jump)
        rf, rf_out = rf_out, rf
    rf_final[:] = rf
