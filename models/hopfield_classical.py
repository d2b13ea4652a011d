"""Classical Hopfield network (Hopfield 1982, :cite:p:`hopfield1982`).

Storage by Hebb's outer-product rule, W = (1/N) sum_mu xi^mu xi^mu^T with a
zero diagonal; recall by s_i <- sign(sum_j W_ij s_j) (a unit whose field is
exactly zero keeps its state), synchronously or asynchronously; energy
E = -1/2 s^T W s, which never rises under asynchronous updates (symmetric W,
zero diagonal).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.retrieval import hebbian_weights, hopfield_energy, overlaps
from hipposim.stimuli import Stimulus


class ClassicalHopfieldParams(Params):
    update: Literal["async", "sync"] = Field(
        "async", description="async: one unit at a time in a random order (seeded); sync: all at once")
    max_steps: int = Field(20, gt=0, description="maximum number of sweeps (async) or updates (sync)")


def async_sweep(states: np.ndarray, fields: np.ndarray, weights: np.ndarray, order: np.ndarray
                ) -> int:
    """One asynchronous sweep over all units in ``order``, for a batch of states, in place.

    Visiting unit i sets s_i <- sign(h_i) (h_i = sum_j W_ij s_j). Units whose
    sign already agrees (or whose field is exactly 0) leave the state unchanged, so the sweep jumps from one
    disagreeing unit to the next in ``order`` and updates the local fields with
    a rank-one correction after each flip: the Python loop runs once per flip
    (per batch step), never once per neuron, and the result equals the
    unit-by-unit sweep exactly. Returns the number of flips.
    """
    n_cues, n = states.shape
    position = np.zeros(n_cues, dtype=np.int64)  # next index into `order` for each cue
    rank = np.arange(n)
    rows = np.arange(n_cues)
    flips = 0
    while True:
        s_ord = states[:, order]
        h_ord = fields[:, order]
        wants = (np.sign(h_ord) != s_ord) & (h_ord != 0) & (rank[None, :] >= position[:, None])
        active = wants.any(axis=1)
        if not active.any():
            return flips
        cues = rows[active]
        j = np.argmax(wants[active], axis=1)
        units = order[j]
        old = states[cues, units]
        new = np.sign(fields[cues, units])
        states[cues, units] = new
        fields[cues] += (new - old)[:, None] * weights[units]
        position[cues] = j + 1
        flips += len(cues)


class ClassicalHopfield(Model):
    """Classical Hopfield network: Hebbian storage, sign updates, energy -1/2 s^T W s."""

    description = "Classical Hopfield network (Hebb rule, sync/async sign updates, energy -1/2 s^T W s)"
    Params = ClassicalHopfieldParams
    step_unit = "update"
    records = ("weights",)

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        patterns = stimulus.bipolar_patterns()
        self.weights_ = w = hebbian_weights(patterns)
        # The dynamics use the unnormalised integer weights N*W: same signs, but
        # fields are exact integers, so ties (h = 0) are exact and incremental
        # field updates accumulate no rounding error.
        w_int = np.rint(w * patterns.shape[1])
        s = stimulus.bipolar_cues().astype(float).copy()
        n_cues, n = s.shape
        history = [s.copy()]
        converged = np.full(n_cues, -1)
        for step in range(1, p.max_steps + 1):
            fields = s @ w_int
            if p.update == "sync":
                s = np.where(fields > 0, 1.0, np.where(fields < 0, -1.0, s))
            else:
                # a masked unit (state 0) takes the sign of its field on its first visit
                async_sweep(s, fields, w_int, rng.permutation(n))
            history.append(s.copy())
            still = np.all(history[-1] == history[-2], axis=1)
            converged[(converged < 0) & still] = step - 1
            if np.all(converged >= 0):
                break
        states = np.stack(history, axis=1)  # (cue, step, unit)
        energy = hopfield_energy(states, w)  # (cue, step)
        out_states = states if stimulus.coding == "bipolar" else (states + 1) / 2
        ov = overlaps(out_states, stimulus.patterns, stimulus.coding)
        ds = standard_dataset(stimulus, out_states, ov, energy, converged, step_unit=self.step_unit,
                              attrs={"update": p.update})
        ds["weights"] = (("unit_pre", "unit_post"), w)
        ds["weights"].attrs["description"] = "Hebbian weights W = (1/N) sum_mu xi xi^T, zero diagonal (fixed)"
        return ds
