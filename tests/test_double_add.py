"""Double addition: encoding, targets, and how each feed reads each pair's answer."""
import pytest
import torch
from torch import nn

from weightmask.models import RepeatLSTM
from weightmask.tasks import double_add


def test_encoding_targets_and_zeroed_pairs():
    numbers = torch.tensor([[12, 95, 3, 40]])
    x = double_add.encode(numbers)
    assert x.shape == (1, 80) and x.sum() == 8  # 4 numbers x 2 one-hot digits
    assert x[0, :10].argmax() == 1 and x[0, 10:20].argmax() == 2  # a = 12
    assert double_add.targets(numbers).tolist() == [[[0, 7], [4, 3]]]  # 107 % 100, 43
    assert double_add.encode(numbers, show=(1,))[0, :40].sum() == 0
    assert double_add.encode(numbers, show=(0,))[0, 40:].sum() == 0


class _Probe(nn.Module):
    """Records its inputs and answers ``arange`` values, so each output unit is identifiable."""
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, x):
        self.seen.append(x)
        return torch.arange(x.shape[0] * 40, dtype=torch.float).view(x.shape[0], 40)


def test_fnn_feed_makes_one_pass_per_pair_and_reads_its_units():
    numbers = double_add.sample(3)
    probe = _Probe()
    out = double_add.outputs(probe, numbers, "fnn")
    x = probe.seen[0]
    assert x.shape == (6, 80)
    assert x[0::2, 40:].sum() == 0 and x[1::2, :40].sum() == 0  # interleaved passes
    full = torch.arange(6 * 40, dtype=torch.float).view(6, 40)
    assert torch.equal(out[:, 0], full[0::2, :20]) and torch.equal(out[:, 1], full[1::2, 20:])
    only2 = double_add.outputs(_Probe(), numbers, "fnn", pairs=[1])
    assert only2.shape == (3, 1, 20)


def test_forced_feed_shows_one_pair_per_phase_and_reads_after_each():
    numbers = double_add.sample(2)
    net = RepeatLSTM(80, 8, 40, steps=6, reads=(3, 6))
    seen = []
    net.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    out = double_add.outputs(net, numbers, "forced", steps=6)
    with pytest.raises(ValueError, match="even number of steps"):
        double_add.outputs(net, numbers, "forced", steps=5)
    x = seen[0]
    assert x.shape == (2, 6, 80) and x[:, :3, 40:].sum() == 0 and x[:, 3:, :40].sum() == 0
    full = net(x)
    assert torch.equal(out[:, 0], full[:, 0, :20]) and torch.equal(out[:, 1], full[:, 1, 20:])


def test_accuracy_per_pair_and_bad_names():
    y = torch.tensor([[[1, 2], [3, 4]], [[5, 6], [7, 8]]])
    logits = torch.nn.functional.one_hot(y, 10).float().view(2, 2, 20)
    logits[1, 1] = 0  # the second example's pair 2 is wrong (argmax 0)
    assert double_add.accuracy(logits, y) == [1.0, 0.5]
    with pytest.raises(ValueError, match="pairs must be"):
        double_add.pair_index(["pair3"])
    with pytest.raises(ValueError, match="feed must be one of"):
        double_add.check_feed("both")


@pytest.mark.parametrize("feed", ["together", "forced"])
def test_a_pairs_mask_trains_with_the_other_pairs_input_hidden(feed):
    # the authors' train_only_tuple: while a mask trains on pair 1 the LSTM never sees pair 2
    numbers = double_add.sample(4)
    net = RepeatLSTM(80, 8, 40, steps=6, reads=(3, 6) if feed == "forced" else None)
    seen = []
    net.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    double_add.outputs(net, numbers, feed, pairs=[0], steps=6, hide_others=True)
    double_add.outputs(net, numbers, feed, pairs=[0], steps=6)
    hidden, shown = seen
    assert hidden[..., 40:].sum() == 0 and torch.equal(hidden[..., :40], shown[..., :40])
    assert shown[..., 40:].sum() > 0  # without hide_others (the evaluation) both pairs are shown
