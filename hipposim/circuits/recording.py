"""What every spiking CA3 model records and checks, in one place: population rates, the runaway and
NaN checks that stop a run, and the sample of cells whose recurrent weights are kept.
"""
from __future__ import annotations

import numpy as np

from ..errors import ModelError


def population_rates(spikes: dict[str, tuple[np.ndarray, np.ndarray]], sizes: dict[str, int],
                     duration: float, width: float) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Population rate (Hz) of each population in bins of ``width`` seconds over ``[0, duration]``.

    ``sizes`` maps a population name (a ``_ctl`` suffix marks the control copy, of the same size)
    to its cell count. Returns (bin edges, {name: rates}).
    """
    edges = np.arange(0.0, duration + 1e-12, width)
    rates = {}
    for key, (t, _) in spikes.items():
        rates[key] = np.histogram(t, bins=edges)[0] / (sizes[key.removesuffix("_ctl")] * width)
    return edges, rates


def check_activity(rates: dict[str, np.ndarray], edges: np.ndarray, max_rate: float, max_rate_text: str,
                   final_v: dict[str, np.ndarray], duration: float, skip: tuple[str, ...] = ("ec",)) -> None:
    """Stop a run whose population rate exceeded ``max_rate`` (Hz) or whose membrane potential is NaN.

    Raises :class:`~hipposim.errors.ModelError` naming the population and the time.
    """
    for key, rate in rates.items():
        if key in skip:
            continue
        if np.any(rate > max_rate):
            j = int(np.argmax(rate > max_rate))
            raise ModelError(f"runaway activity: population {key} fired at {rate[j]:.0f} Hz in the bin "
                             f"starting at t = {edges[j] * 1e3:.0f} ms (max_rate = {max_rate_text})")
    for key, v in final_v.items():
        if not np.all(np.isfinite(v)):
            raise ModelError(f"NaN membrane potential in population {key} at t = {duration * 1e3:.0f} ms")


def weight_sample(codes: np.ndarray, n_keep: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n_keep`` CA3 cells, grouped by the first item whose code holds them, then uncoded cells.

    Returns (cell indices, item label per cell; -1 for cells in no code).
    """
    n_items = codes.shape[0]
    per = max(1, n_keep // (n_items + 1))
    cells, labels, used = [], [], set()
    for mu in range(n_items):
        members = [i for i in np.flatnonzero(codes[mu]) if i not in used][:per]
        used.update(members)
        cells += members
        labels += [mu] * len(members)
    rest = [i for i in range(codes.shape[1]) if i not in used and codes[:, i].sum() == 0]
    extra = rest[: max(0, n_keep - len(cells))][:per]
    cells += extra
    labels += [-1] * len(extra)
    return np.array(cells, dtype=np.int64), np.array(labels, dtype=np.int64)


def dense_sample(pre: np.ndarray, post: np.ndarray, w: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """(len(sample), len(sample)) weight matrix among the sampled cells; NaN where there is no synapse."""
    pos = np.full(int(max(pre.max(initial=0), post.max(initial=0), sample.max(initial=0))) + 1, -1)
    pos[sample] = np.arange(len(sample))
    mat = np.full((len(sample), len(sample)), np.nan)
    keep = (pos[pre] >= 0) & (pos[post] >= 0)
    mat[pos[pre[keep]], pos[post[keep]]] = w[keep]
    return mat
