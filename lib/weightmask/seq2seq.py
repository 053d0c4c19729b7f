"""Sequence-to-sequence pieces shared by the SCAN and Mathematics chapters.

A model takes ``(src, tgt)`` id tensors (``tasks.text``: padded, ending with the end token)
and returns logits ``[batch, steps, vocab]`` whose step t predicts ``tgt[:, t]``; with
``max_len=L`` instead of ``tgt`` it decodes greedily (``models.Seq2SeqTransformer``).
Accuracy is the share of sequences decoded exactly, end token included (paper Sec. 4).
The authors' loss and mask coverage for these networks are here too (``loss(per="sequence")``,
``unmasked``): the paper's beta values are defined against them.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .tasks.text import PAD, Vocabulary, pad


@dataclass(frozen=True)
class Encoded:
    """A dataset of (source, target) pairs as padded id tensors ``[n, S]`` and ``[n, T]``."""
    src: Tensor
    tgt: Tensor

    @classmethod
    def of(cls, pairs: Sequence[tuple[str, str]], src_vocab: Vocabulary,
           tgt_vocab: Vocabulary | None = None) -> "Encoded":
        """``pairs`` encoded with ``src_vocab`` (and ``tgt_vocab``, default the same)."""
        if not pairs:
            raise ValueError("pairs is empty: there is nothing to encode")
        tgt_vocab = tgt_vocab or src_vocab
        return cls(pad([src_vocab.encode(s) for s, _ in pairs]), pad([tgt_vocab.encode(t) for _, t in pairs]))

    def __len__(self) -> int:
        return len(self.src)

    def subset(self, index: Tensor) -> "Encoded":
        return Encoded(self.src[index], self.tgt[index])


def _trimmed(src: Tensor, tgt: Tensor) -> tuple[Tensor, Tensor]:
    """Cut the columns that are padding in every row."""
    s = int((src != PAD).sum(1).max())
    t = int((tgt != PAD).sum(1).max())
    return src[:, :s], tgt[:, :t]


def batches(data: Encoded, batch: int, generator: torch.Generator,
            trim: bool = True) -> Callable[[int], tuple[Tensor, Tensor]]:
    """``step -> (src, tgt)``: random batches, drawn with replacement from ``data``.

    ``trim`` cuts all-padding columns (faster on a CPU); keep the full width (``trim=False``)
    where a CUDA graph replays the step and every batch must keep its shape.
    """
    if batch < 1:
        raise ValueError(f"batch must be >= 1, got {batch!r}")

    def get(step: int):
        i = torch.randint(0, len(data), (batch,), generator=generator)
        src, tgt = data.src[i], data.tgt[i]
        return _trimmed(src, tgt) if trim else (src, tgt)
    return get


PER = ("token", "sequence")  # what ``loss`` averages over


def loss(model: nn.Module, batch: tuple[Tensor, Tensor], per: str = "token", **forward) -> Tensor:
    """Cross-entropy, padding ignored: the mean per target token (``per="token"``), or summed over each
    target's tokens and averaged over the batch (``"sequence"``: the authors' SCAN and Mathematics loss,
    against which the paper's beta is set; it weighs the task ~target-length times more than per token).
    Teacher-forced unless ``forward`` (further arguments of the model) says otherwise, e.g.
    ``teacher_forcing=False`` for ``Seq2SeqLSTM``."""
    if per not in PER:
        raise ValueError(f"per must be one of {list(PER)}, got {per!r}")
    src, tgt = batch
    logits = model(src, tgt, **forward)
    flat = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tgt.reshape(-1), ignore_index=PAD,
                           reduction="mean" if per == "token" else "sum")
    return flat if per == "token" else flat / tgt.shape[0]


def unmasked(model: nn.Module) -> tuple[str, ...]:
    """The parameters that the authors' masks leave alone (their ``mask_filter`` with ``bias_no_mask``):
    embeddings, and the bias of every layer but layer normalisation (their LayerNorm's shift is called
    ``beta``, so it is masked). Exact names, for ``MaskedModel(exclude=...)``."""
    out = []
    for prefix, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            if isinstance(module, nn.Embedding) or ("bias" in name and not isinstance(module, nn.LayerNorm)):
                out.append(f"{prefix}.{name}" if prefix else name)
    return tuple(out)


def exact(logits: Tensor, tgt: Tensor) -> Tensor:
    """Per sequence: are all target tokens (end token included) predicted?"""
    pred = logits.argmax(-1)[:, :tgt.shape[1]]
    return ((pred == tgt) | (tgt == PAD)).all(1)


@torch.no_grad()
def decoded_correct(model: nn.Module, data: Encoded, device=None, chunk: int = 500,
                    forced: bool = False) -> Tensor:
    """Per example of ``data``: is the greedy decoding exactly the target? (bool ``[n]``).

    ``forced`` answers the same in one teacher-forced pass, for models whose step t sees only the
    target prefix: greedy decoding reproduces a target iff every step, given the true prefix,
    predicts the next target token (equal up to floating-point ties, and far cheaper on a CPU).
    """
    out = []
    for i in range(0, len(data), chunk):
        src, tgt = _trimmed(data.src[i:i + chunk], data.tgt[i:i + chunk])
        if device is not None:
            src, tgt = src.to(device), tgt.to(device)
        out.append(exact(model(src, tgt) if forced else model(src, max_len=tgt.shape[1]), tgt).cpu())
    return torch.cat(out)


def sequence_accuracy(model: nn.Module, data: Encoded, device=None, chunk: int = 500,
                      forced: bool = False) -> float:
    """The share of ``data`` that greedy decoding gets exactly right (``forced``: see ``decoded_correct``)."""
    return float(decoded_correct(model, data, device, chunk, forced).float().mean())
