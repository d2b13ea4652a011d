"""CA3/DG/EC/CA1 building blocks as plain arrays: receptive fields, dentate-gyrus codes, EC channels,
perforant projections and random projections. No simulator here; the Brian2 backend consumes these arrays.
"""
from __future__ import annotations

import numpy as np


def receptive_fields(n_cells: int, n_units: int, side: int, image_shape: tuple[int, int] | None,
                     rng: np.random.Generator) -> np.ndarray:
    """(n_cells, side**2) item-unit indices: a random local patch per cell."""
    if image_shape is not None and min(image_shape) >= side:
        rows, cols = image_shape
        r0 = rng.integers(0, rows - side + 1, size=n_cells)
        c0 = rng.integers(0, cols - side + 1, size=n_cells)
        dr, dc = np.divmod(np.arange(side * side), side)
        return (r0[:, None] + dr[None, :]) * cols + (c0[:, None] + dc[None, :])
    m = min(side * side, n_units)
    start = rng.integers(0, n_units - m + 1, size=n_cells)
    return start[:, None] + np.arange(m)[None, :]


def kwta_codes(items: np.ndarray, fields: np.ndarray, coding_level: float,
               rng: np.random.Generator) -> np.ndarray:
    """Dentate-gyrus-like sparse expansion: (P, n_cells) 0/1 codes, k-winners-take-all.

    Cell i's input for item x is ``sum_k R_ik (x - <x>)_{fields[i, k]}`` with fixed
    Gaussian ``R`` and ``<x>`` the mean stored item; the ``round(a n)`` cells with
    the largest input win.
    """
    centred = items - items.mean(axis=0, keepdims=True) if len(items) > 1 else items
    weights = rng.normal(size=fields.shape)
    drive = np.einsum("ik,pik->pi", weights, centred[:, fields])
    n_cells = fields.shape[0]
    k = int(round(coding_level * n_cells))
    codes = np.zeros((items.shape[0], n_cells))
    # tiny jitter breaks ties between cells with identical input (e.g. identical items)
    drive = drive + 1e-9 * rng.normal(size=drive.shape)
    winners = np.argsort(-drive, axis=1)[:, :k]
    np.put_along_axis(codes, winners, 1.0, axis=1)
    return codes


def ec_channels(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """(..., 2N) 0/1 activity of on/off EC channels; masked units silence both."""
    on = (values > 0) & known
    off = (values <= 0) & known
    return np.concatenate([on, off], axis=-1).astype(float)


def perforant_projection(fields: np.ndarray, codes: np.ndarray, item_channels: np.ndarray,
                         n_units: int, weight: float):
    """EC -> cell weights learned from the stored items, restricted to each cell's receptive field.

    A one-shot Hebbian covariance rule with the presynaptic mean removed and
    negative values clipped, ``W_ij ~ [sum_mu xi_i^mu (e_j^mu - <e_j>)]_+`` (xi the
    cell's code, e the EC channel activity), normalised so that every coding
    cell receives the same total drive, ``weight`` x (receptive-field size),
    from its own item. Channels that all items share (e.g. a common background)
    carry no weight, so a cue drives its own item's cells much more than cells
    of similar items. Returns (pre, post, w) of the non-zero synapses.
    """
    n_cells, m = fields.shape
    chans = np.concatenate([fields, fields + n_units], axis=1)           # (cells, 2m)
    post = np.repeat(np.arange(n_cells), 2 * m)
    pre = chans.ravel()
    centred = item_channels - item_channels.mean(axis=0, keepdims=True)   # (P, 2N)
    if len(item_channels) == 1:
        centred = item_channels
    w = np.clip(np.einsum("pc,pc->c", codes[:, post], centred[:, pre]), 0, None)
    # drive each coding cell gets from its own (fully visible) item
    dense = np.zeros((n_cells, item_channels.shape[1]))
    dense[post, pre] = w
    own = np.max(codes.T * (dense @ item_channels.T), axis=1)
    scale = np.where(own > 0, m / np.where(own > 0, own, 1.0), 0.0)
    w = w * scale[post] * weight
    keep = w > 0
    return pre[keep], post[keep], w[keep]


def random_projection(n_pre: int, n_post: int, prob: float, weight: float,
                      rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bernoulli(``prob``) connections ``i -> j`` of equal ``weight``: (pre, post, w)."""
    i, j = np.nonzero(rng.random((n_pre, n_post)) < prob)
    return i, j, np.full(len(i), weight)
