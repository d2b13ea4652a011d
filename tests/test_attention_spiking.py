"""The spiking attention circuit (attention-spiking-v1) against softmax attention on the same cues.

Small circuits on Brian2's numpy target, random and correlated patterns, several seeds. Every number is
compared with an independent reference: softmax(beta_eff X^T xi) and one modern Hopfield step
(:func:`hipposim.functional.retrieval.softmax_retrieval`), the stored patterns, ln P.
"""
from __future__ import annotations

import numpy as np
import pytest
import yaml
from hipposim.models.attention_spiking import AttentionSpiking, check_key_value_pairs

from hipposim.analysis import model_metrics
from hipposim.analysis.attention_spiking import attention_spiking_metrics
from hipposim.errors import ModelError, ScenarioError
from hipposim.functional.entropy import entropy
from hipposim.scenario import loads_scenario
from hipposim.stimuli import Stimulus, correlated_bipolar, noisy_cue

pytestmark = pytest.mark.brian2

#: the default circuit (m = 10 per assembly: spike counts, not the circuit, limit the JS at soft reads) with
#: coarser time bins
SMALL = {"t_settle": "50 ms", "t_measure": "250 ms", "t_bin": "50 ms"}


def _stimulus(patterns: np.ndarray, cues: np.ndarray, targets) -> Stimulus:
    return Stimulus(patterns=patterns, names=tuple(f"item{i}" for i in range(len(patterns))), coding="bipolar",
                    cues=cues, targets=np.asarray(targets), known=cues != 0)


def _random_set(seed: int, n: int = 128, p: int = 8, n_cues: int = 4):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(p, n))
    targets = np.arange(n_cues)
    cues = np.array([noisy_cue(x[t], 0.3, "bipolar", rng) for t in targets])
    cues[1::2, : n // 2] = 0.0                                   # every other cue also half masked
    return _stimulus(x, cues, targets)


def _correlated_set(seed: int, n: int = 128, p: int = 12):
    """The correlated items of scenarios/beta_phase.yaml: 3 clusters, child-parent similarity 0.75."""
    rng = np.random.default_rng(seed)
    x, _ = correlated_bipolar(p, n, 3, 0.75, rng)
    targets = np.array([0, 1])
    cues = np.array([noisy_cue(x[t], 0.15, "bipolar", rng) for t in targets])
    return _stimulus(x, cues, targets)


@pytest.fixture(scope="module")
def soft_runs():
    """Random patterns, hetero-associative values, inhibition in the soft regime; two seeds."""
    out = []
    for seed in (11, 12):
        stim = _random_set(seed)
        ds = AttentionSpiking({**SMALL, "values": "random", "inhibition": 3.0}).run(stim, np.random.default_rng(seed))
        out.append((stim, ds))
    return out


def test_rates_are_softmax_at_fitted_beta(soft_runs):
    for stim, ds in soft_runs:
        m = attention_spiking_metrics(ds)
        # a soft read: the test means something only when the weights are far from one-hot
        assert m["rate_entropy"] > 0.5, m
        assert m["attention_js_bits"] <= 0.05, m
        assert m["attention_argmax_agreement"] == 1.0, m
        # the fitted softmax is much closer to the rates than a flat or one-hot guess would be
        p = ds["memory_rate"].values / ds["memory_rate"].values.sum(axis=1, keepdims=True)
        flat = np.full_like(p, 1.0 / p.shape[1])
        from hipposim.functional.entropy import js_divergence
        assert np.median(js_divergence(p, flat, axis=1)) > 4 * m["attention_js_bits"]


def test_readout_is_one_modern_hopfield_step(soft_runs):
    from hipposim.analysis.attention_spiking import hopfield_step

    for stim, ds in soft_runs:
        m = attention_spiking_metrics(ds)
        assert m["readout_hopfield_gap"] <= 0.05, m
        # the whole read-out vector follows V^T softmax(beta_eff K^T xi); the values are not the keys, so a
        # copy of the cue would not
        read = ds["state"].values[:, -1]
        hop = hopfield_step(ds)
        for c in range(len(read)):
            r_hop = np.corrcoef(read[c], hop[c])[0, 1]
            r_cue = abs(np.corrcoef(stim.cues[c], hop[c])[0, 1])
            assert r_hop > 0.6 and r_hop > r_cue + 0.3, (c, r_hop, r_cue)


def test_learned_keys_and_values_are_the_stored_patterns(soft_runs):
    for stim, ds in soft_runs:
        np.testing.assert_array_equal(np.sign(ds["keys_learned"].values), stim.patterns)
        np.testing.assert_array_equal(np.sign(ds["values_learned"].values), ds["value_patterns"].values)
        assert np.max(np.abs(ds["keys_learned"].values - stim.patterns)) < 0.2


def test_metrics_group_is_applied():
    ds = AttentionSpiking({**SMALL, "m": 3, "t_measure": "100 ms", "inhibition": 3.0}).run(
        _random_set(2, n=32, p=4, n_cues=2), np.random.default_rng(0))
    out = model_metrics(ds)
    for key in ("attention_js_bits", "attention_argmax_agreement", "readout_hopfield_gap", "beta_eff"):
        assert key in out
    assert out["attention_entropy"] is not None


@pytest.mark.parametrize("seed", [21, 22])
def test_inhibition_knob_reaches_both_outer_regimes(seed):
    """Low inhibition: one item (entropy near 0). High inhibition: average over all (entropy near ln P).

    With physiological memory neurons (1.5 ms dead time) a cue with a close sibling in its cluster keeps part
    of the rate on the sibling at the weak end: in the pool's quiet moments the winner's rate is capped at
    1 / t_ref while the sibling's still grows exponentially. The same cues without the dead time (and a
    finer dt, so the hazard per step stays small) reach the single-item regime: the dead time is the cause.
    """
    stim = _correlated_set(seed)
    ln_p = np.log(stim.n_patterns)
    sharp = AttentionSpiking({**SMALL, "inhibition": 0.003}).run(stim, np.random.default_rng(seed))
    ideal = AttentionSpiking({**SMALL, "inhibition": 0.003, "t_ref": "0.01 ms", "dt": "0.05 ms",
                              "rho_max": "100000 Hz"}).run(stim, np.random.default_rng(seed))
    flat = AttentionSpiking({**SMALL, "inhibition": 100.0}).run(stim, np.random.default_rng(seed))
    h_sharp = entropy(sharp["attention"].values[:, -1], axis=-1)
    h_ideal = entropy(ideal["attention"].values[:, -1], axis=-1)
    h_flat = entropy(flat["attention"].values[:, -1], axis=-1)
    assert np.all(h_sharp < 0.3 * ln_p), (h_sharp, ln_p)
    assert np.all(h_ideal < 0.05 * ln_p), (h_ideal, ln_p)
    assert np.all(h_flat > 0.9 * ln_p), (h_flat, ln_p)
    assert np.median(flat["beta_eff"].values) < np.median(sharp["beta_eff"].values) / 5


def test_assembly_of_size_zero_is_refused():
    with pytest.raises(ValueError, match="m"):
        AttentionSpiking({"m": 0})
    text = yaml.safe_dump({"version": 1, "name": "bad", "seed": 0,
                           "patterns": {"kind": "random", "size": 16, "count": 2},
                           "cues": {"kind": "noisy", "fraction": 0.1},
                           "models": [{"id": "attention-spiking-v1", "label": "a", "params": {"m": 0}}]})
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text)
    assert "models[0].params.m" in str(info.value) and info.value.exit_code == 2


def test_inhibition_that_silences_the_memory_layer_is_an_error_naming_it():
    stim = _random_set(3, n=16, p=2, n_cues=1)
    params = {**SMALL, "m": 4, "n_inh": 30, "t_measure": "100 ms", "I_bd": "20 mV", "I_bs": "-5 mV"}
    ok = AttentionSpiking({**params, "inhibition": 1.0}).run(stim, np.random.default_rng(0))
    assert ok["memory_rate"].values.mean() > 2.0          # the same circuit fires at ordinary inhibition
    with pytest.raises(ModelError) as info:
        AttentionSpiking({**params, "inhibition": 1e5}).run(stim, np.random.default_rng(0))
    msg = str(info.value)
    assert "'mem'" in msg and "'inhibition'" in msg and info.value.exit_code == 2


def test_keys_and_values_of_different_item_counts_are_refused():
    keys = np.ones((3, 8))
    with pytest.raises(ModelError, match="'values'.*3 keys.*2 values"):
        check_key_value_pairs(keys, np.ones((2, 8)))
    check_key_value_pairs(keys, -keys)  # same shape: accepted


@pytest.mark.brian2
def test_compare_places_the_circuit_beside_the_modern_network(tmp_path):
    """`hipposim compare` on a run with the circuit: a table row in item space, and its input dependence
    left unmeasured (a spiking model) rather than taken for a modern Hopfield network's closed form."""
    import json

    from hipposim.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1, "name": "circuit_compare", "seed": 4,
        "patterns": {"kind": "images", "names": ["apple", "cup", "smiley"]},
        "cues": {"kind": "masked", "region": "left_half", "targets": ["apple"]},
        "models": [{"id": "attention-spiking-v1", "label": "circuit", "params": dict(AttentionSpiking.tiny_params)},
                   {"id": "hopfield-modern-v1", "label": "modern", "params": {"normalize": True, "beta": 20}}],
    }))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet", "--no-figures"]) == 0
    assert main(["compare", str(tmp_path / "run"), "--out", str(tmp_path / "cmp"), "--quiet"]) == 0
    table = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert table["circuit"]["item_overlap"] > table["circuit"]["cue_item_overlap"]
    assert table["circuit"]["jacobian_variability"] is None
    assert table["circuit"]["jacobian_method"].startswith("not measured")
    assert table["modern"]["jacobian_method"].startswith("closed form")


# --------------------------------------------------------------------------- the prediction, before the run
# Seeds 53-58 are used by no other test and by no number quoted in the docs. Levels: the regime map of
# scenarios/attention_spiking_phase.yaml.

REGIME_LEVELS = (0.003, 0.1, 1.0, 3.0, 10.0, 30.0, 100.0)
#: a longer window and larger assemblies: the exponential law is read off the counts of the weak assemblies
LONG = {"m": 20, "t_settle": "50 ms", "t_measure": "1000 ms", "t_bin": "50 ms"}


@pytest.fixture(scope="module")
def regime_runs():
    return [(seed, inh, AttentionSpiking({**SMALL, "inhibition": inh}).run(_correlated_set(seed),
                                                                            np.random.default_rng(seed)))
            for seed in (53, 54) for inh in REGIME_LEVELS]


def test_beta_is_predicted_from_the_parameters_before_the_run(regime_runs):
    from hipposim.analysis.attention_spiking import resolvable_reads

    tested = set()
    for seed, inh, ds in regime_runs:
        # the prediction needs only the parameters and the cues
        pred = AttentionSpiking({**SMALL, "inhibition": inh}).predict(ds["key_patterns"].values,
                                                                      ds["cue_input"].values)
        np.testing.assert_allclose(pred["beta"], ds["beta_pred"].values, rtol=1e-12)
        # the pool's mean field: its predicted rate within 15 % of the measured one at every level
        np.testing.assert_allclose(ds["pool_rate_pred"].values, ds["pool_rate"].values, rtol=0.15)
        for c in np.flatnonzero(resolvable_reads(ds)):
            ratio = ds["beta_eff"].values[c] / ds["beta_pred"].values[c]
            assert abs(ratio - 1) < 0.3, (seed, inh, c, ratio)
            tested.add(inh)
    # the prediction is tested at the levels between the one-hot and the flat end, not vacuously
    assert {3.0, 10.0} <= tested, tested
    # stronger inhibition, a lower predicted beta: the knob is a temperature
    for seed in (53, 54):
        b = [np.median(ds["beta_pred"].values) for s, _, ds in regime_runs if s == seed]
        assert np.all(np.diff(b) < 0), b


def test_true_scores_fit_the_rates_better_than_shuffled_ones(regime_runs):
    """Per resolvable cue, the true assignment of scores to items has a lower JS (beta refitted) than 95 % of
    the assignments that shuffle the non-top scores among the items."""
    from hipposim.analysis.attention_spiking import resolvable_reads, shuffle_rank

    n = 0
    for seed, inh, ds in regime_runs:
        rates = ds["memory_rate"].values
        for c in np.flatnonzero(resolvable_reads(ds)):
            rank = shuffle_rank(rates[c] / rates[c].sum(), ds["scores"].values[c], n_shuffles=200, seed=seed)
            assert rank < 0.05, (seed, inh, c, rank)
            n += 1
    assert n >= 8, n
    # the check discriminates: a softmax read of the right winner but of other items' scores fails it
    rng = np.random.default_rng(57)
    s = rng.normal(size=12) * 10
    top = int(np.argmax(s))
    wrong = s.copy()
    rest = np.delete(np.arange(12), top)
    wrong[rest] = s[rng.permutation(rest)]
    from hipposim.functional.retrieval import softmax
    fails = [shuffle_rank(softmax(0.2 * wrong), s, n_shuffles=200, seed=k) for k in range(3)]
    assert min(fails) > 0.05, fails


@pytest.mark.parametrize("seed", [55, 56])
def test_memory_rates_follow_the_exponential_law_at_the_predicted_slope(seed):
    from hipposim.analysis.attention_spiking import exponential_law, resolvable_reads

    law = 0
    for inh in (3.0, 10.0, 30.0):
        ds = AttentionSpiking({**LONG, "inhibition": inh}).run(_correlated_set(seed), np.random.default_rng(seed))
        scores, beta = ds["scores"].values, ds["beta_pred"].values
        for c in np.flatnonzero(resolvable_reads(ds)):
            slope, r2, used = exponential_law(ds["memory_rate"].values[c], scores[c], ds["memory_count"].values[c])
            assert used >= 3
            assert abs(slope / beta[c] - 1) < 0.3, (inh, c, slope, beta[c])
            # R^2 is read where the predicted log-rate range is well above the counts' noise
            if beta[c] * np.ptp(scores[c]) >= 2.0:
                assert r2 >= 0.95, (inh, c, r2)
                law += 1
        # physiological memory neurons: no cell above 500 Hz in any window
        assert ds["memory_rate_max"].values.max() <= 500.0
    assert law >= 2, law


def test_readout_follows_the_predicted_hopfield_step(soft_runs):
    """The read-out against V^T softmax(beta_pred K^T xi), with beta_pred solved before the run."""
    from hipposim.analysis.attention_spiking import hopfield_step

    for stim, ds in soft_runs:
        m = attention_spiking_metrics(ds)
        assert m["readout_prediction_gap"] <= 0.1, m
        read, hop = ds["state"].values[:, -1], hopfield_step(ds, ds["beta_pred"].values)
        for c in range(len(read)):
            r_hop = np.corrcoef(read[c], hop[c])[0, 1]
            r_cue = abs(np.corrcoef(stim.cues[c], hop[c])[0, 1])
            assert r_hop > 0.6 and r_hop > r_cue + 0.3, (c, r_hop, r_cue)


def test_memory_neurons_are_refractory_and_below_500_hz(regime_runs):
    assert AttentionSpiking.Params().t_ref.si >= 1e-3
    for seed, inh, ds in regime_runs:
        assert ds["memory_rate_max"].values.max() <= 500.0, (seed, inh)
        # within one cell, no two spikes closer than the dead time
        t, i = ds["mem_spike_time"].values, ds["mem_spike_index"].values
        order = np.lexsort((t, i))
        t, i = t[order], i[order]
        gaps = np.diff(t)[np.diff(i) == 0]
        assert gaps.min() >= 1.5 - 1e-6, gaps.min()   # ms


def test_halving_dt_changes_the_median_js_by_less_than_a_hundredth_of_a_bit():
    js = []
    for dt in ("0.25 ms", "0.125 ms"):
        ds = AttentionSpiking({**SMALL, "inhibition": 3.0, "dt": dt}).run(_random_set(58), np.random.default_rng(58))
        js.append(attention_spiking_metrics(ds)["attention_js_bits"])
    assert abs(js[0] - js[1]) < 0.01, js


def test_metrics_never_hold_nan_where_no_read_is_resolvable():
    import json

    from hipposim.analysis.recall import clean_json

    ds = AttentionSpiking({**SMALL, "m": 3, "t_measure": "100 ms", "inhibition": 1e-3}).run(
        _random_set(59, n=32, p=3, n_cues=2), np.random.default_rng(0))
    out = attention_spiking_metrics(ds)
    assert out["read_resolvable"] == 0.0
    assert out["beta_fit_over_pred"] is None and out["shuffle_rank"] is None
    json.dumps(clean_json(out), allow_nan=False)
