"""The honest fast baseline: the chain rules of docs/semantics.md in numpy,
vectorized across candidates (a loop over layers, arrays over the batch).

This is what a careful user would write without a compiled core. It uses the
same closed forms as the core's dense path (rule (a) by fields, rule (b) by
inverting the feature-map recursion), so both must agree exactly.
"""

from __future__ import annotations

import numpy as np


def screen_chains_numpy(kernel: np.ndarray, stride: np.ndarray, resolutions: list[int]) -> dict[str, np.ndarray]:
    """Square inputs, same kernel/stride on every axis, "same" padding.

    Returns n_unproductive, n_border [B, R], i_min [B], rf_max [B].
    """
    k = np.asarray(kernel, dtype=np.int64)
    s = np.asarray(stride, dtype=np.int64)
    B, L = k.shape
    res = np.asarray(resolutions, dtype=np.int64)
    R = len(res)
    jump = np.ones(B, np.int64)
    rf = np.ones(B, np.int64)
    S = np.zeros(B, np.int64)  # sum of J_j * c_j; c_j = k' - P - 1 = 0 for "same" pads
    K = np.zeros(B, np.int64)
    n_unprod = np.zeros((B, R), np.int64)
    n_border = np.zeros((B, R), np.int64)
    prev = np.zeros((B, R), bool)
    worst = np.zeros(B, np.int64)
    for layer in range(L):
        kp = k[:, layer]
        rf_out = rf + (kp - 1) * jump
        a = np.minimum(rf, rf_out - 1)  # rule (a) holds for I <= a
        t = np.maximum(K, jump * kp + S)  # rule (b) holds for I <= t
        thr = np.maximum(a, t)
        unprod = res[None, :] <= thr[:, None]
        n_unprod += unprod
        n_border += unprod & ~prev
        prev = unprod
        worst = np.maximum(worst, thr)
        K = np.maximum(K, S)
        jump = jump * s[:, layer]
        rf = rf_out
    return {
        "n_unproductive": n_unprod,
        "n_border": n_border,
        "i_min": (worst + 1).astype(np.float64),
        "rf_max": rf.astype(np.float64),
    }
