"""Numpy side of the attention circuit (``attention-spiking-v1``): value patterns, and spikes to rates,
read-outs and learned item weights. The Brian2 network is in :mod:`hipposim.backends.brian2.attention`.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

ValueKind = Literal["same", "shuffled", "random"]


def value_patterns(keys: np.ndarray, kind: ValueKind, rng: np.random.Generator) -> np.ndarray:
    """The value stored with each key: the key itself (auto-association), another stored item, or new.

    ``same``: V = K. ``shuffled``: item mu's value is the key of item pi(mu) for a random cyclic shift
    pi (mu -> mu + k mod P, k drawn in 1..P-1), so no item maps to itself when P > 1 (EC -> CA1-like
    hetero-association between stored patterns). ``random``: fresh i.i.d. +-1 patterns.
    """
    keys = np.asarray(keys, dtype=float)
    n_items = keys.shape[0]
    if kind == "same":
        return keys.copy()
    if kind == "shuffled":
        shift = int(rng.integers(1, n_items)) if n_items > 1 else 0
        return keys[(np.arange(n_items) + shift) % n_items].copy()
    if kind == "random":
        return rng.choice(np.array([-1.0, 1.0]), size=keys.shape)
    raise ValueError(f"unknown value kind {kind!r}; expected 'same', 'shuffled' or 'random'")


def window_counts(times: np.ndarray, index: np.ndarray, n: int, start: float, stop: float) -> np.ndarray:
    """(n,) spike counts of each cell in [start, stop) (seconds)."""
    sel = (times >= start) & (times < stop)
    return np.bincount(index[sel], minlength=n).astype(float)


def recall_counts(times: np.ndarray, index: np.ndarray, n: int, starts: np.ndarray, n_bins: int, width: float,
                  dt: float) -> np.ndarray:
    """(cue, bin, n) spike counts of each cell in ``n_bins`` bins of ``width`` after each recall start (s).

    Spike times sit on the simulation grid (multiples of ``dt``), so each window [lo, hi) is shifted by
    -dt/2: it holds the steps lo .. hi - dt, never the first step of the next cue.
    """
    out = np.zeros((len(starts), n_bins, n))
    half = dt / 2
    for c, a in enumerate(starts):
        for k in range(n_bins):
            out[c, k] = window_counts(times, index, n, a + k * width - half, a + (k + 1) * width - half)
    return out


def running_windows(n_bins: int, settle_bins: int) -> list[tuple[int, int]]:
    """Bin ranges [a, b) of the estimate at each step: the bin itself while the circuit settles, then
    everything from the end of the settling period up to and including the bin (a running estimate
    whose last step covers the whole measurement window)."""
    return [(k, k + 1) if k < settle_bins else (settle_bins, k + 1) for k in range(n_bins)]


def on_off_readout(counts: np.ndarray) -> np.ndarray:
    """Item-space estimate from on/off read-out counts: (c_on,i - c_off,i) / mean_j (c_on,j + c_off,j).

    With on and off cells driven through the values, c_on,i - c_off,i is proportional to
    sum_mu r_mu v_mu,i and the denominator to sum_mu r_mu, so the estimate is V^T p with p the normalised
    memory rates, without knowing the total rate. ``counts`` is (..., 2N); rows without spikes give 0.
    """
    counts = np.asarray(counts, dtype=float)
    n = counts.shape[-1] // 2
    on, off = counts[..., :n], counts[..., n:]
    total = np.mean(on + off, axis=-1, keepdims=True)
    return np.where(total > 0, (on - off) / np.where(total > 0, total, 1.0), 0.0)


def learned_items(w_keys: np.ndarray, w_values: np.ndarray, n_items: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Learned keys and values in item space, (P, N) each: w_on - w_off averaged over each assembly.

    ``w_keys`` is (2N, P m) (feature on/off cells -> memory cells), ``w_values`` (P m, 2N). With the
    saturating Hebbian rule an active pair ends at w ~ 1 and a silent one at 0, so these are the stored
    bipolar patterns when learning worked.
    """
    n = w_keys.shape[0] // 2
    k = (w_keys[:n] - w_keys[n:]).reshape(n, n_items, m).mean(axis=2).T
    v = (w_values[:, :n] - w_values[:, n:]).reshape(n_items, m, n).mean(axis=1)
    return k, v
