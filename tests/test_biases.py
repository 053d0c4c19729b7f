"""The biases of the units a mask uses (weightmask.biases)."""
import pytest
import torch
from torch import nn

from weightmask import Mask, biases


def _mask(model: nn.Module, rows: dict[str, list[int]]) -> Mask:
    """A mask over the model's weight matrices keeping one weight in each listed row."""
    out = {}
    for n, p in model.named_parameters():
        if p.dim() >= 2:
            t = torch.zeros_like(p, dtype=torch.bool)
            for r in rows.get(n, []):
                t[r, 0] = True
            out[n] = t
    return Mask(out)


def test_a_linear_bias_follows_the_rows_its_weights_keep():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    units = biases.used_units(net, _mask(net, {"0.weight": [1, 3]}))
    assert units["0.bias"].tolist() == [False, True, False, True]
    assert units["2.bias"].tolist() == [False, False]


def test_an_lstm_gate_counts_as_used_through_its_input_or_recurrent_weights():
    lstm = nn.LSTM(3, 2, num_layers=2)
    units = biases.used_units(lstm, _mask(lstm, {"weight_ih_l0": [0], "weight_hh_l0": [5], "weight_hh_l1": [7]}))
    for b in ("bias_ih_l0", "bias_hh_l0"):
        assert units[b].nonzero().flatten().tolist() == [0, 5]
    assert units["bias_ih_l1"].nonzero().flatten().tolist() == [7]


def test_removed_zeroes_those_biases_and_restores_them():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    before = net[0].bias.detach().clone()
    x = torch.randn(5, 3)
    y = net(x)
    with biases.removed(net, biases.used_units(net, _mask(net, {"0.weight": [1]}))):
        assert net[0].bias[1] == 0 and torch.equal(net[0].bias[[0, 2, 3]], before[[0, 2, 3]])
        assert not torch.allclose(net(x), y)
    assert torch.equal(net[0].bias, before) and torch.allclose(net(x), y)


def test_removed_names_unknown_parameters():
    with pytest.raises(KeyError, match="no parameters"):
        with biases.removed(nn.Linear(2, 2), {"nope.bias": torch.ones(2, dtype=torch.bool)}):
            pass
