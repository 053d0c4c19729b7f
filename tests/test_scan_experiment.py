"""The SCAN chapter: gaps and verdicts from the tables, both ways; the paper's own numbers; the whole run at smoke."""
import pandas as pd
import pytest

from weightmask import MaskedModel, profiles, seq2seq
from weightmask.experiments import scan
from weightmask.store import RunStore
from weightmask.tasks.scan import SPLITS, load_split

from verdict_checks import every_claim, only_claim_fails

TOKENS = ("<eos>", "I_JUMP", "I_LOOK", "I_RUN", "I_TURN_LEFT", "I_TURN_RIGHT", "I_WALK")
# the weight matrices of run()'s "layers" table: an encoder matrix (not the decoder's: never judged), the LSTM
# decoder's four and the output layer
LAYERS = ("encoder.weight_hh_l0", "decoder.weight_ih_l0", "decoder.weight_hh_l0", "decoder.weight_ih_l1",
          "decoder.weight_hh_l1", scan.OUTPUT)
CLAIMS = [c.id for c in scan.CLAIMS]


def _tables(seeds=(0,), nets=scan.NETS, full=1.0, split_mask=None, unmasked=None, direct=None, direct_nets=None,
            jump=0.45, others=0.10, hidden=0.05, noise=0.05, noise_out=None, evaluated=None, spread=None):
    """Tables shaped like ``scan.run``'s. Per net and split: the IID network ``unmasked[split]``, the full-problem
    mask ``full``, the split's mask ``split_mask[net][split]``, and for ``direct_nets`` the network trained on the
    split ``direct[split]``. The add-jump mask removes ``jump`` of I_JUMP's output weights and ``others`` of every
    other token's, ``hidden`` of each LSTM decoder matrix's; every other split's mask removes ``noise`` of every
    matrix's (``noise_out`` of the output layer's, if given). ``evaluated``: test commands per split (None: the
    whole test sets). ``spread[i]`` is added to I_JUMP's share at seed i."""
    split_mask = split_mask or {net: {"simple": 0.99, "length": 0.4, "addprim_jump": 0.4, "addprim_turn_left": 0.4}
                                for net in scan.NETS}
    unmasked = unmasked or {"simple": 0.99, "length": 0.8, "addprim_jump": 0.8, "addprim_turn_left": 0.8}
    direct = direct or {"simple": 0.99, "length": 0.1, "addprim_jump": 0.1, "addprim_turn_left": 0.1}
    direct_nets = nets if direct_nets is None else direct_nets
    acc, removed, layers = [], [], []
    for i, seed in enumerate(seeds):
        for net in nets:
            for split in SPLITS:
                row = {"net": net, "seed": seed, "split": split}
                acc += [{**row, "setting": "unmasked", "accuracy": unmasked[split]},
                        {**row, "setting": scan.FULL, "accuracy": full},
                        {**row, "setting": "split mask", "accuracy": split_mask[net][split]}]
                if net in direct_nets:
                    acc.append({**row, "setting": "trained on split", "accuracy": direct[split]})
        if "LSTM" not in nets:
            continue
        j = jump + (spread[i] if spread else 0.0)
        removed += [{"net": "LSTM", "seed": seed, "token": t, "kept": 50, "removed": j if t == "I_JUMP" else others}
                    for t in TOKENS]
        output = (j + (len(TOKENS) - 1) * others) / len(TOKENS)  # every token keeps as many weights
        for split in SPLITS:
            for layer in LAYERS:
                r = noise_out if noise_out is not None and layer == scan.OUTPUT else noise
                if split == "addprim_jump":
                    r = output if layer == scan.OUTPUT else 0.5 if layer.startswith("encoder") else hidden
                layers.append({"net": "LSTM", "seed": seed, "mask": split, "layer": layer, "kept": 100, "removed": r})
    sizes = evaluated or scan.TEST_SIZES
    data = [{"split": s, "train": 1, "test": scan.TEST_SIZES[s], "evaluated": sizes[s]} for s in SPLITS]
    return {"accuracy": pd.DataFrame(acc),
            "removed": pd.DataFrame(removed, columns=["net", "seed", "token", "kept", "removed"]),
            "layers": pd.DataFrame(layers, columns=["net", "seed", "mask", "layer", "kept", "removed"]),
            "density": pd.DataFrame(columns=["net", "seed", "mask", "density"]), "data": pd.DataFrame(data)}


def _quick(full=0.98, own=None, learned=0.99, direct=0.1, **kw):
    """One seed, as a quick run: full-problem masks at ``full`` everywhere; split masks at ``learned`` on
    simple and at ``own[net]`` on the systematic splits; networks trained on a systematic split at ``direct``."""
    own = own or {"LSTM": 0.4, "Transformer": 0.5}
    masks = {net: {s: learned if s == "simple" else own[net] for s in SPLITS} for net in own}
    trained = {s: learned if s == "simple" else direct for s in SPLITS}
    return _tables(full=full, split_mask=masks, direct=trained,
                   unmasked={s: learned if s == "simple" else 0.8 for s in SPLITS}, **kw)


def _verdicts(**kw):
    return scan.verdicts(_quick(**kw))["verdict"].tolist()


def test_gaps_are_read_off_the_table():
    g = scan.gaps(_quick()).set_index(["net", "split"])
    assert g.loc[("LSTM", "length"), "gap"] == pytest.approx(0.58)
    assert g.loc[("Transformer", "simple"), "gap"] == pytest.approx(-0.01)


def test_all_claims_reproduced_on_paper_like_tables():
    assert _verdicts() == ["reproduced"] * len(CLAIMS)


@pytest.mark.parametrize("kw,failing", [
    (dict(full=0.8, own={"LSTM": 0.3, "Transformer": 0.3}), "gap"),      # the frozen networks do not solve it
    (dict(own={"LSTM": 0.4, "Transformer": 0.85}), "both"),              # the Transformer keeps its accuracy
    (dict(jump=0.05), "jump"),                                            # another token loses more
    (dict(jump=0.2), "jump"),                        # I_JUMP loses the most, but far less than "almost half"
    (dict(jump=0.8), "jump"),                        # ... or far more
    (dict(jump=0.45, others=0.0, hidden=0.15), "output"),   # the output layer is not where the masks differ most
    (dict(direct=0.6), "direct"),                    # training on the split beats the IID network's split mask
])
def test_each_claim_can_fail(kw, failing):
    only_claim_fails(_verdicts(**kw), CLAIMS.index(failing))


def test_the_output_layer_is_judged_against_the_iid_splits_mask():
    """Masks differ a little everywhere: the add-jump mask's removal counts only beyond the IID split's. Here it
    removes 8% of each LSTM matrix's weights and 5% of the output layer's, where the IID split's mask removes 6%
    and 1%: the output layer differs most."""
    kw = dict(jump=0.35, others=0.0, hidden=0.08, noise=0.06, noise_out=0.01)
    assert _verdicts(**kw)[CLAIMS.index("output")] == "reproduced"
    t = scan.decoder_removal(_quick(**kw))
    assert t["layer"].iloc[0] == scan.OUTPUT and "encoder.weight_hh_l0" not in set(t["layer"])
    assert t["excess"].iloc[0] == pytest.approx(0.05 - 0.01) and t["add jump"].iloc[0] < t["add jump"].iloc[1]
    assert _verdicts(**{**kw, "noise_out": 0.04})[CLAIMS.index("output")] == "not reproduced"


def test_one_network_only_and_unlearned_networks():
    assert _verdicts(nets=("LSTM",))[CLAIMS.index("both")] == "not comparable"
    no_lstm = _verdicts(nets=("Transformer",))
    assert [no_lstm[CLAIMS.index(c)] for c in ("jump", "output")] == ["not comparable"] * 2
    assert _verdicts(learned=0.5) == ["not comparable"] * len(CLAIMS)
    one = _quick()
    a = one["accuracy"]
    a.loc[(a["net"] == "Transformer") & (a["setting"] == "unmasked") & (a["split"] == "simple"), "accuracy"] = 0.5
    # jump and output are the LSTM's; the Transformer was trained directly too, so "direct" is about it as well
    assert scan.verdicts(one)["verdict"].tolist() == ["not comparable"] * 2 + ["reproduced"] * 2 + ["not comparable"]


def test_direct_training_needs_a_systematic_split():
    only_simple = _quick(direct_nets=("LSTM",))
    a = only_simple["accuracy"]
    only_simple["accuracy"] = a[(a["setting"] != "trained on split") | (a["split"] == "simple")]
    assert _verdicts(direct_nets=())[CLAIMS.index("direct")] == "not comparable"
    assert scan.verdicts(only_simple)["verdict"].tolist()[CLAIMS.index("direct")] == "not comparable"
    t = scan.direct_vs_mask(_quick(direct_nets=("LSTM",)))
    assert t["split"].tolist() == ["length", "addprim_jump", "addprim_turn_left"]
    assert t["difference"].tolist() == pytest.approx([0.3] * 3) and (t["low"] > 0).all()


def test_a_result_near_a_threshold_is_inconclusive():
    """One seed on 60 test commands per split: a gap of 21 points straddles the 20-point rule, and a split mask
    2 points above direct training straddles 0. Three seeds of I_JUMP's share at 25/35/45% straddle 30%."""
    small = dict.fromkeys(SPLITS, 60)
    v = scan.verdicts(_quick(full=0.99, own={"LSTM": 0.78, "Transformer": 0.78}, direct=0.76, evaluated=small))
    verdicts = dict(zip(CLAIMS, v["verdict"]))
    assert verdicts["gap"] == verdicts["both"] == verdicts["direct"] == "inconclusive", v[["this run", "why"]]
    assert "straddles 0.2" in v["why"].iloc[CLAIMS.index("gap")] and v["seeds"].iloc[0] == 1
    assert scan.verdicts(_quick(evaluated={s: 10_000 for s in SPLITS}, full=0.99,
                                own={"LSTM": 0.70, "Transformer": 0.70}))["verdict"].iloc[0] == "reproduced"
    scattered = scan.verdicts(_tables(seeds=(0, 1, 2), jump=0.35, spread=[-0.1, 0.0, 0.1], others=0.0))
    assert scattered["verdict"].iloc[CLAIMS.index("jump")] == "inconclusive"
    assert scattered["seeds"].iloc[CLAIMS.index("jump")] == 3


# The paper's Fig. 4 (Sec. 4) and Fig. 15 (App. C.7.1), 10 seeds (footnote 3), on whole test sets. Fig. 4b's
# I_JUMP bar is printed in words: "Almost half of the weights corresponding to 'I_JUMP' are removed". Fig. 4a and
# 15 print no numbers and paper.md holds only their captions: the accuracies below are NOT measured off the bars
# but what the text states: the full-problem masks solve every split (they were trained on all commands, and the
# IID weights "are capable of solving the full problem"), the split masks keep the IID split but show "the large
# generalization gap" on the systematic ones, and "the remaining weights still have significantly better
# performance than training the network solely on the training set of the given split" (App. C.7.1). Training
# directly on a split (Fig. 15's "standard setup") is Lake & Baroni's (2018) printed result for this LSTM: 99.7%
# simple, 13.8% length, 0.08% add jump, 90.3% add turn left (filled in for both networks). Sec. 4 prints no
# per-layer figure: "the most apparent difference is in the output layer", whose rows are Fig. 4b's tokens
# (I_JUMP almost half, the others far less), while the LSTM matrices differ only as much as any two masks.
PAPER_SPLIT_MASK = {"LSTM": {"simple": 1.0, "length": 0.20, "addprim_jump": 0.10, "addprim_turn_left": 0.95},
                    "Transformer": {"simple": 1.0, "length": 0.15, "addprim_jump": 0.05, "addprim_turn_left": 0.92}}
LAKE_BARONI = {"simple": 0.997, "length": 0.138, "addprim_jump": 0.0008, "addprim_turn_left": 0.903}
PAPER_JUMP = 0.45    # Fig. 4b, Sec. 4: "almost half"
PAPER_OTHERS = 0.10  # Fig. 4b: the other tokens lose far less (the figure prints no number for them)


def _paper(split_mask=PAPER_SPLIT_MASK, jump=PAPER_JUMP, others=PAPER_OTHERS, full=1.0, hidden=0.05,
           direct=LAKE_BARONI):
    return scan.verdicts(_tables(seeds=range(10), full=full, split_mask=split_mask, unmasked=dict.fromkeys(SPLITS, 1.0),
                                 direct=direct, jump=jump, others=others, hidden=hidden))


@pytest.mark.parametrize("jump", [PAPER_JUMP, 0.40, 0.50])  # "almost half", read as 40-50%
def test_the_papers_figures_4_and_15_are_reproduced(jump):
    v = _paper(jump=jump)
    assert v["verdict"].tolist() == ["reproduced"] * len(CLAIMS), v[["this run", "why"]].to_dict("records")
    assert v.iloc[CLAIMS.index("jump")]["this run"].startswith(f"I_JUMP loses {jump:.0%}")
    assert (v["seeds"] == 10).all()


def test_a_contrary_figure_4_and_15_is_not_reproduced():
    """The split masks keep the full-problem masks' accuracy on every split; the add-jump mask removes about as
    much of every token's output weights as of I_JUMP's, and more of the LSTM's matrices than of the output layer;
    training directly on a split beats what the split's mask leaves of the IID network."""
    keep = {net: dict.fromkeys(SPLITS, 0.97) for net in scan.NETS}
    every_claim(scan, _tables(seeds=range(10), split_mask=keep, unmasked=dict.fromkeys(SPLITS, 1.0),
                              direct=dict.fromkeys(SPLITS, 0.99), jump=0.12, others=0.15, hidden=0.30),
                "not reproduced")


@pytest.mark.parametrize("kw,failing", [
    (dict(full=0.7), "gap"),                         # the frozen networks do not solve the full problem
    (dict(jump=0.15, others=0.05), "jump"),          # I_JUMP loses the most, but nowhere near half
    (dict(hidden=0.25), "output"),                   # the LSTM's matrices differ more than the output layer
    (dict(direct=dict.fromkeys(SPLITS, 1.0)), "direct"),  # direct training solves every split
])
def test_each_figure_of_the_paper_is_judged(kw, failing):
    only_claim_fails(_paper(**kw)["verdict"].tolist(), CLAIMS.index(failing))


def test_the_gap_claim_names_the_lstm_masks_beta_as_tuned():
    """(Every differing setting is declared: test_chapters.)"""
    assert "lstm.beta" in dict((c.id, c.tuned) for c in scan.CLAIMS)["gap"]  # 3e-3 at quick, 3e-5 in the paper
    reason = {d.id: d.reason for d in scan.DEVIATIONS}["lstm.beta"]
    assert "raised from the paper's 3e-5 until the gap appeared" in reason


def test_bars_are_labelled_in_the_papers_colour_order():
    labels = scan.bars(_quick(), [scan.FULL, "split mask"])["mask"].unique().tolist()
    assert labels == ["LSTM, mask on the full problem", "Transformer, mask on the full problem",
                      "LSTM, mask on the split", "Transformer, mask on the split"]


def test_smoke_run_fills_every_table_and_reruns_from_the_store(tmp_path):
    config = profiles.resolve("scan", "smoke")
    store = RunStore(tmp_path)
    results = scan.run(config, store=store, device="cpu")
    acc = results["accuracy"]
    assert set(acc["split"]) == set(SPLITS) and set(acc["net"]) == set(config["nets"])
    direct = acc[acc["setting"] == "trained on split"]
    assert set(direct["net"]) == set(config["direct"]) and set(direct["split"]) == set(config["direct_splits"])
    assert results["removed"]["token"].tolist() == list(TOKENS)
    layers = results["layers"]
    assert set(layers["mask"]) == set(SPLITS) and set(layers["net"]) == {"LSTM"}
    assert scan.OUTPUT in set(layers["layer"]) and not layers["layer"].str.contains("bias|embed").any()
    assert layers["removed"].between(0, 1).all()
    assert (results["data"]["evaluated"] == config["n_test"]).all() and set(results["data"]["source"]) == {"grammar"}
    v = scan.verdicts(results)
    assert len(v) == len(CLAIMS)
    assert len(scan.decoder_removal(results)) == 5  # the LSTM decoder's four matrices and the output layer
    text = scan.describe(config, results, "smoke")
    assert all(f"**{n}**" in text for n in config["nets"])
    lstm_only = scan.describe({**config, "nets": ["LSTM"]}, results, "smoke")
    assert "**LSTM**" in lstm_only and "**Transformer**" not in lstm_only
    again = scan.run(config, store=store, device="cpu")
    pd.testing.assert_frame_equal(again["accuracy"], acc)
    pd.testing.assert_frame_equal(again["layers"], layers)


def test_unknown_net_is_named():
    with pytest.raises(ValueError, match="net must be one of"):
        scan.build("GRU", profiles.resolve("scan", "smoke"))


def test_the_paper_profile_reads_the_released_splits_where_the_hub_answers(monkeypatch):
    """quick keeps the grammar (offline); paper asks the hub (auto); "hub" feeds the chapter the released files."""
    from weightmask import checks
    from weightmask.tasks import hub
    assert [profiles.resolve("scan", p)["data"] for p in ("smoke", "quick", "paper")] == ["grammar", "grammar", "auto"]
    train, test = load_split("length")
    monkeypatch.setattr(hub, "scan_split", lambda name: (train[::100], test[::100]))
    try:
        got = scan.encoded("length", "hub")
        assert (len(got[0]), len(got[1])) == (len(train[::100]), len(test[::100]))
        assert len(scan.evaluated("length", 5, "hub")) == 5
    finally:
        scan.encoded.cache_clear()
    with pytest.raises(ValueError, match=r"setting 'data' must be one of \['grammar', 'hub', 'auto'\]"):
        checks.settings({**profiles.resolve("scan", "smoke"), "data": "web"}, scan.CHOICES)


def test_masks_leave_embeddings_and_biases_alone():
    config = profiles.resolve("scan", "smoke")
    for name in scan.NETS:
        net = scan.build(name, config)
        masked = MaskedModel(net, exclude=seq2seq.unmasked(net)).names
        assert masked and not any("embed" in n or (n.endswith("bias") and "norm" not in n) for n in masked)


def test_the_page_says_beside_the_verdicts_that_the_lstm_masks_beta_was_raised():
    note = scan.tuning_note(profiles.resolve("scan", "quick"))
    assert "100 times the paper's 3e-05" in note and "raised until the gap appeared" in note
    assert scan.tuning_note(profiles.resolve("scan", "paper")) == ""
