"""Pure analysis of results: metrics from labeled result datasets, never a simulation.

The keys of :func:`recall_metrics` are stable; users script against them:

``final_overlap``      mean over cues of the overlap with the target at the last step
``success``            True when every cue's final overlap reached ``success_overlap``
``success_overlap``    the level used (the scenario's level for this model's overlap measure)
``success_rate``       fraction of cues whose final overlap reached ``success_overlap``
``steps_to_converge``  mean step index at which the dynamics stopped changing
                       (null if some cue never converged)
``final_energy``       mean energy at the last step (null when the model has none)
``peak_overlap``       mean over cues of the largest overlap with the target
``steps_to_09``        mean first step (in step units) where the target overlap reached 0.9 (null if not all did)
``max_other_overlap``  mean over cues of the largest final |overlap| with any non-target item
``energy_descent``     mean energy drop from the first to the last step
``step_unit``          what a step counts ("update", "layer", "ms")
``attention_entropy``  entropy (nats) of the last attention read, for models that attend (else null)
``overlap_entropy``    entropy (nats) of the final positive overlaps normalised to sum 1 (0: one item)
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
