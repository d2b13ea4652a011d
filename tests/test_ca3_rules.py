"""ca3-spiking-v1's learning rules and recurrent topologies do what their names say.

Rules: the sign of the learned weight change in each class of synapse (by the CA3 codes of the
pre- and postsynaptic cell) against what the rule predicts; the covariance rule is told from a
plain Hebbian co-activity count (which never depresses) and from symmetric STDP (which also
depresses pre-silent/post-active pairs). Seeds 41 and 42 (no other test uses them).
Topologies: the built graph against network theory, without Brian2.
"""
from __future__ import annotations

import functools

import numpy as np
import pytest
from hipposim.models.ca3_spiking import CA3Spiking, CA3SpikingParams
from pydantic import ValidationError

from hipposim.circuits.graphs import graph_statistics, recurrent_graph
from hipposim.scenario import loads_scenario
from hipposim.stimuli import build_stimulus

SCENARIO = """
version: 1
name: rules
seed: {seed}
patterns: {{kind: images, names: [apple, heart, house, star, smiley]}}
cues: {{kind: masked, region: left_half}}
models: [{{id: ca3-spiking-v1}}]
"""


def weight_classes(ds) -> dict[str, np.ndarray]:
    code, pre, post = ds["ca3_code"].values, ds["ee_pre"].values, ds["ee_post"].values
    dw = ds["ee_w_after"].values - ds["ee_w_before"].values
    together = (code[:, pre] * code[:, post]).sum(axis=0) > 0
    coded_pre, coded_post = code.max(axis=0)[pre] > 0, code.max(axis=0)[post] > 0
    return {"co-coded": dw[together], "pre-active/post-silent": dw[coded_pre & ~coded_post],
            "pre-silent/post-active": dw[~coded_pre & coded_post], "silent/silent": dw[~coded_pre & ~coded_post],
            "_dw": dw, "_code": code, "_pre": pre, "_post": post}


@functools.cache
def run_rule(rule: str, seed: int):
    stim = build_stimulus(loads_scenario(SCENARIO.format(seed=seed)))
    ds = CA3Spiking(**{**CA3Spiking.tiny_params, "rule": rule}).run(stim, np.random.default_rng(seed))
    classes = weight_classes(ds)
    for key, dw in classes.items():
        if not key.startswith("_"):
            print(f"{rule} {key}: n {dw.size} mean dw {dw.mean():+.4f} frac<0 {np.mean(dw < 0):.2f}")
    return classes


@pytest.mark.brian2
@pytest.mark.xdist_group("ca3_v1_rules")
@pytest.mark.parametrize("rule, seed", [("covariance", 41), ("stdp-symmetric", 42)])
def test_each_rule_has_the_sign_structure_it_predicts(rule, seed):
    c = run_rule(rule, seed)
    # co-active pairs potentiate, pre-active/post-silent pairs depress, silent/silent pairs stay
    assert c["co-coded"].mean() > 0.02 and np.mean(c["co-coded"] > 0) >= 0.8
    assert c["pre-active/post-silent"].mean() < -0.005 and np.mean(c["pre-active/post-silent"] < 0) >= 0.9
    assert np.mean(np.abs(c["silent/silent"]) < 1e-3) >= 0.95
    if rule == "covariance":
        # postsynaptic threshold: a silent presynaptic cell leaves the synapse unchanged
        assert np.mean(np.abs(c["pre-silent/post-active"]) < 1e-3) >= 0.95
    else:
        # symmetric STDP with an offset depresses on either side alone
        assert c["pre-silent/post-active"].mean() < -0.005 and np.mean(c["pre-silent/post-active"] < 0) >= 0.9


@pytest.mark.brian2
@pytest.mark.xdist_group("ca3_v1_rules")
def test_the_covariance_rule_is_not_a_hebbian_count():
    """A co-activity count sum_mu xi_pre xi_post never depresses: it predicts no change for every
    pre-active/post-silent synapse, where the covariance rule sum_mu xi_pre (xi_post - a) predicts
    a loss of a per item. The learned changes follow the covariance matrix more closely."""
    c = run_rule("covariance", 41)
    code, pre, post, dw = c["_code"], c["_pre"], c["_post"], c["_dw"]
    a = 0.1
    cov = (code[:, pre] * (code[:, post] - a)).sum(axis=0)
    hebb = (code[:, pre] * code[:, post]).sum(axis=0)
    r_cov, r_hebb = np.corrcoef(dw, cov)[0, 1], np.corrcoef(dw, hebb)[0, 1]
    print(f"r(dw, covariance) {r_cov:.3f}  r(dw, Hebbian count) {r_hebb:.3f}")
    assert r_cov >= r_hebb + 0.03


def test_asymmetric_stdp_is_refused_on_v1_with_the_reason():
    with pytest.raises(ValidationError) as err:
        CA3SpikingParams(rule="stdp-asymmetric")
    text = str(err.value)
    assert "rule" in text and "ca3-spiking-v3" in text and "ee_rule" in text


def test_covariance_rate_has_units_of_a_rate():
    assert CA3SpikingParams(eta_cov="2 Hz").eta_cov.si == pytest.approx(2.0)
    with pytest.raises(ValidationError, match="eta_cov"):
        CA3SpikingParams(eta_cov="2 ms")


# --------------------------------------------------------------------------- topologies

@pytest.mark.parametrize("seed", (5, 6))
def test_small_world_clustering_follows_watts_strogatz_theory(seed):
    """Ring lattice of degree k rewired with probability beta: C(beta) = 3 (k - 2) / (4 (k - 1)) (1 - beta)^3
    (Barrat & Weigt 2000); path length far below the lattice's n / (2 k), near the random graph's."""
    n, p = 1000, 0.02
    k = int(round(p * (n - 1)))
    k += k % 2
    c0 = 3 * (k - 2) / (4 * (k - 1))
    for beta, tol in ((0.0, 1e-9), (0.1, 0.03), (0.3, 0.03)):
        rng = np.random.default_rng(seed)
        g = recurrent_graph(n, p, "small_world", rng, rewire=beta)
        edges = np.array(sorted(g.edges()))
        stats = graph_statistics(edges[:, 0], edges[:, 1], n, np.random.default_rng(seed))
        assert stats["clustering"] == pytest.approx(c0 * (1 - beta) ** 3, abs=tol), beta
        assert stats["density"] == pytest.approx(k / (n - 1), rel=1e-9)
        if beta >= 0.1:
            assert stats["mean_shortest_path"] < 0.25 * n / (2 * k)
            assert stats["mean_shortest_path"] < 2 * np.log(n) / np.log(k)
            assert stats["clustering"] > 10 * stats["density"]


@pytest.mark.parametrize("seed, length_scale", [(7, 0.05), (8, 0.1)])
def test_distance_graph_connection_probability_decays_with_ring_distance(seed, length_scale):
    """P(i -> j) = c exp(-d_ij / lambda) on the unit ring, normalised to the density p: the fitted decay
    length of the empirical probability against distance is lambda, and the density is p."""
    n, p = 800, 0.05
    g = recurrent_graph(n, p, "distance", np.random.default_rng(seed), length_scale=length_scale)
    edges = np.array(sorted(g.edges()))
    assert len(edges) / (n * (n - 1)) == pytest.approx(p, rel=0.03)
    pos = np.arange(n) / n
    d_all = np.abs(pos[:, None] - pos[None, :])
    d_all = np.minimum(d_all, 1 - d_all)
    bins = np.linspace(0, 3 * length_scale, 13)
    counts_e = np.histogram(d_all[edges[:, 0], edges[:, 1]], bins=bins)[0]
    counts_all = np.histogram(d_all[~np.eye(n, dtype=bool)], bins=bins)[0]
    prob = counts_e / counts_all
    centres = 0.5 * (bins[1:] + bins[:-1])
    slope = np.polyfit(centres, np.log(prob), 1, w=np.sqrt(counts_e))[0]
    assert -1 / slope == pytest.approx(length_scale, rel=0.1)
