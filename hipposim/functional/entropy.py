"""Shannon entropy of weight or probability rows, in nats."""
from __future__ import annotations

import numpy as np


def entropy(weights: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Shannon entropy :math:`H = -\sum_j w_j \ln w_j` (nats) along ``axis``; 0 ln 0 = 0.

    For attention rows: 0 when all weight sits on one memory, ``ln n_m`` when
    it is spread evenly.
    """
    w = np.asarray(weights, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(w > 0, w * np.log(np.where(w > 0, w, 1)), 0)
    return -np.sum(terms, axis=axis)


def normalised_positive(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """p = max(x, 0) / sum max(x, 0) along ``axis``; uniform where nothing is positive."""
    pos = np.clip(np.asarray(x, dtype=float), 0, None)
    total = pos.sum(axis=axis, keepdims=True)
    n = pos.shape[axis]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, pos / np.where(total > 0, total, 1), 1.0 / n)


def js_divergence(p: np.ndarray, q: np.ndarray, axis: int = -1) -> np.ndarray:
    r"""Jensen-Shannon divergence in bits along ``axis`` (Lin 1991), in [0, 1].

    JS(p, q) = 1/2 KL(p || m) + 1/2 KL(q || m) with m = (p + q)/2, after normalising p and q to sum 1;
    0 log 0 = 0, so underflowed entries of either distribution are harmless.
    """
    p = np.asarray(p, dtype=float)
    q = np.asarray(q, dtype=float)
    p = p / np.sum(p, axis=axis, keepdims=True)
    q = q / np.sum(q, axis=axis, keepdims=True)
    mix = 0.5 * (p + q)

    def kl(a: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            terms = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1) / np.where(mix > 0, mix, 1)), 0.0)
        return np.sum(terms, axis=axis)

    return 0.5 * kl(p) + 0.5 * kl(q)
