"""Transformer encoder-decoder for SCAN and the Mathematics Dataset (paper App. C.7).

Built from PyTorch's own layers, batch-first, so ``MaskedModel`` masks it without rewriting
and splits its batch along dimension 0. One ``forward`` covers training and decoding, so a
mask applies to both: ``model(src, tgt)`` is teacher-forced, ``model(src, max_len=L)`` decodes
greedily; both return logits ``[batch, steps, n_tgt]`` whose step t predicts ``tgt[:, t]``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..tasks.text import PAD, SOS
from .decoding import greedy


def sinusoidal(length: int, d_model: int) -> Tensor:
    """The sinusoidal position encodings of Vaswani et al. (2017): ``[length, d_model]``."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(pos * freq)
    pe[:, 1::2] = torch.cos(pos * freq)[:, :d_model // 2]
    return pe


def _check_positive(**values) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


class Seq2SeqTransformer(nn.Module):
    """Source ids ``[batch, S]`` -> target logits; ids 0/1/2 are pad/start/end (``tasks.text``).

    SCAN (App. C.7.1): d_model 100, d_ff 200, 4 heads, 3+3 layers. Mathematics (App. C.7.2,
    Saxton et al.): d_model 256, d_ff 512, 4 heads, 3+3 layers and ``tie=True``: one embedding
    for source and target, also used as the output layer (needs ``n_src == n_tgt``).
    The embeddings are ``src_embed`` / ``tgt_embed`` (``exclude="*_embed.*"`` leaves them unmasked).
    """

    def __init__(self, n_src: int, n_tgt: int, d_model: int = 100, heads: int = 4, d_ff: int = 200,
                 layers: int = 3, dropout: float = 0.1, tie: bool = False, max_len: int = 512):
        super().__init__()
        _check_positive(n_src=n_src, n_tgt=n_tgt, d_model=d_model, heads=heads, d_ff=d_ff, layers=layers,
                        max_len=max_len)
        if d_model % heads:
            raise ValueError(f"heads ({heads}) must divide d_model ({d_model})")
        if tie and n_src != n_tgt:
            raise ValueError(f"tie=True shares one vocabulary: n_src ({n_src}) must equal n_tgt ({n_tgt})")
        self.d_model, self.tie = d_model, tie
        self.src_embed = nn.Embedding(n_src, d_model)
        self.tgt_embed = self.src_embed if tie else nn.Embedding(n_tgt, d_model)
        self.transformer = nn.Transformer(d_model, heads, layers, layers, d_ff, dropout, batch_first=True)
        # padded positions stay ordinary tensors: the same computation in training and evaluation
        self.transformer.encoder.enable_nested_tensor = self.transformer.encoder.use_nested_tensor = False
        self.out = nn.Linear(d_model, n_tgt)
        if tie:
            self.out.weight = self.src_embed.weight
        # std d_model^-1/2 (Vaswani et al.): after the sqrt(d_model) scaling the embeddings are on
        # the scale of the position encodings. nn.Embedding's N(0, 1) drowns the positions (training
        # on SCAN stalls) and, when tied, makes the output logits huge.
        # in a fixed order (a set's follows memory addresses): the random draws must land the same way in every run
        for embedding in dict.fromkeys((self.src_embed, self.tgt_embed)):
            nn.init.normal_(embedding.weight, std=d_model ** -0.5)
        self.register_buffer("pe", sinusoidal(max_len, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)  # on the embeddings plus positions, as the authors' PositionalEncoding

    def _embed(self, embedding: nn.Embedding, ids: Tensor) -> Tensor:
        if ids.shape[1] > self.pe.shape[0]:
            raise ValueError(f"sequence of {ids.shape[1]} tokens is longer than max_len={self.pe.shape[0]}")
        return self.drop(embedding(ids) * math.sqrt(self.d_model) + self.pe[:ids.shape[1]])

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        pad = src == PAD
        return self.transformer.encoder(self._embed(self.src_embed, src), src_key_padding_mask=pad), pad

    def decode(self, memory: Tensor, src_pad: Tensor, dec_in: Tensor) -> Tensor:
        """Logits for every position of the decoder input ``dec_in`` (start token first)."""
        n = dec_in.shape[1]
        causal = torch.ones(n, n, dtype=torch.bool, device=dec_in.device).triu(1)
        h = self.transformer.decoder(self._embed(self.tgt_embed, dec_in), memory, tgt_mask=causal,
                                     tgt_key_padding_mask=dec_in == PAD, memory_key_padding_mask=src_pad)
        return self.out(h)

    def forward(self, src: Tensor, tgt: Tensor | None = None, max_len: int | None = None) -> Tensor:
        if src.dim() != 2:
            raise ValueError(f"src must be [batch, length] token ids, got shape {tuple(src.shape)}")
        memory, src_pad = self.encode(src)
        start = torch.full((src.shape[0], 1), SOS, dtype=torch.long, device=src.device)
        if tgt is not None:
            return self.decode(memory, src_pad, torch.cat([start, tgt[:, :-1]], 1))
        if max_len is None:
            raise ValueError("give tgt (teacher forcing) or max_len (greedy decoding)")
        return self._greedy(memory, src_pad, start, max_len)

    def _greedy(self, memory: Tensor, src_pad: Tensor, start: Tensor, max_len: int) -> Tensor:
        prefix = start[:, :0]

        def step(token: Tensor) -> Tensor:
            nonlocal prefix
            prefix = torch.cat([prefix, token[:, None]], 1)
            return self.decode(memory, src_pad, prefix)[:, -1]
        return greedy(step, start[:, 0], max_len)
