"""The GPU path (all tensors sampled as one flat tensor) on a real CUDA device; skipped without one."""
import pytest
import torch
from torch import nn

import weightmask as wm
from weightmask import gumbel

from test_masking import check_per_slice, wrap

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.mark.parametrize("build,args,in_dim,out_dims", [
    (lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)), lambda: [torch.randn(8, 5)], 0, 0),
    (lambda: nn.LSTM(3, 5, num_layers=2), lambda: [torch.randn(6, 8, 3)], 1, (1, (1, 1))),
    (lambda: nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True),
     lambda: [torch.randn(8, 5, 8)], 0, 0),
], ids=["mlp", "lstm", "transformer"])
def test_per_slice_on_cuda(build, args, in_dim, out_dims):
    torch.manual_seed(30)
    masked = wrap(build().to(CUDA), in_dims=in_dim, out_dims=out_dims)
    check_per_slice(masked, [a.to(CUDA) for a in args()], in_dim=in_dim, out_dims=out_dims, atol=1e-4)


def test_gradient_on_cuda_matches_the_cpu_formula():
    shapes = [(64, 32), (32,)]
    g = torch.Generator().manual_seed(31)
    weights = [torch.randn(s, generator=g).to(CUDA) for s in shapes]
    logits = [torch.randn(s, generator=g).to(CUDA).requires_grad_() for s in shapes]
    n, seed = 4, 5
    outs = wm.masked_weight_samples_many(weights, logits, n=n, seed=seed)
    keeps = gumbel.sample_keep_many(logits, n, seed)
    assert all(torch.equal(o[k], w * kp[k]) for o, w, kp in zip(outs, weights, keeps) for k in range(n))
    sum(o.sum() for out in outs for o in out).backward()
    flat = torch.cat([l.detach().reshape(-1) for l in logits])
    u = gumbel._torch_uniforms(seed, n, flat)
    s = torch.sigmoid(flat + torch.logit(u)).split([l.numel() for l in logits], dim=1)
    for i, sh in enumerate(shapes):
        ds = s[i].view(n, *sh)
        torch.testing.assert_close(logits[i].grad, weights[i] * (ds * (1 - ds)).sum(0))


def test_graphed_step_matches_eager_steps():
    from weightmask.step import TrainStep
    g = torch.Generator().manual_seed(32)
    w0 = torch.randn(4, 3, generator=g)
    x, y = torch.randn(16, 3, generator=g).to(CUDA), torch.randn(16, 4, generator=g).to(CUDA)
    results = []
    for graph in (False, True):
        w = torch.nn.Parameter(w0.clone().to(CUDA))
        step = TrainStep(lambda b: (((b[0] @ w.T - b[1]) ** 2).mean(), {}), [w],
                         torch.optim.Adam([w], lr=0.1, capturable=True), clip=1.0, graph=graph)
        losses = [float(step((x, y))[0]) for _ in range(5)]
        assert step.graph == graph  # captured, not fallen back
        results.append((w.detach().cpu(), losses))
    torch.testing.assert_close(results[0][0], results[1][0])
    assert results[0][1] == pytest.approx(results[1][1], rel=1e-5)


def test_graphed_mask_training_draws_fresh_samples_and_learns():
    torch.manual_seed(33)
    net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 2)).to(CUDA)
    x = torch.randn(256, 8, device=CUDA)
    y = (x[:, 0] > 0).long()
    batches = [(x[i:i + 64], y[i:i + 64]) for i in range(0, 256, 64)]
    loss = lambda m, b: torch.nn.functional.cross_entropy(m(b[0]), b[1])
    wm.train_weights(net, batches, loss, steps=200, progress=False)
    log = []
    mask = wm.train_mask(net, batches, loss, steps=300, alpha=1e-3, graph=True, eval_fn=lambda m: {
        "acc": wm.accuracy(m(x), y)}, eval_every=100, log=log, progress=False)
    assert log[-1]["acc"] > 0.9 and mask.density() < 0.9  # learned, and pruned
    # the same batch twice under the captured step: different mask samples, different losses
    masked = wm.MaskedModel(net)
    from weightmask.step import TrainStep
    opt = torch.optim.Adam(masked.parameters(), lr=1e-2, capturable=True)
    step = TrainStep(lambda b: (loss(masked, b), {}), list(masked.parameters()), opt, graph=True)
    a, b = float(step(batches[0])[0]), float(step(batches[0])[0])
    assert step.graph and a != b


def test_a_loss_that_synchronises_falls_back_to_eager_with_a_warning():
    from weightmask.step import TrainStep
    w = torch.nn.Parameter(torch.ones(3, device=CUDA))
    x = torch.randn(8, 3, device=CUDA)

    def syncing(b):
        loss = (b @ w).pow(2).mean()
        return loss * float(loss.item() > -1), {}  # .item() cannot be captured

    step = TrainStep(syncing, [w], torch.optim.Adam([w], lr=0.1, capturable=True), graph=True)
    with pytest.warns(RuntimeWarning, match="could not be captured"):
        first = float(step(x)[0])
    assert not step.graph
    assert float(step(x)[0]) < first  # the eager step still trains
