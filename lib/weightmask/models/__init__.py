"""Networks of the paper's experiments."""
from .cnn import SimpleCNN
from .fnn import FNN
from .lstm import RepeatLSTM
from .resnet import ResNet
from .transformer import Seq2SeqTransformer

__all__ = ["FNN", "RepeatLSTM", "ResNet", "Seq2SeqTransformer", "SimpleCNN"]
