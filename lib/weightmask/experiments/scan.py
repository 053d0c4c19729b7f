"""Paper Sec. 4 and App. C.7.1: do the SCAN networks solve new combinations with shared weights?

An LSTM encoder-decoder (Lake & Baroni, 2018) and a Transformer are trained on the IID
(``simple``) split, which ensures the weights can solve the whole problem, and frozen. A
mask trained on the full problem (all 20,910 commands) keeps that ability; a mask trained on
a split's training set keeps only what those commands need. If the test commands of a
systematic split needed only rules shared with the training commands, the split's mask
would solve them too; a gap shows combination-specific weights. Fig. 15 trains the
networks in ``direct`` directly on the splits in ``direct_splits``, without masks, as Lake &
Baroni did.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable

import pandas as pd
import torch

from .. import checks, paper, seq2seq
from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..models import Seq2SeqLSTM, Seq2SeqTransformer
from ..store import RunStore
from ..tasks import scan
from ..tasks.text import Vocabulary
from ..training import step_batches, train_mask, train_weights
from . import seed_ids

NETS = ("LSTM", "Transformer")
FULL = "full problem"  # the mask trained on all commands
SYSTEMATIC = ("length", "addprim_jump", "addprim_turn_left")  # the splits whose test set differs systematically
CHOICES = {"nets": NETS, "direct": NETS, "direct_splits": scan.SPLITS}  # allowed values per setting (weightmask.checks)
OUTPUT = "out.weight"  # the output layer: row i serves output token i (Fig. 4b)
EMBEDDINGS = "*_embed.*"  # left unmasked (App. C.7.1)
GAP = 0.20     # accuracy lost by the split's mask against the full-problem mask that counts as a "large gap"
SOLVED = 0.90  # mean test accuracy of the full-problem masks at which the frozen network "solves the problem"
# Fig. 4b: "Almost half of the weights corresponding to 'I_JUMP' are removed" (Sec. 4), read as 40-50% of
# the output weights the full-problem mask keeps for I_JUMP (the bar's number is not printed). Accepted with
# 10 points either side: the figure is the mean of 10 seeds, a run with fewer seeds scatters around it, and
# "almost" puts no exact lower edge on it. I_JUMP must also lose the largest share of any token.
PAPER_JUMP = (0.40, 0.50)
JUMP_TOLERANCE = 0.10


# Sec. 4 / App. C.7.1: the IID networks, a mask on the full problem and one per split; Fig. 15
# trains the networks in ``direct`` on the splits in ``direct_splits``. quick runs the LSTM only:
# its Transformer solves ~80% of the IID test set after 1500 steps (~4 minutes), so the chapter
# could not judge it, and twice that does not fit; the trust chapter still trains it. quick: narrower and
# shallower networks at batch 64 (one step of the 128-unit LSTM costs ~150 ms on one core, so
# 64 units); the LSTM without dropout at lr 5e-3; the Transformer at lr 2e-3 (at 1e-3 it solved
# 84% of the IID test set after 1500 steps) with beta 1e-4 (at 1e-3 its quick masks kept 28% of
# the weights and lost the task); Fig. 15 for the LSTM on add-jump only; masks for 250 steps at
# lr 3e-2 with 2 samples per batch (at 1e-2 an unused weight's logit needs about 220 steps just
# to fall from logit(0.9) to 0); the LSTM's masks at beta 2e-4 (at the paper's 3e-5 they keep
# ~80% of the weights after 250 steps and show no gap; at 3e-4 the full-problem mask falls to
# 80% accuracy, and 500 steps at 1e-4 lose more than 250 at 2e-4); 500 test commands per split.
PROFILES = {
    "smoke": dict(seeds=1, nets=["LSTM", "Transformer"], direct=["LSTM"], direct_splits=["simple", "length"],
                  batch=32, clip=5.0, teacher_forcing=0.5, mask_steps=5, mask_batch=32, mask_lr=1e-2,
                  n_samples=4, n_test=20,
                  lstm=dict(embed=16, hidden=16, layers=2, dropout=0.5, steps=10, lr=1e-3, beta=3e-5),
                  transformer=dict(d_model=16, heads=2, d_ff=32, layers=1, dropout=0.1, steps=10, lr=1e-3,
                                   beta=1e-3)),
    "quick": dict(seeds=1, nets=["LSTM"], direct=["LSTM"],
                  direct_splits=["simple", "addprim_jump"], batch=64, clip=5.0, teacher_forcing=0.5,
                  mask_steps=250, mask_batch=64, mask_lr=3e-2, n_samples=2, n_test=500,
                  lstm=dict(embed=16, hidden=64, layers=2, dropout=0.0, steps=1200, lr=5e-3, beta=2e-4),
                  transformer=dict(d_model=64, heads=4, d_ff=128, layers=2, dropout=0.1, steps=1500, lr=2e-3,
                                   beta=1e-4)),
    "paper": dict(seeds=10, nets=["LSTM", "Transformer"], direct=["LSTM", "Transformer"],
                  direct_splits=["simple", "length", "addprim_jump", "addprim_turn_left"], batch=256, clip=5.0,
                  teacher_forcing=0.5, mask_steps=25_000, mask_batch=256, mask_lr=1e-2, n_samples=4,
                  n_test=100_000,
                  lstm=dict(embed=16, hidden=200, layers=2, dropout=0.5, steps=25_000, lr=1e-3, beta=3e-5),
                  transformer=dict(d_model=100, heads=4, d_ff=200, layers=3, dropout=0.1, steps=25_000,
                                   lr=1e-3, beta=1e-3)),
}

CLAIMS = [
    paper.Claim("gap", "Masks trained on a split's training set lose accuracy on its systematically "
                "different test set, although the frozen network solves the full problem: the solution "
                "needs combination-specific weights", "large generalization gap", "Sec. 4, Fig. 4a"),
    paper.Claim("both", "The gap appears for both the LSTM and the Transformer", "both networks",
                "Sec. 4, Fig. 4a; App. B.4"),
    paper.Claim("jump", "On the add-jump split the LSTM decoder's output layer loses the largest share of "
                "its weights for I_JUMP", "almost half of I_JUMP's weights removed", "Sec. 4, Fig. 4b"),
]


@functools.cache
def vocabularies() -> tuple[Vocabulary, Vocabulary]:
    """The 13 command words and the 6 actions (plus padding, start and end tokens)."""
    pairs = scan.commands()
    return Vocabulary.of(c for c, _ in pairs), Vocabulary.of(a for _, a in pairs)


@functools.cache
def encoded(split: str) -> tuple[seq2seq.Encoded, seq2seq.Encoded]:
    """(train, test) of ``split`` as id tensors; ``FULL``: every command, as train and test."""
    src, tgt = vocabularies()
    if split == FULL:
        every = seq2seq.Encoded.of(list(scan.commands()), src, tgt)
        return every, every
    train, test = scan.load_split(split)
    return seq2seq.Encoded.of(train, src, tgt), seq2seq.Encoded.of(test, src, tgt)


def evaluated(split: str, n: int) -> seq2seq.Encoded:
    """At most ``n`` test examples of ``split``: the same random subset for every run."""
    test = encoded(split)[1]
    keep = torch.randperm(len(test), generator=torch.Generator().manual_seed(0))[:n]
    return test.subset(keep.sort().values)


def build(name: str, config: dict) -> torch.nn.Module:
    src, tgt = vocabularies()
    if name == "LSTM":
        c = config["lstm"]
        return Seq2SeqLSTM(len(src), len(tgt), c["embed"], c["hidden"], c["layers"], c["dropout"])
    if name == "Transformer":
        c = config["transformer"]
        return Seq2SeqTransformer(len(src), len(tgt), c["d_model"], c["heads"], c["d_ff"], c["layers"],
                                  c["dropout"])
    raise ValueError(f"net must be one of {NETS}, got {name!r}")


def _batches(data: seq2seq.Encoded, batch: int, generator: torch.Generator, forcing: float):
    """``step -> (src, tgt, teacher_forced)``: teacher forcing with probability ``forcing`` per batch."""
    get = seq2seq.batches(data, batch, generator)

    def draw(step: int):
        src, tgt = get(step)
        return src, tgt, bool(torch.rand((), generator=generator) < forcing)
    return draw


def _loss(model, batch):
    src, tgt, forced = batch
    return seq2seq.loss(model, (src, tgt), **({} if forced else {"teacher_forcing": False}))


def _forcing(name: str, config: dict) -> float:
    """The LSTM is teacher-forced in half of the batches, the Transformer always (App. C.7.1)."""
    return config["teacher_forcing"] if name == "LSTM" else 1.0


def network(name: str, config: dict, seed: int, store: RunStore, device, split: str = "simple"):
    """The network ``name`` trained on ``split``'s training set (``simple``: the IID network)."""
    c = config[name.lower()]
    keys = {"net": name, **c, "batch": config["batch"], "clip": config["clip"],
            "teacher_forcing": _forcing(name, config), "train": split}
    keys.pop("beta")  # a mask setting
    run = store.run("scan.weights", keys, seed)
    torch.manual_seed(run.seed)
    net = build(name, config).to(device)
    batches = step_batches(lambda g: _batches(encoded(split)[0], config["batch"], g, _forcing(name, config)),
                           run.seed)
    train_weights(net, batches, _loss, steps=c["steps"], lr=c["lr"], clip=config["clip"], device=device,
                  desc=f"{name} on {split}, seed {seed}", checkpoint=run)
    return net.eval(), keys


def mask(name: str, net, keys: dict, config: dict, seed: int, store: RunStore, device,
         on: str = FULL) -> tuple[MaskedModel, Mask]:
    """The mask of the frozen ``net`` trained on ``on``: a split's training set, or ``FULL``."""
    masked = MaskedModel(net, n_samples=config["n_samples"], exclude=EMBEDDINGS)
    beta = config[name.lower()]["beta"]
    cfg = {**keys, "mask_steps": config["mask_steps"], "mask_lr": config["mask_lr"], "beta": beta,
           "n_samples": config["n_samples"], "mask_batch": config["mask_batch"], "mask_on": on}
    run = store.run("scan.mask", cfg, seed, code=(mask, network))
    torch.manual_seed(run.seed)
    batches = step_batches(lambda g: _batches(encoded(on)[0], config["mask_batch"], g, _forcing(name, config)),
                           run.seed)
    found = train_mask(masked, batches,
                       _loss, steps=config["mask_steps"], beta=beta, batch_size=config["mask_batch"],
                       lr=config["mask_lr"], clip=config["clip"], device=device, graph=False,
                       desc=f"{name} mask on {on}, seed {seed}", checkpoint=run)
    return masked, found


def _accuracy(model, split: str, config: dict, device) -> float:
    """Greedy sequence accuracy on ``split``'s evaluated test examples (one teacher-forced pass)."""
    return seq2seq.sequence_accuracy(model, evaluated(split, config["n_test"]), device, forced=True)


def removed_per_token(full: Mask, split: Mask) -> pd.DataFrame:
    """Per output token: the share of its output-layer weights that ``full`` keeps and ``split``
    removes, among those ``full`` keeps (paper Fig. 4b)."""
    kept = full[OUTPUT]
    removed = (kept & ~split[OUTPUT]).sum(1).float() / kept.sum(1).clamp(min=1).float()
    tgt = vocabularies()[1]
    return pd.DataFrame([{"token": tgt.itos[i], "kept": int(kept[i].sum()), "removed": float(removed[i])}
                         for i in range(len(tgt)) if tgt.itos[i] not in ("<pad>", "<sos>")])


def check(config: dict, **arguments) -> None:
    """The Transformer's heads split its width."""
    t = config["transformer"]
    if t["d_model"] % t["heads"]:
        raise ValueError(f"setting 'transformer.heads' must divide 'transformer.d_model': {t['d_model']} is not a "
                         f"multiple of {t['heads']}")


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto") -> dict:
    """Tables ``accuracy`` (net, seed, setting, split), ``removed`` (Fig. 4b: LSTM, per seed and
    output token), ``density`` (net, seed, mask) and ``data`` (split sizes, evaluated examples)."""
    checks.experiment("scan", config, seeds, device)
    store = store or RunStore()
    device = resolve_device(device)
    acc, removed, density = [], [], []
    for seed in seed_ids(seeds, config["seeds"]):
        for name in config["nets"]:
            net, keys = network(name, config, seed, store, device)
            masked, full = mask(name, net, keys, config, seed, store, device)
            density.append({"net": name, "seed": seed, "mask": FULL, "density": full.density()})
            for split in scan.SPLITS:
                _, own = mask(name, net, keys, config, seed, store, device, on=split)
                density.append({"net": name, "seed": seed, "mask": split, "density": own.density()})
                row = {"net": name, "seed": seed, "split": split}
                acc.append({**row, "setting": "unmasked", "accuracy": _accuracy(net, split, config, device)})
                for setting, m in ((FULL, full), ("split mask", own)):
                    with masked.fixed(m):
                        acc.append({**row, "setting": setting, "accuracy": _accuracy(masked, split, config, device)})
                if name in config["direct"] and split in config["direct_splits"]:
                    direct = net if split == "simple" else network(name, config, seed, store, device, split)[0]
                    acc.append({**row, "setting": "trained on split",
                                "accuracy": _accuracy(direct, split, config, device)})
                if name == "LSTM" and split == "addprim_jump":
                    removed += [{"net": name, "seed": seed, **r} for r in
                                removed_per_token(full, own).to_dict("records")]
    data = [{"split": s, "train": len(encoded(s)[0]), "test": len(encoded(s)[1]),
             "evaluated": len(evaluated(s, config["n_test"]))} for s in scan.SPLITS]
    return {"accuracy": pd.DataFrame(acc), "removed": pd.DataFrame(removed, columns=["net", "seed", "token",
                                                                                      "kept", "removed"]),
            "density": pd.DataFrame(density), "data": pd.DataFrame(data)}


LABELS = {"unmasked": "IID network, no mask", FULL: "mask on the full problem", "split mask": "mask on the split",
          "trained on split": "trained on the split, no mask"}


def bars(results: dict, settings: Iterable[str], nets: Iterable[str] | None = None) -> pd.DataFrame:
    """The accuracy rows of ``settings``, labelled "net, setting" (column ``mask``) in the order
    given, settings first: one bar colour per label (paper Fig. 4a, 15)."""
    a = results["accuracy"]
    nets = list(nets) if nets is not None else list(a["net"].unique())
    parts = [a[(a["setting"] == s) & (a["net"] == n)].assign(mask=f"{n}, {LABELS[s]}")
             for s in settings for n in nets]
    return pd.concat([p for p in parts if len(p)], ignore_index=True)


def gaps(results: dict) -> pd.DataFrame:
    """Per net and split: mean test accuracy of the full-problem mask (``full``) and of the split's
    own mask (``own``), and the gap between them (paper Fig. 4a)."""
    a = results["accuracy"]
    a = a[a["setting"].isin([FULL, "split mask"])].groupby(["net", "split", "setting"])["accuracy"].mean()
    t = a.unstack("setting").rename(columns={FULL: "full", "split mask": "own"}).reset_index()
    return t.assign(gap=t["full"] - t["own"])[["net", "split", "full", "own", "gap"]]


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results``."""
    g = gaps(results)
    sys_g = g[g["split"].isin(SYSTEMATIC)]
    by_net = sys_g.groupby("net")[["full", "own", "gap"]].mean()
    solved = g.groupby("net")["full"].mean()
    mean_gap = float(by_net["gap"].mean())
    ok = bool(mean_gap >= GAP and (solved >= SOLVED).all())
    gap_claim = (f"full-problem masks {g['full'].mean():.0%} on all test sets; on length / add jump / add turn "
                 f"left: full {sys_g['full'].mean():.0%} vs split {sys_g['own'].mean():.0%} "
                 f"(gap {mean_gap:+.0%})",
                 "reproduced" if ok else "not reproduced",
                 f"the full-problem masks reach >= {SOLVED:.0%} and the split masks lose >= {GAP:.0%} on the "
                 "systematic splits (mean over nets)" if ok else
                 f"the full-problem masks reach < {SOLVED:.0%} or the split masks lose < {GAP:.0%} on the "
                 "systematic splits (mean over nets)")
    if set(NETS) <= set(by_net.index):
        every = bool((by_net["gap"] >= GAP).all())
        both_claim = ("; ".join(f"{n}: gap {r['gap']:+.0%}" for n, r in by_net.iterrows()),
                      "reproduced" if every else "not reproduced",
                      f"each network's mean gap on the systematic splits is >= {GAP:.0%}" if every else
                      f"a network's mean gap on the systematic splits is < {GAP:.0%}")
    else:
        both_claim = (f"ran {sorted(by_net.index)}", "not comparable", "this run has not both networks")
    r = results["removed"]
    if len(r):
        share = r.groupby("token")["removed"].mean().sort_values(ascending=False)
        top = share.index[0]
        other = share.index[1] if top == "I_JUMP" else top
        jump = float(share["I_JUMP"])
        lo, hi = round(PAPER_JUMP[0] - JUMP_TOLERANCE, 6), round(PAPER_JUMP[1] + JUMP_TOLERANCE, 6)
        near = lo <= jump <= hi
        largest = "the largest share" if top == "I_JUMP" else f"less than {top}'s"
        why = [f"I_JUMP's output weights lose {largest}",
               f"{jump:.0%} is {'within' if near else 'outside'} the paper's 'almost half' "
               f"({PAPER_JUMP[0]:.0%}-{PAPER_JUMP[1]:.0%}) widened to {lo:.0%}-{hi:.0%}"]
        jump_claim = (f"I_JUMP loses {jump:.0%}, {other} {share[other]:.0%}"
                      f"{' (the next largest)' if top == 'I_JUMP' else ' (the largest)'}",
                      "reproduced" if top == "I_JUMP" and near else "not reproduced", "; ".join(why))
    else:
        jump_claim = ("no LSTM in this run", "not comparable", "the claim is about the LSTM decoder")
    a = results["accuracy"]
    iid = a[(a["setting"] == "unmasked") & (a["split"] == "simple")].groupby("net")["accuracy"].mean()
    # each claim is vacuous if a network it is about has not learned the IID split
    jump = paper.not_learned({"jump": jump_claim}, float(iid.get("LSTM", 1.0)))
    return paper.verdict_table("scan", {**paper.not_learned({"gap": gap_claim, "both": both_claim},
                                                            float(iid.min())), **jump})


def _net_text(name: str, config: dict) -> str:
    """How network ``name`` was built, trained and masked, for ``describe``."""
    c = config[name.lower()]
    if name == "LSTM":
        shape = (f"{c['layers']} layers of {c['hidden']} units, embeddings of {c['embed']}, dropout "
                 f"{c['dropout']:g}, teacher forcing in {config['teacher_forcing']:.0%} of the batches")
    else:
        shape = f"d_model {c['d_model']}, {c['heads']} heads, d_ff {c['d_ff']}, {c['layers']}+{c['layers']} layers"
    return f"**{name}**: {shape}, {c['steps']:,} steps at lr {c['lr']:g}, masks at beta {c['beta']:g}."


def describe(config: dict, results: dict, profile: str) -> str:
    """One paragraph for the page: what ran, on which data, with which networks and masks."""
    d = results["data"]
    sizes = ", ".join(f"`{r.split}` {r.train:,} / {r.test:,}" for r in d.itertuples())
    a = results["accuracy"]
    iid = a[(a["setting"] == "unmasked") & (a["split"] == "simple")].groupby("net")["accuracy"].mean()
    seeds = a["seed"].nunique()
    return (f"Profile **{profile}**, {seeds} seed(s). Splits (train / test): {sizes}. Test accuracy is the share "
            "of test commands whose greedy decoding is exactly right, on "
            f"{', '.join(f'{n:,}' for n in d['evaluated'])} "
            "test commands per split (computed in one teacher-forced pass: greedy decoding reproduces a target "
            "exactly iff every step predicts it from the true prefix). "
            + " ".join(_net_text(n, config) for n in config["nets"])
            + f" Batch {config['batch']}, clipping {config['clip']:g}. Masks: {config['mask_steps']:,} steps at lr "
            f"{config['mask_lr']:g}, batch {config['mask_batch']} in {config['n_samples']} samples; embeddings "
            "unmasked. The IID networks solve " + " and ".join(f"{v:.1%} ({n})" for n, v in iid.items())
            + " of the `simple` test set.")
