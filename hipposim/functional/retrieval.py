"""Pure maths shared by the abstract memories and the Transformer analogue.

One function, :func:`softmax_retrieval`, computes ``softmax(beta Q K^T) V``.
The modern Hopfield update (Ramsauer et al. 2020, eq. 3),

    xi_new = X softmax(beta X^T xi),

is this function with ``Q = xi^T``, ``K = V = X^T``; scaled dot-product
attention (Vaswani et al. 2017) is it with ``beta = 1/sqrt(d_k)``. The identity
between the two therefore holds by construction.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

Separation = Literal["softmax", "argmax"]
#: every separation function of :func:`universal_retrieval`
UniversalSeparation = Literal["identity", "softmax", "argmax", "polynomial", "exponential"]


def logsumexp(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Numerically stable log(sum(exp(z))) along ``axis`` (max-shifted)."""
    zmax = np.max(z, axis=axis, keepdims=True)
    zmax = np.where(np.isfinite(zmax), zmax, 0.0)
    out = np.log(np.sum(np.exp(z - zmax), axis=axis, keepdims=True)) + zmax
    return np.squeeze(out, axis=axis)


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    """Max-shifted softmax; finite for arbitrarily large inputs."""
    zmax = np.max(z, axis=axis, keepdims=True)
    zmax = np.where(np.isfinite(zmax), zmax, 0.0)
    e = np.exp(z - zmax)
    return e / np.sum(e, axis=axis, keepdims=True)


def separate(scores: np.ndarray, separation: Separation | UniversalSeparation = "softmax",
             degree: int | None = None) -> np.ndarray:
    """The separation function of a universal Hopfield network (Millidge et al. 2022).

    ``softmax`` gives attention / modern Hopfield weights; ``argmax`` puts all
    weight on the best match (the beta -> infinity limit; ties share equally);
    ``identity`` returns the scores unchanged (unnormalised linear attention,
    the classical Hopfield network); ``polynomial`` raises them to the power
    ``degree``, F(s) = s^d (Krotov & Hopfield 2016, dense associative memory;
    d = 1 is the classical network).
    """
    if separation == "softmax":
        return softmax(scores, axis=-1)
    if separation == "argmax":
        best = scores == np.max(scores, axis=-1, keepdims=True)
        return best / np.sum(best, axis=-1, keepdims=True)
    if separation == "identity":
        return np.asarray(scores)
    if separation == "polynomial":
        if degree is None or int(degree) != degree or degree < 1:
            raise ValueError(f"polynomial separation needs an integer degree >= 1, got {degree!r}")
        return np.power(scores, int(degree))
    if separation == "exponential":
        # exp(s) times the positive factor exp(-max_mu s) of each query: never overflows, and a
        # read through it differs from the exact exp(s) read by that factor only
        top = np.max(scores, axis=-1, keepdims=True)
        return np.exp(scores - np.where(np.isfinite(top), top, 0.0))
    raise ValueError(f"unknown separation {separation!r}; expected 'identity', 'softmax', 'argmax', "
                     "'polynomial' or 'exponential'")


def softmax_retrieval(queries: np.ndarray, keys: np.ndarray, values: np.ndarray, beta: float,
                      mask: np.ndarray | None = None, separation: Separation = "softmax"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(beta Q K^T + mask) V``: attention and the modern Hopfield update in one.

    Parameters
    ----------
    queries : (..., n_q, d_k)
    keys : (..., n_m, d_k)
    values : (..., n_m, d_v)
    beta : inverse temperature (1/sqrt(d_k) for attention).
    mask : optional boolean (..., n_q, n_m); False entries get zero weight.
    separation : "softmax" or "argmax".

    Returns
    -------
    (retrieved (..., n_q, d_v), weights (..., n_q, n_m))
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"query width {queries.shape[-1]} does not match key width {keys.shape[-1]}")
    if keys.shape[-2] != values.shape[-2]:
        raise ValueError(f"{keys.shape[-2]} keys but {values.shape[-2]} values")
    scores = queries @ np.swapaxes(keys, -1, -2)
    scores *= beta
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    if separation != "softmax":
        weights = separate(scores, separation)
        return weights @ values, weights
    # softmax in place (one pass fewer over the n_q x n_m scores than separate())
    top = np.max(scores, axis=-1, keepdims=True)
    if not np.all(np.isfinite(top)):
        top = np.where(np.isfinite(top), top, 0.0)
    scores -= top
    np.exp(scores, out=scores)
    scores /= np.sum(scores, axis=-1, keepdims=True)
    return scores @ values, scores


def universal_retrieval(queries: np.ndarray, keys: np.ndarray, values: np.ndarray,
                        separation: UniversalSeparation = "softmax", beta: float | None = None,
                        degree: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """One read of an abstract associative memory, ``sep(beta Q K^T) V``, with the separation as a parameter.

    The family of Millidge et al. (2022): similarity ``Q K^T``, separation ``sep``, projection ``V``.

    * ``identity``: ``(beta Q K^T) V``, unnormalised linear attention. With ``K = V = X`` and
      ``beta = 1/N`` it is the classical Hopfield field ``W xi`` with ``W = (1/N) sum_mu x^mu x^mu^T``
      (self-couplings kept); linear attention is a Hebbian fast-weight memory (Schlag et al. 2021).
    * ``softmax``: ``softmax(beta Q K^T) V``, the modern Hopfield update and attention; computed by
      :func:`softmax_retrieval`, so its results are that function's, bit for bit.
    * ``argmax``: the beta -> infinity limit (also :func:`softmax_retrieval`).
    * ``polynomial``: ``(beta Q K^T)^d V`` (Krotov & Hopfield 2016); ``d = 1`` is ``identity``.
    * ``exponential``: ``exp(beta Q K^T) V`` up to a positive factor per query (the scores are
      shifted by their maximum before ``exp``; Demircigil et al. 2017): the unnormalised softmax read,
      so ``softmax`` is it divided by its weights' sum.

    Parameters
    ----------
    queries : (..., n_q, d_k)
    keys : (..., n_m, d_k)
    values : (..., n_m, d_v)
    separation : "identity", "softmax", "argmax", "polynomial" or "exponential".
    beta : scale of the scores (> 0); None means 1.
    degree : integer >= 1, only for ``polynomial``.

    Returns
    -------
    (retrieved (..., n_q, d_v), weights (..., n_q, n_m))
    """
    if separation not in ("identity", "softmax", "argmax", "polynomial", "exponential"):
        raise ValueError(f"unknown separation {separation!r}; expected 'identity', 'softmax', 'argmax', "
                         "'polynomial' or 'exponential'")
    if separation in ("softmax", "argmax"):
        return softmax_retrieval(queries, keys, values, 1.0 if beta is None else beta, separation=separation)
    if beta is not None and not beta > 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"query width {queries.shape[-1]} does not match key width {keys.shape[-1]}")
    if keys.shape[-2] != values.shape[-2]:
        raise ValueError(f"{keys.shape[-2]} keys but {values.shape[-2]} values")
    scores = queries @ np.swapaxes(keys, -1, -2)
    if beta is not None:
        scores = scores * beta
    weights = separate(scores, separation, degree)
    return weights @ values, weights


def fit_inverse_temperature(weights: np.ndarray, scores: np.ndarray, low: float = 1e-5,
                            high: float = 10.0) -> tuple[float, float, bool]:
    """The beta for which softmax(beta * scores) is closest to ``weights`` in Jensen-Shannon divergence.

    Minimises JS(w, softmax(beta s)) over log beta in [ln low, ln high] (bounded Brent). Returns
    ``(beta, js_bits, at_bound)``; ``at_bound`` is True when the optimum sits at a bound, which happens
    when ``weights`` is (nearly) one-hot and beta is then only bounded from below.
    """
    from scipy.optimize import minimize_scalar

    from .entropy import js_divergence

    w = np.asarray(weights, dtype=float)
    s = np.asarray(scores, dtype=float)
    if w.shape != s.shape or w.ndim != 1:
        raise ValueError(f"weights and scores must be 1-D of one length; got {w.shape} and {s.shape}")
    if not (np.all(w >= 0) and w.sum() > 0):
        raise ValueError("weights must be non-negative with a positive sum")
    lo, hi = np.log(low), np.log(high)
    res = minimize_scalar(lambda lb: js_divergence(w, softmax(np.exp(lb) * s)), bounds=(lo, hi),
                          method="bounded", options={"xatol": 1e-4})
    beta = float(np.exp(res.x))
    at_bound = bool(min(res.x - lo, hi - res.x) < 1e-3)
    return beta, float(js_divergence(w, softmax(beta * s))), at_bound


def modern_hopfield_energy(xi: np.ndarray, patterns: np.ndarray, beta: float,
                           separation: Separation = "softmax") -> np.ndarray:
    """Energy of a modern Hopfield network (Ramsauer et al. 2020, eq. 2).

        E = -lse(beta, X^T xi) + 1/2 xi^T xi + beta^-1 ln N + 1/2 M^2,

    with lse(beta, z) = beta^-1 ln sum_i exp(beta z_i), N stored patterns and
    M the largest pattern norm. For ``argmax`` separation the beta -> infinity
    limit ``-max(X^T xi) + 1/2 xi^T xi + 1/2 M^2`` is used.

    ``xi`` is (..., d); ``patterns`` is (N, d) (rows are the stored x_i).
    """
    scores = xi @ patterns.T
    n = patterns.shape[0]
    big_m = np.max(np.linalg.norm(patterns, axis=1))
    quad = 0.5 * np.sum(xi * xi, axis=-1) + 0.5 * big_m**2
    if separation == "argmax":
        return -np.max(scores, axis=-1) + quad
    return -logsumexp(beta * scores, axis=-1) / beta + quad + np.log(n) / beta


def hebbian_weights(patterns: np.ndarray) -> np.ndarray:
    """Hopfield's outer-product rule W = (1/N) sum_mu xi^mu xi^mu^T, W_ii = 0 (Hopfield 1982)."""
    n = patterns.shape[1]
    w = patterns.T @ patterns / n
    np.fill_diagonal(w, 0.0)
    return w


def covariance_weights(patterns: np.ndarray, coding_level: float | None = None) -> np.ndarray:
    """Covariance rule W_ij = sum_mu (xi_i - a)(xi_j - a), W_ii = 0 (Tsodyks & Feigel'man 1988)."""
    a = float(np.mean(patterns)) if coding_level is None else coding_level
    centred = patterns - a
    w = centred.T @ centred
    np.fill_diagonal(w, 0.0)
    return w


def hopfield_energy(states: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """E = -1/2 s^T W s for each state s (the last axis of ``states``; any leading batch axes)."""
    return -0.5 * np.sum((states @ weights) * states, axis=-1)


def overlaps(states: np.ndarray, patterns: np.ndarray, coding: str = "bipolar") -> np.ndarray:
    """Overlap of every state with every pattern.

    bipolar: m_mu = (1/N) xi^mu . s (Amit et al. 1985); 1 for perfect recall.
    binary: the Pearson correlation of s with xi^mu (0 for a constant state).
    ``states`` is (..., N), ``patterns`` (P, N); returns (..., P).
    """
    if coding == "bipolar":
        return states @ patterns.T / patterns.shape[1]
    s = states - states.mean(axis=-1, keepdims=True)
    x = patterns - patterns.mean(axis=-1, keepdims=True)
    num = s @ x.T
    den = np.linalg.norm(s, axis=-1, keepdims=True) * np.linalg.norm(x, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    return out


def chunked_softmax_retrieval(queries: np.ndarray, keys: np.ndarray, values: np.ndarray, beta: float,
                              chunk_size: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """``softmax(beta Q K^T) V`` streamed over memories, never holding all the weights.

    The memories are visited in chunks of ``chunk_size``. A running maximum
    ``m``, normaliser ``s`` and weighted sum ``a`` are rescaled whenever the
    maximum grows (the streaming log-sum-exp of online softmax):

        m' = max(m, max_j z_j),  s' = s e^(m - m') + sum_j e^(z_j - m'),
        a' = a e^(m - m') + sum_j e^(z_j - m') v_j,

    with z_j = beta q . k_j; the result is a / s. Extra memory is
    O(n_q * chunk_size), so 10^6 memories cost no more scratch than one chunk;
    the result equals :func:`softmax_retrieval` up to rounding.

    Parameters
    ----------
    queries : (n_q, d_k)
    keys : (n_m, d_k)
    values : (n_m, d_v); may be the same array as ``keys`` (Hopfield memory).
    beta : inverse temperature, > 0.
    chunk_size : memories per chunk.

    Returns
    -------
    (retrieved (n_q, d_v), lse (n_q,)) where ``lse = ln sum_j exp(beta q . k_j)``,
    from which the modern Hopfield energy follows without a second pass.
    """
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if queries.shape[-1] != keys.shape[-1]:
        raise ValueError(f"query width {queries.shape[-1]} does not match key width {keys.shape[-1]}")
    if keys.shape[0] != values.shape[0]:
        raise ValueError(f"{keys.shape[0]} keys but {values.shape[0]} values")
    dtype = np.result_type(queries, keys, values)
    if not np.issubdtype(dtype, np.floating):
        dtype = np.dtype(np.float64)
    n_q = queries.shape[0]
    # fold beta into the queries once instead of scaling every score chunk
    scaled = np.asarray(queries, dtype=dtype) * dtype.type(beta)
    running_max = np.full(n_q, -np.inf, dtype=dtype)
    normaliser = np.zeros(n_q, dtype=dtype)
    acc = np.zeros((n_q, values.shape[1]), dtype=dtype)
    scores = np.empty((n_q, min(chunk_size, keys.shape[0])), dtype=dtype)
    for start in range(0, keys.shape[0], chunk_size):
        k_chunk = keys[start:start + chunk_size]
        z = scores[:, :k_chunk.shape[0]]
        np.matmul(scaled, k_chunk.T, out=z)
        new_max = np.maximum(running_max, z.max(axis=1))
        rescale = np.exp(running_max - new_max)
        z -= new_max[:, None]
        np.exp(z, out=z)
        normaliser *= rescale
        normaliser += z.sum(axis=1)
        acc *= rescale[:, None]
        acc += z @ values[start:start + chunk_size]
        running_max = new_max
    return acc / normaliser[:, None], np.log(normaliser) + running_max


# --------------------------------------------------------------------------- sequences

#: separation functions of a sequence memory (:func:`sequence_field`)
SequenceSeparation = Literal["identity", "polynomial", "exponential", "softmax"]


def sequence_transitions(sequences: np.ndarray, cyclic: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The stored transitions xi^mu -> xi^(mu+1) of every sequence, as pattern indices.

    ``sequences`` is (S, L): the pattern index of each sequence's items in order. Returns
    ``(keys, values)``, each of length S (L - 1), or S L with ``cyclic`` (the last item of a
    sequence is then followed by its first).
    """
    seqs = np.asarray(sequences, dtype=np.int64)
    if seqs.ndim != 2 or seqs.shape[1] < 2:
        raise ValueError(f"sequences must be (S, L) with L >= 2, got shape {seqs.shape}")
    nxt = np.roll(seqs, -1, axis=1)
    keep = slice(None) if cyclic else slice(0, seqs.shape[1] - 1)
    return seqs[:, keep].ravel(), nxt[:, keep].ravel()


def sequence_field(states: np.ndarray, keys: np.ndarray, values: np.ndarray,
                   separation: SequenceSeparation = "identity", beta: float | None = None,
                   degree: int | None = None, symmetric: float = 0.0,
                   items: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The local field of one parallel step of a sequence memory, before the sign.

    With stored transitions xi^mu -> xi^(mu+1) (``keys`` rows xi^mu, ``values`` rows xi^(mu+1)) and
    the overlaps m^mu = xi^mu . x / N,

    .. math:: h = \\sum_\\mu \\xi^{\\mu+1} f(\\beta' m^\\mu) + \\lambda \\sum_\\mu \\xi^\\mu m^\\mu ,

    computed by :func:`universal_retrieval` with queries x, keys xi^mu, values xi^(mu+1) and
    score scale ``beta / N`` (so ``beta`` multiplies m^mu):

    * ``identity`` (f(m) = m, beta = 1): the classical asymmetric network, h = J x with
      J = (1/N) sum_mu xi^(mu+1) xi^mu^T (Sompolinsky & Kanter 1986, eq. 2; Kleinfeld 1986), and
      with ``symmetric`` = lambda the symmetric term lambda J_s x, J_s = (1/N) sum_mu xi^mu xi^mu^T,
      that stabilises each item for a while before the transition;
    * ``polynomial`` (f(m) = m^d): the dense sequence network of Chaudhry, Zavatone-Veth, Krotov &
      Pehlevan (2023, eq. 3, "DenseNet");
    * ``exponential`` (f(m) = exp(beta m)): the same with the exponential separation, up to a
      positive factor of each cue (:func:`separate`); Chaudhry et al. take beta = N - 1;
    * ``softmax``: causal attention as next-item recall, V^T softmax(beta K x) with keys
      xi^1..xi^(L-1) and values xi^2..xi^L (Vaswani et al. 2017, with the stored sequence as the
      keys and values shifted by one step); the ``exponential`` field divided by its weights' sum.

    Parameters
    ----------
    states : (C, N) current states x(t) (masked units 0).
    keys, values : (T, N) the T stored transitions' first and second items.
    separation : the function f.
    beta : the scale of m^mu in f (None: 1).
    degree : the power d of ``polynomial``.
    symmetric : lambda, the weight of the symmetric term (0: none).
    items : (P, N) the stored items of J_s (default: ``keys``).

    Returns
    -------
    (field h (C, N), weights f (C, T) of each transition)
    """
    n = keys.shape[1]
    scale = (1.0 if beta is None else float(beta)) / n
    field, weights = universal_retrieval(np.asarray(states, dtype=float), keys, values, separation,
                                         beta=scale, degree=degree)
    if symmetric:
        stored = keys if items is None else items
        sym, _ = universal_retrieval(np.asarray(states, dtype=float), stored, stored, "identity", beta=1.0 / n)
        field = field + symmetric * sym
    return field, weights


def sign_update(field: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """x(t+1) = sgn(h): +-1 by the sign of the field; a unit whose field is exactly 0 keeps its state."""
    return np.where(field > 0, 1.0, np.where(field < 0, -1.0, previous))


def play_sequences(cues: np.ndarray, keys: np.ndarray, values: np.ndarray, steps: int,
                   separation: SequenceSeparation = "identity", beta: float | None = None,
                   degree: int | None = None, symmetric: float = 0.0,
                   items: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Parallel dynamics x(t+1) = sgn(h(x(t))) of a sequence memory (:func:`sequence_field`) from each cue.

    Returns (states (C, steps + 1, N), the cue first; weights (C, steps, T) of every step).
    """
    x = np.asarray(cues, dtype=float)
    states, weights = [x], []
    for _ in range(steps):
        h, w = sequence_field(x, keys, values, separation, beta, degree, symmetric, items)
        x = sign_update(h, x)
        states.append(x)
        weights.append(w)
    n_t = keys.shape[0]
    w_all = np.stack(weights, axis=1) if weights else np.zeros((x.shape[0], 0, n_t))
    return np.stack(states, axis=1), w_all


def previous_token_mask(segments: np.ndarray, queries: np.ndarray | None = None) -> np.ndarray:
    """The causal mask of an induction read over a token stream (Olsson et al. 2022).

    Position j holds the pair (key x_(j-1), value x_j); the query at position t may read it when
    1 <= j <= t (causal: the Transformer's masked attention sees only the past) and x_(j-1), x_j lie
    in one segment (one stored sequence, or the stream being generated: pairs never span two
    segments). ``segments`` is (T,) the segment of each token; ``queries`` the query positions
    (default: all). Returns a bool (n_q, T) mask.
    """
    seg = np.asarray(segments)
    t = len(seg)
    q = np.arange(t) if queries is None else np.asarray(queries)
    j = np.arange(t)
    pair = np.zeros(t, dtype=bool)
    pair[1:] = seg[1:] == seg[:-1]
    return (j[None, :] <= q[:, None]) & pair[None, :]


def induction_attention(tokens: np.ndarray, segments: np.ndarray, beta: float,
                        queries: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Masked (causal) attention over the sequence seen so far, as an induction head reads it.

    .. math:: o_t = \\sum_{j \\le t} \\mathrm{softmax}_j(\\beta\\, x_t \\cdot x_{j-1} / N)\\, x_j ,

    the key of position j being the token before it (a previous-token head) and its value the token
    itself, so a query equal to an earlier token copies that token's successor (Olsson et al. 2022;
    Elhage et al. 2021). Computed by :func:`softmax_retrieval` with the mask of
    :func:`previous_token_mask`. ``tokens`` is (T, N); returns (outputs (n_q, N), weights (n_q, T)).
    A query with no readable pair gets a zero output.
    """
    x = np.asarray(tokens, dtype=float)
    n = x.shape[1]
    q = np.arange(len(x)) if queries is None else np.asarray(queries)
    keys = np.concatenate([np.zeros((1, n)), x[:-1]], axis=0)
    mask = previous_token_mask(segments, q)
    if not mask.any(axis=1).all():
        out, w = np.zeros((len(q), n)), np.zeros((len(q), len(x)))
        ok = mask.any(axis=1)
        if ok.any():
            out[ok], w[ok] = softmax_retrieval(x[q[ok]], keys, x, beta / n, mask=mask[ok])
        return out, w
    return softmax_retrieval(x[q], keys, x, beta / n, mask=mask)
