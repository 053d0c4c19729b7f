"""Paper Sec. 4 and App. C.7.2: do the hard samples of the Mathematics Dataset need their own weights?

Per task, the Transformer of Saxton et al. is trained on all three difficulties and frozen.
One mask is trained on all difficulties (the IID control) and one on the easy split only;
the network without a mask and under each mask is then scored on the hard validation set
(greedy decoding, exact sequence match; computed in one teacher-forced pass, which gives the
same answer: see ``seq2seq.decoded_correct``). Weights that only hard samples need are missing
from the easy mask, although the same rules govern every difficulty.
"""
from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import torch

from .. import checks, evidence, paper, seq2seq
from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..models import Seq2SeqTransformer
from ..stages import Stage
from ..store import RunStore
from ..tasks import mathematics
from ..tasks.text import Vocabulary
from ..training import step_batches, train_mask, train_weights
from . import seed_ids
from .scan import TRANSFORMER_DIFFERENCES

MASKS = ("no mask", "IID mask", "easy mask")  # Fig. 5's bars
# allowed values per setting (weightmask.checks); ``data``: where the samples come from (tasks.mathematics.SOURCES)
CHOICES = {"evaluate": mathematics.DIFFICULTIES, "data": mathematics.SOURCES}
# A task is "learned" when the unmasked network solves at least this share of its hard validation set.
# The paper chose its tasks so that they "should have good performance without masking" (App. C.7.2; Fig. 5
# draws the unmasked networks' hard accuracies as bars, without numbers): read as solving a clear majority
# of the hard questions. A lower bar would admit networks that mostly solve the easier samples the hard
# split also holds (App. C.7.2: "the hard test set's performance will be nonzero even if none of the hard
# samples are solved correctly"), whose easy mask then has little to lose.
LEARNED = 0.70
# The easy mask "loses accuracy" (Sec. 4: "a consistent performance drop"; Fig. 5 prints no numbers) when its
# hard accuracy is below this share of the IID mask's and of the unmasked network's: App. C.3's bar for a mask
# that keeps a task (> 95% of the original performance). Judged on the interval of each share: over seeds
# where there are several, else from the Wilson intervals of the two accuracies on the hard validation set
# (MOVER-R, evidence.ratio), so a drop within the binomial noise of that set is "inconclusive".
KEEP = 0.95


# Sec. 4 / App. C.7.2: the Transformer of Saxton et al., per-task settings of Table 4. quick
# runs a much smaller Transformer at a 10x larger learning rate, on fewer samples and steps, on the
# two tasks with the shortest sequences and the fastest generation (1-3 minutes, cold). The samples
# come from DeepMind's generator at smoke and quick (offline), from the released train split at paper
# where the hub or its cache answers, else from the generator (its Arrow cache memory-maps) (``data``).
PROFILES = {
    "smoke": dict(seeds=1, data="generator", n_train=60, n_val=20, data_seed=0, d_model=16, d_ff=32, heads=2, layers=1,
                  dropout=0.0, lr=1e-3, n_samples=8, evaluate=["easy", "hard"],
                  tasks={"comparison__sort": dict(batch=16, steps=10, warmup=0, mask_batch=16, mask_steps=5,
                                                  mask_lr=0.03, beta=1e-5)}),
    "quick": dict(seeds=1, data="generator", n_train=10_000, n_val=300, data_seed=0, d_model=32, d_ff=64, heads=4,
                  layers=2,
                  dropout=0.0, lr=1e-3, n_samples=8, evaluate=["easy", "hard"],
                  tasks={"comparison__sort": dict(batch=64, steps=1500, warmup=0, mask_batch=64,
                                                  mask_steps=150, mask_lr=0.03, beta=3e-6),
                         "arithmetic__add_or_sub": dict(batch=64, steps=1500, warmup=0, mask_batch=64,
                                                        mask_steps=150, mask_lr=0.03, beta=2e-5)}),
    "paper": dict(seeds=5, data="auto", n_train=656_666, n_val=10_000, data_seed=0, d_model=256, d_ff=512, heads=4,
                  layers=3,
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


class _PerTask(paper.Deviation):
    """A setting of every task of a profile (``tasks.*.steps``): its value is ``{task: value}``; ``tasks``
    itself: the list of the profile's tasks."""

    def value(self, config: dict):
        if self.setting == "tasks":
            return list(config["tasks"])
        key = self.setting.split(".")[-1]
        return {task: t[key] for task, t in config["tasks"].items()}


# One per setting of smoke or quick that differs from the paper (App. C.7.2 and its Table 4), with the reasons
# of the comment above PROFILES; a task's settings are shown for every task of a profile at once.
_SMALL = "quick runs a much smaller Transformer, on fewer samples and steps, in 1-3 CPU minutes; " + paper.SMOKE
# measured with benchmarks/mathematics_schedule.py (seed 0, one core, validation accuracy every 500 steps)
_UNLEARNED = ("quick's Transformer does not learn its tasks in a CPU's minutes: on add_or_sub it answers 0% of "
              "the hard questions after 1500 steps and 0-2% (easy 5-12%) from 3000 to 8000 steps (8 minutes), on "
              "sort 0% (easy 2-6%) up to 4000 steps (5 minutes), so quick's verdict is 'not comparable' (below the "
              "70% of a learned network) and the claim is judged at paper")
_TABLE4 = "Table 4: add_or_sub {}, linear_1d {}, differentiate {}, sort {}, collect {}"
DIFFERENCES = TRANSFORMER_DIFFERENCES  # the Transformer's architecture against the authors' (scan.py)
DEVIATIONS = [
    paper.Deviation("seeds", "seeds", "5 per task (Fig. 5)", "one seed fits a CPU's minutes; " + paper.SMOKE),
    paper.Deviation("n_train", "n_train", "the official train set less 10,000 per difficulty (App. C.7.2)", _SMALL),
    paper.Deviation("n_val", "n_val", "10,000 per difficulty (App. C.7.2)",
                    "300 questions per difficulty at quick, for its CPU minutes (the intervals carry their binomial "
                    "noise); " + paper.SMOKE),
    paper.Deviation("data", "data", "the released train sets, split per difficulty (App. C.7.2)",
                    "smoke and quick generate the samples with DeepMind's generator, offline (the released samples "
                    "come from the same generator); paper reads the released train split through `datasets` where "
                    "the hub or its cache answers (auto), the generator otherwise"),
    paper.Deviation("d_model", "d_model", "256 (App. C.7.2)", _SMALL,
                    authors="512 (main.py's deepmind_math profile, which the dm_math sweeps keep); the paper "
                    "profile follows the paper's text"),
    paper.Deviation("d_ff", "d_ff", "512 (App. C.7.2)", _SMALL, authors="4 x d_model (deepmind_math profile)"),
    paper.Deviation("heads", "heads", "4 (App. C.7.2)", paper.SMOKE, authors="8 (deepmind_math profile)"),
    paper.Deviation("layers", "layers", "3 + 3 (App. C.7.2)", _SMALL, authors="6 + 6 (deepmind_math profile)"),
    paper.Deviation("dropout", "dropout", "0.1 (Saxton et al.'s Transformer)",
                    "the small quick Transformer without dropout (no other reason is recorded)"),
    paper.Deviation("lr", "lr", "1e-4 (App. C.7.2)",
                    "a 10x larger learning rate for the small Transformer's few steps; " + _UNLEARNED),
    _PerTask("tasks", "tasks", "five tasks (App. C.7.2)",
             "quick runs two of the five (the tasks with the shortest sequences and the fastest generation), so "
             "its verdict rests on those two; the page names the three not run; " + paper.SMOKE),
    _PerTask("batch", "tasks.*.batch", _TABLE4.format(256, 512, 128, 256, 128), "batch 64 at quick; " + paper.SMOKE),
    _PerTask("steps", "tasks.*.steps", _TABLE4.format("30k", "200k", "40k", "30k", "200k"),
             "1500 steps at quick (1-3 CPU minutes); " + _UNLEARNED + "; " + paper.SMOKE),
    _PerTask("mask_batch", "tasks.*.mask_batch", _TABLE4.format(256, 400, 128, 256, 256),
             "batch 64 at quick; " + paper.SMOKE),
    _PerTask("mask_steps", "tasks.*.mask_steps", _TABLE4.format("30k", "50k", "40k", "30k", "50k"),
             "150 steps at quick; " + paper.SMOKE),
    _PerTask("beta", "tasks.*.beta", _TABLE4.format("2e-5", "1e-6", "1e-5", "3e-6", "1e-6"),
             "quick keeps Table 4's; " + paper.SMOKE),
]

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


# The masks (``mask``): Adam at Table 4's learning rate with PyTorch's defaults (betas 0.9 / 0.999, eps 1e-8),
# as the authors' mask stages (tasks/task.py, set_mask_stage); App. C.7.2's eps and betas are those of the
# network's optimizer (DeepmindMathTask.create_optimizer), beside its lr 1e-4. Their regularizer is divided by the
# network's batch size, also where the masks' differs (Table 4: linear_1d, collect): beta = batch * alpha. The
# loss is theirs: cross-entropy summed over each answer's tokens, averaged over the batch (``LOSS``), against
# which Table 4's betas are set. Embeddings and biases are left unmasked, layer norms masked whole, as the
# authors' runs (the "deepmind_math" profile sets bias_no_mask: 1; their mask_filter skips every "embedding"):
# seq2seq.unmasked.
LOSS = "sequence"


def _adam(config: dict):
    """The network's Adam as App. C.7.2 (lr 1e-4, eps 1e-9, betas 0.9 / 0.995) with the task's linear warm-up."""
    def optimizer(params):
        return torch.optim.Adam(params, lr=config["lr"], betas=(0.9, 0.995), eps=1e-9)

    def scheduler(opt):
        warmup = config["warmup"]
        return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warmup)) if warmup else None
    return optimizer, scheduler


def network(task: str, config: dict, train: seq2seq.Encoded, seed: int, store: RunStore, device):
    """The Transformer trained on all difficulties of ``task``, and its run-store keys."""
    t = config["tasks"][task]
    keys = {"task": task, "data": mathematics.resolve(config["data"], task), "n_train": config["n_train"],
            "n_val": config["n_val"], "data_seed": config["data_seed"],
            **{k: config[k] for k in ("d_model", "d_ff", "heads", "layers", "dropout", "lr")},
            **{k: t[k] for k in ("batch", "steps", "warmup")}}
    run = store.run("mathematics.weights", keys, seed)
    torch.manual_seed(run.seed)
    v = len(vocabulary())
    net = Seq2SeqTransformer(v, v, config["d_model"], config["heads"], config["d_ff"], config["layers"],
                             config["dropout"], tie=True).to(device)
    optimizer, scheduler = _adam({**config, "warmup": t["warmup"]})
    train_weights(net, step_batches(lambda g: seq2seq.batches(train, t["batch"], g), run.seed), _loss,
                  steps=t["steps"], optimizer=optimizer, scheduler=scheduler, clip=1.0, device=device,
                  desc=f"{task} weights, seed {seed}", checkpoint=run)
    return net.eval(), keys


def _loss(model, batch):
    return seq2seq.loss(model, batch, per=LOSS)


def mask(task: str, net, keys: dict, config: dict, split: str, train: seq2seq.Encoded, seed: int,
         store: RunStore, device) -> tuple[MaskedModel, Mask]:
    """The mask trained on ``train``: all difficulties (``split="IID"``) or the easy split."""
    t = config["tasks"][task]
    masked = MaskedModel(net, n_samples=config["n_samples"], exclude=seq2seq.unmasked(net))
    cfg = {**keys, "split": split, "n_samples": config["n_samples"],
           **{k: t[k] for k in ("mask_steps", "mask_lr", "mask_batch", "beta")}}
    run = store.run("mathematics.mask", cfg, seed, code=(mask, network))
    torch.manual_seed(run.seed)
    found = train_mask(masked, step_batches(lambda g: seq2seq.batches(train, t["mask_batch"], g), run.seed),
                       _loss, steps=t["mask_steps"], beta=t["beta"], batch_size=t["batch"],
                       lr=t["mask_lr"], device=device, desc=f"{task} {split} mask, seed {seed}",
                       checkpoint=run)
    return masked, found


def data(task: str, config: dict) -> dict[str, dict[str, seq2seq.Encoded]]:
    """``{"train" | "validation": {difficulty | "all": Encoded}}`` of ``task`` (App. C.7.2 splits)."""
    s = mathematics.splits(task, config["n_train"], config["n_val"], config["data_seed"],
                           source=mathematics.resolve(config["data"], task))
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


def weights_stage(config: dict, seed: int, store: RunStore, device, task: str) -> None:
    """A stage task (weightmask.stages): the Transformer trained on ``task``'s training set."""
    network(task, config, data(task, config)["train"]["all"], seed, store, device)


def mask_stage(config: dict, seed: int, store: RunStore, device, task: str, split: str) -> None:
    """A stage task: the mask of ``task``'s Transformer on all its training data (``IID``) or on ``easy``."""
    d = data(task, config)
    net, keys = network(task, config, d["train"]["all"], seed, store, device)
    mask(task, net, keys, config, split, d["train"]["all" if split == "IID" else split], seed, store, device)


def stages(config: dict, seed: int, tasks: Iterable[str] | None = None) -> list[Stage]:
    """The stages of one seed, for an executor: per task the Transformer, then its IID and easy masks."""
    out = []
    for task in select(config, tasks)["tasks"]:
        out.append(Stage(f"{task}: weights", weights_stage, dict(task=task)))
        out += [Stage(f"{task}: mask {split}", mask_stage, dict(task=task, split=split), after=(f"{task}: weights",))
                for split in ("IID", "easy")]
    return out


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
        source = mathematics.resolve(config["data"], task)
        sizes += [{"task": task, "source": source, "difficulty": diff, "part": part, "samples": len(d[part][diff])}
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


def hard_questions(results: dict) -> dict[str, int]:
    """Per task, how many hard validation questions each accuracy was measured on, from the run's ``data``
    table; none without one (a table written before it had one: the verdict takes the paper's 10,000)."""
    d = results.get("data")
    if d is None or not len(d):
        return {}
    return {str(t): int(n) for t, n in hard_samples(results).items()}


def _shares(a: pd.DataFrame, task: str, ref: str, n: int) -> evidence.Estimate:
    """The easy mask's hard accuracy as a share of ``ref``'s: over seeds where there are several."""
    h = a[(a["task"] == task) & (a["evaluated on"] == "hard")].pivot_table(index="seed", columns="mask",
                                                                            values="accuracy")
    q, p = h["easy mask"].tolist(), h[ref].tolist()
    if min(p) <= 0:
        # ref solves no hard question, so the easy mask cannot fall below it: its share counts as 1 + q (no
        # drop). evidence.ratio would refuse a 0 (one seed) or floor it at one question (several seeds), which
        # turns an easy mask that solves none either into a drop to 0
        return evidence.over_seeds([x / y if y > 0 else 1.0 + x for x, y in zip(q, p)])
    return evidence.ratio(q, p, n)


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claim beside the paper's, with a verdict computed from ``results``: every task is
    reported; in each learned one the easy mask must keep less than KEEP of the hard accuracy of both the
    IID mask and the unmasked network, over the whole interval of each share."""
    h = hard_accuracy(results)
    n = hard_questions(results)
    parts, tests = [], []
    for t, r in h.iterrows():
        head = f"{t}: {r['no mask']:.0%} / {r['IID mask']:.0%} / {r['easy mask']:.0%}"
        if r["no mask"] < LEARNED:
            parts.append(f"{head} (not learned: no mask < {LEARNED:.0%})")
            continue
        q = n.get(t, PROFILES["paper"]["n_val"])
        kept = {ref: _shares(results["accuracy"], t, ref, q) for ref in ("IID mask", "no mask")}
        tests += [evidence.Test(f"{t}: easy mask / {ref}", e, at_most=KEEP) for ref, e in kept.items()]
        parts.append(f"{head} (learned; the easy mask keeps {kept['IID mask'].text()} / {kept['no mask'].text()} "
                     f"of the IID mask's / unmasked network's, on {q:,} questions)")
    missing = [t for t in PROFILES["paper"]["tasks"] if t not in h.index]
    value = (f"{len(h)} of the paper's {len(PROFILES['paper']['tasks'])} tasks"
             + (f" ({', '.join(missing)} not run)" if missing else "")
             + "; hard accuracy no mask / IID mask / easy mask: " + "; ".join(parts))
    rule = (f"rule: in every task the network learned (>= {LEARNED:.0%} unmasked), the easy mask keeps less than "
            f"{KEEP:.0%} of the hard accuracy of both the IID mask and the unmasked network")
    if tests:
        claim = paper.judged(value, tests, rule)
    else:
        claim = (value, "not comparable", "no task was learned")
    return paper.verdict_table("mathematics", paper.not_learned(
        {"easy-mask-drop": claim}, float(h["no mask"].max()), threshold=LEARNED))


SOURCE_TEXT = {"generator": "from DeepMind's generator (`mathematics_dataset`, seed {seed})",
               "hub": f"from the released train split (`{mathematics.HUB}` through `datasets`)"}


def describe(config: dict, results: dict, profile: str) -> str:
    """One paragraph for the page: what ran, on how many samples, with which network."""
    sizes = results["data"].groupby(["task", "part"])["samples"].sum().unstack("part")
    seeds = results["accuracy"]["seed"].nunique()
    runs = "; ".join(f"`{t}`: {r['train']:,} training and {r['validation']:,} validation samples, "
                     f"{config['tasks'][t]['steps']:,} steps, masks {config['tasks'][t]['mask_steps']:,} steps at "
                     f"beta {config['tasks'][t]['beta']:g}" for t, r in sizes.iterrows())
    d = results["data"]
    sources = set(d["source"]) if "source" in d else {"generator"}
    source = " and ".join(SOURCE_TEXT[x].format(seed=config["data_seed"]) for x in sorted(sources))
    missing = [t for t in PROFILES["paper"]["tasks"] if t not in set(sizes.index)]
    return (f"Profile **{profile}**, {seeds} seed(s), data {source}, {config['n_val']:,} validation samples per "
            f"difficulty. Tasks: {len(sizes)} of the paper's {len(PROFILES['paper']['tasks'])}"
            + (f" ({', '.join(f'`{t}`' for t in missing)} not run at this profile). " if missing else ". ")
            + f"Transformer d_model {config['d_model']}, d_ff {config['d_ff']}, {config['heads']} heads, "
            f"{config['layers']}+{config['layers']} layers, {config['n_samples']} mask samples per batch. {runs}.")
