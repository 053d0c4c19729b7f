"""Networks of the paper's experiments."""
from .cnn import SimpleCNN
from .fnn import FNN
from .lstm import RepeatLSTM
from .resnet import ResNet
from .seq2seq_lstm import Seq2SeqLSTM
from .transformer import Seq2SeqTransformer

__all__ = ["FNN", "RepeatLSTM", "ResNet", "Seq2SeqLSTM", "Seq2SeqTransformer", "SimpleCNN"]
