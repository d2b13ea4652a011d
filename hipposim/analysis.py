"""Pure analysis of results: metrics from labeled result datasets, never a simulation.

The keys of :func:`recall_metrics` are stable; users script against them:

``final_overlap``      mean over cues of the overlap with the target at the last step
``success``            True when every cue's final overlap reached ``success_overlap``
``success_overlap``    the level used (the scenario's, or the model's own, see recall_metrics)
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
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -np.nansum(np.where(att > 0, att * np.log(att), 0.0), axis=-1)
    return float(np.mean(h))


def overlap_entropy(ds) -> float:
    """Mean over cues of the entropy (nats) of the final positive overlaps, normalised to sum 1.

    p_mu = max(m_mu, 0) / sum_nu max(m_nu, 0). Like the attention entropy it is
    0 when one item is recalled and ln P when all are equally present, so it
    compares models that do not attend (CA3, Hopfield) with those that do.
    A state with no positive overlap counts as ln P (nothing singled out).
    """
    final = np.clip(np.asarray(ds["overlap"].values[:, -1, :], dtype=float), 0, None)
    total = final.sum(axis=1, keepdims=True)
    n = final.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(total > 0, final / np.where(total > 0, total, 1), 1.0 / n)
        h = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)
    return float(np.mean(h))


def first_crossing(trajectory: np.ndarray, steps: np.ndarray, threshold: float) -> float | None:
    """First step value where ``trajectory`` reaches ``threshold`` (None if never)."""
    hit = np.nonzero(np.asarray(trajectory) >= threshold)[0]
    return float(steps[hit[0]]) if hit.size else None


def _clean(x: Any) -> Any:
    if isinstance(x, (float, np.floating)):
        return None if not math.isfinite(float(x)) else float(x)
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.bool_,)):
        return bool(x)
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def recall_metrics(ds, success_overlap: float = 0.9) -> dict[str, Any]:
    """Standard recall metrics of one model's result (see the module docstring for the keys).

    A model may record its own success level in ``ds.attrs["success_overlap"]``
    when its overlap has a different scale (spiking CA3: a Pearson correlation
    of 10-ms binned rates, where a perfectly firing half cue already gives
    about 0.69 and 0.8 marks completion); it then replaces ``success_overlap``.
    """
    success_overlap = float(ds.attrs.get("success_overlap", success_overlap))
    traj = target_overlap(ds)
    steps = ds["step"].values
    final = traj[:, -1]
    ok = final >= success_overlap
    conv = ds["converged_step"].values
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
        "success_overlap": success_overlap,
        "attention_entropy": final_attention_entropy(ds),
        "overlap_entropy": overlap_entropy(ds),
        "per_cue": {
            "target": [str(ds["pattern"].values[t]) for t in ds["target"].values.astype(int)],
            "final_overlap": final.tolist(),
            "success": ok.tolist(),
        },
    }
    extra = ds.attrs.get("extra_metrics_json")
    if extra:
        import json

        out.update(json.loads(extra))
    return _clean(out)
