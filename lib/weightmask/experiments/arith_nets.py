"""The networks of the arithmetic chapters and their masks, as stages of the run store.

Two problems: ``addmul`` (paper Sec. 3.1, App. C.4) and ``doubleadd`` (Sec. 3.2, App. C.5);
two architectures: an FNN (``sizes``) and an LSTM that reads its input for a few steps
(``arch="lstm"``, ``hidden``, ``steps``; for double addition also ``feed``). One trained
network per (problem, settings, seed) and one mask per (network, target): a chapter that
needs a stage another chapter already ran reads it.
"""
from __future__ import annotations

import torch
from torch import nn

from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..metrics import sharing
from ..models import FNN, RepeatLSTM
from ..store import RunStore
from ..tasks import arithmetic, double_add
from ..training import step_batches, train_mask, train_weights

NET_KEYS = ("arch", "sizes", "hidden", "layers", "steps", "feed", "batch", "train_steps", "lr")
MASK_KEYS = ("mask_steps", "mask_lr", "beta", "n_samples")
# The targets a mask is trained on; each is part of its stage's key, so of its seed.
TARGETS = {"addmul": ("full", "add", "mul"), "doubleadd": ("full", "pair1", "pair2")}
ARCHS = ("fnn", "lstm")
# The masks leave biases alone: the authors' arithmetic sweeps set bias_no_mask: 1
# (sweeps/addmul_*.yaml, tuple_*.yaml in github.com/RobertCsordas/modules), so an inverted mask
# removes weights only and every unit keeps its bias.
UNMASKED = ("*bias*",)


def _check(problem: str, target: str = "full") -> None:
    if problem not in TARGETS:
        raise ValueError(f"problem must be one of {sorted(TARGETS)}, got {problem!r}")
    if target not in TARGETS[problem]:
        raise ValueError(f"target for {problem} must be one of {sorted(TARGETS[problem])}, got {target!r}")


def arch(config: dict) -> str:
    a = config.get("arch", "fnn")
    if a not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {a!r}")
    return a


def feed(config: dict) -> str:
    """How a double-addition network is fed: two FNN passes, or an LSTM's ``feed`` setting."""
    return "fnn" if arch(config) == "fnn" else double_add.check_feed(config.get("feed", "together"))


def _io(problem: str) -> tuple[int, int]:
    """The task's input and output sizes."""
    return (arithmetic.N_IN, arithmetic.N_OUT) if problem == "addmul" else (double_add.N_IN, double_add.N_OUT)


def check(problem: str, config: dict) -> None:
    """What ``build`` needs of ``config``, checked before any compute: the architecture, an FNN's
    input and output sizes (those of the task), a forced LSTM's even number of steps."""
    _check(problem)
    n_in, n_out = _io(problem)
    if arch(config) == "fnn":
        sizes = list(config["sizes"])
        if len(sizes) < 2 or sizes[0] != n_in or sizes[-1] != n_out:
            raise ValueError(f"setting 'sizes' for {problem} must start with {n_in} inputs and end with "
                             f"{n_out} outputs, got {sizes}")
    elif problem == "doubleadd" and feed(config) == "forced" and config["steps"] % 2:
        raise ValueError("the forced LSTM shows each pair for half of its steps: setting 'steps' must be even, "
                         f"got {config['steps']}")


def build(problem: str, config: dict) -> nn.Module:
    """A fresh network for ``problem`` as ``config`` describes it."""
    check(problem, config)
    n_in, n_out = _io(problem)
    if arch(config) == "fnn":
        return FNN(list(config["sizes"]))
    steps = config["steps"]
    reads = (steps // 2, steps) if problem == "doubleadd" and feed(config) == "forced" else None
    return RepeatLSTM(n_in, config["hidden"], n_out, steps=steps, reads=reads, layers=config["layers"])


def task(problem: str, config: dict, target: str, seed: int, device):
    """``(batches, loss_fn, evaluate)`` for ``target``: random training batches (each a function
    of ``seed`` and the step), the loss on the target's outputs, and the accuracy per operation
    / pair on the fixed test set."""
    _check(problem, target)
    n = config["batch"]
    if problem == "addmul":
        ops = arithmetic.OPS if target == "full" else (target,)
        x, y, op = arithmetic.all_examples()
        x, y = x.to(device), y.to(device)

        batches = step_batches(lambda g: lambda step: arithmetic.batch(n, ops=ops, generator=g)[:2], seed)

        def loss_fn(model, batch):
            return arithmetic.loss(model(batch[0]), batch[1])

        def evaluate(model):
            out = model(x)
            return {f"acc_{o}": arithmetic.accuracy(out[op == i], y[op == i])
                    for i, o in enumerate(arithmetic.OPS)}
        return batches, loss_fn, evaluate
    how, steps = feed(config), config.get("steps")
    pairs = double_add.pair_index(double_add.PAIRS if target == "full" else (target,))
    test = double_add.test_set().to(device)
    y_test = double_add.targets(test)

    def draw(generator):
        def batch(step):
            numbers = double_add.sample(n, generator)
            return numbers, double_add.targets(numbers)[:, pairs]
        return batch
    batches = step_batches(draw, seed)

    def loss_fn(model, batch):  # a pair's mask trains with the other pair's input hidden, as the authors'
        return double_add.loss(double_add.outputs(model, batch[0], how, pairs, steps, hide_others=True), batch[1])

    def evaluate(model):
        acc = double_add.accuracy(double_add.outputs(model, test, how, steps=steps), y_test)
        return {f"acc_{p}": a for p, a in zip(double_add.PAIRS, acc)}
    return batches, loss_fn, evaluate


def _keys(config: dict, keys) -> dict:
    return {k: config[k] for k in keys if k in config}


def network(problem: str, config: dict, seed: int, store: RunStore, device="auto",
            name: str = "") -> tuple[nn.Module, list[dict]]:
    """The network trained on the full task of ``problem``, and its evaluation log."""
    _check(problem)
    device = resolve_device(device)
    run = store.run(f"{problem}.weights", _keys(config, NET_KEYS), seed)
    torch.manual_seed(run.seed)
    batches, loss_fn, evaluate = task(problem, config, "full", run.seed, device)
    net, log = build(problem, config).to(device), []
    train_weights(net, batches, loss_fn, steps=config["train_steps"], lr=config["lr"],
                  eval_fn=evaluate, eval_every=config["eval_every"], log=log, device=device,
                  checkpoint=run, desc=f"{problem} {name or arch(config)} weights, seed {seed}")
    return net, log


def mask(problem: str, net: nn.Module, config: dict, seed: int, store: RunStore, device="auto",
         target: str = "full", variant: str | None = None, name: str = ""
         ) -> tuple[MaskedModel, Mask, list[dict]]:
    """A mask trained on ``target`` of the frozen ``net``, and its evaluation log.

    ``variant`` names a network edited after training (it is part of the stage's key).
    """
    _check(problem, target)
    device = resolve_device(device)
    cfg = {**_keys(config, NET_KEYS + MASK_KEYS), "target": target}
    if variant:
        cfg["variant"] = variant
    run = store.run(f"{problem}.mask", cfg, seed, code=(mask, network))
    torch.manual_seed(run.seed)
    batches, loss_fn, evaluate = task(problem, config, target, run.seed, device)
    masked, log = MaskedModel(net, n_samples=config["n_samples"], exclude=UNMASKED), []
    result = train_mask(masked, batches, loss_fn, steps=config["mask_steps"], beta=config["beta"],
                        batch_size=config["batch"], lr=config["mask_lr"], eval_fn=evaluate,
                        device=device, eval_every=config["eval_every"], log=log, checkpoint=run,
                        desc=f"{problem} {name or arch(config)} mask {target}, seed {seed}")
    return masked, result, log


def masks(problem: str, net: nn.Module, config: dict, seed: int, store: RunStore, device="auto",
          variant: str | None = None, name: str = "", targets=None) -> tuple[MaskedModel, dict[str, Mask]]:
    """One mask per target of ``problem`` (default: all, full task first), on the same frozen ``net``."""
    out, masked = {}, None
    for target in targets or TARGETS[problem]:
        masked, out[target], _ = mask(problem, net, config, seed, store, device, target, variant, name)
    return masked, out


def weights_stage(config: dict, seed: int, store: RunStore, device, problem: str, net: dict, name: str) -> None:
    """A stage task (weightmask.stages): the network ``name`` (settings ``net``) trained on ``problem``."""
    network(problem, net, seed, store, device, name=name)


def mask_stage(config: dict, seed: int, store: RunStore, device, problem: str, net: dict, name: str, target: str,
               variant: str | None = None, edit=None) -> None:
    """A stage task: the mask on ``target`` of the trained network ``name``, edited in place by ``edit``
    first where the mask is of an edited network (``variant``)."""
    trained, _ = network(problem, net, seed, store, device, name=name)
    if edit is not None:
        edit(trained)
    mask(problem, trained, net, seed, store, device, target, variant, name)


def stages(problem: str, nets: dict[str, dict], targets=None, gpus: float | None = None) -> list:
    """The stages of one seed of ``nets`` (name -> settings): each network's weights, then its mask per
    target (default: every target of ``problem``), each mask waiting for its network; ``gpus``: their GPU share
    (None: the chapter's)."""
    from ..stages import Stage  # here, not above: a module's preamble is part of its stages' code keys
    out = []
    for name, cfg in nets.items():
        weights = f"{name}: weights"
        out.append(Stage(weights, weights_stage, dict(problem=problem, net=cfg, name=name), gpus=gpus))
        out += [Stage(f"{name}: mask {t}", mask_stage, dict(problem=problem, net=cfg, name=name, target=t),
                      after=(weights,), gpus=gpus) for t in targets or TARGETS[problem]]
    return out


def weight_layers(masked: MaskedModel) -> list[str]:
    """The weight matrices in network order (biases left out, as in the paper's figures);
    an LSTM's are its input, recurrent and output weights."""
    return [n for n in masked.names if n.rsplit(".", 1)[-1].startswith("weight")]


def layer_rows(masked: MaskedModel, masks: dict[str, Mask], targets: tuple[str, str], key: str,
               tag: dict) -> tuple[list[dict], list[dict]]:
    """Per weight layer: the share of each target's weights that the other target's mask keeps
    too (paper Fig. 1, 2, 8), and the weights each target's mask keeps (Fig. 12)."""
    layers = weight_layers(masked)
    shared, counts = [], []
    for a, b in (targets, targets[::-1]):
        share = sharing(masks[a].select(layers), masks[b].select(layers))
        shared += [{**tag, "layer": i + 1, "name": r.name, key: a, "shared": r.proportion, "kept": r.kept}
                   for i, r in enumerate(share.itertuples())]
    for t in targets:
        per = masks[t].select(layers).per_layer()
        counts += [{**tag, "layer": i + 1, "name": r.name, key: t, "kept": r.kept, "total": r.total}
                   for i, r in enumerate(per.itertuples())]
    return shared, counts
