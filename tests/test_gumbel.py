"""The mask math: Gumbel-sigmoid samples, their mean, the straight-through gradient, and
the fused multi-sample path ``masked_weight_samples`` (numba kernels for float32 CPU,
eager PyTorch for other dtypes)."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import weightmask as wm
from weightmask import _cpu_kernels, gumbel
from weightmask.gumbel import sample_keep

LOGIT_VALUES = [-3.0, -1.5, -0.5, 0.0, 0.5, 1.5, 3.0]


def _gen(seed):
    g = torch.Generator()
    g.manual_seed(seed)
    return g


def _assert_mean_is_sigmoid(samples, logits, n_per_logit):
    """``samples``: [..., len(logits)] 0/1 values; 5-sigma binomial tolerance per logit."""
    p = torch.sigmoid(torch.as_tensor(logits, dtype=torch.float64))
    mean = samples.reshape(-1, len(logits)).double().mean(0)
    tol = 5 * torch.sqrt(p * (1 - p) / n_per_logit)
    assert torch.all((mean - p).abs() <= tol), f"means {mean.tolist()} vs sigmoid {p.tolist()}"


# -- gumbel_sigmoid ------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_hard_sample_is_exactly_binary(dtype):
    logits = torch.linspace(-4, 4, 2001, dtype=dtype)
    for tau in (0.1, 1.0, 5.0):
        b = wm.gumbel_sigmoid(logits, tau=tau, hard=True, generator=_gen(1))
        assert b.shape == logits.shape and b.dtype == dtype
        assert torch.all((b == 0) | (b == 1))
        assert 0 < b.sum() < b.numel()  # both values occur


def test_soft_sample_is_strictly_inside_unit_interval():
    logits = torch.linspace(-3, 3, 5001, dtype=torch.float64)
    s = wm.gumbel_sigmoid(logits, tau=1.0, hard=False, generator=_gen(2))
    assert s.shape == logits.shape
    assert torch.all((s > 0) & (s < 1))
    assert not torch.all((s == 0) | (s == 1))
    assert len(torch.unique(s)) > 4000  # really continuous, not binarised


@pytest.mark.parametrize("tau", [0.1, 1.0, 5.0])
def test_hard_sample_mean_is_sigmoid_of_logit_for_every_tau(tau):
    n = 40_000
    logits = torch.tensor(LOGIT_VALUES).expand(n, -1).contiguous()
    b = wm.gumbel_sigmoid(logits, tau=tau, hard=True, generator=_gen(3))
    _assert_mean_is_sigmoid(b, LOGIT_VALUES, n)


def test_soft_sample_mean_depends_on_tau_but_hard_does_not():
    # sanity check that the tau-invariance above is not trivial: the relaxed sample's mean moves
    n = 40_000
    logits = torch.full((n,), 2.0)
    soft_cold = wm.gumbel_sigmoid(logits, tau=0.1, hard=False, generator=_gen(4)).mean()
    soft_hot = wm.gumbel_sigmoid(logits, tau=5.0, hard=False, generator=_gen(4)).mean()
    assert soft_cold - soft_hot > 0.2


@pytest.mark.parametrize("tau", [0.5, 1.0, 3.0])
def test_straight_through_gradient_is_soft_sample_gradient(tau):
    shape = (50, 40)
    logits = (torch.randn(shape, generator=_gen(5)) * 2).requires_grad_()
    upstream = torch.randn(shape, generator=_gen(6))
    b = wm.gumbel_sigmoid(logits, tau=tau, hard=True, generator=_gen(7))
    b.backward(upstream)

    u = torch.rand(shape, generator=_gen(7))  # the same uniforms
    s = torch.sigmoid((logits.detach() + torch.logit(u)) / tau)
    assert torch.equal(b.detach(), (s > 0.5).float())
    torch.testing.assert_close(logits.grad, upstream * s * (1 - s) / tau, rtol=1e-5, atol=1e-7)

    # and it is exactly what autograd gives for the relaxed sample itself
    l2 = logits.detach().clone().requires_grad_()
    wm.gumbel_sigmoid(l2, tau=tau, hard=False, generator=_gen(7)).backward(upstream)
    torch.testing.assert_close(logits.grad, l2.grad, rtol=1e-6, atol=0)


def test_global_seed_fixes_samples_and_gradient():
    logits = torch.randn(30, generator=_gen(8)).requires_grad_()
    torch.manual_seed(11)
    b = wm.gumbel_sigmoid(logits, tau=0.7)
    b.sum().backward()
    torch.manual_seed(11)
    u = torch.rand(30)
    s = torch.sigmoid((logits.detach() + torch.logit(u)) / 0.7)
    assert torch.equal(b.detach(), (s > 0.5).float())
    torch.testing.assert_close(logits.grad, s * (1 - s) / 0.7)


@pytest.mark.parametrize("tau", [0, -1.0, float("nan")])
def test_bad_tau_raises(tau):
    with pytest.raises(ValueError, match="tau"):
        wm.gumbel_sigmoid(torch.zeros(3), tau=tau)
    with pytest.raises(ValueError, match="tau"):
        wm.masked_weight_samples(torch.ones(3), torch.zeros(3), n=2, tau=tau, seed=0)


# -- masked_weight_samples -----------------------------------------------------------------

PATHS = {"fused": torch.float32, "torch": torch.float64}


def _setup(dtype, shape=(37, 53), seed=0):
    g = _gen(seed)
    weight = torch.randn(shape, generator=g).to(dtype)
    logits = (torch.randn(shape, generator=g) * 2).to(dtype).requires_grad_()
    return weight, logits


def _reference_uniforms(path, seed, n, logits):
    """The uniforms that the given path draws for ``seed``: [n, *logits.shape], float64."""
    if path == "fused":
        u = [torch.from_numpy(_cpu_kernels.uniforms(np.uint64(seed), k, logits.numel()))
             for k in range(n)]
        return torch.stack(u).view(n, *logits.shape).double()
    g = _gen(seed)
    return torch.rand((n, *logits.shape), generator=g, dtype=logits.dtype).double()


@pytest.mark.parametrize("path", PATHS)
def test_samples_are_weight_times_sample_keep(path):
    weight, logits = _setup(PATHS[path])
    n, seed = 4, 12345
    outs = wm.masked_weight_samples(weight, logits, n=n, tau=1.0, seed=seed)
    keep = sample_keep(logits, n, seed)
    assert len(outs) == n and keep.shape == (n, *weight.shape) and keep.dtype == torch.bool
    for k in range(n):
        assert outs[k].dtype == weight.dtype and outs[k].shape == weight.shape
        assert torch.equal(outs[k], weight * keep[k])
    # the samples are Bernoulli draws from the documented uniforms: keep = u > sigmoid(-l)
    u = _reference_uniforms(path, seed, n, logits)
    q = torch.sigmoid(-logits.detach()).double()
    assert torch.equal(keep, u > q)
    # the samples differ from each other
    assert not torch.equal(keep[0], keep[1])


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_logit_gradient_matches_reference(path, tau):
    dtype = PATHS[path]
    weight, logits = _setup(dtype, seed=1)
    n, seed = 4, 987654321
    upstream = [torch.randn(weight.shape, generator=_gen(100 + k)).to(dtype) for k in range(n)]
    outs = wm.masked_weight_samples(weight, logits, n=n, tau=tau, seed=seed)
    torch.autograd.backward(outs, upstream)

    u = _reference_uniforms(path, seed, n, logits)
    l64 = logits.detach().double()
    s = torch.sigmoid((l64 + torch.logit(u)) / tau)
    expected = weight.double() * sum(upstream[k].double() * s[k] * (1 - s[k]) / tau for k in range(n))
    assert logits.grad.dtype == dtype
    scale = expected.abs().max()
    torch.testing.assert_close(logits.grad.double(), expected, rtol=1e-4, atol=1e-5 * scale)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_logit_gradient_with_samples_that_do_not_reach_the_loss(path, tau):
    dtype = PATHS[path]
    weight, logits = _setup(dtype, seed=2)
    n, seed = 4, 42
    outs = wm.masked_weight_samples(weight, logits, n=n, tau=tau, seed=seed)
    (outs[0].sum() + 3 * outs[2].sum()).backward()  # samples 1 and 3 get no gradient

    u = _reference_uniforms(path, seed, n, logits)
    s = torch.sigmoid((logits.detach().double() + torch.logit(u)) / tau)
    ds = s * (1 - s) / tau
    expected = weight.double() * (ds[0] + 3 * ds[2])
    torch.testing.assert_close(logits.grad.double(), expected, rtol=1e-4,
                               atol=1e-5 * expected.abs().max())


@pytest.mark.parametrize("path", PATHS)
def test_sample_mean_is_sigmoid_of_logit(path):
    dtype = PATHS[path]
    cols, n = 3000, 8
    logits = torch.tensor(LOGIT_VALUES, dtype=dtype).expand(cols, -1).contiguous()
    for tau in (0.5, 1.0):
        outs = wm.masked_weight_samples(torch.ones_like(logits), logits, n=n, tau=tau, seed=77)
        b = torch.stack(outs)
        assert torch.all((b == 0) | (b == 1))
        _assert_mean_is_sigmoid(b, LOGIT_VALUES, cols * n)


@pytest.mark.parametrize("path", PATHS)
def test_seed_determines_samples(path):
    weight, logits = _setup(PATHS[path], seed=4)
    a = wm.masked_weight_samples(weight, logits, n=4, seed=1)
    b = wm.masked_weight_samples(weight, logits, n=4, seed=1)
    c = wm.masked_weight_samples(weight, logits, n=4, seed=2)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not any(torch.equal(x, z) for x, z in zip(a, c))
    # without a seed, the global torch generator decides
    torch.manual_seed(3)
    d = wm.masked_weight_samples(weight, logits, n=4)
    torch.manual_seed(3)
    e = wm.masked_weight_samples(weight, logits, n=4)
    f = wm.masked_weight_samples(weight, logits, n=4)
    assert all(torch.equal(x, y) for x, y in zip(d, e))
    assert not all(torch.equal(x, y) for x, y in zip(e, f))


def test_sample_keep_rate_is_sigmoid_of_logit_on_both_paths():
    # different generators (numba counter-based, torch Philox/MT), same law
    cols, n = 3000, 8
    for dtype in PATHS.values():
        logits = torch.tensor(LOGIT_VALUES, dtype=dtype).expand(cols, -1).contiguous()
        keep = sample_keep(logits, n, seed=9)
        _assert_mean_is_sigmoid(keep, LOGIT_VALUES, cols * n)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        wm.masked_weight_samples(torch.ones(3, 4), torch.zeros(4, 3), n=2, seed=0)


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_fused_kernels_on_a_large_ragged_tensor(tau):
    # large enough to be split across threads and vector lanes, with a ragged remainder
    n_el = 3 * 16384 + 1234
    weight = torch.randn(n_el, generator=_gen(20))
    logits = torch.randn(n_el, generator=_gen(21)).requires_grad_()
    n, seed = 3, 2024
    upstream = [torch.randn(n_el, generator=_gen(30 + k)) for k in range(n)]
    outs = wm.masked_weight_samples(weight, logits, n=n, tau=tau, seed=seed)
    torch.autograd.backward(outs, upstream)
    u = _reference_uniforms("fused", seed, n, logits)
    keep = u > torch.sigmoid(-logits.detach()).double()
    assert torch.equal(torch.stack(outs), weight * keep)
    assert torch.equal(sample_keep(logits, n, seed), keep)
    s = torch.sigmoid((logits.detach().double() + torch.logit(u)) / tau)
    expected = weight.double() * sum(upstream[k].double() * s[k] * (1 - s[k]) / tau for k in range(n))
    torch.testing.assert_close(logits.grad.double(), expected, rtol=1e-4,
                               atol=1e-5 * expected.abs().max())


@pytest.mark.parametrize("logit_dtype,weight_dtype", [(torch.float32, torch.float64),
                                                      (torch.float64, torch.float32)])
def test_mixed_dtypes_sample_like_sample_keep(logit_dtype, weight_dtype):
    # the generator follows the logits (as in sample_keep), whatever the weight's dtype
    path = "fused" if logit_dtype == torch.float32 else "torch"
    weight = torch.randn(20, 30, generator=_gen(40)).to(weight_dtype)
    logits = torch.randn(20, 30, generator=_gen(41)).to(logit_dtype).requires_grad_()
    n, seed, tau = 4, 555, 0.5
    outs = wm.masked_weight_samples(weight, logits, n=n, tau=tau, seed=seed)
    keep = sample_keep(logits, n, seed)
    assert all(o.dtype == weight_dtype and torch.equal(o, weight * keep[k]) for k, o in enumerate(outs))
    upstream = [torch.randn(20, 30, generator=_gen(50 + k)).to(weight_dtype) for k in range(n)]
    torch.autograd.backward(outs, upstream)
    assert logits.grad.dtype == logit_dtype
    u = _reference_uniforms(path, seed, n, logits)
    s = torch.sigmoid((logits.detach().double() + torch.logit(u)) / tau)
    expected = weight.double() * sum(upstream[k].double() * s[k] * (1 - s[k]) / tau for k in range(n))
    torch.testing.assert_close(logits.grad.double(), expected, rtol=1e-4,
                               atol=1e-5 * expected.abs().max())


def test_many_equals_single_per_tensor_and_sample_keep_many():
    shapes = [(7, 5), (5,), (3, 2, 4)]
    for dtype in PATHS.values():
        weights = [torch.randn(s, generator=_gen(60 + i)).to(dtype) for i, s in enumerate(shapes)]
        logits = [torch.randn(s, generator=_gen(70 + i)).to(dtype).requires_grad_() for i, s in enumerate(shapes)]
        n, seed, tau = 3, 99, 1.0
        outs = wm.masked_weight_samples_many(weights, logits, n=n, tau=tau, seed=seed)
        keeps = gumbel.sample_keep_many(logits, n, seed)
        for w, o, k in zip(weights, outs, keeps):
            assert len(o) == n and all(torch.equal(o[j], w * k[j]) for j in range(n))
        # the first tensor keeps the seed; on the fused path it is sampled alone, as by itself
        single = wm.masked_weight_samples(weights[0], logits[0], n=n, tau=tau, seed=seed)
        same = all(torch.equal(a, b) for a, b in zip(single, outs[0]))
        assert same == (dtype == PATHS["fused"])


def test_many_gradient_matches_reference_on_the_grouped_path():
    shapes = [(6, 4), (4,)]
    weights = [torch.randn(s, generator=_gen(80 + i), dtype=torch.float64) for i, s in enumerate(shapes)]
    logits = [torch.randn(s, generator=_gen(90 + i), dtype=torch.float64).requires_grad_()
              for i, s in enumerate(shapes)]
    n, seed, tau = 4, 7, 0.5
    outs = wm.masked_weight_samples_many(weights, logits, n=n, tau=tau, seed=seed)
    up = [[torch.randn(s, generator=_gen(100 + 10 * i + k), dtype=torch.float64) for k in range(n)]
          for i, s in enumerate(shapes)]
    # sample 1 of tensor 0 does not reach the loss: its gradient is None in the backward
    loss = sum((outs[i][k] * up[i][k]).sum() for i in range(2) for k in range(n) if (i, k) != (0, 1))
    loss.backward()
    flat = torch.cat([l.detach().reshape(-1) for l in logits])
    u = torch.rand((n, flat.numel()), generator=_gen(seed), dtype=torch.float64)
    s = torch.sigmoid((flat + torch.logit(u)) / tau).split([l.numel() for l in logits], dim=1)
    for i in range(2):
        ds = s[i].view(n, *shapes[i])
        expected = weights[i] * sum(up[i][k] * ds[k] * (1 - ds[k]) / tau for k in range(n) if (i, k) != (0, 1))
        torch.testing.assert_close(logits[i].grad, expected)


def test_many_rejects_mismatched_lists():
    with pytest.raises(ValueError, match="2 weights but 1 logits"):
        wm.masked_weight_samples_many([torch.ones(2), torch.ones(2)], [torch.zeros(2)], n=1, seed=0)


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="one core: every thread count is 1 anyway")
def test_kernels_use_as_many_threads_as_torch():
    """With OMP_NUM_THREADS=1 a masked step leaves both PyTorch and numba on one thread (numba's
    default pool of every core shares PyTorch's OpenMP runtime and would raise both)."""
    script = ("import torch, weightmask as wm, numba\n"
              "m = wm.MaskedModel(torch.nn.Linear(64, 64), n_samples=2)\n"
              "m(torch.randn(8, 64)).sum().backward()\n"
              "print(torch.get_num_threads(), numba.get_num_threads())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_NUM_THREADS"} | {"OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]


@pytest.mark.parametrize("path", sorted(PATHS))
def test_trained_weights_get_the_gradient_through_their_masks(path):
    """Continual learning trains weights and logits together: d/dw sum_k <g_k, w b_k> = sum_k g_k b_k,
    and the logits' gradient is the same as with a frozen weight."""
    dtype = PATHS[path]
    shapes = [(5, 3), (3,)]
    n, seed = 3, 11
    logits = [torch.randn(s, generator=_gen(120 + i)).to(dtype) for i, s in enumerate(shapes)]
    weights = [torch.randn(s, generator=_gen(130 + i)).to(dtype) for i, s in enumerate(shapes)]
    up = [[torch.randn(s, generator=_gen(140 + 10 * i + k)).to(dtype) for k in range(n)]
          for i, s in enumerate(shapes)]
    grads = {}
    for trained in (False, True):
        l = [t.clone().requires_grad_() for t in logits]
        w = [t.clone().requires_grad_(trained) for t in weights]
        outs = wm.masked_weight_samples_many(w, l, n=n, seed=seed)
        sum((outs[i][k] * up[i][k]).sum() for i in range(2) for k in range(n)).backward()
        grads[trained] = [t.grad for t in l], [t.grad for t in w]
    keeps = gumbel.sample_keep_many(logits, n, seed)
    for i in range(2):
        expected = sum(up[i][k] * keeps[i][k] for k in range(n))
        torch.testing.assert_close(grads[True][1][i], expected)
        torch.testing.assert_close(grads[True][0][i], grads[False][0][i])
        assert grads[False][1][i] is None
