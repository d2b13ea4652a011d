"""The classical asymmetric sequence network (Sompolinsky & Kanter 1986; Kleinfeld 1986).

Storage by the temporally asymmetric Hebb rule J = (1/N) sum_mu xi^(mu+1) xi^mu^T over every
stored transition (Sompolinsky & Kanter 1986, eq. 2), optionally with the symmetric term
lambda J_s, J_s = (1/N) sum_mu xi^mu xi^mu^T; recall by parallel dynamics x(t+1) = sgn(J x(t)),
so that each update moves the state one item along its sequence. Its critical load under
parallel dynamics is alpha_c = P/N ~ 0.269 (During, Coolen & Sherrington 1998). The field is
:func:`hipposim.functional.retrieval.sequence_field` with the identity separation.
"""
from __future__ import annotations

import numpy as np
from pydantic import Field

from hipposim.functional.retrieval import play_sequences
from hipposim.stimuli import Stimulus

from .sequence_base import SequenceModel, SequenceParams, default_steps, sequence_memory_estimate


class ClassicalSequenceParams(SequenceParams):
    symmetric: float = Field(0.0, ge=0, le=10, allow_inf_nan=False,
                             description="lambda, weight of the symmetric term lambda J_s (0: purely asymmetric)")


class ClassicalSequence(SequenceModel):
    """Classical asymmetric sequence network: J = (1/N) sum_mu xi^(mu+1) xi^mu^T, x(t+1) = sgn(J x(t))."""

    description = ("Classical asymmetric sequence network (Sompolinsky & Kanter 1986): "
                   "J = (1/N) sum xi^(mu+1) xi^mu^T, x <- sgn(J x)")
    Params = ClassicalSequenceParams

    @classmethod
    def memory_estimate(cls, shape) -> dict[str, float]:
        return sequence_memory_estimate(shape, weights=2 * shape.n_units * shape.n_items)

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items, keys, values = self.transitions(stimulus)
        steps = default_steps(stimulus, p.max_steps)
        states, _ = play_sequences(stimulus.bipolar_cues(), items[keys], items[values], steps, "identity",
                                   symmetric=p.symmetric, items=items)
        n = items.shape[1]
        return self.dataset(stimulus, states, {
            "symmetric": p.symmetric, "load": len(keys) / n,
            "stored_numbers": int(n * n), "memory": "N^2 synapses J (asymmetric Hebb rule)"})
