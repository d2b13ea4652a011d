"""Retrieval regimes (Ramsauer et al. 2020): single item, metastable, average of all."""
from __future__ import annotations

import numpy as np


def classify_regime(entropy: np.ndarray, n_patterns: np.ndarray, from_overlaps: bool = False) -> np.ndarray:
    """Regime of each point from its retrieval entropy H (nats): 0 single item, 1 metastable, 2 average of all.

    Attention: single item when H < 0.3 ln 2 (at least ~95% of the weight on one
    item), average when H > 0.8 ln P. Overlap entropy never reaches 0, because
    a recalled sparse code still correlates a little with every other code, so
    it is judged relative to ln P: single item below 0.45 ln P, average above
    0.85 ln P.
    """
    h = np.asarray(entropy, dtype=float)
    ln_p = np.log(np.maximum(n_patterns, 2))
    out = np.ones(h.shape)
    if from_overlaps:
        out[h < 0.45 * ln_p] = 0
        out[h > 0.85 * ln_p] = 2
    else:
        out[h < 0.3 * np.log(2)] = 0
        out[h > 0.8 * ln_p] = 2
    out[~np.isfinite(h)] = np.nan
    return out
