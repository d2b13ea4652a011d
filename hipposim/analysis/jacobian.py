"""Input dependence, measured: the Jacobian of each model's map from cue to reconstruction.

A model maps a cue c (item space, N units) to a reconstruction r(c). Its
local linear map at a cue is the Jacobian

    J_ij(c) = d r_i / d c_j,

and how much that map depends on the input is its *variability across cues*,

    v = mean_ij std_c J_ij(c) / mean_ij |J_ij(c)|,

the same statistic :func:`hipposim.analysis.weights.weight_variability` applies
to effective weights, but here applied to a measured quantity: v = 0 exactly
when the map is the same linear map at every cue. The reconstruction
differentiated is the model's continuous estimate: ``reconstruction_raw``
where the model records one (the stream before a saturating or threshold
readout), else ``state``.

Closed forms where they exist:

* **Hopfield (classical, sparse)**: the sign (or k-WTA) readout has zero
  Jacobian almost everywhere; the map that carries the memory is the linear
  local field h = W s, whose Jacobian is W at every cue
  (:func:`field_jacobian`), so v = 0.
* **Attention / modern Hopfield**: one read r = X^T softmax(beta X xi) has
  J = beta X^T (diag p - p p^T) X with p = softmax(beta X xi); T updates
  chain to J_T ... J_1 (:func:`softmax_jacobian`, :func:`modern_jacobian`).

Everything else is measured by central finite differences
(:func:`finite_difference_jacobian`): the model is rerun with the same seed
(so trained weights are identical) on cues c +- eps d_k for directions d_k
(unit vectors for the full Jacobian, or a few random directions for a sketch
J D that costs 2 K runs instead of 2 N). Error O(eps^2) for smooth maps.

**Cost.** A finite-difference Jacobian reruns the model on 2 K perturbed
copies of every cue, batched into one run per chunk. For the Transformer,
MLP and autoencoder at N = 256 and 3 cues the full Jacobian is about 1500
cues in a few runs (seconds). For the spiking CA3 network every cue is a
recall period of a Brian2 simulation, so a sketch with K directions costs
2 K complete simulations (minutes each at the default size):
:func:`spiking_rate_jacobian` is therefore never called by the comparison
unless asked (``compare_runs(..., spiking_jacobian=True)``).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np

from .weights import weight_variability


def jacobian_variability(jac: np.ndarray) -> float | None:
    """v = mean_ij std_c J_ij / mean_ij |J_ij| over a (cue, out, in) stack; None for an all-zero map."""
    jac = np.asarray(jac, dtype=float)
    if not np.nanmean(np.abs(jac)) > 0:
        return None
    return weight_variability(jac)


#: below this mean |J_ij| the map is flat (a saturated read, an attractor) and its variability is not reported
FLAT = 1e-8


def jacobian_summary(jac: np.ndarray, how: str) -> dict[str, Any]:
    """Variability, mean magnitude mean|J_ij| and mean Frobenius norm per cue of a (cue, out, in) stack.

    A map with mean |J_ij| below :data:`FLAT` is flat at these cues (the
    reconstruction does not move with the cue: a saturated softmax, an
    attractor); its variability is then rounding noise and reported as None.
    """
    jac = np.asarray(jac, dtype=float)
    flat = not np.mean(np.abs(jac)) >= FLAT
    if flat:
        how += "; flat map (mean |J| < 1e-8): variability not defined"
    return {"jacobian_variability": None if flat else jacobian_variability(jac),
            "jacobian_mean_abs": float(np.mean(np.abs(jac))),
            "jacobian_frobenius": float(np.mean(np.sqrt(np.sum(jac ** 2, axis=(1, 2))))),
            "jacobian_method": how}


# --------------------------------------------------------------------------- closed forms

def field_jacobian(weights: np.ndarray, n_cues: int) -> np.ndarray:
    """Jacobian of the Hopfield local field h = W s (s as a row: h = s W, J_ij = W_ji) at ``n_cues`` cues."""
    w = np.asarray(weights, dtype=float)
    return np.broadcast_to(w.T, (n_cues,) + w.shape)


def softmax_jacobian(query: np.ndarray, keys: np.ndarray, values: np.ndarray, beta: float) -> np.ndarray:
    """Jacobian of one attention read r = V^T softmax(beta K q) with respect to q.

        J = beta V^T (diag p - p p^T) K,      p = softmax(beta K q)

    ``query`` (C, d), ``keys`` (M, d), ``values`` (M, d_v); returns (C, d_v, d).
    """
    from ..functional.retrieval import softmax

    p = softmax(beta * np.asarray(query) @ keys.T, axis=-1)  # (C, M)
    cov = np.einsum("cm,mn->cmn", p, np.eye(len(keys))) - p[:, :, None] * p[:, None, :]
    return beta * np.einsum("mv,cmn,nd->cvd", values, cov, keys)


def modern_jacobian(ds, stimulus) -> np.ndarray:
    """Jacobian of the modern Hopfield map cue -> final state, from a saved result (no rerun).

    Each update xi <- x^T softmax(beta x xi) (x the stored items as scored:
    divided by sqrt(N) when ``normalize``) has Jacobian beta x^T (diag p - p p^T) x,
    p the recorded attention of that update; the map over T updates is their
    product J_T ... J_1. The scaling in and out cancels. Bipolar coding only.
    """
    x = stimulus.bipolar_patterns().astype(float)
    if int(ds.attrs.get("normalize", 0)):
        x = x / np.sqrt(x.shape[1])
    beta = float(ds.attrs["beta"])
    att = ds["attention"].values  # (cue, step, pattern); step 0 has none
    n_cues, n = att.shape[0], x.shape[1]
    jac = np.broadcast_to(np.eye(n), (n_cues, n, n)).copy()
    for t in range(1, att.shape[1]):
        p = att[:, t]
        cov = np.einsum("cm,mn->cmn", p, np.eye(len(x))) - p[:, :, None] * p[:, None, :]
        step = beta * np.einsum("mv,cmn,nd->cvd", x, cov, x)
        jac = step @ jac
    return jac


# --------------------------------------------------------------------------- finite differences

def _output(ds, output: str | None) -> np.ndarray:
    name = output or ("reconstruction_raw" if "reconstruction_raw" in ds else "state")
    return ds[name].values[:, -1]


def finite_difference_jacobian(model, stimulus, seed: int | np.random.SeedSequence = 0, eps: float = 1e-3,
                               directions: np.ndarray | None = None, output: str | None = None,
                               chunk: int = 2048, cues: slice | np.ndarray | None = None) -> np.ndarray:
    """Central-difference Jacobian (sketch) of ``model``'s map cue -> reconstruction at every cue.

        J d_k ~ (r(c + eps d_k) - r(c - eps d_k)) / (2 eps)

    The model is rerun with ``numpy.random.default_rng(seed)`` for every batch,
    so weights it draws or trains are identical across the perturbed runs (the
    map is deterministic given the seed). ``directions`` (K, N), default the
    N unit vectors (the full Jacobian). Returns (cue, N_out, K).

    ``output`` names the dataset variable read at the last step (default
    ``reconstruction_raw`` when recorded, else ``state``).
    """
    base = np.asarray(stimulus.cues, dtype=float)
    idx = np.arange(len(base)) if cues is None else np.arange(len(base))[cues]
    n = base.shape[1]
    d = np.eye(n) if directions is None else np.asarray(directions, dtype=float)
    k = len(d)
    # cue-major: for each cue, +d_1..+d_K then -d_1..-d_K
    plus = base[idx][:, None, :] + eps * d[None]
    minus = base[idx][:, None, :] - eps * d[None]
    batch = np.concatenate([plus, minus], axis=1).reshape(-1, n)
    targets = np.repeat(np.asarray(stimulus.targets)[idx], 2 * k)
    known = np.repeat(np.asarray(stimulus.known)[idx], 2 * k, axis=0)
    outs = []
    for start in range(0, len(batch), chunk):
        sl = slice(start, start + chunk)
        sub = dataclasses.replace(stimulus, cues=batch[sl], targets=targets[sl], known=known[sl])
        outs.append(_output(model.run(sub, np.random.default_rng(seed)), output))
    out = np.concatenate(outs).reshape(len(idx), 2, k, -1)
    return np.moveaxis((out[:, 0] - out[:, 1]) / (2 * eps), 1, 2)


def spiking_rate_jacobian(model, stimulus, seed: int | np.random.SeedSequence = 0, n_directions: int = 4,
                          delta: float = 0.2, output: str = "reconstruction_raw",
                          rng: np.random.Generator | None = None, window: slice = slice(None)) -> np.ndarray:
    """A Jacobian sketch J D of a spiking model: perturb the cue's rates, take rate differences.

    The cue drives the entorhinal input rates in proportion to its values, so
    c +- delta d_k changes each input channel's rate by +-delta of its range
    along K = ``n_directions`` random unit directions d_k shared by all cues
    (shared, so the across-cue variability compares the same columns). The
    reconstruction is the mean of ``output`` over the steps in ``window``
    (default every bin of the recall period: the cortex readout of binned CA1
    rates). With Poisson input, a finite ``delta`` is
    needed for the rate difference to stand above spike noise; the same seed
    is reused so that the noise is common to the +-runs.

    Cost: 2 K full simulations (encoding and every recall). Not run by the
    comparison unless asked. Returns (cue, N, K).

    The probe needs input rates that are graded in the cue's values. The EC
    channels of ``ca3-spiking-v1`` (:func:`hipposim.circuits.ca3.ec_channels`)
    are on/off by the cue's sign, so for that model a perturbation leaves the
    rates of known units unchanged (their columns measure 0) and switches
    masked units on; the sketch becomes a rate Jacobian once the cue drives
    graded rates.
    """
    rng = rng or np.random.default_rng(12345)
    d = rng.standard_normal((n_directions, stimulus.n_units))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    base = np.asarray(stimulus.cues, dtype=float)
    cols = []
    for dk in d:
        res = []
        for sign in (1.0, -1.0):
            sub = dataclasses.replace(stimulus, cues=base + sign * delta * dk)
            ds = model.run(sub, np.random.default_rng(seed))
            res.append(ds[output].values[:, window].mean(axis=1))
        cols.append((res[0] - res[1]) / (2 * delta))
    return np.stack(cols, axis=-1)


def result_jacobian(ds, stimulus, rerun: Callable[[], tuple[Any, Any]] | None = None,
                    spiking: bool = False, max_cues: int = 8) -> dict[str, Any]:
    """The Jacobian summary of one saved result: closed form when there is one, else finite differences.

    ``rerun`` returns (model, seed) to rebuild the model for finite
    differences; spiking results (a code-correlation overlap, or spike trains) are
    only measured when ``spiking`` is True (see :func:`spiking_rate_jacobian`
    for the cost). At most ``max_cues`` cues are probed.
    """
    n_cues = min(ds.sizes["cue"], max_cues)
    spiking_result = (ds.attrs.get("overlap_measure") == "code_correlation"
                      or any(str(name).endswith("_spike_time") for name in ds.data_vars))
    if spiking_result:
        if not spiking or rerun is None:
            return {"jacobian_variability": None,
                    "jacobian_method": "not measured (spiking: 2K full simulations; ask for it)"}
        model, seed = rerun()
        sub = _first_cues(stimulus, n_cues)
        return jacobian_summary(spiking_rate_jacobian(model, sub, seed),
                                "rate differences along 4 random cue directions (spiking)")
    if ds.attrs.get("plays_sequences") and not spiking_result:
        return {"jacobian_variability": None,
                "jacobian_method": "not measured (sequence player: a sign readout at every step, J = 0 a.e.)"}
    if "weights" in ds and ds["weights"].ndim == 2 and "attention" not in ds:
        return jacobian_summary(field_jacobian(ds["weights"].values, n_cues),
                                "closed form: Jacobian of the pre-sign local field h = W s, J = W; not of the "
                                "cue -> reconstruction map, whose sign readout has J = 0 a.e.")
    if str(ds.attrs.get("model_id", "")).startswith("hopfield-sparse"):
        from ..functional.retrieval import covariance_weights

        x = stimulus.patterns if stimulus.coding == "binary" else (stimulus.patterns + 1) / 2
        a = float(np.mean(x))
        w = covariance_weights(x, a) / (x.shape[1] * a * (1 - a))
        return jacobian_summary(field_jacobian(w, n_cues),
                                "closed form: Jacobian of the pre-threshold local field h = W s, J = W; not of the "
                                "cue -> reconstruction map, whose k-WTA readout has J = 0 a.e.")
    if "attention" in ds and "head" not in ds.dims and "beta" in ds.attrs and stimulus.coding == "bipolar":
        jac = modern_jacobian(ds.isel(cue=slice(0, n_cues)), stimulus)
        return jacobian_summary(jac, "closed form: chained softmax Jacobians beta x^T (diag p - p p^T) x")
    if rerun is None:
        return {"jacobian_variability": None, "jacobian_method": "not measured (model not rebuildable)"}
    model, seed = rerun()
    sub = _first_cues(stimulus, n_cues)
    return jacobian_summary(finite_difference_jacobian(model, sub, seed),
                            "finite differences (central, eps = 1e-3, all N directions) of the whole map "
                            "cue -> reconstruction_raw (for the Transformer: attention and feed-forward "
                            "layers together)")


def _first_cues(stimulus, n: int):
    return dataclasses.replace(stimulus, cues=stimulus.cues[:n], targets=stimulus.targets[:n],
                               known=stimulus.known[:n])


# --------------------------------------------------------------------------- attention on its own

def attention_sublayer_jacobian(model, stimulus, seed: int | np.random.SeedSequence = 0, eps: float = 1e-4,
                                layer: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Jacobian of the Transformer's attention read alone, d r / d x at each cue, and its attention weights.

    ``r(x) = V^T softmax(beta K^T q(x))`` is the first (``layer``) block's
    attention sublayer of :class:`~hipposim.models.transformer_block.TransformerBlock`,
    layer norm and projections included, evaluated at the cue stream x = c; its
    Jacobian is beta V^T (diag p - p p^T) K dq/dx (the softmax Jacobian,
    :func:`softmax_jacobian`, chained with the query map), measured here by
    central differences so that layer norm and the unit-sphere scaling are
    included. Unlike :func:`finite_difference_jacobian` of the whole block it
    leaves out the feed-forward layer, so it shows how much of the block's input
    dependence is attention's: when the read is saturated (1 - max p ~ 0) this
    Jacobian vanishes whatever the feed-forward layer does.

    Returns (jacobian (cue, N, N), attention weights (cue, head, item)).
    """
    model.run(stimulus, np.random.default_rng(seed))  # fixes the layers' weights, as at recall
    items = stimulus.bipolar_patterns().astype(float)
    w = model.layers_[layer][0]
    x = stimulus.bipolar_cues().astype(float)
    n = x.shape[1]
    jac = np.empty((len(x), n, n))
    for c in range(len(x)):
        batch = np.concatenate([x[c] + eps * np.eye(n), x[c] - eps * np.eye(n)])
        read = model._attend(batch, items, w)[0][:, 0, :]
        jac[c] = ((read[:n] - read[n:]) / (2 * eps)).T
    att = model._attend(x, items, w)[1][:, :, 0, :]
    return jac, att


# --------------------------------------------------------------------------- basin switching

def mixture_sweep_cues(stimulus, weights: np.ndarray):
    """Cues (1 - w) c + w xi^o for every cue c, every other item o and every w of ``weights``.

    Returns (stimulus with the mixed cues, (cue, other, weight) index arrays).
    """
    items = np.asarray(stimulus.patterns, dtype=float)
    cues, targets, idx = [], [], []
    for c, t in enumerate(np.asarray(stimulus.targets, dtype=int)):
        base = np.asarray(stimulus.cues[c], dtype=float)
        for o in range(len(items)):
            if o == t:
                continue
            for k, w in enumerate(weights):
                cues.append((1 - w) * base + w * items[o])
                targets.append(t)
                idx.append((c, o, k))
    cues = np.array(cues)
    sub = dataclasses.replace(stimulus, cues=cues, targets=np.array(targets),
                              known=np.ones(cues.shape, dtype=bool))
    return sub, np.array(idx)


def basin_switch_weight(model, stimulus, seed: int | np.random.SeedSequence = 0,
                        weights: np.ndarray | None = None) -> np.ndarray:
    """The smallest mixture weight toward another item that changes the recalled item; see :func:`basin_switching`."""
    return basin_switching(model, stimulus, seed, weights)["switch_weight"]


def basin_switching(model, stimulus, seed: int | np.random.SeedSequence = 0,
                    weights: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Basin switching: the smallest mixture weight toward another item that changes the recalled item.

    Each cue c (e.g. a half-hidden item) is mixed with another stored item o,
    c(w) = (1 - w) c + w xi^o, for w on a grid (default 0, 0.02, ..., 1);
    the recalled item is the stored item with the largest item-space overlap
    m_mu = xi^mu . sign(s) / N of the sign-thresholded final reconstruction s.
    The switch weight is the smallest w at which it is no longer the cue's
    target: the size of the cue perturbation that moves the input into another
    item's basin, the input-dependent selection between attractors (for a
    modern Hopfield network, the basins of Ramsauer et al. 2020, Theorem 3)
    that a local Jacobian at the cue cannot see. NaN when the target is kept up
    to w = 1, or when the unmixed cue is not recalled as its target.

    For a half-hidden cue the cue's overlap with the target, (1 - w)/2, equals
    its overlap with the other item, w (for nearly orthogonal items), at
    w = 1/3: any model that answers with the nearer item switches there. What
    separates selection from blending is the output at the switch: ``purity``
    is the largest m_mu of the output at the switch weight, 1 when the output
    is one stored item (a selection) and about 1/2 for an even blend of two.

    Returns {"switch_weight": (cue, other), "purity": (cue, other)} (NaN on the diagonal).
    """
    from .recall import as_bipolar

    weights = np.linspace(0, 1, 51) if weights is None else np.asarray(weights, dtype=float)
    sub, idx = mixture_sweep_cues(stimulus, weights)
    ds = model.run(sub, np.random.default_rng(seed))
    state = np.sign(as_bipolar(ds["state"].values[:, -1], stimulus.coding))
    m = state @ as_bipolar(stimulus.patterns, stimulus.coding).T / stimulus.n_units
    recalled = np.argmax(m, axis=1)
    n_cues, n_items = len(stimulus.targets), stimulus.n_patterns
    switch = np.full((n_cues, n_items), np.nan)
    purity = np.full((n_cues, n_items), np.nan)
    for c in range(n_cues):
        t = int(stimulus.targets[c])
        for o in range(n_items):
            if o == t:
                continue
            sel = np.flatnonzero((idx[:, 0] == c) & (idx[:, 1] == o))
            sel = sel[np.argsort(idx[sel, 2])]
            rec = recalled[sel]
            if rec[0] != t:
                continue
            wrong = np.flatnonzero(rec != t)
            if wrong.size:
                switch[c, o] = weights[wrong[0]]
                purity[c, o] = m[sel[wrong[0]]].max()
    return {"switch_weight": switch, "purity": purity}
