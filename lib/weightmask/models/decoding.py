"""Greedy decoding shared by the encoder-decoders: feed back the argmax until every sequence ends."""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..tasks.text import EOS, PAD


def greedy(step: Callable[[Tensor], Tensor], start: Tensor, max_len: int) -> Tensor:
    """Logits ``[batch, max_len, vocab]`` of ``step(tokens [batch]) -> logits [batch, vocab]``,
    called first with ``start`` and then with its own argmax. Once every sequence has produced
    the end token it stops; the remaining steps predict padding."""
    steps, done, token = [], torch.zeros_like(start, dtype=torch.bool), start
    for _ in range(max_len):
        logits = step(token)
        steps.append(logits)
        token = logits.argmax(-1).masked_fill(done, PAD)
        done = done | (token == EOS)
        if bool(done.all()):
            break
    out = torch.stack(steps, 1)
    if out.shape[1] < max_len:
        rest = out.new_zeros(out.shape[0], max_len - out.shape[1], out.shape[2])
        rest[..., PAD] = 1.0
        out = torch.cat([out, rest], 1)
    return out
