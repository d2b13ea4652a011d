"""Pure analysis of results: metrics from labeled result datasets, never a simulation.

The keys of :func:`recall_metrics` are stable; users script against them:

``final_overlap``      mean over cues of the overlap with the target at the last step
``success``            True when every cue's final overlap reached ``success_overlap``
``success_overlap``    the level used (the scenario's level for this model's overlap measure)
``success_rate``       fraction of cues whose final overlap reached ``success_overlap``
``steps_to_converge``  mean step index at which the dynamics stopped changing (null if some cue never converged)
``final_energy``       mean energy at the last step (null when the model has none)
``peak_overlap``       mean over cues of the largest overlap with the target
``steps_to_09``        mean first step (in step units) where the target overlap reached 0.9 (null if not all did)
``max_other_overlap``  mean over cues of the largest final |overlap| with any non-target item
``energy_descent``     mean energy drop from the first to the last step
``step_unit``          what a step counts ("update", "layer", "ms")
``attention_entropy``  entropy (nats) of the last attention read, for models that attend (else null)
``overlap_entropy``    entropy (nats) of the final positive overlaps normalised to sum 1 (0: one item)

``overlap`` is each model's own measure (``attrs["overlap_measure"]``: item
space, or CA3's code correlation). :func:`item_space_metrics` computes the
measures that compare models: the overlap m = xi.s/N of the reconstruction
``state`` in item space, and the accuracy on the hidden or corrupted units only.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..functional.entropy import entropy, normalised_positive


def target_overlap(ds) -> np.ndarray:
    """(cue, step) overlap of each cue's trajectory with its own target."""
    ov = ds["overlap"].values  # (cue, step, pattern)
    targets = ds["target"].values.astype(int)
    return ov[np.arange(ov.shape[0]), :, targets]


def other_overlap(ds) -> np.ndarray:
    """(cue, step) largest |overlap| with any stored item other than the target."""
    ov = np.abs(ds["overlap"].values).copy()
    targets = ds["target"].values.astype(int)
    ov[np.arange(ov.shape[0]), :, targets] = -np.inf
    if ov.shape[2] == 1:
        return np.zeros(ov.shape[:2])
    return ov.max(axis=2)


def final_attention_entropy(ds) -> float | None:
    """Mean over cues (and heads) of the entropy -sum p ln p of the last attention read, in nats.

    ln P means uniform averaging over all P items; 0 means a single item is read.
    """
    if "attention" not in ds:
        return None
    att = np.asarray(ds["attention"].values[:, -1], dtype=float)  # (cue, [head,] pattern)
    return float(np.mean(entropy(np.nan_to_num(att), axis=-1)))


def overlap_entropy(ds) -> float:
    """Mean over cues of the entropy (nats) of the final positive overlaps, normalised to sum 1.

    p_mu = max(m_mu, 0) / sum_nu max(m_nu, 0). Like the attention entropy it is
    0 when one item is recalled and ln P when all are equally present, so it
    compares models that do not attend (CA3, Hopfield) with those that do.
    A state with no positive overlap counts as ln P (nothing singled out).
    """
    p = normalised_positive(ds["overlap"].values[:, -1, :], axis=1)
    return float(np.mean(entropy(p, axis=1)))


def first_crossing(trajectory: np.ndarray, steps: np.ndarray, threshold: float) -> float | None:
    """First step value where ``trajectory`` reaches ``threshold`` (None if never)."""
    hit = np.nonzero(np.asarray(trajectory) >= threshold)[0]
    return float(steps[hit[0]]) if hit.size else None


def clean_json(x: Any) -> Any:
    """Numbers and containers made JSON-safe: numpy scalars to Python, NaN and inf to None."""
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, dict):
        return {k: clean_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean_json(v) for v in x]
    return x


def success_level(ds, success_overlap: float = 0.9, code_success_overlap: float = 0.8) -> float:
    """The success level that applies to ``ds``'s overlap measure.

    Models declare the measure of their ``overlap`` variable in
    ``attrs["overlap_measure"]``: ``item`` (m = xi . s / N in item space, the
    default) is judged at ``success_overlap``; ``code_correlation`` (a Pearson
    correlation of binned rates with an internal code, as spiking CA3) at
    ``code_success_overlap``. Both levels come from the scenario's ``analysis``
    section.
    """
    if ds.attrs.get("overlap_measure", "item") == "code_correlation":
        return float(code_success_overlap)
    return float(success_overlap)


def recall_metrics(ds, success_overlap: float = 0.9) -> dict[str, Any]:
    """Standard recall metrics of one model's result (see the module docstring for the keys).

    ``success_overlap`` is the level for this dataset's overlap measure (see
    :func:`success_level`).
    """
    traj = target_overlap(ds)
    steps = ds["step"].values
    final = traj[:, -1]
    ok = final >= success_overlap
    conv = ds["converged_step"].values
    if ds.attrs.get("overlap_measure", "item") == "code_correlation":
        # a spiking network has no fixed point; its "convergence" is the first bin at the success level
        conv = np.array([h[0] if h.size else -1 for h in (np.flatnonzero(t >= success_overlap) for t in traj)])
    energy = ds["energy"].values
    crossings = [first_crossing(t, steps, 0.9) for t in traj]
    final_energy = float(np.mean(energy[:, -1])) if np.all(np.isfinite(energy[:, -1])) else None
    descent = (float(np.mean(energy[:, 0] - energy[:, -1]))
               if np.all(np.isfinite(energy[:, [0, -1]])) else None)
    out = {
        "final_overlap": float(np.mean(final)),
        "success": bool(np.all(ok)),
        "success_rate": float(np.mean(ok)),
        "steps_to_converge": float(np.mean(conv)) if np.all(conv >= 0) else None,
        "final_energy": final_energy,
        "peak_overlap": float(np.mean(traj.max(axis=1))),
        "steps_to_09": (float(np.mean(crossings)) if all(c is not None for c in crossings) else None),
        "max_other_overlap": float(np.mean(other_overlap(ds)[:, -1])),
        "energy_descent": descent,
        "step_unit": str(ds["step"].attrs.get("units", ds.attrs.get("step_unit", "update"))),
        "success_overlap": float(success_overlap),
        "attention_entropy": final_attention_entropy(ds),
        "overlap_entropy": overlap_entropy(ds),
        "per_cue": {
            "target": [str(ds["pattern"].values[t]) for t in ds["target"].values.astype(int)],
            "final_overlap": final.tolist(),
            "success": ok.tolist(),
        },
    }
    return clean_json(out)


# --------------------------------------------------------------------------- item space

def as_bipolar(x: np.ndarray, coding: str) -> np.ndarray:
    """Item-space values as {-1..+1}: bipolar values unchanged, 0/1 values mapped by 2x - 1."""
    x = np.asarray(x, dtype=float)
    return x if coding == "bipolar" else 2.0 * x - 1.0


def probed_units(stimulus) -> np.ndarray:
    """(cue, unit) bool: the units a cue does not give correctly, where recall has work to do.

    Hidden units (``stimulus.known`` is False) and corrupted units (the cue's
    value differs from the target's: the flipped units of a noisy cue, the
    other item's units of a mixture). A cue that is the target itself probes
    no unit.
    """
    target = stimulus.patterns[np.asarray(stimulus.targets, dtype=int)]
    return ~np.asarray(stimulus.known, dtype=bool) | (np.asarray(stimulus.cues) != target)


def item_overlap_trajectory(ds, stimulus) -> np.ndarray:
    """(cue, step) item-space overlap m = xi . s / N of the reconstruction ``state`` with the target.

    Both the target xi and the reconstruction s are read in bipolar values
    (0/1 items by 2x - 1), so m = 1 is perfect recall, 0 is chance and the
    same formula applies to every model, whatever its internal code (Amit,
    Gutfreund & Sompolinsky 1985, the overlap of the Hopfield literature).
    """
    state = as_bipolar(ds["state"].values, stimulus.coding)  # (cue, step, unit)
    xi = as_bipolar(stimulus.patterns[ds["target"].values.astype(int)], stimulus.coding)  # (cue, unit)
    return np.einsum("csu,cu->cs", state, xi) / xi.shape[1]


def item_space_metrics(ds, stimulus, success_overlap: float = 0.9) -> dict[str, Any]:
    """Headline recall measures on the reconstruction in item space, the same for every model.

    Keys:

    ``item_overlap``          mean over cues of the final m = xi . s / N (see :func:`item_overlap_trajectory`); raw m: a right but unsure reconstruction (|s_i| < 1) scores below 1, so it penalises amplitude
    ``sign_item_overlap``     m of the sign-thresholded reconstruction, xi . sign(s) / N: the content only
    ``normalised_item_overlap``  binary items only: sum_i (x_i - a) s_i / (N a (1 - a)) on 0/1 values (Tsodyks & Feigel'man 1988), 1 for the item, 0 for a silent state and, in expectation, for a random state; None for bipolar items
    ``item_success_rate``     fraction of cues whose final m reached ``success_overlap``
    ``item_success``          True when every cue did
    ``probed_accuracy``       mean over cues of the fraction of hidden or corrupted units (:func:`probed_units`) whose reconstructed sign matches the target (a 0 counts as wrong; 0.5 is chance)
    ``cue_item_overlap``      mean m of the cue itself (what recall starts from)
    ``cue_probed_accuracy``   the same accuracy of the cue itself (0 for masked and flipped units)
    ``success_overlap``       the level used (the scenario's ``analysis.success_overlap``)
    """
    traj = item_overlap_trajectory(ds, stimulus)
    final = traj[:, -1]
    probe = probed_units(stimulus)
    xi = as_bipolar(stimulus.patterns[ds["target"].values.astype(int)], stimulus.coding)
    recon = np.sign(as_bipolar(ds["state"].values[:, -1], stimulus.coding))
    cue = np.sign(np.where(stimulus.known, as_bipolar(stimulus.cues, stimulus.coding), 0.0))
    n_probe = probe.sum(axis=1)

    def acc(s):
        hits = ((s == xi) & probe).sum(axis=1)
        if not np.any(n_probe > 0):
            return None
        return float(np.mean(hits[n_probe > 0] / n_probe[n_probe > 0]))

    n = xi.shape[1]
    sign_m = np.einsum("cu,cu->c", recon, xi) / n
    per_cue_acc = np.where(n_probe > 0, ((recon == xi) & probe).sum(axis=1) / np.maximum(n_probe, 1), np.nan)
    normalised = None
    if stimulus.coding == "binary":
        x01 = stimulus.patterns[ds["target"].values.astype(int)]
        a = float(np.mean(stimulus.patterns))
        s01 = (as_bipolar(ds["state"].values[:, -1], "binary") + 1) / 2
        normalised = float(np.mean(np.einsum("cu,cu->c", x01 - a, s01) / (n * a * (1 - a))))
    ok = final >= success_overlap
    cue_m = np.einsum("cu,cu->c", np.where(stimulus.known, as_bipolar(stimulus.cues, stimulus.coding), 0.0),
                      xi) / xi.shape[1]
    return clean_json({
        "item_overlap": float(np.mean(final)),
        "item_success_rate": float(np.mean(ok)),
        "item_success": bool(np.all(ok)),
        "probed_accuracy": acc(recon),
        "sign_item_overlap": float(np.mean(sign_m)),
        "normalised_item_overlap": normalised,
        "cue_item_overlap": float(np.mean(cue_m)),
        "cue_probed_accuracy": acc(cue),
        "success_overlap": float(success_overlap),
        "per_cue_item_overlap": final.tolist(),
        "per_cue_sign_item_overlap": sign_m.tolist(),
        "per_cue_probed_accuracy": per_cue_acc.tolist(),
    })
