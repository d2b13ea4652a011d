"""Reading continuous estimates back into the items' coding ({-1,+1} or {0,1})."""
from __future__ import annotations

import numpy as np


def threshold_readout(x: np.ndarray, coding: str) -> np.ndarray:
    """Binary decision per unit: sign (x >= 0 -> +1) for bipolar items, x >= 0.5 for 0/1 items."""
    if coding == "bipolar":
        return np.where(x >= 0, 1.0, -1.0)
    return (x >= 0.5).astype(float)


def saturating_readout(stream: np.ndarray, coding: str) -> np.ndarray:
    """``clip(x, -1, 1)``, then ``(s + 1) / 2`` for 0/1 items: a bounded estimate in item coding."""
    state = np.clip(stream, -1.0, 1.0)
    return (state + 1) / 2 if coding == "binary" else state


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Scale every row (last axis) to unit L2 norm; all-zero rows stay zero."""
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return np.where(norm > 0, x / np.where(norm > 0, norm, 1.0), 0.0)
