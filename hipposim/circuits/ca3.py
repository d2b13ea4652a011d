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


def tiling_starts(n_units: int, side: int, image_shape: tuple[int, int] | None) -> np.ndarray:
    """(T, side**2) item-unit indices of patches that tile the item (the last row/column clamped inside)."""
    if image_shape is not None and min(image_shape) >= side:
        rows, cols = image_shape
        r = sorted({min(x, rows - side) for x in range(0, rows, side)})
        c = sorted({min(x, cols - side) for x in range(0, cols, side)})
        dr, dc = np.divmod(np.arange(side * side), side)
        return np.array([(r0 + dr) * cols + (c0 + dc) for r0 in r for c0 in c])
    m = min(side * side, n_units)
    return np.array([np.arange(min(x, n_units - m), min(x, n_units - m) + m) for x in range(0, n_units, m)])


def covering_receptive_fields(n_cells: int, n_units: int, side: int, image_shape: tuple[int, int] | None,
                              rng: np.random.Generator) -> np.ndarray:
    """Receptive fields that cover every unit: a tiling (:func:`tiling_starts`), then random patches.

    The first cells take the tiling's patches in a random order of cells; the rest are drawn as in
    :func:`receptive_fields`. Needs ``n_cells >= len(tiling_starts(...))``.
    """
    tiles = tiling_starts(n_units, side, image_shape)
    rest = receptive_fields(max(n_cells - len(tiles), 0), n_units, side, image_shape, rng)
    fields = np.concatenate([tiles[:n_cells], rest]) if len(rest) else tiles[:n_cells]
    return fields[rng.permutation(len(fields))]


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


# --------------------------------------------------------------------------- v2: item-local codes, fixed in-degree

def dg_code(items: np.ndarray, n_cells: int, coding_level: float, seed: int) -> np.ndarray:
    """Dentate-gyrus code of each item ALONE: fixed random expansion + k-winners-take-all.

    ``h = R (x - mean(x))`` with ``R`` (n_cells x N) i.i.d. N(0, 1), drawn once from
    ``seed`` and shared by all items; the ``k = round(a n_cells)`` cells with the
    largest ``h`` win. ``mean(x)`` is the item's own mean, so an item's code does
    not depend on any other item (stored or not). Returns (P, n_cells) 0/1.
    """
    items = np.atleast_2d(np.asarray(items, dtype=float))
    rng = np.random.default_rng([seed, 7919])
    weights = rng.standard_normal((n_cells, items.shape[1]))
    k = int(round(coding_level * n_cells))
    codes = np.zeros((items.shape[0], n_cells))
    for mu, x in enumerate(items):
        h = weights @ (x - x.mean())
        codes[mu, np.argsort(-h, kind="stable")[:k]] = 1.0
    return codes


def correlated_pair(n_units: int, rho: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random +-1 item and a copy with round((1 - rho) N / 2) units flipped (expected Pearson rho)."""
    x = rng.choice([-1.0, 1.0], n_units)
    y = x.copy()
    y[rng.choice(n_units, int(round((1 - rho) / 2 * n_units)), replace=False)] *= -1
    return x, y


def pattern_separation(n_cells: int = 1000, coding_level: float = 0.1, n_units: int = 256,
                       rhos=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), n_rep: int = 20,
                       seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pattern-separation curve of :func:`dg_code`: code correlation against input correlation.

    For each ``rho``, ``n_rep`` pairs from :func:`correlated_pair` are coded by
    expansions with different seeds. Returns (mean input Pearson, mean code
    Pearson) per ``rho``. For a Gaussian expansion the code correlation is the
    bivariate-normal orthant excess ``(P(h1 > t, h2 > t) - a^2) / (a (1 - a))``,
    which lies below ``rho`` for every ``rho`` in (0, 1) and falls with ``a``.
    """
    rng = np.random.default_rng(seed)
    r_in, r_out = [], []
    for rho in rhos:
        xi, xo = [], []
        for rep in range(n_rep):
            x, y = correlated_pair(n_units, rho, rng)
            codes = dg_code(np.stack([x, y]), n_cells, coding_level, seed=int(rng.integers(2**31)))
            xi.append(np.corrcoef(x, y)[0, 1])
            xo.append(np.corrcoef(codes[0], codes[1])[0, 1])
        r_in.append(np.mean(xi))
        r_out.append(np.mean(xo))
    return np.array(r_in), np.array(r_out)


def fixed_indegree(n_pre: int, n_post: int, k: int, rng: np.random.Generator,
                   no_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``pre -> post`` with exactly ``k`` distinct random inputs per postsynaptic cell."""
    pool = n_pre - 1 if no_self else n_pre
    k = min(k, pool)
    rows = []
    chunk = max(1, 2_000_000 // max(pool, 1))   # bounded memory: about 16 MB of random keys at a time
    for start in range(0, n_post, chunk):
        n = min(chunk, n_post - start)
        keys = rng.random((n, pool))
        pre = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < pool else np.tile(np.arange(pool), (n, 1))
        if no_self:
            pre = pre + (pre >= np.arange(start, start + n)[:, None])
        rows.append(pre)
    pre = np.concatenate(rows)
    return pre.ravel().astype(np.int64), np.repeat(np.arange(n_post), k).astype(np.int64)


def patch_channels(fields: np.ndarray, n_units: int) -> tuple[np.ndarray, np.ndarray]:
    """EC -> cell edges from each cell's receptive field: the on and off channel of every unit in it."""
    chans = np.concatenate([fields, fields + n_units], axis=1)
    return chans.ravel().astype(np.int64), np.repeat(np.arange(fields.shape[0]), chans.shape[1]).astype(np.int64)


def local_readout_fit(x: np.ndarray, y: np.ndarray, cover: np.ndarray, penalty: float
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Topographic ridge readout: unit i is read only from the cells whose receptive field covers it.

    ``x`` (samples, cells) activity, ``y`` (samples, units) the items, ``cover``
    (cells, units) bool. For each unit i, ``w_i = argmin |(y_i - <y_i>) - x_C w|^2
    + penalty |w|^2`` over the covering cells C, without centring ``x``: silent
    cells read as the prior ``<y_i>`` (the mean item). Returns (W (cells, units), b = <y>).
    """
    mean = y.mean(axis=0)
    w = np.zeros((x.shape[1], y.shape[1]))
    for i in range(y.shape[1]):
        cells = np.flatnonzero(cover[:, i])
        if cells.size == 0:
            continue
        xc = x[:, cells]
        gram = xc.T @ xc + penalty * np.eye(cells.size)
        w[cells, i] = np.linalg.solve(gram, xc.T @ (y[:, i] - mean[i]))
    return w, mean


def separation_theory(rho: np.ndarray | float, coding_level: float) -> np.ndarray:
    """Expected code correlation of a Gaussian expansion + threshold at coding level a.

    With drives (h1, h2) standard bivariate normal of correlation rho and the
    threshold t = Phi^-1(1 - a), the two 0/1 codes correlate as
    ``(P(h1 > t, h2 > t) - a^2) / (a (1 - a))`` (a kWTA threshold equals t for many cells).
    """
    from scipy.stats import multivariate_normal, norm

    a = coding_level
    t = norm.ppf(1 - a)
    out = []
    for r in np.atleast_1d(rho):
        both = multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([-t, -t])  # P(h1 > t, h2 > t)
        out.append((both - a * a) / (a * (1 - a)))
    return np.array(out)
