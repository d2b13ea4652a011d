"""The comparison table, and effective weights by definition.

The table's headline measures are item-space measures of every model's
reconstruction (:func:`hipposim.analysis.recall.item_space_metrics`), its
memory size, and its measured input dependence
(:mod:`hipposim.analysis.jacobian`).

Effective weights, by definition. A model's *effective weights* are the
matrix that maps its input to its output at recall. For CA3 these are the
learned recurrent synapses, for the feed-forward "cortex" the fitted W_1, W_2;
both are the same for every cue. For attention (and the modern Hopfield
update) they are softmax(beta Q K^T), recomputed from each cue. The number
reported is the *weight variability across cues*,

    v = mean_ij std_c(W_ij^(c)) / mean_ij |W_ij|,

which is 0 for weights that do not depend on the input. This is a
definition, not a measurement: fixed models report 0 because their weights are
broadcast copies, and for attention it is the spread of softmax probabilities,
which are activations. The table reports it as
``weight_variability_by_definition``; the measured counterpart is the
variability of the Jacobian of the cue -> reconstruction map.
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


def memory_size(ds, stimulus=None) -> tuple[int | None, str]:
    """How many numbers a model keeps to recall its items, and what they are.

    Models that know record ``attrs["stored_numbers"]`` and ``attrs["memory"]``
    (attention and the modern network: the P x N item entries; the MLP and the
    autoencoder: their parameters). Otherwise: a Hebbian matrix counts N^2
    synapses; spiking CA3 its recurrent and Schaffer synapses plus the fitted
    cortex readout ((N_CA1 + 1) x N).
    """
    if "stored_numbers" in ds.attrs:
        return int(ds.attrs["stored_numbers"]), str(ds.attrs.get("memory", ""))
    n = ds.sizes["unit"]
    if "ee_synapse" in ds.dims:
        count = ds.sizes["ee_synapse"] + ds.sizes.get("sc_synapse", 0)
        n_ca1 = ds.sizes.get("ca1_unit", 0)
        return int(count + (n_ca1 + 1) * n), "CA3 recurrent + Schaffer synapses + cortex readout"
    if "weights" in ds or str(ds.attrs.get("model_id", "")).startswith("hopfield-"):
        return int(n * n), "N^2 synapses"
    return None, ""


#: The comparison table's columns: key -> what it is (the report's column headers read this)
COLUMNS: dict[str, str] = {
    "sequence_correct_steps": "sequences: items played correctly after the cue before the first error (mean over cues)",
    "sequence_possible_steps": "sequences: items from the cue to the end of its sequence (mean over cues)",
    "sequence_recalled": "sequences: fraction of cues whose sequence is played to the end without error",
    "mean_sequence_overlap": "sequences: overlap with the item due at each position after the cue (mean)",
    "item_overlap": "final item-space overlap m = xi.s/N of the reconstruction with the target (mean over cues)",
    "item_success_rate": "fraction of cues whose final m reached the scenario's success_overlap",
    "probed_accuracy": "sign accuracy on the hidden or corrupted units only (0.5 = chance)",
    "cue_item_overlap": "m of the cue itself",
    "steps_to_success": "first step at which the mean m reached success_overlap (model's step unit)",
    "max_other_overlap": "largest final |m| with a non-target item (mean over cues)",
    "non_target_recalls": "cues whose reconstruction is closest to another item",
    "own_overlap": "the model's own overlap measure (own_overlap_measure), model-internal",
    "own_overlap_measure": "item (m in item space) or code_correlation (CA3: Pearson r with its CA3 code)",
    "stored_numbers": "numbers the model keeps to recall (entries, synapses or parameters)",
    "memory": "what those numbers are",
    "capacity_per_number": "items recalled (P x success rate) per stored number",
    "jacobian_variability": "measured: mean_ij std_cues J_ij / mean_ij |J_ij| of d reconstruction / d cue",
    "jacobian_mean_abs": "mean |J_ij| (a near-zero map makes the variability meaningless)",
    "jacobian_method": "closed form or finite differences",
    "beta_normalised": "inverse temperature on cosine scores (attention and modern Hopfield)",
    "weight_variability_by_definition": "variability of the 'effective weights' as defined (not measured)",
}


def comparison_metrics(ds, analysis=None, stimulus=None, jacobian: dict | None = None) -> dict[str, Any]:
    """The comparison table's entry of one model (columns in :data:`COLUMNS`).

    The headline measures are computed on the reconstruction in item space
    (:func:`hipposim.analysis.recall.item_space_metrics`) with the scenario's
    one success level ``analysis.success_overlap``, the same for every model.
    The model's own overlap measure (CA3's code correlation) is kept as a
    separate, labelled column. ``jacobian`` is the measured input dependence
    (:func:`hipposim.analysis.jacobian.result_jacobian`); the old weight
    variability, which is 0 or not by construction, is reported under a name
    that says so.
    """
    from .recall import item_overlap_trajectory, item_space_metrics, as_bipolar

    m = model_metrics(ds, analysis)
    success = float(getattr(analysis, "success_overlap", 0.9))
    weights, what = effective_weights(ds)
    entry: dict[str, Any] = {}
    if stimulus is not None:
        item = item_space_metrics(ds, stimulus, success)
        traj = item_overlap_trajectory(ds, stimulus).mean(axis=0)
        steps = ds["step"].values
        hit = np.flatnonzero(traj >= success)
        state = as_bipolar(ds["state"].values[:, -1], stimulus.coding)
        every = state @ as_bipolar(stimulus.patterns, stimulus.coding).T / state.shape[1]  # (cue, pattern)
        targets = ds["target"].values.astype(int)
        others = np.abs(every).copy()
        others[np.arange(len(targets)), targets] = -np.inf
        n_stored, memory = memory_size(ds, stimulus)
        recalled = stimulus.n_patterns * item["item_success_rate"]
        entry.update({
            "item_overlap": item["item_overlap"],
            "item_success": item["item_success"],
            "item_success_rate": item["item_success_rate"],
            "probed_accuracy": item["probed_accuracy"],
            "cue_item_overlap": item["cue_item_overlap"],
            "steps_to_success": float(steps[hit[0]]) if hit.size else None,
            "max_other_overlap": float(np.mean(others.max(axis=1))) if every.shape[1] > 1 else 0.0,
            "non_target_recalls": int(np.sum(np.argmax(every, axis=1) != targets)),
            "stored_numbers": n_stored,
            "memory": memory,
            "capacity_per_number": (recalled / n_stored) if n_stored else None,
            "per_cue_item_overlap": item["per_cue_item_overlap"],
        })
    entry.update({
        "success_overlap": success,
        "own_overlap": m["final_overlap"],
        "own_overlap_measure": str(ds.attrs.get("overlap_measure", "item")),
        "own_success_overlap": m["success_overlap"],
        "step_unit": m["step_unit"],
        "energy_descent": m["energy_descent"],
        "weight_variability_by_definition": None if weights is None else weight_variability(weights),
        "weights": what,
    })
    for key in ("beta_normalised", "separated_fraction", "score_scale"):
        if key in ds.attrs:
            entry[key] = ds.attrs[key]
    if stimulus is not None and stimulus.sequences is not None:
        from .sequence import sequence_metrics

        seq = sequence_metrics(ds, None, stimulus, float(getattr(analysis, "sequence_overlap", 0.5)))
        for key in ("sequence_correct_steps", "sequence_possible_steps", "sequence_recalled",
                    "mean_sequence_overlap"):
            entry[key] = seq[key]
    if jacobian:
        entry.update(jacobian)
    if m["step_unit"] == "ms":
        entry["ms_to_success"] = entry.get("steps_to_success")
    # the keys earlier reports and scripts read, now on the item-space measure
    entry["final_overlap"] = entry.get("item_overlap", m["final_overlap"])
    entry["success"] = entry.get("item_success", m["success"])
    entry["success_rate"] = entry.get("item_success_rate", m["success_rate"])
    return clean_json(entry)


def stored_numbers_formula(model_id: str, params: dict, n_units: int, n_items: int) -> int | None:
    """The stored numbers of a model from its id, parameters, N and P (for sweeps, which keep no datasets).

    Hebbian networks: N^2 synapses. Modern Hopfield: P x N entries. Transformer: P x N entries plus
    L feed-forward layers of 2 N h + h + N numbers (h = ff_hidden). MLP and autoencoder: 2 N h + h + N
    parameters. None where the count depends on a simulation (spiking CA3).
    """
    base = model_id.split("-v")[0]
    if base in ("hopfield-classical", "hopfield-sparse"):
        return n_units * n_units
    if base == "hopfield-modern":
        return n_items * n_units
    if base == "transformer-block":
        h = int(params.get("ff_hidden", 512))
        return n_items * n_units + int(params.get("n_layers", 1)) * (2 * n_units * h + h + n_units)
    if base in ("mlp-baseline", "autoencoder"):
        h = int(params.get("hidden", 512 if base == "mlp-baseline" else 256))
        return 2 * n_units * h + h + n_units
    return None
