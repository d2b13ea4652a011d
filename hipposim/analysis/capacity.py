"""Capacity from sweeps: the critical load fitted to success against load, with theory values.

Theory (DESIGN.md section 2): classical Hopfield alpha_c ~ 0.138 (Amit, Gutfreund
& Sompolinsky 1985); error-free recall up to N / (2 ln N) (McEliece et al. 1987);
sparse covariance memories ~ 1 / (2 a |ln a|) (Tsodyks & Feigel'man 1988).
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


def mceliece_load(n_units: int) -> float:
    """Largest error-free load N / (2 ln N) / N = 1 / (2 ln N) (McEliece et al. 1987)."""
    return 1.0 / (2.0 * math.log(n_units))


def sparse_capacity_load(coding_level: float) -> float:
    """Capacity load 1 / (2 a |ln a|) of the sparse covariance rule (Tsodyks & Feigel'man 1988)."""
    return 1.0 / (2.0 * coding_level * abs(math.log(coding_level)))


def sweep_fits(ds) -> dict:
    """Critical load of every model of a capacity sweep dataset (``sweep.nc``): {model: fit}."""
    return {str(model): fit_critical_load(ds["load"].values, ds["success_rate"].sel(model=model).values,
                                          ds["seed"].values)
            for model in ds["model"].values}
