"""Feedforward network with ReLU hidden layers (paper App. C.2)."""
from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class FNN(nn.Module):
    """``sizes = [in, hidden..., out]``; ReLU between layers, optional dropout, linear output."""

    def __init__(self, sizes: Sequence[int], dropout: float = 0.0):
        super().__init__()
        sizes = list(sizes)
        if len(sizes) < 2 or any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"sizes must list at least 2 positive layer widths [in, ..., out], got {sizes!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
        self.sizes = sizes
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
                if dropout:
                    layers.append(nn.Dropout(dropout))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)
