"""Networks of the paper's experiments."""
from .fnn import FNN

__all__ = ["FNN"]
