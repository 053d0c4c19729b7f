"""The paper's networks: shapes, bad sizes, and masking them slice by slice."""
import pytest
import torch

from weightmask.models import FNN, RepeatLSTM, ResNet, SimpleCNN

from test_masking import check_per_slice, wrap


def test_repeat_lstm_feeds_the_input_for_every_step():
    torch.manual_seed(40)
    net = RepeatLSTM(42, 16, 20, steps=3)
    x = torch.randn(8, 42)
    out = net(x)
    assert out.shape == (8, 20)
    torch.testing.assert_close(out, net(x.unsqueeze(1).repeat(1, 3, 1)))  # the same as given explicitly
    # the number of steps matters: the state after 1 step differs from the state after 3
    one = RepeatLSTM(42, 16, 20, steps=1)
    one.load_state_dict(net.state_dict())
    assert not torch.allclose(one(x), out)


def test_repeat_lstm_rejects_bad_sizes_and_inputs():
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        RepeatLSTM(4, 8, 2, steps=0)
    with pytest.raises(ValueError, match=r"\[batch, 3, n_in\]"):
        RepeatLSTM(4, 8, 2)(torch.randn(5, 2, 4))


def test_fnn_rejects_bad_sizes():
    with pytest.raises(ValueError, match="sizes"):
        FNN([42])


def test_repeat_lstm_under_masked_model_per_slice():
    torch.manual_seed(41)
    check_per_slice(wrap(RepeatLSTM(6, 8, 4, steps=3)), [torch.randn(8, 6)])


def test_lstm_reads_the_state_after_the_given_steps():
    torch.manual_seed(0)
    net = RepeatLSTM(5, 8, 3, steps=4, reads=(2, 4))
    x = torch.randn(2, 4, 5)
    out = net(x)
    assert out.shape == (2, 2, 3)
    y, _ = net.lstm(x)
    assert torch.allclose(out[:, 0], net.out(y[:, 1])) and torch.allclose(out[:, 1], net.out(y[:, 3]))
    with pytest.raises(ValueError, match="reads must be step numbers in 1..4"):
        RepeatLSTM(5, 8, 3, steps=4, reads=(5,))


def test_simple_cnn_is_table_5_and_masks_per_slice():
    net = SimpleCNN()
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [(3, 32), (32, 64), (64, 128), (128, 256)]
    assert [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)] == [0.25, 0.5]
    assert not any(isinstance(m, torch.nn.Dropout) for m in SimpleCNN(dropout=False).modules())
    torch.manual_seed(5)
    small = SimpleCNN(dropout=False, widths=(4, 4, 8, 8)).eval()
    check_per_slice(wrap(small), [torch.rand(8, 3, 16, 16)])
    with pytest.raises(ValueError, match="widths must be 4"):
        SimpleCNN(widths=(8, 8))


def test_resnet_depth_and_masking_per_slice():
    net = ResNet(depth=110)
    assert sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) for m in net.modules()) == 109
    torch.manual_seed(6)
    small = ResNet(depth=8, width=4).eval()
    assert small(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    check_per_slice(wrap(small), [torch.rand(8, 3, 16, 16)])
    with pytest.raises(ValueError, match="depth must be 6n"):
        ResNet(depth=10)


def test_repeat_lstm_stacks_the_authors_cells():
    # github.com/RobertCsordas/modules layers/masked_lstm.py: forget bias 1, one bias per gate,
    # the cell gate's recurrent weights orthogonal with gain tanh / sqrt(2)
    torch.manual_seed(0)
    net = RepeatLSTM(42, 16, 20, steps=3, layers=2)
    lstm, h = net.lstm, 16
    assert lstm.num_layers == 2
    for k in range(2):
        b_ih, b_hh = getattr(lstm, f"bias_ih_l{k}"), getattr(lstm, f"bias_hh_l{k}")
        assert torch.equal(b_ih[h:2 * h], torch.ones(h)) and b_ih[:h].abs().sum() == 0 and b_ih[2 * h:].abs().sum() == 0
        assert b_hh.abs().sum() == 0 and not b_hh.requires_grad
        cell = getattr(lstm, f"weight_hh_l{k}")[2 * h:3 * h]
        gain = 5 / 3 / 2 ** 0.5
        torch.testing.assert_close(cell @ cell.T, gain ** 2 * torch.eye(h), atol=1e-5, rtol=0)
    assert [n for n, p in net.named_parameters() if p.requires_grad and "bias_hh" in n] == []
    with pytest.raises(ValueError, match="layers must be a positive integer"):
        RepeatLSTM(4, 8, 2, layers=0)
