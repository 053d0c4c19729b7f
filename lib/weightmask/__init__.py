"""weightmask: differentiable weight masks that find the module a network uses for a function.

Csordás, van Steenkiste & Schmidhuber, "Are Neural Nets Modular? Inspecting Functional
Modularity Through Differentiable Weight Masks", ICLR 2021.
"""
from .alpha import AlphaChoice, choose_alpha
from .gumbel import gumbel_sigmoid, masked_weight_samples, masked_weight_samples_many
from .mask import Mask
from .masking import MaskedModel, UnsupportedLayerError
from .metrics import (
                      accuracy,
                      confusion_difference,
                      confusion_matrix,
                      iomin,
                      iomin_per_layer,
                      iou,
                      iou_per_layer,
                      shared_with_any,
                      sharing,
)
from .settings import tune_process

__version__ = "0.1.0"
from .store import Run, RunStore
from .training import alpha_from_beta, train_mask, train_weights
