"""The abstract memories against theory (Hopfield 1982; Amit et al. 1985; Ramsauer et al. 2020)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hipposim.models.hopfield_classical import ClassicalHopfield, async_sweep
from hipposim.models.hopfield_modern import ModernHopfield
from hipposim.functional.retrieval import hebbian_weights, hopfield_energy, modern_hopfield_energy
from hipposim.stimuli import Stimulus, noisy_cue, random_bipolar


def make_stimulus(patterns, cues, targets):
    return Stimulus(patterns=patterns, names=tuple(f"p{i}" for i in range(len(patterns))), coding="bipolar",
                    cues=cues, targets=np.asarray(targets), known=np.ones_like(cues, dtype=bool))


def test_weights_equal_outer_product_rule():
    rng = np.random.default_rng(0)
    x = random_bipolar(7, 40, rng)
    expected = np.zeros((40, 40))
    for i in range(40):
        for j in range(40):
            if i != j:
                expected[i, j] = sum(x[mu, i] * x[mu, j] for mu in range(7)) / 40
    np.testing.assert_allclose(hebbian_weights(x), expected, atol=1e-15)
    model = ClassicalHopfield()
    model.run(make_stimulus(x, x[:2].copy(), [0, 1]), rng)
    np.testing.assert_allclose(model.weights_, expected, atol=1e-15)
    assert np.all(np.diag(model.weights_) == 0)


def naive_async_sweep(s, w, order):
    """Textbook unit-by-unit asynchronous sweep (the reference)."""
    s = s.copy()
    for i in order:
        h = w[i] @ s
        if h != 0:
            s[i] = np.sign(h)
    return s


def test_event_driven_async_sweep_equals_unit_by_unit_sweep():
    rng = np.random.default_rng(3)
    x = random_bipolar(30, 120, rng)
    w = np.rint(hebbian_weights(x) * 120)  # integer weights: exact ties, as the model uses
    cues = np.array([noisy_cue(x[i], 0.3, "bipolar", rng) for i in range(6)])
    cues[0, :40] = 0  # masked units included
    for _ in range(3):
        order = rng.permutation(120)
        expected = np.array([naive_async_sweep(c, w, order) for c in cues])
        s = cues.copy()
        async_sweep(s, s @ w, w, order)
        np.testing.assert_array_equal(s, expected)
        cues = expected


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(8, 60), p=st.integers(1, 20),
       flip=st.floats(0.0, 0.5))
def test_async_updates_never_raise_energy(seed, n, p, flip):
    rng = np.random.default_rng(seed)
    x = random_bipolar(p, n, rng)
    cues = np.array([noisy_cue(x[i % p], flip, "bipolar", rng) for i in range(3)])
    ds = ClassicalHopfield(update="async", max_steps=10).run(make_stimulus(x, cues, [0, 0, 0]), rng)
    energy = ds["energy"].values
    assert np.all(np.diff(energy, axis=1) <= 1e-12)
    # and the recorded energy is -1/2 s^T W s of the recorded states
    w = hebbian_weights(x)
    np.testing.assert_allclose(energy[:, -1], hopfield_energy(ds["state"].values[:, -1], w))


def test_async_stops_at_a_fixed_point():
    rng = np.random.default_rng(5)
    x = random_bipolar(5, 100, rng)
    cues = np.array([noisy_cue(x[i], 0.15, "bipolar", rng) for i in range(5)])
    ds = ClassicalHopfield(update="async", max_steps=50).run(make_stimulus(x, cues, range(5)), rng)
    final = ds["state"].values[:, -1]
    w = hebbian_weights(x)
    h = final @ w
    assert np.all((np.sign(h) == final) | (h == 0))  # a fixed point
    assert np.all(ds["converged_step"].values >= 0)
    assert ds.sizes["step"] < 50


def test_sync_update_is_sign_of_field():
    rng = np.random.default_rng(9)
    x = random_bipolar(10, 80, rng)
    cues = np.array([noisy_cue(x[i], 0.3, "bipolar", rng) for i in range(4)])
    ds = ClassicalHopfield(update="sync", max_steps=1).run(make_stimulus(x, cues, range(4)), rng)
    h = cues @ np.rint(hebbian_weights(x) * 80)
    expected = np.where(h > 0, 1.0, np.where(h < 0, -1.0, cues))  # a zero field keeps the state
    np.testing.assert_array_equal(ds["state"].values[:, 1], expected)


@pytest.mark.parametrize("load, bound", [(0.10, "low"), (0.20, "high")])
def test_classical_capacity_at_n_1000(load, bound):
    """Recall from 10% flipped bits holds at P/N = 0.10 and collapses at 0.20 (alpha_c ~ 0.138)."""
    rng = np.random.default_rng(2024)
    n = 1000
    p = int(load * n)
    x = random_bipolar(p, n, rng)
    cues = np.array([noisy_cue(x[i], 0.1, "bipolar", rng) for i in range(40)])
    ds = ClassicalHopfield(update="async", max_steps=30).run(make_stimulus(x, cues, range(40)), rng)
    final = ds["overlap"].values[np.arange(40), -1, np.arange(40)]
    if bound == "low":
        assert final.mean() >= 0.95
    else:
        assert final.mean() <= 0.6


def test_modern_retrieves_in_one_update_at_beta_8():
    rng = np.random.default_rng(11)
    d, p = 64, 400
    x = random_bipolar(p, d, rng)
    cues = np.array([noisy_cue(x[i], 0.1, "bipolar", rng) for i in range(50)])
    ds = ModernHopfield(beta=8.0, max_steps=3).run(make_stimulus(x, cues, range(50)), rng)
    after_one = ds["state"].values[:, 1]
    np.testing.assert_allclose(after_one, x[:50], atol=1e-6)
    energy = ds["energy"].values
    assert np.all(np.diff(energy, axis=1) <= 1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), beta=st.floats(0.01, 50.0), p=st.integers(2, 40))
def test_modern_energy_never_rises(seed, beta, p):
    rng = np.random.default_rng(seed)
    d = 16
    x = random_bipolar(p, d, rng) / np.sqrt(d)
    xi = rng.normal(size=(4, d))
    ds = ModernHopfield(beta=beta, max_steps=6, tolerance=0.0).run(
        Stimulus(patterns=x, names=tuple(map(str, range(p))), coding="bipolar", cues=xi,
                 targets=np.zeros(4, int), known=np.ones((4, d), bool)), rng)
    e = ds["energy"].values
    assert np.all(np.diff(e, axis=1) <= 1e-9 * (1 + np.abs(e[:, :-1])))


def test_modern_small_beta_gives_mean_of_patterns():
    rng = np.random.default_rng(1)
    x = random_bipolar(30, 50, rng)
    cue = noisy_cue(x[0], 0.2, "bipolar", rng)[None]
    ds = ModernHopfield(beta=1e-9, max_steps=1).run(make_stimulus(x, cue, [0]), rng)
    np.testing.assert_allclose(ds["state"].values[0, 1], x.mean(axis=0), atol=1e-6)


def test_modern_stays_finite_at_beta_1e4_and_argmax_matches_large_beta():
    rng = np.random.default_rng(4)
    x = random_bipolar(100, 64, rng)
    cues = np.array([noisy_cue(x[i], 0.3, "bipolar", rng) for i in range(10)])
    stim = make_stimulus(x, cues, range(10))
    soft = ModernHopfield(beta=1e4, max_steps=3).run(stim, rng)
    hard = ModernHopfield(separation="argmax", max_steps=3).run(stim, rng)
    for ds in (soft, hard):
        assert np.all(np.isfinite(ds["state"].values)) and np.all(np.isfinite(ds["energy"].values))
    np.testing.assert_allclose(soft["state"].values[:, 1], hard["state"].values[:, 1], atol=1e-9)
    np.testing.assert_allclose(hard["state"].values[:, 1], x[:10])


def test_modern_energy_formula():
    """E = -lse(beta, X^T xi) + 1/2 xi^T xi + ln(N)/beta + 1/2 M^2, computed independently."""
    rng = np.random.default_rng(8)
    x = rng.normal(size=(12, 5))
    xi = rng.normal(size=5)
    beta = 0.7
    lse = np.log(np.sum(np.exp(beta * (x @ xi)))) / beta
    m = max(np.linalg.norm(r) for r in x)
    expected = -lse + 0.5 * xi @ xi + np.log(12) / beta + 0.5 * m * m
    assert modern_hopfield_energy(xi[None], x, beta)[0] == pytest.approx(expected, rel=1e-12)


# --------------------------------------------------------------------------- beta's regime

def test_beta_is_recorded_on_the_cosine_scale():
    """Raw +-1 items have |x|^2 = N, so beta = 8 at N = 64 is beta_normalised = 512; on the unit sphere it is 8."""
    rng = np.random.default_rng(0)
    x = random_bipolar(20, 64, rng)
    stim = make_stimulus(x, x[:3].copy(), [0, 1, 2])
    raw = ModernHopfield(beta=8.0, max_steps=1).run(stim, rng)
    unit = ModernHopfield(beta=8.0, normalize=True, max_steps=1).run(stim, rng)
    assert raw.attrs["beta_normalised"] == pytest.approx(512.0)
    assert unit.attrs["beta_normalised"] == pytest.approx(8.0)
    # the same cosine temperature gives the same read
    same = ModernHopfield(beta=8.0 / 64, max_steps=1).run(stim, rng)
    np.testing.assert_allclose(same["attention"].values[:, 1], unit["attention"].values[:, 1], atol=1e-12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_separation_condition_marks_the_regimes(seed):
    """Ramsauer et al. Theorem 3 on the unit sphere: where every item is separated, noisy cues are retrieved;
    at a cosine temperature far below the bound the read averages and recall fails.

    P = 200 items of N = 100 (load 2, far beyond the classical 0.138), 10% flipped units.
    """
    rng = np.random.default_rng(seed)
    x = random_bipolar(200, 100, rng)
    cues = np.array([noisy_cue(x[i], 0.1, "bipolar", rng) for i in range(30)])
    stim = make_stimulus(x, cues, range(30))
    hot = ModernHopfield(beta=60.0, normalize=True, max_steps=5).run(stim, rng)
    cold = ModernHopfield(beta=2.0, normalize=True, max_steps=5).run(stim, rng)
    assert hot.attrs["separated_fraction"] == 1.0
    assert cold.attrs["separated_fraction"] == 0.0
    final = lambda ds: ds["overlap"].values[np.arange(30), -1, np.arange(30)]  # noqa: E731
    assert final(hot).min() >= 0.99
    assert final(cold).mean() <= 0.5


def test_treves_rolls_fit_recovers_k_and_the_capacity_ratio():
    """Curves built to fall through 0.5 at k C / (a ln 1/a) give back k exactly, and the ratio of C."""
    from hipposim.analysis.capacity import crossing_load, fit_treves_rolls, treves_rolls_capacity

    a, k = 0.07, 0.06
    counts = np.array([4, 8, 16, 32, 64, 128, 256])
    curves = {}
    for c in (100, 200):
        p50 = treves_rolls_capacity(c, a, k)
        # linear in log(count) near the crossing, so the interpolation is exact
        curves[c] = (counts, np.clip(0.5 - 0.4 * np.log(counts / p50), 0, 1))
    fit = fit_treves_rolls(curves, a)
    assert fit["k"] == pytest.approx(k, rel=1e-9)
    assert fit["ratio"] == pytest.approx(2.0, rel=1e-9)
    assert fit["capacity"][100] == pytest.approx(100 * k / (a * np.log(1 / a)), rel=1e-9)
    # a curve that never falls below the level has no capacity inside the sweep
    assert np.isnan(crossing_load(counts, np.ones(len(counts))))
    assert np.isnan(crossing_load(counts, np.zeros(len(counts))))
    # a plateau at the level is not a crossing: the curve must fall below it
    assert np.isnan(crossing_load(counts, np.array([1, 1, 0.5, 0.5, 0.5, 0.5, 0.5])))
    assert crossing_load(counts, np.array([1, 1, 0.5, 0.5, 0.25, 0, 0])) == pytest.approx(32.0)
    with pytest.raises(ValueError, match="coding_level"):
        treves_rolls_capacity(100, 1.5)
