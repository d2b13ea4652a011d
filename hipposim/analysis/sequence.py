"""How far and how well a model plays a stored sequence from its cue.

Every measure reads ``overlap(cue, step, pattern)`` (each model's own measure: m = xi . s / N, or a
spiking network's code correlation) and the stimulus's sequences (``stimulus.sequences``,
``metadata["cue_positions"]``). Two kinds of step axis:

* **update steps** (``update``, ``layer``): step t should hold the item t positions after the cued
  one (cyclic sequences wrap round);
* **time** (``ms`` or ``s``: a spiking network's time bins): the bins are mapped onto positions by
  the assemblies' peaks. The position a bin plays is the argmax over the sequence's items of the
  overlap, when that overlap reaches the minimum (``analysis.sequence_overlap``); other bins play
  nothing. The played order is the sequence of distinct positions, each counted once when it
  starts (so a replay that dwells on an item for several bins plays it once).

Keys of :func:`sequence_metrics`:

``sequence_correct_steps``   mean over cues of the steps (items after the cue) played correctly
                             before the first error
``sequence_possible_steps``  mean over cues of the steps to the end of the sequence (L - 1 - p for a
                             cue at position p; L for a cyclic sequence, once round)
``sequence_fraction``        mean over cues of correct / possible steps
``sequence_recalled``        fraction of cues whose sequence is played to the end without error
``mean_sequence_overlap``    mean over cues and over the positions after the cue of the overlap with
                             the item due there (0 for a position never reached)
``sequence_min_overlap``     the minimum overlap a played step needs
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .recall import clean_json

#: step units that count time: their bins are mapped onto positions by the assemblies' peaks
TIME_UNITS = ("ms", "s", "second", "millisecond")

#: what a sequence analysis needs in the dataset
REQUIRES = ("overlap",)


def is_time_axis(ds) -> bool:
    """True when ``ds``'s steps are time bins (not update steps)."""
    unit = str(ds["step"].attrs.get("units", ds.attrs.get("step_unit", "update")))
    return unit in TIME_UNITS


def cue_sequences(stimulus) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(sequences (S, L), the sequence of each cue (C,), the position of each cue (C,))."""
    seqs = stimulus.sequences
    if seqs is None:
        raise ValueError("the stimulus holds no sequences")
    return (seqs, np.asarray(stimulus.metadata["cue_sequences"], dtype=int),
            np.asarray(stimulus.metadata["cue_positions"], dtype=int))


def sequence_overlaps(ds, stimulus) -> np.ndarray:
    """(cue, step, position) each cue's overlap with every item of its own sequence."""
    seqs, cue_seq, _ = cue_sequences(stimulus)
    ov = ds["overlap"].values
    return np.stack([ov[c][:, seqs[cue_seq[c]]] for c in range(ov.shape[0])])


def played_positions(ds, stimulus, min_overlap: float = 0.5) -> np.ndarray:
    """(cue, step) the position each step plays: the argmax over the sequence's items of the overlap
    when it reaches ``min_overlap``, else -1 (nothing played)."""
    ov = sequence_overlaps(ds, stimulus)
    best = np.argmax(ov, axis=2)
    return np.where(np.max(ov, axis=2) >= min_overlap, best, -1)


def possible_steps(stimulus) -> np.ndarray:
    """(cue,) the steps from each cue to the end of its sequence (L - 1 - p; L once round a cycle)."""
    seqs, _, pos = cue_sequences(stimulus)
    length = seqs.shape[1]
    return np.full(len(pos), length) if stimulus.cyclic else length - 1 - pos


def expected_positions(n_steps: int, stimulus) -> np.ndarray:
    """(cue, step) the position an update-step player should hold at each step (-1 past the end)."""
    seqs, _, pos = cue_sequences(stimulus)
    length = seqs.shape[1]
    t = np.arange(n_steps)[None, :]
    raw = pos[:, None] + t
    if stimulus.cyclic:
        return raw % length
    return np.where(raw < length, raw, -1)


def played_order(played: np.ndarray) -> list[int]:
    """The distinct positions of one cue's played steps, in order of onset (repeats and gaps dropped)."""
    order: list[int] = []
    for p in played:
        if p >= 0 and (not order or order[-1] != p):
            order.append(int(p))
    return order


def correct_steps(ds, stimulus, min_overlap: float = 0.5) -> np.ndarray:
    """(cue,) the steps played correctly after the cue before the first error, at most to the end.

    Update steps: step t is correct when it plays the position due at t. Time bins: the played
    order (:func:`played_order`, the cued position itself dropped when it comes first) is compared
    with the positions due after the cue, item by item.
    """
    played = played_positions(ds, stimulus, min_overlap)
    possible = possible_steps(stimulus)
    _, _, pos = cue_sequences(stimulus)
    length = stimulus.sequences.shape[1]
    out = np.zeros(len(possible), dtype=int)
    if not is_time_axis(ds):
        due = expected_positions(played.shape[1], stimulus)
        for c in range(len(out)):
            k = 0
            for t in range(1, played.shape[1]):
                if k >= possible[c] or due[c, t] < 0 or played[c, t] != due[c, t]:
                    break
                k += 1
            out[c] = k
        return out
    for c in range(len(out)):
        order = played_order(played[c])
        if order and order[0] == pos[c]:
            order = order[1:]
        k = 0
        for p in order:
            want = pos[c] + k + 1
            want = want % length if stimulus.cyclic else want
            if k >= possible[c] or p != want:
                break
            k += 1
        out[c] = k
    return out


def position_profile(ds, stimulus, min_overlap: float = 0.5) -> np.ndarray:
    """(cue, position) overlap with the correct item at each position of the cue's sequence.

    Update steps: the overlap with item p at the step due to play it. Time bins: the largest overlap
    with item p over the bins that play p (:func:`played_positions`). NaN where the position is
    never due (before the cue) or never played.
    """
    ov = sequence_overlaps(ds, stimulus)  # (cue, step, position)
    n_cues, n_steps, length = ov.shape
    out = np.full((n_cues, length), np.nan)
    if not is_time_axis(ds):
        due = expected_positions(n_steps, stimulus)
        for c in range(n_cues):
            for t in range(n_steps):
                p = due[c, t]
                if p >= 0 and np.isnan(out[c, p]):
                    out[c, p] = ov[c, t, p]
        return out
    played = played_positions(ds, stimulus, min_overlap)
    for c in range(n_cues):
        for p in range(length):
            bins = played[c] == p
            if bins.any():
                out[c, p] = ov[c, bins, p].max()
    return out


def play_steps(ds, stimulus, min_overlap: float = 0.5) -> np.ndarray:
    """(cue, position) the step index that shows each position best: the step due (update steps) or the
    bin of the peak overlap among the bins that play it (time); -1 where never played."""
    ov = sequence_overlaps(ds, stimulus)
    n_cues, n_steps, length = ov.shape
    out = np.full((n_cues, length), -1)
    if not is_time_axis(ds):
        due = expected_positions(n_steps, stimulus)
        for c in range(n_cues):
            for t in range(n_steps):
                if due[c, t] >= 0 and out[c, due[c, t]] < 0:
                    out[c, due[c, t]] = t
        return out
    played = played_positions(ds, stimulus, min_overlap)
    for c in range(n_cues):
        for p in range(length):
            bins = np.flatnonzero(played[c] == p)
            if bins.size:
                out[c, p] = bins[np.argmax(ov[c, bins, p])]
    return out


def after_cue(stimulus) -> np.ndarray:
    """(cue, position) True at the positions due after each cue (to the end, or once round a cycle)."""
    seqs, _, pos = cue_sequences(stimulus)
    length = seqs.shape[1]
    p = np.arange(length)[None, :]
    if stimulus.cyclic:
        return np.ones((len(pos), length), dtype=bool)
    return p > pos[:, None]


def sequence_metrics(ds, level: float | None = None, stimulus=None, min_overlap: float = 0.5) -> dict[str, Any]:
    """The sequence measures of one model's result (keys in the module docstring); {} without sequences.

    ``level`` (the success level of the model's overlap measure) is not used: a played step is
    judged by ``min_overlap`` and by being the best of the sequence's items.
    """
    if stimulus is None or stimulus.sequences is None:
        return {}
    correct = correct_steps(ds, stimulus, min_overlap)
    possible = possible_steps(stimulus)
    profile = position_profile(ds, stimulus, min_overlap)
    due = after_cue(stimulus)
    per_cue_overlap = np.array([np.mean(np.nan_to_num(profile[c, due[c]], nan=0.0)) if due[c].any() else np.nan
                                for c in range(len(correct))])
    frac = np.where(possible > 0, correct / np.maximum(possible, 1), 1.0)
    return clean_json({
        "sequence_correct_steps": float(np.mean(correct)),
        "sequence_possible_steps": float(np.mean(possible)),
        "sequence_fraction": float(np.mean(frac)),
        "sequence_recalled": float(np.mean(correct >= possible)),
        "mean_sequence_overlap": float(np.nanmean(per_cue_overlap)) if np.isfinite(per_cue_overlap).any() else None,
        "sequence_min_overlap": float(min_overlap),
        "per_cue_sequence_correct_steps": correct.tolist(),
        "per_cue_mean_sequence_overlap": per_cue_overlap.tolist(),
    })


# --------------------------------------------------------------------------- capacity theory

#: critical load of the asymmetric sequence network under parallel dynamics (During, Coolen & Sherrington 1998)
SEQUENCE_ALPHA_C = 0.269


def double_factorial(k: int) -> int:
    """k!! for odd k >= -1 (1 for k <= 0)."""
    out = 1
    while k > 1:
        out *= k
        k -= 2
    return out


def dense_sequence_capacity(n_units: float, degree: int) -> float:
    """The longest sequence a polynomial dense sequence network plays without error (Chaudhry et al. 2023).

    The crosstalk on a unit, sum over the other items of xi^(nu+1) (m^nu)^d, has variance
    P (2d - 1)!! / N^d against a signal of 1; asking that none of the N P unit updates of the
    sequence fails gives their scaling

    .. math:: P_{max} \\approx \\frac{N^d}{2 (2d-1)!! \\ln(N P_{max})},

    solved here by fixed-point iteration (d = 1 is the classical N / (2 ln N^2)-type bound).
    """
    c = 2.0 * double_factorial(2 * degree - 1)
    p = float(n_units) ** degree / (c * np.log(n_units))
    for _ in range(50):
        p = float(n_units) ** degree / (c * np.log(n_units * max(p, 2.0)))
    return p


def capacity_exponent(n1: float, p1: float, n2: float, p2: float) -> float:
    """The exponent k of P ~ N^k between two sizes: ln(P2 / P1) / ln(N2 / N1)."""
    return float(np.log(p2 / p1) / np.log(n2 / n1))


def fit_sequence_capacity(stored: np.ndarray, recalled: np.ndarray, seeds: np.ndarray, level: float = 0.5,
                          n_boot: int = 200, rng: np.random.Generator | None = None) -> dict:
    """The capacity: the number of stored items at which the fraction played to the end falls to ``level``.

    The fraction is averaged over seeds at each stored length and the crossing is interpolated in
    log(length) (:func:`hipposim.analysis.capacity.crossing_load`); the 95% interval comes from a
    bootstrap over whole seeds. NaN when the fraction never falls to ``level`` within the lengths
    (the capacity lies beyond them) or starts below it.
    """
    from .capacity import crossing_load

    rng = rng or np.random.default_rng(0)
    stored, recalled, seeds = (np.asarray(a, dtype=float) for a in (stored, recalled, seeds))
    ok = np.isfinite(recalled)
    stored, recalled, seeds = stored[ok], recalled[ok], seeds[ok]

    def cross(idx):
        xs = np.unique(stored[idx])
        if len(xs) < 2:
            return np.nan
        mean = np.array([recalled[idx][stored[idx] == x].mean() for x in xs])
        return crossing_load(xs, mean, level)

    everything = np.arange(len(stored))
    estimate = cross(everything)
    unique = np.unique(seeds)
    boots = []
    for _ in range(n_boot if len(unique) > 1 else 0):
        pick = rng.choice(unique, size=len(unique), replace=True)
        boots.append(cross(np.concatenate([np.flatnonzero(seeds == s) for s in pick])))
    boots = np.array([b for b in boots if np.isfinite(b)])
    lo, hi = np.percentile(boots, [2.5, 97.5]) if boots.size >= 10 else (np.nan, np.nan)
    return {"capacity": float(estimate), "ci_low": float(lo), "ci_high": float(hi)}


def sequence_capacity_fits(ds, metric: str = "sequence_recalled") -> dict:
    """Per model and network size N of a ``sequence_capacity`` sweep: the capacity in stored items.

    For each N, the fraction of cues played to the end (``metric``) against the total stored length
    P (every stored item, ``n_patterns``) gives the capacity by :func:`fit_sequence_capacity`, and
    the critical load ``alpha_c = capacity / N``. Returns ``{model: {"by_size": {N: {"capacity",
    "ci_low", "ci_high", "alpha_c"}}, "exponent": k}}``, the exponent of capacity ~ N^k between the
    smallest and largest N with a capacity (when there are two).
    """
    out: dict = {}
    sizes = np.unique(ds["n_units"].values)
    for model in ds["model"].values:
        fits: dict = {}
        for n in sizes:
            sel = ds["n_units"].values == n
            fit = fit_sequence_capacity(ds["n_patterns"].values[sel], ds[metric].sel(model=model).values[sel],
                                        ds["seed"].values[sel])
            fit["alpha_c"] = fit["capacity"] / float(n)
            fits[int(n)] = fit
        ok = [n for n in fits if np.isfinite(fits[n]["capacity"])]
        entry: dict = {"by_size": fits}
        if len(ok) >= 2:
            entry["exponent"] = capacity_exponent(min(ok), fits[min(ok)]["capacity"], max(ok),
                                                  fits[max(ok)]["capacity"])
        out[str(model)] = entry
    return out
