"""The Transformer analogue and its MLP control: recall of partial images and the result contract."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import hipposim
from hipposim.models.mlp_baseline import MLPBaseline
from hipposim.models.transformer_block import TransformerBlock

IMAGES = ["apple", "cup", "heart", "house", "letter_a", "letter_t", "smiley", "star"]


def stimulus_from(patterns: str, cues: str = "{kind: masked, region: right_half}", seed: int = 0):
    scenario = hipposim.loads_scenario(f"""
name: tiny
seed: {seed}
patterns: {patterns}
cues: {cues}
models: [{{id: transformer-block-v1}}, {{id: mlp-baseline-v1}}]
""")
    return hipposim.build_stimulus(scenario)


@pytest.fixture(scope="module")
def half_images():
    return stimulus_from(f"{{kind: images, names: {IMAGES}}}")


@pytest.fixture(scope="module")
def transformer_result(half_images):
    return TransformerBlock().run(half_images, np.random.default_rng(0))


@pytest.fixture(scope="module")
def mlp_result(half_images):
    return MLPBaseline().run(half_images, np.random.default_rng(0))


def final_target_overlap(ds) -> np.ndarray:
    ov = ds["overlap"].values
    return ov[np.arange(ov.shape[0]), -1, ds["target"].values]


def test_transformer_completes_half_images(transformer_result):
    final = final_target_overlap(transformer_result)
    apple = final[list(transformer_result["target"].values).index(0)]
    assert apple >= 0.9
    assert np.mean(final) >= 0.9
    cue = transformer_result["overlap"].values[np.arange(8), 0, transformer_result["target"].values]
    np.testing.assert_allclose(cue, 0.5)  # half the pixels known: the cue's own overlap


def test_mlp_without_memory_read_does_worse(transformer_result, mlp_result):
    transformer, mlp = final_target_overlap(transformer_result), final_target_overlap(mlp_result)
    assert transformer[0] - mlp[0] >= 0.1  # apple
    assert np.mean(transformer) - np.mean(mlp) >= 0.1


def test_transformer_records_per_layer(half_images):
    ds = TransformerBlock(n_layers=3, n_heads=4).run(half_images, np.random.default_rng(1))
    assert ds.sizes["step"] == 4 and ds["step"].attrs["units"] == "layer"
    assert ds["attention"].dims == ("cue", "step", "head", "pattern")
    assert ds.sizes["head"] == 4
    weights = ds["attention"].values[:, 1:]
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-12)
    assert np.all(np.isnan(ds["attention"].values[:, 0]))
    entropy = ds["attention_entropy"].values[:, 1:]
    assert np.all((entropy >= -1e-12) & (entropy <= np.log(8) + 1e-12))
    for name in ("overlap_after_attention", "overlap_after_ff"):
        assert ds[name].dims == ("cue", "step", "pattern")
    np.testing.assert_allclose(ds["overlap_after_ff"], ds["overlap"])
    assert ds["ff_weights"].ndim == 2
    assert ds.attrs["overlap_measure"] == "item"


def test_one_head_identity_attention_is_the_hopfield_update(half_images):
    """Without layer norm, the first layer's weights are softmax(beta X^T xi), beta = 1/sqrt(N)."""
    ds = TransformerBlock(use_layer_norm=False).run(half_images, np.random.default_rng(0))
    x = half_images.bipolar_patterns()
    scores = half_images.bipolar_cues() @ x.T / np.sqrt(x.shape[1])
    expected = np.exp(scores - scores.max(axis=1, keepdims=True))
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ds["attention"].values[:, 1, 0, :], expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("projection", ["orthogonal", "fitted"])
def test_projections_still_recall(half_images, projection):
    ds = TransformerBlock(projection=projection).run(half_images, np.random.default_rng(2))
    assert np.mean(final_target_overlap(ds)) >= 0.9


@pytest.mark.parametrize("model", [TransformerBlock(), TransformerBlock(n_layers=2, projection="orthogonal"),
                                   MLPBaseline(), MLPBaseline(n_steps=3)],
                         ids=["transformer", "transformer-2-orthogonal", "mlp", "mlp-3-steps"])
def test_result_contract(model, half_images, tmp_path):
    ds = model.run(half_images, np.random.default_rng(7))
    for dim in ("cue", "step", "pattern", "unit"):
        assert dim in ds.dims
    for name in ("state", "overlap", "energy", "converged_step"):
        assert name in ds
    assert ds.attrs["overlap_measure"] == "item"
    path = tmp_path / "result.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    back = xr.load_dataset(path, engine="h5netcdf")
    xr.testing.assert_identical(back, ds)
    again = type(model)(model.params).run(half_images, np.random.default_rng(7))
    xr.testing.assert_identical(again, ds)


@pytest.mark.parametrize("cls", [TransformerBlock, MLPBaseline])
def test_binary_patterns_run(cls):
    stim = stimulus_from("{kind: sparse, count: 5, size: 64, coding_level: 0.2}",
                         "{kind: masked, fraction: 0.3}", seed=3)
    ds = cls().run(stim, np.random.default_rng(0))
    assert np.all((ds["state"].values >= 0) & (ds["state"].values <= 1))
    assert np.all(np.isfinite(ds["overlap"].values))


def test_bad_parameters_are_refused(half_images):
    with pytest.raises(ValueError):
        TransformerBlock(beta=0.0)
    with pytest.raises(ValueError):
        TransformerBlock(n_layers=0)
    with pytest.raises(ValueError, match="does not divide"):
        TransformerBlock(n_heads=3).run(half_images, np.random.default_rng(0))
    with pytest.raises(hipposim.ScenarioError, match="does not divide"):
        hipposim.loads_scenario("""
name: bad
patterns: {kind: random, count: 3, size: 10}
models: [{id: transformer-block-v1, params: {n_heads: 3}}]
""")
