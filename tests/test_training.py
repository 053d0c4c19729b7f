"""The training loops: they learn, reuse finished runs, and resume killed runs exactly."""
import pytest
import torch
import torch.nn.functional as F

import weightmask as wm
from weightmask.models import FNN

X = torch.randn(256, 10, generator=torch.Generator().manual_seed(0))
Y = (X[:, 0] > 0).long()


def batches(step):
    i = (step * 32) % 256
    return X[i:i + 32], Y[i:i + 32]


def loss_fn(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1])


def evaluate(model):
    return {"acc": wm.accuracy(model(X), Y)}


def trained_net():
    torch.manual_seed(0)
    net = FNN([10, 32, 2])
    return wm.train_weights(net, batches, loss_fn, steps=200, progress=False)


class Killed(RuntimeError):
    pass


def killing(at):
    def fn(model, batch, calls=[0]):
        calls[0] += 1
        if calls[0] == at:
            raise Killed
        return loss_fn(model, batch)
    return fn


def test_train_weights_learns_and_logs():
    log = []
    torch.manual_seed(0)
    net = wm.train_weights(FNN([10, 32, 2]), batches, loss_fn, steps=200, eval_fn=evaluate,
                           eval_every=100, log=log, progress=False)
    assert [r["step"] for r in log] == [100, 200]
    assert log[-1]["acc"] > 0.9
    assert not any(p.grad is not None and not p.requires_grad for p in net.parameters())


def test_train_mask_keeps_weights_and_solves_task():
    net = trained_net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    log = []
    mask = wm.train_mask(net, batches, loss_fn, steps=300, alpha=1e-3, eval_fn=evaluate,
                         eval_every=100, log=log, progress=False)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert isinstance(mask, wm.Mask) and 0 < mask.density() < 0.6  # the regulariser prunes
    assert log[-1]["acc"] > 0.9 and log[-1]["density"] == pytest.approx(mask.density())


def test_alpha_beta_arguments():
    net = trained_net()
    with pytest.raises(ValueError, match="exactly one of alpha or beta"):
        wm.train_mask(net, batches, loss_fn, steps=1, alpha=1e-3, beta=1e-2)
    with pytest.raises(ValueError, match="exactly one of alpha or beta"):
        wm.train_mask(net, batches, loss_fn, steps=1)
    with pytest.raises(ValueError, match="batch_size"):
        wm.train_mask(net, batches, loss_fn, steps=1, beta=1e-2)
    with pytest.raises(ValueError, match="alpha must be"):
        wm.train_mask(net, batches, loss_fn, steps=1, alpha=-1.0)
    with pytest.raises(ValueError, match="steps must be"):
        wm.train_mask(net, batches, loss_fn, steps=-3, alpha=1.0)
    assert wm.alpha_from_beta(1e-4, 128) == pytest.approx(1e-4 / 128)


@pytest.mark.parametrize("stage", ["weights", "mask"])
def test_killed_run_resumes_to_the_same_result(tmp_path, stage):
    store = wm.RunStore(tmp_path)
    net = trained_net()

    def run(key, fn):
        torch.manual_seed(1)
        common = dict(steps=60, checkpoint=store.run("resume", {"stage": stage, "key": key}, 0),
                      checkpoint_every=20, progress=False)
        if stage == "weights":
            model = FNN([10, 32, 2])
            model.load_state_dict(net.state_dict())
            return wm.train_weights(model, batches, fn, **common).state_dict()
        return wm.train_mask(net, batches, fn, alpha=1e-3, **common).to_dict()

    reference = run("a", loss_fn)
    with pytest.raises(Killed):
        run("b", killing(at=45))
    partial = store.run("resume", {"stage": stage, "key": "b"}, 0)
    assert not partial.done and partial.load_checkpoint()["step"] == 40
    resumed = run("b", loss_fn)
    assert partial.done and partial.load_checkpoint() is None
    assert all(torch.equal(reference[k], resumed[k]) for k in reference)
    # a finished run is reused without training: a loss that always fails is never called
    again = run("b", killing(at=1))
    assert all(torch.equal(reference[k], again[k]) for k in reference)


def test_nan_loss_stops_the_run_before_anything_is_saved(tmp_path):
    def nan_at_step_4(model, batch, calls=[0]):
        calls[0] += 1
        loss = loss_fn(model, batch)
        return loss * float("nan") if calls[0] == 5 else loss

    run = wm.RunStore(tmp_path).run("nan", {"x": 1}, 0)
    torch.manual_seed(0)
    with pytest.raises(FloatingPointError, match="between steps 3 and 6"):
        wm.train_weights(FNN([10, 8, 2]), batches, nan_at_step_4, steps=20, checkpoint=run,
                         checkpoint_every=3, progress=False)
    state = run.load_checkpoint()
    assert state["step"] == 3  # the clean state; step 6 was never saved
    assert all(torch.isfinite(v).all() for v in state["module"].values())
    assert not run.done


def test_a_finished_mask_comes_back_in_the_models_parameter_order(tmp_path):
    net = trained_net()
    run = wm.RunStore(tmp_path).run("order", {"x": 1}, 0)
    first = wm.train_mask(net, batches, loss_fn, steps=5, alpha=1e-4, checkpoint=run, progress=False)
    again = wm.train_mask(net, batches, loss_fn, steps=5, alpha=1e-4, checkpoint=run, progress=False)
    names = [n for n, _ in net.named_parameters()]
    assert list(first) == names and list(again) == names and again == first
