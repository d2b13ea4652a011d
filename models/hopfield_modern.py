"""Modern (continuous, dense) Hopfield network (Ramsauer et al. 2020, :cite:p:`ramsauer2020`).

Update (eq. 3): xi_new = X softmax(beta X^T xi), iterated for at most
``max_steps`` updates or until max|xi_new - xi| < ``tolerance``. Energy (eq. 2):
E = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 ln N + 1/2 M^2, which never
rises under the update (concave-convex procedure). The update is computed by
:func:`hipposim.functional.retrieval.softmax_retrieval`, the same function attention uses.

**Regime.** beta only has a meaning together with the scale of the scores
beta x^T xi. With ``normalize`` the stored items lie on the unit sphere and
beta multiplies a cosine similarity, as in Ramsauer et al.'s experiments and
(through layer norm and 1/sqrt(d_k)) in Transformers. Without it, +-1 items
have |x|^2 = N and the score gaps are N times larger. Every result records
``beta_normalised = beta * mean |x|^2`` (the inverse temperature on cosine
scores) and ``separated_fraction``: the fraction of stored items that satisfy
the separation condition of Ramsauer et al. (2020, Theorem 3),

    Delta_i >= 2 / (beta P) + (1 / beta) ln(2 (P - 1) P beta M^2),
    Delta_i = x_i^T x_i - max_{j != i} x_i^T x_j,

under which the update converges to a fixed point near x_i (single-item
retrieval). 1 means the separation regime, where retrieving one item is
guaranteed; 0 means the metastable or averaging regime.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from hipposim.contract import Beta, Model, Params, standard_dataset
from hipposim.functional.retrieval import modern_hopfield_energy, overlaps, softmax_retrieval
from hipposim.stimuli import Stimulus


def separated_fraction(x: np.ndarray, beta: float) -> float:
    """Fraction of the rows of ``x`` (stored items, as scored) meeting Ramsauer et al.'s Theorem 3 condition.

    Delta_i >= 2/(beta P) + ln(2 (P-1) P beta M^2) / beta with
    Delta_i = x_i.x_i - max_{j != i} x_i.x_j and M the largest norm.
    """
    n_items = len(x)
    if n_items < 2:
        return 1.0
    gram = x @ x.T
    others = gram - np.diag(np.full(n_items, np.inf))
    delta = np.diag(gram) - others.max(axis=1)
    big_m2 = float(np.max(np.sum(x * x, axis=1)))
    bound = 2.0 / (beta * n_items) + np.log(2.0 * (n_items - 1) * n_items * beta * big_m2) / beta
    return float(np.mean(delta >= bound))


class ModernHopfieldParams(Params):
    beta: Beta = 8.0
    max_steps: int = Field(5, gt=0, description="maximum number of updates")
    tolerance: float = Field(1e-8, ge=0, description="stop when max|xi_new - xi| falls below this")
    separation: Literal["softmax", "argmax"] = Field("softmax", description="separation function")
    normalize: bool = Field(False, description="scale patterns and cue to unit norm before retrieval "
                                                "(beta then acts on cosine similarity)")


class ModernHopfield(Model):
    """Modern Hopfield network: xi <- X softmax(beta X^T xi), log-sum-exp energy."""

    description = "Modern Hopfield network (Ramsauer et al. 2020): xi <- X softmax(beta X^T xi)"
    Params = ModernHopfieldParams
    step_unit = "update"
    records = ("attention",)
    knobs = {"beta": "beta"}

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        x = stimulus.bipolar_patterns().astype(np.float64)  # (P, d): rows are stored patterns
        xi = stimulus.bipolar_cues().astype(np.float64)
        scale = 1.0
        if p.normalize:
            scale = np.sqrt(x.shape[1])
            x, xi = x / scale, xi / scale
        history, weights_history = [xi], []
        converged = np.full(len(xi), -1)
        for step in range(1, p.max_steps + 1):
            new, weights = softmax_retrieval(xi, x, x, p.beta, separation=p.separation)
            weights_history.append(weights)
            done = np.max(np.abs(new - xi), axis=1) < p.tolerance
            converged[(converged < 0) & done] = step - 1
            xi = new
            history.append(xi)
            if np.all(converged >= 0):
                break
        states = np.stack(history, axis=1)
        energy = modern_hopfield_energy(states, x, p.beta, p.separation)
        out = states * scale
        if stimulus.coding == "binary":
            out = (out + 1) / 2
        ov = overlaps(out, stimulus.patterns, stimulus.coding)
        ds = standard_dataset(stimulus, out, ov, energy, converged, step_unit=self.step_unit,
                              attrs={"beta": p.beta, "separation": p.separation,
                                     "normalize": int(p.normalize),
                                     "score_scale": "unit sphere (cosine scores)" if p.normalize
                                     else "raw (|x|^2 = N for +-1 items)",
                                     "beta_normalised": float(p.beta * np.mean(np.sum(x * x, axis=1))),
                                     "separated_fraction": separated_fraction(x, p.beta),
                                     "stored_numbers": int(x.size),
                                     "memory": "P x N stored entries (the items)"})
        # attention weights of each update: (cue, step, pattern); step 0 has none
        att = np.concatenate([np.full((len(xi), 1, x.shape[0]), np.nan),
                              np.stack(weights_history, axis=1)], axis=1)
        ds["attention"] = (("cue", "step", "pattern"), att)
        return ds
