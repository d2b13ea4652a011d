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
``memory_rate_mean``             mean memory-layer rate in the window (Hz)
``rate_entropy``                 median entropy (nats) of the normalised rates; ``softmax_entropy`` of the fit
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..functional.entropy import entropy, js_divergence
from ..functional.retrieval import overlaps, softmax, softmax_retrieval

#: variables whose presence marks a spiking attention result
REQUIRES = ("memory_rate", "scores", "beta_eff", "key_patterns", "value_patterns", "cue_input")


def hopfield_step(ds) -> np.ndarray:
    """(cue, unit) one modern Hopfield step V^T softmax(beta_eff K^T xi) at each cue's fitted beta."""
    keys = ds["key_patterns"].values
    values = ds["value_patterns"].values
    cues = ds["cue_input"].values
    beta = ds["beta_eff"].values
    return np.stack([softmax_retrieval(cues[c:c + 1], keys, values, float(beta[c]))[0][0]
                     for c in range(len(beta))])


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
    return out
