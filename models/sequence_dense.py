"""The dense sequence network (Chaudhry, Zavatone-Veth, Krotov & Pehlevan 2023, "Long sequence Hopfield memory").

Update (their eq. 3): x(t+1) = sgn( sum_mu xi^(mu+1) f(m^mu(t)) ), m^mu = xi^mu . x(t) / N, with
f(m) = m^d (polynomial, "DenseNet") or f(m) = exp(beta m) (exponential; they take beta = N - 1).
The separation f raises the signal of the current item above the crosstalk of the others: for
f = m^d the crosstalk variance is about P (2d - 1)!! / N^d, so the longest sequence played
without error grows like N^d / ln N instead of the classical 0.27 N. The field is
:func:`hipposim.functional.retrieval.sequence_field`; the exponential read is computed up to a
positive factor of each cue, which the sign ignores.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from hipposim.functional.retrieval import play_sequences
from hipposim.stimuli import Stimulus

from .sequence_base import SequenceModel, SequenceParams, default_steps, sequence_memory_estimate


class DenseSequenceParams(SequenceParams):
    separation: Literal["polynomial", "exponential"] = Field(
        "polynomial", description="f(m) = m^degree (polynomial) or exp(beta m) (exponential)")
    degree: int = Field(3, ge=1, le=12, description="polynomial: the power d (1 is the classical network)")
    beta: float | None = Field(None, gt=0, le=1e6, allow_inf_nan=False,
                               description="exponential: the scale beta of m in exp(beta m) (default N - 1, "
                                           "Chaudhry et al. 2023)")


class DenseSequence(SequenceModel):
    """Dense sequence network: x(t+1) = sgn(sum_mu xi^(mu+1) f(xi^mu . x / N)), f = m^d or exp(beta m)."""

    description = ("Dense sequence network (Chaudhry et al. 2023): x <- sgn(sum xi^(mu+1) f(xi^mu.x/N)), "
                   "f = m^d or exp")
    Params = DenseSequenceParams

    @classmethod
    def memory_estimate(cls, shape) -> dict[str, float]:
        return sequence_memory_estimate(shape, scores_per_step=2, weights=2 * shape.n_units * shape.n_items)

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items, keys, values = self.transitions(stimulus)
        n = items.shape[1]
        steps = default_steps(stimulus, p.max_steps)
        beta = (p.beta if p.beta is not None else n - 1.0) if p.separation == "exponential" else None
        states, _ = play_sequences(stimulus.bipolar_cues(), items[keys], items[values], steps, p.separation,
                                   beta=beta, degree=p.degree)
        attrs = {"separation": p.separation, "load": len(keys) / n,
                 "stored_numbers": int(items.size), "memory": "P x N stored entries (the items)"}
        attrs.update({"degree": p.degree} if p.separation == "polynomial" else {"beta": float(beta)})
        return self.dataset(stimulus, states, attrs)
