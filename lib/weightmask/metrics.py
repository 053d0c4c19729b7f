"""Comparing modules: IoU, IoMin, sharing per layer, confusion-matrix differences, accuracy."""
from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import torch
from torch import Tensor

from .mask import Mask

__all__ = ["iou", "iomin", "iou_per_layer", "iomin_per_layer", "sharing", "shared_with_any",
           "confusion_matrix", "confusion_difference", "accuracy"]


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _counts(a: Mask, b: Mask) -> dict[str, tuple[int, int, int]]:
    """Per parameter: (|a & b|, |a|, |b|)."""
    a._check_compatible(b)
    return {n: (int((a[n] & b[n]).sum()), int(a[n].sum()), int(b[n].sum())) for n in a}


def iou(a: Mask, b: Mask) -> float:
    """Intersection over union of the kept weights, over all parameters (nan if both are empty)."""
    c = _counts(a, b).values()
    inter = sum(x[0] for x in c)
    return _ratio(inter, sum(x[1] + x[2] - x[0] for x in c))


def iomin(a: Mask, b: Mask) -> float:
    """Intersection over the smaller mask: 1 when one module is a subset of the other."""
    c = _counts(a, b).values()
    return _ratio(sum(x[0] for x in c), min(sum(x[1] for x in c), sum(x[2] for x in c)))


def iou_per_layer(a: Mask, b: Mask) -> dict[str, float]:
    return {n: _ratio(i, na + nb - i) for n, (i, na, nb) in _counts(a, b).items()}


def iomin_per_layer(a: Mask, b: Mask) -> dict[str, float]:
    return {n: _ratio(i, min(na, nb)) for n, (i, na, nb) in _counts(a, b).items()}


def sharing(a: Mask, b: Mask) -> pd.DataFrame:
    """Per parameter, the proportion of ``a``'s weights that ``b`` uses too (paper Fig. 1, 2).

    Columns: ``name``, ``kept`` (|a|), ``shared`` (|a & b|), ``proportion``, ``iou``, ``iomin``.
    """
    rows = [{"name": n, "kept": na, "shared": i, "proportion": _ratio(i, na),
             "iou": _ratio(i, na + nb - i), "iomin": _ratio(i, min(na, nb))}
            for n, (i, na, nb) in _counts(a, b).items()]
    return pd.DataFrame(rows, columns=["name", "kept", "shared", "proportion", "iou", "iomin"])


def shared_with_any(mask: Mask, others: Sequence[Mask]) -> pd.DataFrame:
    """Per parameter, the proportion of ``mask``'s weights used by at least one of ``others`` (Fig. 3), and
    ``chance``: the proportion a mask placed at random would share, the density of the others' union there
    (App. B.3: sharing means something only against such a reference)."""
    if not others:
        raise ValueError("others must contain at least one mask")
    union = others[0]
    for o in others[1:]:
        union = union | o
    density = union.per_layer().set_index("name")
    out = sharing(mask, union)[["name", "kept", "shared", "proportion"]]
    return out.assign(chance=[float(density.loc[n, "density"]) for n in out["name"]])


def confusion_matrix(pred: Tensor, target: Tensor, n_classes: int) -> Tensor:
    """Counts ``[true class, predicted class]`` as a float tensor."""
    pred, target = pred.reshape(-1).long().cpu(), target.reshape(-1).long().cpu()
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in size: {pred.numel()} vs {target.numel()}")
    for what, t in (("pred", pred), ("target", target)):  # out of range would be counted in a wrong cell
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= n_classes):
            raise ValueError(f"{what} has labels outside [0, {n_classes}): "
                             f"min {int(t.min())}, max {int(t.max())} (n_classes={n_classes})")
    idx = target * n_classes + pred
    return torch.bincount(idx, minlength=n_classes * n_classes).reshape(n_classes, n_classes).float()


def confusion_difference(with_mask: Tensor, reference: Tensor, normalize: bool = True) -> Tensor:
    """Change of the confusion matrix caused by a mask (paper Fig. 18-20).

    With ``normalize`` each row is first divided by its total, so entries are changes in
    the rate at which true class i is predicted as j.
    """
    if with_mask.shape != reference.shape:
        raise ValueError(f"confusion matrices differ in shape: {tuple(with_mask.shape)} vs {tuple(reference.shape)}")
    if normalize:
        with_mask = with_mask / with_mask.sum(1, keepdim=True).clamp_min(1)
        reference = reference / reference.sum(1, keepdim=True).clamp_min(1)
    return with_mask - reference


def accuracy(logits_or_pred: Tensor, target: Tensor) -> float:
    """Fraction correct; takes class scores ``[..., C]`` or predicted labels shaped like ``target``."""
    pred = logits_or_pred.argmax(-1) if logits_or_pred.dim() == target.dim() + 1 else logits_or_pred
    return float((pred == target).float().mean())
