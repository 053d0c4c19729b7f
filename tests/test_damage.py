"""A damaged or missing file of a finished stage makes exactly that stage recompute; a planted
pickle in a checkpoint never runs."""
import hashlib
import io
import json
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from weightmask import MaskedModel, train_mask, train_weights
from weightmask.store import CorruptRunWarning, RunStore

X = torch.randn(256, 6, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()
BATCHES = [(X[i:i + 32], Y[i:i + 32]) for i in range(0, 256, 32)]


def loss(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1])


def evaluate(model):
    return {"acc": float((model(X).argmax(-1) == Y).float().mean())}


def net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 2))


def stages(store: RunStore):
    """A weight stage and a mask stage; returns (weights run, mask run, weights, mask, logits)."""
    model, wrun = net(), store.run("toy.weights", {"n": 1}, 0, code=net)
    train_weights(model, BATCHES, loss, steps=40, eval_fn=evaluate, eval_every=20, checkpoint=wrun, progress=False)
    torch.manual_seed(1)
    masked, mrun = MaskedModel(model), store.run("toy.mask", {"n": 1}, 0, code=net)
    mask = train_mask(masked, BATCHES, loss, steps=40, alpha=1e-3, eval_fn=evaluate, eval_every=20,
                      checkpoint=mrun, progress=False)
    return wrun, mrun, model.state_dict(), mask, [l.detach().clone() for l in masked.logits]


def flip(path, at=-1):
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("stage, name", [("mask", "logits.safetensors"), ("mask", "mask.safetensors"),
                                         ("mask", "log.csv"), ("weights", "weights.safetensors"),
                                         ("weights", "log.csv")])
@pytest.mark.parametrize("damage", ["flip", "delete"])
def test_damaged_file_recomputes_exactly_its_stage(tmp_path, stage, name, damage):
    store = RunStore(tmp_path)
    wrun, mrun, weights, mask, logits = stages(store)
    target = (mrun if stage == "mask" else wrun).dir / name
    flip(target) if damage == "flip" else target.unlink()
    other = (wrun, "weights.safetensors") if stage == "mask" else (mrun, "mask.safetensors")
    untouched = other[0].dir / other[1]
    stamp = untouched.stat().st_mtime_ns
    with pytest.warns(CorruptRunWarning, match=name):
        wrun2, mrun2, weights2, mask2, logits2 = stages(store)
    assert untouched.stat().st_mtime_ns == stamp  # the other stage was read, not recomputed
    assert all(torch.equal(weights[k], weights2[k]) for k in weights)
    assert all(torch.equal(mask[k], mask2[k]) for k in mask)
    assert all(torch.equal(a, b) for a, b in zip(logits, logits2))  # not the initial logits
    assert wrun2.done and mrun2.done and target.is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CorruptRunWarning)
        stages(store)  # now intact: read without a warning


class Payload:
    """Pickles into a call that would create a file: it must never run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def plant(run, obj):
    """Write ``obj`` (pickled by torch.save) as the run's checkpoint, with a matching manifest entry,
    as an attacker with write access to the store could."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    (run.dir / "checkpoint.pt").write_bytes(data)
    manifest = json.loads((run.dir / "manifest.json").read_text())
    manifest["checkpoint.pt"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (run.dir / "manifest.json").write_text(json.dumps(manifest))


def test_a_planted_pickle_payload_does_not_execute(tmp_path):
    marker = tmp_path / "pwned"
    run = RunStore(tmp_path / "results").run("toy.weights", {"n": 1}, 0, code=net)
    plant(run, {"step": 10, "payload": Payload(marker)})
    with pytest.warns(CorruptRunWarning, match="checkpoint.pt does not parse"):
        assert run.load_checkpoint() is None
    # and a training loop resuming from that run starts afresh instead of running it
    plant(run, {"step": 10, "payload": Payload(marker)})
    with pytest.warns(CorruptRunWarning):
        train_weights(net(), BATCHES, loss, steps=5, checkpoint=run, progress=False)
    assert not marker.exists()
    assert run.done
