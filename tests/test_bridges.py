"""The exact bridges between Hebbian memories and attention, as identities in float64 (to 1e-12).

* the classical Hopfield field W xi, W = (1/N) sum_mu x^mu x^mu^T, is unnormalised linear attention with
  K = V = X (identity separation, beta = 1/N); zeroing W's diagonal removes exactly the self term (P/N) xi;
* the modern Hopfield update is softmax attention (Ramsauer et al. 2020);
* the sparse covariance rule's field is linear attention on centred keys and values;
* the polynomial separation s -> s^d (Krotov & Hopfield 2016) stores far more items than d = 1.
"""
from __future__ import annotations

import numpy as np
import pytest

from hipposim.functional.attention import scaled_dot_product_attention
from hipposim.functional.retrieval import (covariance_weights, hebbian_weights, separate, softmax_retrieval,
                                           universal_retrieval)

TOL = dict(rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classical_field_is_linear_attention(seed):
    rng = np.random.default_rng(seed)
    n, p = 60, 7
    x = rng.choice([-1.0, 1.0], size=(p, n))
    xi = rng.choice([-1.0, 0.0, 1.0], size=(4, n))          # cues with masked units
    w_full = x.T @ x / n                                     # Hebb, self-couplings kept
    linear, weights = universal_retrieval(xi, x, x, "identity", beta=1.0 / n)
    np.testing.assert_allclose(xi @ w_full.T, linear, **TOL)
    np.testing.assert_allclose(weights, xi @ x.T / n, **TOL)
    # Hopfield's W_ii = 0 removes the self term sum_mu (x_i^mu)^2 / N = P / N from every unit
    np.testing.assert_allclose(xi @ hebbian_weights(x).T, linear - (p / n) * xi, **TOL)


@pytest.mark.parametrize("seed", [0, 1])
def test_modern_update_is_softmax_attention(seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(9, 32))
    xi = rng.normal(size=(5, 32))
    beta = 0.3
    new, w = universal_retrieval(xi, x, x, "softmax", beta=beta)
    # the weights against an independent softmax of the scores, written out below
    att, att_w = scaled_dot_product_attention(xi, x, x, beta=beta)
    np.testing.assert_allclose(new, att, **TOL)
    # independent: X softmax(beta X^T xi), written out
    s = beta * xi @ x.T
    e = np.exp(s - s.max(axis=1, keepdims=True))
    np.testing.assert_allclose(new, (e / e.sum(axis=1, keepdims=True)) @ x, **TOL)
    np.testing.assert_allclose(w, e / e.sum(axis=1, keepdims=True), **TOL)
    # the weights form a distribution that the scores order: the best-matching item gets the most weight
    np.testing.assert_allclose(w.sum(axis=1), 1.0, **TOL)
    np.testing.assert_array_equal(np.argmax(w, axis=1), np.argmax(xi @ x.T, axis=1))
    # argmax is the beta -> infinity limit
    hard, _ = universal_retrieval(xi, x, x, "argmax")
    np.testing.assert_allclose(hard, x[np.argmax(xi @ x.T, axis=1)], **TOL)


@pytest.mark.parametrize("a", [0.05, 0.1, 0.3])
def test_covariance_field_is_linear_attention_on_centred_keys(a):
    rng = np.random.default_rng(int(a * 100))
    n, p = 80, 6
    x = (rng.random((p, n)) < a).astype(float)               # sparse 0/1 patterns at coding level a
    s = (rng.random((3, n)) < a).astype(float)
    centred = x - a
    linear, _ = universal_retrieval(s, centred, centred, "identity")
    diag = np.sum(centred ** 2, axis=0)                      # W_ii the rule would have before zeroing
    np.testing.assert_allclose(s @ covariance_weights(x, a).T, linear - diag * s, **TOL)


def test_polynomial_degree_one_is_identity_and_separations_are_one_parameter():
    rng = np.random.default_rng(5)
    x = rng.choice([-1.0, 1.0], size=(8, 40))
    xi = rng.choice([-1.0, 1.0], size=(3, 40))
    one, _ = universal_retrieval(xi, x, x, "polynomial", degree=1)
    ident, _ = universal_retrieval(xi, x, x, "identity")
    np.testing.assert_allclose(one, ident, **TOL)
    cubic, w3 = universal_retrieval(xi, x, x, "polynomial", degree=3)
    np.testing.assert_allclose(w3, (xi @ x.T) ** 3, **TOL)
    np.testing.assert_allclose(cubic, ((xi @ x.T) ** 3) @ x, **TOL)
    with pytest.raises(ValueError, match="degree"):
        universal_retrieval(xi, x, x, "polynomial")
    with pytest.raises(ValueError, match="separation"):
        universal_retrieval(xi, x, x, "cosine")
    with pytest.raises(ValueError, match="separation"):
        separate(xi @ x.T, "cosine")


def _recall_fraction(n: int, p: int, degree: int, seed: int, flip: float = 0.05, steps: int = 10) -> float:
    """Fraction of P stored items recovered exactly from a copy with ``flip`` of its units flipped,
    by iterating xi <- sign(X^T (X xi)^d) synchronously."""
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], size=(p, n))
    xi = x * np.where(rng.random((p, n)) < flip, -1.0, 1.0)
    for _ in range(steps):
        field, _ = universal_retrieval(xi, x, x, "polynomial", degree=degree)
        new = np.where(field >= 0, 1.0, -1.0)
        if np.array_equal(new, xi):
            break
        xi = new
    return float(np.mean(np.all(xi == x, axis=1)))


def _capacity(n: int, degree: int, loads: list[int], seeds=(0, 1, 2)) -> int:
    """Largest P of ``loads`` at which at least 90% of items are recovered (mean over seeds)."""
    best = 0
    for p in loads:
        if np.mean([_recall_fraction(n, p, degree, s) for s in seeds]) >= 0.9:
            best = p
        else:
            break
    return best


def test_polynomial_degree_three_stores_at_least_three_times_more():
    n = 100
    loads = list(range(2, 40, 2)) + list(range(40, 160, 10))
    cap1 = _capacity(n, 1, loads)
    cap3 = _capacity(n, 3, loads)
    assert 4 <= cap1 <= 20, cap1                  # classical: of order 0.14 N with a strict recall criterion
    assert cap3 >= 3 * cap1, (cap1, cap3)
