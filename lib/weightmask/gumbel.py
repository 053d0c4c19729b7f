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

from ._alloc import keep_freed_memory

__all__ = ["gumbel_sigmoid", "masked_weight_samples", "sample_keep"]


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


def _fused(t: Tensor) -> bool:
    return _kernels is not None and t.device.type == "cpu" and t.dtype == torch.float32


def _draw_seed() -> int:
    """One seed from PyTorch's global generator, so ``torch.manual_seed`` fixes every mask sample."""
    return int(torch.randint(0, 2**62, (1,)))


def _torch_uniforms(seed: int, n: int, like: Tensor) -> Tensor:
    gen = torch.Generator(device=like.device)
    gen.manual_seed(seed)
    return torch.rand((n, *like.shape), generator=gen, device=like.device, dtype=like.dtype)


def _np(t: Tensor):
    return t.detach().contiguous().view(-1).numpy()


def sample_keep(logits: Tensor, n: int, seed: int) -> Tensor:
    """Boolean samples ``[n, *logits.shape]`` with ``P(True) = sigmoid(logits)``, for a given seed.

    These are the binary masks that :func:`masked_weight_samples` applies for the same seed.
    """
    logits = logits.detach()
    q = torch.sigmoid(-logits)
    if _fused(logits):
        qn = _np(q)
        return torch.stack([torch.from_numpy(_kernels.keep(qn, seed, k)).view(logits.shape)
                            for k in range(n)])
    return torch.gt(_torch_uniforms(seed, n, logits), q)


class _MaskedWeightSamples(torch.autograd.Function):
    """``weight * b_k`` for K independent hard samples ``b_k``, differentiable in the logits only.

    The estimator of ``weight * gumbel_sigmoid(logits, tau)``, drawn K times from one seed.
    Nothing per sample is stored: the backward regenerates the uniforms from the seed and
    accumulates ``ds/dl = s (1 - s) / tau`` over the K samples.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, weight: Tensor, n: int, tau: float, seed: int):
        q = torch.sigmoid(-logits)
        if _fused(logits) and weight.dtype == torch.float32:
            keep_freed_memory()
            outs = tuple(torch.empty_like(weight, memory_format=torch.contiguous_format)
                         for _ in range(n))
            _kernels.masked_weights(_np(weight), _np(q), seed, tuple(o.view(-1).numpy() for o in outs))
        else:  # the same samples as sample_keep: the generator is chosen by the logits alone
            outs = (weight * sample_keep(logits, n, seed)).unbind(0)  # one kernel for all samples
        ctx.save_for_backward(logits, weight, q)
        ctx.tau, ctx.seed, ctx.n = tau, seed, n
        return outs

    @staticmethod
    def backward(ctx, *grads: Tensor):
        logits, weight, q = ctx.saved_tensors
        if not ctx.needs_input_grad[0]:
            return None, None, None, None, None
        tau, seed = ctx.tau, ctx.seed
        if _fused(logits):  # the uniforms of the forward came from the kernels
            zeros = None
            flat = []
            for g in grads:
                if g is None:  # a sample whose output did not reach the loss
                    zeros = torch.zeros(logits.numel()) if zeros is None else zeros
                    g = zeros
                flat.append(_np(g.to(torch.float32)))
            flat = tuple(flat)
            if tau == 1.0:
                total = _kernels.logit_grad(flat, _np(q), seed)
            else:
                total = _kernels.logit_grad_tau(flat, _np(logits), seed, tau)
            total = torch.from_numpy(total).view(logits.shape)
        else:  # all samples at once: a dozen kernels whatever K is
            u = _torch_uniforms(seed, ctx.n, logits)
            g = torch.stack([torch.zeros_like(logits) if g is None else g.to(logits.dtype) for g in grads])
            s = _soft(logits, u, tau)
            total = (g * s * (1 - s)).sum(0).div_(tau)
        return total.mul_(weight), None, None, None, None


def masked_weight_samples(weight: Tensor, logits: Tensor, n: int = 1, tau: float = 1.0,
                          seed: int | None = None) -> tuple[Tensor, ...]:
    """Return ``n`` tensors ``weight * gumbel_sigmoid(logits, tau)``, each under its own sample.

    The seed (drawn from PyTorch's global generator when None) determines the samples:
    ``sample_keep(logits, n, seed)`` returns the same binary masks. The weight gets no
    gradient (it is frozen); the logits get the straight-through gradient of eq. 2.
    """
    _check_tau(tau)
    if logits.shape != weight.shape:
        raise ValueError(f"logits shape {tuple(logits.shape)} != weight shape {tuple(weight.shape)}")
    seed = _draw_seed() if seed is None else int(seed)
    return _MaskedWeightSamples.apply(logits, weight.detach(), n, float(tau), seed)
