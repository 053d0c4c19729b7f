"""Paper Sec. 3.3 and App. C.6: do later tasks reuse earlier tasks' weights on permuted MNIST?

An FNN learns a sequence of tasks, each MNIST under its own fixed pixel permutation. Weights
and a fresh mask are trained together per task; the weights the mask uses are then frozen,
the free ones re-initialized, and the first layer is reset for every task (so that each task
can undo its permutation there and reuse everything above). Tables: per layer, the share of
each task's weights that some earlier task uses too (Fig. 3), the same when new masks start
out preferring the old weights (Fig. 14), and every task's accuracy after the last one.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch
import torch.nn.functional as F

from .. import checks, paper
from ..continual import ContinualMasks
from ..device import resolve_device
from ..metrics import shared_with_any
from ..models import FNN
from ..store import RunStore, derive_seed
from ..tasks import mnist
from ..training import step_batches
from . import seed_ids

# Mask initialisations: (probability on old weights, on new ones); None: every logit at 0.9.
VARIANTS = {"default": None, "prefer old, new 0.5": (0.88, 0.5), "prefer old, new 0.27": (0.88, 0.27)}
KEYS = ("sizes", "steps", "batch", "lr", "mask_lr", "alpha", "n_samples")
FEW = 0.20           # "few": the paper's < 20% in the hidden layers
SUBSTANTIAL = 2.0    # biasing "raises sharing substantially": at least this factor
FORGET = 0.01        # an old task may lose at most this accuracy after all tasks
CHOICES = {"variants": tuple(VARIANTS)}  # allowed values per setting (weightmask.checks)


# Sec. 3.3 / App. C.6: weights and masks trained together per permutation; quick uses a
# narrower FNN, fewer tasks and steps, and a 10x smaller weight learning rate (at the
# paper's 1e-2, 1000 steps leave a task at 33% accuracy).
PROFILES = {
    "smoke": dict(seeds=1, tasks=2, sizes=[784, 32, 32, 16, 10], steps=20, batch=64, lr=1e-3,
                  mask_lr=1e-2, alpha=1e-5, n_samples=8, variants=["default", "prefer old, new 0.27"]),
    "quick": dict(seeds=1, tasks=4, sizes=[784, 256, 256, 64, 10], steps=1000, batch=128, lr=1e-3,
                  mask_lr=1e-2, alpha=1e-5, n_samples=8,
                  variants=["default", "prefer old, new 0.5", "prefer old, new 0.27"]),
    "paper": dict(seeds=10, tasks=11, sizes=[784, 800, 800, 64, 10], steps=30_000, batch=128, lr=1e-2,
                  mask_lr=1e-2, alpha=1e-5, n_samples=8,
                  variants=["default", "prefer old, new 0.5", "prefer old, new 0.27"]),
}

CLAIMS = [
    paper.Claim("few-shared", "With free capacity, a later task shares few weights with the earlier "
                "ones, although a shared hidden network would suffice", "< 20% in the hidden layers",
                "Sec. 3.3, Fig. 3"),
    paper.Claim("output-first", "Sharing rises only as capacity fills, first in the output layer",
                "output layer fills first", "Sec. 3.3, Fig. 3"),
    paper.Claim("bias", "Masks initialized to prefer the old weights share substantially more",
                "significantly increased", "App. C.6, Fig. 14"),
    # frozen weights get no gradient: it holds by construction, or the implementation has a bug
    paper.Claim("kept", "Old tasks keep their accuracy: their weights are frozen",
                "implied by the protocol", "Sec. 3.3", kind=paper.METHOD_CHECK),
]


def _init(sizes):
    def fresh(seed: int) -> FNN:
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            return FNN(sizes)
    return fresh


def _layers(model) -> list[str]:
    return [n for n, _ in model.named_parameters() if n.endswith("weight")]


def _accuracy(digits, perm: torch.Tensor, device):
    """``model -> {"accuracy"}`` on the test digits under the permutation ``perm``."""
    x, y = digits.x_test.to(device)[:, perm], digits.y_test.to(device)

    def accuracy(model):
        return {"accuracy": float((model(x).argmax(-1) == y).float().mean())}
    return accuracy


def _sequence(config: dict, digits, variant: str, seed: int, store: RunStore, device):
    """Every task of one seed and variant, each a run-store stage: the continual masks and, per
    task, (the task, its accuracy right after its training)."""
    probs = VARIANTS[variant]

    def stage(t: int):
        # the first task has no old weights to prefer: every variant shares the default's
        return store.run("pmnist.task", {**{k: config[k] for k in KEYS}, "variant": variant if t else "default",
                                         "task": t, "data": digits.source}, seed, code=_sequence)

    model = _init(config["sizes"])(derive_seed(stage(0).seed, "model")).to(device)
    layers = _layers(model)
    cm = ContinualMasks(model, _init(config["sizes"]), reset=[layers[0], layers[0][:-6] + "bias"],
                        n_samples=config["n_samples"])
    trained = []
    for t in range(config["tasks"]):
        perm = mnist.permutation(t).to(device)
        run = stage(t)

        def draw(gen, perm=perm):
            def batch(step):
                i = torch.randint(0, len(digits.y_train), (config["batch"],), generator=gen)
                return digits.x_train[i][:, perm.cpu()], digits.y_train[i]
            return batch

        prefer = {} if probs is None or t == 0 else {"old_prob": probs[0], "new_prob": probs[1]}
        accuracy = _accuracy(digits, perm, device)
        torch.manual_seed(run.seed)  # the mask samples
        task = cm.train_task(step_batches(draw, run.seed), lambda out, b: F.cross_entropy(out, b[1]),
                             steps=config["steps"], lr=config["lr"], mask_lr=config["mask_lr"],
                             alpha=config["alpha"], seed=derive_seed(run.seed, "weights"),
                             eval_fn=accuracy, checkpoint=run, device=device,
                             desc=f"{variant}: task {t}, seed {seed}", **prefer)
        trained.append((task, cm.evaluate(t, accuracy)["accuracy"]))
    return cm, trained


def check(config: dict, **arguments) -> None:
    """The FNN reads a flattened digit and outputs the 10 classes."""
    sizes = config["sizes"]
    if sizes[0] != mnist.N_PIXELS or sizes[-1] != 10:
        raise ValueError(f"setting 'sizes' must start with {mnist.N_PIXELS} inputs and end with 10 outputs, "
                         f"got {sizes}")


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto", source: str = "auto") -> dict:
    """Tables ``sharing`` (per variant, task >= 1 and layer), ``accuracy`` (per variant and
    task: right after its training and after all tasks) and ``data`` (the digits' source)."""
    checks.experiment("pmnist", config, seeds, device, source=source)
    store = store or RunStore()
    device = resolve_device(device)
    digits = mnist.load(source)
    tables: dict[str, list[dict]] = {"sharing": [], "accuracy": []}
    for seed in seed_ids(seeds, config["seeds"]):
        for variant in config["variants"]:
            cm, trained = _sequence(config, digits, variant, seed, store, device)
            layers = _layers(cm.model)
            for t, (task, right_after) in enumerate(trained):
                if t:
                    share = shared_with_any(task.mask.select(layers),
                                            [p.mask.select(layers) for p in cm.tasks[:t]])
                    tables["sharing"] += [{"seed": seed, "variant": variant, "task": t, "layer": i + 1,
                                           "name": r.name, "shared": r.proportion, "kept": r.kept}
                                          for i, r in enumerate(share.itertuples())]
                final = cm.evaluate(t, _accuracy(digits, mnist.permutation(t).to(device), device))["accuracy"]
                tables["accuracy"].append({"seed": seed, "variant": variant, "task": t,
                                           "after training": right_after, "after all tasks": final})
    out = {k: pd.DataFrame(v) for k, v in tables.items()}
    out["data"] = pd.DataFrame([{"source": digits.source, "train": len(digits.y_train), "test": len(digits.y_test)}])
    return out


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``."""
    sh = results["sharing"]
    d = sh[sh["variant"] == "default"].groupby(["task", "layer"])["shared"].mean().unstack("layer")
    out_layer = d.columns.max()
    hidden = [c for c in d.columns if 1 < c < out_layer]
    first = d.index.min()
    few = float(d.loc[first, hidden].mean())
    few_claim = (f"task {first}: hidden layers {few:.0%} shared with earlier tasks",
                 "reproduced" if few < FEW else "not reproduced",
                 f"below {FEW:.0%} in the hidden layers" if few < FEW else f"{FEW:.0%} or more")
    last = d.index.max()
    rising = bool(d.loc[last, out_layer] > d.loc[first, out_layer]
                  and d.loc[last, out_layer] > d.loc[last, hidden].mean()) and last > first
    fill_claim = (f"output layer: task {first} {d.loc[first, out_layer]:.0%}, task {last} "
                  f"{d.loc[last, out_layer]:.0%}; hidden layers at task {last}: {d.loc[last, hidden].mean():.0%}",
                  "reproduced" if rising else "not reproduced",
                  "the output layer's sharing rises and exceeds the hidden layers'" if rising
                  else "the output layer's sharing does not rise above the hidden layers'")
    by = sh.groupby("variant")["shared"].mean()
    biased = {v: float(by[v]) for v in by.index if v != "default"}
    if biased:
        up = all(v >= SUBSTANTIAL * float(by["default"]) for v in biased.values())
        bias_claim = ("; ".join([f"default {by['default']:.0%}"] + [f"{v} {s:.0%}" for v, s in biased.items()]),
                      "reproduced" if up else "not reproduced",
                      f"mean sharing over tasks and layers at least {SUBSTANTIAL:g}x the default's" if up
                      else f"less than {SUBSTANTIAL:g}x the default's")
    else:
        bias_claim = ("no biased run", "not comparable", "this run trained no biased masks")
    acc = results["accuracy"]
    lost = float((acc["after training"] - acc["after all tasks"]).max())
    kept = lost <= FORGET
    forget_claim = (f"largest loss of an old task {lost:.1%}", "reproduced" if kept else "not reproduced",
                    f"at most {FORGET:.0%} lost" if kept else f"more than {FORGET:.0%} lost")
    learned = float(acc["after training"].min())
    return paper.verdict_table("pmnist", paper.not_learned(
        {"few-shared": few_claim, "output-first": fill_claim, "bias": bias_claim, "kept": forget_claim},
        learned, threshold=paper.MNIST_LEARNED))
