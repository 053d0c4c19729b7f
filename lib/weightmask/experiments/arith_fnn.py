"""The add/mul FNN of App. C.4 and its masks, shared by the method and add/mul chapters.

One trained network per (settings, seed) and one mask per (network, target operations), each
a stage of the run store: a chapter that needs a stage another chapter already ran reads it.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch

from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..models import FNN
from ..store import RunStore
from ..tasks import arithmetic
from ..training import train_mask, train_weights

NET_KEYS = ("sizes", "batch", "train_steps", "lr")
MASK_KEYS = ("mask_steps", "mask_lr", "beta", "n_samples")
# each target gets its own data and mask-sampling stream, whatever else ran before it
TARGET_SEED = {("add", "mul"): 1000, ("add",): 2000, ("mul",): 3000}


def task(batch_size: int, generator: torch.Generator, device, ops: Sequence[str] = arithmetic.OPS):
    """``(batches, loss_fn, evaluate)``: random batches of ``ops``, and accuracy per operation
    on the exhaustive test set (all 10,000 pairs of each operation)."""
    def batches(step):
        x, y, _ = arithmetic.batch(batch_size, ops=ops, generator=generator)
        return x, y

    def loss_fn(model, batch):
        return arithmetic.loss(model(batch[0]), batch[1])

    x, y, op = arithmetic.all_examples()
    x, y = x.to(device), y.to(device)

    def evaluate(model):
        out = model(x)
        return {f"acc_{name}": arithmetic.accuracy(out[op == i], y[op == i])
                for i, name in enumerate(arithmetic.OPS)}
    return batches, loss_fn, evaluate


def network(config: dict, seed: int, store: RunStore, device="auto") -> tuple[FNN, list[dict]]:
    """The FNN trained on the full task (both operations), and its evaluation log."""
    device = resolve_device(device)
    torch.manual_seed(seed)
    batches, loss_fn, evaluate = task(config["batch"], torch.Generator().manual_seed(seed), device)
    net, log = FNN(config["sizes"]).to(device), []
    train_weights(net, batches, loss_fn, steps=config["train_steps"], lr=config["lr"],
                  eval_fn=evaluate, eval_every=config["eval_every"], log=log, device=device,
                  checkpoint=store.run("arith_fnn.weights", {k: config[k] for k in NET_KEYS}, seed),
                  desc=f"weights seed {seed}")
    return net, log


def mask(net: FNN, config: dict, seed: int, store: RunStore, device="auto",
         ops: Sequence[str] = arithmetic.OPS) -> tuple[MaskedModel, Mask, list[dict]]:
    """A mask trained on the operations ``ops`` of the frozen ``net``, and its evaluation log."""
    ops = tuple(o for o in arithmetic.OPS if o in ops)
    if ops not in TARGET_SEED:
        raise ValueError(f"ops must be a non-empty subset of {arithmetic.OPS}, got {ops!r}")
    device = resolve_device(device)
    torch.manual_seed(seed + TARGET_SEED[ops])
    gen = torch.Generator().manual_seed(seed + TARGET_SEED[ops])
    batches, loss_fn, evaluate = task(config["batch"], gen, device, ops)
    cfg = {**{k: config[k] for k in NET_KEYS + MASK_KEYS}, "ops": list(ops)}
    masked, log = MaskedModel(net, n_samples=config["n_samples"]), []
    result = train_mask(masked, batches, loss_fn, steps=config["mask_steps"], beta=config["beta"],
                        batch_size=config["batch"], lr=config["mask_lr"], eval_fn=evaluate,
                        device=device, eval_every=config["eval_every"], log=log,
                        checkpoint=store.run("arith_fnn.mask", cfg, seed),
                        desc=f"mask {'+'.join(ops)} seed {seed}")
    return masked, result, log
