"""LSTM that reads a fixed input for a few steps and answers from its last state (paper App. C.4, C.5)."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

GAIN_TANH = 5 / 3  # torch.nn.init.calculate_gain("tanh"); the sigmoid's gain is 1


class RepeatLSTM(nn.Module):
    """``[batch, n_in] -> [batch, n_out]``: the input is fed for ``steps`` time steps and the
    output layer reads the hidden state of the last one (add/mul: 3 steps, hidden 256).

    A ``[batch, steps, n_in]`` input is fed as given instead, e.g. one pair per half of the
    steps for the "forced" double-addition LSTM. With ``reads=(3, 6)`` the output layer reads
    the state after each of those steps (1-based): ``[batch, len(reads), n_out]``.
    Batch-first throughout, so ``MaskedModel`` can split it along dimension 0 with its defaults.

    ``layers`` stacked cells (the authors' arithmetic LSTMs: 2 of 256 units), initialised as the
    authors' cells are (:func:`authors_init`), each with one bias per gate: PyTorch's second bias
    (``bias_hh``) stays zero and frozen, so a gate's bias trains at the optimiser's step size once.
    """

    def __init__(self, n_in: int, hidden: int, n_out: int, steps: int = 3,
                 reads: tuple[int, ...] | None = None, layers: int = 2):
        super().__init__()
        for name, v in (("n_in", n_in), ("hidden", hidden), ("n_out", n_out), ("steps", steps),
                        ("layers", layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if reads is not None and (not reads or any(not isinstance(r, int) or not 1 <= r <= steps
                                                   for r in reads)):
            raise ValueError(f"reads must be step numbers in 1..{steps}, got {reads!r}")
        self.steps, self.reads = steps, None if reads is None else tuple(reads)
        self.lstm = nn.LSTM(n_in, hidden, num_layers=layers, batch_first=True)
        self.out = nn.Linear(hidden, n_out)
        authors_init(self.lstm)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1).expand(-1, self.steps, -1)
        elif x.dim() != 3 or x.shape[1] != self.steps:
            raise ValueError(f"input must be [batch, n_in] or [batch, {self.steps}, n_in], "
                             f"got shape {tuple(x.shape)}")
        y, _ = self.lstm(x)
        if self.reads is None:
            return self.out(y[:, -1])
        return self.out(y[:, [r - 1 for r in self.reads]])


@torch.no_grad()
def authors_init(lstm: nn.LSTM) -> None:
    """The initialisation of the authors' LSTM cell (github.com/RobertCsordas/modules,
    layers/masked_lstm.py): gate weights normal with a Xavier-like std halved in variance, the cell
    gate's input weights scaled by tanh's gain and its recurrent weights orthogonal, the forget gate's
    bias 1 and every other bias 0; ``bias_hh`` is zeroed and frozen (their cell has one bias)."""
    h = lstm.hidden_size
    cell = slice(2 * h, 3 * h)  # PyTorch's gate order is the authors': input, forget, cell, output
    for k in range(lstm.num_layers):
        w_ih, w_hh = getattr(lstm, f"weight_ih_l{k}"), getattr(lstm, f"weight_hh_l{k}")
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{k}"), getattr(lstm, f"bias_hh_l{k}")
        w_hh.normal_(0, math.sqrt(1 / h) / math.sqrt(2))
        w_ih.normal_(0, math.sqrt(2 / (w_ih.shape[1] + h)) / math.sqrt(2))
        nn.init.orthogonal_(w_hh[cell], gain=GAIN_TANH / math.sqrt(2))
        w_ih[cell] *= GAIN_TANH
        b_ih.zero_()
        b_ih[h:2 * h] = 1.0
        b_hh.zero_()
        b_hh.requires_grad_(False)
