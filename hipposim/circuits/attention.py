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


def predict_pool(scores: np.ndarray, n_visible: np.ndarray, *, J_k: float, I_bd: float, I_bs: float,
                 Delta: float, rho0: float, rho_max: float, t_ref: float, c_fb: float, A0: float, A_ref: float,
                 G_sh: float, K_fb: float, inhibition: float) -> dict[str, np.ndarray]:
    """Mean-field fixed point of the memory layer and its pool, from the parameters and the cues alone.

    With learned keys at their saturation (w = 1 on the key's on/off cells), a cue with ``n_vis`` visible
    units and score s_mu = k_mu . xi drives assembly mu with I_mu = J_k (n_vis + s_mu) / (2 n_vis). The
    pool's mean rate A sets the shunt g = inhibition G_sh A / A_ref and the subtractive current K_fb A, and
    each memory neuron fires with hazard and rate

        rho_mu = min(rho_max, rho0 exp(u_mu / Delta)),   u_mu = (I_mu + I_bd) / (1 + g) + I_bs - K_fb A,
        r_mu   = rho_mu / (1 + rho_mu t_ref)                          (Poisson hazard with dead time t_ref),

    while the pool follows the mean memory rate, A = A0 + c_fb mean_mu r_mu. The right side falls as A
    rises, so the fixed point is unique; it is found by bisection in A. Where the exponential law holds
    (rho_mu t_ref << 1, no rate at its ceiling) the normalised rates are softmax(beta_pred s) with

        beta_pred = J_k / (2 n_vis Delta (1 + g)),

    the circuit's inverse temperature (Krotov & Hopfield 2021, softmax by shared divisive inhibition;
    Ramsauer et al. 2020, eq. 3, for the update it implements). ``saturated`` marks cues whose predicted
    winner is at the ceiling or whose dead time compresses its rate by more than 20 %: there the law, and
    beta_pred, do not hold.

    Parameters
    ----------
    scores : (C, P) array
        X^T xi for every cue and stored key.
    n_visible : (C,) array
        Visible (non-zero) units of each cue.
    J_k, I_bd, I_bs, Delta, K_fb : float
        Potentials in one unit (the backend's mV), ``K_fb`` per Hz of pool rate.
    rho0, rho_max, A0, A_ref : float
        Rates in Hz.
    t_ref : float
        Dead time of a memory neuron (s).
    c_fb, G_sh, inhibition : float
        Pool gain (Hz/Hz), shunting conductance at ``A_ref`` and the inhibition factor.

    Returns
    -------
    dict
        ``pool_rate`` (C,), ``beta`` (C,), ``rates`` (C, P) memory-neuron rates, ``saturated`` (C,) bool.
    """
    s = np.atleast_2d(np.asarray(scores, dtype=float))
    n_vis = np.asarray(n_visible, dtype=float).reshape(-1)
    drive = J_k * (n_vis[:, None] + s) / (2 * n_vis[:, None])

    def rates(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = inhibition * G_sh * a / A_ref
        u = (drive + I_bd) / (1 + g[:, None]) + I_bs - K_fb * a[:, None]
        rho = np.minimum(rho_max, rho0 * np.exp(np.minimum(u / Delta, 700.0)))
        return rho, rho / (1 + rho * t_ref)

    lo = np.full(len(n_vis), float(A0))
    hi = np.full(len(n_vis), float(A0) + c_fb * rho_max)
    for _ in range(200):                      # bisection on A - A0 - c_fb <r>(A), increasing in A
        mid = 0.5 * (lo + hi)
        excess = mid - A0 - c_fb * rates(mid)[1].mean(axis=1)
        hi = np.where(excess > 0, mid, hi)
        lo = np.where(excess > 0, lo, mid)
    a = 0.5 * (lo + hi)
    rho, r = rates(a)
    g = inhibition * G_sh * a / A_ref
    top = rho.max(axis=1)
    saturated = (top >= rho_max * (1 - 1e-9)) | (top * t_ref > 0.25)
    return {"pool_rate": a, "beta": J_k / (2 * n_vis * Delta * (1 + g)), "rates": r, "saturated": saturated}
