"""The paper's rule for alpha (App. C.3) on score curves with a known answer, and on a real mask."""
import pytest
import torch
import torch.nn.functional as F

import weightmask as wm
from weightmask.alpha import choose_alpha
from weightmask.models import FNN


def cliff(at):
    """Full performance up to alpha = ``at``, then a fall: the largest good alpha is ``at``."""
    return lambda alpha: 1.0 if alpha <= at * (1 + 1e-9) else 0.5


def test_grows_then_backs_off_to_the_largest_good_alpha():
    choice = choose_alpha(cliff(3e-4), reference=1.0, start=1e-6, factor=10, refine=8)
    assert 3e-4 / 1.5 < choice.alpha <= 3e-4 and choice.score == 1.0
    assert choice.tried["alpha"].is_monotonic_increasing
    assert choice.tried["ok"].sum() >= 3 and (~choice.tried["ok"]).sum() >= 1


def test_keep_is_relative_to_the_reference():
    score = lambda alpha: 0.9 - 100 * alpha  # smooth decline
    choice = choose_alpha(score, reference=0.9, start=1e-6, factor=2, keep=0.95, refine=10)
    assert choice.score >= 0.95 * 0.9
    assert score(choice.alpha * 1.01) < 0.95 * 0.9  # and nothing much larger would do


def test_never_bad_stops_at_max_alpha():
    choice = choose_alpha(lambda a: 1.0, reference=1.0, start=1e-3, factor=10, max_alpha=1.0)
    assert choice.alpha == pytest.approx(1.0) and len(choice.tried) == 4


@pytest.mark.parametrize("kw,message", [
    (dict(reference=0), "reference must be a positive"),
    (dict(keep=1.5), "keep must be in"),
    (dict(factor=1), "factor must be > 1"),
    (dict(start=2.0), "start must be in"),
    (dict(refine=-1), "refine must be a non-negative"),
])
def test_bad_arguments(kw, message):
    args = dict(score=lambda a: 1.0, reference=1.0) | kw
    with pytest.raises(ValueError, match=message):
        choose_alpha(**args)


def test_too_strong_from_the_start_is_an_error():
    with pytest.raises(ValueError, match="even alpha=1e-07"):
        choose_alpha(lambda a: 0.1, reference=1.0)


def test_on_a_real_mask(one_thread):
    torch.manual_seed(0)
    x = torch.randn(512, 8)
    y = (x[:, 0] > 0).long()
    batches = [(x[i:i + 128], y[i:i + 128]) for i in range(0, 512, 128)]
    loss = lambda m, b: F.cross_entropy(m(b[0]), b[1])
    net = wm.train_weights(FNN([8, 32, 2]), batches, loss, steps=300, progress=False)
    reference = wm.accuracy(net(x), y)

    def score(alpha):
        torch.manual_seed(1)
        mask = wm.train_mask(net, batches, loss, steps=300, alpha=alpha, progress=False)
        masked = wm.MaskedModel(net)
        with masked.fixed(mask), torch.no_grad():
            return wm.accuracy(masked(x), y)

    choice = choose_alpha(score, reference, start=1e-4, factor=10, refine=1)
    assert choice.score >= 0.95 * reference
    assert choice.tried["ok"].any()
