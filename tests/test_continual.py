"""Continual masks: frozen weights never move, the first layer is per task, old tasks stay intact."""
import pytest
import torch
import torch.nn.functional as F

from weightmask.continual import ContinualMasks, xavier_relu_
from weightmask.models import FNN


def _fresh(seed):
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return FNN([6, 8, 8, 3])


def _batches(seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 6, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    return lambda step: (x, y)


def _loss(out, batch):
    return F.cross_entropy(out, batch[1])


def _accuracy(batch):
    return lambda m: {"accuracy": float((m(batch[0]).argmax(-1) == batch[1]).float().mean())}


def test_used_weights_freeze_and_old_tasks_keep_their_function():
    model = _fresh(0)
    cm = ContinualMasks(model, _fresh, reset=["layers.0.weight", "layers.0.bias"], n_samples=4)
    first = cm.train_task(_batches(1), _loss, steps=60, lr=1e-2, alpha=1e-3, seed=1, progress=False)
    frozen = {n: cm.frozen[n].clone() for n in first.mask}
    assert not frozen["layers.0.weight"].any()  # the first layer is never frozen
    assert frozen["layers.2.weight"].any() and torch.equal(frozen["layers.2.weight"], first.mask["layers.2.weight"])
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    old = cm.evaluate(0, _accuracy(_batches(1)(0)))
    cm.train_task(_batches(2), _loss, steps=60, lr=1e-2, alpha=1e-3, seed=2, progress=False,
                  old_prob=0.88, new_prob=0.27)
    moved = 0
    for n, p in model.named_parameters():
        assert torch.equal(p.detach()[frozen[n]], before[n][frozen[n]]), n  # frozen: untouched
        free = ~frozen[n]
        moved += int((p.detach()[free] != before[n][free]).sum())  # free: re-initialized and trained
    assert moved >= model.layers[0].weight.numel()
    assert cm.evaluate(0, _accuracy(_batches(1)(0))) == old
    assert len(cm.tasks) == 2 and not any(p.requires_grad for p in model.parameters())


def test_bad_arguments():
    with pytest.raises(ValueError, match="not parameters of the model"):
        ContinualMasks(_fresh(0), _fresh, reset=["first.weight"])
    cm = ContinualMasks(_fresh(0), _fresh, reset=["layers.0.weight"])
    with pytest.raises(ValueError, match="give both old_prob and new_prob"):
        cm.train_task(_batches(1), _loss, steps=1, lr=1e-2, alpha=0, seed=0, old_prob=0.8)
    with pytest.raises(ValueError, match="new_prob must be in"):
        cm.train_task(_batches(1), _loss, steps=1, lr=1e-2, alpha=0, seed=0, old_prob=0.8, new_prob=1.0)


def test_xavier_relu_init_matches_the_authors_feedforward_reset():
    """Xavier-normal std gain * sqrt(2 / (fan_in + fan_out)): ReLU gain sqrt(2) but on the linear output layer
    (gain 1), zero biases (their models/feedforward.py)."""
    torch.manual_seed(0)
    model = xavier_relu_(FNN([400, 300, 200, 10]))
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    for i, layer in enumerate(linears):
        fan_out, fan_in = layer.weight.shape
        gain = 1.0 if i == len(linears) - 1 else 2 ** 0.5
        want = gain * (2 / (fan_in + fan_out)) ** 0.5
        std = float(layer.weight.detach().std())
        assert abs(std / want - 1) < 0.05, (i, std, want)
        assert not layer.bias.any()
    with pytest.raises(ValueError, match="no nn.Linear"):
        xavier_relu_(torch.nn.ReLU())


def test_weights_and_masks_share_one_learning_rate_unless_told(monkeypatch):
    """As in the authors' permuted MNIST (one Adam over weights and mask logits): without ``mask_lr``,
    every parameter group gets ``lr``."""
    groups = []

    class Recording(torch.optim.Adam):
        def __init__(self, params, **kw):
            super().__init__(params, **kw)
            groups.append([g["lr"] for g in self.param_groups])
    monkeypatch.setattr(torch.optim, "Adam", Recording)
    cm = ContinualMasks(_fresh(0), _fresh, reset=["layers.0.weight"], n_samples=2)
    cm.train_task(_batches(1), _loss, steps=1, lr=0.01, alpha=0, seed=0, progress=False)
    cm.train_task(_batches(2), _loss, steps=1, lr=0.01, mask_lr=0.1, alpha=0, seed=1, progress=False)
    assert groups == [[0.01, 0.01], [0.01, 0.1]]
