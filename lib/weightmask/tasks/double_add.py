"""Double addition modulo 100 with separate inputs and outputs per pair (paper Sec. 3.2, App. C.5).

Numbers ``a, b, c, d`` in [0, 100), each as two 10-way one-hot digits: 80 input units
(pair 1 = ``a, b`` in units 0-39, pair 2 = ``c, d`` in 40-79). The network answers ``a + b``
on output units 0-19 and ``c + d`` on 20-39. Three ways to feed it (``FEEDS``):

- ``fnn``: two forward passes, each with one pair and the other zeroed; pass p is read on
  pair p's output units (a single pass with both pairs would make sharing impossible);
- ``together``: an LSTM sees both pairs for all its steps and answers from the last one;
- ``forced``: an LSTM sees pair 1 alone for the first half of its steps (read there), then
  pair 2 alone for the second half, without resetting its state.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .arithmetic import digits, one_hot_number

PAIRS = ("pair1", "pair2")
FEEDS = ("fnn", "together", "forced")
N_IN, N_OUT = 80, 40
TEST_SIZE = 10_000  # quadruples in the fixed test set (all 10^8 would be needlessly many)


def check_feed(feed: str) -> str:
    if feed not in FEEDS:
        raise ValueError(f"feed must be one of {FEEDS}, got {feed!r}")
    return feed


def pair_index(pairs: Sequence[str]) -> list[int]:
    """Indices of ``pairs`` (a non-empty subset of ``PAIRS``), in order."""
    unknown = [p for p in pairs if p not in PAIRS]
    if unknown or not pairs:
        raise ValueError(f"pairs must be a non-empty subset of {PAIRS}, got {list(pairs)!r}")
    return [i for i, p in enumerate(PAIRS) if p in pairs]


def sample(n: int, generator: torch.Generator | None = None) -> Tensor:
    """``[n, 4]`` random numbers ``a, b, c, d``."""
    return torch.randint(0, 100, (n, 4), generator=generator)


def test_set() -> Tensor:
    """The fixed test quadruples (the same for every network and seed)."""
    return sample(TEST_SIZE, torch.Generator().manual_seed(12345))


def encode(numbers: Tensor, show: Sequence[int] = (0, 1)) -> Tensor:
    """``[n, 80]`` input; the pairs not in ``show`` are zeroed."""
    x = one_hot_number(numbers).flatten(-2)  # [n, 4 * 20]
    for p in range(len(PAIRS)):
        if p not in show:
            x[:, 40 * p:40 * (p + 1)] = 0
    return x


def targets(numbers: Tensor) -> Tensor:
    """``[n, 2, 2]``: the digits of ``a + b`` and ``c + d`` modulo 100."""
    return digits(torch.stack([numbers[:, 0] + numbers[:, 1], numbers[:, 2] + numbers[:, 3]], 1) % 100)


def outputs(model: nn.Module, numbers: Tensor, feed: str, pairs: Sequence[int] = (0, 1),
            steps: int | None = None, hide_others: bool = False) -> Tensor:
    """``[n, len(pairs), 20]``: the logits of each requested pair, read as ``feed`` reads them
    (``forced`` needs the LSTM's number of ``steps``: half of them per pair).

    ``hide_others``: the pairs not requested are zeroed in an LSTM's input, as the authors do while a
    mask trains on one pair (``train_only_tuple`` in their interfaces/recurrent/tuple_arithmetic.py),
    so that the other pair's input weights cannot serve it; an FNN sees one pair per pass anyway."""
    n = numbers.shape[0]
    shown = tuple(pairs) if hide_others else tuple(range(len(PAIRS)))
    if feed == "fnn":
        # one row per (example, pass), interleaved so that every batch slice of a MaskedModel
        # holds both passes of its examples
        x = torch.stack([encode(numbers, show=(p,)) for p in pairs], 1).flatten(0, 1)
        out = model(x).view(n, len(pairs), N_OUT)
        return torch.stack([out[:, i, 20 * p:20 * (p + 1)] for i, p in enumerate(pairs)], 1)
    if feed == "together":
        out = model(encode(numbers, show=shown))
        return torch.stack([out[:, 20 * p:20 * (p + 1)] for p in pairs], 1)
    if feed == "forced":
        if not steps or steps % 2:
            raise ValueError(f"the forced feed needs an even number of steps, got {steps!r}")
        x = torch.cat([encode(numbers, show=(p,) if p in shown else ()).unsqueeze(1).expand(-1, steps // 2, -1)
                       for p in range(len(PAIRS))], 1)
        out = model(x)  # [n, reads, 40]: one read per phase
        return torch.stack([out[:, p, 20 * p:20 * (p + 1)] for p in pairs], 1)
    raise ValueError(f"feed must be one of {FEEDS}, got {feed!r}")


def loss(logits: Tensor, y: Tensor) -> Tensor:
    """Cross-entropy over the digits of the pairs in ``logits`` ``[n, pairs, 20]`` vs ``y`` ``[n, pairs, 2]``."""
    return F.cross_entropy(logits.reshape(-1, 10), y.reshape(-1))


def accuracy(logits: Tensor, y: Tensor) -> list[float]:
    """Per pair in ``logits``: the fraction of examples with both digits right."""
    right = (logits.view(*logits.shape[:2], 2, 10).argmax(-1) == y).all(-1)
    return right.float().mean(0).tolist()
