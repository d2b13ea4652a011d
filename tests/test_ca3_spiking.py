"""The spiking CA3 -> CA1 -> cortex model: validation, theory and controls.

The Brian2 runs use the numpy target (fastest to start). One plastic and one
control run are shared by the tests of this module.
"""
from __future__ import annotations


import numpy as np
import pytest
from pydantic import ValidationError

from hipposim.errors import ModelError
from hipposim.circuits.ca3 import kwta_codes, receptive_fields
from hipposim.models.ca3_spiking import CA3Spiking, CA3SpikingParams
from hipposim.functional.retrieval import covariance_weights
from hipposim.scenario import loads_scenario
from hipposim.stimuli import build_stimulus

ITEMS = ["apple", "heart", "house", "star", "smiley"]
SCENARIO = f"""
version: 1
name: ca3_test
seed: 3
patterns: {{kind: images, names: {ITEMS}}}
cues: {{kind: masked, region: left_half}}
models: [{{id: ca3-spiking-v1}}]
"""


@pytest.fixture(scope="module")
def stimulus():
    return build_stimulus(loads_scenario(SCENARIO))


@pytest.fixture(scope="module")
def plastic_run(stimulus):
    return CA3Spiking().run(stimulus, np.random.default_rng(1))


@pytest.fixture(scope="module")
def control_run(stimulus):
    return CA3Spiking(plasticity=False).run(stimulus, np.random.default_rng(1))


def extra(ds) -> dict:
    from hipposim.analysis import model_metrics

    return model_metrics(ds, None, build_stimulus(loads_scenario(SCENARIO)))


# --------------------------------------------------------------------------- validation (fast)

@pytest.mark.parametrize("bad, field", [
    ({"coding_level": 0.0001}, "coding_level"),
    ({"p_ee": 1.5}, "p_ee"),
    ({"p_sc": -0.1}, "p_sc"),
    ({"dt": "6 ms"}, "tau_e"),
    ({"t_recall": "0.05 ms"}, "t_recall"),
    ({"rule": "hebb-magic"}, "rule"),
    ({"target": "gpu"}, "target"),
    ({"tau_m": "20 mV"}, "tau_m"),
])
def test_bad_params_name_the_field(bad, field):
    with pytest.raises(ValidationError) as info:
        CA3SpikingParams(**bad)
    text = str(info.value)
    assert field in text
    if "rule" in bad:
        assert "stdp-symmetric" in text and "covariance" in text


def test_bad_params_in_a_scenario_are_reported_with_the_path():
    from hipposim.errors import ScenarioError

    text = SCENARIO.replace("models: [{id: ca3-spiking-v1}]",
                            "models: [{id: ca3-spiking-v1, params: {rule: hebb}}]")
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text)
    assert "models[0].params.rule" in str(info.value)


def test_dg_codes_have_the_coding_level_and_are_decorrelated(stimulus):
    rng = np.random.default_rng(0)
    fields = receptive_fields(1000, stimulus.n_units, 3, stimulus.image_shape, rng)
    codes = kwta_codes(stimulus.patterns, fields, 0.1, rng)
    assert np.all(codes.sum(axis=1) == 100)
    corr = np.corrcoef(codes)[np.triu_indices(len(codes), 1)]
    assert np.max(np.abs(corr)) < 0.3


# --------------------------------------------------------------------------- Brian2 runs

@pytest.mark.brian2
def test_result_is_standard_and_round_trips(plastic_run, tmp_path):
    import xarray as xr

    ds = plastic_run
    assert ds.attrs["overlap_measure"] == "code_correlation"
    assert ds["state"].dims == ("cue", "step", "unit") and ds.sizes["unit"] == 256
    assert ds["overlap"].dims == ("cue", "step", "pattern")
    for name in ("overlap_ca1", "rate_ca3_e", "rate_ca1_e", "ca3_e_spike_time", "weights_before",
                 "weights_after", "ca3_code", "phase_start", "phase_end", "degree_hist_in"):
        assert name in ds
    metrics = extra(ds)
    for key in ("peak_overlap_recall", "time_to_08_ms", "ca1_peak_overlap", "readout_pixel_accuracy",
                "mean_image_baseline"):
        assert key in metrics
    path = tmp_path / "ca3.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.load_dataset(path, engine="h5netcdf")
    np.testing.assert_array_equal(back["ca3_e_spike_index"].values, ds["ca3_e_spike_index"].values)


@pytest.mark.brian2
def test_online_weights_correlate_with_covariance_rule(plastic_run):
    ds = plastic_run
    cov = covariance_weights(ds["ca3_code"].values, 0.1)
    reference = cov[ds["ee_pre"].values, ds["ee_post"].values]
    r = np.corrcoef(ds["ee_w_after"].values, reference)[0, 1]
    print(f"Pearson r(learned, covariance) = {r:.3f}")
    assert r >= 0.8


@pytest.mark.brian2
def test_completion_from_half_cues(plastic_run):
    ds = plastic_run
    steps = ds["step"].values
    ov = ds["overlap"].values
    targets = ds["target"].values
    early = steps <= 100.0
    peaks = np.array([ov[c, early, t].max() for c, t in enumerate(targets)])
    print("peak CA3 overlap within 100 ms per cue:", np.round(peaks, 3))
    assert np.sum(peaks > 0.8) >= 4
    # other items, judged only in bins with enough spikes to mean something (>= 50 CA3 spikes)
    enough = ds["ca3_spike_count"].values >= 50
    others = ov.copy()
    others[np.arange(len(targets)), :, targets] = -np.inf
    worst = others.max(axis=2)[enough]
    print("largest other-item overlap in bins with >= 50 spikes:", round(float(worst.max()), 3))
    assert worst.max() < 0.3


@pytest.mark.brian2
def test_control_without_plasticity_does_not_complete(plastic_run, control_run):
    plastic = extra(plastic_run)["peak_overlap_recall"]
    control = extra(control_run)["peak_overlap_recall"]
    print(f"peak overlap: plastic {plastic:.3f}, control {control:.3f}")
    assert control <= 0.7
    assert plastic - control >= 0.15


@pytest.mark.brian2
def test_ca1_follows_the_target(plastic_run):
    ds = plastic_run
    ov1 = ds["overlap_ca1"].values
    peaks = np.array([ov1[c, :, t].max() for c, t in enumerate(ds["target"].values)])
    print("CA1 peak overlap per cue:", np.round(peaks, 3))
    assert peaks.mean() >= 0.8


@pytest.mark.brian2
def test_cortex_readout_reconstructs_the_apple(plastic_run, stimulus):
    ds = plastic_run
    apple = list(ds["target"].values).index(ITEMS.index("apple"))
    accuracy = float(ds["readout_window_accuracy"].values[apple])
    baseline = extra(ds)["mean_image_baseline"]
    print(f"apple readout accuracy {accuracy:.3f}, mean-image baseline {baseline:.3f}")
    assert accuracy >= 0.9
    assert accuracy > baseline


@pytest.mark.brian2
def test_same_seed_same_spikes(stimulus):
    small = dict(n_e=200, n_i=40, n_ca1=100, n_ca1_i=20, t_encode="100 ms", t_recall="40 ms",
                 t_gap="20 ms", t_reset="20 ms", record_ec=False)
    from hipposim.stimuli import Stimulus

    two = Stimulus(patterns=stimulus.patterns[:2], names=stimulus.names[:2], coding=stimulus.coding,
                   cues=stimulus.cues[:1], targets=stimulus.targets[:1], known=stimulus.known[:1],
                   image_shape=stimulus.image_shape)
    a = CA3Spiking(**small).run(two, np.random.default_rng(7))
    b = CA3Spiking(**small).run(two, np.random.default_rng(7))
    for pop in ("ca3_e", "ca3_i", "ca1_e"):
        np.testing.assert_array_equal(a[f"{pop}_spike_time"].values, b[f"{pop}_spike_time"].values)
        np.testing.assert_array_equal(a[f"{pop}_spike_index"].values, b[f"{pop}_spike_index"].values)
    assert a.sizes["ca3_e_spike"] > 0


@pytest.mark.brian2
def test_runaway_activity_names_population_and_time(stimulus):
    from hipposim.stimuli import Stimulus

    one = Stimulus(patterns=stimulus.patterns[:1], names=stimulus.names[:1], coding=stimulus.coding,
                   cues=stimulus.cues[:1], targets=stimulus.targets[:1], known=stimulus.known[:1],
                   image_shape=stimulus.image_shape)
    with pytest.raises(ModelError, match=r"ca3_e .* t = \d+ ms"):
        CA3Spiking(n_e=100, n_i=20, n_ca1=50, n_ca1_i=10, t_encode="60 ms", t_recall="20 ms", t_gap="10 ms",
                   t_reset="10 ms", readout_settle="20 ms", max_rate="5 Hz", record_ec=False
                   ).run(one, np.random.default_rng(0))


# =========================================================================== ca3-spiking-v2

from hipposim.circuits.ca3 import dg_code, pattern_separation, separation_theory  # noqa: E402
from hipposim.models.ca3_spiking_v2 import CA3SpikingV2, CA3SpikingV2Params  # noqa: E402


@pytest.mark.parametrize("bad, field", [
    ({"J_ee": "-5 mV"}, "J_ee"),
    ({"J_ie": "-1 mV"}, "J_ie"),
    ({"ec_rate": "-40 Hz"}, "ec_rate"),
    ({"mf_rate": "200 mV"}, "mf_rate"),
    ({"tau_m": "0 ms"}, "tau_m"),
    ({"v_th": "-70 mV"}, "v_th"),
    ({"v_th": "-65 mV"}, "v_th"),
    ({"coding_level": 0.0004}, "coding_level"),
    ({"ca1_coding_level": 0.001}, "ca1_coding_level"),
    ({"p_ee": 0.0}, "p_ee"),
    ({"u0_pp": 1.5}, "u0_pp"),
    ({"eta_ee": -0.1}, "eta_ee"),
    ({"t_recall": "155 ms"}, "t_recall"),
    ({"dt": "4 ms"}, "dt"),
])
def test_v2_bad_params_name_the_field(bad, field):
    with pytest.raises(ValidationError) as info:
        CA3SpikingV2Params(**bad)
    assert field in str(info.value)


def test_v2_bad_strength_in_a_scenario_names_the_path():
    from hipposim.errors import ScenarioError

    text = SCENARIO.replace("models: [{id: ca3-spiking-v1}]",
                            "models: [{id: ca3-spiking-v2, params: {J_ee: -3 mV}}]")
    with pytest.raises(ScenarioError) as info:
        loads_scenario(text)
    assert "models[0].params.J_ee" in str(info.value)


def test_dg_code_depends_on_the_item_alone(stimulus):
    """An item's DG code is the same whether it is coded alone or among other items."""
    items = stimulus.patterns.astype(float)
    together = dg_code(items, 1000, 0.1, seed=4)  # any coding level: 100 winners
    for mu in range(len(items)):
        np.testing.assert_array_equal(dg_code(items[mu:mu + 1], 1000, 0.1, seed=4)[0], together[mu])
    assert np.all(together.sum(axis=1) == 100)
    # a flipped background (x -> x + const is removed by the item's own mean) does not matter either
    np.testing.assert_array_equal(dg_code(items[:1] * 2 + 1, 1000, 0.1, seed=4)[0], together[0])


def test_pattern_separation_curve_lies_under_the_diagonal_and_on_theory():
    a = CA3SpikingV2Params().coding_level
    r_in, r_out = pattern_separation(n_cells=1000, coding_level=a, n_rep=20, seed=11)
    theory = separation_theory(r_in, a)
    print("input", np.round(r_in, 2), "\nDG   ", np.round(r_out, 3), "\ntheory", np.round(theory, 3))
    assert np.all(r_out < r_in)
    half = int(np.argmin(np.abs(r_in - 0.5)))
    assert r_out[half] <= 0.25
    np.testing.assert_allclose(r_out, theory, atol=0.04)
    assert np.all(np.diff(r_out) > 0)


@pytest.mark.parametrize("n_e, p_ee", [(1000, 0.2), (4000, 0.1), (10000, 0.02), (1000, 0.02)])
def test_scale_free_strengths_give_J_at_every_size(stimulus, n_e, p_ee):
    """The model's wiring: fixed in-degree K, and K a nu tau w = J for every pathway, at any size.

    (Campbell's theorem: K a inputs firing Poisson at nu, each a jump w decaying with tau,
    give a mean input K a nu tau w.)
    """
    model = CA3SpikingV2(n_e=n_e, p_ee=p_ee)
    p = model.params
    s = model._structure(stimulus, np.random.default_rng(0))
    ways = model._pathways(s)
    indegree = np.bincount(ways["ee"].post, minlength=n_e)
    assert np.all(indegree == round(p_ee * (n_e - 1)))
    assert not np.any(ways["ee"].pre == ways["ee"].post)
    k = indegree[0]
    assert k * p.coding_level * p.nu_e.si * p.tau_e.si * ways["ee"].w == pytest.approx(p.J_ee.si)
    k_pp = np.bincount(ways["pp"].post, minlength=n_e)
    assert np.all(k_pp == k_pp[0])
    ec_nu = 0.5 * (p.ec_rate.si + p.ec_off_rate.si)
    assert k_pp[0] * 0.5 * ec_nu * p.tau_e.si * ways["pp"].w == pytest.approx(p.J_pp.si)
    k_ie = np.bincount(ways["ie"].post, minlength=n_e)[0]
    assert k_ie * p.nu_i.si * p.tau_i.si * ways["ie"].w == pytest.approx(p.J_ie.si)
    k_sc = np.bincount(ways["sc"].post, minlength=p.n_ca1)[0]
    assert k_sc * p.coding_level * p.nu_e.si * p.tau_e.si * ways["sc"].w == pytest.approx(p.J_sc.si)


# --------------------------------------------------------------------------- v2 robustness (Brian2)
#
# All 8 built-in images are stored together; each is cued with its left, right, top and
# bottom half hidden: 32 cues in ONE network run (one encoding of the 8 items, 32 recall
# trials). The defaults were tuned on seeds 0, 1, 31-33 (left halves) and first measured on
# seeds 41-43 (closing note); the CI run uses seed 24, the slow runs seeds 25-27, 34 and 35.

CI_SEED = 24
SLOW_SEEDS = (25, 26, 27)
HALVES = ("left_half", "right_half", "top_half", "bottom_half")


def all_images_all_halves():
    from hipposim.stimuli import Stimulus, available_images, load_image, region_mask

    names = available_images()
    patterns = np.stack([load_image(n).ravel() for n in names]).astype(float)
    cues, known, targets = [], [], []
    for mu in range(len(names)):
        for region in HALVES:
            hidden = region_mask(region, (16, 16))
            cues.append(np.where(hidden, 0.0, patterns[mu]))
            known.append(~hidden)
            targets.append(mu)
    return Stimulus(patterns=patterns, names=tuple(names), coding="bipolar", cues=np.array(cues),
                    targets=np.array(targets), known=np.array(known), image_shape=(16, 16))


def _summary(ds, stim):
    from hipposim.analysis.spiking import ca1_ec_code_scores, cue_scores, hidden_pixel_accuracy

    sc = cue_scores(ds)
    hid = hidden_pixel_accuracy(ds, stim)
    ctl = cue_scores(ds, overlap="overlap_control")
    ca1 = ca1_ec_code_scores(ds)
    print(f"passed {sc['passed'].mean():.3f}  peak>=0.8 {np.mean(sc['peak'] >= 0.8):.3f}  "
          f"sustain>=0.7 {np.mean(sc['sustain'] >= 0.7):.3f}  best at end {sc['best_at_end'].mean():.3f}  "
          f"mean peak {sc['peak'].mean():.3f} sustain {sc['sustain'].mean():.3f}  control peak "
          f"{ctl['peak'].mean():.3f}  hidden accuracy readout {np.mean(hid['readout']):.3f} control "
          f"{np.mean(hid['control']):.3f} mean image {np.mean(hid['mean_image']):.3f}  CA1 vs EC code "
          f"peak {ca1['peak'].mean():.3f} sustain {ca1['sustain'].mean():.3f}")
    return sc, hid, ctl, ca1


@pytest.fixture(scope="module")
def robust_run():
    stim = all_images_all_halves()
    return stim, CA3SpikingV2().run(stim, np.random.default_rng(CI_SEED))


def check_control_is_cue_proof(ds, stim):
    """The control (same network and input spikes, no learning) neither completes nor reads hidden pixels."""
    _, hid, ctl, _ = _summary(ds, stim)
    assert np.max(ctl["peak"]) < 0.3
    assert abs(np.mean(hid["control"]) - np.mean(hid["mean_image"])) <= 0.03


def check_perforant_path_drives_only_coding_cells(ds):
    """Cells in no item's code never learned perforant input: silent at recall, while target codes fire."""
    assert np.all(ds["pp_u_code"].values >= 3 * ds["pp_u_noncode"].values)
    codes = ds["ca3_code"].values
    t, i = ds["ca3_e_spike_time"].values, ds["ca3_e_spike_index"].values
    starts = ds["recall_start"].values
    length = float(ds["step"].values[-1] + ds["step"].values[0])
    rates = np.zeros((len(starts), codes.shape[1]))
    for c, a in enumerate(starts):
        sel = (t >= a) & (t < a + length)
        rates[c] = np.bincount(i[sel], minlength=codes.shape[1]) / (length * 1e-3)
    uncoded = codes.sum(axis=0) == 0
    target = np.array([rates[c, codes[int(ds["target"][c])] > 0].mean() for c in range(len(starts))])
    print(f"recall rates: uncoded cells {rates[:, uncoded].mean():.2f} Hz, target code {target.mean():.1f} Hz")
    assert rates[:, uncoded].mean() < 1.0
    assert target.mean() > 20.0


def check_completion_above_chance(ds, stim):
    """What v2 achieves robustly (closing note): far above chance (1/8), below the issue's 90 % target."""
    sc, hid, _, _ = _summary(ds, stim)
    assert sc["passed"].mean() >= 0.1
    assert sc["best_at_end"].mean() >= 0.5
    assert sc["peak"].mean() >= 0.6
    gain = hid["readout"] - hid["control"]
    assert gain.mean() > 0.0
    # where CA3 ends on the target, learned Schaffer input fills in hidden pixels beyond the control
    assert gain[sc["best_at_end"]].mean() >= 0.02


@pytest.mark.slow
@pytest.mark.brian2
def test_v2_no_plasticity_control_is_cue_proof(robust_run):
    check_control_is_cue_proof(robust_run[1], robust_run[0])


@pytest.mark.slow
@pytest.mark.brian2
def test_v2_learned_perforant_path_drives_only_coding_cells(robust_run):
    check_perforant_path_drives_only_coding_cells(robust_run[1])


@pytest.mark.slow
@pytest.mark.brian2
def test_v2_completes_far_above_chance(robust_run):
    check_completion_above_chance(robust_run[1], robust_run[0])


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.parametrize("seed", SLOW_SEEDS)
def test_v2_properties_hold_on_more_seeds(seed):
    stim = all_images_all_halves()
    ds = CA3SpikingV2().run(stim, np.random.default_rng(seed))
    check_control_is_cue_proof(ds, stim)
    check_perforant_path_drives_only_coding_cells(ds)
    check_completion_above_chance(ds, stim)


@pytest.mark.slow
@pytest.mark.brian2
@pytest.mark.parametrize("n_e, seed", [(4000, 34), (10000, 35)])
def test_v2_same_defaults_at_size(n_e, seed):
    """The same defaults (scale-free strengths, nothing retuned) at 4,000 and 10,000 CA3 cells."""
    stim = all_images_all_halves()
    ds = CA3SpikingV2(n_e=n_e).run(stim, np.random.default_rng(seed))
    check_control_is_cue_proof(ds, stim)
    check_perforant_path_drives_only_coding_cells(ds)
    check_completion_above_chance(ds, stim)
