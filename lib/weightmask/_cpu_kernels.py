"""Fused CPU kernels (numba) for sampling masked weights and their straight-through gradient.

The uniforms come from a counter-based generator (SplitMix64 of seed + index), so the
backward pass regenerates them instead of storing K copies of every weight tensor, and
one pass over memory does what eager PyTorch needs a dozen passes and a slow serial
Mersenne Twister for. Uniforms have 24 random bits, like ``torch.rand`` in float32.
"""
from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange


def set_threads(n: int) -> int:
    """Run the kernels called from this thread on ``n`` threads (at most numba's pool size).

    ``numba.set_num_threads`` is local to the calling thread and changes nothing else; the
    first call starts numba's thread pool. Returns the count set.
    """
    n = max(1, min(int(n), numba.config.NUMBA_NUM_THREADS))
    numba.set_num_threads(n)
    return n


_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
_SCALE = np.float32(2.0 ** -24)


@njit(inline="always")
def _uniform(seed, index):
    """A float32 uniform in [0, 1) for one (seed, index) pair: SplitMix64's output function."""
    z = np.uint64(seed) + (np.uint64(index) + np.uint64(1)) * _GAMMA
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    z = z ^ (z >> _S31)
    return np.float32(z >> _S40) * _SCALE


@njit(parallel=True, cache=True)
def uniforms(seed, k, n):
    """The uniforms of sample ``k`` for a tensor of ``n`` elements (for tests and sampling)."""
    out = np.empty(n, np.float32)
    base = np.uint64(k) * np.uint64(n)
    for i in prange(n):
        out[i] = _uniform(seed, base + np.uint64(i))
    return out


@njit(parallel=True, cache=True)
def keep(q, seed, k):
    """Binary sample ``k``: ``u > q`` with ``q = sigmoid(-l)``, so ``P(keep) = sigmoid(l)``."""
    n = q.size
    out = np.empty(n, np.bool_)
    base = np.uint64(k) * np.uint64(n)
    for i in prange(n):
        out[i] = _uniform(seed, base + np.uint64(i)) > q[i]
    return out


@njit(parallel=True, cache=True)
def masked_weights(w, q, seed, outs):
    """``outs[k][:] = w * keep(q, seed, k)`` for every sample k.

    ``outs`` is a tuple of separate arrays, not one ``[K, n]`` block: blocks of a weight's
    size are reused from the heap step after step, while a fresh K-times larger block is
    mapped anew by the allocator and costs as much in page faults as the sampling itself.
    One flat parallel loop per sample: LLVM vectorizes it (generator included), which it
    does not for a loop whose bounds are computed per chunk.
    """
    n = q.size
    zero = np.float32(0.0)
    for k in range(len(outs)):
        out = outs[k]
        base = np.uint64(k) * np.uint64(n)
        for i in prange(n):
            out[i] = w[i] if _uniform(seed, base + np.uint64(i)) > q[i] else zero


@njit(parallel=True, cache=True)
def weight_grad(grads, q, seed):
    """``sum_k g_k * keep(q, seed, k)``: a trained weight's gradient through its K masked copies."""
    n = q.size
    out = np.empty(n, np.float32)
    for i in prange(n):
        qi = q[i]
        acc = np.float32(0.0)
        for k in range(len(grads)):
            if _uniform(seed, np.uint64(k) * np.uint64(n) + np.uint64(i)) > qi:
                acc += grads[k][i]
        out[i] = acc
    return out


@njit(parallel=True, cache=True, fastmath=True)
def logit_grad(grads, q, seed):
    """``sum_k g_k * s_k (1 - s_k)`` at temperature 1, for a tuple of per-sample gradients.

    With ``s = sigmoid(l + logit(u))`` and ``q = sigmoid(-l)``:
    ``s (1 - s) = q (1 - q) u (1 - u) / (q + u (1 - 2 q))^2``, no transcendental function.
    """
    n = q.size
    out = np.empty(n, np.float32)
    one, two = np.float32(1.0), np.float32(2.0)
    for i in prange(n):
        qi = q[i]
        acc = np.float32(0.0)
        for k in range(len(grads)):  # unrolled: the tuple length is a compile-time constant
            u = _uniform(seed, np.uint64(k) * np.uint64(n) + np.uint64(i))
            d = max(qi + u * (one - two * qi), np.float32(1e-30))  # d = 0 only where u (1 - u) = 0
            acc += grads[k][i] * (u * (one - u)) / (d * d)
        out[i] = acc * (qi * (one - qi))
    return out


@njit(parallel=True, cache=True)
def logit_grad_tau(grads, logits, seed, tau):
    """``sum_k g_k * s_k (1 - s_k) / tau`` with ``s = sigmoid((l + logit(u)) / tau)``, any temperature."""
    n = logits.size
    out = np.empty(n, np.float32)
    for i in prange(n):
        acc = 0.0
        for k in range(len(grads)):
            u = np.float64(_uniform(seed, np.uint64(k) * np.uint64(n) + np.uint64(i)))
            if u > 0.0:
                s = 1.0 / (1.0 + np.exp(-(np.float64(logits[i]) + np.log(u) - np.log1p(-u)) / tau))
                acc += grads[k][i] * s * (1.0 - s) / tau
        out[i] = np.float32(acc)
    return out

