"""A denoising autoencoder trained by backpropagation: the strongest memory-free baseline.

    s = clip(f(c), -1, 1),      f(c) = phi(c W_1 + b_1) W_2 + b_2

Every weight is learned by backpropagation (Adam on the squared error, full batch,
scikit-learn's :class:`sklearn.neural_network.MLPRegressor`), mapping corrupted
copies of the stored items to the items (Vincent et al. 2008, :cite:p:`vincent2008`): the items
themselves and ``train_cues`` masked copies of each, built exactly as for
``mlp-baseline-v2`` (random units hidden, or an image region). The network's
seed comes from the run's rng. At recall its weights are fixed and nothing
compares the cue with the stored items. Items beyond the first ``fit_items``
are not trained on (they arrive after training).
"""
from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
from pydantic import Field

from hipposim.contract import Model, Params, standard_dataset
from hipposim.functional.coding import saturating_readout
from hipposim.functional.retrieval import overlaps
from hipposim.stimuli import (Stimulus, TrainMask, check_training_declared_once, fit_count, training_inputs,
                             training_label)



class AutoencoderParams(Params):
    hidden: int = Field(256, ge=1, description="hidden units (all weights trained by backpropagation)")
    activation: Literal["relu", "tanh", "logistic"] = Field("tanh", description="hidden nonlinearity")
    alpha: float = Field(1e-4, ge=0, description="L2 penalty")
    learning_rate: float = Field(1e-2, gt=0, description="Adam step size")
    max_iter: int = Field(200, ge=1, description="training epochs (Adam, full batch; stops early when the "
                                                 "loss stops falling for 20 epochs)")
    train_cues: int = Field(16, ge=0, description="masked copies of each item, with the item itself")
    train_max_hidden: float = Field(0.6, ge=0, lt=1, description="largest fraction of units hidden in a "
                                                                 "random training copy")
    train_mask: TrainMask = Field("random", description="training copies: 'random' units hidden, or an "
                                                        "image region hidden in every copy")
    n_steps: int = Field(1, ge=1, le=100, description="passes through the network, feeding the output back")
    fit_items: int | None = Field(None, ge=1, description="train on the first k stored items only; the "
                                                          "others arrive after training (None: all)")


class DenoisingAutoencoder(Model):
    """One-hidden-layer denoising autoencoder trained with scikit-learn's MLPRegressor."""

    description = ("Denoising autoencoder: one hidden layer, every weight trained by backpropagation "
                   "(scikit-learn MLPRegressor) on masked copies -> items; no association step")
    Params = AutoencoderParams
    step_unit = "update"
    records = ("reconstruction_raw",)

    #: parameter overrides that each scale memory (tests/test_limits.py measures the estimate at each)
    memory_probes = ({"train_cues": 40, "max_iter": 50}, {"hidden": 768, "max_iter": 50}, {"n_steps": 20, "max_iter": 50})

    @classmethod
    def memory_estimate(cls, shape) -> dict:
        """Peak bytes of a run (:mod:`hipposim.scenario.limits`): the result arrays; scikit-learn's
        MLPRegressor on ``(train_cues + 1) P`` samples (inputs, targets, hidden and output activations
        and their gradients: about 3 x (2 N + hidden) numbers per sample) and its weights with Adam's two
        moment estimates (3 x 2 N hidden); plus 2 MiB for scikit-learn's own state."""
        from hipposim.scenario.limits import FIT_COPIES, FLOAT, generic_estimate

        n, p = shape.n_units, shape.n_items
        hidden = shape.num("hidden", 256)
        samples = (shape.num("train_cues", 16) + 1) * p
        out = generic_estimate(shape)
        out["weights"] += 3 * 2 * 2 * n * hidden * FLOAT
        out["training"] = FIT_COPIES * samples * (2 * n + hidden) * FLOAT + 2 * 2 ** 20
        return out

    @classmethod
    def check_scenario(cls, params, scenario) -> None:
        check_training_declared_once(params, scenario, ("train_cues", "train_max_hidden", "train_mask"))

    def run(self, stimulus: Stimulus, rng: np.random.Generator):
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPRegressor
        from threadpoolctl import threadpool_limits

        p = self.params
        items = stimulus.bipolar_patterns().astype(np.float64)
        k = fit_count(p.fit_items, len(items))
        inputs, targets = training_inputs(items[:k], stimulus, p.train_cues, p.train_max_hidden, p.train_mask,
                                          rng)
        net = MLPRegressor(hidden_layer_sizes=(p.hidden,), activation=p.activation, alpha=p.alpha,
                           learning_rate_init=p.learning_rate, max_iter=p.max_iter, solver="adam",
                           batch_size=len(inputs), tol=1e-6, n_iter_no_change=20,
                           random_state=int(rng.integers(2**31 - 1)))
        # one BLAS thread: these matrices are small, and thread hand-offs cost more than they save
        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore", ConvergenceWarning)
            net.fit(inputs, targets)
        self.net_ = net
        x = stimulus.bipolar_cues().astype(np.float64)
        history, raw = [x], [x]
        for _ in range(p.n_steps):
            raw.append(net.predict(x))
            x = saturating_readout(raw[-1], "bipolar")
            history.append(x)
        states = saturating_readout(np.stack(history, axis=1), stimulus.coding)
        ov = overlaps(states, stimulus.patterns, stimulus.coding)
        still = np.max(np.abs(np.diff(states, axis=1)), axis=2) < 1e-6
        converged = np.where(still.any(axis=1), np.argmax(still, axis=1), -1)
        n_params = sum(w.size for w in net.coefs_) + sum(b.size for b in net.intercepts_)
        ds = standard_dataset(stimulus, states, ov, None, converged, step_unit=self.step_unit,
                                attrs={"model": "autoencoder-v1", "hidden": p.hidden, "activation": p.activation,
                                       "train_cues": p.train_cues, "train_mask": p.train_mask,
                                       "training": training_label(stimulus),
                                       "fit_items": k, "epochs": int(net.n_iter_),
                                       "final_loss": float(net.loss_),
                                       "stored_numbers": int(n_params),
                                       "memory": "parameters (all trained by backpropagation)"})
        ds["reconstruction_raw"] = (("cue", "step", "unit"), np.stack(raw, axis=1))
        ds["reconstruction_raw"].attrs["description"] = "the network output before the saturating readout"
        return ds
