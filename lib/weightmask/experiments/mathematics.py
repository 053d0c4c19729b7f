"""Paper Sec. 4 and App. C.7.2: do the hard samples of the Mathematics Dataset need their own weights?

Per task, the Transformer of Saxton et al. is trained on all three difficulties and frozen.
One mask is trained on all difficulties (the IID control) and one on the easy split only;
the network without a mask and under each mask is then scored on the hard validation set
(greedy decoding, exact sequence match; computed in one teacher-forced pass, which gives the
same answer: see ``seq2seq.decoded_correct``). Weights that only hard samples need are missing
from the easy mask, although the same rules govern every difficulty.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
import torch

from .. import checks, paper, seq2seq
from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..models import Seq2SeqTransformer
from ..store import RunStore
from ..tasks import mathematics
from ..tasks.text import Vocabulary
from ..training import step_batches, train_mask, train_weights
from . import seed_ids

MASKS = ("no mask", "IID mask", "easy mask")  # Fig. 5's bars
CHOICES = {"evaluate": mathematics.DIFFICULTIES}  # allowed values per setting (weightmask.checks)
# A task is "learned" when the unmasked network solves at least this share of its hard validation set.
# The paper chose its tasks so that they "should have good performance without masking" (App. C.7.2; Fig. 5
# draws the unmasked networks' hard accuracies as bars, without numbers): read as solving a clear majority
# of the hard questions. A lower bar would admit networks that mostly solve the easier samples the hard
# split also holds (App. C.7.2: "the hard test set's performance will be nonzero even if none of the hard
# samples are solved correctly"), whose easy mask then has little to lose.
LEARNED = 0.70
KEEP = 0.95  # the easy mask "loses accuracy" when it keeps less than this share of the hard accuracy
#              of the IID mask and of the unmasked network (App. C.3's bar for a mask that keeps it)
Z95 = 1.96   # and when each of those drops lies outside the 95% interval of the binomial noise of the
#              hard validation set: z of the difference of two proportions, each on that set's n questions


# Sec. 4 / App. C.7.2: the Transformer of Saxton et al., per-task settings of Table 4. quick
# runs a much smaller Transformer at a 10x larger learning rate, on fewer samples and steps, on the
# two tasks with the shortest sequences and the fastest generation (1-3 minutes, cold).
PROFILES = {
    "smoke": dict(seeds=1, n_train=60, n_val=20, data_seed=0, d_model=16, d_ff=32, heads=2, layers=1,
                  dropout=0.0, lr=1e-3, n_samples=8, evaluate=["easy", "hard"],
                  tasks={"comparison__sort": dict(batch=16, steps=10, warmup=0, mask_batch=16, mask_steps=5,
                                                  mask_lr=0.03, beta=1e-5)}),
    "quick": dict(seeds=1, n_train=10_000, n_val=300, data_seed=0, d_model=32, d_ff=64, heads=4, layers=2,
                  dropout=0.0, lr=1e-3, n_samples=8, evaluate=["easy", "hard"],
                  tasks={"comparison__sort": dict(batch=64, steps=1500, warmup=0, mask_batch=64,
                                                  mask_steps=150, mask_lr=0.03, beta=3e-6),
                         "arithmetic__add_or_sub": dict(batch=64, steps=1500, warmup=0, mask_batch=64,
                                                        mask_steps=150, mask_lr=0.03, beta=2e-5)}),
    "paper": dict(seeds=5, n_train=656_666, n_val=10_000, data_seed=0, d_model=256, d_ff=512, heads=4, layers=3,
                  dropout=0.1, lr=1e-4, n_samples=8, evaluate=["easy", "hard"],
                  tasks={"arithmetic__add_or_sub": dict(batch=256, steps=30_000, warmup=0, mask_batch=256,
                                                        mask_steps=30_000, mask_lr=0.03, beta=2e-5),
                         "algebra__linear_1d": dict(batch=512, steps=200_000, warmup=5000, mask_batch=400,
                                                    mask_steps=50_000, mask_lr=0.02, beta=1e-6),
                         "calculus__differentiate": dict(batch=128, steps=40_000, warmup=0, mask_batch=128,
                                                         mask_steps=40_000, mask_lr=0.03, beta=1e-5),
                         "comparison__sort": dict(batch=256, steps=30_000, warmup=0, mask_batch=256,
                                                  mask_steps=30_000, mask_lr=0.03, beta=3e-6),
                         "polynomials__collect": dict(batch=128, steps=200_000, warmup=5000, mask_batch=256,
                                                      mask_steps=50_000, mask_lr=0.02, beta=1e-6)}),
}

CLAIMS = [
    paper.Claim("easy-mask-drop", "A mask trained on the easy split loses accuracy on the hard split, compared "
                "with the IID mask and the unmasked network: hard samples rely on weights the easy ones do not "
                "need, although the same rules govern both", "a consistent drop in every task (bar chart, "
                "5 seeds per task)", "Sec. 4, Fig. 5, App. C.7.2"),
]


def vocabulary() -> Vocabulary:
    """The generator's characters (``mathematics_dataset.generate_settings.QUESTION_CHARS``), shared
    by questions and answers."""
    return Vocabulary(mathematics.CHARS, tokenize="chars")


def _adam(config: dict):
    """Adam as App. C.7.2 (lr 1e-4, eps 1e-9, betas 0.9 / 0.995) with the task's linear warm-up."""
    def optimizer(params):
        return torch.optim.Adam(params, lr=config["lr"], betas=(0.9, 0.995), eps=1e-9)

    def scheduler(opt):
        warmup = config["warmup"]
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup)) if warmup else None
    return optimizer, scheduler


def network(task: str, config: dict, train: seq2seq.Encoded, seed: int, store: RunStore, device):
    """The Transformer trained on all difficulties of ``task``, and its run-store keys."""
    t = config["tasks"][task]
    keys = {"task": task, "n_train": config["n_train"], "n_val": config["n_val"], "data_seed": config["data_seed"],
            **{k: config[k] for k in ("d_model", "d_ff", "heads", "layers", "dropout", "lr")},
            **{k: t[k] for k in ("batch", "steps", "warmup")}}
    run = store.run("mathematics.weights", keys, seed)
    torch.manual_seed(run.seed)
    v = len(vocabulary())
    net = Seq2SeqTransformer(v, v, config["d_model"], config["heads"], config["d_ff"], config["layers"],
                             config["dropout"], tie=True).to(device)
    optimizer, scheduler = _adam({**config, "warmup": t["warmup"]})
    train_weights(net, step_batches(lambda g: seq2seq.batches(train, t["batch"], g), run.seed), seq2seq.loss,
                  steps=t["steps"], optimizer=optimizer, scheduler=scheduler, clip=1.0, device=device,
                  desc=f"{task} weights, seed {seed}", checkpoint=run)
    return net.eval(), keys


def mask(task: str, net, keys: dict, config: dict, split: str, train: seq2seq.Encoded, seed: int,
         store: RunStore, device) -> tuple[MaskedModel, Mask]:
    """The mask trained on ``train``: all difficulties (``split="IID"``) or the easy split."""
    t = config["tasks"][task]
    masked = MaskedModel(net, n_samples=config["n_samples"])
    cfg = {**keys, "split": split, "n_samples": config["n_samples"],
           **{k: t[k] for k in ("mask_steps", "mask_lr", "mask_batch", "beta")}}
    run = store.run("mathematics.mask", cfg, seed, code=(mask, network))
    torch.manual_seed(run.seed)
    found = train_mask(masked, step_batches(lambda g: seq2seq.batches(train, t["mask_batch"], g), run.seed),
                       seq2seq.loss, steps=t["mask_steps"], beta=t["beta"], batch_size=t["mask_batch"],
                       lr=t["mask_lr"], device=device, desc=f"{task} {split} mask, seed {seed}",
                       checkpoint=run)
    return masked, found


def data(task: str, config: dict) -> dict[str, dict[str, seq2seq.Encoded]]:
    """``{"train" | "validation": {difficulty | "all": Encoded}}`` of ``task`` (App. C.7.2 splits)."""
    s = mathematics.splits(task, config["n_train"], config["n_val"], config["data_seed"])
    v = vocabulary()
    out = {part: {d: seq2seq.Encoded.of(p, v) for d, p in by.items()} for part, by in s.items()}
    out["train"]["all"] = seq2seq.Encoded.of([x for d in mathematics.DIFFICULTIES for x in s["train"][d]], v)
    return out


def select(config: dict, tasks: Iterable[str] | None) -> dict:
    """``config`` restricted to ``tasks`` (None: all of the profile's), each with its profile settings."""
    if tasks is None:
        return config
    if not isinstance(tasks, (list, tuple)) or not tasks or any(t not in config["tasks"] for t in tasks):
        raise ValueError(f"parameter 'tasks' must be None or a list of some of this profile's tasks "
                         f"{list(config['tasks'])}, got {tasks!r}")
    return {**config, "tasks": {t: config["tasks"][t] for t in tasks}}


def check(config: dict, tasks: Iterable[str] | None = None, **arguments) -> None:
    """Known tasks, ``tasks`` among the profile's, attention heads that split the width."""
    for task in config["tasks"]:
        mathematics.check(task)
    select(config, tasks)
    if config["d_model"] % config["heads"]:
        raise ValueError(f"setting 'heads' must divide 'd_model': {config['d_model']} is not a multiple of "
                         f"{config['heads']}")


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto", tasks: Iterable[str] | None = None) -> dict:
    """Tables ``accuracy`` (task, seed, mask, difficulty evaluated, accuracy), ``masks`` (density
    per task, seed and mask) and ``data`` (samples per task, difficulty and part), for ``tasks``
    (None: every task of ``config``)."""
    checks.experiment("mathematics", config, seeds, device, tasks=tasks)
    config = select(config, tasks)
    store = store or RunStore()
    device = resolve_device(device)
    seeds = seed_ids(seeds, config["seeds"])
    acc, dens, sizes = [], [], []
    for task in config["tasks"]:
        d = data(task, config)
        sizes += [{"task": task, "difficulty": diff, "part": part, "samples": len(d[part][diff])}
                  for part in ("train", "validation") for diff in mathematics.DIFFICULTIES]
        for seed in seeds:
            net, keys = network(task, config, d["train"]["all"], seed, store, device)
            masked, iid = mask(task, net, keys, config, "IID", d["train"]["all"], seed, store, device)
            _, easy = mask(task, net, keys, config, "easy", d["train"]["easy"], seed, store, device)
            for label, m in zip(MASKS, (Mask.full(iid), iid, easy)):
                dens.append({"task": task, "seed": seed, "mask": label, "density": m.density()})
                with masked.fixed(m):
                    for diff in config["evaluate"]:
                        acc.append({"task": task, "seed": seed, "mask": label, "evaluated on": diff,
                                    "accuracy": seq2seq.sequence_accuracy(masked, d["validation"][diff], device,
                                                                                forced=True)})
    return {"accuracy": pd.DataFrame(acc), "masks": pd.DataFrame(dens), "data": pd.DataFrame(sizes)}


def hard_accuracy(results: dict) -> pd.DataFrame:
    """Mean hard-validation accuracy per task (rows) and mask (columns, Fig. 5's order)."""
    a = results["accuracy"]
    a = a[a["evaluated on"] == "hard"]
    return a.groupby(["task", "mask"])["accuracy"].mean().unstack("mask")[list(MASKS)]


def hard_samples(results: dict) -> pd.Series:
    """Per task, how many hard validation questions each accuracy was measured on."""
    d = results["data"]
    return d[(d["part"] == "validation") & (d["difficulty"] == "hard")].set_index("task")["samples"]


def noise(p: float, q: float, n: int) -> float:
    """Half-width of the 95% interval of the difference of two proportions ``p`` and ``q``, each on ``n``
    questions. The seeds score the same questions, so ``n`` is the number of questions, not questions x
    seeds: what the questions drawn add does not average out over seeds. The masks, too, score the same
    questions; taking them as independent overstates the noise, so the test errs towards "not reproduced"."""
    return Z95 * math.sqrt((p * (1 - p) + q * (1 - q)) / max(n, 1))


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claim beside the paper's, with a verdict computed from ``results``: every task is
    reported; each learned one must show an easy-mask drop against both the IID mask and the unmasked
    network that is at least 1 - KEEP of it and outside the binomial noise of the hard validation set."""
    h = hard_accuracy(results)
    n = hard_samples(results)
    parts, failed = [], []
    for t, r in h.iterrows():
        head = f"{t}: {r['no mask']:.0%} / {r['IID mask']:.0%} / {r['easy mask']:.0%}"
        if r["no mask"] < LEARNED:
            parts.append(f"{head} (not learned: no mask < {LEARNED:.0%})")
            continue
        q = int(n[t])
        refs = {"IID mask": "the IID mask", "no mask": "the unmasked network"}
        drop = {ref: r[ref] - r["easy mask"] for ref in refs}
        band = {ref: noise(r[ref], r["easy mask"], q) for ref in refs}
        keeps = [refs[ref] for ref in refs if r["easy mask"] >= KEEP * r[ref]]
        within = [refs[ref] for ref in refs if r["easy mask"] < KEEP * r[ref] and drop[ref] <= band[ref]]
        if keeps:
            failed.append(f"{t}: the easy mask keeps >= {KEEP:.0%} of the hard accuracy of {' and '.join(keeps)}")
        if within:
            failed.append(f"{t}: the drop against {' and '.join(within)} is within the noise of {q:,} questions")
        parts.append(f"{head} (learned; easy mask {-drop['IID mask'] * 100:+.0f} / {-drop['no mask'] * 100:+.0f} "
                     f"points vs IID mask / no mask, 95% noise ±{max(band.values()) * 100:.0f} on {q:,} questions)")
    value = "hard accuracy no mask / IID mask / easy mask: " + "; ".join(parts)
    learned = len(parts) - sum("(not learned" in p for p in parts)
    ok = learned > 0 and not failed
    claim = (value, "reproduced" if ok else "not reproduced",
             f"in every task the network learned (>= {LEARNED:.0%} unmasked), the easy mask keeps less than "
             f"{KEEP:.0%} of the hard accuracy of both the IID mask and the unmasked network, and both drops lie "
             "outside the 95% binomial noise of the hard validation set" if ok else "; ".join(failed))
    return paper.verdict_table("mathematics", paper.not_learned(
        {"easy-mask-drop": claim}, float(h["no mask"].max()), threshold=LEARNED))


def describe(config: dict, results: dict, profile: str) -> str:
    """One paragraph for the page: what ran, on how many samples, with which network."""
    sizes = results["data"].groupby(["task", "part"])["samples"].sum().unstack("part")
    seeds = results["accuracy"]["seed"].nunique()
    runs = "; ".join(f"`{t}`: {r['train']:,} training and {r['validation']:,} validation samples, "
                     f"{config['tasks'][t]['steps']:,} steps, masks {config['tasks'][t]['mask_steps']:,} steps at "
                     f"beta {config['tasks'][t]['beta']:g}" for t, r in sizes.iterrows())
    return (f"Profile **{profile}**, {seeds} seed(s), data from DeepMind's generator (`mathematics_dataset`, "
            f"seed {config['data_seed']}), {config['n_val']:,} validation samples per difficulty. "
            f"Transformer d_model {config['d_model']}, d_ff {config['d_ff']}, {config['heads']} heads, "
            f"{config['layers']}+{config['layers']} layers, {config['n_samples']} mask samples per batch. {runs}.")
