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
