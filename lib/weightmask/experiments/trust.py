"""Paper App. B.1, B.2, C.3: how far the method can be trusted.

Masks of two seeds compared on the image chapter's CNN (App. B.1), the CNN's and the SCAN
Transformer's masks on half of their weights, and four checks on the arithmetic networks:
masks applied to only half of the weights (Fig. 7), a sweep of the regularization strength
beta at two network sizes (Fig. 10), the share of weights two operations share as the
network grows (Fig. 11), and the distribution of mask probabilities (Fig. 9). The networks
are the other chapters' (``BUILDS_ON``) at the same profile, so their stages are reused
from the run store when those chapters ran.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import torch

from .. import checks, paper, profiles, seq2seq
from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..metrics import iou, sharing
from ..store import RunStore, derive_seed
from ..tasks import images
from . import addmul, arith_nets, cnn, doubleadd, method, scan, seed_ids

BINS = np.linspace(0, 1, 51)
KEEP = 0.95          # the paper's "> 95% of the original performance"
# App. B.2 / Fig. 7: half-masking costs "only a low drop" for every network but one. Fig. 7's
# bars are not printed and its axis spans 0-100 points; a low drop is at most a tenth of it.
SMALL_DROP = 0.10
# The one exception the paper reports: "the big FNN on the double-addition task, when the early
# layers are masked", whose performance stays "well above the chance level (P = 10^-4)". This
# chapter's accuracy is per pair (chance 1%); the floor is 10% per pair, ten times that chance
# and, for two independent pairs, 1% on both together: a hundred times the paper's P, the
# weakest reading of "well above". The chapter's double-addition FNN is the paper's big one
# (4 x 2000 at the paper profile); the small one (4 x 800) "behaves similarly to all other
# networks" and has no exception. Neither drop of Fig. 7 is printed.
EXCEPTION = ("double-add FNN", "early layers masked")
EXCEPTION_FLOOR = 0.10
HALVES = ("early layers masked", "late layers masked")
# App. B.1: "the mean IoU is 93.26 +- 0.96%" on CIFAR-10, 100 pairs of classes (10 CNNs x 10
# pairs), the simple CNN without dropout. The claim is that masks agree, so only the spread's
# lower end judges it: this run's mean IoU must not fall below the paper's mean minus two of its
# standard deviations (91.3%; a spread of single pairs, so a mean over a few pairs has room to
# spare). The figure is CIFAR-10's: on a stand-in dataset (offline, the chapter runs on
# Fashion-MNIST) the paper gives no number to compare with, and a bound of this book's own
# making is what these rules avoid, so the verdict is "not comparable" there.
STABILITY_PAPER = (0.9326, 0.0096)  # mean, std
STABLE = STABILITY_PAPER[0] - 2 * STABILITY_PAPER[1]
STABILITY_DATA = "CIFAR-10"
STABILITY_NET = "CNN (no dropout)"  # App. B.1: the simple CNN without dropout
BUILDS_ON = ("addmul", "doubleadd", "cnn", "scan")  # the chapters whose networks and masks it reuses
CHOICES = {"images": images.SOURCES}  # allowed values per setting (weightmask.checks)


# App. B.2, C.3: the checks of the method. The add/mul and double-addition networks are
# those chapters' at the same profile; these settings add the beta sweep (Fig. 10, at two
# sizes), the sizes of Fig. 11 and the smaller double-addition FNN of Fig. 7. ``sweep``
# overrides the add/mul mask settings for Fig. 10 and 11 (quick: 14 masks of 1600 steps at
# lr 7.5e-2, whose accuracy and sharing are within 2 points of 2000 steps at 6e-2), and
# ``scan_transformer`` the SCAN chapter's Transformer for the half-masking check (quick: one
# layer at lr 3e-3, 72% of the IID test set in 1500 steps; SCAN's quick runs the LSTM only).
PROFILES = {
    "smoke": dict(seeds=1, betas=[1e-5, 1e-4, 1e-3], sweep_sizes=[[42, 32, 32, 20], [42, 64, 64, 20]],
                  sizes=[[42, 16, 16, 20], [42, 32, 32, 20], [42, 64, 64, 20]],
                  small_doubleadd=[80, 24, 24, 40], pairs=1, images="auto", images_test=300,
                  sweep={}, scan_transformer={}),
    "quick": dict(seeds=1, betas=[1e-5, 1e-4, 1e-3],
                  sweep_sizes=[[42, 200, 200, 100, 20], [42, 400, 400, 200, 20]],
                  sizes=[[42, 100, 100, 50, 20], [42, 200, 200, 100, 20], [42, 400, 400, 200, 20]],
                  small_doubleadd=[80, 200, 200, 100, 40], pairs=3, images="auto", images_test=10_000,
                  sweep=dict(mask_steps=1600, mask_lr=7.5e-2), scan_transformer=dict(layers=1, lr=3e-3)),
    "paper": dict(seeds=10, betas=[1e-6, 3e-6, 1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2],
                  sweep_sizes=[[42] + [800] * 4 + [20], [42] + [2000] * 4 + [20]],
                  sizes=[[42, 400, 400, 200, 20], [42] + [800] * 4 + [20], [42] + [2000] * 4 + [20],
                         [42] + [4000] * 4 + [20]],
                  small_doubleadd=[80] + [800] * 4 + [40], pairs=10, images="auto", images_test=10_000,
                  sweep={}, scan_transformer={}),
}

CLAIMS = [
    paper.Claim("stability", "Masks trained from different seeds agree", "IoU 93.26 ± 0.96%",
                "App. B.1"),
    paper.Claim("half-masking", "Masks applied to only half of the weights cost little accuracy: the "
                "masks select a subnetwork, they do not re-program the network",
                "low drop, except the big double-addition FNN with early layers masked", "App. B.2, Fig. 7"),
    paper.Claim("beta", "The results are insensitive to the exact beta, and beta transfers across network "
                "sizes", "not very sensitive; transfers well", "App. C.3, Fig. 10"),
    paper.Claim("size", "Larger networks share fewer weights (underfitting networks share more)",
                "sharing falls with network size", "App. C.3, C.4, Fig. 11"),
    # the method chapter's rule (method.concentrated), here on every network of Fig. 9
    paper.Claim("binary", "Mask probabilities concentrate at 0 and 1 on every task, so thresholding "
                "at 0.5 is safe", "concentrated at 0 and 1", "Sec. 2 footnote 2, Fig. 9"),
]


def halves(masked: MaskedModel, mask: Mask) -> dict[str, Mask]:
    """``mask`` applied to the early or the late weight layers only (about half of the weights
    each, split by cumulative size in network order), the rest kept whole (App. B.2)."""
    layers = [n for n in masked.names if mask[n].dim() >= 2]  # matrices: attention's in_proj_weight too
    sizes = np.array([mask[n].numel() for n in layers])
    cut = int(np.searchsorted(np.cumsum(sizes), sizes.sum() / 2)) + 1
    cut = min(max(cut, 1), len(layers) - 1)
    early = set(layers[:cut])
    # biases follow the weight matrix of their module
    module = {n: n.rsplit(".", 1)[0] for n in mask}
    early_modules = {module[n] for n in early}
    full = Mask.full(mask)
    is_early = {n: (n in early) or (n not in layers and module[n] in early_modules) for n in mask}
    return {"early layers masked": full.replace({n: mask[n] for n in mask if is_early[n]}),
            "late layers masked": full.replace({n: mask[n] for n in mask if not is_early[n]})}


def _half_rows(model: str, seed: int, masked: MaskedModel, full: Mask, evaluate) -> list[dict]:
    """Mean accuracy over the model's outputs without a mask, with the full-task mask, and with
    it on either half of the weights."""
    rows = []
    variants = {"unmasked": Mask.full(full), "all layers masked": full, **halves(masked, full)}
    for name, m in variants.items():
        with torch.no_grad(), masked.fixed(m):
            acc = evaluate(masked)
        rows.append({"model": model, "seed": seed, "variant": name,
                     "accuracy": float(np.mean([v for k, v in acc.items() if k.startswith("acc_")]))})
    return rows


def _evaluator(problem: str, cfg: dict, device):
    return arith_nets.task(problem, cfg, "full", 0, device)[2]  # the evaluation draws nothing


def _probabilities(masked: MaskedModel) -> torch.Tensor:
    return torch.cat([p.flatten().cpu() for p in masked.probabilities().values()])


def _histogram_rows(tag: dict, probs: torch.Tensor) -> list[dict]:
    counts, _ = np.histogram(probs.numpy(), bins=BINS)
    return [{**tag, "left": BINS[i], "right": BINS[i + 1], "fraction": c / probs.numel()}
            for i, c in enumerate(counts)]


def built_on(profile: str) -> dict[str, dict]:
    """The settings of the chapters of ``BUILDS_ON`` at ``profile``: their stages are shared."""
    return {name: profiles.resolve(name, profile) for name in BUILDS_ON}


def _scan(cfg: dict, config: dict) -> dict:
    """The SCAN chapter's settings ``cfg`` with this chapter's ``scan_transformer`` overrides."""
    return {**cfg, "transformer": {**cfg["transformer"], **config["scan_transformer"]}}


def check(config: dict, profile: str, **arguments) -> None:
    """The overrides name existing settings and, applied, pass the generic rules; the networks fit
    their tasks."""
    others = built_on(profiles.check_profile(profile))
    fnn = addmul.nets(others["addmul"])["FNN"]
    _check_overrides(config, fnn, others["scan"]["transformer"])
    for sizes in config["sweep_sizes"] + config["sizes"]:
        arith_nets.check("addmul", {**fnn, "sizes": sizes})
    arith_nets.check("doubleadd", {**doubleadd.nets(others["doubleadd"])["FNN"], "sizes": config["small_doubleadd"]})
    checks.settings({**fnn, **config["sweep"]})
    checks.settings(_scan(others["scan"], config), scan.CHOICES)
    scan.check(_scan(others["scan"], config))


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto", *, profile: str) -> dict:
    """Tables ``halves`` (Fig. 7), ``sweep`` (Fig. 10), ``sizes`` (Fig. 11), ``histogram`` and
    ``undecided`` (Fig. 9), on the networks of the chapters of ``BUILDS_ON`` at ``profile``."""
    checks.experiment("trust", config, seeds, device, profile=profile)
    store = store or RunStore()
    others = built_on(profile)
    am, da = others["addmul"], doubleadd.nets(others["doubleadd"])
    tables: dict[str, list[dict]] = {k: [] for k in ("halves", "sweep", "sizes", "histogram", "undecided",
                                                      "stability")}
    for seed in seed_ids(seeds, config["seeds"]):
        stability, cnn_halves = _cnn_checks(config, others["cnn"], seed, store, device)
        tables["stability"] += stability
        tables["halves"] += cnn_halves + _scan_halves(_scan(others["scan"], config), seed, store, device)
        # Fig. 7 and Fig. 9 on the chapters' own networks and masks
        nets = {"add/mul FNN": ("addmul", addmul.nets(am)["FNN"]),
                "double-add FNN": ("doubleadd", da["FNN"]),
                "double-add FNN (small)": ("doubleadd", {**da["FNN"], "sizes": config["small_doubleadd"]}),
                "double-add LSTM": ("doubleadd", da["LSTM"])}
        for model, (problem, cfg) in nets.items():
            net, _ = arith_nets.network(problem, cfg, seed, store, device, name=model)
            dev = next(net.parameters()).device
            masked, full, _ = arith_nets.mask(problem, net, cfg, seed, store, device, name=model)
            tables["halves"] += _half_rows(model, seed, masked, full, _evaluator(problem, cfg, dev))
            probs = _probabilities(masked)
            tables["histogram"] += _histogram_rows({"model": model, "seed": seed}, probs)
            tables["undecided"].append({"model": model, "seed": seed,
                                        "between": float(((probs > 0.1) & (probs < 0.9)).float().mean())})
        # Fig. 10 and 11: add and mul masks across beta and network size
        points = [(tuple(s), b) for s in config["sweep_sizes"] for b in config["betas"]]
        points += [(tuple(s), am["beta"]) for s in config["sizes"] if (tuple(s), am["beta"]) not in points]
        for sizes, beta in points:
            cfg = {**addmul.nets(am)["FNN"], **config["sweep"], "sizes": list(sizes), "beta": beta}
            net, log = arith_nets.network("addmul", cfg, seed, store, device, name=f"FNN {list(sizes)}")
            masked, ms = arith_nets.masks("addmul", net, cfg, seed, store, device, name=f"FNN {list(sizes)}",
                                          targets=addmul.OPS)
            layers = arith_nets.weight_layers(masked)
            share = sharing(ms["add"].select(layers), ms["mul"].select(layers))
            evaluate = _evaluator("addmul", cfg, next(net.parameters()).device)
            acc = {}
            for o in addmul.OPS:
                with torch.no_grad(), masked.fixed(ms[o]):
                    acc[o] = evaluate(masked)[f"acc_{o}"]
            row = {"seed": seed, "network": "-".join(map(str, sizes[1:-1])), "weights":
                   int(sum(ms["add"][n].numel() for n in layers)), "beta": beta,
                   "unmasked_add": log[-1]["acc_add"], "unmasked_mul": log[-1]["acc_mul"],
                   "add": acc["add"], "mul": acc["mul"],
                   "shared": float(share["shared"].sum() / share["kept"].sum())}
            if list(sizes) in [list(s) for s in config["sweep_sizes"]] and beta in config["betas"]:
                tables["sweep"].append(row)
            if list(sizes) in [list(s) for s in config["sizes"]] and beta == am["beta"]:
                tables["sizes"].append(row)
    return {k: pd.DataFrame(v) for k, v in tables.items()}


def _check_overrides(config: dict, fnn: dict, transformer: dict) -> None:
    """``sweep`` and ``scan_transformer`` may only override settings that exist, checked before any compute."""
    for key, known in (("sweep", fnn), ("scan_transformer", transformer)):
        unknown = sorted(set(config[key]) - set(known))
        if unknown:
            raise ValueError(f"trust setting {key!r} names unknown settings {unknown}; "
                             f"the settings there are {sorted(known)}")


def _cnn_checks(config: dict, cfg: dict, seed: int, store: RunStore, device) -> tuple[list[dict], list[dict]]:
    """App. B.1: for random pairs of classes, two masks from different seeds on the image
    chapter's CNN without dropout (settings ``cfg``), and their IoU; App. B.2: its control mask
    on half the layers."""
    data = images.load(config["images"])
    device = resolve_device(device)
    net, keys = cnn.network(STABILITY_NET, cfg, data, seed, store, device)
    masked, control = cnn.class_mask(STABILITY_NET, net, keys, cfg, data, seed, store, device)
    x, y = data.x_test[:config["images_test"]], data.y_test[:config["images_test"]]

    def evaluate(model):
        c = cnn.confusion_on(model, x, y, len(data.classes), device)
        return {"acc_all": float(c.diag().sum() / c.sum())}
    halves = _half_rows(f"simple CNN ({data.name.split(' ')[0]})", seed, masked, control, evaluate)
    g = torch.Generator().manual_seed(derive_seed("trust.pairs", seed))
    rows = []
    for _ in range(config["pairs"]):
        pair = tuple(sorted(torch.randperm(len(data.classes), generator=g)[:2].tolist()))
        a, b = (cnn.pair_mask(net, keys, cfg, data, seed, pair, s, store, device) for s in (0, 1))
        da, db = a.density(), b.density()
        rows.append({"seed": seed, "data": data.name, "pair": " + ".join(data.classes[c] for c in pair),
                     "iou": iou(a, b), "density": da,
                     # the IoU of two independent random masks of these densities
                     "chance_iou": da * db / (da + db - da * db) if da + db else 0.0})
    return rows, halves


def _scan_halves(cfg: dict, seed: int, store: RunStore, device) -> list[dict]:
    """App. B.2 on the SCAN chapter's Transformer (settings ``cfg``): its full-problem mask on half
    of the weights, scored on the IID test set."""
    device = resolve_device(device)
    net, keys = scan.network("Transformer", cfg, seed, store, device)
    masked, full = scan.mask("Transformer", net, keys, cfg, seed, store, device, on=scan.FULL)
    test = scan.evaluated("simple", cfg["n_test"])

    def evaluate(model):
        return {"acc_iid": seq2seq.sequence_accuracy(model, test, device, forced=True)}
    return _half_rows("SCAN Transformer", seed, masked, full, evaluate)


def _kept(df: pd.DataFrame) -> pd.Series:
    """Per row: the worse operation's mask accuracy relative to the unmasked network's."""
    return np.minimum(df["add"] / df["unmasked_add"], df["mul"] / df["unmasked_mul"])


def _stability(st: pd.DataFrame) -> tuple[str, str, str]:
    """App. B.1 against the paper's IoU on CIFAR-10; on another dataset not comparable."""
    mean_iou, data = float(st["iou"].mean()), str(st["data"].iloc[0])
    value = (f"mean IoU {mean_iou:.1%} ± {st['iou'].std(ddof=0):.1%} over {len(st)} class pairs "
             f"(random masks of the same densities: {st['chance_iou'].mean():.1%}; {data})")
    if not data.startswith(STABILITY_DATA):
        return (value, "not comparable",
                f"the paper's IoU is on {STABILITY_DATA}; this run used {data.split(' (')[0]}, a stand-in "
                "for which the paper gives no figure")
    stable = mean_iou >= STABLE
    return (value, "reproduced" if stable else "not reproduced",
            f"{'at least' if stable else 'below'} the paper's mean minus two standard deviations, "
            f"{STABILITY_PAPER[0]:.2%} - 2 x {STABILITY_PAPER[1]:.2%} = {STABLE:.2%}")


def _half_masking(halves: pd.DataFrame) -> tuple[str, str, str]:
    """App. B.2: every drop at most SMALL_DROP, but the paper's exception, which must stay well above chance."""
    h = halves.groupby(["model", "variant"])["accuracy"].mean().unstack("variant")
    drops = (h["unmasked"].to_numpy()[:, None] - h[list(HALVES)]).stack()
    exception = drops.index.isin([EXCEPTION])
    judged = drops[~exception]
    small = bool((judged <= SMALL_DROP).all())
    worst = judged.idxmax()
    value = f"largest drop {judged.max():.1%} ({worst[0]}, {worst[1]}); " + "; ".join(
        f"{m}: {judged[m].max():.1%}" for m in judged.index.unique(0))
    kept = True
    if exception.any():  # an allowance: a drop beyond SMALL_DROP must leave it well above chance
        left = float(h.loc[EXCEPTION])
        kept = float(drops[EXCEPTION]) <= SMALL_DROP or left >= EXCEPTION_FLOOR
        value += (f"; the paper's exception ({EXCEPTION[0]}, {EXCEPTION[1]}): drop {drops[EXCEPTION]:.1%}, "
                  f"{left:.1%} left")
    ok = small and kept
    why = (f"every drop but the paper's exception is at most {SMALL_DROP:.0%}, and the exception drops no more or "
           f"keeps at least {EXCEPTION_FLOOR:.0%} (ten times chance)" if ok else
           f"at least one network other than the paper's exception loses more than {SMALL_DROP:.0%}" if not small
           else f"the paper's exception falls below {EXCEPTION_FLOOR:.0%} (ten times chance)")
    return value, "reproduced" if ok else "not reproduced", why


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``."""
    stability = _stability(results["stability"])
    halves_claim = _half_masking(results["halves"])

    sw = results["sweep"].copy()
    sw["ok"] = _kept(sw) >= KEEP
    by = sw.groupby(["network", "beta"])["ok"].mean().unstack("network") >= 0.5
    ranges = {n: (by.index[by[n]].min(), by.index[by[n]].max()) if by[n].any() else None for n in by}
    wide = all(r is not None and r[1] / r[0] >= 10 for r in ranges.values())
    largest = [r[1] if r else None for r in ranges.values()]
    transfers = wide and len(set(largest)) == 1
    beta_claim = ("; ".join(f"{n}: > {KEEP:.0%} kept for beta in "
                            + (f"[{r[0]:g}, {r[1]:g}]" if r else "none") for n, r in ranges.items()),
                  "reproduced" if transfers else "not reproduced",
                  "every size keeps > 95% over at least a decade of beta, and the largest such beta "
                  "is the same for both sizes" if transfers else
                  "a size keeps > 95% over less than a decade of beta, or the sizes' largest good beta differ")

    sz = results["sizes"].groupby("weights")["shared"].mean().sort_index()
    fewer = bool((np.diff(sz.to_numpy()) < 0).all()) and len(sz) > 1
    size_claim = ("; ".join(f"{w:,} weights: {s:.0%} shared" for w, s in sz.items()),
                  "reproduced" if fewer else "not reproduced",
                  "the share of add's weights also used by mul falls with every increase in size" if fewer
                  else "the share does not fall with every increase in size")

    binary = method.concentrated(results["undecided"].groupby("model")["between"].mean().to_dict())

    learned = float(np.minimum(results["sizes"]["unmasked_add"], results["sizes"]["unmasked_mul"]).max())
    return paper.verdict_table("trust", {
        "stability": stability,
        "half-masking": halves_claim,
        "beta": beta_claim,
        "size": paper.not_learned({"size": size_claim}, learned)["size"],
        "binary": binary,
    })
