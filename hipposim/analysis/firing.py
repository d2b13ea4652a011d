"""Firing statistics of spiking results, per cell, from the dataset's spike arrays.

A spiking result stores each population's spikes as two flat arrays,
``<pop>_spike_time`` (ms) and ``<pop>_spike_index`` (cell), and the protocol's
phases (``phase_start``/``phase_end``, ms). For cell ``i`` with spike times
``t_1 < ... < t_n`` observed over ``[t_start, t_stop)``:

* mean firing rate  ``nu_i = n / (t_stop - t_start)``  (Hz);
* inter-spike intervals ``I_k = t_{k+1} - t_k`` and their coefficient of
  variation ``CV_i = std(I) / mean(I)`` (population standard deviation,
  ``ddof = 0``; Softky & Koch 1993). CV is 1 for a Poisson process, 0 for a
  clock; it is undefined (NaN) for a cell with fewer than 3 spikes (fewer than
  two intervals).

These are the definitions of Elephant's ``mean_firing_rate`` and
``cv(isi(...))``; the tests check that both give the same numbers on the Neo
export of a run.
"""
from __future__ import annotations

from typing import Any

import numpy as np


def spiking_populations(ds) -> list[str]:
    """Populations whose spikes ``ds`` records (``<pop>_spike_time`` present)."""
    return [str(v)[: -len("_spike_time")] for v in ds.data_vars if str(v).endswith("_spike_time")]


def population_size(ds, pop: str) -> int:
    """Number of cells of ``pop``.

    From the ``population_sizes`` attribute when the model records it; else from
    ``population_rate`` (spikes per bin / (size x bin width), so size = spikes /
    (sum of rates x bin width)); else the highest spiking index + 1.
    """
    sizes = ds.attrs.get("population_sizes")
    if isinstance(sizes, str):
        import json

        sizes = json.loads(sizes)
    if isinstance(sizes, dict) and pop in sizes:
        return int(sizes[pop])
    if "population_rate" in ds and "bin_ms" in ds.attrs and pop in [str(p) for p in ds["population"].values]:
        # population_rate = spikes per bin / (size * bin width): recover the size from the totals
        rate_sum = float(ds["population_rate"].sel(population=pop).values.sum())
        n_spikes = ds[f"{pop}_spike_time"].size
        if rate_sum > 0:
            return int(round(n_spikes / (rate_sum * float(ds.attrs["bin_ms"]) * 1e-3)))
    idx = ds[f"{pop}_spike_index"].values
    return int(idx.max()) + 1 if idx.size else 0


def recording_window_ms(ds) -> tuple[float, float]:
    """``(t_start, t_stop)`` in ms: from 0 to the end of the last protocol phase."""
    if "phase_end" in ds:
        return 0.0, float(np.max(ds["phase_end"].values))
    times = [ds[f"{p}_spike_time"].values for p in spiking_populations(ds)]
    return 0.0, float(max((t.max() for t in times if t.size), default=0.0))


def spike_trains(times_ms: np.ndarray, index: np.ndarray, n_cells: int) -> list[np.ndarray]:
    """Split flat spike arrays into one sorted array of times (ms) per cell."""
    order = np.lexsort((times_ms, index))
    t, i = np.asarray(times_ms)[order], np.asarray(index)[order]
    bounds = np.searchsorted(i, np.arange(n_cells + 1))
    return [t[bounds[k]:bounds[k + 1]] for k in range(n_cells)]


def mean_rates(trains: list[np.ndarray], t_start_ms: float, t_stop_ms: float) -> np.ndarray:
    """Mean firing rate of each train in Hz: ``n / (t_stop - t_start)``."""
    span_s = (t_stop_ms - t_start_ms) / 1e3
    return np.array([len(t) / span_s for t in trains], dtype=float)


def isi_cv(trains: list[np.ndarray]) -> np.ndarray:
    """Coefficient of variation of each train's inter-spike intervals (``ddof = 0``); NaN below 2 intervals."""
    out = np.full(len(trains), np.nan)
    for k, t in enumerate(trains):
        if len(t) >= 3:
            isi = np.diff(t)
            out[k] = np.std(isi) / np.mean(isi)
    return out


def firing_statistics(ds) -> dict[str, dict[str, np.ndarray]]:
    """Per-population, per-cell ``rate_hz`` and ``isi_cv`` over the whole recording."""
    t0, t1 = recording_window_ms(ds)
    out = {}
    for pop in spiking_populations(ds):
        n = population_size(ds, pop)
        trains = spike_trains(ds[f"{pop}_spike_time"].values, ds[f"{pop}_spike_index"].values, n)
        out[pop] = {"rate_hz": mean_rates(trains, t0, t1), "isi_cv": isi_cv(trains)}
    return out


def firing_metrics(ds, success_overlap: float = 0.9, stimulus=None) -> dict[str, Any]:
    """Mean rate (Hz) and mean ISI CV (over cells with at least two intervals) of every population."""
    out: dict[str, Any] = {}
    for pop, st in firing_statistics(ds).items():
        out[f"mean_rate_hz_{pop}"] = float(np.mean(st["rate_hz"])) if st["rate_hz"].size else None
        cv = st["isi_cv"][np.isfinite(st["isi_cv"])]
        out[f"isi_cv_{pop}"] = float(np.mean(cv)) if cv.size else None
    return out
