"""The Transformer analogue and its MLP control: recall of partial images and the result contract."""
from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import hipposim
from hipposim.models.mlp_baseline import MLPBaseline, MLPBaselineV1
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


def test_mlp_v1_fitted_on_clean_items_only_stays_near_the_cue(transformer_result, half_images):
    """mlp-baseline-v1 keeps its meaning: fitted on clean items, no residual, it barely leaves the cue's 0.5."""
    mlp = final_target_overlap(MLPBaselineV1().run(half_images, np.random.default_rng(0)))
    transformer = final_target_overlap(transformer_result)
    assert np.mean(transformer) - np.mean(mlp) >= 0.3


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


def test_orthogonal_projection_with_one_head_is_a_no_op(half_images):
    """One head, W_Q = W_K = Q orthogonal: (qQ).(kQ) = q.k, so the scores equal the identity's (a control)."""
    ident = TransformerBlock(projection="identity").run(half_images, np.random.default_rng(2))
    ortho = TransformerBlock(projection="orthogonal").run(half_images, np.random.default_rng(2))
    np.testing.assert_allclose(ortho["attention"].values[:, 1], ident["attention"].values[:, 1], atol=1e-9)


@pytest.mark.parametrize("seed", [2, 5, 11])
def test_orthogonal_projection_over_heads_changes_scores_and_still_recalls(half_images, seed):
    """With 4 heads each head scores a 64-dim slice of the rotated vectors, so the weights differ from identity's.

    The attention rows of the rotated heads are checked against scores computed
    here from the drawn rotation (the first layer's W_Q = W_K is the first draw).
    """
    beta = 0.5  # per-head scores are O(sqrt(64) cos): a soft enough read for the heads to differ
    ident = TransformerBlock(projection="identity", n_heads=4, beta=beta).run(half_images, np.random.default_rng(seed))
    ortho = TransformerBlock(projection="orthogonal", n_heads=4, beta=beta).run(half_images, np.random.default_rng(seed))
    a_id, a_or = ident["attention"].values[:, 1], ortho["attention"].values[:, 1]  # (cue, head, item)
    assert np.max(np.abs(a_id - a_or)) > 1e-3
    # independent recomputation of the first layer's rotated scores
    from hipposim.functional.attention import layer_norm

    rng = np.random.default_rng(seed)
    model = TransformerBlock(projection="orthogonal", n_heads=4, beta=beta)
    items = half_images.bipolar_patterns()
    model._training_streams(items, half_images, rng)  # the draws that precede the first projection
    q, _, _, _ = model._projections(layer_norm(items), rng)
    qs = layer_norm(half_images.bipolar_cues()) @ q
    ks = layer_norm(items) @ q
    for h in range(4):
        sl = slice(64 * h, 64 * (h + 1))
        z = beta * qs[:, sl] @ ks[:, sl].T
        expected = np.exp(z - z.max(axis=1, keepdims=True))
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(a_or[:, h], expected, atol=1e-9)
    assert np.mean(final_target_overlap(ortho)) >= 0.9


def test_fitted_projection_still_recalls(half_images):
    ds = TransformerBlock(projection="fitted").run(half_images, np.random.default_rng(2))
    assert np.mean(final_target_overlap(ds)) >= 0.9


def test_unit_score_scale_matches_raw_scale_at_equal_cosine_temperature(half_images):
    """score_scale unit with beta b equals the raw (layer-normed, |LN x|^2 = N) scale with beta b / N."""
    n = half_images.n_units
    unit = TransformerBlock(score_scale="unit", beta=20.0).run(half_images, np.random.default_rng(3))
    raw = TransformerBlock(beta=20.0 / n).run(half_images, np.random.default_rng(3))
    np.testing.assert_allclose(unit["attention"].values[:, 1:], raw["attention"].values[:, 1:], rtol=1e-3, atol=1e-6)  # LN eps: |LN x|^2 ~ N
    assert unit.attrs["beta_normalised"] == pytest.approx(20.0)
    assert raw.attrs["beta_normalised"] == pytest.approx(20.0, rel=1e-4)
    default = TransformerBlock().run(half_images, np.random.default_rng(3))
    assert default.attrs["beta_normalised"] == pytest.approx(np.sqrt(n), rel=1e-4)  # 1/sqrt(N) * N


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
