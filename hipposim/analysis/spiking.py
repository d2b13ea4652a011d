"""Metrics of spiking results (CA3 -> CA1 -> cortex): data in, numbers out.

They read only declared dataset variables:

``overlap``                  CA3 code overlap m_mu(t) (Pearson of binned counts with each item's code)
``overlap_ca1``              CA1 overlap against its own encoding-phase activity
``overlap_ca1_ec_code``      CA1 overlap against the code the EC -> CA1 pathway was built for
``readout_window_accuracy``  pixel accuracy of the cortex readout of the recall-window average
``ee_pre``/``ee_post``/``ee_w_after`` and ``ca3_code``: learned recurrent weights and the codes
``reconstruction_window``    readout (before thresholding) of the second half of recall (ca3-spiking-v2)
``reconstruction_window_control``  the same readout of the no-plasticity control copy
``overlap_control``          CA3 code overlap of the control copy
``cue_known``                1 where the cue shows the pixel (hidden-pixel scores use the rest)
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functional.coding import threshold_readout
from ..functional.retrieval import covariance_weights
from .recall import target_overlap

#: variables whose presence marks a spiking CA3 result
REQUIRES = ("ca3_code", "overlap_ca1", "overlap_ca1_ec_code", "readout_window_accuracy")


def weight_covariance_r(pre: np.ndarray, post: np.ndarray, w: np.ndarray, codes: np.ndarray) -> float:
    """Pearson r between learned weights and the covariance rule sum_mu (xi_i - a)(xi_j - a) on the same synapses."""
    cov = covariance_weights(codes, float(codes.mean()))
    ref = cov[pre, post]
    if np.std(w) == 0 or np.std(ref) == 0:
        return float("nan")
    return float(np.corrcoef(w, ref)[0, 1])


def cue_scores(ds, level: float = 0.8, sustain_level: float = 0.7, within_ms: float = 100.0,
               end_ms: float = 30.0, overlap: str = "overlap") -> dict[str, np.ndarray]:
    """Per-cue completion scores of a CA3 overlap trajectory ``overlap(cue, step, pattern)``.

    ``peak``: the largest target overlap in bins whose centre lies within
    ``within_ms`` of recall onset; ``sustain``: the mean target overlap over the
    second half of recall; ``best_at_end``: the target has the largest mean overlap
    over the last ``end_ms``; ``passed``: peak >= ``level``, sustain >=
    ``sustain_level`` and best at end.
    """
    ov = ds[overlap].values
    steps = ds["step"].values
    targets = ds["target"].values.astype(int)
    cues = np.arange(ov.shape[0])
    traj = ov[cues, :, targets]
    early = steps <= within_ms
    late = steps >= steps[0] + (steps[-1] - steps[0]) / 2
    end = steps >= steps[-1] - end_ms + 1e-9
    peak = traj[:, early].max(axis=1)
    sustain = traj[:, late].mean(axis=1)
    best = ov[:, end, :].mean(axis=1).argmax(axis=1) == targets
    return {"peak": peak, "sustain": sustain, "best_at_end": best,
            "passed": (peak >= level) & (sustain >= sustain_level) & best}


def hidden_pixel_accuracy(ds, stimulus) -> dict[str, np.ndarray]:
    """Per-cue accuracy on the HIDDEN pixels only (``cue_known`` == 0).

    ``readout``: the plastic network's readout of the second half of recall;
    ``control``: the same readout of the no-plasticity control copy (if run);
    ``mean_image``: the best fixed guess, the thresholded mean stored item.
    Cues with no hidden pixel score NaN.
    """
    hidden = ds["cue_known"].values == 0
    bip = stimulus.bipolar_patterns()
    tgt = bip[ds["target"].values.astype(int)]
    mean_item = np.where(bip.mean(axis=0) >= 0, 1.0, -1.0)

    def acc(guess: np.ndarray) -> np.ndarray:
        hit = (guess == tgt) & hidden
        with np.errstate(invalid="ignore", divide="ignore"):
            return hit.sum(axis=1) / np.where(hidden.sum(axis=1) > 0, hidden.sum(axis=1), np.nan)

    out = {"readout": acc(np.where(ds["reconstruction_window"].values >= 0, 1.0, -1.0)),
           "mean_image": acc(np.broadcast_to(mean_item, tgt.shape))}
    if "reconstruction_window_control" in ds:
        out["control"] = acc(np.where(ds["reconstruction_window_control"].values >= 0, 1.0, -1.0))
    return out


def ca1_ec_code_scores(ds) -> dict[str, np.ndarray]:
    """Per-cue peak and sustained (second-half mean) CA1 overlap with the code EC imposed during encoding."""
    traj = _target_of(ds, "overlap_ca1_ec_code")
    half = traj.shape[1] // 2
    return {"peak": traj.max(axis=1), "sustain": traj[:, half:].mean(axis=1)}


def encoding_code_correlation(ds) -> np.ndarray:
    """(P, P) Pearson correlations of CA3's spike counts while each item was presented (encoding phases).

    Beside the input correlation of the items this is CA3's measured pattern-separation
    point per pair: the code the mossy fibres impose, as CA3 actually fired it.
    """
    names = [str(x) for x in ds["pattern"].values]
    phases = [str(x) for x in ds["phase"].values]
    t = ds["ca3_e_spike_time"].values
    i = ds["ca3_e_spike_index"].values
    n = ds.sizes["ca3_unit"]
    counts = []
    for name in names:
        k = phases.index(f"encode_{name}")
        a, b = ds["phase_start"].values[k], ds["phase_end"].values[k]
        sel = (t >= a) & (t < b)
        counts.append(np.bincount(i[sel], minlength=n).astype(float))
    return np.corrcoef(np.stack(counts))


def _target_of(ds, name: str) -> np.ndarray:
    ov = ds[name].values
    return ov[np.arange(ov.shape[0]), :, ds["target"].values.astype(int)]


def spiking_metrics(ds, success_overlap: float, stimulus=None) -> dict[str, Any]:
    """CA3/CA1/readout metrics of a spiking result; ``success_overlap`` is the code-overlap level.

    ``time_to_08_ms`` and ``fraction_reaching_08`` use that level (0.8 by
    default; the documentation's pages of the spiking CA3 models). ``mean_image_baseline`` (the accuracy of
    always answering the mean stored item) needs the stimulus.
    """
    traj = target_overlap(ds)
    centres = ds["step"].values
    hit = [np.flatnonzero(tr >= success_overlap) for tr in traj]
    t_hit = [float(centres[h[0]]) if h.size else None for h in hit]
    accuracy = ds["readout_window_accuracy"].values
    out: dict[str, Any] = {
        "peak_overlap_recall": float(np.mean(traj.max(axis=1))),
        "time_to_08_ms": (float(np.mean(t_hit)) if all(x is not None for x in t_hit) else None),
        "fraction_reaching_08": float(np.mean([x is not None for x in t_hit])),
        "final_overlap_ca3": float(np.mean(traj[:, -1])),
        "ca1_peak_overlap": float(np.mean(_target_of(ds, "overlap_ca1").max(axis=1))),
        "ca1_peak_overlap_ec_code": float(np.mean(_target_of(ds, "overlap_ca1_ec_code").max(axis=1))),
        "readout_pixel_accuracy": float(np.mean(accuracy)),
    }
    if stimulus is not None:
        tgt = stimulus.patterns[ds["target"].values.astype(int)]
        mean_item = threshold_readout(stimulus.patterns.mean(axis=0, keepdims=True), stimulus.coding)
        out["mean_image_baseline"] = float(np.mean(np.mean(mean_item == tgt, axis=1)))
    if "reconstruction_window" in ds and "cue_known" in ds:
        scores = cue_scores(ds, level=success_overlap)
        out["fraction_passed"] = float(np.mean(scores["passed"]))
        out["mean_sustained_overlap"] = float(np.mean(scores["sustain"]))
        out["per_cue_sustained_overlap"] = scores["sustain"].tolist()
        out["per_cue_passed"] = scores["passed"].tolist()
        ca1 = ca1_ec_code_scores(ds)
        out["ca1_sustained_overlap_ec_code"] = float(np.mean(ca1["sustain"]))
        if "overlap_control" in ds:
            out["peak_overlap_control"] = float(np.mean(cue_scores(ds, overlap="overlap_control")["peak"]))
        if stimulus is not None:
            hid = hidden_pixel_accuracy(ds, stimulus)
            for key, val in hid.items():
                out[f"hidden_accuracy_{key}"] = float(np.nanmean(val))
                out[f"per_cue_hidden_accuracy_{key}"] = val.tolist()
    if "ee_w_after" in ds:
        out["weight_covariance_r"] = weight_covariance_r(ds["ee_pre"].values, ds["ee_post"].values,
                                                         ds["ee_w_after"].values, ds["ca3_code"].values)
    for key in ("clustering", "mean_shortest_path"):
        if f"graph_{key}" in ds.attrs:
            out[f"graph_{key}"] = float(ds.attrs[f"graph_{key}"])
    out["per_cue_peak_overlap"] = traj.max(axis=1).tolist()
    out["per_cue_time_to_08_ms"] = t_hit
    out["per_cue_readout_accuracy"] = accuracy.tolist()
    return out
