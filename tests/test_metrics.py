"""Module comparison metrics on hand-made masks with hand-computed values."""

import math

import pandas as pd
import pytest
import torch

import weightmask as wm
from weightmask import Mask


def T(*rows):
    return torch.tensor(rows, dtype=torch.bool)


@pytest.fixture
def a():
    return Mask({"w": T([1, 0, 1], [1, 1, 0]), "b": T(1, 0, 0)})  # |a| = 4 + 1


@pytest.fixture
def b():
    return Mask({"w": T([1, 1, 0], [0, 1, 0]), "b": T(1, 1, 0)})  # |b| = 3 + 2


# a & b: w 2 (positions [0,0], [1,1]), b 1  -> 3;  a | b: w 5, b 2 -> 7

def test_iou_and_iomin(a, b):
    assert wm.iou(a, b) == pytest.approx(3 / 7)
    assert wm.iomin(a, b) == pytest.approx(3 / 5)
    assert wm.iou(b, a) == wm.iou(a, b) and wm.iomin(b, a) == wm.iomin(a, b)
    assert wm.iou(a, a) == 1.0 and wm.iomin(a, a) == 1.0


def test_iomin_uses_the_smaller_mask(a):
    c = Mask({"w": T([1, 0, 0], [0, 0, 0]), "b": T(1, 1, 1)})  # |c| = 4, |a & c| = 2
    assert wm.iomin(a, c) == pytest.approx(2 / 4)
    assert wm.iou(a, c) == pytest.approx(2 / (5 + 4 - 2))


def test_subset_and_disjoint(a):
    sub = Mask({"w": T([1, 0, 0], [0, 1, 0]), "b": T(0, 0, 0)})  # 2 of a's 5
    assert (sub - a).count() == 0
    assert wm.iomin(a, sub) == 1.0 and wm.iomin(sub, a) == 1.0
    assert wm.iou(a, sub) == pytest.approx(2 / 5) and wm.iou(a, sub) < 1
    assert wm.iou(a, ~a) == 0.0 and wm.iomin(a, ~a) == 0.0
    empty = Mask.full(a, value=False)
    assert math.isnan(wm.iou(empty, empty))
    assert math.isnan(wm.iomin(a, empty))


def test_per_layer(a, b):
    iou = wm.iou_per_layer(a, b)
    iomin = wm.iomin_per_layer(a, b)
    assert list(iou) == ["w", "b"] and list(iomin) == ["w", "b"]
    assert iou["w"] == pytest.approx(2 / 5) and iou["b"] == pytest.approx(1 / 2)
    assert iomin["w"] == pytest.approx(2 / 3) and iomin["b"] == pytest.approx(1 / 1)
    c = Mask({"w": a["w"], "b": T(0, 0, 0)})
    assert math.isnan(wm.iou_per_layer(c, Mask({"w": b["w"], "b": T(0, 0, 0)}))["b"])
    assert math.isnan(wm.iomin_per_layer(a, c)["b"])


def test_metrics_reject_incompatible_masks(a):
    with pytest.raises(ValueError, match="different parameters"):
        wm.iou(a, Mask({"w": a["w"]}))
    with pytest.raises(ValueError, match="shape of 'w' differs"):
        wm.iomin_per_layer(a, Mask({"w": a["w"].T, "b": a["b"]}))


def test_sharing(a, b):
    df = wm.sharing(a, b)
    assert isinstance(df, pd.DataFrame)
    assert list(df.columns) == ["name", "kept", "shared", "proportion", "iou", "iomin"]
    assert df["name"].tolist() == ["w", "b"]
    assert df["kept"].tolist() == [4, 1]
    assert df["shared"].tolist() == [2, 1]
    assert df["proportion"].tolist() == pytest.approx([2 / 4, 1 / 1])
    assert df["iou"].tolist() == pytest.approx([2 / 5, 1 / 2])
    assert df["iomin"].tolist() == pytest.approx([2 / 3, 1 / 1])
    # not symmetric: the proportion is of the first mask's weights
    assert wm.sharing(b, a)["proportion"].tolist() == pytest.approx([2 / 3, 1 / 2])


def test_shared_with_any(a, b):
    c = Mask({"w": T([0, 0, 1], [0, 0, 0]), "b": T(0, 0, 0)})
    df = wm.shared_with_any(a, [b, c])
    assert list(df.columns) == ["name", "kept", "shared", "proportion", "chance"]
    # a.w = {00, 02, 10, 11}; b.w | c.w = {00, 01, 02, 11} -> shared {00, 02, 11}
    assert df["shared"].tolist() == [3, 1]
    assert df["proportion"].tolist() == pytest.approx([3 / 4, 1.0])
    # at random a weight is shared as often as the union is dense: 4 of 6 in w, 2 of 3 in b
    assert df["chance"].tolist() == pytest.approx([4 / 6, 2 / 3])
    single = wm.shared_with_any(a, [b])
    assert single["shared"].tolist() == [2, 1]
    with pytest.raises(ValueError, match="at least one mask"):
        wm.shared_with_any(a, [])


def test_confusion_matrix():
    target = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    pred = torch.tensor([0, 1, 1, 1, 2, 2, 2, 0, 2])
    cm = wm.confusion_matrix(pred, target, 3)
    assert cm.dtype == torch.float32
    assert torch.equal(cm, torch.tensor([[1., 1., 0.],
                                         [0., 2., 1.],
                                         [1., 0., 3.]]))
    assert cm.sum() == 9
    # shapes are flattened; classes that never occur still get a row and column
    cm4 = wm.confusion_matrix(pred.view(3, 3), target.view(3, 3), 4)
    assert cm4.shape == (4, 4) and torch.equal(cm4[:3, :3], cm) and cm4[3].sum() == 0
    with pytest.raises(ValueError, match="differ in size"):
        wm.confusion_matrix(pred[:4], target, 3)


@pytest.mark.parametrize("pred,target", [([0, 3], [0, 0]), ([0, 3], [2, 2]), ([0, -1], [1, 1]),
                                         ([0, 1], [0, 5])])
def test_confusion_matrix_rejects_labels_out_of_range(pred, target):
    with pytest.raises(ValueError, match=r"outside \[0, 3\)"):
        wm.confusion_matrix(torch.tensor(pred), torch.tensor(target), 3)


def test_confusion_difference():
    ref = torch.tensor([[8., 2.], [1., 3.]])
    with_mask = torch.tensor([[4., 6.], [0., 2.]])
    d = wm.confusion_difference(with_mask, ref)
    torch.testing.assert_close(d, torch.tensor([[0.4 - 0.8, 0.6 - 0.2], [0.0 - 0.25, 1.0 - 0.75]]))
    torch.testing.assert_close(d.sum(1), torch.zeros(2))  # rates per true class sum to 1
    torch.testing.assert_close(wm.confusion_difference(with_mask, ref, normalize=False), with_mask - ref)
    # an empty row (class absent) gives zeros, not nan
    d0 = wm.confusion_difference(torch.tensor([[0., 0.], [1., 1.]]), torch.tensor([[0., 0.], [2., 0.]]))
    torch.testing.assert_close(d0, torch.tensor([[0., 0.], [-0.5, 0.5]]))
    with pytest.raises(ValueError, match="differ in shape"):
        wm.confusion_difference(torch.zeros(2, 2), torch.zeros(3, 3))


def test_accuracy():
    target = torch.tensor([0, 1, 2, 1])
    scores = torch.tensor([[2., 1., 0.], [0., 3., 1.], [5., 0., 1.], [0., 1., 0.]])
    assert wm.accuracy(scores, target) == pytest.approx(3 / 4)
    assert wm.accuracy(torch.tensor([0, 1, 1, 1]), target) == pytest.approx(3 / 4)
    assert wm.accuracy(torch.tensor([2, 0, 1, 0]), target) == 0.0
    # sequence outputs [batch, time, classes] against [batch, time] labels
    seq_scores = scores.view(2, 2, 3)
    assert wm.accuracy(seq_scores, target.view(2, 2)) == pytest.approx(3 / 4)
