"""The spiking CA3 -> CA1 -> cortex model: validation, theory and controls.

The Brian2 runs use the numpy target (fastest to start). One plastic and one
control run are shared by the tests of this module.
"""
from __future__ import annotations

import json

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
