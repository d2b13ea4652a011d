"""Pure numpy building blocks of a Transformer block (Vaswani et al. 2017).

Every function keeps the floating dtype of its inputs (float32 in, float32
out; float64 in, float64 out) and holds no state. Attention is computed by
:func:`hipposim.functional.retrieval.softmax_retrieval`, the same function that performs
the modern Hopfield update (Ramsauer et al. 2020, eq. 3), so

    X softmax(beta X^T xi) == Attention(Q = xi^T, K = V = X^T),  beta = 1/sqrt(d_k)

holds by construction, not by a second implementation.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.special import erf

from .entropy import entropy
from .retrieval import softmax_retrieval

Activation = Literal["gelu", "relu"]


def _float_dtype(*arrays: np.ndarray) -> np.dtype:
    dtype = np.result_type(*arrays)
    return dtype if np.issubdtype(dtype, np.floating) else np.dtype(np.float64)


def attention_beta(beta: float | None, d_k: int) -> float:
    """The inverse temperature of an attention read: ``beta``, or 1/sqrt(d_k) when None (Vaswani et al. 2017)."""
    if beta is None:
        return float(1.0 / np.sqrt(d_k))  # a Python float keeps float32 inputs float32
    if not np.isfinite(beta) or beta <= 0:
        raise ValueError(f"beta must be a finite number > 0, got {beta}")
    return float(beta)


def scaled_dot_product_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                                 mask: np.ndarray | None = None, beta: float | None = None
                                 ) -> tuple[np.ndarray, np.ndarray]:
    r"""Scaled dot-product attention (Vaswani et al. 2017, eq. 1).

    .. math::

        \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\beta\, Q K^\top + M\right) V,
        \qquad \beta = 1/\sqrt{d_k},

    where :math:`M_{ij} = -\infty` where ``mask`` is False and 0 elsewhere.
    With ``Q = xi^T`` and ``K = V = X^T`` this is the modern Hopfield update
    ``xi_new = X softmax(beta X^T xi)`` (Ramsauer et al. 2020, eq. 3); both are
    :func:`hipposim.functional.retrieval.softmax_retrieval`.

    Parameters
    ----------
    q : (..., n_q, d_k) array
        Queries.
    k : (..., n_m, d_k) array
        Keys, one per memory.
    v : (..., n_m, d_v) array
        Values, one per memory.
    mask : (..., n_q, n_m) bool array, optional
        False entries get zero weight. Every query must keep at least one memory.
    beta : float, optional
        Inverse temperature; default ``1/sqrt(d_k)``. Must be > 0.

    Returns
    -------
    output : (..., n_q, d_v) array
    weights : (..., n_q, n_m) array
        The attention weights; each row sums to 1.

    Raises
    ------
    ValueError
        If query and key widths differ, keys and values disagree in number,
        ``beta <= 0`` or a query has every memory masked.
    """
    dtype = _float_dtype(q, k, v)
    q, k, v = (np.asarray(a, dtype=dtype) for a in (q, k, v))
    if q.ndim < 2 or k.ndim < 2 or v.ndim < 2:
        raise ValueError("q, k and v must be at least 2-D: (..., tokens, width)")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"query width d_k={q.shape[-1]} does not match key width {k.shape[-1]}")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{k.shape[-2]} keys but {v.shape[-2]} values; every memory needs both")
    scale = attention_beta(beta, q.shape[-1])
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if not np.all(np.any(mask, axis=-1)):
            raise ValueError("mask hides every memory from some query; each query needs at least one")
    return softmax_retrieval(q, k, v, scale, mask=mask)


def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray:
    """(..., tokens, H*d) -> (..., H, tokens, d): head h takes columns [h*d, (h+1)*d)."""
    *lead, tokens, width = x.shape
    return np.moveaxis(x.reshape(*lead, tokens, n_heads, width // n_heads), -2, -3)


def merge_heads(x: np.ndarray) -> np.ndarray:
    """(..., H, tokens, d) -> (..., tokens, H*d): the concatenation of the heads."""
    *lead, heads, tokens, width = x.shape
    return np.moveaxis(x, -3, -2).reshape(*lead, tokens, heads * width)


def multi_head_attention(x_q: np.ndarray, x_kv: np.ndarray, w_q: np.ndarray, w_k: np.ndarray,
                         w_v: np.ndarray, w_o: np.ndarray, n_heads: int,
                         mask: np.ndarray | None = None, beta: float | None = None
                         ) -> tuple[np.ndarray, np.ndarray]:
    r"""Multi-head attention (Vaswani et al. 2017, section 3.2.2).

    .. math::

        \mathrm{MHA}(X_q, X_{kv}) = \mathrm{Concat}(\mathrm{head}_1, \dots, \mathrm{head}_H)\, W_O,
        \qquad \mathrm{head}_h = \mathrm{Attention}(X_q W_Q^h,\; X_{kv} W_K^h,\; X_{kv} W_V^h),

    where :math:`W_Q^h` is the h-th block of ``d_k = w_q.shape[1] / H``
    columns of ``w_q`` (likewise ``W_K^h``, ``W_V^h``), and each head uses
    ``beta = 1/sqrt(d_k)`` unless ``beta`` is given.

    Parameters
    ----------
    x_q : (..., n_q, d_model) array
        Query tokens.
    x_kv : (..., n_m, d_mem) array
        Memory tokens (keys and values are projected from them).
    w_q : (d_model, H*d_k) array
    w_k : (d_mem, H*d_k) array
    w_v : (d_mem, H*d_v) array
    w_o : (H*d_v, d_out) array
    n_heads : int
        Number of heads H; must divide the projected widths.
    mask : (..., n_q, n_m) bool array, optional
        Shared by all heads; False entries get zero weight.
    beta : float, optional
        Inverse temperature of every head; default ``1/sqrt(d_k)``.

    Returns
    -------
    output : (..., n_q, d_out) array
    weights : (..., H, n_q, n_m) array
        Attention weights of every head (head, query, memory).

    Raises
    ------
    ValueError
        On a width mismatch between tokens and projections, a head count that
        does not divide the projected width, or ``beta <= 0``.
    """
    dtype = _float_dtype(x_q, x_kv, w_q, w_k, w_v, w_o)
    x_q, x_kv, w_q, w_k, w_v, w_o = (np.asarray(a, dtype=dtype) for a in (x_q, x_kv, w_q, w_k, w_v, w_o))
    if not isinstance(n_heads, (int, np.integer)) or n_heads < 1:
        raise ValueError(f"n_heads must be a positive integer, got {n_heads!r}")
    if x_q.shape[-1] != w_q.shape[0]:
        raise ValueError(f"query tokens have width {x_q.shape[-1]} but W_Q expects {w_q.shape[0]}")
    if x_kv.shape[-1] != w_k.shape[0] or x_kv.shape[-1] != w_v.shape[0]:
        raise ValueError(f"memory tokens have width {x_kv.shape[-1]} but W_K expects {w_k.shape[0]} "
                         f"and W_V expects {w_v.shape[0]}")
    if w_q.shape[1] != w_k.shape[1]:
        raise ValueError(f"W_Q projects to width {w_q.shape[1]} but W_K to {w_k.shape[1]}; "
                         "queries and keys must have the same width")
    for name, width in (("query/key", w_q.shape[1]), ("value", w_v.shape[1])):
        if width % n_heads:
            raise ValueError(f"{n_heads} heads do not divide the {name} width {width}")
    if w_o.shape[0] != w_v.shape[1]:
        raise ValueError(f"W_O expects width {w_o.shape[0]} but the heads concatenate to {w_v.shape[1]}")
    q = split_heads(x_q @ w_q, n_heads)
    k = split_heads(x_kv @ w_k, n_heads)
    v = split_heads(x_kv @ w_v, n_heads)
    if mask is not None:
        mask = np.expand_dims(np.asarray(mask, dtype=bool), -3)  # same mask for every head
    heads, weights = scaled_dot_product_attention(q, k, v, mask=mask, beta=beta)
    return merge_heads(heads) @ w_o, weights


def layer_norm(x: np.ndarray, eps: float = 1e-5, gamma: np.ndarray | None = None,
               beta: np.ndarray | None = None) -> np.ndarray:
    r"""Layer normalisation over the last axis (Ba, Kiros & Hinton 2016).

    .. math::

        \mathrm{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
        \qquad \mu = \tfrac{1}{d}\textstyle\sum_i x_i,\quad
        \sigma^2 = \tfrac{1}{d}\textstyle\sum_i (x_i - \mu)^2.

    ``gamma`` defaults to ones and ``beta`` (the shift, not an inverse
    temperature) to zeros.
    """
    x = np.asarray(x)
    dtype = _float_dtype(x)
    x = x.astype(dtype, copy=False)
    centred = x - x.mean(axis=-1, keepdims=True)
    out = centred / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + dtype.type(eps))
    if gamma is not None:
        out = out * np.asarray(gamma, dtype=dtype)
    if beta is not None:
        out = out + np.asarray(beta, dtype=dtype)
    return out


def gelu(x: np.ndarray) -> np.ndarray:
    r"""Exact GELU (Hendrycks & Gimpel 2016): :math:`x\,\Phi(x) = \tfrac{x}{2}(1 + \mathrm{erf}(x/\sqrt2))`.

    The exact erf form (``scipy.special.erf``) is used, not the tanh approximation.
    """
    x = np.asarray(x)
    x = x.astype(_float_dtype(x), copy=False)
    return x * (1 + erf(x / np.sqrt(x.dtype.type(2)))) / 2


def relu(x: np.ndarray) -> np.ndarray:
    """ReLU: max(x, 0)."""
    return np.maximum(x, 0)


ACTIVATIONS = {"gelu": gelu, "relu": relu}


def feed_forward(x: np.ndarray, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray, b2: np.ndarray,
                 activation: Activation = "gelu") -> np.ndarray:
    r"""Position-wise feed-forward layer (Vaswani et al. 2017, eq. 2).

    .. math::

        \mathrm{FF}(x) = \phi(x W_1 + b_1)\, W_2 + b_2,

    with :math:`\phi` the exact (erf) GELU or ReLU; see :func:`gelu`.

    Parameters
    ----------
    x : (..., d_in) array
    w1 : (d_in, d_hidden) array
    b1 : (d_hidden,) array
    w2 : (d_hidden, d_out) array
    b2 : (d_out,) array
    activation : "gelu" or "relu"
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected 'gelu' or 'relu'")
    dtype = _float_dtype(x, w1, b1, w2, b2)
    x, w1, b1, w2, b2 = (np.asarray(a, dtype=dtype) for a in (x, w1, b1, w2, b2))
    if x.shape[-1] != w1.shape[0]:
        raise ValueError(f"input width {x.shape[-1]} does not match W1 input width {w1.shape[0]}")
    if w1.shape[1] != w2.shape[0]:
        raise ValueError(f"W1 has {w1.shape[1]} hidden units but W2 expects {w2.shape[0]}")
    return ACTIVATIONS[activation](x @ w1 + b1) @ w2 + b2


def attention_entropy(weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """Entropy (nats) of attention rows; see :func:`hipposim.functional.entropy.entropy`."""
    return entropy(weights, axis=axis)
