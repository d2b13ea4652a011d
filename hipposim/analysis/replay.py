"""Sequence replay in a spiking network: which stored items a cue sets off, in which order, how fast.

Pure functions of the recorded overlaps ``m_mu(t)`` (one row per time bin, one column per
stored item: the Pearson correlation of binned CA3 spike counts with item mu's code). An
assembly is *active* in bin t when it is the best-matching item and its overlap reaches a
level theta::

    win(t) = argmax_mu m_mu(t)   if  max_mu m_mu(t) >= theta,   else none

and its *activation time* is the first bin it wins, ``t_mu = min {t : win(t) = mu}``. Its
*peak* is ``argmax_t m_mu(t)`` over the bins where it reaches theta.

The replay measures of one cue at position k of a stored sequence (s_0, ..., s_{L-1}) are

* the Spearman rank correlation between the peak times of the active assemblies that the
  cue did not contain (every item but s_k) and their stored position relative to the cue
  (:func:`spearman`); 1 for a perfectly ordered forward replay, -1 for a backward one;
* the fraction of the sequence replayed forward (and backward) before it stops or errs
  (:func:`replay_chain`);
* the replay speed in items per second (the inverse slope of activation time against
  position along the replayed chain) and the compression factor, replay speed over
  presentation speed (:func:`replay_speed`). Replay in sharp-wave ripples runs about 10 to 20
  times faster than the behaviour it replays (Nadasdy et al. 1999; Lee & Wilson 2002).

A trigger that names no item (an unspecific sharp-wave kick) is judged from the assembly it
ignites: the first item active after the kick, ``mu* = win(t*)`` with
``t* = min {t >= t_kick : win(t) is not none}`` (:func:`ignition`), takes the cue's place in
the measures above (:func:`kick_replay_table`).
"""
from __future__ import annotations

import numpy as np


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation ``rho = Pearson(rank(x), rank(y))`` (ties take their mean rank).

    Returns NaN for fewer than two pairs or when either ranking is constant.
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.size < 2 or x.size != y.size:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=float)
    for value in np.unique(x):
        tied = x == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def winners(overlap: np.ndarray, level: float) -> np.ndarray:
    """(S,) index of the best-matching item of each bin, -1 where no item reaches ``level``."""
    overlap = np.nan_to_num(np.asarray(overlap, dtype=float), nan=-np.inf)
    best = np.argmax(overlap, axis=1)
    return np.where(overlap[np.arange(len(best)), best] >= level, best, -1)


def activation_bins(overlap: np.ndarray, level: float, start_bin: int = 0) -> np.ndarray:
    """(P,) first bin (from ``start_bin``) in which each item is the active assembly; -1 if never."""
    win = winners(overlap, level)
    first = np.full(overlap.shape[1], -1, dtype=np.int64)
    for t in range(start_bin, len(win)):
        mu = win[t]
        if mu >= 0 and first[mu] < 0:
            first[mu] = t
    return first


def peak_bins(overlap: np.ndarray, level: float, start_bin: int = 0) -> np.ndarray:
    """(P,) bin of each item's largest overlap (from ``start_bin``); -1 if it never reaches ``level``."""
    ov = np.nan_to_num(np.asarray(overlap, dtype=float)[start_bin:], nan=-np.inf)
    peak = np.argmax(ov, axis=0)
    reached = ov[peak, np.arange(ov.shape[1])] >= level
    return np.where(reached, peak + start_bin, -1)


def relative_positions(length: int, cue_position: int, cyclic: bool) -> np.ndarray:
    """Position of each sequence element relative to the cue: ``j - k``, or ``(j - k) mod L`` if cyclic."""
    rel = np.arange(length) - cue_position
    return np.mod(rel, length) if cyclic else rel


def replay_chain(first: np.ndarray, sequence: list[int], cue_position: int, cyclic: bool,
                 direction: int = 1) -> int:
    """Number of items replayed from the cue in ``direction`` (+1 forward, -1 backward) before an error.

    Item ``s_{k + d j}`` (j = 1, 2, ...) counts while it is activated (``first >= 0``), strictly
    later than the previous item of the chain and strictly earlier than every item further along
    (a skip is an error), and no item outside the sequence was activated before it (an intrusion). The chain stops at the first item that fails, and at the end of
    the sequence (a cyclic sequence wraps once around, up to the item before the cue).
    """
    length = len(sequence)
    members = {int(m) for m in sequence}
    outside = [mu for mu in range(len(first)) if mu not in members and first[mu] >= 0]
    intrusion = min((first[mu] for mu in outside), default=np.iinfo(np.int64).max)
    previous = first[sequence[cue_position]]
    previous = -1 if previous < 0 else previous
    n = 0
    steps = length - 1 if cyclic else ((length - 1 - cue_position) if direction > 0 else cue_position)
    chain = [int(first[sequence[(cue_position + direction * j) % length]]) for j in range(1, steps + 1)]
    for j, t in enumerate(chain):
        ahead = [x for x in chain[j + 1:] if x >= 0]
        if t < 0 or t <= previous or t >= intrusion or (ahead and min(ahead) <= t):
            break
        previous, n = t, n + 1
    return n


def replay_speed(first: np.ndarray, sequence: list[int], cue_position: int, n_replayed: int,
                 bin_s: float, direction: int = 1) -> float:
    """Replay speed (items / s): inverse least-squares slope of activation time against position.

    Over the cued item (if it was activated) and the ``n_replayed`` items of the chain,
    ``t_j = t_0 + j / v``; NaN when fewer than two activation times are known.
    """
    length = len(sequence)
    pos, times = [], []
    for j in range(n_replayed + 1):
        t = first[sequence[(cue_position + direction * j) % length]]
        if t >= 0:
            pos.append(j)
            times.append(t * bin_s)
    if len(pos) < 2:
        return float("nan")
    slope = np.polyfit(np.array(pos, dtype=float), np.array(times), 1)[0]
    return float(1.0 / slope) if slope > 0 else float("nan")


def replay_metrics(overlap: np.ndarray, sequence: list[int], cue_position: int, *, bin_s: float,
                   presentation_step_s: float, level: float, cyclic: bool = False, start_bin: int = 0) -> dict:
    """Replay measures of one cue (see the module docstring).

    Parameters
    ----------
    overlap : (S, P) overlaps of every stored item in every bin after the cue's onset.
    sequence : the stored order of the cued sequence (pattern indices).
    cue_position : position k of the cued item in ``sequence``.
    bin_s, presentation_step_s : bin width and the time between the onsets of successive items
        at presentation (s); presentation speed ``1 / presentation_step_s`` items / s.
    level : overlap theta at which an assembly counts as active.
    start_bin : bins before it are not judged (an unspecific trigger drives every assembly).

    Returns
    -------
    dict with ``spearman`` (peak order of the non-cued active items against their stored position
    relative to the cue), ``spearman_distance`` (against the distance from the cue, for
    replay in both directions), ``n_forward`` / ``n_backward`` and ``fraction_forward`` /
    ``fraction_backward`` (:func:`replay_chain` over the items ahead of / behind the cue),
    ``speed`` (items / s, forward chain), ``compression`` (speed x presentation_step_s),
    ``n_active`` (non-cued sequence items that became active) and ``n_intruders`` (items of other
    sequences that became active).
    """
    overlap = np.asarray(overlap, dtype=float)
    length = len(sequence)
    first = activation_bins(overlap, level, start_bin)
    peak = peak_bins(overlap, level, start_bin)
    rel = relative_positions(length, cue_position, cyclic)
    others = [j for j in range(length) if j != cue_position and peak[sequence[j]] >= 0]
    pos = rel[others]
    times = np.array([peak[sequence[j]] for j in others], dtype=float)
    n_fwd = replay_chain(first, sequence, cue_position, cyclic, +1)
    n_bwd = 0 if cyclic else replay_chain(first, sequence, cue_position, cyclic, -1)
    ahead = length - 1 if cyclic else length - 1 - cue_position
    behind = 0 if cyclic else cue_position
    speed = replay_speed(first, sequence, cue_position, n_fwd, bin_s, +1)
    members = {int(m) for m in sequence}
    return {
        "spearman": spearman(times, pos),
        "spearman_distance": spearman(times, np.abs(pos)),
        "n_forward": n_fwd, "n_backward": n_bwd,
        "fraction_forward": n_fwd / ahead if ahead else float("nan"),
        "fraction_backward": n_bwd / behind if behind else float("nan"),
        "speed": speed,
        "compression": speed * presentation_step_s,
        "n_active": len(others),
        "n_intruders": int(sum(1 for mu in range(overlap.shape[1]) if mu not in members and first[mu] >= 0)),
    }


def ignition(overlap: np.ndarray, level: float, start_bin: int = 0) -> int:
    """The item an unspecific trigger sets off: the first active assembly from ``start_bin``; -1 if none."""
    win = winners(overlap, level)[start_bin:]
    active = win[win >= 0]
    return int(active[0]) if active.size else -1


def kick_replay_table(overlap: np.ndarray, sequences: list[list[int]], **kw) -> dict[str, np.ndarray]:
    """:func:`replay_metrics` of every trial of an unspecific trigger, from the item it ignites.

    ``overlap`` (C, S, P). Trial c is judged from ``mu* = ignition(overlap[c])`` at its position in the
    sequence that holds it, exactly as a cue of that item would be; its own activation is not counted.
    A trial that ignites nothing replays nothing (fractions and counts 0, the rest NaN). Besides the
    measures of :func:`replay_metrics`, returns ``start_item`` and ``start_position`` (-1 if none).
    """
    silent = {"n_forward": 0.0, "n_backward": 0.0, "fraction_forward": 0.0, "fraction_backward": 0.0,
              "n_active": 0.0, "n_intruders": 0.0, "start_item": -1, "start_position": -1}
    rows = []
    for trial in overlap:
        mu = ignition(trial, kw["level"], kw.get("start_bin", 0))
        seq = _sequence_of(mu, sequences) if mu >= 0 else None
        if seq is None:
            rows.append(silent)
            continue
        pos = seq.index(mu)
        rows.append({**replay_metrics(trial, seq, pos, **kw), "start_item": mu, "start_position": pos})
    keys = [*replay_metrics(np.zeros_like(np.asarray(overlap[0], dtype=float)), list(sequences[0]), 0, **kw),
            "start_item", "start_position"]
    return {key: np.array([r.get(key, np.nan) for r in rows], dtype=float) for key in keys}


def _sequence_of(item: int, sequences: list[list[int]]) -> list[int] | None:
    """The stored sequence (as ints) that holds ``item``; None if none does."""
    return next(([int(m) for m in s] for s in sequences if int(item) in [int(m) for m in s]), None)


def sequence_replay_table(overlap: np.ndarray, sequences: list[list[int]], cue_positions: list[int],
                          targets: np.ndarray, **kw) -> dict[str, np.ndarray]:
    """:func:`replay_metrics` of every cue: ``overlap`` (C, S, P); cue c targets ``targets[c]``, the item
    at ``cue_positions[c]`` of the sequence that holds it. Returns {measure: (C,) array}."""
    rows = []
    for c, target in enumerate(np.asarray(targets, dtype=int)):
        seq = _sequence_of(target, sequences)
        if seq is None:
            raise ValueError(f"cue {c}: its target {int(target)} is in no stored sequence")
        pos = int(cue_positions[c])
        if int(seq[pos]) != int(target):
            raise ValueError(f"cue {c}: cue_positions[{c}] = {pos} holds item {seq[pos]}, not the cue's target "
                             f"{int(target)}")
        rows.append(replay_metrics(overlap[c], seq, pos, **kw))
    return {key: np.array([r[key] for r in rows], dtype=float) for key in rows[0]}


__all__ = [
    "activation_bins",
    "ignition",
    "kick_replay_table",
    "peak_bins",
    "relative_positions",
    "replay_chain",
    "replay_metrics",
    "replay_speed",
    "sequence_replay_table",
    "spearman",
    "winners",
]
