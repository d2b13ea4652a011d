"""What every abstract sequence memory shares: reading the stored sequences, playing them, the result.

A sequence model stores the transitions xi^mu -> xi^(mu+1) of every sequence of the stimulus
(:func:`hipposim.functional.retrieval.sequence_transitions`) and, from each cue, runs parallel
sign dynamics for ``max_steps`` steps; step t of the result is the state after t updates, so a
perfect player holds the item t positions after the cued one at step t. The result is the
standard dataset of :mod:`hipposim.contract` (``overlap(cue, step, pattern)``: m = xi . s / N
for +-1 items, the Pearson correlation for 0/1 items); sparse 0/1 items are played as 2x - 1.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.retrieval import overlaps, sequence_transitions
from hipposim.stimuli import Stimulus


class SequenceParams(Params):
    max_steps: int | None = Field(None, gt=0, le=100_000,
                                  description="updates played from each cue (default: L - 1, or L for "
                                              "cyclic sequences: to the last item, or once round)")


def default_steps(stimulus: Stimulus, max_steps: int | None) -> int:
    """Steps to play: ``max_steps``, else L - 1 (L for cyclic sequences)."""
    if max_steps is not None:
        return int(max_steps)
    length = stimulus.sequences.shape[1]
    return length if stimulus.cyclic else length - 1


def sequence_memory_estimate(shape, scores_per_step: float = 0.0, weights: float = 0.0) -> dict[str, float]:
    """Bytes of a sequence model's run: the result arrays ``5 x C x S x (N + P)`` for S played steps
    (``max_steps`` as written, else the sequence length L), the recorded per-step transition
    weights ``C x S x P`` with ``scores_per_step`` copies, and ``weights`` numbers of its own."""
    from hipposim.scenario.limits import FLOAT, trace_bytes

    steps = shape.num("max_steps", 0) or max(shape.sequence_length, 2)
    steps += 1
    c, p = shape.n_cues, shape.n_items
    return {"traces": trace_bytes(shape, steps),
            "transition weights": (scores_per_step + 1) * c * steps * p * FLOAT,
            "weights": weights * FLOAT}


class SequenceModel(Model):
    """Base of the abstract sequence memories: plays sequences only."""

    plays_sequences: ClassVar[bool] = True
    recalls_items: ClassVar[bool] = False
    step_unit: ClassVar[str] = "update"
    memory_probes: ClassVar[tuple] = ({"max_steps": 200},)

    @classmethod
    def memory_estimate(cls, shape) -> dict[str, float]:
        return sequence_memory_estimate(shape)

    def transitions(self, stimulus: Stimulus) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(items as +-1 (P, N), keys (T,), values (T,)); ValueError for patterns that are not sequences."""
        if stimulus.sequences is None:
            raise ValueError(f"{type(self).__name__} plays sequences; the stimulus holds no sequences "
                             "(patterns.kind: sequences)")
        keys, values = sequence_transitions(stimulus.sequences, stimulus.cyclic)
        return stimulus.bipolar_patterns().astype(float), keys, values

    def dataset(self, stimulus: Stimulus, states: np.ndarray, attrs: dict, weights: np.ndarray | None = None,
                keys: np.ndarray | None = None):
        """The standard result of played states (C, S + 1, N) in +-1; ``weights`` (C, S, T) of the
        transitions with key pattern ``keys`` become ``attention(cue, step, pattern)``."""
        still = np.all(states[:, 1:] == states[:, :-1], axis=2)  # (C, S): no unit changed at this step
        converged = np.array([int(np.argmax(r)) if r.any() else -1 for r in still])
        out = states if stimulus.coding == "bipolar" else (states + 1) / 2
        ov = overlaps(out, stimulus.patterns, stimulus.coding)
        attrs = {"plays_sequences": 1, "cyclic": int(stimulus.cyclic), **attrs}
        ds = standard_dataset(stimulus, out, ov, None, converged, step_unit=self.step_unit, attrs=attrs)
        if weights is not None:
            att = np.full(ov.shape, np.nan)
            att[:, 1:] = 0.0
            np.add.at(att, (slice(None), slice(1, None), keys), weights)  # weight of the key's item
            ds["attention"] = (("cue", "step", "pattern"), att)
            ds["attention"].attrs["description"] = ("weight of the transition whose first item is this "
                                                    "pattern, at each step (step 0 has none)")
        return ds
