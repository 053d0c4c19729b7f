"""Networks of the paper's experiments."""
from .cnn import SimpleCNN
from .fnn import FNN
from .lstm import RepeatLSTM
from .resnet import ResNet

__all__ = ["FNN", "RepeatLSTM", "ResNet", "SimpleCNN"]
