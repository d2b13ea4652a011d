"""A fixed-weight feed-forward baseline: an autoencoder with no association step.

    y = FF(x) = phi(x W_1 + b_1) W_2 + b_2,      x <- y   for ``n_steps`` passes

``W_1, b_1`` are fixed random features drawn from the run's rng; ``W_2, b_2``
are fitted once by ridge regression (:func:`scipy.linalg.solve`, via
:func:`hipposim.functional.ridge.ridge_regression`) to map every
stored item to itself. At recall the weights never change: there is no step
that compares the cue with the stored items and builds its weights from that
comparison, as attention (or a Hopfield update) does. The state after each pass
is read out as ``clip(y, -1, 1)`` (then ``(s + 1) / 2`` for binary coding), the
same saturating readout as ``transformer-block-v1``.

This is the control for the claim that completion needs an input-dependent
memory read: on the 8 built-in images with the right half of apple hidden
(seed 0, default parameters) its final overlap with apple is 0.51 (0.54 on average
over the 8 images; 5 passes do no better), where
``transformer-block-v1`` reaches 1.00 and the cue itself starts at 0.50.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from hipposim.functional.attention import feed_forward
from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.coding import saturating_readout
from hipposim.functional.ridge import ridge_regression
from hipposim.functional.retrieval import overlaps
from hipposim.stimuli import Stimulus


class MLPBaselineParams(Params):
    hidden: int = Field(512, ge=1, description="hidden units (fixed random features)")
    activation: Literal["gelu", "relu"] = Field("gelu", description="nonlinearity (GELU is the exact erf form)")
    ridge_alpha: float = Field(1e-2, gt=0, description="ridge penalty of the fitted readout W_2, b_2")
    n_steps: int = Field(1, ge=1, le=100, description="passes through the network, feeding the output back")


class MLPBaseline(Model):
    """Fixed random hidden layer and a ridge-fitted readout, trained to map items to themselves."""

    description = ("MLP baseline: fixed-weight autoencoder (random GELU features + ridge readout) "
                   "applied to the cue; no association step")
    Params = MLPBaselineParams
    step_unit = "update"
    records = ("ff_weights", "ff_readout")

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        p = self.params
        items = stimulus.bipolar_patterns().astype(np.float64)
        n = items.shape[1]
        w1 = rng.standard_normal((n, p.hidden)) / np.sqrt(n)
        b1 = 0.5 * rng.standard_normal(p.hidden)
        hidden = feed_forward(items, w1, b1, np.eye(p.hidden), np.zeros(p.hidden), p.activation)
        design = np.hstack([hidden, np.ones((len(items), 1))])
        solution = ridge_regression(design, items, p.ridge_alpha)
        self.readout_, self.readout_bias_ = solution[:-1], solution[-1]

        x = stimulus.bipolar_cues().astype(np.float64)
        history = [x]
        for _ in range(p.n_steps):
            x = saturating_readout(feed_forward(x, w1, b1, self.readout_, self.readout_bias_, p.activation),
                                   "bipolar")
            history.append(x)
        states = saturating_readout(np.stack(history, axis=1), stimulus.coding)
        ov = overlaps(states, stimulus.patterns, stimulus.coding)
        still = np.max(np.abs(np.diff(states, axis=1)), axis=2) < 1e-6
        converged = np.where(still.any(axis=1), np.argmax(still, axis=1), -1)
        ds = standard_dataset(stimulus, states, ov, None, converged, step_unit=self.step_unit,
                              attrs={"model": "mlp-baseline-v1", "hidden": p.hidden,
                                     "activation": p.activation, "n_steps": p.n_steps})
        ds["ff_weights"] = (("ff_in", "ff_hidden"), w1)
        ds["ff_weights"].attrs["description"] = "input weights W_1 (fixed, random)"
        ds["ff_readout"] = (("ff_hidden", "ff_out"), self.readout_)
        ds["ff_readout"].attrs["description"] = "readout W_2 (fitted by ridge, items -> items)"
        return ds
