"""Networks of the paper's experiments."""
from .fnn import FNN
from .lstm import RepeatLSTM

__all__ = ["FNN", "RepeatLSTM"]
