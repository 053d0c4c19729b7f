"""Addition / multiplication modulo 100 with an operation selector (paper Sec. 3.1).

Input: two two-digit numbers, each as two 10-way one-hot digits, plus a one-hot
operation selector: 42 units. Output: the two digits of the result, two 10-way groups.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

OPS = ("add", "mul")
N_IN, N_OUT = 42, 20


def digits(n: Tensor) -> Tensor:
    """``[..., 2]`` tens and ones digits of numbers in [0, 100)."""
    return torch.stack([n // 10, n % 10], dim=-1)


def one_hot_number(n: Tensor) -> Tensor:
    """``[..., 20]``: the two digits as two 10-way one-hots."""
    return F.one_hot(digits(n), 10).flatten(-2).float()


def apply(op: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``a + b`` where ``op == 0``, ``a * b`` where ``op == 1``, modulo 100."""
    return torch.where(op == 0, a + b, a * b) % 100


def encode(a: Tensor, b: Tensor, op: Tensor) -> Tensor:
    """The 42-unit input for operands ``a``, ``b`` and operation index ``op``."""
    return torch.cat([one_hot_number(a), one_hot_number(b), F.one_hot(op, len(OPS)).float()], dim=-1)


def _op_index(ops: Sequence[str]) -> Tensor:
    unknown = [o for o in ops if o not in OPS]
    if unknown or not ops:
        raise ValueError(f"ops must be a non-empty subset of {OPS}, got {list(ops)!r}")
    return torch.tensor([OPS.index(o) for o in ops])


def batch(n: int, ops: Sequence[str] = OPS, generator: torch.Generator | None = None):
    """``n`` random examples of the chosen operations: ``(x [n, 42], y [n, 2] digits, op [n])``."""
    allowed = _op_index(ops)
    a = torch.randint(0, 100, (n,), generator=generator)
    b = torch.randint(0, 100, (n,), generator=generator)
    op = allowed[torch.randint(0, len(allowed), (n,), generator=generator)]
    return encode(a, b, op), digits(apply(op, a, b)), op


def all_examples(ops: Sequence[str] = OPS):
    """Every (a, b) pair for each chosen operation: the exhaustive test set."""
    allowed = _op_index(ops)
    a, b = torch.meshgrid(torch.arange(100), torch.arange(100), indexing="ij")
    a, b = a.reshape(-1).repeat(len(allowed)), b.reshape(-1).repeat(len(allowed))
    op = allowed.repeat_interleave(10000)
    return encode(a, b, op), digits(apply(op, a, b)), op


def loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over the two 10-way digit groups."""
    return F.cross_entropy(logits.view(-1, 2, 10).flatten(0, 1), y.flatten())


def predict(logits: Tensor) -> Tensor:
    """Predicted number in [0, 100) from the 20 output units."""
    d = logits.view(-1, 2, 10).argmax(-1)
    return d[:, 0] * 10 + d[:, 1]


def accuracy(logits: Tensor, y: Tensor) -> float:
    """Fraction of examples with both digits right."""
    return float((predict(logits) == y[:, 0] * 10 + y[:, 1]).float().mean())
