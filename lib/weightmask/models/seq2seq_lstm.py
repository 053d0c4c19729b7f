"""LSTM encoder-decoder of Lake & Baroni (2018), the SCAN baseline (paper Sec. 4, App. C.7.1).

Same forward contract as ``Seq2SeqTransformer``: ``model(src, tgt)`` is teacher-forced,
``model(src, tgt, teacher_forcing=False)`` runs free for tgt's length feeding back its own
argmax, ``model(src, max_len=L)`` decodes greedily; all return logits ``[batch, steps, n_tgt]``
whose step t predicts ``tgt[:, t]`` (at tgt's padding: the output bias alone, or zeros; the
decoder runs only over each target's real length). Batch-first, so ``MaskedModel`` splits it
along dim 0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from ..tasks.text import PAD, SOS
from .decoding import greedy
from .transformer import _check_positive


class Seq2SeqLSTM(nn.Module):
    """Source ids ``[batch, S]`` -> target logits; ids 0/1/2 are pad/start/end (``tasks.text``).

    The encoder's final state (every layer's) starts the decoder; no attention. Lake & Baroni:
    2 layers of 200 units, dropout 0.5; the paper shrinks the word embeddings to 16 so that
    masks keep the input weights (App. C.7.1). Dropout acts where the authors' code puts it: on
    the embeddings and between the LSTM layers, not on the decoder's output. ``src_embed`` /
    ``tgt_embed`` are the embeddings (``exclude="*_embed.*"``), ``out`` the output layer: row i of
    ``out.weight`` serves token i.
    """

    def __init__(self, n_src: int, n_tgt: int, embed: int = 16, hidden: int = 200, layers: int = 2,
                 dropout: float = 0.5):
        super().__init__()
        _check_positive(n_src=n_src, n_tgt=n_tgt, embed=embed, hidden=hidden, layers=layers)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.src_embed = nn.Embedding(n_src, embed)
        self.tgt_embed = nn.Embedding(n_tgt, embed)
        between = dropout if layers > 1 else 0.0
        self.encoder = nn.LSTM(embed, hidden, layers, batch_first=True, dropout=between)
        self.decoder = nn.LSTM(embed, hidden, layers, batch_first=True, dropout=between)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, n_tgt)

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """The state ``(h, c)`` of every layer after each source's last real token."""
        lengths = (src != PAD).sum(1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.drop(self.src_embed(src)), lengths, batch_first=True,
                                      enforce_sorted=False)
        _, state = self.encoder(packed)
        return state

    def _step(self, tokens: Tensor, state):
        """Decoder logits for ``tokens [batch, 1]`` and the state after them."""
        y, state = self.decoder(self.drop(self.tgt_embed(tokens)), state)
        return self.out(y), state

    def _forced(self, state, dec_in: Tensor, lengths: Tensor) -> Tensor:
        """Teacher forcing over each target's real length only (packed: padding is not computed)."""
        packed = pack_padded_sequence(self.drop(self.tgt_embed(dec_in)), lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        y, _ = pad_packed_sequence(self.decoder(packed, state)[0], batch_first=True,
                                   total_length=dec_in.shape[1])
        return self.out(y)

    def _free(self, state, start: Tensor, lengths: Tensor, steps: int) -> Tensor:
        """Free running: each sequence feeds back its argmax for its target's length."""
        order = lengths.argsort(descending=True)
        h, c = state[0][:, order], state[1][:, order]
        token, n_active, out = start[order], (lengths[order] > torch.arange(steps, device=start.device)[:, None]
                                              ).sum(1).tolist(), []
        for n in n_active:
            logits, (h, c) = self._step(token[:n, None], (h[:, :n].contiguous(), c[:, :n].contiguous()))
            token = logits[:, 0].argmax(-1)
            out.append(F.pad(logits[:, 0], (0, 0, 0, len(order) - n)))
        return torch.stack(out, 1)[order.argsort()]

    def forward(self, src: Tensor, tgt: Tensor | None = None, max_len: int | None = None,
                teacher_forcing: bool = True) -> Tensor:
        if src.dim() != 2:
            raise ValueError(f"src must be [batch, length] token ids, got shape {tuple(src.shape)}")
        state = self.encode(src)
        start = torch.full((src.shape[0],), SOS, dtype=torch.long, device=src.device)
        if tgt is not None:
            lengths = (tgt != PAD).sum(1).clamp(min=1)
            if teacher_forcing:
                return self._forced(state, torch.cat([start[:, None], tgt[:, :-1]], 1), lengths)
            return self._free(state, start, lengths, tgt.shape[1])
        if max_len is None:
            raise ValueError("give tgt (teacher forcing or free running) or max_len (greedy decoding)")

        def step(token: Tensor) -> Tensor:
            nonlocal state
            logits, state = self._step(token[:, None], state)
            return logits[:, 0]
        return greedy(step, start, max_len)
