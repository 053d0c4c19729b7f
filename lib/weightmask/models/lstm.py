"""LSTM that reads a fixed input for a few steps and answers from its last state (paper App. C.4, C.5)."""
from __future__ import annotations

from torch import Tensor, nn


class RepeatLSTM(nn.Module):
    """``[batch, n_in] -> [batch, n_out]``: the input is fed for ``steps`` time steps and the
    output layer reads the hidden state of the last one (add/mul: 3 steps, hidden 256).

    A ``[batch, steps, n_in]`` input is fed as given instead, e.g. one pair per half of the
    steps for the "forced" double-addition LSTM. With ``reads=(3, 6)`` the output layer reads
    the state after each of those steps (1-based): ``[batch, len(reads), n_out]``.
    Batch-first throughout, so ``MaskedModel`` can split it along dimension 0 with its defaults.
    """

    def __init__(self, n_in: int, hidden: int, n_out: int, steps: int = 3,
                 reads: tuple[int, ...] | None = None):
        super().__init__()
        for name, v in (("n_in", n_in), ("hidden", hidden), ("n_out", n_out), ("steps", steps)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if reads is not None and (not reads or any(not isinstance(r, int) or not 1 <= r <= steps
                                                   for r in reads)):
            raise ValueError(f"reads must be step numbers in 1..{steps}, got {reads!r}")
        self.steps, self.reads = steps, None if reads is None else tuple(reads)
        self.lstm = nn.LSTM(n_in, hidden, batch_first=True)
        self.out = nn.Linear(hidden, n_out)

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
