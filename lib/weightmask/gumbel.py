"""Gumbel-sigmoid sampling with the straight-through estimator (paper eq. 1-2, App. A).

The difference of two Gumbel(0, 1) variables is Logistic(0, 1), and a logistic
variable is ``log u - log(1 - u)`` for one uniform ``u``. So eq. 1,
``s = sigmoid((l - log(log U1 / log U2)) / tau)``, is drawn here from a single
uniform: ``s = sigmoid((l + logit(u)) / tau)``, and the binary sample is
``b = 1[s > 0.5] = 1[u > sigmoid(-l)]``, a Bernoulli(sigmoid(l)) variable for any tau.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

__all__ = ["gumbel_sigmoid", "masked_weight_samples", "masked_weight_samples_many", "sample_keep",
           "sample_keep_many"]


def _check_tau(tau: float) -> None:
    if not tau > 0:
        raise ValueError(f"tau must be > 0 (the Gumbel-sigmoid temperature), got {tau!r}")


def _soft(logits: Tensor, u: Tensor, tau: float) -> Tensor:
    """The relaxed sample s of eq. 1 for uniform noise u."""
    return torch.sigmoid((logits + torch.logit(u)) / tau)


def gumbel_sigmoid(logits: Tensor, tau: float = 1.0, hard: bool = True,
                   generator: torch.Generator | None = None) -> Tensor:
    """Sample from the Gumbel-sigmoid (eq. 1); with ``hard=True`` the straight-through binary sample (eq. 2).

    The hard sample is exactly 0 or 1 in the forward pass and carries the gradient of
    the relaxed sample ``s`` backwards; its mean is ``sigmoid(logits)`` at every ``tau``.
    """
    _check_tau(tau)
    u = torch.rand(logits.shape, device=logits.device, dtype=logits.dtype, generator=generator)
    s = _soft(logits, u, tau)
    if not hard:
        return s
    b = (s > 0.5).to(s.dtype)
    return (b - s).detach() + s


try:  # fused CPU kernels; without numba the eager PyTorch path below is used everywhere
    from . import _cpu_kernels as _kernels
except ImportError:  # pragma: no cover - numba is a declared dependency
    _kernels = None


def _match_threads() -> None:
    """Before each kernel call: numba's kernels get as many threads as PyTorch has now.

    Both run on the same OpenMP runtime. numba's pool, sized to every core unless
    ``NUMBA_NUM_THREADS`` says otherwise, sets OpenMP's thread count of the calling thread to
    its size when it starts (at the first kernel call), and PyTorch's count with it: that is
    put back. Without this, two processes set to one thread each would run two threads each
    on the same cores, 5-100x slower. PyTorch's count is left as it was and no environment
    variable is set (``numba.set_num_threads`` is local to the calling thread).
    """
    n = torch.get_num_threads()
    _kernels.set_threads(n)
    if torch.get_num_threads() != n:  # numba's pool just started and reset OpenMP's count
        torch.set_num_threads(n)


def _fused(t: Tensor) -> bool:
    return _kernels is not None and t.device.type == "cpu" and t.dtype == torch.float32


def _draw_seed() -> int:
    """One seed from PyTorch's global generator, so ``torch.manual_seed`` fixes every mask sample."""
    return int(torch.randint(0, 2**62, (1,)))


def _torch_uniforms(seed: int, n: int, like: Tensor) -> Tensor:
    gen = torch.Generator(device=like.device)
    gen.manual_seed(seed)
    return torch.rand((n, *like.shape), generator=gen, device=like.device, dtype=like.dtype)


def _uniforms(seed: int | None, n: int, like: Tensor) -> Tensor:
    """Uniforms ``[n, *like.shape]`` from a generator seeded with ``seed``; with None, from the
    device's default generator, whose draws a replayed CUDA graph renews."""
    if seed is None:
        return torch.rand((n, *like.shape), device=like.device, dtype=like.dtype)
    return _torch_uniforms(seed, n, like)


def _np(t: Tensor):
    return t.detach().contiguous().view(-1).numpy()


def _sub_seed(seed: int, i: int) -> int:
    """The seed of the i-th group of tensors sampled under one seed (i = 0 keeps the seed)."""
    return (seed + i * 0x9E3779B97F4A7C15) % 2**63


def _groups(logits: Sequence[Tensor], weights: Sequence[Tensor] | None = None) -> list[list[int]]:
    """Which tensors are sampled together: each CPU float32 tensor alone (its own fused kernels),
    the others as one flat tensor per (device, dtypes), so that the number of kernels on a GPU
    does not grow with the number of tensors."""
    groups: dict = {}
    for i, l in enumerate(logits):
        key = ("alone", i) if _fused(l) else (
            l.device, l.dtype, None if weights is None else weights[i].dtype)
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _alone(logits: Sequence[Tensor], idx: list[int]) -> bool:
    return len(idx) == 1 and _fused(logits[idx[0]])


def _group_seeds(logits: Sequence[Tensor], groups: list[list[int]], seed: int | None) -> list[int | None]:
    """One seed per group. Without a seed, the fused (CPU) tensors get seeds derived from one
    draw of PyTorch's global generator and the other groups use their device's default generator."""
    if seed is None:
        alone = [_alone(logits, idx) for idx in groups]
        base = _draw_seed() if any(alone) else 0
        return [_sub_seed(base, g) if a else None for g, a in enumerate(alone)]
    return [_sub_seed(seed, g) for g in range(len(groups))]


def _flat(tensors: Sequence[Tensor]) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors]) if len(tensors) > 1 else tensors[0].reshape(-1)


def _keep_fused(logits: Tensor, n: int, seed: int) -> Tensor:
    qn = _np(torch.sigmoid(-logits.detach()))
    _match_threads()
    return torch.stack([torch.from_numpy(_kernels.keep(qn, seed, k)).view(logits.shape)
                        for k in range(n)])


def sample_keep_many(logits: Sequence[Tensor], n: int, seed: int | None = None) -> list[Tensor]:
    """Boolean samples ``[n, *l.shape]`` per tensor, the masks :func:`masked_weight_samples_many`
    applies for the same seed (and the same tensors in the same order); with ``seed=None``, for
    the same state of PyTorch's generators."""
    out: list[Tensor | None] = [None] * len(logits)
    groups = _groups(logits)
    for idx, seed_g in zip(groups, _group_seeds(logits, groups, seed)):
        if _alone(logits, idx):
            out[idx[0]] = _keep_fused(logits[idx[0]], n, seed_g)
            continue
        flat = _flat([logits[i].detach() for i in idx])
        keep = torch.gt(_uniforms(seed_g, n, flat), torch.sigmoid(-flat))
        for i, part in zip(idx, keep.split([logits[i].numel() for i in idx], dim=1)):
            out[i] = part.view(n, *logits[i].shape)
    return out


def sample_keep(logits: Tensor, n: int, seed: int) -> Tensor:
    """Boolean samples ``[n, *logits.shape]`` with ``P(True) = sigmoid(logits)``, for a given seed.

    These are the binary masks that :func:`masked_weight_samples` applies for the same seed.
    """
    return sample_keep_many([logits], n, seed)[0]


class _MaskedWeightSamples(torch.autograd.Function):
    """``weight * b_k`` for K independent hard samples ``b_k``, differentiable in the logits
    (and in the weight, where it requires a gradient: continual learning trains both).

    The estimator of ``weight * gumbel_sigmoid(logits, tau)``, drawn K times from one seed,
    for CPU float32 logits (fused kernels). Nothing per sample is stored: the backward
    regenerates the uniforms from the seed and accumulates ``ds/dl = s (1 - s) / tau``.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, weight: Tensor, n: int, tau: float, seed: int):
        q = torch.sigmoid(-logits)
        if weight.dtype == torch.float32:
            _match_threads()
            outs = tuple(torch.empty_like(weight, memory_format=torch.contiguous_format)
                         for _ in range(n))
            _kernels.masked_weights(_np(weight), _np(q), seed, tuple(o.view(-1).numpy() for o in outs))
        else:  # the same samples as sample_keep: the generator is chosen by the logits alone
            outs = (weight * _keep_fused(logits, n, seed)).unbind(0)
        ctx.save_for_backward(logits, weight, q)
        ctx.tau, ctx.seed = tau, seed
        return outs

    @staticmethod
    def backward(ctx, *grads: Tensor):
        logits, weight, q = ctx.saved_tensors
        if not any(ctx.needs_input_grad[:2]):
            return None, None, None, None, None
        zeros = None
        flat = []
        for g in grads:
            if g is None:  # a sample whose output did not reach the loss
                zeros = torch.zeros(logits.numel()) if zeros is None else zeros
                g = zeros
            flat.append(_np(g.to(torch.float32)))
        flat = tuple(flat)
        grad_l = grad_w = None
        _match_threads()
        if ctx.needs_input_grad[0]:
            if ctx.tau == 1.0:
                total = _kernels.logit_grad(flat, _np(q), ctx.seed)
            else:
                total = _kernels.logit_grad_tau(flat, _np(logits), ctx.seed, ctx.tau)
            grad_l = torch.from_numpy(total).view(logits.shape).mul_(weight.detach())
        if ctx.needs_input_grad[1]:
            grad_w = torch.from_numpy(_kernels.weight_grad(flat, _np(q), ctx.seed)).view(weight.shape)
        return grad_l, grad_w, None, None, None


class _FlatSamples(torch.autograd.Function):
    """K masked copies of several tensors sampled as one flat tensor: a dozen kernels in all.

    Inputs: ``n, tau, seed, count, *logits, *weights``; outputs: ``n * count`` tensors,
    sample-major. The uniforms are kept for the backward (on a GPU memory is cheaper than
    a second draw, and a CUDA graph can replay the default generator but not a re-seeding).
    """

    @staticmethod
    def forward(ctx, n: int, tau: float, seed: int | None, count: int, *tensors: Tensor):
        logits, weights = tensors[:count], tensors[count:]
        flat_l, flat_w = _flat(logits), _flat(weights)
        u = _uniforms(seed, n, flat_l)
        out = flat_w * torch.gt(u, torch.sigmoid(-flat_l))
        sizes = [l.numel() for l in logits]
        ctx.save_for_backward(flat_l, flat_w, u)
        ctx.meta = (n, tau, sizes, [l.shape for l in logits])
        return tuple(part.view(l.shape) for k in range(n) for part, l in zip(out[k].split(sizes), logits))

    @staticmethod
    def backward(ctx, *grads: Tensor):
        flat_l, flat_w, u = ctx.saved_tensors
        n, tau, sizes, shapes = ctx.meta
        count = len(sizes)
        none = (None,) * 4
        wants_l, wants_w = any(ctx.needs_input_grad[4:4 + count]), any(ctx.needs_input_grad[4 + count:])
        if not (wants_l or wants_w):
            return none + (None,) * (2 * count)
        g = torch.cat([flat_l.new_zeros(sizes[j % count]) if gr is None else gr.reshape(-1).to(flat_l.dtype)
                       for j, gr in enumerate(grads)]).view(n, -1)
        grad_l = grad_w = (None,) * count
        if wants_l:
            s = _soft(flat_l, u, tau)
            total = (g * s * (1 - s)).sum(0).div_(tau).mul_(flat_w)
            grad_l = tuple(t.view(sh) for t, sh in zip(total.split(sizes), shapes))
        if wants_w:
            total = (g * torch.gt(u, torch.sigmoid(-flat_l))).sum(0)
            grad_w = tuple(t.view(sh) for t, sh in zip(total.split(sizes), shapes))
        return none + grad_l + grad_w


def masked_weight_samples_many(weights: Sequence[Tensor], logits: Sequence[Tensor], n: int = 1,
                               tau: float = 1.0, seed: int | None = None) -> list[tuple[Tensor, ...]]:
    """:func:`masked_weight_samples` for several tensors under one seed: per tensor, ``n`` samples.

    ``sample_keep_many(logits, n, seed)`` returns the same binary masks (with ``seed=None``:
    for the same state of PyTorch's generators).
    """
    _check_tau(tau)
    if len(weights) != len(logits):
        raise ValueError(f"{len(weights)} weights but {len(logits)} logits")
    for w, l in zip(weights, logits):
        if l.shape != w.shape:
            raise ValueError(f"logits shape {tuple(l.shape)} != weight shape {tuple(w.shape)}")
    out: list[tuple[Tensor, ...] | None] = [None] * len(logits)
    groups = _groups(logits, weights)
    for idx, seed_g in zip(groups, _group_seeds(logits, groups, None if seed is None else int(seed))):
        if _alone(logits, idx):
            i = idx[0]
            out[i] = _MaskedWeightSamples.apply(logits[i], weights[i], n, float(tau), seed_g)
            continue
        flat = _FlatSamples.apply(n, float(tau), seed_g, len(idx), *[logits[i] for i in idx],
                                  *[weights[i] for i in idx])
        for j, i in enumerate(idx):
            out[i] = flat[j::len(idx)]
    return out


def masked_weight_samples(weight: Tensor, logits: Tensor, n: int = 1, tau: float = 1.0,
                          seed: int | None = None) -> tuple[Tensor, ...]:
    """Return ``n`` tensors ``weight * gumbel_sigmoid(logits, tau)``, each under its own sample.

    The seed (None: PyTorch's generators) determines the samples:
    ``sample_keep(logits, n, seed)`` returns the same binary masks. The logits get the
    straight-through gradient of eq. 2; a weight that requires a gradient gets ``sum_k g_k b_k``.
    """
    return masked_weight_samples_many([weight], [logits], n, tau, seed)[0]
