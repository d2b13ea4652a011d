"""Effective weights and the comparison table: fixed against input-dependent weights.

Fixed against input-dependent weights. A model's *effective weights* are the
matrix that maps its input to its output at recall. For CA3 these are the
learned recurrent synapses, for the feed-forward "cortex" the fitted W_1, W_2;
both are the same for every cue. For attention (and the modern Hopfield
update) they are softmax(beta Q K^T), recomputed from each cue. The number
reported is the *weight variability across cues*,

    v = mean_ij std_c(W_ij^(c)) / mean_ij |W_ij|,

which is 0 for weights that do not depend on the input.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import clean_json, model_metrics


def weight_variability(per_cue: np.ndarray) -> float:
    """mean_ij std_c(W_ij) / mean_ij |W_ij| over a stack (cue, ...) of effective weights."""
    per_cue = np.asarray(per_cue, dtype=float)  # NaN marks absent synapses
    scale = np.nanmean(np.abs(per_cue))
    if per_cue.shape[0] < 2 or not scale > 0:
        return 0.0
    present = np.isfinite(per_cue).all(axis=0)
    return float(np.mean(np.std(per_cue[:, present], axis=0)) / scale)


def effective_weights(ds) -> tuple[np.ndarray | None, str]:
    """Per-cue effective weights of a result, stacked on the first axis, and what they are."""
    n_cues = ds.sizes["cue"]
    if "memory_rate" in ds and "scores" in ds:
        rates = ds["memory_rate"].values  # spiking attention circuit: its weights are the normalised rates
        return rates / rates.sum(axis=1, keepdims=True), "memory-layer rates, normalised over the recall window"
    if "attention" in ds:
        att = ds["attention"].values  # (cue, step, [head,] pattern); step 0 has none
        att = att[:, 1]
        return att.reshape(n_cues, -1), "attention weights softmax(beta q K^T), first read"
    if "weights_after" in ds:
        w = ds["weights_after"].values
        return np.broadcast_to(w, (n_cues,) + w.shape), "CA3 recurrent synapses at recall (plasticity frozen)"
    if "ff_weights" in ds:
        w = ds["ff_weights"].values
        return np.broadcast_to(w, (n_cues,) + w.shape), "feed-forward weights"
    if "weights" in ds:
        w = ds["weights"].values
        return np.broadcast_to(w, (n_cues,) + w.shape), "Hebbian weights"
    return None, ""


def comparison_metrics(ds, analysis=None) -> dict[str, Any]:
    """The comparison table's entry of one model (keys documented in the README).

    ``analysis`` is the scenario's analysis section (its success levels).
    """
    m = model_metrics(ds, analysis)
    final = ds["overlap"].values[:, -1, :]
    wrong = np.argmax(final, axis=1) != ds["target"].values.astype(int)
    weights, what = effective_weights(ds)
    entry = {
        "final_overlap": m["final_overlap"],
        "success": m["success"],
        "success_rate": m["success_rate"],
        "steps_to_09": m["steps_to_09"],
        "step_unit": m["step_unit"],
        "energy_descent": m["energy_descent"],
        "max_other_overlap": m["max_other_overlap"],
        "non_target_recalls": int(wrong.sum()),
        "weight_variability": None if weights is None else weight_variability(weights),
        "weights": what,
    }
    if m["step_unit"] == "ms":
        entry["ms_to_09"] = m["steps_to_09"]
    return clean_json(entry)
