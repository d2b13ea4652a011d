"""Metrics of spiking results (CA3 -> CA1 -> cortex): data in, numbers out.

They read only declared dataset variables:

``overlap``                  CA3 code overlap m_mu(t) (Pearson of binned counts with each item's code)
``overlap_ca1``              CA1 overlap against its own encoding-phase activity
``overlap_ca1_ec_code``      CA1 overlap against the code the EC -> CA1 pathway was built for
``readout_window_accuracy``  pixel accuracy of the cortex readout of the recall-window average
``ee_pre``/``ee_post``/``ee_w_after`` and ``ca3_code``: learned recurrent weights and the codes
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


def _target_of(ds, name: str) -> np.ndarray:
    ov = ds[name].values
    return ov[np.arange(ov.shape[0]), :, ds["target"].values.astype(int)]


def spiking_metrics(ds, success_overlap: float, stimulus=None) -> dict[str, Any]:
    """CA3/CA1/readout metrics of a spiking result; ``success_overlap`` is the code-overlap level.

    ``time_to_08_ms`` and ``fraction_reaching_08`` use that level (0.8 by
    default, DESIGN.md section 6). ``mean_image_baseline`` (the accuracy of
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
