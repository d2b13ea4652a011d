"""Completion criteria of a spiking CA3 recall, judged on windows of spike counts.

Why windows, not 10-ms bins
---------------------------
Let a perfect recall make the ``k = a n`` code cells fire as Poisson processes at rate r
and the rest stay silent. Over a window T, code cell counts have mean and variance rT.
The Pearson correlation of the count vector with the 0/1 code is then::

    rho(T) = sqrt((1 - a) r T / (1 + (1 - a) r T))

At r = 95 Hz and a = 0.07 that is 0.69 in a 10-ms bin and 0.94 over 75 ms: a peak
criterion in a 10-ms bin measures firing rate, not completion. The criteria below sum
counts over windows long enough for rho(T) to be close to 1 when the recall is perfect
(:func:`poisson_code_correlation` gives the bound).

Criteria, per cue (:func:`completion_scores`)
---------------------------------------------
``best_at_end``   the target is the best-matching item over the last ``end_ms`` (30 ms);
``window_corr``   Pearson correlation of CA3 spike counts summed over the second half of recall with the target's code;
``window_best``   the target has the largest such correlation;
``window_pass``   ``window_corr >= level`` (0.7) and ``window_best``;
``margin``        ``window_corr`` minus the best competitor's correlation in that window;
``code_rate_hz``  mean rate of the target's code cells in that window (a diagnostic);
``peak_bin``      the largest target overlap in one 10-ms bin (a labelled diagnostic).

Hidden-pixel accuracy of the readout, beside the no-plasticity control and the mean image,
comes from :func:`hipposim.analysis.spiking.hidden_pixel_accuracy`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

#: variables whose presence marks a spiking CA3 result these criteria can judge
REQUIRES = ("ca3_code", "recall_start", "ca3_e_spike_time", "ca3_e_spike_index")


def poisson_code_correlation(rate_hz: float, window_s: float, coding_level: float) -> float:
    """Correlation of a perfect Poisson recall with its code: ``sqrt((1-a) r T / (1 + (1-a) r T))``."""
    x = (1.0 - coding_level) * rate_hz * window_s
    return float(np.sqrt(x / (1.0 + x)))


def _pearson_rows(counts: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Pearson r of one count vector with each code row; 0 where either is constant."""
    c = counts - counts.mean()
    k = codes - codes.mean(axis=1, keepdims=True)
    den = np.sqrt((c * c).sum()) * np.sqrt((k * k).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (k @ c) / den
    return np.where(den > 0, r, 0.0)


def window_counts(ds, start_ms: np.ndarray, stop_ms: np.ndarray, population: str = "ca3_e") -> np.ndarray:
    """(C, n) spike counts of ``population`` per cue in ``[start_ms, stop_ms)``."""
    t = ds[f"{population}_spike_time"].values
    i = ds[f"{population}_spike_index"].values
    n = ds.sizes["ca3_unit"]
    order = np.argsort(t, kind="stable")
    t, i = t[order], i[order]
    out = np.zeros((len(start_ms), n))
    for c, (a, b) in enumerate(zip(start_ms, stop_ms)):
        lo, hi = np.searchsorted(t, [a, b])
        out[c] = np.bincount(i[lo:hi], minlength=n)
    return out


def recall_length_ms(ds) -> float:
    """Length of one recall trial, from the bin centres of ``step``: (n + 1/2) w + w/2 = n w."""
    steps = ds["step"].values
    return float(steps[-1] + steps[0])


def completion_scores(ds, level: float = 0.7, end_ms: float = 30.0, population: str = "ca3_e",
                      overlap: str = "overlap") -> dict[str, np.ndarray]:
    """Per-cue completion criteria of a spiking CA3 result (see the module docstring).

    Parameters
    ----------
    ds : xarray.Dataset
        A spiking CA3 result with ``ca3_code``, ``recall_start``, ``target``, the
        spike trains ``{population}_spike_time``/``_index`` and the binned ``overlap``.
    level : float
        Correlation over the second half of recall that ``window_pass`` requires.
    end_ms : float
        Length of the final window in which the target must be the best item.
    population : str
        ``"ca3_e"`` (the plastic network) or ``"ca3_e_ctl"`` (the no-plasticity control).
    overlap : str
        Binned overlap variable read for the ``peak_bin`` diagnostic.

    Returns
    -------
    dict of (C,) arrays
        ``best_at_end``, ``window_corr``, ``window_best``, ``window_pass``, ``margin``,
        ``code_rate_hz``, ``peak_bin``.
    """
    codes = ds["ca3_code"].values
    targets = ds["target"].values.astype(int)
    start = ds["recall_start"].values.astype(float)
    length = recall_length_ms(ds)
    end = start + length
    late = window_counts(ds, start + length / 2, end, population)
    last = window_counts(ds, end - end_ms, end, population)
    r_late = np.stack([_pearson_rows(x, codes) for x in late])
    r_last = np.stack([_pearson_rows(x, codes) for x in last])
    cues = np.arange(len(targets))
    window_corr = r_late[cues, targets]
    others = r_late.copy()
    others[cues, targets] = -np.inf
    competitor = others.max(axis=1) if codes.shape[0] > 1 else np.zeros(len(cues))
    window_best = r_late.argmax(axis=1) == targets
    code = codes[targets] > 0
    code_rate = np.array([late[c, code[c]].mean() for c in cues]) / (length / 2 * 1e-3)
    out = {"best_at_end": r_last.argmax(axis=1) == targets, "window_corr": window_corr,
           "window_best": window_best, "window_pass": window_best & (window_corr >= level),
           "margin": window_corr - competitor, "code_rate_hz": code_rate}
    if overlap in ds:
        ov = ds[overlap].values
        out["peak_bin"] = ov[cues, :, targets].max(axis=1)
    return out


def completion_metrics(ds, code_level: float | None = None, stimulus=None, level: float = 0.7) -> dict[str, Any]:
    """Fractions and means of :func:`completion_scores` for metrics.json (control beside the network).

    Keys: ``completion_best_at_end``, ``completion_window_pass``, ``completion_window_corr``,
    ``completion_margin``, ``completion_code_rate_hz``, ``completion_peak_bin`` (diagnostic), the same
    with ``_control`` for the no-plasticity copy if it was recorded, and per-cue lists. ``success`` and
    ``success_rate`` of a spiking CA3 result are the window criterion's (every cue passes; the fraction
    that passes), replacing the binned-overlap ones. ``code_level``
    (the scenario's binned-overlap success level) is not used: the window level is ``level``.
    """
    out: dict[str, Any] = {}
    pops = [("ca3_e", "", "overlap")]
    if "ca3_e_ctl_spike_time" in ds:
        pops.append(("ca3_e_ctl", "_control", "overlap_control"))
    for pop, sfx, ov in pops:
        sc = completion_scores(ds, level=level, population=pop, overlap=ov)
        out[f"completion_best_at_end{sfx}"] = float(np.mean(sc["best_at_end"]))
        out[f"completion_window_pass{sfx}"] = float(np.mean(sc["window_pass"]))
        out[f"completion_window_corr{sfx}"] = float(np.mean(sc["window_corr"]))
        out[f"completion_margin{sfx}"] = float(np.mean(sc["margin"]))
        out[f"completion_code_rate_hz{sfx}"] = float(np.mean(sc["code_rate_hz"]))
        if "peak_bin" in sc:
            out[f"completion_peak_bin{sfx}"] = float(np.mean(sc["peak_bin"]))
        if sfx == "":
            # success by the window criterion, not by the last 10-ms bin (whose ceiling is the Poisson
            # bound of :func:`poisson_code_correlation`, below any fixed level at low rates)
            out["success"] = bool(np.all(sc["window_pass"]))
            out["success_rate"] = float(np.mean(sc["window_pass"]))
            out["success_criterion"] = (f"window criterion: CA3 spike counts over the second half of recall "
                                        f"correlate >= {level} with the target's code, target best")
            out["per_cue_window_corr"] = sc["window_corr"].tolist()
            out["per_cue_window_pass"] = sc["window_pass"].tolist()
            out["per_cue_best_at_end"] = sc["best_at_end"].tolist()
    return out
