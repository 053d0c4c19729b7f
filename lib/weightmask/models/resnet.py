"""The CIFAR ResNet of He et al. (2016) with BasicBlocks and BatchNorm (paper App. C.8.3).

Depth ``6n + 2``: a 3x3 stem, three stages of ``n`` BasicBlocks (``width``, 2x, 4x channels;
strides 1, 2, 2; 1x1 convolution shortcuts where the shape changes), global average pooling
and a linear classifier. ResNet-110 is ``depth=110`` (n = 18); ResNet-8 (n = 1) the shallowest.
"""
from __future__ import annotations

from torch import Tensor, nn


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a residual connection."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        y = self.bn1(self.conv1(x)).relu()
        return (self.bn2(self.conv2(y)) + self.shortcut(x)).relu()


class ResNet(nn.Module):
    """CIFAR-style ResNet of ``depth`` = 6n + 2 layers: ``[batch, 3, H, W] -> [batch, n_classes]``."""

    def __init__(self, depth: int = 110, n_classes: int = 10, width: int = 16):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"depth must be 6n + 2 with n >= 1 (8, 14, 20, ..., 110), got {depth!r}")
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be a positive integer, got {width!r}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU())
        blocks, c = [], width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                blocks.append(BasicBlock(c, c_out, 2 if stage and i == 0 else 1))
                c = c_out
        self.blocks = nn.Sequential(*blocks)
        self.out = nn.Linear(c, n_classes)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.blocks(self.stem(x)).mean(dim=(2, 3)))
