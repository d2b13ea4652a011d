"""A fair comparison: one item-space measure, baselines trained as well as the Transformer, measured input
dependence, memory size, and the tests where association really differs (held-out cue types, one-shot storage).

Orderings asserted here were measured first (see the numbers in the docstrings); the images are the 8
built-in 16x16 images, which are correlated (cosines up to 0.5), and seeds vary noise, masks and weights.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

import hipposim
from hipposim.analysis.jacobian import (field_jacobian, finite_difference_jacobian, jacobian_variability,
                                        modern_jacobian, result_jacobian, softmax_jacobian,
                                        spiking_rate_jacobian)
from hipposim.run.protocol import HELD_OUT, MIXTURE_TOP_HELD_OUT
from hipposim.run.protocol import models as protocol_models
from hipposim.analysis.recall import item_overlap_trajectory, item_space_metrics, probed_units
from hipposim.analysis.weights import comparison_metrics, memory_size
from hipposim.contract import standard_dataset
from hipposim.functional.retrieval import hebbian_weights
from hipposim.models.denoising_autoencoder import DenoisingAutoencoder
from hipposim.models.hopfield_classical import ClassicalHopfield
from hipposim.models.hopfield_modern import ModernHopfield
from hipposim.models.mlp_baseline import MLPBaseline
from hipposim.models.transformer_block import TransformerBlock
from hipposim.stimuli import Stimulus, masked_cue, noisy_cue, random_bipolar

IMAGES = ["apple", "cup", "heart", "house", "letter_a", "letter_t", "smiley", "star"]
#: seeds of these tests, apart from the documentation's (7, 0-2) and the documented numbers' (10-14, 100-102)
SEEDS = [41, 42]


def image_stimulus(cues: str, seed: int = 0, names=IMAGES, training=None):
    scenario = hipposim.loads_scenario(f"""
name: fair
seed: {seed}
patterns: {{kind: images, names: {list(names)}}}
cues: {cues}
models: [{{id: hopfield-classical-v1}}]
""")
    return dataclasses.replace(hipposim.build_stimulus(scenario), training=training)


def item_m(ds, stim) -> np.ndarray:
    return item_overlap_trajectory(ds, stim)[:, -1]


def memories():
    """The associative memories at single-item retrieval (beta 20 on cosine scores)."""
    return {"modern": ModernHopfield(beta=20.0, normalize=True),
            "transformer": TransformerBlock(n_layers=2, beta=20.0, score_scale="unit")}


# --------------------------------------------------------------------------- the item-space measure

def test_item_measures_follow_the_formula_and_ignore_the_models_own_overlap():
    """m = xi.s/N and the probed accuracy are computed from `state` only, whatever `overlap` holds."""
    rng = np.random.default_rng(0)
    x = random_bipolar(3, 40, rng)
    hidden = np.zeros(40, bool)
    hidden[:20] = True
    cues = np.array([masked_cue(x[0], hidden), noisy_cue(x[1], 0.25, "bipolar", rng)])
    known = np.array([~hidden, np.ones(40, bool)])
    stim = Stimulus(patterns=x, names=("a", "b", "c"), coding="bipolar", cues=cues, targets=np.array([0, 1]),
                    known=known)
    probe = probed_units(stim)
    np.testing.assert_array_equal(probe[0], hidden)
    np.testing.assert_array_equal(probe[1], cues[1] != x[1])
    assert probe[1].sum() == 10
    state = rng.uniform(-1, 1, (2, 2, 40))
    garbage = rng.uniform(-1, 1, (2, 2, 3))  # a model-internal overlap that must not matter
    ds = standard_dataset(stim, state, garbage, None, np.zeros(2, int), attrs={"overlap_measure": "code_correlation"})
    out = item_space_metrics(ds, stim, success_overlap=0.3)
    expected_m = np.array([state[0, -1] @ x[0], state[1, -1] @ x[1]]) / 40
    np.testing.assert_allclose(out["per_cue_item_overlap"], expected_m)
    acc = [np.mean(np.sign(state[c, -1])[probe[c]] == x[c][probe[c]]) for c in range(2)]
    assert out["probed_accuracy"] == pytest.approx(np.mean(acc))
    assert out["item_success_rate"] == pytest.approx(np.mean(expected_m >= 0.3))


def test_a_copy_of_the_cue_scores_zero_on_the_probed_units():
    stim = image_stimulus("{kind: noisy, fraction: 0.2}", seed=4)
    copy = np.repeat(stim.cues[:, None, :], 2, axis=1)
    ds = standard_dataset(stim, copy, np.zeros((len(copy), 2, 8)), None, np.zeros(len(copy), int))
    out = item_space_metrics(ds, stim)
    assert out["probed_accuracy"] == 0.0
    assert out["item_overlap"] == pytest.approx(1 - 2 * 51 / 256)  # round(0.2 N) = 51 units flipped
    assert out["item_overlap"] == pytest.approx(out["cue_item_overlap"])


def test_binary_items_are_scored_in_bipolar_values():
    scenario = hipposim.loads_scenario("""
name: sparse
patterns: {kind: sparse, count: 4, size: 100, coding_level: 0.2}
cues: {kind: masked, fraction: 0.3}
models: [{id: hopfield-sparse-v1}]
""")
    stim = hipposim.build_stimulus(scenario)
    perfect = np.repeat(stim.patterns[stim.targets][:, None, :], 2, axis=1)
    ds = standard_dataset(stim, perfect, np.zeros((4, 2, 4)), None, np.zeros(4, int))
    out = item_space_metrics(ds, stim)
    assert out["item_overlap"] == pytest.approx(1.0) and out["probed_accuracy"] == pytest.approx(1.0)


# --------------------------------------------------------------------------- baselines trained alike

@pytest.mark.parametrize("seed", SEEDS)
def test_baselines_learn_the_cue_types_of_their_training_mixture(seed):
    """Trained on the declared mixture (random masks, left/right halves, flips), cued with left halves.

    Measured (seeds 31-35): MLP m 0.97-1.00, autoencoder 0.95-0.99, both probed accuracy 1.00.
    """
    left = image_stimulus("{kind: masked, region: left_half}", seed, training=MIXTURE_TOP_HELD_OUT)
    for model in (MLPBaseline(), DenoisingAutoencoder()):
        ds = model.run(left, np.random.default_rng(seed))
        assert ds.attrs["training"].startswith("scenario mixture")
        out = item_space_metrics(ds, left)
        assert out["probed_accuracy"] >= 0.95 and out["sign_item_overlap"] >= 0.95, type(model).__name__


# --------------------------------------------------------------------------- held-out cue types

@pytest.mark.parametrize("key", ["top_half", "flips_20"])
@pytest.mark.parametrize("seed", SEEDS)
def test_held_out_cue_types_with_every_model_trained_alike(key, seed):
    """Every trained model (MLP, autoencoder, the Transformer's FF) learns from one mixture that never
    produces the test cue type. Orderings asserted on amplitude-free measures (probed accuracy, m of the
    sign-thresholded state); no bound is put on how well a baseline may do.

    Measured (seeds 31-35, probed accuracy): top halves: modern and Transformer 1.00, MLP 0.90-0.96,
    autoencoder 0.96-0.98; 20 % flips: memories 1.00, autoencoder 0.985-0.998, MLP 0.08-0.28 (its residual
    keeps the flipped cue).
    """
    cue, mixture = HELD_OUT[key]
    stim = image_stimulus(cue, seed, training=mixture)
    scores = {name: item_space_metrics(make().run(stim, np.random.default_rng(seed)), stim)
              for name, make in protocol_models().items() if name != "classical"}
    for name in ("modern", "transformer"):
        assert scores[name]["probed_accuracy"] >= 0.99 and scores[name]["item_overlap"] >= 0.95, name
    memory = min(scores[n]["probed_accuracy"] for n in ("modern", "transformer"))
    for name in ("mlp", "autoencoder"):
        assert memory >= scores[name]["probed_accuracy"] - 1e-9, name
        # raw m, labelled: it penalises amplitude, and the memories still lead on it
        assert scores["modern"]["item_overlap"] > scores[name]["item_overlap"], name


# --------------------------------------------------------------------------- one-shot storage

@pytest.mark.parametrize("seed", SEEDS)
def test_one_shot_storage_of_a_new_image(seed):
    """Seven images are trained on; the eighth arrives after training and goes into memory without retraining.

    What is asserted is that the memories recall the new item, and that they do at least as well on it as
    the trained networks (an ordering, measured on seeds 31-35: modern 1.00, Transformer 0.96-1.00 probed
    accuracy, MLP 0.60-0.78, autoencoder 0.59-0.81); nothing requires a baseline to fail.
    """
    new = IMAGES[seed % len(IMAGES)]
    names = [n for n in IMAGES if n != new] + [new]
    stim = image_stimulus(f"{{kind: masked, region: left_half, targets: [{new}, {names[0]}]}}", seed, names,
                          training=MIXTURE_TOP_HELD_OUT)
    acc = {}
    for name, make in protocol_models(fit_items=7).items():
        if name == "classical":
            continue
        ds = make().run(stim, np.random.default_rng(seed))
        acc[name] = item_space_metrics(ds.isel(cue=[0]), _first(stim))["probed_accuracy"]
    assert acc["modern"] >= 0.99 and acc["transformer"] >= 0.9, acc
    for name in ("mlp", "autoencoder"):
        assert min(acc["modern"], acc["transformer"]) >= acc[name], acc


def _first(stim):
    return dataclasses.replace(stim, cues=stim.cues[:1], targets=stim.targets[:1], known=stim.known[:1])


@pytest.mark.parametrize("seed", SEEDS)
def test_one_shot_hebbian_storage_is_an_added_outer_product_and_recalls(seed):
    """Random items (N = 256, P = 10): Hebb's rule stores the new item by adding xi xi^T / N, no retraining;
    the classical network recalls it from half the units; the trained MLP does not."""
    rng = np.random.default_rng(seed)
    x = random_bipolar(10, 256, rng)
    np.testing.assert_allclose(hebbian_weights(x), hebbian_weights(x[:9]) + hebbian_weights(x[9:]), atol=1e-12)
    hidden = rng.random((2, 256)) < 0.5
    cues = np.where(hidden, 0.0, x[[9, 0]])
    stim = Stimulus(patterns=x, names=tuple(map(str, range(10))), coding="bipolar", cues=cues,
                    targets=np.array([9, 0]), known=~hidden)
    classical = ClassicalHopfield(max_steps=10).run(stim, np.random.default_rng(seed))
    assert item_m(classical, stim)[0] >= 0.99
    # an ordering, not a required failure: the memory recalls the new item at least as well as the MLP
    m_new, _ = item_m(MLPBaseline(fit_items=9).run(stim, np.random.default_rng(seed)), stim)
    assert item_m(classical, stim)[0] >= m_new


# --------------------------------------------------------------------------- the Jacobian

@pytest.mark.parametrize("beta", [2.0, 8.0])
def test_modern_closed_form_jacobian_matches_finite_differences(beta):
    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple, cup]}", names=IMAGES[:4])
    model = ModernHopfield(beta=beta, normalize=True, max_steps=3, tolerance=0.0)
    ds = model.run(stim, np.random.default_rng(0))
    closed = modern_jacobian(ds, stim)
    fd = finite_difference_jacobian(model, stim, 0, eps=1e-4)
    scale = np.abs(closed).max()
    assert scale > 1e-3  # not a vanishing map at these temperatures
    np.testing.assert_allclose(fd, closed, atol=1e-6 * scale)


def test_softmax_jacobian_matches_finite_differences():
    rng = np.random.default_rng(3)
    keys, values, q = rng.normal(size=(6, 5)), rng.normal(size=(6, 4)), rng.normal(size=(2, 5))
    jac = softmax_jacobian(q, keys, values, 0.7)

    def read(z):
        s = 0.7 * z @ keys.T
        p = np.exp(s - s.max(axis=-1, keepdims=True))
        return (p / p.sum(axis=-1, keepdims=True)) @ values

    eps = 1e-6
    fd = np.stack([(read(q + eps * e) - read(q - eps * e)) / (2 * eps) for e in np.eye(5)], axis=-1)
    np.testing.assert_allclose(jac, fd, atol=1e-8)


def test_hebbian_field_jacobian_is_w_at_every_cue_and_varies_zero():
    rng = np.random.default_rng(5)
    x = random_bipolar(5, 30, rng)
    w = hebbian_weights(x)
    jac = field_jacobian(w, 4)
    cue = rng.normal(size=30)
    fd = np.stack([((cue + 1e-3 * e) @ w - (cue - 1e-3 * e) @ w) / 2e-3 for e in np.eye(30)], axis=-1)
    np.testing.assert_allclose(jac[2], fd, atol=1e-10)
    assert jacobian_variability(jac) == 0.0


def test_every_trained_network_has_an_input_dependent_map():
    """Measured, not defined: the MLP's and the Transformer's cue -> reconstruction Jacobians vary across
    cues, the modern network's too (at beta 2); a linear map would give 0."""
    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple, cup, smiley]}", seed=43,
                          names=["apple", "cup", "letter_t", "smiley"])
    out = {}
    for name, model in {"mlp": MLPBaseline(), "transformer": TransformerBlock(n_layers=2)}.items():
        out[name] = jacobian_variability(finite_difference_jacobian(model, stim, 0))
    assert all(v > 0.1 for v in out.values()), out
    modern = ModernHopfield(beta=2.0, normalize=True).run(stim, np.random.default_rng(0))
    assert jacobian_variability(modern_jacobian(modern, stim)) > 0.1


def test_attention_sublayer_jacobian_is_the_softmax_jacobian_and_vanishes_when_saturated():
    """The attention read on its own: at beta 3 (metastable) it is the closed-form softmax Jacobian chained
    with the query map; at beta 20 (the flagship, 1 - max p ~ 1e-5) it is flat, so any input dependence of
    the block there is its feed-forward layer's."""
    from hipposim.analysis.jacobian import attention_sublayer_jacobian

    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple, cup]}", seed=44, names=IMAGES[:4])
    hot, att_hot = attention_sublayer_jacobian(TransformerBlock(n_layers=1, beta=20.0, score_scale="unit"), stim, 44)
    soft, att_soft = attention_sublayer_jacobian(TransformerBlock(n_layers=1, beta=3.0, score_scale="unit"), stim, 44)
    assert (1 - att_hot.max(axis=-1)).max() < 1e-2 < (1 - att_soft.max(axis=-1)).min()  # saturated vs not
    assert np.abs(hot).mean() < 1e-2 * np.abs(soft).mean()
    # closed form at beta 3 along the query direction: identity projections, keys and queries on the unit
    # sphere after layer norm, values the items; chain J_softmax (d_q) with the query map's finite difference
    from hipposim.functional.attention import layer_norm
    from hipposim.functional.coding import normalise_rows

    items = stim.bipolar_patterns()
    keys = normalise_rows(layer_norm(items))
    q = lambda x: normalise_rows(layer_norm(x))  # noqa: E731
    x = stim.bipolar_cues()[:1]
    jq = np.stack([(q(x + 1e-5 * e) - q(x - 1e-5 * e))[0] / 2e-5 for e in np.eye(256)], axis=-1)
    closed = softmax_jacobian(q(x), keys, items, 3.0)[0] @ jq
    np.testing.assert_allclose(soft[0], closed, atol=1e-5 * np.abs(closed).max())


def test_basin_switching_separates_selection_from_blending():
    """Half-hidden cues mixed toward another item: every model switches near the crossover w = 1/3, but only
    the memory selects (its output at the switch is one stored item); the MLP's is a blend.
    Measured (seeds 10-14, beta 20): purity modern 1.00, Transformer 0.96, MLP 0.60, autoencoder 0.58."""
    from hipposim.analysis.jacobian import basin_switching

    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple, cup]}", seed=45, names=IMAGES[:4],
                          training=MIXTURE_TOP_HELD_OUT)
    weights = np.linspace(0, 1, 26)
    modern = basin_switching(ModernHopfield(beta=20.0, normalize=True), stim, 45, weights)
    mlp = basin_switching(MLPBaseline(), stim, 45, weights)
    w = modern["switch_weight"][np.isfinite(modern["switch_weight"])]
    assert w.size == 6 and np.all(np.abs(w - 1 / 3) <= 0.1)
    assert np.nanmin(modern["purity"]) >= 0.95
    assert np.nanmean(mlp["purity"]) < np.nanmean(modern["purity"]) - 0.2


def test_rate_perturbation_sketch_equals_the_jacobian_times_its_directions():
    """The spiking probe, run on a cheap smooth model: (r(c + d D) - r(c - d D)) / 2d = J D for small d."""
    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple, cup]}", names=IMAGES[:4])
    model = MLPBaseline()
    sketch = spiking_rate_jacobian(model, stim, 0, n_directions=3, delta=1e-4, rng=np.random.default_rng(9),
                                   window=slice(-1, None))
    d = np.random.default_rng(9).standard_normal((3, 256))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    full = finite_difference_jacobian(model, stim, 0, eps=1e-4)
    np.testing.assert_allclose(sketch, full @ d.T, atol=1e-5)


# --------------------------------------------------------------------------- memory size and the table

def test_memory_sizes_follow_the_stated_formulas():
    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple]}", names=IMAGES[:4])
    n, p = 256, 4
    classical = ClassicalHopfield().run(stim, np.random.default_rng(0))
    modern = ModernHopfield(beta=20.0, normalize=True).run(stim, np.random.default_rng(0))
    mlp = MLPBaseline(hidden=100).run(stim, np.random.default_rng(0))
    assert memory_size(classical) == (n * n, "N^2 synapses")
    assert memory_size(modern)[0] == p * n
    assert memory_size(mlp)[0] == n * 100 + 100 + 100 * n + n


def test_compare_runs_reports_item_space_memory_and_jacobian(tmp_path):
    from hipposim.report import compare_runs
    from hipposim.run import run_scenario
    from hipposim.run.folder import RunFolder, load_run, prepare_output

    scenario = hipposim.loads_scenario("""
name: fair_tiny
seed: 3
patterns: {kind: images, names: [apple, cup, letter_t, smiley]}
cues: {kind: masked, region: left_half, targets: [apple, smiley]}
knobs: {beta: 20.0}
models:
  - {id: hopfield-classical-v1, label: classical, params: {max_steps: 5}}
  - {id: hopfield-modern-v1, label: modern, params: {normalize: true}}
  - {id: transformer-block-v1, label: transformer, params: {score_scale: unit}}
  - {id: mlp-baseline-v2, label: mlp}
""")
    run_scenario(scenario, tmp_path / "run", progress=False, figures=False)
    folder = prepare_output(tmp_path / "cmp", False)
    table = compare_runs([load_run(tmp_path / "run")], folder)
    assert set(table) == {"classical", "modern", "transformer", "mlp"}
    for m in table.values():
        assert m["success_overlap"] == 0.9 and m["own_overlap_measure"] == "item"
        assert m["final_overlap"] == m["item_overlap"]
    assert table["classical"]["stored_numbers"] == 256 ** 2
    assert table["modern"]["stored_numbers"] == 4 * 256
    assert table["classical"]["capacity_per_number"] == pytest.approx(
        4 * table["classical"]["item_success_rate"] / 256 ** 2)
    assert table["classical"]["jacobian_variability"] == 0.0
    assert table["modern"]["jacobian_method"].startswith("closed form")
    assert table["mlp"]["jacobian_method"].startswith("finite differences")
    assert table["mlp"]["jacobian_variability"] > 0.1
    assert table["modern"]["beta_normalised"] == pytest.approx(20.0)
    saved = json.loads((tmp_path / "cmp" / "metrics.json").read_text())
    assert saved["transformer"]["item_overlap"] == pytest.approx(table["transformer"]["item_overlap"])
    for fig in ("trajectories", "memory_and_input_dependence", "effective_weights_by_definition"):
        assert (tmp_path / "cmp" / "figures" / f"{fig}.png").exists()


def test_code_correlation_models_keep_their_own_overlap_apart():
    """A CA3-like result: headline from `state` in item space; its code overlap stays a labelled column."""
    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple, cup]}", names=IMAGES[:4])
    state = np.repeat(stim.patterns[stim.targets][:, None, :], 3, axis=1)
    code = np.full((2, 3, 4), 0.5)
    ds = standard_dataset(stim, state, code, None, np.full(2, -1), step_values=np.array([5.0, 15.0, 25.0]),
                          step_unit="ms", attrs={"overlap_measure": "code_correlation"})
    entry = comparison_metrics(ds, None, stim, jacobian=result_jacobian(ds, stim))
    assert entry["item_overlap"] == pytest.approx(1.0) and entry["item_success"] is True
    assert entry["own_overlap"] == pytest.approx(0.5) and entry["own_overlap_measure"] == "code_correlation"
    assert entry["own_success_overlap"] == pytest.approx(0.8)
    assert entry["jacobian_variability"] is None and "ask" in entry["jacobian_method"]
    assert entry["ms_to_success"] == 5.0


def test_sweep_memory_formula_agrees_with_the_datasets():
    """The formula used to draw capacity against memory size counts what the models themselves report."""
    from hipposim.analysis.weights import stored_numbers_formula

    stim = image_stimulus("{kind: masked, region: left_half, targets: [apple]}", names=IMAGES[:4])
    cases = [("hopfield-modern-v1", ModernHopfield(beta=20.0, normalize=True), {}),
             ("transformer-block-v1", TransformerBlock(n_layers=2, ff_hidden=32), {"n_layers": 2, "ff_hidden": 32}),
             ("mlp-baseline-v2", MLPBaseline(hidden=50), {"hidden": 50}),
             ("autoencoder-v1", DenoisingAutoencoder(hidden=20, max_iter=5), {"hidden": 20}),
             ("hopfield-classical-v1", ClassicalHopfield(), {})]
    for model_id, model, params in cases:
        ds = model.run(stim, np.random.default_rng(0))
        assert stored_numbers_formula(model_id, params, 256, 4) == memory_size(ds)[0], model_id
