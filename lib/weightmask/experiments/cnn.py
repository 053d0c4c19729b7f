"""Paper Sec. 5 and App. C.8: how much does a CNN rely on class-exclusive weights?

A trained image classifier is frozen. A control mask is trained on all classes; then, for
every class, a mask is trained on the data without that class, with the output layer's mask
fixed to the control's so that only the feature detectors can differ. Weights that only the
removed class needed disappear from its mask. Confusion matrices on the full test set under
each mask show how much the removed class loses and what it is confused with instead.
Networks: the simple CNN of Table 5 with and without dropout, and a CIFAR ResNet.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from contextlib import nullcontext

import pandas as pd
import torch
import torch.nn.functional as F

from .. import checks, evidence, paper
from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..metrics import confusion_matrix
from ..models import ResNet, SimpleCNN
from ..stages import Stage
from ..store import RunStore
from ..tasks import images
from ..training import step_batches, train_mask, train_weights
from . import seed_ids

NETS = ("CNN", "CNN (no dropout)", "ResNet")
CHOICES = {"nets": NETS}  # allowed values per setting (weightmask.checks)
MASK_SETTINGS = ("mask_steps", "mask_lr", "beta", "mask_batch")  # per network: the ResNet's prefixed "resnet_"
# The paper's figures for the removed class's mean relative drop (Fig. 6a), per network, as the accepted
# band: the paper's figure widened by a tolerance. Simple CNN: "ranging from 40 to 60%" over the classes
# (App. C.8.1); our rule judges the mean over classes, which that range holds, and accepts 10 points more on
# either side for the spread between the seeds of a run with fewer seeds than the paper's 10; the interval of
# this run's mean (across seeds, or across the removed classes of one seed) must lie inside the band. ResNet-110:
# "reaching almost 100%" (App. C.8.3, Fig. 20): read as the bars' tops, so a mean over classes of 80% or
# more still reads as "almost all". The CNN without dropout has no printed figure of its
# own: the paper's simple-CNN range divided by its dropout ratio (PAPER_DROPOUT below), 29-46%, with the
# simple CNN's tolerance.
PAPER_DROP = {"CNN": (0.40, 0.60), "ResNet": (1.00, 1.00)}
DROP_TOLERANCE = {"CNN": 0.10, "CNN (no dropout)": 0.10, "ResNet": 0.20}
SUBSTANTIAL = 0.30   # a drop at least this is "substantial": the paper's lowest printed figure (40%) less 10 points
# Other classes "barely change" (Sec. 5: "only a small drop"): Fig. 6b's axis ends at 10% (the largest
# other-class drop as a share of the removed class's; the authors' paper/plot_cifar10_drop_per_class.py sets
# ylim 0-10). We accept twice that for the median over removed classes: the paper itself puts these drops
# down to the noise of mask sampling, and our test sets per class are smaller. The paper's own figure for the
# verdict table's glance: the axis's end, 10%, a bound on every bar of Fig. 6b.
BARELY = 0.20
PAPER_OTHER = 0.10
# A share of the removed class's drop (another class's, or the drop with dropout over the drop without) is
# capped at 10x for the statistics: a removed class that loses nothing makes it infinite, and 10x already fails
# every rule that reads it.
RATIO_CAP = 10.0
# Dropout: "roughly 30%-40% higher drop per class" (App. C.8.2, Fig. 18 vs 19), read as the ratio of the
# CNN's mean drop to the CNN-without-dropout's: 1.3-1.4 ("higher drop" of a drop of 40-60% reads as relative,
# like the paper's other drops). Tolerance 0.15 either side: "roughly", and a ratio of two noisy means.
PAPER_DROPOUT = (1.30, 1.40)
DROPOUT_TOLERANCE = 0.15
PAPER_DROP["CNN (no dropout)"] = (round(PAPER_DROP["CNN"][0] / PAPER_DROPOUT[1], 2),
                                  round(PAPER_DROP["CNN"][1] / PAPER_DROPOUT[0], 2))
# "Removing dropout results in a few percent of performance loss" (App. C.8.2; Fig. 17's caption: "performance
# without dropout is a few percent lower"), under the masks trained on all classes (Fig. 17): the simple CNN's
# accuracy with dropout minus without, under the control mask, at least 0 (the claim's direction: a difference
# whose interval reaches below 0 is not shown) and at most 10 points. "A few percent" reads as 2-5 points (or
# 2-5% of an accuracy near 80%, 1.6-4 points); 10 points is twice its largest reading, and a loss beyond it
# the paper would not call "a few". The paper prints no accuracy of either network (Fig. 17 shows confusion
# matrices); 3 points stands for its "a few percent" in the verdict table's glance.
FEW_PERCENT = (0.0, 0.10)
PAPER_FEW = 0.03
# The confusions: "most" of the paper's named confusions (Sec. 5, App. C.8.1; Fig. 18) are the class that gains
# most of the removed class's examples: the share of (network, named removed class) whose largest gain is a
# class the paper names, at least half. The paper's own Fig. 18 names them as what happens: all of them.
MOST = 0.5
PAPER_DATA = "CIFAR-10"  # the paper's dataset; any other is a stand-in (images.load falls back to Fashion-MNIST)
CIFAR_CONFUSIONS = {"airplane": ("bird", "ship"), "cat": ("dog",), "dog": ("cat",),
                    "truck": ("automobile",), "automobile": ("truck",)}  # Sec. 5, App. C.8.1


# Sec. 5 / App. C.8: quick uses narrower CNNs (a quarter of Table 5's channels), ResNet-8
# instead of ResNet-110, fewer steps, and masks at a larger learning rate (so that 200 steps
# train them). smoke only shows that the code runs end to end. The simple CNNs' masks take
# mask_steps, mask_lr, beta and mask_batch (App. C.8.1), the ResNet's the same settings prefixed
# resnet_ (App. C.8.3: 30,000 steps at lr 0.03, beta 2e-5, batch 256).
PROFILES = {
    "smoke": dict(seeds=1, nets=["CNN", "CNN (no dropout)", "ResNet"], widths=[4, 4, 8, 8], resnet_depth=8,
                  resnet_width=4, batch=32, train_steps=10, resnet_steps=10, lr=1e-3, resnet_lr=0.1,
                  mask_steps=4, mask_batch=32, mask_lr=3e-2, beta=1e-4, resnet_mask_steps=4, resnet_mask_batch=32,
                  resnet_mask_lr=3e-2, resnet_beta=2e-5, n_samples=4, n_test=300),
    "quick": dict(seeds=1, nets=["CNN", "CNN (no dropout)", "ResNet"], widths=[8, 16, 32, 64],
                  resnet_depth=8, resnet_width=8, batch=128, train_steps=1000, resnet_steps=1000, lr=1e-3,
                  resnet_lr=0.1, mask_steps=200, mask_batch=128, mask_lr=5e-2, beta=1e-4, resnet_mask_steps=200,
                  resnet_mask_batch=128, resnet_mask_lr=5e-2, resnet_beta=2e-5, n_samples=4, n_test=10_000),
    "paper": dict(seeds=10, nets=["CNN", "CNN (no dropout)", "ResNet"], widths=[32, 64, 128, 256],
                  resnet_depth=110, resnet_width=16, batch=128, train_steps=20_000, resnet_steps=64_000,
                  lr=1e-3, resnet_lr=0.1, mask_steps=20_000, mask_batch=128, mask_lr=1e-3, beta=1e-4,
                  resnet_mask_steps=30_000, resnet_mask_batch=256, resnet_mask_lr=3e-2, resnet_beta=2e-5,
                  n_samples=4, n_test=10_000, dataset=PAPER_DATA),
}

# Quick ResNet-8 masks on Fashion-MNIST, measured (one thread, control mask, 3000 test images; unmasked 86%):
# at the paper's lr 0.03 they keep 99.5% of the weights after 200 steps and a mask without T-shirts costs that
# class 1%; at 0.05, 98% of the weights and 42%. At 0.05 the control mask's accuracy after 200 steps is 67-75% at
# beta 1e-4 and at 2e-5 alike (and still falling at 400 steps, masks not yet settled at either), so quick keeps
# the paper's beta 2e-5. A mask step at batch 256 costs 150 ms against 68 ms at 128.
_RESNET_MASK = ("measured on quick's ResNet-8 (one thread, control mask, 3000 test images, unmasked 86%): at lr 0.05 "
                "the control mask is at 67-75% after 200 steps at beta 1e-4 and 2e-5 alike and still falling at 400, "
                "so at quick the ResNet's class masks are compared with a control mask that is not settled and "
                "11-19 points below the network; a mask step at batch 256 costs 150 ms against 68 ms at 128")
DEVIATIONS = [
    paper.Deviation("seeds", "seeds", "10 (App. C.2)",
                    "one seed at smoke and quick: a seed trains three networks and 11 masks each on a CPU; the "
                    "verdicts say how many seeds they rest on"),
    paper.Deviation("widths", "widths", "32-64-128-256 (Table 5)",
                    f"quick: a quarter of Table 5's channels, to train on a CPU in minutes; {paper.SMOKE}"),
    paper.Deviation("resnet_depth", "resnet_depth", "110 (App. C.8.3)",
                    f"quick: ResNet-8 instead of ResNet-110, the same residual design at a CPU's cost; {paper.SMOKE}"),
    paper.Deviation("resnet_width", "resnet_width", "16 (the CIFAR ResNet of He et al., 2016)",
                    f"quick: half the channels, for a CPU; {paper.SMOKE}"),
    paper.Deviation("batch", "batch", "128 (App. C.2, C.8.3)", paper.SMOKE),
    paper.Deviation("train_steps", "train_steps", "20,000 (App. C.8.1)",
                    f"quick: fewer steps, for a CPU (1000); {paper.SMOKE}"),
    paper.Deviation("resnet_steps", "resnet_steps", "64,000 (App. C.8.3)",
                    f"quick: fewer steps, for a CPU (1000); {paper.SMOKE}"),
    paper.Deviation("mask_steps", "mask_steps", "20,000 per mask (App. C.8.1)",
                    f"quick: 200 steps for each of a simple CNN's 11 masks, at a larger learning rate (mask_lr); "
                    f"{paper.SMOKE}"),
    paper.Deviation("mask_batch", "mask_batch", "128 (App. C.2)", paper.SMOKE),
    paper.Deviation("mask_lr", "mask_lr", "1e-3 (App. C.8.1)",
                    f"quick: masks at a larger learning rate, so that 200 steps train them; {paper.SMOKE}",
                    authors="1e-3 (mask_lr in sweeps/cifar10.yaml, cifar10_no_dropout.yaml and main.py's "
                    "cifar10_class_removal profile): App. C.8.1's learning rate of 1e-3 holds for the masks too"),
    paper.Deviation("beta", "beta", "1e-4 (App. C.8.1)",
                    "the paper's value at every profile, where the authors' sweeps for the simple CNN set 3e-4",
                    authors="3e-4 (mask_loss_weight in sweeps/cifar10.yaml, cifar10_no_dropout.yaml and main.py's "
                    "cifar10_class_removal profile)"),
    paper.Deviation("resnet_mask_steps", "resnet_mask_steps", "30,000 per mask (App. C.8.3)",
                    f"quick: 200 steps for each of the ResNet's 11 masks, as the simple CNNs', at a larger "
                    f"learning rate (resnet_mask_lr); {paper.SMOKE}",
                    authors="30,000 (step_per_mask in sweeps/cifar10_resnet.yaml)"),
    paper.Deviation("resnet_mask_batch", "resnet_mask_batch", "256 (App. C.8.3)",
                    f"quick: 128, the simple CNNs' batch: a ResNet-8 mask step at 256 costs twice as much, past the "
                    f"chapter's CPU budget ({_RESNET_MASK}); {paper.SMOKE}",
                    authors="256 (mask_batch_size in main.py's cifar10_resnet_hp profile); their mask regulariser is "
                    "divided by the weights' batch (128), so their beta 2e-5 acts as 4e-5 at this code's batch 256"),
    paper.Deviation("resnet_mask_lr", "resnet_mask_lr", "0.03 (App. C.8.3)",
                    f"quick: 0.05, so that 200 steps move the masks: at 0.03 they keep 99.5% of the weights and "
                    f"remove nothing a class needs ({_RESNET_MASK}); {paper.SMOKE}",
                    authors="3e-2 (mask_lr in sweeps/cifar10_resnet.yaml)"),
    paper.Deviation("n_test", "n_test", "10,000: the full test set (Sec. 5)", paper.SMOKE),
]
# Declared deviations that the paper profile shares, so that no profile differs from it there: the simple CNNs'
# beta follows the paper (1e-4) where the authors' code differs (3e-4).
AT_EVERY_PROFILE = {"beta"}

CLAIMS = [
    paper.Claim("class-drop", "Removing a class's exclusive weights drops that class's accuracy "
                "substantially, while the other classes barely change",
                "simple CNN 40-60%, ResNet-110 near 100%; others: small", "Sec. 5, Fig. 6",
                tuned=("mask_lr", "resnet_mask_lr")),
    paper.Claim("dropout", "Dropout increases the reliance on class-exclusive weights",
                "30-40% larger drop with dropout", "App. C.8.2, Fig. 18, 19", tuned=("mask_lr",)),
    paper.Claim("confusions", "The removed class is then confused with classes that share features",
                "airplane -> bird, ship; cat <-> dog; truck <-> car", "Sec. 5, App. C.8.1",
                tuned=("mask_lr", "resnet_mask_lr")),
    paper.Claim("dropout-accuracy", "Without dropout the simple CNN is a few percent less accurate",
                "a few percent lower", "App. C.8.2, Fig. 17"),
]


def build(name: str, config: dict, n_classes: int):
    if name == "ResNet":
        return ResNet(config["resnet_depth"], n_classes, config["resnet_width"])
    if name in ("CNN", "CNN (no dropout)"):
        return SimpleCNN(n_classes, dropout=name == "CNN", widths=tuple(config["widths"]))
    raise ValueError(f"net must be one of {NETS}, got {name!r}")


def mask_settings(name: str, config: dict) -> dict:
    """The mask settings ``mask_steps``, ``mask_lr``, ``beta`` and ``mask_batch`` of network ``name``: the
    ResNet's from the settings of the same names prefixed ``resnet_`` (App. C.8.3 gives it its own)."""
    prefix = "resnet_" if name == "ResNet" else ""
    return {key: config[prefix + key] for key in MASK_SETTINGS}


def mask_text(config: dict) -> str:
    """Each network's mask settings in words, as the notebook states what ran."""
    def text(m):
        return (f"{m['mask_steps']:,} steps per mask at batch {m['mask_batch']} "
                f"(lr {m['mask_lr']:g}, beta {m['beta']:g})")
    return (f"simple CNNs {text(mask_settings('CNN', config))}; ResNet {text(mask_settings('ResNet', config))}, "
            "on augmented images")


def _batches(x, y, batch: int, generator: torch.Generator, augment: bool, among=None):
    """Random batches (of the examples ``among``, default all) as float images, each image cropped and
    flipped at random if ``augment`` (images.augment)."""
    def get(step):
        i = torch.randint(0, len(y) if among is None else len(among), (batch,), generator=generator)
        if among is not None:
            i = among[i]
        xb = images.augment(x[i], generator) if augment else x[i]
        return images.as_float(xb), y[i]
    return get


def _loss(model, batch):
    return F.cross_entropy(model(batch[0]), batch[1])


@torch.no_grad()
def confusion_on(model, x, y, n_classes: int, device, chunk: int = 1000) -> torch.Tensor:
    """Confusion counts [true, predicted] of ``model`` on uint8 images ``x``, in chunks."""
    preds = torch.cat([model(images.as_float(x[i:i + chunk]).to(device)).argmax(-1).cpu()
                       for i in range(0, len(y), chunk)])
    return confusion_matrix(preds, y, n_classes)


def network(name: str, config: dict, data: images.Images, seed: int, store: RunStore, device):
    """The network ``name`` trained on all classes (simple CNN: Adam; ResNet: SGD with momentum,
    weight decay, step schedule and augmentation, as App. C.8)."""
    resnet = name == "ResNet"
    steps = config["resnet_steps" if resnet else "train_steps"]
    kw = {}
    if resnet:
        kw = dict(clip=None, optimizer=lambda p: torch.optim.SGD(p, lr=config["resnet_lr"], momentum=0.9,
                                                                weight_decay=1e-4),
                  scheduler=lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [steps // 2, steps * 3 // 4], 0.1))
    keys = {"net": name, "data": data.name, "steps": steps, "batch": config["batch"],
            **({"resnet_depth": config["resnet_depth"], "resnet_width": config["resnet_width"],
                "lr": config["resnet_lr"]} if resnet else {"widths": config["widths"], "lr": config["lr"]})}
    run = store.run("cnn.weights", keys, seed)
    torch.manual_seed(run.seed)
    net = build(name, config, len(data.classes)).to(device)
    train_weights(net, step_batches(lambda g: _batches(data.x_train, data.y_train, config["batch"], g,
                                                       augment=resnet), run.seed),
                  _loss, steps=steps, lr=config["lr"], device=device, desc=f"{name} weights, seed {seed}",
                  checkpoint=run, **kw)
    return net.eval(), keys


def class_mask(name: str, net, keys: dict, config: dict, data: images.Images, seed: int, store: RunStore,
               device, removed: int | None = None, control: Mask | None = None) -> tuple[MaskedModel, Mask]:
    """The control mask (``removed=None``: all classes), or the mask trained without class
    ``removed`` with the output layer fixed to ``control``'s; with the network's own mask settings
    (:func:`mask_settings`). The ResNet's masks see its augmented training images, as the authors' do
    (their ResNet task builds each mask's data with the training augmentation)."""
    masked = MaskedModel(net, n_samples=config["n_samples"])  # fresh logits for every mask
    out = [n for n in masked.names if n.startswith("out.")]
    label = "control" if removed is None else data.classes[removed]
    among = None if removed is None else images.without_classes(data.y_train, (removed,))
    m = mask_settings(name, config)
    cfg = {**keys, **m, "n_samples": config["n_samples"], "removed": removed}
    run = store.run("cnn.mask", cfg, seed, code=(class_mask, network))
    torch.manual_seed(run.seed)
    batches = step_batches(lambda g: _batches(data.x_train, data.y_train, m["mask_batch"], g,
                                              augment=name == "ResNet", among=among), run.seed)
    with masked.fixed(control.select(out)) if removed is not None else nullcontext():
        mask = train_mask(masked, batches, _loss, steps=m["mask_steps"], beta=m["beta"], batch_size=m["mask_batch"],
                          lr=m["mask_lr"], device=device, desc=f"{name} mask {label}, seed {seed}", checkpoint=run)
    if removed is not None:  # the output layer was the control's throughout
        mask = mask.replace({n: control[n] for n in out})
    return masked, mask


def masks(name: str, net, keys: dict, config: dict, data: images.Images, seed: int, store: RunStore,
          device) -> tuple[MaskedModel, dict[str, Mask]]:
    """The control mask and one mask per removed class, output layer fixed to the control's."""
    masked, control = class_mask(name, net, keys, config, data, seed, store, device)
    found = {"control": control}
    for removed, label in enumerate(data.classes):
        masked, found[label] = class_mask(name, net, keys, config, data, seed, store, device, removed, control)
    return masked, found


def weights_stage(config: dict, seed: int, store: RunStore, device, name: str, source: str) -> None:
    """A stage task (weightmask.stages): the network ``name`` trained on all classes."""
    network(name, config, images.load(source), seed, store, device)


def mask_stage(config: dict, seed: int, store: RunStore, device, name: str, source: str,
               removed: int | None = None) -> None:
    """A stage task: the control mask of ``name`` (``removed`` None), or its mask without class ``removed``
    (which reads the control's output layer)."""
    data = images.load(source)
    net, keys = network(name, config, data, seed, store, device)
    control = None if removed is None else class_mask(name, net, keys, config, data, seed, store, device)[1]
    class_mask(name, net, keys, config, data, seed, store, device, removed, control)


def stages(config: dict, seed: int, source: str = "auto") -> list[Stage]:
    """The stages of one seed, for an executor: per network its weights, its control mask, then one mask
    per removed class (each reads the control's output layer)."""
    out, classes = [], images.load(source).classes
    for name in config["nets"]:
        kw = dict(name=name, source=source)
        out += [Stage(f"{name}: weights", weights_stage, kw),
                Stage(f"{name}: control mask", mask_stage, kw, after=(f"{name}: weights",))]
        out += [Stage(f"{name}: mask without {c}", mask_stage, {**kw, "removed": i}, after=(f"{name}: control mask",))
                for i, c in enumerate(classes)]
    return out


def pair_mask(net, keys: dict, config: dict, data: images.Images, seed: int, pair: tuple[int, int],
              mask_seed: int, store: RunStore, device) -> Mask:
    """A mask of a simple CNN ``net`` (at the simple CNN's mask settings) trained on the examples of two
    classes only, with its own mask seed (App. B.1)."""
    masked = MaskedModel(net, n_samples=config["n_samples"])
    others = tuple(c for c in range(len(data.classes)) if c not in pair)
    m = mask_settings("CNN", config)
    cfg = {**keys, **m, "n_samples": config["n_samples"], "pair": list(pair), "mask_seed": mask_seed}
    run = store.run("cnn.pair_mask", cfg, seed, code=(pair_mask, network))
    torch.manual_seed(run.seed)
    among = images.without_classes(data.y_train, others)
    return train_mask(masked, step_batches(lambda g: _batches(data.x_train, data.y_train, m["mask_batch"], g,
                                                              augment=False, among=among), run.seed), _loss,
                      steps=m["mask_steps"], beta=m["beta"], batch_size=m["mask_batch"],
                      lr=m["mask_lr"], device=device, checkpoint=run,
                      desc=f"mask {data.classes[pair[0]]}+{data.classes[pair[1]]}, mask seed {mask_seed}")


def check(config: dict, **arguments) -> None:
    """Each network can be built as configured (its constructor checks widths and ResNet depth); built
    on the meta device: no memory, no draw from the random generator. A profile whose setting ``dataset``
    is the paper's (``paper``) runs on CIFAR-10 or not at all: the parameter ``source`` must reach it (the
    python archive unpacked in the data folder, or the hub), never the Fashion-MNIST stand-in."""
    source = arguments.get("source", "auto")
    if config.get("dataset") == PAPER_DATA:
        from .. import settings
        folder = settings.data_dir() / "cifar-10-batches-py"
        how = (f"unpack the CIFAR-10 python archive (cifar-10-python.tar.gz, https://www.cs.toronto.edu/~kriz/"
               f"cifar.html) into {folder.parent} so that {folder / 'test_batch'} exists (see data/README.md), "
               "or use source='hub' to read uoft-cs/cifar10 from the Hugging Face hub through `datasets` (online)")
        if source == "fashion":
            raise ValueError(f"setting 'dataset' is {PAPER_DATA!r} at this profile (the paper's data) but parameter "
                             f"'source' is 'fashion', the offline stand-in of the smoke and quick profiles: {how}")
        if source in ("auto", "cifar10") and not (folder / "test_batch").is_file():
            raise ValueError(f"setting 'dataset' is {PAPER_DATA!r} at this profile (the paper's data), and parameter "
                             f"'source'={source!r} finds no CIFAR-10 under {folder}"
                             + (" (it would fall back to the Fashion-MNIST stand-in of the smoke and quick profiles)"
                                if source == "auto" else "") + f": {how}")
    with torch.device("meta"):
        for name in config["nets"]:
            try:
                build(name, config, n_classes=10)
            except ValueError as err:
                raise ValueError(f"the settings {'resnet_depth, resnet_width' if name == 'ResNet' else 'widths'} "
                                 f"do not make a {name}: {err}") from None


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto", source: str = "auto") -> dict:
    """Tables ``accuracy`` (per net, seed, mask and class), ``confusion`` (row-normalized, per
    net, seed, mask) and ``data`` (which dataset ran)."""
    checks.experiment("cnn", config, seeds, device, source=source)
    store = store or RunStore()
    device = resolve_device(device)
    data = images.load(source)
    x_test, y_test = data.x_test[:config["n_test"]], data.y_test[:config["n_test"]]
    k = len(data.classes)
    acc_rows, conf_rows = [], []
    for seed in seed_ids(seeds, config["seeds"]):
        for name in config["nets"]:
            net, keys = network(name, config, data, seed, store, device)
            masked, found = masks(name, net, keys, config, data, seed, store, device)
            evaluated = {"unmasked": None, **found}
            for label, m in evaluated.items():
                with masked.fixed(m if m is not None else Mask.full(masked.mask())):
                    c = confusion_on(masked, x_test, y_test, k, device)
                rates = c / c.sum(1, keepdim=True).clamp(min=1)
                acc_rows += [{"net": name, "seed": seed, "mask": label, "class": data.classes[i],
                              "accuracy": float(rates[i, i])} for i in range(k)]
                conf_rows += [{"net": name, "seed": seed, "mask": label, "true": data.classes[i],
                               "predicted": data.classes[j], "fraction": float(rates[i, j])}
                              for i in range(k) for j in range(k)]
    return {"accuracy": pd.DataFrame(acc_rows), "confusion": pd.DataFrame(conf_rows),
            "data": pd.DataFrame([{"name": data.name, "classes": list(data.classes), "test": len(y_test)}])}


def drops(results: dict) -> pd.DataFrame:
    """Per net and removed class: the removed class's relative accuracy drop against the control
    mask (Fig. 6a) and the largest relative drop of another class over it (Fig. 6b)."""
    acc = results["accuracy"].groupby(["net", "mask", "class"])["accuracy"].mean()
    rows = []
    for net in acc.index.unique("net"):
        ctrl = acc[net]["control"]
        for removed in ctrl.index:
            if removed not in acc[net].index.unique("mask"):
                continue
            rel = ((ctrl - acc[net][removed]) / ctrl.clip(lower=1e-9)).clip(lower=0)
            target = float(rel[removed])
            other = float(rel.drop(removed).max())
            rows.append({"net": net, "removed": removed, "drop": target, "other_drop": other,
                         "other_over_target": other / target if target > 0 else float("inf")})
    return pd.DataFrame(rows)


def confused_with(results: dict) -> pd.DataFrame:
    """Per net and removed class, the class that gains most of the removed class's examples."""
    c = results["confusion"].groupby(["net", "mask", "true", "predicted"])["fraction"].mean()
    rows = []
    for net in c.index.unique("net"):
        for removed in c[net].index.unique("mask"):
            if removed in ("control", "unmasked"):
                continue
            gain = (c[net][removed][removed] - c[net]["control"][removed]).drop(removed)
            rows.append({"net": net, "removed": removed, "now predicted as": gain.idxmax(),
                         "gain": float(gain.max())})
    return pd.DataFrame(rows)


def accuracies(results: dict) -> pd.DataFrame:
    """Per net and seed: the accuracy on the test set (mean over classes, the test sets being balanced)
    unmasked and under the control mask (paper Fig. 17)."""
    acc = results["accuracy"]
    acc = acc[acc["mask"].isin(["unmasked", "control"])]
    return acc.pivot_table(index=["net", "seed"], columns="mask", values="accuracy", aggfunc="mean").reset_index()


def accuracy_table(results: dict) -> pd.DataFrame:
    """Per net: the test accuracy unmasked and under the control mask with its 95% interval (over seeds
    where there are several, else the Wilson interval over the test images), as the notebook shows it."""
    acc, n = accuracies(results), test_size(results)
    return pd.DataFrame([{"net": net, **{label: evidence.accuracy(g[col].tolist(), n).text(digits=1)
                                         for col, label in (("unmasked", "unmasked"), ("control", "control mask"))
                                         if col in g}, "seeds": len(g)}
                         for net, g in acc.groupby("net", sort=False)])


def test_size(results: dict) -> int:
    """The test images each accuracy of ``results`` rests on: the run's ``data`` table, else the paper
    profile's (the full test set)."""
    data = results.get("data")
    if data is not None and "test" in data.columns and pd.notna(data.iloc[0]["test"]):
        return int(data.iloc[0]["test"])
    return PROFILES["paper"]["n_test"]


# Figures with intervals: a mean (or median) over units, the removed classes here and the class pairs of the
# trust chapter, from evidence.over_units_by_seed; an accuracy, or a difference of two, from the Wilson intervals
# over its test samples (evidence.accuracy, evidence.difference).

def _ratio(a: Mapping[int, Sequence[float]], b: Mapping[int, Sequence[float]], unit: str) -> evidence.Estimate:
    """mean(a) / mean(b), ``a[seed]`` and ``b[seed]`` paired unit by unit: over several seeds the t-interval of
    the per-seed ratios; from one seed the ratio estimator's interval over the units (its linearisation
    a - R b, so that units where both move together narrow it). Capped at RATIO_CAP."""
    def ratio(x, y):
        return min(statistics.fmean(x) / statistics.fmean(y), RATIO_CAP) if statistics.fmean(y) > 0 else RATIO_CAP
    if len(a) > 1:
        return evidence.over_seeds([ratio(a[s], b[s]) for s in a])
    (x,), (y,) = a.values(), b.values()
    r, k = ratio(x, y), len(x)
    if r == RATIO_CAP or k < 2:
        return evidence.exact(r)
    sd = statistics.stdev([u - r * v for u, v in zip(x, y)])
    half = evidence.t_quantile(k - 1) * sd / (math.sqrt(k) * statistics.fmean(y))
    return evidence.Estimate(r, r - half, r + half, 1, f"1 seed, ratio-estimator interval over {k} {unit}")


def _band(net: str) -> tuple[float, float]:
    """The accepted mean drop of ``net``: the paper's figure widened by its tolerance, within [0, 1]."""
    lo, hi = PAPER_DROP[net]
    return max(round(lo - DROP_TOLERANCE[net], 6), 0.0), min(round(hi + DROP_TOLERANCE[net], 6), 1.0)


def drops_per_seed(results: dict) -> pd.DataFrame:
    """:func:`drops` of every seed on its own, with a column ``seed``."""
    acc = results["accuracy"]
    return pd.concat([drops({"accuracy": acc[acc["seed"] == s]}).assign(seed=s) for s in sorted(acc["seed"].unique())],
                     ignore_index=True)


def _by_seed(d: pd.DataFrame, column: str) -> dict[int, list[float]]:
    return {s: g[column].tolist() for s, g in d.groupby("seed")}


# On stand-in data (any dataset but CIFAR-10) only the qualitative part of a claim is judged. How much a
# class loses without its exclusive weights, and which classes take its examples, depend on how much the
# dataset's classes share features (CIFAR-10's airplanes and ships share blue backgrounds, its cats and dogs
# their shapes; Fashion-MNIST's centred grey items share other things): the 40-60% / ~100% drops, the 1.3-1.4
# dropout ratio, the few points of accuracy dropout adds and the named confusions are CIFAR-10's figures. What
# a class-exclusive module means does not depend on the data: the removed class loses substantially
# (>= SUBSTANTIAL) while the others barely move (<= BARELY of its drop), dropout increases the drop (the drop
# with dropout minus the drop without above 0, the claim's direction), and a network without dropout is less
# accurate.
def _class_drop(d: pd.DataFrame, on_paper_data: bool, where: str) -> paper.Finding:
    """The class-drop claim: each network's mean drop against its paper figure (on the paper's data) or
    against SUBSTANTIAL (stand-in data), and the others' median share of it."""
    tests, text = [], []
    for net, g in d.groupby("net"):
        drop = evidence.over_units_by_seed(_by_seed(g, "drop"), "removed classes", within=(0.0, 1.0))
        other = evidence.over_units_by_seed(_by_seed(g.assign(share=g["other_over_target"].clip(upper=RATIO_CAP)),
                                                     "share"), "removed classes", median=True)
        if on_paper_data:
            lo, hi = _band(net)
            tests.append(evidence.Test(f"{net}: removed class's drop", drop, at_least=lo,
                                       at_most=hi if hi < 1 else None, paper=sum(PAPER_DROP[net]) / 2))
        else:
            tests.append(evidence.Test(f"{net}: removed class's drop", drop, at_least=SUBSTANTIAL))
        tests.append(evidence.Test(f"{net}: other classes' largest drop, share of it (median)", other,
                                   at_most=BARELY, paper=PAPER_OTHER if on_paper_data else None))
        text.append(f"{net}: removed class -{drop.text()}, others at most {other.text()} of that (median)")
    rule = ("each network's mean drop within the paper's figure widened by its tolerance ("
            + ", ".join(f"{n} {_band(n)[0]:.0%}-{_band(n)[1]:.0%}" for n in d["net"].unique() if n in PAPER_DROP)
            + ")" if on_paper_data else
            f"qualitative part only{where} (the drops' sizes are CIFAR-10's figures): each network's mean drop "
            f"at least {SUBSTANTIAL:.0%}") + f"; the other classes' largest drop at most {BARELY:.0%} of it (median)"
    return paper.judged("; ".join(text) + where, tests, rule)


def _dropout(d: pd.DataFrame, on_paper_data: bool, where: str) -> paper.Finding:
    """The dropout claim: the ratio of the two simple CNNs' mean drops against the paper's 1.3-1.4 (on the
    paper's data), or the drop with dropout minus the drop without above 0 (stand-in data: the direction)."""
    if not {"CNN", "CNN (no dropout)"} <= set(d["net"]):
        return paper.Finding("no pair of CNNs", "not comparable", "this run has not both simple CNNs")
    w = d[d["net"] == "CNN"].set_index(["seed", "removed"])["drop"]
    wo = d[d["net"] == "CNN (no dropout)"].set_index(["seed", "removed"])["drop"]
    w, wo = w.align(wo, join="inner")
    seeds = sorted(w.index.unique("seed"))
    a, b = ({s: x.loc[s].tolist() for s in seeds} for x in (w, wo))
    shown = f"with dropout -{w.mean():.0%}, without -{wo.mean():.0%}"
    if on_paper_data:
        lo, hi = round(PAPER_DROPOUT[0] - DROPOUT_TOLERANCE, 6), round(PAPER_DROPOUT[1] + DROPOUT_TOLERANCE, 6)
        ratio = _ratio(a, b, "removed classes")
        return paper.judged(f"{shown}: {ratio.text(percent=False, digits=2, unit='x')} "
                            f"(paper {PAPER_DROPOUT[0]:.2f}-{PAPER_DROPOUT[1]:.2f}x){where}",
                            [evidence.Test("drop with dropout / drop without", ratio, at_least=lo, at_most=hi,
                                           paper=sum(PAPER_DROPOUT) / 2)],
                            f"the drop with dropout over the drop without within the paper's "
                            f"{PAPER_DROPOUT[0]:.2f}-{PAPER_DROPOUT[1]:.2f}x widened to {lo:.2f}-{hi:.2f}x")
    more = evidence.over_units_by_seed({s: [x - y for x, y in zip(a[s], b[s])] for s in seeds}, "removed classes")
    return paper.judged(f"{shown}: the removed class loses {more.points()} more with dropout{where}",
                        [evidence.Test("drop with dropout minus drop without", more, at_least=0.0)],
                        f"qualitative part only{where} (the paper's 30-40% is CIFAR-10's figure): the removed class "
                        "loses more with dropout")


def _confusions(results: dict, where: str) -> paper.Finding:
    """The confusions claim on CIFAR-10: the share of the paper's named confusions that are the largest gain."""
    def named(results):
        c = confused_with(results)
        return c[c["removed"].isin(list(CIFAR_CONFUSIONS))]

    def share(c):
        return float(sum(p in CIFAR_CONFUSIONS[r] for r, p in zip(c["removed"], c["now predicted as"])) / len(c))
    conf, mean = results["confusion"], named(results)
    if mean.empty:
        return paper.Finding(f"ran{where}", "not comparable", "no class the paper names a confusion for was removed")
    seeds = sorted(conf["seed"].unique())
    if len(seeds) > 1:
        found = evidence.over_seeds([share(named({"confusion": conf[conf["seed"] == s]})) for s in seeds])
    else:
        found = dataclasses.replace(evidence.binomial(share(mean), len(mean)),
                                    basis=f"1 seed, Wilson interval over {len(mean)} (network, removed class)")
    pairs = mean.assign(pair=mean["removed"] + " -> " + mean["now predicted as"])
    return paper.judged("; ".join(f"{net}: " + ", ".join(g["pair"]) for net, g in pairs.groupby("net", sort=False))
                        + f": {found.text()} as the paper names{where}",
                        [evidence.Test("share of the paper's named confusions that are the largest gain", found,
                                       at_least=MOST, paper=1.0)],
                        f"at least {MOST:.0%} of the paper's named confusions (airplane -> bird or ship, cat <-> dog, "
                        "truck <-> automobile) are the class that gains most")


def _dropout_accuracy(results: dict, on_paper_data: bool, where: str) -> paper.Finding:
    """Fig. 17: the simple CNN with dropout minus without, accuracy under the control mask: within FEW_PERCENT
    on the paper's data, above 0 on stand-in data."""
    acc = accuracies(results)
    if "control" not in acc or not {"CNN", "CNN (no dropout)"} <= set(acc["net"]):
        return paper.Finding("no pair of CNNs", "not comparable", "this run has not both simple CNNs")
    by = acc.set_index(["net", "seed"])["control"]
    w, wo = by["CNN"].align(by["CNN (no dropout)"], join="inner")
    n = test_size(results)
    diff = evidence.difference(w.tolist(), wo.tolist(), n)
    value = (f"control mask: with dropout {w.mean():.1%}, without {wo.mean():.1%}: "
             f"{diff.points()} with dropout{where}")
    if on_paper_data:
        return paper.judged(value, [evidence.Test("accuracy with dropout minus without", diff,
                                                  at_least=FEW_PERCENT[0], at_most=FEW_PERCENT[1], paper=PAPER_FEW)],
                            f"with dropout more accurate by more than {FEW_PERCENT[0]:.0%} and at most "
                            f"{FEW_PERCENT[1]:.0%} (\"a few percent\")")
    return paper.judged(value, [evidence.Test("accuracy with dropout minus without", diff, at_least=FEW_PERCENT[0])],
                        f"qualitative part only{where} (the size of the loss is CIFAR-10's figure): the simple CNN "
                        "without dropout is less accurate")


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``: against the
    paper's figures on CIFAR-10; on stand-in data, the qualitative part of each claim only."""
    d = drops_per_seed(results)
    data = results["data"].iloc[0]["name"]
    on_paper_data = data.startswith(PAPER_DATA)
    where = f" [{data}]" if on_paper_data else f" on {data.split(' (')[0]} (stand-in for {PAPER_DATA})"
    conf_claim = (_confusions(results, where) if on_paper_data else
                  paper.Finding(f"ran{where}", "not comparable", "the paper's confusions are between CIFAR-10 "
                                "classes; see the table of confusions for this data"))
    unmasked = accuracies(results).groupby("net")["unmasked"].mean()
    return paper.verdict_table("cnn", paper.not_learned(
        {"class-drop": _class_drop(d, on_paper_data, where), "dropout": _dropout(d, on_paper_data, where),
         "confusions": conf_claim, "dropout-accuracy": _dropout_accuracy(results, on_paper_data, where)},
        float(unmasked.min()), threshold=paper.IMAGES_LEARNED))
