"""Spike trains to count vectors."""
from __future__ import annotations

import numpy as np


def binned_counts(times: np.ndarray, index: np.ndarray, n: int, start: float, stop: float,
                  width: float) -> np.ndarray:
    """(bins, n) spike counts in [start, stop) with bins of ``width`` (all in seconds)."""
    n_bins = int(round((stop - start) / width))
    sel = (times >= start) & (times < start + n_bins * width)
    b = np.floor((times[sel] - start) / width + 1e-9).astype(int)
    b = np.clip(b, 0, n_bins - 1)
    counts = np.zeros((n_bins, n))
    np.add.at(counts, (b, index[sel]), 1.0)
    return counts
