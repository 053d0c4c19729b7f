"""The simple CNN of the paper's Table 5 (App. C.8.1), with or without its dropout (C.8.2)."""
from __future__ import annotations

from torch import Tensor, nn


class SimpleCNN(nn.Module):
    """Four 3x3 convolutions (``widths``, default 32-64-128-256) with ReLU, 2x2 max pooling after
    the first three, dropout 0.25 and 0.5 after the third and fourth (``dropout=True``),
    spatial averaging and a linear classifier: ``[batch, 3, H, W] -> [batch, n_classes]``."""

    def __init__(self, n_classes: int = 10, dropout: bool = True, widths: tuple[int, ...] = (32, 64, 128, 256)):
        super().__init__()
        if len(widths) != 4 or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ValueError(f"widths must be 4 positive channel counts, got {widths!r}")
        if not isinstance(n_classes, int) or n_classes < 2:
            raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
        drop = (0.0, 0.0, 0.25, 0.5) if dropout else (0.0,) * 4
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip((3,) + tuple(widths[:-1]), widths)):
            layers += [nn.Conv2d(a, b, 3, padding=1), nn.ReLU()]
            if drop[i]:
                layers.append(nn.Dropout(drop[i]))
            if i < 3:
                layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(widths[-1], n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.features(x).mean(dim=(2, 3)))
