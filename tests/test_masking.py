"""``MaskedModel`` on every layer type: per-slice sampling, frozen weights, fixed masks, errors."""

import copy
import warnings

import pytest
import torch
from torch import nn
from torch.utils import _pytree as pytree

import weightmask as wm
from weightmask import Mask, MaskedModel, UnsupportedLayerError

K = 4


def _leaves_and_dims(out, out_dims):
    leaves = pytree.tree_leaves(out)
    if isinstance(out_dims, int):
        return leaves, [out_dims] * len(leaves)
    dims = pytree.tree_leaves(out_dims)
    assert len(dims) == len(leaves)
    return leaves, dims


def check_per_slice(masked, args, kwargs=None, in_dim=0, out_dims=0, seed=0, atol=1e-5):
    """The batched forward with K samples equals, slice by slice, a run under ``fixed(sample k)``."""
    kwargs = kwargs or {}
    k = masked.n_samples
    torch.manual_seed(seed)
    out = masked(*args, **kwargs)
    torch.manual_seed(seed)
    masks = masked.sample()
    assert len(masks) == k
    assert all(isinstance(m, Mask) and list(m) == masked.names for m in masks)
    assert any(masks[i] != masks[0] for i in range(1, k)), "the K samples should differ"
    leaves, dims = _leaves_and_dims(out, out_dims)
    slices = [[a.chunk(k, dim=in_dim)[i] if isinstance(a, torch.Tensor) else a for a in args]
              for i in range(k)]
    for i in range(k):
        with masked.fixed(masks[i]):
            ref = masked(*slices[i], **kwargs)
        ref_leaves, _ = _leaves_and_dims(ref, out_dims)
        assert len(ref_leaves) == len(leaves)
        for leaf, r, d in zip(leaves, ref_leaves, dims):
            torch.testing.assert_close(leaf.chunk(k, dim=d)[i], r, atol=atol, rtol=1e-5)
    # sensitivity: slice 0 under another sample's mask gives a different result
    differing = [i for i in range(1, k) if masks[i] != masks[0]]
    with masked.fixed(masks[differing[0]]):
        other = pytree.tree_leaves(masked(*slices[0], **kwargs))
    assert any(not torch.allclose(leaf.chunk(k, dim=d)[0], o, atol=atol)
               for leaf, o, d in zip(leaves, other, dims))
    return out, masks


def wrap(model, **kw):
    kw.setdefault("n_samples", K)
    kw.setdefault("init_prob", 0.5)  # samples differ a lot: the per-slice check is sharp
    return MaskedModel(model, **kw)


# -- every layer type ----------------------------------------------------------------------

def test_linear_mlp():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))
    masked = wrap(model)
    assert masked.names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    out, _ = check_per_slice(masked, [torch.randn(8, 5)])
    assert out.shape == (8, 3)


def test_conv1d():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv1d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6, 2))
    check_per_slice(wrap(model), [torch.randn(8, 2, 8)])


def test_conv2d():
    torch.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.ReLU(), nn.Conv2d(3, 2, 2))
    check_per_slice(wrap(model), [torch.randn(8, 2, 5, 5)])


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("dim", [1, 2])
def test_batchnorm(dim, train):
    torch.manual_seed(3)
    if dim == 1:
        model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
        x = torch.randn(12, 4)
    else:
        model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU())
        x = torch.randn(12, 2, 5, 5)
    with torch.no_grad():  # non-trivial running statistics for eval mode
        for _ in range(3):
            model(torch.randn_like(x) * 2 + 1)
    model.train(train)
    masked = wrap(model)
    assert masked.model.training == train
    bn = model[1]
    assert "1.weight" in masked.names and "1.bias" in masked.names
    stats = bn.running_mean.clone()
    check_per_slice(masked, [x])
    if train:  # batch statistics are per slice; running statistics keep being tracked
        assert not torch.equal(bn.running_mean, stats)
    else:
        assert torch.equal(bn.running_mean, stats)


def test_layernorm():
    torch.manual_seed(4)
    model = nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6), nn.Linear(6, 3))
    masked = wrap(model)
    assert "1.weight" in masked.names and "1.bias" in masked.names
    check_per_slice(masked, [torch.randn(8, 4)])


class EmbNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.out = nn.Linear(4, 3)

    def forward(self, idx):
        return self.out(self.emb(idx))


@pytest.mark.parametrize("exclude", [None, ["*emb*"], "emb.*"])
def test_embedding(exclude):
    torch.manual_seed(5)
    model = EmbNet()
    masked = wrap(model, exclude=exclude)
    if exclude is None:
        assert masked.names == ["emb.weight", "out.weight", "out.bias"]
    else:
        assert masked.names == ["out.weight", "out.bias"]
        assert all(m.shape != (10, 4) for m in masked.parameters())
    assert len(list(masked.parameters())) == len(masked.names)
    check_per_slice(masked, [torch.randint(0, 10, (8, 6))])


def test_embedding_alone():
    torch.manual_seed(6)
    check_per_slice(wrap(nn.Embedding(10, 4)), [torch.randint(0, 10, (8, 6))])


def test_lstm_time_major():
    torch.manual_seed(7)
    model = nn.LSTM(3, 5, num_layers=2)
    masked = wrap(model, in_dims=1, out_dims=(1, (1, 1)))
    assert len(masked.names) == 8
    x = torch.randn(6, 8, 3)  # [time, batch, features]
    out, _ = check_per_slice(masked, [x], in_dim=1, out_dims=(1, (1, 1)))
    y, (h, c) = out
    assert y.shape == (6, 8, 5) and h.shape == (2, 8, 5) and c.shape == (2, 8, 5)


def test_gru_batch_first():
    torch.manual_seed(8)
    model = nn.GRU(3, 5, batch_first=True)
    # the output is batch-first; the hidden state is [layers, batch, hidden] regardless
    masked = wrap(model, out_dims=(0, 1))
    out, _ = check_per_slice(masked, [torch.randn(8, 6, 3)], out_dims=(0, 1))
    assert out[0].shape == (8, 6, 5) and out[1].shape == (1, 8, 5)


def test_multihead_attention():
    torch.manual_seed(9)
    model = nn.MultiheadAttention(8, 2, batch_first=True)
    masked = wrap(model)
    assert "in_proj_weight" in masked.names and "out_proj.weight" in masked.names
    q, k, v = torch.randn(8, 5, 8), torch.randn(8, 7, 8), torch.randn(8, 7, 8)
    out, _ = check_per_slice(masked, [q, k, v])
    assert out[0].shape == (8, 5, 8) and out[1].shape == (8, 5, 7)


@pytest.mark.parametrize("train", [True, False])
def test_transformer_encoder(train):
    torch.manual_seed(10)
    layer = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor notice
        model = nn.TransformerEncoder(layer, 2)
    model.train(train)
    check_per_slice(wrap(model), [torch.randn(8, 5, 8)])


def test_transformer_with_causal_mask_kwarg():
    torch.manual_seed(11)
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    masked = wrap(model)
    src, tgt = torch.randn(8, 5, 8), torch.randn(8, 4, 8)
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    out, masks = check_per_slice(masked, [src, tgt], {"tgt_mask": causal})
    assert out.shape == (8, 4, 8)
    # the whole [T, T] mask reached every slice: outputs before position 3 ignore tgt[:, 3]
    tgt2 = tgt.clone()
    tgt2[:, 3] += 5
    torch.manual_seed(0)
    out2 = masked(src, tgt2, tgt_mask=causal)
    torch.testing.assert_close(out2[:, :3], out[:, :3], atol=1e-5, rtol=1e-5)
    assert not torch.allclose(out2[:, 3], out[:, 3], atol=1e-3)
    torch.manual_seed(0)
    assert not torch.allclose(masked(src, tgt), out, atol=1e-3)  # the mask matters


# -- frozen weights, logits, regularizer ----------------------------------------------------

def _mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3))


def test_model_is_frozen_and_only_logits_are_trained():
    model = _mlp()
    before = copy.deepcopy(model.state_dict())
    masked = MaskedModel(model, n_samples=K, init_prob=0.9)
    assert all(not p.requires_grad for p in model.parameters())
    params = list(masked.parameters())
    assert len(params) == len(masked.names) == 4
    assert all(any(p is l for l in masked.logits) for p in params)
    assert [n for n, _ in masked.named_parameters()] == masked.names
    assert all(p.requires_grad for p in params)
    logits0 = [p.detach().clone() for p in params]

    opt = torch.optim.Adam(masked.parameters(), lr=0.1)
    x, y = torch.randn(16, 5), torch.randn(16, 3)
    for _ in range(5):
        opt.zero_grad()
        loss = (masked(x) - y).pow(2).mean() + 1e-3 * masked.regularizer()
        loss.backward()
        opt.step()
    after = model.state_dict()
    assert all(torch.equal(before[n], after[n]) for n in before)
    assert all(p.grad is None for p in model.parameters())
    assert all(not torch.equal(a, p) for a, p in zip(logits0, masked.parameters()))


def test_regularizer_is_sum_of_logits():
    masked = MaskedModel(_mlp(), n_samples=2)
    with torch.no_grad():
        for l in masked.logits:
            l.copy_(torch.randn_like(l))
    expected = sum(l.detach().double().sum() for l in masked.logits)
    r = masked.regularizer()
    assert r.dim() == 0
    torch.testing.assert_close(r.double(), expected, rtol=1e-6, atol=1e-5)
    r.backward()
    assert all(torch.equal(l.grad, torch.ones_like(l)) for l in masked.logits)


def test_mask_is_sigmoid_above_half():
    masked = MaskedModel(_mlp(), n_samples=2)
    with torch.no_grad():
        for l in masked.logits:
            l.copy_(torch.randn_like(l))
        masked.logits[0][0, :3] = 0.0  # sigmoid(0) = 0.5 is not > 0.5
    mask = masked.mask()
    assert isinstance(mask, Mask) and list(mask) == masked.names
    for n, l in zip(masked.names, masked.logits):
        assert mask[n].dtype == torch.bool
        assert torch.equal(mask[n], torch.sigmoid(l.detach()) > 0.5)
    assert not mask["0.weight"][0, :3].any()
    assert 0 < mask.density() < 1


@pytest.mark.parametrize("p", [0.05, 0.5, 0.9, 0.99])
def test_init_prob_sets_keep_probability(p):
    masked = MaskedModel(_mlp(), init_prob=p)
    weights = dict(masked.model.named_parameters())
    for n, l in zip(masked.names, masked.logits):
        assert l.shape == weights[n].shape and l.dtype == weights[n].dtype
        torch.testing.assert_close(torch.sigmoid(l.detach()), torch.full_like(l, p))
    for pr in masked.probabilities().values():
        torch.testing.assert_close(pr, torch.full_like(pr, p))


def test_sample_keep_rate_follows_logits():
    masked = MaskedModel(nn.Linear(100, 100), n_samples=K, init_prob=0.7)
    torch.manual_seed(0)
    masks = masked.sample(8)
    density = sum(m.density() for m in masks) / 8
    n = 8 * masks[0].total()
    assert abs(density - 0.7) < 5 * (0.7 * 0.3 / n) ** 0.5


# -- fixed masks ---------------------------------------------------------------------------

def _random_mask(masked, seed, p=0.5):
    g = torch.Generator().manual_seed(seed)
    return Mask({n: torch.rand(l.shape, generator=g) < p for n, l in zip(masked.names, masked.logits)})


def _apply(model, mask):
    ref = copy.deepcopy(model)
    with torch.no_grad():
        for n, p in ref.named_parameters():
            if n in mask:
                p.mul_(mask[n].to(p.dtype))
    return ref


def test_fixed_full_mask_is_deterministic_and_multiplies_weights():
    model = _mlp(1)
    masked = MaskedModel(model, n_samples=K)
    mask = _random_mask(masked, 0)
    x = torch.randn(8, 5)
    with masked.fixed(mask):
        a = masked(x)
        torch.manual_seed(123)
        b = masked(x)
        c = masked(x[:3])  # no split needed: any batch size works
    assert torch.equal(a, b)
    torch.testing.assert_close(a, _apply(model, mask)(x))
    torch.testing.assert_close(c, _apply(model, mask)(x[:3]))
    with masked.fixed(~mask):
        inv = masked(x)
    torch.testing.assert_close(inv, _apply(model, ~mask)(x))
    assert not torch.allclose(inv, a)
    # a Mask is what .mask() returns; fixed accepts it too
    with masked.fixed(masked.mask()):
        torch.testing.assert_close(masked(x), _apply(model, masked.mask())(x))


def test_fixed_full_mask_on_recurrent_model():
    torch.manual_seed(2)
    model = nn.GRU(3, 4, batch_first=True)
    masked = MaskedModel(model, n_samples=K, out_dims=(0, 1))
    mask = _random_mask(masked, 1)
    x = torch.randn(4, 5, 3)
    with masked.fixed(mask):
        out, h = masked(x)
    ref_out, ref_h = _apply(model, mask)(x)
    torch.testing.assert_close(out, ref_out)
    torch.testing.assert_close(h, ref_h)


def test_partial_fixed_mask_keeps_sampling_the_rest():
    model = _mlp(3)
    masked = wrap(model)
    part = _random_mask(masked, 2).select(["0.weight", "0.bias"])
    x = torch.randn(8, 5)
    with masked.fixed(part):
        out, masks = check_per_slice(masked, [x], seed=5)
        for m in masks:
            assert torch.equal(m["0.weight"], part["0.weight"])
            assert torch.equal(m["0.bias"], part["0.bias"])
        assert not torch.equal(masks[0]["2.weight"], masks[1]["2.weight"])
        torch.manual_seed(6)
        assert not torch.allclose(masked(x), out)  # still random
    torch.manual_seed(5)
    assert not torch.allclose(masked(x), out)  # the fixed part mattered


def test_nested_fixed_restores_state():
    model = _mlp(4)
    masked = MaskedModel(model, n_samples=K)
    outer = _random_mask(masked, 3)
    inner = _random_mask(masked, 4).select(["2.weight"])
    x = torch.randn(8, 5)
    torch.manual_seed(9)
    sampled = masked(x)
    with masked.fixed(outer):
        a = masked(x)
        with masked.fixed(inner):
            b = masked(x)
        torch.testing.assert_close(masked(x), a)
    torch.testing.assert_close(a, _apply(model, outer)(x))
    torch.testing.assert_close(b, _apply(model, outer.replace(inner))(x))
    torch.manual_seed(9)
    torch.testing.assert_close(masked(x), sampled)  # sampling again, as before
    # restored after an exception too
    with pytest.raises(RuntimeError, match="boom"):
        with masked.fixed(outer):
            raise RuntimeError("boom")
    torch.manual_seed(9)
    torch.testing.assert_close(masked(x), sampled)


# -- errors ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_bad_n_samples(n):
    with pytest.raises(ValueError, match=r"n_samples must be an integer >= 1, got"):
        MaskedModel(_mlp(), n_samples=n)
    masked = MaskedModel(_mlp(), n_samples=2)
    with pytest.raises(ValueError, match="n_samples"):
        masked.n_samples = n
    assert masked.n_samples == 2


def test_batch_not_divisible_by_n_samples():
    masked = MaskedModel(_mlp(), n_samples=3)
    with pytest.raises(ValueError, match=r"n_samples=3 must divide the batch size.*8"):
        masked(torch.randn(8, 5))
    assert masked(torch.randn(9, 5)).shape == (9, 3)


@pytest.mark.parametrize("p", [0, 1, 1.5, -0.2])
def test_bad_init_prob(p):
    with pytest.raises(ValueError, match=r"init_prob must be in the open interval \(0, 1\)"):
        MaskedModel(_mlp(), init_prob=p)


@pytest.mark.parametrize("kind", ["include", "exclude"])
def test_pattern_matching_nothing_lists_parameters(kind):
    with pytest.raises(ValueError, match=rf"{kind} pattern '\*emb\*' matches no parameter.*"
                                         r"0\.weight.*0\.bias.*2\.weight.*2\.bias"):
        MaskedModel(_mlp(), **{kind: "*emb*"})


def test_include_exclude_select_parameters():
    masked = MaskedModel(_mlp(), include="*.weight")
    assert masked.names == ["0.weight", "2.weight"]
    masked = MaskedModel(_mlp(), exclude=["*.bias", "0.*"])
    assert masked.names == ["2.weight"]
    with pytest.raises(ValueError, match="leave no parameter"):
        MaskedModel(_mlp(), include="*.bias", exclude="*")


def test_lazy_layer_is_rejected():
    model = nn.Sequential(nn.Linear(3, 4), nn.LazyLinear(2))
    with pytest.raises(UnsupportedLayerError, match=r"LazyLinear at '1'.*uninitialized"):
        MaskedModel(model)
    model(torch.randn(2, 3))  # after a forward pass it is an ordinary Linear
    assert MaskedModel(model).names == ["0.weight", "0.bias", "1.weight", "1.bias"]


@pytest.mark.filterwarnings("ignore")
def test_quantized_layer_is_rejected():
    qlinear = torch.ao.nn.quantized.dynamic.Linear(3, 4)
    model = nn.Sequential(nn.Linear(2, 3), qlinear)
    with pytest.raises(UnsupportedLayerError, match=r"Linear at '1' cannot be masked: quantized"):
        MaskedModel(model)


def test_integer_parameter_is_rejected():
    model = nn.Linear(2, 2)
    model.register_parameter("steps", nn.Parameter(torch.zeros(3, dtype=torch.long), requires_grad=False))
    with pytest.raises(UnsupportedLayerError, match=r"Linear at '<root>'.*'steps'.*torch.int64"):
        MaskedModel(model)


def test_fixed_with_wrong_names_or_shapes():
    masked = MaskedModel(_mlp())
    with pytest.raises(ValueError, match=r"\['1\.weight'\] are not masked parameters.*0\.weight"):
        with masked.fixed({"1.weight": torch.ones(8, 5, dtype=torch.bool)}):
            pass
    with pytest.raises(ValueError, match=r"0\.weight: \(5, 8\) vs \(8, 5\)"):
        with masked.fixed({"0.weight": torch.ones(5, 8, dtype=torch.bool)}):
            pass
    other = MaskedModel(nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3)))
    with pytest.raises(ValueError, match="shapes do not match"):
        with masked.fixed(other.mask()):
            pass


def test_non_module_is_rejected():
    with pytest.raises(TypeError, match="nn.Module"):
        MaskedModel(lambda x: x)


# -- a model the library never saw ----------------------------------------------------------

def test_user_model_trains_a_mask(one_thread):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv1d(1, 8, 3), nn.BatchNorm1d(8), nn.ReLU(), nn.Flatten(),
                          nn.Linear(8 * 14, 2))
    x = torch.randn(256, 1, 16)
    y = (x[:, 0, :8].sum(1) > x[:, 0, 8:].sum(1)).long()  # which half has the larger sum
    masked = MaskedModel(model, n_samples=4, init_prob=0.9)

    def evaluate():
        model.eval()
        with torch.no_grad(), masked.fixed(masked.mask()):
            out = masked(x)
        model.train()
        return nn.functional.cross_entropy(out, y).item(), wm.accuracy(out, y)

    loss0, acc0 = evaluate()  # init_prob > 0.5: the deterministic mask keeps everything
    opt = torch.optim.Adam(masked.parameters(), lr=0.2)
    losses = []
    for _ in range(50):
        idx = torch.randint(0, 256, (32,))
        loss = nn.functional.cross_entropy(masked(x[idx]), y[idx])
        opt.zero_grad()
        (loss + 1e-5 * masked.regularizer()).backward()
        opt.step()
        losses.append(loss.item())
    first, last = sum(losses[:10]) / 10, sum(losses[-10:]) / 10
    assert last < 0.85 * first, (first, last)
    loss1, acc1 = evaluate()
    assert loss1 < loss0 - 0.1 and acc1 > acc0 + 0.1, (loss0, loss1, acc0, acc1)
    assert masked.mask().density() < 1


# -- the grouped path (all tensors as one flat tensor, as on a GPU) -------------------------

@pytest.mark.parametrize("build,args,in_dim,out_dims", [
    (lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)), lambda: [torch.randn(8, 5)], 0, 0),
    (lambda: nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU()),
     lambda: [torch.randn(8, 2, 5, 5)], 0, 0),
    (lambda: nn.LSTM(3, 5, num_layers=2), lambda: [torch.randn(6, 8, 3)], 1, (1, (1, 1))),
    (lambda: nn.MultiheadAttention(8, 2, batch_first=True),
     lambda: [torch.randn(8, 5, 8), torch.randn(8, 7, 8), torch.randn(8, 7, 8)], 0, 0),
], ids=["mlp", "conv-bn", "lstm", "attention"])
def test_grouped_path_per_slice(build, args, in_dim, out_dims):
    # float64 parameters take the grouped path: one flat tensor for all parameters, one seed
    torch.manual_seed(20)
    model = build().double()
    masked = wrap(model, in_dims=in_dim, out_dims=out_dims)
    check_per_slice(masked, [a.double() for a in args()], in_dim=in_dim, out_dims=out_dims)


def test_grouped_path_gradient_reaches_every_logit_and_respects_fixed():
    torch.manual_seed(21)
    model = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    masked = wrap(model)
    masked(torch.randn(8, 5, dtype=torch.float64)).sum().backward()
    assert all(l.grad is not None and l.grad.abs().sum() > 0 for l in masked.logits)
    for l in masked.logits:
        l.grad = None
    with masked.fixed({"0.weight": torch.ones(8, 5, dtype=torch.bool)}):
        masked(torch.randn(8, 5, dtype=torch.float64)).sum().backward()
    grads = dict(zip(masked.names, (l.grad for l in masked.logits)))
    assert grads["0.weight"] is None  # fixed: not sampled, no gradient
    assert all(grads[n].abs().sum() > 0 for n in ("0.bias", "2.weight", "2.bias"))


def test_tied_weights_are_masked_at_every_use():
    class Tied(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 4, bias=False)
            self.b = nn.Linear(4, 4, bias=False)
            self.b.weight = self.a.weight  # one tensor, two names

        def forward(self, x):
            return self.b(torch.relu(self.a(x)))

    torch.manual_seed(22)
    model = Tied()
    masked = MaskedModel(model, n_samples=1)
    assert masked.names == ["a.weight"]
    m = torch.rand(4, 4) < 0.5
    x = torch.randn(3, 4)
    w = model.a.weight.detach() * m
    with masked.fixed({"a.weight": m}):
        torch.testing.assert_close(masked(x), torch.relu(x @ w.T) @ w.T)


def test_module_under_two_names_is_left_intact():
    """A module registered twice (tied embeddings: ``tgt_embed = src_embed``) is swapped once per
    call, so its parameter is the model's own again afterwards."""
    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.src = nn.Linear(4, 4, bias=False)
            self.tgt = self.src  # the same module, two names

        def forward(self, x):
            return self.tgt(torch.relu(self.src(x)))

    model = Shared()
    own = model.src.weight
    masked = MaskedModel(model, n_samples=2)
    masked(torch.randn(4, 4))
    assert model.src.weight is own and model.tgt.weight is own and own.is_leaf
    MaskedModel(model, n_samples=1)  # a second mask on the same frozen network
