"""Ridge regression, solved once for every readout (Hoerl & Kennard 1970)."""
from __future__ import annotations

import numpy as np
import scipy.linalg


def ridge_regression(design: np.ndarray, targets: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge solution ``argmin_W |design W - targets|^2 + alpha |W|^2``.

    Solved in whichever of the primal ``(D^T D + alpha I) W = D^T Y`` or the
    dual ``W = D^T (D D^T + alpha I)^-1 Y`` form is smaller; both are exact.
    """
    n_samples, n_features = design.shape
    if n_samples < n_features:
        gram = design @ design.T + alpha * np.eye(n_samples)
        return design.T @ scipy.linalg.solve(gram, targets, assume_a="pos")
    gram = design.T @ design + alpha * np.eye(n_features)
    return scipy.linalg.solve(gram, design.T @ targets, assume_a="pos")


def fit_ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression with an unpenalised intercept: (W, b) with ``y ~ x W + b``.

    The intercept is removed by centring, ``W = ridge(x - <x>, y - <y>)`` and
    ``b = <y> - <x> W``.
    """
    xm, ym = x.mean(axis=0), y.mean(axis=0)
    w = ridge_regression(x - xm, y - ym, penalty)
    return w, ym - xm @ w
