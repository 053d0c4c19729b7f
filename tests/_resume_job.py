"""A weight stage and a mask stage of the add/mul FNN, optionally killed with SIGKILL at a step.

``python tests/_resume_job.py STORE STAGE STEP``: STAGE is ``weights``, ``mask`` or ``none``.
The stages are the arithmetic chapters' (their batches, seeds and keys), checkpointed every
100 steps. Used by tests/test_resume.py to compare a killed-and-rerun run with an
uninterrupted one.
"""
import os
import signal
import sys

import torch

from weightmask import MaskedModel, train_mask, train_weights
from weightmask.experiments import arith_nets
from weightmask.store import RunStore

CONFIG = dict(sizes=[42, 32, 20], batch=32, train_steps=300, mask_steps=300, lr=1e-3, mask_lr=1e-2,
              beta=1e-4, n_samples=4, eval_every=100)
EVERY = 100


def killing(batches, stage: str, kill: tuple[str, int]):
    def get(step):
        if (stage, step) == kill:
            os.kill(os.getpid(), signal.SIGKILL)
        return batches(step)
    return get


def main(root: str, kill: tuple[str, int]) -> None:
    torch.set_num_threads(1)
    store = RunStore(root)
    run = store.run("addmul.weights", CONFIG, 0)
    torch.manual_seed(run.seed)
    batches, loss_fn, evaluate = arith_nets.task("addmul", CONFIG, "full", run.seed, "cpu")
    net = arith_nets.build("addmul", CONFIG)
    train_weights(net, killing(batches, "weights", kill), loss_fn, steps=CONFIG["train_steps"], eval_fn=evaluate,
                  eval_every=CONFIG["eval_every"], checkpoint=run, checkpoint_every=EVERY)
    run = store.run("addmul.mask", {**CONFIG, "target": "mul"}, 0)
    torch.manual_seed(run.seed)
    batches, loss_fn, evaluate = arith_nets.task("addmul", CONFIG, "mul", run.seed, "cpu")
    train_mask(MaskedModel(net, n_samples=CONFIG["n_samples"]), killing(batches, "mask", kill), loss_fn,
               steps=CONFIG["mask_steps"], beta=CONFIG["beta"], batch_size=CONFIG["batch"], lr=CONFIG["mask_lr"],
               eval_fn=evaluate, eval_every=CONFIG["eval_every"], checkpoint=run, checkpoint_every=EVERY)


if __name__ == "__main__":
    main(sys.argv[1], (sys.argv[2], int(sys.argv[3])))
