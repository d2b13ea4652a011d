"""Sparse associative memory with the covariance rule (Tsodyks & Feigel'man 1988, :cite:p:`tsodyks1988`).

Items are 0/1 at coding level a. Storage: W_ij = (1/(N a (1-a))) sum_mu
(xi_i^mu - a)(xi_j^mu - a), W_ii = 0. Recall: synchronous k-winners-take-all,
s <- top_k(W s) with k = round(a N), i.e. a global threshold set each step by
feedback inhibition so that the activity stays at a (the CA3-like reading of
the threshold). Energy E = -1/2 s^T W s. Capacity grows like 1/(a |ln a|).
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.retrieval import covariance_weights, hopfield_energy, overlaps
from hipposim.stimuli import Stimulus


class SparseHopfieldParams(Params):
    max_steps: int = Field(20, gt=0, description="maximum number of synchronous k-WTA updates")


class SparseHopfield(Model):
    """Covariance-rule memory of sparse 0/1 items with k-winners-take-all recall."""

    description = "Sparse covariance-rule memory (Tsodyks & Feigel'man 1988), k-WTA recall at coding level a"
    Params = SparseHopfieldParams
    step_unit = "update"
    records = ("weights",)

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        x = stimulus.patterns if stimulus.coding == "binary" else (stimulus.patterns + 1) / 2
        cues = stimulus.cues if stimulus.coding == "binary" else np.clip((stimulus.cues + 1) / 2, 0, 1)
        n = x.shape[1]
        a = float(np.mean(x))
        k = max(1, int(round(a * n)))
        self.weights_ = w = covariance_weights(x, a) / (n * a * (1 - a))
        s = np.where(stimulus.known, cues, 0.0).astype(float)
        history = [s]
        converged = np.full(len(s), -1)
        rows = np.arange(len(s))[:, None]
        for step in range(1, self.params.max_steps + 1):
            h = s @ w
            # ties broken by a seeded random jitter far below the field resolution
            h = h + 1e-9 * rng.random(h.shape)
            winners = np.argpartition(-h, k - 1, axis=1)[:, :k]
            new = np.zeros_like(s)
            new[rows, winners] = 1.0
            done = np.all(new == s, axis=1)
            converged[(converged < 0) & done] = step - 1
            s = new
            history.append(s)
            if np.all(converged >= 0):
                break
        states = np.stack(history, axis=1)
        energy = hopfield_energy(states, w)  # (cue, step)
        out = states if stimulus.coding == "binary" else 2 * states - 1
        ov = overlaps(out, stimulus.patterns, stimulus.coding)
        ds = standard_dataset(stimulus, out, ov, energy, converged, step_unit=self.step_unit,
                              attrs={"coding_level": a})
        ds["weights"] = (("unit_pre", "unit_post"), w)
        ds["weights"].attrs["description"] = ("covariance weights (1/(N a (1-a))) sum_mu (xi - a)(xi - a)^T, "
                                              "zero diagonal (fixed)")
        return ds
