"""Networks of the paper's experiments."""
from .cnn import SimpleCNN
from .fnn import FNN
from .lstm import RepeatLSTM

__all__ = ["FNN", "RepeatLSTM", "SimpleCNN"]
