"""A stack of pre-norm Transformer blocks reading a memory of stored items.

Each block alternates association and processing (Vaswani et al. 2017, :cite:p:`vaswani2017`;
pre-norm as in Xiong et al. 2020, :cite:p:`xiong2020`):

    x <- x + MHA(LN(x), memory)      the "hippocampus": an input-dependent read
    x <- x + FF(LN(x))               the "cortex": fixed weights

**Memory mode.** The residual stream ``x`` lives in item space (one unit per
pixel or neuron) and starts as the cue (step 0). The stored items are the
memory: keys are ``LN(X) W_K``, values ``X W_V``, queries ``LN(x) W_Q``, with
``beta = 1/sqrt(d_k)`` unless given. With identity projections and one head a
block's attention is exactly one modern Hopfield update of the normalised cue
(Ramsauer et al. 2020, eq. 3), computed by the same
:func:`hipposim.functional.retrieval.softmax_retrieval`. Keys are layer-normed like the
query so the scores compare normalised patterns (cosine-like); values stay
raw items so that what is added to the stream is in item units.

**Why the residual does not blur recall.** A partial cue is the target on the
known units and 0 on the hidden ones. Adding the retrieved item ``r`` to it
gives ``cue + r``: on known units both agree (and the cue keeps them right even
when ``r`` is a mixture), on hidden units the stream is ``r`` alone. The
residual therefore accumulates evidence for the target rather than diluting
it; only the scale grows and becomes uneven (about 2 on known units, 1 on
hidden ones). Pre-norm handles the scale: every sublayer sees ``LN(x)``, never
the raw sum, and the readout below saturates.

**The cortex.** The FF layer is fitted to map the retrieved representation
back to the item: its first layer is a fixed random GELU/ReLU layer (random
features drawn from the run's rng), and its readout ``W_2, b_2`` is fitted by
ridge regression (:func:`scipy.linalg.solve`) so that ``FF(LN(h)) ~ item`` for
the post-attention streams ``h`` of the stored items and of randomly masked
copies of them (``ff_train_cues`` per item, random units hidden, never the
test cues). Each layer's FF is fitted on the streams that layer receives. As
with a cortical readout fitted during encoding, the weights are then frozen:
at recall only attention depends on the input. The block adds the FF output
to the stream, ``x = cue + r + FF(LN(cue + r))``, so known units sit near 3
and hidden units near 2 in the target's direction.

**Reconstructed item.** The recorded ``state`` after each block is the stream
read out in stimulus coding with a saturating readout, ``clip(x, -1, 1)``
(then ``(s + 1) / 2`` for binary coding), so overlaps are bounded by 1 and
step 0 (the cue itself) matches what the Hopfield models record.
``overlap_after_attention`` applies the same readout to ``cue + r``;
``overlap_after_ff`` equals ``overlap``. On the 8 built-in images with the
right half hidden (seed 0, defaults) attention puts >= 0.99 of its weight on
the target, and the final overlap is 1.00 for every image (the cue: 0.50).

**Score scale (beta's regime).** With layer norm, |LN(x)|^2 = N, so with
the default beta = 1/sqrt(d_k) a single head scores ``sqrt(N) cos`` and beta's
meaning depends on N. ``score_scale: unit`` puts queries and keys on the unit
sphere (after layer norm), so beta multiplies the cosine similarity, as in
``hopfield-modern-v1`` with ``normalize`` (then the default beta is
sqrt(d_k), the same scores as the default raw scale). Every result records
``beta_normalised = beta * mean |k|^2 / H``: the inverse temperature on cosine
scores per head (exact for one head; for H heads it assumes each head carries
1/H of the squared norm).

**One-shot storage.** ``ff_fit_items: k`` fits the FF on the first k items
only; the others enter the attention memory (one more key and value each)
without any refit, as items that arrive after training.

**Energy.** Recorded as NaN. The modern Hopfield energy is a Lyapunov function
of the pure update ``xi <- X softmax(beta X^T xi)``; the residual sum and the
FF step are not that update, so the energy need not fall across layers and
reporting it would invite a wrong reading.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.linalg
from pydantic import Field

from hipposim.functional.attention import attention_entropy, feed_forward, layer_norm, multi_head_attention
from hipposim.functional.coding import normalise_rows, saturating_readout
from hipposim.functional.ridge import ridge_regression
from hipposim.contract import Beta, Model, Params, standard_dataset
from hipposim.functional.retrieval import overlaps
from hipposim.stimuli import (Stimulus, check_training_declared_once, fit_count, training_inputs,
                             training_label)


class TransformerBlockParams(Params):
    n_layers: int = Field(1, ge=1, le=64, description="number of stacked pre-norm blocks L")
    n_heads: int = Field(1, ge=1, description="attention heads; must divide the number of units")
    beta: Beta | None = Field(None, description="inverse temperature of every head; None: 1/sqrt(d_k) on raw "
                                                "scores, sqrt(d_k) when score_scale is unit")
    projection: Literal["identity", "orthogonal", "fitted"] = Field(
        "identity", description="W_Q, W_K, W_V: identity; a random orthogonal matrix per layer "
                                "(W_O its transpose); or fitted whitening of the stored keys "
                                "(W_Q = W_K, W_V = W_O = identity)")
    ff_hidden: int = Field(512, ge=1, description="hidden units of the feed-forward (cortex) layer")
    activation: Literal["gelu", "relu"] = Field("gelu", description="FF nonlinearity (GELU is the exact erf form)")
    ridge_alpha: float = Field(1e-2, gt=0, description="ridge penalty of the fitted FF readout "
                                                       "(and of the fitted projection)")
    use_layer_norm: bool = Field(True, description="pre-norm the query stream and the keys; "
                                                   "False feeds the raw stream")
    ff_train_cues: int = Field(16, ge=0, description="randomly masked copies of each item used, with "
                                                     "the item itself, to fit the FF readout")
    ff_train_max_hidden: float = Field(0.6, ge=0, lt=1, description="largest fraction of units hidden "
                                                                    "in a training copy")
    score_scale: Literal["raw", "unit"] = Field("raw", description="raw: scores of the (layer-normed) "
                                                "vectors; unit: queries and keys on the unit sphere, beta "
                                                "multiplies the cosine (default beta then sqrt(d_k))")
    ff_fit_items: int | None = Field(None, ge=1, description="fit the FF on the first k items only; the "
                                                             "others are stored in the memory one-shot "
                                                             "(None: all)")


class TransformerBlock(Model):
    """Pre-norm Transformer blocks: attention reads the stored items, a fitted FF cleans up."""

    description = ("Transformer blocks in memory mode: MHA over the stored items (hippocampus), "
                   "ridge-fitted feed-forward (cortex), L pre-norm residual layers")
    Params = TransformerBlockParams
    step_unit = "layer"
    records = ("attention", "attention_entropy", "overlap_after_attention", "overlap_after_ff",
               "ff_weights", "ff_readout", "reconstruction_raw")
    knobs = {"beta": "beta"}

    #: parameter overrides that each scale memory (tests/test_limits.py measures the estimate at each)
    memory_probes = ({"ff_train_cues": 64}, {"ff_hidden": 2048}, {"n_layers": 6})

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """Peak bytes of a run (:mod:`hipposim.scenario.limits`): the result arrays and attention scores,
        ``4 N^2`` projections per layer (and their layer's temporaries, ``8 N^2`` in all), the ridge fit's
        ``ff_hidden^2`` Gram matrix, and the feed-forward training set ``(ff_train_cues + 1) P`` samples
        of ``N + ff_hidden`` numbers, :data:`~hipposim.scenario.limits.FIT_COPIES` times."""
        from hipposim.scenario.limits import FIT_COPIES, FLOAT, generic_estimate

        n, p = shape.n_units, shape.n_items
        out = generic_estimate(shape)
        hidden = shape.num("ff_hidden", 512)
        out["weights"] += (8 * n * n * max(shape.num("n_layers", 1), 1) + 2 * hidden * n + 2 * hidden * hidden) * FLOAT
        out["training"] = FIT_COPIES * (shape.num("ff_train_cues", 16) + 1) * p * (n + hidden) * FLOAT
        return out

    @classmethod
    def check_scenario(cls, params: TransformerBlockParams, scenario) -> None:
        size = getattr(scenario.patterns, "size", None)
        if size is not None and size % params.n_heads:
            raise ValueError(f"n_heads={params.n_heads} does not divide the {size} units of the patterns")
        check_training_declared_once(params, scenario, ("ff_train_cues", "ff_train_max_hidden"))

    # ------------------------------------------------------------------ weights

    def _projections(self, keys_source: np.ndarray, rng: np.random.Generator):
        """W_Q, W_K, W_V, W_O of one layer."""
        n = keys_source.shape[1]
        p = self.params
        eye = np.eye(n)
        if p.projection == "identity":
            return eye, eye, eye, eye
        if p.projection == "orthogonal":
            q, r = np.linalg.qr(rng.standard_normal((n, n)))
            q = q * np.sign(np.diag(r))  # Haar-distributed orthogonal matrix
            return q, q, q, q.T
        # fitted: whiten the keys, W = (C + alpha I)^(-1/2), rescaled to keep their mean norm
        cov = keys_source.T @ keys_source / len(keys_source)
        evals, evecs = scipy.linalg.eigh(cov)
        white = (evecs / np.sqrt(np.maximum(evals, 0) + p.ridge_alpha)) @ evecs.T
        scale = np.sqrt(np.mean(np.sum(keys_source**2, axis=1)) /
                        np.mean(np.sum((keys_source @ white) ** 2, axis=1)))
        return white * scale, white * scale, eye, eye

    def _attend(self, stream: np.ndarray, items: np.ndarray, w) -> tuple[np.ndarray, np.ndarray]:
        """MHA of the (normalised) stream over the items: keys from LN(items), values from the items.

        Each memory token carries both ``[LN(x^mu), x^mu]``; W_K reads the first
        half and W_V the second, so one call of
        :func:`hipposim.attention.multi_head_attention` does the whole read.
        """
        p = self.params
        w_q, w_k, w_v, w_o = w
        zeros = np.zeros_like(w_k)
        keys_source = layer_norm(items) if p.use_layer_norm else items
        query = layer_norm(stream) if p.use_layer_norm else stream
        if p.score_scale == "unit":
            keys_source, query = normalise_rows(keys_source), normalise_rows(query)
        memory = np.hstack([keys_source, items])
        return multi_head_attention(query[:, None, :], memory, w_q, np.vstack([w_k, zeros]),
                                    np.vstack([zeros, w_v]), w_o, n_heads=p.n_heads, beta=self._beta(items))

    def _beta(self, items: np.ndarray) -> float:
        """The inverse temperature of every head (defaults: 1/sqrt(d_k) raw, sqrt(d_k) on the unit sphere)."""
        p = self.params
        d_k = items.shape[1] // p.n_heads
        if p.beta is not None:
            return float(p.beta)
        return float(np.sqrt(d_k)) if p.score_scale == "unit" else float(1.0 / np.sqrt(d_k))

    def _beta_normalised(self, items: np.ndarray) -> float:
        """beta * mean |k|^2 / H: the inverse temperature on per-head cosine scores."""
        p = self.params
        keys = layer_norm(items) if p.use_layer_norm else items
        if p.score_scale == "unit":
            keys = normalise_rows(keys)
        return self._beta(items) * float(np.mean(np.sum(keys * keys, axis=1))) / p.n_heads

    def _fit_ff(self, streams: np.ndarray, targets: np.ndarray, rng: np.random.Generator):
        """Random first layer; W_2, b_2 by ridge so that FF(LN(h)) ~ target item."""
        p = self.params
        n = streams.shape[1]
        w1 = rng.standard_normal((n, p.ff_hidden)) / np.sqrt(n)
        b1 = 0.5 * rng.standard_normal(p.ff_hidden)
        inputs = layer_norm(streams) if p.use_layer_norm else streams
        hidden = feed_forward(inputs, w1, b1, np.eye(p.ff_hidden), np.zeros(p.ff_hidden), p.activation)
        design = np.hstack([hidden, np.ones((len(hidden), 1))])
        solution = ridge_regression(design, targets, p.ridge_alpha)
        return w1, b1, solution[:-1], solution[-1]

    def _ff(self, stream: np.ndarray, ff) -> np.ndarray:
        inputs = layer_norm(stream) if self.params.use_layer_norm else stream
        return feed_forward(inputs, *ff, activation=self.params.activation)

    def _training_streams(self, items: np.ndarray, stimulus: Stimulus, rng: np.random.Generator):
        """The FF's training cues: the scenario's corruption mixture when declared, else random masks."""
        p = self.params
        return training_inputs(items, stimulus, p.ff_train_cues, p.ff_train_max_hidden, "random", rng)

    # ------------------------------------------------------------------ run

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items = stimulus.bipolar_patterns().astype(np.float64)  # (P, N)
        n_items, n = items.shape
        if n % p.n_heads:
            raise ValueError(f"n_heads={p.n_heads} does not divide the {n} units of the patterns")
        n_fit = fit_count(p.ff_fit_items, n_items, "ff_fit_items")
        train, train_targets = self._training_streams(items[:n_fit], stimulus, rng)
        seen = items[:n_fit]  # the items present during training
        keys_source = layer_norm(seen) if p.use_layer_norm else seen

        # encoding: fix every layer's weights, fitting each FF on the streams it will see
        layers = []
        for _ in range(p.n_layers):
            w = self._projections(keys_source, rng)
            after_attention = train + self._attend(train, seen, w)[0][:, 0, :]
            ff = self._fit_ff(after_attention, train_targets, rng)
            train = after_attention + self._ff(after_attention, ff)
            layers.append((w, ff))
        self.layers_ = layers  # each layer's (projections, FF weights), fixed after encoding

        # recall: the cue is the query token
        stream = stimulus.bipolar_cues().astype(np.float64)
        n_cues = len(stream)
        states, after_att, weights = [self._readout(stream, stimulus)], [self._readout(stream, stimulus)], []
        raw = [stream]
        for w, ff in layers:
            read, att = self._attend(stream, items, w)
            stream = stream + read[:, 0, :]
            after_att.append(self._readout(stream, stimulus))
            stream = stream + self._ff(stream, ff)
            raw.append(stream)
            states.append(self._readout(stream, stimulus))
            weights.append(att[:, :, 0, :])  # (cue, head, memory)
        states, after_att = np.stack(states, axis=1), np.stack(after_att, axis=1)
        ov = overlaps(states, stimulus.patterns, stimulus.coding)
        change = np.max(np.abs(np.diff(states, axis=1)), axis=2)  # (cue, layer)
        still = change < 1e-6
        converged = np.where(still.any(axis=1), np.argmax(still, axis=1), -1)
        ds = standard_dataset(stimulus, states, ov, None, converged, step_unit=self.step_unit,
                              attrs={"model": "transformer-block-v1",
                                     "n_layers": p.n_layers, "n_heads": p.n_heads,
                                     "beta": self._beta(items),
                                     "score_scale": p.score_scale,
                                     "beta_normalised": self._beta_normalised(items),
                                     "ff_fit_items": n_fit,
                                     "stored_numbers": int(items.size + sum(
                                         sum(a.size for a in ff) for _, ff in layers)),
                                     "memory": "P x N stored entries (the items) + FF parameters",
                                     "ff_training": training_label(stimulus),
                                     "projection": p.projection, "activation": p.activation,
                                     "use_layer_norm": int(p.use_layer_norm),
                                     "energy_note": "NaN: the residual stack has no Lyapunov energy"})
        nan_step = np.full((n_cues, 1, p.n_heads, n_items), np.nan)
        att_all = np.concatenate([nan_step, np.stack(weights, axis=1)], axis=1)
        ds["attention"] = (("cue", "step", "head", "pattern"), att_all)
        ds["attention"].attrs["description"] = "attention weights of each layer (step 0: none)"
        ds["attention_entropy"] = (("cue", "step"), attention_entropy(att_all).mean(axis=2))
        ds["attention_entropy"].attrs.update(units="nat", description="mean over heads")
        ds["overlap_after_attention"] = (("cue", "step", "pattern"),
                                         overlaps(after_att, stimulus.patterns, stimulus.coding))
        ds["overlap_after_ff"] = ds["overlap"].copy()
        ds["reconstruction_raw"] = (("cue", "step", "unit"), np.stack(raw, axis=1))
        ds["reconstruction_raw"].attrs["description"] = "the residual stream before the saturating readout"
        ds["overlap_after_attention"].attrs["description"] = "step 0: the cue"
        first_w1, _, first_w2, _ = layers[0][1]
        ds["ff_weights"] = (("ff_in", "ff_hidden"), first_w1)
        ds["ff_weights"].attrs["description"] = "first layer's FF input weights W_1 (fixed, random)"
        ds["ff_readout"] = (("ff_hidden", "ff_out"), first_w2)
        ds["ff_readout"].attrs["description"] = "first layer's FF readout W_2 (fitted by ridge)"
        ds = ds.assign_coords(head=np.arange(p.n_heads))
        return ds

    @staticmethod
    def _readout(stream: np.ndarray, stimulus: Stimulus) -> np.ndarray:
        return saturating_readout(stream, stimulus.coding)
