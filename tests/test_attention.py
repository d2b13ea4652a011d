"""Attention, layer norm and feed-forward against explicit references and theory."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import erf

from hipposim.functional.attention import (attention_entropy, feed_forward, gelu, layer_norm, multi_head_attention,
                                scaled_dot_product_attention)
from hipposim.functional.retrieval import chunked_softmax_retrieval, logsumexp, softmax_retrieval


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_hopfield_update_equals_attention(rng):
    """X softmax(beta X^T xi) == Attention(Q = xi^T, K = V = X^T), beta = 1/sqrt(d_k) (Ramsauer et al. 2020)."""
    d, n_mem = 64, 10
    big_x = rng.choice([-1.0, 1.0], size=(d, n_mem))  # columns are stored patterns
    xi = big_x[:, 3] * np.where(rng.random(d) < 0.3, -1.0, 1.0)
    beta = 1.0 / np.sqrt(d)
    scores = beta * (big_x.T @ xi)
    p = np.exp(scores - scores.max())
    p /= p.sum()
    hopfield = big_x @ p  # explicit numpy, independent of softmax_retrieval
    out, weights = scaled_dot_product_attention(xi[None, :], big_x.T, big_x.T)
    np.testing.assert_allclose(out[0], hopfield, rtol=0, atol=1e-12)
    np.testing.assert_allclose(weights[0], p, rtol=0, atol=1e-12)
    # and the function the Hopfield models call gives the same numbers
    via_retrieval, _ = softmax_retrieval(xi[None, :], big_x.T, big_x.T, beta)
    np.testing.assert_allclose(via_retrieval[0], hopfield, rtol=0, atol=1e-12)


def test_multi_head_matches_head_by_head_loop(rng):
    n_q, n_m, d_model, d_mem, heads, d_k, d_v, d_out = 3, 7, 12, 10, 3, 4, 5, 6
    x_q = rng.normal(size=(n_q, d_model))
    x_kv = rng.normal(size=(n_m, d_mem))
    w_q, w_k = rng.normal(size=(d_model, heads * d_k)), rng.normal(size=(d_mem, heads * d_k))
    w_v, w_o = rng.normal(size=(d_mem, heads * d_v)), rng.normal(size=(heads * d_v, d_out))
    mask = rng.random((n_q, n_m)) < 0.7
    mask[:, 0] = True
    out, weights = multi_head_attention(x_q, x_kv, w_q, w_k, w_v, w_o, heads, mask=mask)

    concat = np.zeros((n_q, heads * d_v))
    for h in range(heads):
        q = x_q @ w_q[:, h * d_k:(h + 1) * d_k]
        k = x_kv @ w_k[:, h * d_k:(h + 1) * d_k]
        v = x_kv @ w_v[:, h * d_v:(h + 1) * d_v]
        for i in range(n_q):
            s = np.array([q[i] @ k[j] / np.sqrt(d_k) if mask[i, j] else -np.inf for j in range(n_m)])
            w = np.exp(s - s.max())
            w /= w.sum()
            np.testing.assert_allclose(weights[h, i], w, atol=1e-12)
            concat[i, h * d_v:(h + 1) * d_v] = w @ v
    np.testing.assert_allclose(out, concat @ w_o, atol=1e-10)
    assert weights.shape == (heads, n_q, n_m)


def test_permuting_memories_permutes_weights_only(rng):
    q, k, v = rng.normal(size=(4, 8)), rng.normal(size=(9, 8)), rng.normal(size=(9, 3))
    perm = rng.permutation(9)
    out, w = scaled_dot_product_attention(q, k, v)
    out_p, w_p = scaled_dot_product_attention(q, k[perm], v[perm])
    np.testing.assert_allclose(out_p, out, atol=1e-12)
    np.testing.assert_allclose(w_p, w[:, perm], atol=1e-15)
    eye = np.eye(8)
    mh, mw = multi_head_attention(q, k, eye, eye, eye[:, :8], eye, 2)
    mh_p, mw_p = multi_head_attention(q, k[perm], eye, eye, eye[:, :8], eye, 2)
    np.testing.assert_allclose(mh_p, mh, atol=1e-12)
    np.testing.assert_allclose(mw_p, mw[..., perm], atol=1e-15)


def test_beta_limits_mean_and_nearest(rng):
    k = rng.choice([-1.0, 1.0], size=(6, 32))
    q = k[2:3] * np.where(rng.random(32) < 0.2, -1.0, 1.0)
    tiny, w_tiny = scaled_dot_product_attention(q, k, k, beta=1e-9)
    np.testing.assert_allclose(tiny[0], k.mean(axis=0), atol=1e-7)
    assert attention_entropy(w_tiny)[0] == pytest.approx(np.log(6), abs=1e-6)
    big, w_big = scaled_dot_product_attention(q, k, k, beta=1e3)
    np.testing.assert_allclose(big[0], k[2], atol=1e-12)
    assert attention_entropy(w_big)[0] == pytest.approx(0.0, abs=1e-9)


def test_float32_stays_float32(rng):
    f32 = np.float32
    q, k, v = (rng.normal(size=s).astype(f32) for s in ((3, 8), (5, 8), (5, 4)))
    out, w = scaled_dot_product_attention(q, k, v)
    assert out.dtype == f32 and w.dtype == f32
    eye = np.eye(8, dtype=f32)
    out, w = multi_head_attention(q, k, eye, eye, eye, eye, 4)
    assert out.dtype == f32 and w.dtype == f32
    assert layer_norm(q).dtype == f32
    w1, b1 = rng.normal(size=(8, 16)).astype(f32), np.zeros(16, f32)
    w2, b2 = rng.normal(size=(16, 8)).astype(f32), np.zeros(8, f32)
    assert feed_forward(q, w1, b1, w2, b2).dtype == f32
    assert feed_forward(q, w1, b1, w2, b2, activation="relu").dtype == f32
    assert chunked_softmax_retrieval(q, k, v, 0.5, chunk_size=2)[0].dtype == f32
    assert scaled_dot_product_attention(q.astype(np.float64), k, v)[0].dtype == np.float64


def test_bad_dimensions_and_beta_raise(rng):
    q, k, v = rng.normal(size=(3, 8)), rng.normal(size=(5, 6)), rng.normal(size=(5, 4))
    with pytest.raises(ValueError, match="query width"):
        scaled_dot_product_attention(q, k, v)
    with pytest.raises(ValueError, match="keys but"):
        scaled_dot_product_attention(q, rng.normal(size=(5, 8)), rng.normal(size=(4, 4)))
    for bad in (0.0, -1.0, np.nan):
        with pytest.raises(ValueError, match="beta"):
            scaled_dot_product_attention(q, q, q, beta=bad)
    with pytest.raises(ValueError, match="beta"):
        chunked_softmax_retrieval(q, q, q, 0.0)
    eye = np.eye(8)
    with pytest.raises(ValueError, match="heads do not divide"):
        multi_head_attention(q, q, eye, eye, eye, eye, 3)
    with pytest.raises(ValueError, match="width"):
        multi_head_attention(q, k, eye, eye, eye, eye, 2)
    with pytest.raises(ValueError, match="every memory"):
        scaled_dot_product_attention(q, q, q, mask=np.zeros((3, 3), dtype=bool))


def test_layer_norm_zero_mean_unit_variance(rng):
    x = rng.normal(loc=3.0, scale=5.0, size=(4, 7, 64))
    y = layer_norm(x)
    np.testing.assert_allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1.0, atol=1e-5)  # eps = 1e-5 shrinks it a little
    gamma, shift = rng.normal(size=64), rng.normal(size=64)
    np.testing.assert_allclose(layer_norm(x, gamma=gamma, beta=shift), y * gamma + shift, atol=1e-12)


def test_gelu_is_the_exact_erf_form(rng):
    x = rng.normal(scale=3.0, size=1000)
    np.testing.assert_allclose(gelu(x), 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))), rtol=0, atol=1e-15)
    w1, b1, w2, b2 = rng.normal(size=(5, 9)), rng.normal(size=9), rng.normal(size=(9, 2)), rng.normal(size=2)
    z = rng.normal(size=(3, 5))
    h = z @ w1 + b1
    np.testing.assert_allclose(feed_forward(z, w1, b1, w2, b2), gelu(h) @ w2 + b2, atol=1e-12)
    np.testing.assert_allclose(feed_forward(z, w1, b1, w2, b2, "relu"), np.maximum(h, 0) @ w2 + b2, atol=1e-12)
    with pytest.raises(ValueError, match="activation"):
        feed_forward(z, w1, b1, w2, b2, "tanh")


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 10_000])
def test_chunked_equals_dense(rng, chunk_size):
    q, k, v = rng.normal(size=(6, 16)), rng.normal(size=(500, 16)), rng.normal(size=(500, 5))
    beta = 3.0  # large scores exercise the running max
    dense, _ = softmax_retrieval(q, k, v, beta)
    streamed, lse = chunked_softmax_retrieval(q, k, v, beta, chunk_size=chunk_size)
    np.testing.assert_allclose(streamed, dense, rtol=0, atol=1e-10)
    np.testing.assert_allclose(lse, logsumexp(beta * q @ k.T, axis=-1), rtol=0, atol=1e-10)
