"""A fixed-weight feed-forward baseline: the Transformer's feed-forward layer and residual, without attention.

    x <- x + FF(LN(x)),      FF(h) = phi(h W_1 + b_1) W_2 + b_2,      for ``n_steps`` passes

This is the Transformer block of ``transformer-block-v1`` with its attention
read removed, trained the same way: ``W_1, b_1`` are fixed random features
drawn from the run's rng; ``W_2, b_2`` are fitted once by ridge regression
(:func:`hipposim.functional.ridge.ridge_regression`) so that ``FF(LN(c)) ~ item``
for every stored item and ``train_cues`` masked copies of it (random units
hidden, up to ``train_max_hidden`` of them, as the Transformer's
``ff_train_cues``; or a named image region, ``train_mask``). The residual keeps
the cue: on known units cue and estimate agree, on hidden units the estimate
stands alone. The state after each pass is read out as ``clip(x, -1, 1)`` (then
``(s + 1) / 2`` for binary coding), the Transformer's saturating readout.

At recall the weights never change and nothing compares the cue with the
stored items: the baseline is what a trained network without an associative
memory read achieves. Items beyond the first ``fit_items`` are *not* trained
on: they stand for items that arrive after training, which a memory stores in
one shot (a Hebbian outer product, one more key and value) and a trained
network can only learn by retraining.

``mlp-baseline-v1`` (:class:`~hipposim.models.mlp_baseline.MLPBaselineV1`) keeps the first version: fitted on
the clean items only, no layer norm, no residual.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.attention import ACTIVATIONS, feed_forward, layer_norm
from hipposim.functional.coding import saturating_readout
from hipposim.functional.retrieval import overlaps
from hipposim.functional.ridge import ridge_regression
from hipposim.stimuli import (Stimulus, TrainMask, check_training_declared_once, fit_count, training_inputs,
                             training_label)

class MLPBaselineParams(Params):
    hidden: int = Field(512, ge=1, description="hidden units (fixed random features)")
    activation: Literal["gelu", "relu"] = Field("gelu", description="nonlinearity (GELU is the exact erf form)")
    ridge_alpha: float = Field(1e-2, gt=0, description="ridge penalty of the fitted readout W_2, b_2")
    n_steps: int = Field(1, ge=1, le=100, description="passes through the network, feeding the output back")
    train_cues: int = Field(16, ge=0, description="masked copies of each item, with the item itself, "
                                                  "used to fit the readout (the Transformer's ff_train_cues)")
    train_max_hidden: float = Field(0.6, ge=0, lt=1, description="largest fraction of units hidden in a "
                                                                 "random training copy")
    train_mask: TrainMask = Field("random", description="training copies: 'random' units hidden, or an "
                                                        "image region hidden in every copy")
    residual: bool = Field(True, description="add the FF output to the cue (x + FF(LN(x))), as the "
                                             "Transformer's residual stream")
    use_layer_norm: bool = Field(True, description="layer-norm the FF input, as the Transformer's pre-norm")
    fit_items: int | None = Field(None, ge=1, description="train on the first k stored items only; the "
                                                          "others arrive after training (None: all)")


class MLPBaseline(Model):
    """The Transformer's feed-forward layer and residual, trained on masked copies, with no attention."""

    description = ("MLP baseline: random GELU features + ridge readout trained on masked copies of the "
                   "items (as the Transformer's FF), residual path; no association step")
    Params = MLPBaselineParams
    step_unit = "update"
    records = ("ff_weights", "ff_readout", "reconstruction_raw")

    #: parameter overrides that each scale memory (tests/test_limits.py measures the estimate at each)
    memory_probes = ({"train_cues": 64}, {"hidden": 2048}, {"n_steps": 20})

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """Peak bytes of a run (:mod:`hipposim.scenario.limits`): the result arrays, the random features
        ``hidden x N``, the readout and the ridge fit's Gram matrix (``hidden`` or samples squared, whichever is smaller), and the training set of ``(train_cues + 1) P`` samples of
        ``N + hidden`` numbers, :data:`~hipposim.scenario.limits.FIT_COPIES` times."""
        from hipposim.scenario.limits import FIT_COPIES, FLOAT, generic_estimate

        n, p = shape.n_units, shape.n_items
        hidden = shape.num("hidden", 512)
        out = generic_estimate(shape)
        samples = (shape.num("train_cues", 0) + 1) * p
        gram = min(samples, hidden)  # the ridge fit solves the smaller of its primal and dual forms
        out["weights"] += (4 * hidden * n + 2 * gram * gram) * FLOAT  # features, readout, ridge Gram matrix
        out["training"] = FIT_COPIES * samples * (n + hidden) * FLOAT
        return out

    @classmethod
    def check_scenario(cls, params, scenario) -> None:
        check_training_declared_once(params, scenario, ("train_cues", "train_max_hidden", "train_mask"))

    def _norm(self, x: np.ndarray) -> np.ndarray:
        return layer_norm(x) if self.params.use_layer_norm else x

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items = stimulus.bipolar_patterns().astype(np.float64)
        n_items, n = items.shape
        k = fit_count(p.fit_items, n_items)
        w1 = rng.standard_normal((n, p.hidden)) / np.sqrt(n)
        b1 = 0.5 * rng.standard_normal(p.hidden)
        inputs, targets = training_inputs(items[:k], stimulus, p.train_cues, p.train_max_hidden, p.train_mask,
                                          rng)
        hidden = ACTIVATIONS[p.activation](self._norm(inputs) @ w1 + b1)  # the FF layer's hidden units
        design = np.hstack([hidden, np.ones((len(hidden), 1))])
        solution = ridge_regression(design, targets, p.ridge_alpha)
        self.readout_, self.readout_bias_ = solution[:-1], solution[-1]

        x = stimulus.bipolar_cues().astype(np.float64)
        history, raw = [x], [x]
        for _ in range(p.n_steps):
            y = feed_forward(self._norm(x), w1, b1, self.readout_, self.readout_bias_, p.activation)
            raw.append(x + y if p.residual else y)
            x = saturating_readout(raw[-1], "bipolar")
            history.append(x)
        states = saturating_readout(np.stack(history, axis=1), stimulus.coding)
        ov = overlaps(states, stimulus.patterns, stimulus.coding)
        still = np.max(np.abs(np.diff(states, axis=1)), axis=2) < 1e-6
        converged = np.where(still.any(axis=1), np.argmax(still, axis=1), -1)
        n_params = w1.size + b1.size + self.readout_.size + self.readout_bias_.size
        ds = standard_dataset(stimulus, states, ov, None, converged, step_unit=self.step_unit,
                              attrs={"model": type(self).model_name, "hidden": p.hidden,
                                     "activation": p.activation, "n_steps": p.n_steps,
                                     "train_cues": p.train_cues, "train_mask": p.train_mask,
                                     "training": training_label(stimulus),
                                     "residual": int(p.residual), "use_layer_norm": int(p.use_layer_norm),
                                     "fit_items": k,
                                     "stored_numbers": int(n_params),
                                     "memory": "parameters (W_1, b_1 random; W_2, b_2 fitted)"})
        ds["reconstruction_raw"] = (("cue", "step", "unit"), np.stack(raw, axis=1))
        ds["reconstruction_raw"].attrs["description"] = "the stream before the saturating readout (bipolar)"
        ds["ff_weights"] = (("ff_in", "ff_hidden"), w1)
        ds["ff_weights"].attrs["description"] = "input weights W_1 (fixed, random)"
        ds["ff_readout"] = (("ff_hidden", "ff_out"), self.readout_)
        ds["ff_readout"].attrs["description"] = "readout W_2 (fitted by ridge on masked copies -> items)"
        return ds

    model_name = "mlp-baseline-v2"


class MLPBaselineV1Params(MLPBaselineParams):
    train_cues: int = Field(0, ge=0, description="masked copies of each item used to fit the readout "
                                                 "(v1: none, clean items only)")
    residual: bool = Field(False, description="add the FF output to the cue (v1: no)")
    use_layer_norm: bool = Field(False, description="layer-norm the FF input (v1: no)")


class MLPBaselineV1(MLPBaseline):
    """First version: readout fitted on the clean items only, no residual, no layer norm."""

    description = ("MLP baseline v1: random GELU features + ridge readout fitted on the clean items only, "
                   "no residual (kept so old scenarios keep their meaning)")
    Params = MLPBaselineV1Params
    model_name = "mlp-baseline-v1"
