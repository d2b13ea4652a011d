"""Capacity from sweeps: the critical load fitted to success against load, with theory values.

Theory: classical Hopfield alpha_c ~ 0.138 (Amit, Gutfreund
& Sompolinsky 1985); error-free recall up to N / (2 ln N) (McEliece et al. 1987);
sparse covariance memories ~ 1 / (2 a |ln a|) as a -> 0 (Tsodyks & Feigel'man 1988) and, at finite a, the
signal-to-noise fixed point of :func:`sparse_critical_load`; autoassociative
networks with C recurrent inputs per cell p_max ~ k C / (a ln(1/a)) (Treves & Rolls 1991).
"""
from __future__ import annotations

import math

import numpy as np

ALPHA_C = 0.138  # Amit, Gutfreund & Sompolinsky 1985


def _logistic(x, alpha, width):
    return 1.0 / (1.0 + np.exp((x - alpha) / width))


def fit_critical_load(load: np.ndarray, success: np.ndarray, seeds: np.ndarray, n_boot: int = 200,
                      rng: np.random.Generator | None = None) -> dict:
    """Critical load: the load where a falling logistic fitted to the success rate crosses 0.5.

    The 95% interval comes from a bootstrap over seeds (whole seeds are resampled,
    so the correlation between loads within a seed is kept).
    """
    from scipy.optimize import curve_fit

    rng = rng or np.random.default_rng(0)
    ok = np.isfinite(success)
    load, success, seeds = load[ok], success[ok], seeds[ok]

    def fit(x, y):
        if y.max() - y.min() < 0.5:
            return np.nan
        try:
            (alpha, _), _ = curve_fit(_logistic, x, y, p0=(np.median(x), 0.01 + 0.1 * np.ptp(x)), maxfev=5000)
        except (RuntimeError, ValueError):
            return np.nan
        return alpha if x.min() <= alpha <= x.max() else np.nan

    estimate = fit(load, success)
    unique = np.unique(seeds)
    boots = []
    for _ in range(n_boot if len(unique) > 1 else 0):
        pick = rng.choice(unique, size=len(unique), replace=True)
        idx = np.concatenate([np.nonzero(seeds == s)[0] for s in pick])
        boots.append(fit(load[idx], success[idx]))
    boots = np.array([b for b in boots if np.isfinite(b)])
    lo, hi = (np.percentile(boots, [2.5, 97.5]) if boots.size >= 10 else (np.nan, np.nan))
    return {"alpha_c": float(estimate), "ci_low": float(lo), "ci_high": float(hi)}


def mceliece_load(n_units: int, all_items: bool = False) -> float:
    """Largest error-free load of the Hebb rule (McEliece, Posner, Rodemich & Venkatesh 1987).

    ``1 / (2 ln N)`` for one typical item to be a fixed point with no error, ``1 / (4 ln N)``
    for all items at once (``all_items``).
    """
    return 1.0 / ((4.0 if all_items else 2.0) * math.log(n_units))


def sparse_capacity_load(coding_level: float) -> float:
    """Capacity load 1 / (2 a |ln a|) of the sparse covariance rule (Tsodyks & Feigel'man 1988)."""
    return 1.0 / (2.0 * coding_level * abs(math.log(coding_level)))


def sparse_overlap_map(m: float, alpha: float, coding_level: float) -> float:
    """One synchronous k-WTA update of the sparse covariance memory, in the signal-to-noise approximation.

    With J_ij = (1 / (N a (1 - a))) sum_mu (xi_i^mu - a)(xi_j^mu - a) and a state of a N active units whose
    correlation with the condensed item is m, the field of a unit is (xi_i - a) m plus Gaussian crosstalk of
    variance alpha a from the other P - 1 items (alpha = P / N). k-WTA keeps the a N largest fields, i.e. the
    threshold theta solves a Q((theta - (1 - a) m) / sigma) + (1 - a) Q((theta + a m) / sigma) = a, and
    the new correlation is (f - a) / (1 - a), f = Q((theta - (1 - a) m) / sigma) the fraction of the item's
    active units among the winners (the standard signal-to-noise analysis of sparse memories: Tsodyks &
    Feigel'man 1988; Amari 1989). The crosstalk is treated as fresh at every step (no Amari-Maginu
    correlation of the noise across steps).
    """
    from scipy.optimize import brentq
    from scipy.stats import norm

    a = float(coding_level)
    sigma = math.sqrt(alpha * a)
    if sigma == 0:
        return float(m > 0)

    def excess(theta):
        return a * norm.sf((theta - (1 - a) * m) / sigma) + (1 - a) * norm.sf((theta + a * m) / sigma) - a

    theta = brentq(excess, -10 - abs(m), 10 + abs(m))
    f = norm.sf((theta - (1 - a) * m) / sigma)
    return float((f - a) / (1 - a))


def sparse_critical_load(coding_level: float, success_overlap: float = 0.9, steps: int = 60) -> float:
    """Largest load P/N at which the sparse covariance memory still holds its items at ``success_overlap``.

    The finite-a prediction: iterate :func:`sparse_overlap_map` from a perfect cue (m = 1) and find, by
    bisection in alpha, the load where the fixed point falls to ``success_overlap`` (the Pearson correlation
    of the state with the item, the sparse memory's ``overlap``). At a = 0.05 it gives 1.07, where the
    a -> 0 asymptote 1 / (2 a |ln a|) gives 3.34.
    """
    if not 0.0 < coding_level < 0.5:
        raise ValueError(f"coding_level must lie in (0, 0.5), got {coding_level}")

    def held(alpha):
        m = 1.0
        for _ in range(steps):
            m = sparse_overlap_map(m, alpha, coding_level)
        return m >= success_overlap

    lo, hi = 1e-3, 1.0
    while held(hi):
        lo, hi = hi, 2 * hi
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if held(mid) else (lo, mid)
    return 0.5 * (lo + hi)


def sweep_fits(ds) -> dict:
    """Critical load of every model of a capacity sweep dataset (``sweep.nc``): {model: fit}."""
    return {str(model): fit_critical_load(ds["load"].values, ds["success_rate"].sel(model=model).values,
                                          ds["seed"].values)
            for model in ds["model"].values}


def treves_rolls_capacity(connections: float, coding_level: float, k: float = 1.0) -> float:
    """Treves & Rolls (1991) estimate of an autoassociative network's capacity, in items.

    .. math:: p_{max} \\approx k \\, \\frac{C}{a \\ln(1/a)}

    with ``C`` the recurrent inputs per cell and ``a`` the coding level of the stored
    codes; ``k`` is of order 0.2-0.3 for threshold-linear units and depends on the
    retrieval criterion, so it is fitted (:func:`fit_treves_rolls`).
    """
    if not 0.0 < coding_level < 1.0:
        raise ValueError(f"coding_level must lie in (0, 1), got {coding_level}")
    return k * connections / (coding_level * math.log(1.0 / coding_level))


def crossing_load(counts, fraction, level: float = 0.5) -> float:
    """Number of stored items at which the recalled fraction first falls below ``level``.

    Linear interpolation in log(count) between the last count at or above ``level``
    and the first below it. A curve that only touches ``level`` (a plateau at it) has
    not crossed. NaN when the fraction never falls below ``level`` (the capacity lies
    beyond the sweep) or starts below it (before the sweep).
    """
    counts, fraction = np.asarray(counts, float), np.asarray(fraction, float)
    order = np.argsort(counts)
    counts, fraction = counts[order], fraction[order]
    if fraction[0] < level:
        return math.nan
    for i in range(1, len(counts)):
        if fraction[i] < level:
            x0, x1 = math.log(counts[i - 1]), math.log(counts[i])
            f0, f1 = fraction[i - 1], fraction[i]
            return float(math.exp(x0 + (f0 - level) / (f0 - f1) * (x1 - x0)))
    return math.nan


def fit_treves_rolls(curves: dict, coding_level: float, level: float = 0.5) -> dict:
    """Fit ``k`` of :func:`treves_rolls_capacity` to measured recall curves.

    Parameters
    ----------
    curves : dict
        ``{C: (counts, fraction recalled)}``, one curve per number of recurrent inputs per cell.
    coding_level : float
        Coding level ``a`` of the stored codes.
    level : float
        The recalled fraction that defines capacity (:func:`crossing_load`).

    Returns
    -------
    dict
        ``capacity`` ``{C: items}``, ``k_per_c`` ``{C: k}``, ``k`` (least squares through
        the origin of capacity against ``C / (a ln(1/a))`` over the curves that cross), and
        ``ratio``: capacity at the largest ``C`` over that at the smallest.
    """
    capacity = {c: crossing_load(n, f, level) for c, (n, f) in sorted(curves.items())}
    scale = {c: treves_rolls_capacity(c, coding_level) for c in capacity}
    k_per_c = {c: capacity[c] / scale[c] for c in capacity}
    ok = [c for c in capacity if np.isfinite(capacity[c])]
    x = np.array([scale[c] for c in ok])
    y = np.array([capacity[c] for c in ok])
    k = float(x @ y / (x @ x)) if ok else math.nan
    cs = sorted(capacity)
    ratio = capacity[cs[-1]] / capacity[cs[0]] if len(cs) > 1 else math.nan
    return {"capacity": capacity, "k_per_c": k_per_c, "k": k, "ratio": float(ratio), "level": level,
            "coding_level": coding_level}
