"""Library inputs that used to run silently wrong: each now gives the right result or a clear error."""

import re
import warnings

import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from torch.utils import _pytree as pytree

import weightmask as wm
from weightmask import Mask, MaskedModel
from weightmask.device import resolve_device
from weightmask.mask import CHECKSUM_KEY

ALLOWED = r"'auto', 'cpu', 'cuda' or 'cuda:N'"


def keep_all(masked: MaskedModel) -> MaskedModel:
    """Logits so large that every sample keeps every weight: the output must be the unmasked model's."""
    with torch.no_grad():
        for l in masked.logits:
            l.fill_(30.0)
    return masked


def assert_trees_close(a, b):
    la, lb = pytree.tree_leaves(a), pytree.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        if x is None or y is None:
            assert x is None and y is None
        else:
            assert x.shape == y.shape
            torch.testing.assert_close(x, y, atol=1e-5, rtol=1e-5)


# -- 1. the batch dimension of time-first layers ---------------------------------------------

@pytest.mark.parametrize("build", [lambda: nn.LSTM(3, 5, num_layers=2), lambda: nn.GRU(3, 5),
                                   lambda: nn.RNN(3, 5), lambda: nn.LSTM(3, 5, batch_first=True)],
                         ids=["lstm", "gru", "rnn", "lstm-batch-first"])
def test_recurrent_default_dims_follow_batch_first(build):
    # T == batch: slicing the wrong dimension would keep every shape and change every value
    torch.manual_seed(0)
    model = build()
    masked = keep_all(MaskedModel(model, n_samples=2))
    x = torch.randn(4, 4, 3)
    out = masked(x)
    assert_trees_close(out, model(x))
    # with an initial hidden state, which is [layers, batch, hidden] either way
    assert_trees_close(masked(x, out[1]), model(x, out[1]))


def test_time_first_lstm_slices_are_batch_slices():
    """Slice k of the batch (dim 1) runs under sample k, as with explicit in_dims=1."""
    torch.manual_seed(1)
    model = nn.LSTM(3, 5)
    masked = MaskedModel(model, n_samples=2, init_prob=0.5)
    x = torch.randn(4, 4, 3)
    torch.manual_seed(2)
    y, (h, c) = masked(x)
    torch.manual_seed(2)
    masks = masked.sample()
    for k in range(2):
        with masked.fixed(masks[k]):
            ry, (rh, rc) = masked(x[:, 2 * k:2 * k + 2])
        torch.testing.assert_close(y[:, 2 * k:2 * k + 2], ry)
        torch.testing.assert_close(h[:, 2 * k:2 * k + 2], rh)


@pytest.mark.parametrize("batch_first", [False, True])
def test_attention_and_transformer_default_dims_follow_batch_first(batch_first):
    torch.manual_seed(3)
    mha = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    masked = keep_all(MaskedModel(mha, n_samples=2))
    q, kv = torch.randn(4, 4, 8), torch.randn(4, 4, 8)
    pad = torch.zeros(4, 4, dtype=torch.bool)
    pad[:2, -1] = True  # [batch, key]: split along dim 0 whatever batch_first is
    assert_trees_close(masked(q, kv, kv, key_padding_mask=pad), mha(q, kv, kv, key_padding_mask=pad))
    assert_trees_close(masked(q, kv, kv, need_weights=False), mha(q, kv, kv, need_weights=False))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # enable_nested_tensor notice
        enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=batch_first), 2)
    masked = keep_all(MaskedModel(enc, n_samples=2))
    torch.testing.assert_close(masked(q, src_key_padding_mask=pad), enc.train()(q, src_key_padding_mask=pad))


def test_model_with_a_time_first_layer_must_say_where_its_batch_is():
    class Tagger(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(3, 5)
            self.out = nn.Linear(5, 2)

        def forward(self, x):  # [time, batch, 3] -> [time, batch, 2]
            return self.out(self.lstm(x)[0])

    torch.manual_seed(4)
    model = Tagger()
    x = torch.randn(4, 4, 3)
    with pytest.raises(ValueError, match=r"in_dims/out_dims.*LSTM at 'lstm'.*batch_first=False.*in_dims=1, out_dims=1"):
        MaskedModel(model, n_samples=2)(x)
    with pytest.raises(ValueError, match="in_dims/out_dims"):
        MaskedModel(model, n_samples=2, in_dims=1)(x)  # out_dims left to the default
    masked = keep_all(MaskedModel(model, n_samples=2, in_dims=1, out_dims=1))
    torch.testing.assert_close(masked(x), model(x))
    assert MaskedModel(model, n_samples=1)(x).shape == (4, 4, 2)  # nothing is split


def test_unbatched_input_of_a_recurrent_layer_is_refused():
    masked = MaskedModel(nn.LSTM(3, 5, batch_first=True), n_samples=2)
    with pytest.raises(ValueError, match=r"n_samples=2.*input of LSTM has shape \(4, 3\), not a batch"):
        masked(torch.randn(4, 3))


def test_unknown_dims_string_is_refused():
    with pytest.raises(ValueError, match=r"in_dims must be 'auto', None, an int or a tuple"):
        MaskedModel(nn.Linear(2, 2), in_dims="batch")
    with pytest.raises(ValueError, match=r"out_dims must be 'auto'"):
        MaskedModel(nn.Linear(2, 2), out_dims="first")


# -- 2. fixed() takes boolean masks only -------------------------------------------------------

@pytest.mark.parametrize("value", [torch.full((3, 2), 0.5), torch.ones(3, 2), torch.ones(3, 2, dtype=torch.long)],
                         ids=["float-half", "float-ones", "int-ones"])
def test_fixed_refuses_non_bool_masks(value):
    masked = MaskedModel(nn.Linear(2, 3), n_samples=1)
    with pytest.raises(TypeError, match=r"fixed\(mask\): mask must hold bool tensors.*'weight'"):
        with masked.fixed({"weight": value}):
            pass
    assert masked._fixed == {}  # nothing was applied
    with pytest.raises(TypeError, match=r"fixed\(mask\): mask must be a Mask or a mapping"):
        with masked.fixed(torch.ones(3, 2, dtype=torch.bool)):
            pass
    with masked.fixed({"weight": value > 0.25}):  # the explicit conversion works
        pass


# -- 3. Mask files carry a checksum ------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    mask = Mask({"w": torch.rand(6, 5, generator=torch.Generator().manual_seed(0)) < 0.5,
                 "b": torch.tensor([True, False, True])})
    path = tmp_path / "mask.safetensors"
    mask.save(path)
    return mask, path


def _data_start(data: bytes) -> int:
    return 8 + int.from_bytes(data[:8], "little")


def test_saved_mask_records_its_checksum(saved):
    from safetensors import safe_open
    mask, path = saved
    with safe_open(str(path), "pt") as f:
        assert len(f.metadata()[CHECKSUM_KEY]) == 64
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a verified file loads without a warning
        assert Mask.load(path) == mask


@pytest.mark.parametrize("offset", [0, -1])
def test_flipped_data_byte_is_refused(saved, offset):
    mask, path = saved
    data = bytearray(path.read_bytes())
    i = _data_start(data) if offset == 0 else len(data) - 1
    data[i] ^= 1  # one weight kept <-> removed: without a checksum a different mask loads
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}.*corrupted.*sha256"):
        Mask.load(path)


@pytest.mark.parametrize("keep", [0, 5, 40, -1])
def test_truncated_file_is_refused(saved, keep):
    _, path = saved
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:-1])
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: not a readable safetensors mask file"):
        Mask.load(path)


def test_missing_and_garbage_files_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "none.safetensors"))):
        Mask.load(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_text("not a tensor file at all")
    with pytest.raises(ValueError, match=rf"{re.escape(str(tmp_path / 'junk.safetensors'))}: not a readable"):
        Mask.load(tmp_path / "junk.safetensors")


def test_file_without_checksum_loads_with_a_warning(tmp_path):
    path = tmp_path / "old.safetensors"
    save_file({"w": torch.tensor([True, False])}, str(path))  # as Mask.save wrote before checksums
    with pytest.warns(UserWarning, match=rf"{re.escape(str(path))}: .*no checksum.*cannot be verified"):
        assert Mask.load(path) == Mask({"w": torch.tensor([True, False])})
    # metadata without the checksum entry is not an old file but a damaged or foreign one
    save_file({"w": torch.tensor([True, False])}, str(path), metadata={"format": "pt"})
    with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: .*no 'weightmask\.sha256' entry"):
        Mask.load(path)


# -- 4. CUDA devices are checked before use -----------------------------------------------------

def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:0", torch.device("cuda")):
        with pytest.raises(ValueError, match=rf"device=.*no CUDA GPU is available.*{ALLOWED}"):
            resolve_device(device)
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")


def test_cuda_index_beyond_the_gpus_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda:1") == torch.device("cuda:1")
    assert resolve_device("cuda") == torch.device("cuda")
    for device in ("cuda:2", torch.device("cuda", 7)):
        with pytest.raises(ValueError, match=rf"device=.*has 2 CUDA GPU\(s\), cuda:0 to cuda:1.*{ALLOWED}"):
            resolve_device(device)


@pytest.mark.parametrize("device", ["cuda:x", "cuda:-1", "CUDA", "gpu", None])
def test_malformed_device_names_are_refused(device):
    with pytest.raises(ValueError, match=rf"unknown device .*device must be {ALLOWED}"):
        resolve_device(device)


# -- the training loops ----------------------------------------------------------------------

def _toy():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long()
    net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    return net, [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)], \
        lambda m, b: nn.functional.cross_entropy(m(b[0]), b[1])


def test_a_one_shot_iterator_that_runs_out_says_so():
    net, batches, loss = _toy()
    with pytest.raises(ValueError, match="ran out after 2 batches.*only once"):
        wm.train_weights(net, iter(batches[:2]), loss, steps=5, progress=False)
    with pytest.raises(ValueError, match="batches is empty"):
        wm.train_weights(net, [], loss, steps=5, progress=False)
    wm.train_weights(net, batches[:2], loss, steps=5, progress=False)  # a list is cycled


@pytest.mark.parametrize("name", ["eval_every", "checkpoint_every"])
def test_loop_intervals_must_be_positive(name):
    net, batches, loss = _toy()
    for fn in (lambda **kw: wm.train_weights(net, batches, loss, steps=5, progress=False, **kw),
               lambda **kw: wm.train_mask(net, batches, loss, steps=5, alpha=0.0, progress=False, **kw)):
        with pytest.raises(ValueError, match=f"{name} must be an integer >= 1, got 0"):
            fn(**{name: 0})


def test_train_mask_refuses_settings_a_ready_masked_model_already_fixed():
    net, batches, loss = _toy()
    with pytest.raises(ValueError, match="ready MaskedModel.*n_samples, init_prob"):
        wm.train_mask(wm.MaskedModel(net), batches, loss, steps=5, alpha=0.0, n_samples=8, init_prob=0.5)
    masked = wm.MaskedModel(net, n_samples=2, init_prob=0.5)
    assert all(torch.allclose(p, torch.tensor(0.5)) for p in masked.probabilities().values())
    wm.train_mask(masked, batches, loss, steps=1, alpha=0.0, progress=False)  # its own settings: fine


def test_train_mask_on_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    net, batches, loss = _toy()
    with pytest.raises(ValueError, match="device='cuda'.*no CUDA GPU"):
        wm.train_mask(net, batches, loss, steps=5, alpha=0.0, device="cuda")
    with pytest.raises(ValueError, match="no CUDA GPU"):
        wm.train_weights(net, batches, loss, steps=5, device="cuda")
