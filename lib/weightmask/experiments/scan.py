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

from .. import checks, evidence, paper, seq2seq
from ..device import resolve_device
from ..mask import Mask
from ..masking import MaskedModel
from ..models import Seq2SeqLSTM, Seq2SeqTransformer
from ..stages import Stage
from ..store import RunStore
from ..tasks import hub, scan
from ..tasks.text import Vocabulary
from ..training import step_batches, train_mask, train_weights
from . import seed_ids

NETS = ("LSTM", "Transformer")
FULL = "full problem"  # the mask trained on all commands
SYSTEMATIC = ("length", "addprim_jump", "addprim_turn_left")  # the splits whose test set differs systematically
# allowed values per setting (weightmask.checks); ``data``: where the commands come from (tasks.scan.SOURCES)
CHOICES = {"nets": NETS, "direct": NETS, "direct_splits": scan.SPLITS, "data": scan.SOURCES}
OUTPUT = "out.weight"  # the output layer: row i serves output token i (Fig. 4b)
# The masks leave embeddings (App. C.7.1) and biases alone, as the authors' SCAN runs (main.py's "scan" profile,
# which "trafo_scan" includes, sets bias_no_mask: 1; their mask_filter skips every "embedding"), and mask the
# Transformer's layer norms whole, as theirs (their LayerNorm's shift is "beta", no "bias"): seq2seq.unmasked.
# The task loss is theirs too: cross-entropy summed over each target's tokens, averaged over the batch
# (interfaces/recurrent/encoder_decoder_interface.py, interfaces/transformer/): App. C.7.1's beta is set against
# it. A mean per token would weigh the regularizer ~15 times more (SCAN's targets average 15.3 tokens).
LOSS = "sequence"
CONTROL = "simple"  # the IID split's mask: what a mask trained on part of the commands drops without a systematic shift
# The IID split's test set holds 4,182 commands, the systematic ones 3,920 / 7,706 / 1,208 (Lake & Baroni's splits,
# tests/test_scan.py): the paper evaluates whole test sets. A results table without a ``data`` table (written
# before it had one) is taken at these sizes.
TEST_SIZES = {"simple": 4182, "length": 3920, "addprim_jump": 7706, "addprim_turn_left": 1208}
# "the large generalization gap in Fig. 4a" (Sec. 4; the bars print no numbers). A gap is the full-problem
# mask's accuracy minus the split mask's, on the split's test set, mean over the systematic splits (and nets).
# 20 points counts as large: App. C.3 calls a mask that keeps > 95% of the performance one that keeps it, so
# 20 points is four times what a mask may lose and still "keep" a task; and the text's argument rests on the
# systematic splits, whose directly trained accuracies (Lake & Baroni: 13.8% length, 0.08% add jump) are tens of
# points below what the frozen IID weights can do. Judged on the interval of the mean gap.
GAP = 0.20
# The frozen IID network "is capable of solving the full problem" (Sec. 4), so the full-problem mask must keep it:
# its mean test accuracy over the four test sets at least the book's bar for a learned task (paper.LEARNED).
SOLVED = paper.LEARNED
# Fig. 4b: "Almost half of the weights corresponding to 'I_JUMP' are removed" (Sec. 4), read as 40-50% of
# the output weights the full-problem mask keeps for I_JUMP (the bar's number is not printed). Accepted with
# 10 points either side: the figure is the mean of 10 seeds, a run with fewer seeds scatters around it, and
# "almost" puts no exact lower edge on it. I_JUMP must also lose the largest share of any token (ties count
# as largest: the rule asks for no token above it).
PAPER_JUMP = (0.40, 0.50)
JUMP_TOLERANCE = 0.10
# Sec. 4: "We inspect the LSTM decoder's weights on the 'add jump' split of SCAN and note that the most
# apparent difference is in the output layer." The authors' code (paper/plot_scan_jump_output_mask.py,
# plot_scan_output_token_removed_percentage.py) compares the full-problem mask (stage 0) with the add-jump
# mask (stage 1) by the weights the first keeps and the second removes; it draws the output projection only.
# Two masks trained on different data differ a little everywhere (mask sampling and data order): App. B.3
# recommends drawing conclusions about sharing "only when the observed difference compared to some reference
# score is sufficiently high". The reference here is the IID split's mask (``CONTROL``, trained on 80% of the
# commands, no systematic shift): per weight matrix of the decoder (the LSTM's four and the output layer;
# biases and embeddings apart), the share of the full-problem mask's weights that the add-jump mask removes,
# minus the share the IID split's mask removes. The rule: the output layer's is at least every other decoder
# matrix's (mean over seeds; ties count as largest).
DECODER = ("decoder.weight_",)  # name prefixes of the LSTM decoder's weight matrices, beside OUTPUT
# App. C.7.1 / Fig. 15: "the remaining weights still have significantly better performance than training the
# network solely on the training set of the given split without masking". On every systematic split that was
# trained directly, the IID network under the split's mask must be at least as accurate as the network trained
# on the split: the interval of their difference at or above 0 (Fig. 15 prints no numbers; "significantly"
# is what the interval asks of the run).
BETTER = 0.0

# Sec. 4 / App. C.7.1: the IID networks, a mask on the full problem and one per split; Fig. 15
# trains the networks in ``direct`` on the splits in ``direct_splits``. quick runs the LSTM only:
# its Transformer solves ~80% of the IID test set after 1500 steps (~4 minutes), so the chapter
# could not judge it, and twice that does not fit; the trust chapter still trains it. quick: narrower and
# shallower networks at batch 64 (one step of the 128-unit LSTM costs ~150 ms on one core, so
# 64 units); the LSTM without dropout at lr 5e-3 for 2400 steps (_LSTM_STEPS); the Transformer at lr
# 2e-3 (at 1e-3 it solved 84% of the IID test set after 1500 steps) with beta 1e-4 (at 1e-3 its quick masks kept 28% of
# the weights and lost the task); Fig. 15 for the LSTM on add-jump only; masks for 250 steps at
# lr 3e-2 with 2 samples per batch (at 1e-2 an unused weight's logit needs about 220 steps just
# to fall from logit(0.9) to 0); the LSTM's masks at beta 3e-3, raised from the paper's 3e-5 until
# the gap appeared (measured with the loss per target token, where it was 2e-4: at the paper's value
# the masks kept ~80% of the weights after 250 steps and showed no gap; at 3e-4 per token the
# full-problem mask fell to 80% accuracy, and 500 steps at 1e-4 per token lost more than 250 at 2e-4);
# the Transformer's at 1.5e-3 (1e-4 per token); 500 test commands per split. The commands come from
# the published grammar at smoke and quick (offline), from the released files at paper where the
# hub can be read (``data``).
PROFILES = {
    "smoke": dict(seeds=1, data="grammar", nets=["LSTM", "Transformer"], direct=["LSTM"],
                  direct_splits=["simple", "length"], batch=32, clip=5.0, teacher_forcing=0.5, mask_steps=5,
                  mask_batch=32, mask_lr=1e-2, n_samples=4, n_test=20,
                  lstm=dict(embed=16, hidden=16, layers=2, dropout=0.5, steps=10, lr=1e-3, beta=3e-5),
                  transformer=dict(d_model=16, heads=2, d_ff=32, layers=1, dropout=0.1, steps=10, lr=1e-3,
                                   beta=1e-3)),
    "quick": dict(seeds=3, data="grammar", nets=["LSTM"], direct=["LSTM"],
                  direct_splits=["simple", "addprim_jump"], batch=64, clip=5.0, teacher_forcing=0.5,
                  mask_steps=250, mask_batch=64, mask_lr=3e-2, n_samples=2, n_test=500,
                  lstm=dict(embed=16, hidden=64, layers=2, dropout=0.0, steps=2400, lr=5e-3, beta=3e-3),
                  transformer=dict(d_model=64, heads=4, d_ff=128, layers=2, dropout=0.1, steps=1500, lr=2e-3,
                                   beta=1.5e-3)),
    "paper": dict(seeds=10, data="auto", nets=["LSTM", "Transformer"], direct=["LSTM", "Transformer"],
                  direct_splits=["simple", "length", "addprim_jump", "addprim_turn_left"], batch=256, clip=5.0,
                  teacher_forcing=0.5, mask_steps=25_000, mask_batch=256, mask_lr=1e-2, n_samples=4,
                  n_test=100_000,
                  lstm=dict(embed=16, hidden=200, layers=2, dropout=0.5, steps=25_000, lr=1e-3, beta=3e-5),
                  transformer=dict(d_model=100, heads=4, d_ff=200, layers=3, dropout=0.1, steps=25_000,
                                   lr=1e-3, beta=1e-3)),
}

# One per setting of smoke or quick that differs from the paper (App. C.7.1, C.2; the authors' code,
# main.py's "scan" and "trafo_scan" profiles and sweeps/scan.yaml, trafo_scan.yaml, scan_baseline.yaml), with the
# reasons of the comment above PROFILES. smoke only proves the code path in seconds.
# The Transformer against the authors' (layers/transformer/, models/transformer_enc_dec.py in their code): two
# differences of architecture, no profile setting, kept with their reasons (shown on the page with the settings);
# their dropout on the positional encoding is matched.
_TORCH_TRANSFORMER = ("PyTorch's nn.Transformer, which the masks handle as any module; the library's model is built "
                      "on it")
TRANSFORMER_DIFFERENCES = [
    paper.Difference("the Transformer's last layer norm", "none after the last encoder and decoder layers",
                     "nn.Transformer's final LayerNorm after each stack (masked as the other norms)",
                     _TORCH_TRANSFORMER),
    paper.Difference("attention projections' biases", "none (bias=False)",
                     "nn.MultiheadAttention's input and output projection biases, left unmasked as every bias",
                     _TORCH_TRANSFORMER),
]
DIFFERENCES = TRANSFORMER_DIFFERENCES

# measured with benchmarks/scan_schedule.py (loss per sequence), the IID test accuracy every 300 steps
_LSTM_STEPS = ("on two seeds the IID LSTM is at 84-85% after 1200 steps, first above the 90% of a learned network at "
               "1500, and levels off at 92-99% from 2100 on; 2400 steps")
DEVIATIONS = [
    paper.Deviation("seeds", "seeds", "10 (App. C.2, footnote 3)",
                    "three seeds at quick, the fewest whose verdict on the gap carries the scatter between seeds: "
                    "measured at quick (weightmask run scan --profile quick --seeds 3), the mean gap of the split "
                    "masks on the systematic splits was 7%, 14% and 26% on seeds 0, 1 and 2, so one seed's "
                    "verdict depended on the seed ('not reproduced' on seed 0) where three say 'inconclusive'. "
                    "Each seed costs ~5 minutes of one core (an IID LSTM, its masks, a network trained on add "
                    "jump), so quick's SCAN chapter takes ~15 minutes of one core, above its 8: the price of a "
                    "verdict that holds over seeds; "
                    + paper.SMOKE),
    paper.Deviation("data", "data", "Lake & Baroni's released splits (Sec. 4)",
                    "smoke and quick generate the commands from the published grammar, offline: the same 20,910 "
                    "commands and systematic splits, the random simple split drawn here; paper reads the released "
                    "files through `datasets` where the hub or its cache answers (auto), the grammar otherwise"),
    paper.Deviation("nets", "nets", "LSTM and Transformer (Sec. 4)",
                    "quick runs the LSTM only: its Transformer solves ~80% of the IID test set after 1500 steps "
                    "(~4 minutes), so the chapter could not judge it, and twice that does not fit; the trust chapter "
                    "still trains it"),
    paper.Deviation("direct", "direct", "LSTM and Transformer (Fig. 15)",
                    "Fig. 15 only for the LSTM at quick and smoke: training a network per split costs as much "
                    "as the IID network"),
    paper.Deviation("direct_splits", "direct_splits", "length, add jump, add turn left (Fig. 15)",
                    "quick trains the LSTM directly on add-jump only (the split of Fig. 4b); " + paper.SMOKE),
    paper.Deviation("batch", "batch", "256 (App. C.7.1)",
                    "batch 64: one step of the paper's batch costs too much on one core; " + paper.SMOKE),
    paper.Deviation("mask_steps", "mask_steps", "25,000 (App. C.7.1)",
                    "masks for 250 steps at lr 3e-2 fit the CPU minutes; " + paper.SMOKE),
    paper.Deviation("mask_batch", "mask_batch", "256 (App. C.7.1)", "as the weights' batch, 64; " + paper.SMOKE),
    paper.Deviation("mask_lr", "mask_lr", "1e-2 (App. C.7.1)",
                    "3e-2 so that 250 steps suffice: at 1e-2 an unused weight's logit needs about 220 steps just "
                    "to fall from logit(0.9) to 0"),
    paper.Deviation("n_samples", "n_samples", "4 (App. C.2)",
                    "quick trains its masks with 2 samples per batch of 64 (no reason is recorded beyond the CPU "
                    "budget)"),
    paper.Deviation("n_test", "n_test", "every test command (App. C.7.1)",
                    "500 test commands per split (the same random subset for every run) at quick; " + paper.SMOKE),
    paper.Deviation("lstm.hidden", "lstm.hidden", "200 (Lake & Baroni's baseline)",
                    "one step of the 128-unit LSTM costs ~150 ms on one core, so 64 units; " + paper.SMOKE),
    paper.Deviation("lstm.dropout", "lstm.dropout", "0.5 (Lake & Baroni's baseline)",
                    "the quick LSTM without dropout, which learns the IID split in 2400 steps"),
    paper.Deviation("lstm.steps", "lstm.steps", "25,000 (App. C.7.1)",
                    f"quick: at lr 5e-3 {_LSTM_STEPS}; " + paper.SMOKE),
    paper.Deviation("lstm.lr", "lstm.lr", "1e-3 (App. C.2)", "5e-3, so that a few thousand steps learn the IID split"),
    paper.Deviation("lstm.beta", "lstm.beta", "3e-5 (App. C.7.1)",
                    "raised from the paper's 3e-5 until the gap appeared, so the gap and the claims on the LSTM's "
                    "masks are seen at a beta 100 times the paper's: 3e-3 (2e-4 with the loss per target token, "
                    "where it was measured: at the paper's value the quick masks kept ~80% of the weights after "
                    "250 steps and showed no gap; at 3e-4 per token the full-problem mask fell to 80% accuracy, and "
                    "500 steps at 1e-4 per token lost more than 250 at 2e-4)"),
    paper.Deviation("transformer.d_model", "transformer.d_model", "100 (App. C.7.1)",
                    "a narrower Transformer for the CPU; " + paper.SMOKE),
    paper.Deviation("transformer.heads", "transformer.heads", "4 (App. C.7.1)", paper.SMOKE),
    paper.Deviation("transformer.d_ff", "transformer.d_ff", "200 (App. C.7.1)",
                    "a narrower Transformer for the CPU; " + paper.SMOKE),
    paper.Deviation("transformer.layers", "transformer.layers", "3 + 3 (App. C.7.1)",
                    "a shallower Transformer for the CPU; " + paper.SMOKE),
    paper.Deviation("transformer.steps", "transformer.steps", "25,000 (App. C.7.1)",
                    "1500 steps at quick; " + paper.SMOKE),
    paper.Deviation("transformer.lr", "transformer.lr", "1e-3 (App. C.2)",
                    "2e-3 at quick: at 1e-3 it solved 84% of the IID test set after 1500 steps"),
    paper.Deviation("transformer.beta", "transformer.beta", "1e-3 (App. C.7.1)",
                    "1.5e-3 at quick (1e-4 with the loss per target token, where it was measured: at 1e-3 per token, "
                    "~1.5e-2 here, its quick masks kept 28% of the weights and lost the task)",
                    authors="6e-4 (main.py's trafo_scan profile, sweeps/trafo_scan.yaml)"),
]

_MASKS = ("lstm.beta", "mask_lr")  # chosen so that the quick masks drop what their data does not need
CLAIMS = [
    paper.Claim("gap", "Masks trained on a split's training set lose accuracy on its systematically "
                "different test set, although the frozen network solves the full problem: the solution "
                "needs combination-specific weights", "large generalization gap", "Sec. 4, Fig. 4a",
                tuned=(*_MASKS, "transformer.beta")),
    paper.Claim("both", "The gap appears for both the LSTM and the Transformer", "both networks",
                "Sec. 4, Fig. 4a; App. B.4", tuned=(*_MASKS, "transformer.beta")),
    paper.Claim("jump", "On the add-jump split the LSTM decoder's output layer loses the largest share of "
                "its weights for I_JUMP", "almost half of I_JUMP's weights removed", "Sec. 4, Fig. 4b", tuned=_MASKS),
    paper.Claim("output", "Of the LSTM decoder's weights, the add-jump mask differs from the full-problem mask "
                "most in the output layer", "the most apparent difference is in the output layer", "Sec. 4",
                tuned=_MASKS),
    paper.Claim("direct", "What remains of the IID network under a systematic split's mask is still more accurate "
                "on that split's test set than the network trained directly on the split",
                "significantly better than training solely on the split", "App. C.7.1, Fig. 15"),
]


@functools.cache
def vocabularies() -> tuple[Vocabulary, Vocabulary]:
    """The 13 command words and the 6 actions (plus padding, start and end tokens)."""
    pairs = scan.commands()
    return Vocabulary.of(c for c, _ in pairs), Vocabulary.of(a for _, a in pairs)


@functools.cache
def encoded(split: str, source: str = "grammar") -> tuple[seq2seq.Encoded, seq2seq.Encoded]:
    """(train, test) of ``split`` from ``source`` (``tasks.scan.SOURCES``) as id tensors; ``FULL``: every
    command, as train and test (the same 20,910 from either source)."""
    src, tgt = vocabularies()
    if split == FULL:
        every = seq2seq.Encoded.of(list(scan.commands()), src, tgt)
        return every, every
    train, test = scan.load_split(split, scan.resolve(source))
    return seq2seq.Encoded.of(train, src, tgt), seq2seq.Encoded.of(test, src, tgt)


def evaluated(split: str, n: int, source: str = "grammar") -> seq2seq.Encoded:
    """At most ``n`` test examples of ``split`` from ``source``: the same random subset for every run."""
    test = encoded(split, scan.resolve(source))[1]
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
    return seq2seq.loss(model, (src, tgt), per=LOSS, **({} if forced else {"teacher_forcing": False}))


def _forcing(name: str, config: dict) -> float:
    """The LSTM is teacher-forced in half of the batches, the Transformer always (App. C.7.1)."""
    return config["teacher_forcing"] if name == "LSTM" else 1.0


def network(name: str, config: dict, seed: int, store: RunStore, device, split: str = "simple"):
    """The network ``name`` trained on ``split``'s training set (``simple``: the IID network)."""
    c = config[name.lower()]
    source = scan.resolve(config["data"])
    keys = {"net": name, **c, "batch": config["batch"], "clip": config["clip"],
            "teacher_forcing": _forcing(name, config), "train": split, "data": source}
    keys.pop("beta")  # a mask setting
    run = store.run("scan.weights", keys, seed)
    torch.manual_seed(run.seed)
    net = build(name, config).to(device)
    batches = step_batches(lambda g: _batches(encoded(split, source)[0], config["batch"], g,
                                              _forcing(name, config)), run.seed)
    train_weights(net, batches, _loss, steps=c["steps"], lr=c["lr"], clip=config["clip"], device=device,
                  desc=f"{name} on {split}, seed {seed}", checkpoint=run)
    return net.eval(), keys


def mask(name: str, net, keys: dict, config: dict, seed: int, store: RunStore, device,
         on: str = FULL) -> tuple[MaskedModel, Mask]:
    """The mask of the frozen ``net`` trained on ``on``: a split's training set, or ``FULL``."""
    masked = MaskedModel(net, n_samples=config["n_samples"], exclude=seq2seq.unmasked(net))
    beta = config[name.lower()]["beta"]
    cfg = {**keys, "mask_steps": config["mask_steps"], "mask_lr": config["mask_lr"], "beta": beta,
           "n_samples": config["n_samples"], "mask_batch": config["mask_batch"], "mask_on": on}
    run = store.run("scan.mask", cfg, seed, code=(mask, network))
    torch.manual_seed(run.seed)
    batches = step_batches(lambda g: _batches(encoded(on, keys["data"])[0], config["mask_batch"], g,
                                              _forcing(name, config)), run.seed)
    found = train_mask(masked, batches,
                       _loss, steps=config["mask_steps"], beta=beta, batch_size=config["mask_batch"],
                       lr=config["mask_lr"], clip=config["clip"], device=device, graph=False,
                       desc=f"{name} mask on {on}, seed {seed}", checkpoint=run)
    return masked, found


def _accuracy(model, split: str, config: dict, device) -> float:
    """Greedy sequence accuracy on ``split``'s evaluated test examples (one teacher-forced pass)."""
    return seq2seq.sequence_accuracy(model, evaluated(split, config["n_test"], config["data"]), device,
                                     forced=True)


def removed_per_token(full: Mask, split: Mask) -> pd.DataFrame:
    """Per output token: the share of its output-layer weights that ``full`` keeps and ``split``
    removes, among those ``full`` keeps (paper Fig. 4b)."""
    kept = full[OUTPUT]
    removed = (kept & ~split[OUTPUT]).sum(1).float() / kept.sum(1).clamp(min=1).float()
    tgt = vocabularies()[1]
    return pd.DataFrame([{"token": tgt.itos[i], "kept": int(kept[i].sum()), "removed": float(removed[i])}
                         for i in range(len(tgt)) if tgt.itos[i] not in ("<pad>", "<sos>")])


def removed_per_layer(full: Mask, split: Mask) -> pd.DataFrame:
    """Per weight matrix (biases apart): the share of the weights ``full`` keeps that ``split`` removes."""
    rows = []
    for name in full:
        if "weight" not in name.rsplit(".", 1)[-1]:
            continue
        kept = full[name]
        rows.append({"layer": name, "kept": int(kept.sum()),
                     "removed": float((kept & ~split[name]).sum()) / max(int(kept.sum()), 1)})
    return pd.DataFrame(rows, columns=["layer", "kept", "removed"])


def check(config: dict, **arguments) -> None:
    """The Transformer's heads split its width."""
    t = config["transformer"]
    if t["d_model"] % t["heads"]:
        raise ValueError(f"setting 'transformer.heads' must divide 'transformer.d_model': {t['d_model']} is not a "
                         f"multiple of {t['heads']}")


def weights_stage(config: dict, seed: int, store: RunStore, device, name: str, split: str) -> None:
    """A stage task (weightmask.stages): the network ``name`` trained on ``split``."""
    network(name, config, seed, store, device, split)


def mask_stage(config: dict, seed: int, store: RunStore, device, name: str, on: str) -> None:
    """A stage task: the mask of the IID network ``name`` trained on ``on``."""
    net, keys = network(name, config, seed, store, device)
    mask(name, net, keys, config, seed, store, device, on=on)


def stages(config: dict, seed: int) -> list[Stage]:
    """The stages of one seed, for an executor: per network the IID network, its mask on the full problem
    and on each split, and the networks trained on the splits of ``direct_splits``."""
    out = []
    for name in config["nets"]:
        iid = f"{name}: weights on simple"
        out.append(Stage(iid, weights_stage, dict(name=name, split="simple")))
        out += [Stage(f"{name}: mask on {on}", mask_stage, dict(name=name, on=on), after=(iid,))
                for on in (FULL, *scan.SPLITS)]
        if name in config["direct"]:
            out += [Stage(f"{name}: weights on {split}", weights_stage, dict(name=name, split=split))
                    for split in config["direct_splits"] if split != "simple"]
    return out


def run(config: dict, seeds: int | Iterable[int] | None = None, store: RunStore | None = None,
        device="auto") -> dict:
    """Tables ``accuracy`` (net, seed, setting, split), ``removed`` (Fig. 4b: LSTM, per seed and
    output token), ``layers`` (LSTM, per seed, split mask and weight matrix: the share of the
    full-problem mask's weights that the split's mask removes), ``density`` (net, seed, mask) and
    ``data`` (split sizes, evaluated examples)."""
    checks.experiment("scan", config, seeds, device)
    store = store or RunStore()
    device = resolve_device(device)
    acc, removed, layers, density = [], [], [], []
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
                if name == "LSTM":
                    layers += [{"net": name, "seed": seed, "mask": split, **r} for r in
                               removed_per_layer(full, own).to_dict("records")]
                if name == "LSTM" and split == "addprim_jump":
                    removed += [{"net": name, "seed": seed, **r} for r in
                                removed_per_token(full, own).to_dict("records")]
    source = scan.resolve(config["data"])
    data = [{"split": s, "source": source, "train": len(encoded(s, source)[0]), "test": len(encoded(s, source)[1]),
             "evaluated": len(evaluated(s, config["n_test"], source))} for s in scan.SPLITS]
    return {"accuracy": pd.DataFrame(acc), "removed": pd.DataFrame(removed, columns=["net", "seed", "token",
                                                                                      "kept", "removed"]),
            "layers": pd.DataFrame(layers, columns=["net", "seed", "mask", "layer", "kept", "removed"]),
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


def evaluated_sizes(results: dict) -> dict[str, int]:
    """Test commands evaluated per split: the run's ``data`` table, else the whole test sets (``TEST_SIZES``)."""
    d = results.get("data")
    if d is None or "evaluated" not in d or not len(d):
        return dict(TEST_SIZES)
    return {str(r.split): int(r.evaluated) for r in d.itertuples()}


def _per_seed(a: pd.DataFrame, setting: str, splits: Iterable[str], nets: Iterable[str]) -> pd.Series:
    """Mean accuracy of ``setting`` over ``splits`` and ``nets``, per seed."""
    rows = a[(a["setting"] == setting) & a["split"].isin(list(splits)) & a["net"].isin(list(nets))]
    return rows.groupby("seed")["accuracy"].mean()


MASK_LABELS = {"addprim_jump": "add-jump mask", CONTROL: "IID split's mask (control)"}


def decoder_layers(results: dict) -> pd.DataFrame:
    """The LSTM decoder's weight matrices (and the output layer) under the add-jump mask and the IID split's:
    per seed, the share of the full-problem mask's weights each removes (column ``mask``: MASK_LABELS)."""
    lay = results.get("layers")
    if lay is None or not len(lay):
        return pd.DataFrame(columns=["seed", "layer", "mask", "removed"])
    dec = lay[(lay["net"] == "LSTM") & (lay["layer"].str.startswith(DECODER) | (lay["layer"] == OUTPUT))
              & lay["mask"].isin(list(MASK_LABELS))]
    return dec.assign(mask=dec["mask"].map(MASK_LABELS))[["seed", "layer", "mask", "removed"]].reset_index(drop=True)


def decoder_removal(results: dict) -> pd.DataFrame:
    """Per weight matrix of the LSTM decoder (mean over seeds): the share of the full-problem mask's weights
    that the add-jump mask removes, the share that the IID split's mask removes (the control) and the
    difference (``excess``), largest first."""
    t = decoder_layers(results).groupby(["layer", "mask"])["removed"].mean().unstack("mask")
    t = t.reindex(columns=list(MASK_LABELS.values())).rename(columns=dict(zip(MASK_LABELS.values(),
                                                                             ["add jump", "IID split"])))
    t = t.reset_index().rename_axis(columns=None)
    return t.assign(excess=t["add jump"] - t["IID split"]).sort_values("excess", ascending=False, ignore_index=True)


def _direct_pairs(results: dict) -> list[tuple[str, str, float, float, evidence.Estimate]]:
    """Per net and systematic split trained directly: (net, split, accuracy under the split's mask, accuracy
    trained on the split, their difference with its interval)."""
    a, n = results["accuracy"], evaluated_sizes(results)
    pairs = a[(a["setting"] == "trained on split") & a["split"].isin(SYSTEMATIC)][["net", "split"]].drop_duplicates()
    out = []
    for net, split in pairs.itertuples(index=False):
        own, direct = _per_seed(a, "split mask", [split], [net]), _per_seed(a, "trained on split", [split], [net])
        x, y = own.align(direct, join="inner")  # paired by seed
        out.append((net, split, float(own.mean()), float(direct.mean()),
                    evidence.difference(x.tolist(), y.tolist(), n[split])))
    return out


def direct_vs_mask(results: dict) -> pd.DataFrame:
    """Per net and systematic split trained directly: test accuracy of the IID network under the split's
    mask and of the network trained on the split (means over seeds), their difference and its 95%
    interval (paper Fig. 15)."""
    rows = [{"net": net, "split": split, "split mask": own, "trained on split": direct, "difference": e.value,
             "low": e.low, "high": e.high, "seeds": e.seeds} for net, split, own, direct, e in _direct_pairs(results)]
    return pd.DataFrame(rows, columns=["net", "split", "split mask", "trained on split", "difference", "low", "high",
                                       "seeds"])


def verdicts(results: dict) -> pd.DataFrame:
    """The chapter's claims beside the paper's, each with a verdict computed from ``results`` (accuracies
    with their interval over seeds, or over the evaluated test commands of a single seed)."""
    a, n = results["accuracy"], evaluated_sizes(results)
    nets = list(dict.fromkeys(a["net"]))
    n_all, n_sys = sum(n[s] for s in scan.SPLITS), sum(n[s] for s in SYSTEMATIC)
    g = gaps(results)
    sys_g = g[g["split"].isin(SYSTEMATIC)]

    # With one seed, a mean over splits (and nets) is taken as one proportion over all the test commands they
    # evaluated; the splits' test sets share some commands, so this interval is, if anything, a little narrow.
    def gap(which: list[str]) -> evidence.Estimate:
        full, own = _per_seed(a, FULL, SYSTEMATIC, which).align(_per_seed(a, "split mask", SYSTEMATIC, which),
                                                                join="inner")  # paired by seed
        return evidence.difference(full.tolist(), own.tolist(), n_sys * len(which))

    mean_gap = gap(nets)
    tests = [evidence.Test(f"{net}'s full-problem masks over the test sets",
                           evidence.accuracy(list(_per_seed(a, FULL, scan.SPLITS, [net])), n_all), at_least=SOLVED)
             for net in nets]
    tests.append(evidence.Test("the mean gap on the systematic splits", mean_gap, at_least=GAP))
    gap_claim = paper.judged(
        f"full-problem masks {g['full'].mean():.0%} on all test sets; on length / add jump / add turn left: full "
        f"{sys_g['full'].mean():.0%} vs split {sys_g['own'].mean():.0%} (gap {mean_gap.text()})", tests,
        f"rule: each network's full-problem masks reach >= {SOLVED:.0%} over the test sets and the split masks "
        f"lose >= {GAP:.0%} on the systematic splits (mean over nets)")
    if set(NETS) <= set(nets):
        each = {net: gap([net]) for net in NETS}
        tests = [evidence.Test(f"{net}'s mean gap", e, at_least=GAP) for net, e in each.items()]
        rule = f"rule: each network's mean gap on the systematic splits is >= {GAP:.0%}"
        both_claim = paper.judged("; ".join(f"{net}: gap {e.text()}" for net, e in each.items()), tests, rule)
    else:
        both_claim = (f"ran {sorted(nets)}", "not comparable", "this run has not both networks")
    claims = {"gap": gap_claim, "both": both_claim, "jump": _jump(results), "output": _output(results),
              "direct": _direct(results)}
    iid = a[(a["setting"] == "unmasked") & (a["split"] == "simple")].groupby("net")["accuracy"].mean()
    direct_nets = a[a["setting"] == "trained on split"]["net"].unique()
    # each claim is vacuous if a network it is about has not learned the IID split
    return paper.verdict_table("scan", {
        **paper.not_learned({k: claims[k] for k in ("gap", "both")}, float(iid.min())),
        **paper.not_learned({k: claims[k] for k in ("jump", "output")}, float(iid.get("LSTM", 1.0))),
        **paper.not_learned({"direct": claims["direct"]}, float(iid[iid.index.isin(direct_nets)].min())
                            if len(direct_nets) else 1.0)})


def _jump(results: dict):
    """Fig. 4b: I_JUMP's share of output weights removed by the add-jump mask, and its lead over the others."""
    r = results["removed"]
    if not len(r):
        return "no LSTM in this run", "not comparable", "the claim is about the LSTM decoder"
    by = r.pivot_table(index="seed", columns="token", values="removed")
    share = by.mean()
    other = share.drop("I_JUMP").idxmax()
    lo, hi = round(PAPER_JUMP[0] - JUMP_TOLERANCE, 6), round(PAPER_JUMP[1] + JUMP_TOLERANCE, 6)
    jump, lead = evidence.over_seeds(by["I_JUMP"]), evidence.over_seeds(by["I_JUMP"] - by[other])
    tests = [evidence.Test("I_JUMP's share removed", jump, at_least=lo, at_most=hi, paper=sum(PAPER_JUMP) / 2),
             evidence.Test(f"I_JUMP's share minus {other}'s", lead, at_least=0.0)]
    top = lead.value >= 0
    return paper.judged(f"I_JUMP loses {jump.text()}, {other} {share[other]:.0%}"
                        f"{' (the next largest)' if top else ' (the largest)'}", tests,
                        f"rule: I_JUMP's output weights lose the largest share of any token, within the paper's "
                        f"'almost half' ({PAPER_JUMP[0]:.0%}-{PAPER_JUMP[1]:.0%}) widened to {lo:.0%}-{hi:.0%}")


def _output(results: dict):
    """Sec. 4: the output layer's removal beyond the control's is the largest of the LSTM decoder's."""
    lay = results.get("layers")
    if lay is None or not {"addprim_jump", CONTROL} <= set(lay[lay["net"] == "LSTM"]["mask"]):
        return ("no per-layer masks of the LSTM", "not comparable",
                "the claim is about the LSTM decoder's add-jump and full-problem masks")
    dec = lay[(lay["net"] == "LSTM") & (lay["layer"].str.startswith(DECODER) | (lay["layer"] == OUTPUT))]
    by = dec.pivot_table(index=["seed", "layer"], columns="mask", values="removed")
    excess = (by["addprim_jump"] - by[CONTROL]).unstack("layer")
    raw = by["addprim_jump"].unstack("layer").mean()
    other = excess.mean().drop(OUTPUT).idxmax()
    lead = evidence.over_seeds(excess[OUTPUT] - excess[other])
    tests = [evidence.Test(f"the output layer's excess minus {other}'s", lead, at_least=0.0)]
    return paper.judged(
        f"the add-jump mask removes {raw[OUTPUT]:.1%} of the output layer's weights, {raw[other]:.1%} of {other}'s; "
        f"beyond the IID split's mask: {excess[OUTPUT].mean():+.1%} vs {excess[other].mean():+.1%} (the largest "
        "other)", tests,
        "rule: of the decoder's weight matrices, the output layer has the largest share of the full-problem "
        "mask's weights removed by the add-jump mask beyond what the IID split's mask removes")


def _direct(results: dict):
    """App. C.7.1 / Fig. 15: the split's mask on the IID network against the network trained on the split."""
    pairs = _direct_pairs(results)
    if not pairs:
        return ("no systematic split trained directly", "not comparable",
                "this run trained no network directly on a systematic split")
    tests = [evidence.Test(f"{net} on {split}: split mask minus trained on the split", e, at_least=BETTER)
             for net, split, _, _, e in pairs]
    return paper.judged(
        "; ".join(f"{net} {split}: split mask {own:.0%} vs trained on the split {direct:.0%} (difference {e.text()})"
                  for net, split, own, direct, e in pairs), tests,
        "rule: on every systematic split trained directly, the IID network under the split's mask is at least "
        "as accurate as the network trained on the split")


def _net_text(name: str, config: dict) -> str:
    """How network ``name`` was built, trained and masked, for ``describe``."""
    c = config[name.lower()]
    if name == "LSTM":
        shape = (f"{c['layers']} layers of {c['hidden']} units, embeddings of {c['embed']}, dropout "
                 f"{c['dropout']:g}, teacher forcing in {config['teacher_forcing']:.0%} of the batches")
    else:
        shape = f"d_model {c['d_model']}, {c['heads']} heads, d_ff {c['d_ff']}, {c['layers']}+{c['layers']} layers"
    return f"**{name}**: {shape}, {c['steps']:,} steps at lr {c['lr']:g}, masks at beta {c['beta']:g}."


def tuning_note(config: dict) -> str:
    """For the verdicts: where this profile's LSTM masks run at another beta than the paper's, say that it was
    raised until the gap appeared, so that the gap and the LSTM claims are read with it (empty otherwise)."""
    beta, ours = PROFILES["paper"]["lstm"]["beta"], config["lstm"]["beta"]
    if "LSTM" not in config["nets"] or ours == beta:
        return ""
    return (f"**Tuned setting.** The LSTM's masks here use beta {ours:g}, {ours / beta:.0f} times the paper's "
            f"{beta:g}: it was raised until the gap appeared at this profile's {config['mask_steps']:,} mask steps "
            "(at the paper's value the masks kept most weights and showed no gap). The verdicts on the gap, I_JUMP "
            "and the output layer rest on that choice; see the settings below.")


SOURCE_TEXT = {"grammar": "generated from the published grammar (the `simple` split drawn at random here)",
               "hub": f"from Lake & Baroni's released files (`{hub.SCAN_HUB}` through `datasets`)"}


def describe(config: dict, results: dict, profile: str) -> str:
    """One paragraph for the page: what ran, on which data, with which networks and masks."""
    d = results["data"]
    sizes = ", ".join(f"`{r.split}` {r.train:,} / {r.test:,}" for r in d.itertuples())
    a = results["accuracy"]
    iid = a[(a["setting"] == "unmasked") & (a["split"] == "simple")].groupby("net")["accuracy"].mean()
    seeds = a["seed"].nunique()
    source = SOURCE_TEXT.get(str(d["source"].iloc[0]) if "source" in d else "grammar")
    return (f"Profile **{profile}**, {seeds} seed(s). Commands {source}. Splits (train / test): {sizes}. Test "
            "accuracy is the share "
            "of test commands whose greedy decoding is exactly right, on "
            f"{', '.join(f'{n:,}' for n in d['evaluated'])} "
            "test commands per split (computed in one teacher-forced pass: greedy decoding reproduces a target "
            "exactly iff every step predicts it from the true prefix). "
            + " ".join(_net_text(n, config) for n in config["nets"])
            + f" Batch {config['batch']}, clipping {config['clip']:g}. Masks: {config['mask_steps']:,} steps at lr "
            f"{config['mask_lr']:g}, batch {config['mask_batch']} in {config['n_samples']} samples, on the loss "
            "summed over each target's tokens (as the authors'); embeddings and biases unmasked (layer norms "
            "masked whole, as theirs). The IID networks solve " + " and ".join(f"{v:.1%} ({n})" for n, v in iid.items())
            + " of the `simple` test set.")
