"""Metrics of the spiking attention circuit (``attention-spiking-v1``) against the modern Hopfield update.

They read only declared dataset variables:

``memory_rate(cue, pattern)``   assembly rates in the recall window (Hz)
``scores(cue, pattern)``        X^T xi, the dot products of each cue with every stored key
``beta_eff(cue)``               beta fitted to the rates (minimum Jensen-Shannon divergence)
``key_patterns``, ``value_patterns`` (pattern, unit) and ``cue_input`` (cue, unit): the stored pairs and
the bipolar cues, from which one modern Hopfield step V^T softmax(beta_eff K^T xi) is recomputed
(:func:`hipposim.functional.retrieval.softmax_retrieval`, Ramsauer et al. 2020, eq. 3)
``overlap`` at the last step: the read-out's overlap with each stored value over the whole window

Keys of :func:`attention_spiking_metrics`:

``attention_js_bits``            median over cues of JS(r / sum r, softmax(beta_eff X^T xi)), bits
``attention_js_bits_max``        the largest over cues
``attention_argmax_agreement``   fraction of cues whose most active assembly is the softmax's argmax
``readout_hopfield_gap``         median over cues of |m_read - m_hop| (overlap with the target's value)
``readout_hopfield_gap_max``     the largest over cues
``readout_hopfield_gap_per_cue`` the list
``beta_eff``                     median fitted beta_eff over the cues whose fit did not run to a bound
                                 (null if all did); ``beta_eff_per_cue`` every cue's fit
``beta_theory``                  median J_k / (2 n_vis Delta (1 + g_sh)) with g_sh from the measured pool rate
``beta_eff_at_bound``            fraction of cues whose fit ran to the bound (near one-hot rates)
``beta_pred``                    median mean-field prediction J_k / (2 n_vis Delta (1 + g)), solved from the
                                 parameters before the run (:func:`hipposim.circuits.attention.predict_pool`)
``read_resolvable``              fraction of cues whose predicted read is neither one-hot nor flat
                                 (:func:`resolvable_reads`); the prediction is tested only there
``beta_fit_over_pred``           median beta_eff / beta_pred over resolvable cues (null if none)
``exp_law_r2``, ``exp_law_slope_over_pred``
                                 median R^2 and slope / beta_pred of ln r_mu against s_mu (:func:`exponential_law`)
``shuffle_rank``                 median over resolvable cues of the fraction of score shuffles (beta refitted)
                                 whose JS is at most the true assignment's (:func:`shuffle_rank`)
``readout_prediction_gap``       median |m_read - m(V^T softmax(beta_pred K^T xi))|, the read-out against the
                                 predicted modern Hopfield step
``memory_cell_rate_max``         the largest single memory-neuron rate of any recall window (Hz)
``memory_rate_mean``             mean memory-layer rate in the window (Hz)
``rate_entropy``                 median entropy (nats) of the normalised rates; ``softmax_entropy`` of the fit
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functional.entropy import entropy, js_divergence
from ..functional.retrieval import (
    fit_inverse_temperature,
    overlaps,
    softmax,
    softmax_retrieval,
)

#: variables whose presence marks a spiking attention result
REQUIRES = ("memory_rate", "scores", "beta_eff", "key_patterns", "value_patterns", "cue_input")


def hopfield_step(ds, beta: np.ndarray | None = None) -> np.ndarray:
    """(cue, unit) one modern Hopfield step V^T softmax(beta K^T xi), at each cue's fitted beta_eff unless
    ``beta`` (cue,) is given."""
    keys = ds["key_patterns"].values
    values = ds["value_patterns"].values
    cues = ds["cue_input"].values
    beta = ds["beta_eff"].values if beta is None else np.asarray(beta, dtype=float)
    return np.stack([softmax_retrieval(cues[c:c + 1], keys, values, float(beta[c]))[0][0]
                     for c in range(len(beta))])


def resolvable_reads(ds, one_hot: float = 0.9, min_log_range: float = 1.5) -> np.ndarray:
    """(cue,) bool: cues whose predicted read softmax(beta_pred s) can be measured from the spike counts.

    A read is one-hot when its predicted top weight exceeds ``one_hot`` (the other assemblies then fire a few
    spikes each, and a fitted beta is bounded from below only), and flat when the predicted log-rate range
    beta_pred (s_max - s_min) is below ``min_log_range`` (the differences between assemblies are then of the
    order of the Poisson noise of their counts). Cues whose predicted winner is at the rate ceiling or
    compressed by its dead time (``beta_pred_saturated``) are not resolvable either.
    """
    scores = ds["scores"].values
    beta = ds["beta_pred"].values
    q = softmax(beta[:, None] * scores, axis=-1)
    spread = beta * (scores.max(axis=1) - scores.min(axis=1))
    ok = (q.max(axis=1) <= one_hot) & (spread >= min_log_range)
    if "beta_pred_saturated" in ds:
        ok &= ~ds["beta_pred_saturated"].values.astype(bool)
    return ok


def exponential_law(rates: np.ndarray, scores: np.ndarray, counts: np.ndarray,
                    min_count: float = 10.0) -> tuple[float, float, int]:
    """Weighted least-squares fit ln r_mu = ln c + b s_mu over the assemblies with >= ``min_count`` spikes.

    The exponential f-I curve under a shared shunt predicts a straight line of slope beta_pred
    (r_mu / sum_nu r_nu = softmax_mu(beta s), :func:`hipposim.circuits.attention.predict_pool`). A count n
    has Var(ln n) ~ 1/n (Poisson), so each point is weighted by its count, and R^2 is the weighted one.
    Returns ``(slope b, R^2, points used)``; NaN slope and R^2 when fewer than 3 assemblies qualify.
    """
    n = np.asarray(counts, dtype=float)
    sel = n >= min_count
    if np.count_nonzero(sel) < 3:
        return float("nan"), float("nan"), int(np.count_nonzero(sel))
    x, y, w = np.asarray(scores, float)[sel], np.log(np.asarray(rates, float)[sel]), n[sel]
    b, a = np.polyfit(x, y, 1, w=np.sqrt(w))
    mean = np.average(y, weights=w)
    total = np.sum(w * (y - mean) ** 2)
    r2 = 1.0 - np.sum(w * (y - (a + b * x)) ** 2) / total if total > 0 else float("nan")
    return float(b), float(r2), int(np.count_nonzero(sel))


def shuffle_rank(weights: np.ndarray, scores: np.ndarray, n_shuffles: int = 200, seed: int = 0,
                 high: float = 10.0) -> float:
    """Fraction of shuffled score assignments that fit ``weights`` at least as well as the true one.

    The true scores s and each permutation of them get their own best beta
    (:func:`hipposim.functional.retrieval.fit_inverse_temperature`); the result is the fraction of
    permutations whose minimum Jensen-Shannon divergence is <= the true assignment's. A softmax read of
    the right scores gives a rank near 0; a weighting that ignores which item has which score, near 0.5.
    The top-scoring item keeps its score in every permutation, so the test asks for more than the argmax.
    """
    rng = np.random.default_rng(seed)
    s = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    true_js = fit_inverse_temperature(w, s, high=high)[1]
    top = int(np.argmax(s))
    rest = np.delete(np.arange(len(s)), top)
    worse = 0
    for _ in range(n_shuffles):
        perm = s.copy()
        perm[rest] = s[rng.permutation(rest)]
        worse += fit_inverse_temperature(w, perm, high=high)[1] <= true_js
    return worse / n_shuffles


def attention_spiking_metrics(ds, success_overlap: float = 0.9, stimulus=None) -> dict[str, Any]:
    """Agreement of the circuit's rates and read-out with softmax attention at the fitted beta_eff."""
    rates = ds["memory_rate"].values
    scores = ds["scores"].values
    beta = ds["beta_eff"].values
    p = rates / rates.sum(axis=1, keepdims=True)
    q = softmax(beta[:, None] * scores, axis=-1)
    js = js_divergence(p, q, axis=1)
    agree = np.argmax(rates, axis=1) == np.argmax(scores, axis=1)
    targets = ds["target"].values.astype(int)
    values = ds["value_patterns"].values
    m_read = ds["overlap"].values[np.arange(len(targets)), -1, targets]
    m_hop = overlaps(hopfield_step(ds), values, "bipolar")[np.arange(len(targets)), targets]
    gap = np.abs(m_read - m_hop)
    # a fit that ran to a bound (one-hot or flat rates) only bounds beta; the median uses the others
    at_bound = ds["beta_eff_at_bound"].values.astype(bool) if "beta_eff_at_bound" in ds else np.zeros(len(beta), bool)
    beta_median = float(np.median(beta[~at_bound])) if np.any(~at_bound) else None
    out: dict[str, Any] = {
        "attention_js_bits": float(np.median(js)),
        "attention_js_bits_max": float(np.max(js)),
        "attention_argmax_agreement": float(np.mean(agree)),
        "readout_hopfield_gap": float(np.median(gap)),
        "readout_hopfield_gap_max": float(np.max(gap)),
        "readout_hopfield_gap_per_cue": [float(g) for g in gap],
        "beta_eff": beta_median,
        "beta_eff_per_cue": [float(b) for b in beta],
        "beta_theory": (float(np.median(ds["beta_theory"].values)) if "beta_theory" in ds else None),
        "memory_rate_mean": float(np.mean(rates)),
        "rate_entropy": float(np.median(entropy(p, axis=1))),
        "softmax_entropy": float(np.median(entropy(q, axis=1))),
    }
    if "beta_eff_at_bound" in ds:
        out["beta_eff_at_bound"] = float(np.mean(ds["beta_eff_at_bound"].values))
    if "beta_pred" in ds:
        out.update(prediction_metrics(ds, m_read))
    return out


def prediction_metrics(ds, m_read: np.ndarray) -> dict[str, Any]:
    """The mean-field prediction against the run: see the keys ``beta_pred`` ... in the module docstring.

    Every value is a finite number or None ("no prediction" where no cue is resolvable), never NaN.
    """
    rates = ds["memory_rate"].values
    scores = ds["scores"].values
    beta_pred = ds["beta_pred"].values
    # the law is weighted by spike counts; a dataset that did not record them gets no law (None below)
    counts = ds["memory_count"].values if "memory_count" in ds else np.zeros_like(rates)
    ok = resolvable_reads(ds)
    targets = ds["target"].values.astype(int)
    step = hopfield_step(ds, beta_pred)
    m_pred = overlaps(step, ds["value_patterns"].values, "bipolar")[np.arange(len(targets)), targets]
    cues = np.flatnonzero(ok)
    laws = [exponential_law(rates[c], scores[c], counts[c]) for c in cues]
    slopes = np.array([b / beta_pred[c] for (b, _, _), c in zip(laws, cues)])
    r2 = np.array([r for _, r, _ in laws])

    def median(x):
        x = np.asarray(x, dtype=float)
        x = x[np.isfinite(x)]
        return float(np.median(x)) if x.size else None

    ranks = [shuffle_rank(rates[c] / rates[c].sum(), scores[c]) for c in cues]
    return {
        "beta_pred": median(beta_pred),
        "read_resolvable": float(np.mean(ok)),
        "beta_fit_over_pred": median(ds["beta_eff"].values[ok] / beta_pred[ok]),
        "exp_law_r2": median(r2),
        "exp_law_slope_over_pred": median(slopes),
        "shuffle_rank": median(ranks),
        "readout_prediction_gap": median(np.abs(m_read - m_pred)),
        "memory_cell_rate_max": (float(np.max(ds["memory_rate_max"].values)) if "memory_rate_max" in ds
                                 else None),
    }
