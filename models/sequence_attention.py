"""Attention as a sequence memory: causal next-item recall, and the in-context (induction) form.

``attention-causal-v1``: the stored sequences are the keys and values of one attention read,
shifted by one item: keys xi^1..xi^(L-1), values xi^2..xi^L, and

    x(t+1) = sgn( V^T softmax(beta K x(t) / N) ),

the exponential dense sequence network of Chaudhry et al. (2023) divided by its positive
normaliser (:func:`hipposim.functional.retrieval.sequence_field`). beta multiplies the overlap
m = xi . x / N (the cosine of +-1 items); the result records ``separated_fraction``, the fraction
of keys meeting the separation condition of Ramsauer et al. (2020, Theorem 3) on these scores.

``attention-induction-v1``: nothing is stored in weights. The stored sequences are the context,
the token stream a Transformer has seen (each sequence one segment; a cyclic sequence ends with
its first item again), the cue is appended as a new segment, and each step appends the sign of the
masked attention output of the last token (:func:`hipposim.functional.retrieval.induction_attention`:
the key of a position is the token before it, its value the token itself, Olsson et al. 2022).
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from hipposim.contract import Beta
from hipposim.functional.retrieval import induction_attention, play_sequences, sign_update
from hipposim.stimuli import Stimulus

from .hopfield_modern import separated_fraction
from .sequence_base import SequenceModel, SequenceParams, default_steps, sequence_memory_estimate


class CausalAttentionParams(SequenceParams):
    beta: Beta = Field(32.0, description="inverse temperature on the overlaps m = xi.x/N (cosine scores)")


class CausalAttention(SequenceModel):
    """Causal attention as next-item recall: x(t+1) = sgn(V^T softmax(beta K x(t) / N))."""

    description = ("Causal attention as next-item recall: keys xi^1..xi^(L-1), values xi^2..xi^L, "
                   "x <- sgn(V^T softmax(beta K x / N))")
    Params = CausalAttentionParams
    knobs: ClassVar[dict[str, str]] = {"beta": "beta"}
    records: ClassVar[tuple[str, ...]] = ("attention",)

    @classmethod
    def memory_estimate(cls, shape) -> dict[str, float]:
        return sequence_memory_estimate(shape, scores_per_step=2, weights=2 * shape.n_units * shape.n_items)

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items, keys, values = self.transitions(stimulus)
        n = items.shape[1]
        steps = default_steps(stimulus, p.max_steps)
        states, weights = play_sequences(stimulus.bipolar_cues(), items[keys], items[values], steps, "softmax",
                                         beta=p.beta)
        unit = items[keys] / np.sqrt(n)
        return self.dataset(stimulus, states, {
            "beta": p.beta, "separated_fraction": separated_fraction(unit, p.beta),
            "load": len(keys) / n, "stored_numbers": int(items.size),
            "memory": "P x N stored entries (the items, as keys and values)"}, weights, keys)


class InductionAttentionParams(SequenceParams):
    beta: Beta = Field(32.0, description="inverse temperature on the overlaps m = x_t.x_(j-1)/N")


def context_stream(stimulus: Stimulus, items: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The context of the induction read: every stored sequence as one segment, a cyclic one closed by
    its first item. Returns (tokens (T, N), segment (T,), pattern index of each token (T,))."""
    seqs = stimulus.sequences
    order = [np.append(s, s[0]) if stimulus.cyclic else s for s in seqs]
    index = np.concatenate(order)
    segment = np.concatenate([np.full(len(o), k) for k, o in enumerate(order)])
    return items[index], segment, index


class InductionAttention(SequenceModel):
    """In-context sequence recall: masked attention over the sequence seen so far (an induction head)."""

    description = ("In-context (induction) attention: masked attention over the sequences seen so far, "
                   "key = previous token, value = token")
    Params = InductionAttentionParams
    knobs: ClassVar[dict[str, str]] = {"beta": "beta"}
    records: ClassVar[tuple[str, ...]] = ("attention",)

    @classmethod
    def memory_estimate(cls, shape) -> dict[str, float]:
        steps = shape.num("max_steps", 0) or max(shape.sequence_length, 2)
        context = shape.n_items * 2 + steps + 1  # tokens (cyclic: one more per sequence) and generations
        parts = sequence_memory_estimate(shape, scores_per_step=2)
        parts["context"] = 4 * context * shape.n_units * 8
        return parts

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items, _, _ = self.transitions(stimulus)
        steps = default_steps(stimulus, p.max_steps)
        prompt, segment, index = context_stream(stimulus, items)
        cues = stimulus.bipolar_cues().astype(float)
        n_cues, n = cues.shape
        states = np.zeros((n_cues, steps + 1, n))
        att = np.full((n_cues, steps + 1, stimulus.n_patterns), np.nan)
        own = segment.max() + 1
        for c in range(n_cues):
            tokens = np.concatenate([prompt, cues[c][None], np.zeros((steps, n))])
            seg = np.concatenate([segment, np.full(steps + 1, own)])
            x = cues[c]
            states[c, 0] = x
            for t in range(steps):
                last = len(prompt) + t
                out, w = induction_attention(tokens[:last + 1], seg[:last + 1], p.beta, queries=np.array([last]))
                x = sign_update(out[0], x)
                tokens[last + 1] = x
                states[c, t + 1] = x
                # the weight of each stored pair, on the pattern of its key (the token before it)
                row = np.zeros(stimulus.n_patterns)
                pos = np.arange(1, len(prompt))
                np.add.at(row, index[pos - 1], w[0, pos])
                att[c, t + 1] = row
        ds = self.dataset(stimulus, states, {
            "beta": p.beta, "context_tokens": int(len(prompt)), "stored_numbers": int(prompt.size),
            "memory": "the context: every stored item as a token (no weights)"})
        ds["attention"] = (("cue", "step", "pattern"), att)
        ds["attention"].attrs["description"] = ("weight of the context pair whose key (the earlier token) "
                                                "is this pattern, at each step (step 0 has none)")
        return ds
