"""The biases of the units a mask uses, and a network with them removed.

Masks that leave biases alone (the authors' ``bias_no_mask``) keep every bias under an inverted
mask too. Removing the biases of the units a module uses shows what a mask that covered biases
would have taken along when inverted: a bias serves every function its unit computes.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import Tensor, nn


def _feeding(bias: str, weights: list[str]) -> list[str]:
    """The weight matrices whose rows feed the units of ``bias``: those of its module with its
    suffix (``layers.0.bias``: ``layers.0.weight``; an LSTM's ``bias_ih_l1``: ``weight_ih_l1`` and
    ``weight_hh_l1``, whose rows feed the same gates)."""
    module, leaf = bias.rsplit(".", 1) if "." in bias else ("", bias)
    layer = leaf.rsplit("_", 1)[1] if "_" in leaf else None
    out = []
    for w in weights:
        w_module, w_leaf = w.rsplit(".", 1) if "." in w else ("", w)
        if w_module == module and w_leaf.startswith("weight") and (layer is None or w_leaf.endswith("_" + layer)):
            out.append(w)
    return out


def used_units(model: nn.Module, mask: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Per bias of ``model`` that some masked weight matrix feeds: which of its units ``mask``
    keeps at least one incoming weight of."""
    params = dict(model.named_parameters())
    weights = [n for n in mask if n in params and params[n].dim() >= 2]
    out = {}
    for name, p in params.items():
        if not name.rsplit(".", 1)[-1].startswith("bias"):
            continue
        rows = [mask[w].reshape(mask[w].shape[0], -1).any(1) for w in _feeding(name, weights)
                if mask[w].shape[0] == p.shape[0]]
        if rows:
            out[name] = torch.stack(rows).any(0)
    return out


@contextmanager
def removed(model: nn.Module, units: Mapping[str, Tensor]) -> Iterator[nn.Module]:
    """``model`` with the biases of ``units`` (from :func:`used_units`) at zero, restored on exit."""
    params = dict(model.named_parameters())
    unknown = sorted(set(units) - set(params))
    if unknown:
        raise KeyError(f"no parameters {unknown} in the model")
    saved = {n: params[n].detach().clone() for n in units}
    try:
        with torch.no_grad():
            for n, keep in units.items():
                params[n][keep.to(params[n].device)] = 0
        yield model
    finally:
        with torch.no_grad():
            for n, value in saved.items():
                params[n].copy_(value)
