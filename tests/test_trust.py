"""The trust chapter: half masks, and verdicts that follow the tables both ways."""
import pandas as pd
import pytest
import torch

from weightmask import MaskedModel
from weightmask.experiments import trust
from weightmask.models import FNN, RepeatLSTM

from verdict_checks import only_claim_fails


def test_halves_split_the_masked_tensors_in_network_order_as_the_authors():
    masked = MaskedModel(FNN([4, 8, 8, 8, 2]))  # 8 masked tensors: the first 4 are the early half
    mask = masked.mask().replace({n: torch.zeros_like(t) for n, t in masked.mask().to_dict().items()})
    early, late = trust.halves(masked, mask).values()
    removed_early = [n for n in mask if not early[n].any()]
    removed_late = [n for n in mask if not late[n].any()]
    assert removed_early == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"]
    assert removed_late == ["layers.4.weight", "layers.4.bias", "layers.6.weight", "layers.6.bias"]
    # a 2-cell LSTM with its biases unmasked: cell 0 against cell 1 and the output (their tuple task's split)
    lstm = MaskedModel(RepeatLSTM(6, 4, 2, steps=2, layers=2), exclude=["*bias*"])
    m = lstm.mask().replace({n: torch.zeros_like(t) for n, t in lstm.mask().to_dict().items()})
    early, late = trust.halves(lstm, m).values()
    assert [n for n in m if not early[n].any()] == ["lstm.weight_ih_l0", "lstm.weight_hh_l0"]
    assert [n for n in m if not late[n].any()] == ["lstm.weight_ih_l1", "lstm.weight_hh_l1", "out.weight"]


def _results(drop=0.02, good=(1e-5, 1e-3), shared=(0.5, 0.4, 0.3), between=0.01, learned=1.0, iou=0.93):
    halves, sweep, sizes, undecided = [], [], [], []
    stability = [{"seed": 0, "data": "CIFAR-10", "pair": f"pair {i}", "iou": iou, "density": 0.3,
                  "chance_iou": 0.18}
                 for i in range(3)]
    for model in ("add/mul FNN", "double-add FNN"):
        for variant, acc in (("unmasked", 1.0), ("all layers masked", 0.99),
                             ("early layers masked", 1.0 - drop), ("late layers masked", 0.99)):
            halves.append({"model": model, "seed": 0, "variant": variant, "accuracy": acc})
        undecided.append({"model": model, "seed": 0, "between": between})
    for network in ("200-200-100", "400-400-200"):
        for beta in (1e-6, 1e-5, 1e-4, 1e-3, 1e-2):
            ok = good[0] <= beta <= good[1]
            sweep.append({"seed": 0, "network": network, "beta": beta, "unmasked_add": 1.0,
                          "unmasked_mul": 1.0, "add": 1.0, "mul": 0.99 if ok else 0.5, "shared": 0.3})
    for weights, s in zip((1000, 2000, 4000), shared):
        sizes.append({"seed": 0, "network": str(weights), "weights": weights, "beta": 1e-4,
                      "unmasked_add": learned, "unmasked_mul": learned, "add": 1, "mul": 1, "shared": s})
    return {"halves": pd.DataFrame(halves), "sweep": pd.DataFrame(sweep), "sizes": pd.DataFrame(sizes),
            "undecided": pd.DataFrame(undecided), "stability": pd.DataFrame(stability)}


def _verdicts(**kw):
    return trust.verdicts(_results(**kw))["verdict"].tolist()


def test_all_claims_reproduced_on_tables_inside_every_rule():
    # hand-made tables, not the paper's: test_trust_verdicts.py judges the paper's own numbers
    assert _verdicts() == ["reproduced"] * 5


@pytest.mark.parametrize("kw,failing", [
    (dict(iou=0.5), 0),
    (dict(drop=0.3), 1),
    (dict(good=(1e-5, 1e-5)), 2),
    (dict(shared=(0.5, 0.6, 0.3)), 3),
    (dict(between=0.2), 4),
])
def test_each_claim_can_fail(kw, failing):
    only_claim_fails(_verdicts(**kw), failing)


def test_sizes_claim_needs_a_network_that_learned():
    assert _verdicts(learned=0.5)[3] == "not comparable"


def test_halves_of_a_transformer_keep_attention_projections_with_their_biases():
    from weightmask.models import Seq2SeqTransformer
    masked = MaskedModel(Seq2SeqTransformer(7, 7, d_model=8, heads=2, d_ff=16, layers=2), exclude="*_embed.*")
    mask = masked.mask().replace({n: torch.zeros_like(t) for n, t in masked.mask().to_dict().items()})
    early, late = trust.halves(masked, mask).values()
    in_early = {n for n in mask if not early[n].any()}
    assert {n for n in mask if not late[n].any()} == set(mask) - in_early
    assert "transformer.encoder.layers.0.self_attn.in_proj_weight" in in_early
    assert "out.weight" not in in_early
    for n in mask:  # a bias lies in the half of its module's matrix
        if n.endswith("in_proj_bias"):
            assert (n in in_early) == (n.replace("bias", "weight") in in_early)
    size = {n: mask[n].numel() for n in mask if mask[n].dim() >= 2}
    early_share = sum(v for n, v in size.items() if n in in_early) / sum(size.values())
    assert 0.3 < early_share < 0.7


@pytest.mark.parametrize("key,value", [("sweep", {"mask_stepz": 10}), ("scan_transformer", {"layerz": 1})])
def test_unknown_overrides_are_refused_before_any_compute(tmp_path, key, value):
    from weightmask import profiles
    from weightmask.store import RunStore
    config = {**profiles.resolve("trust", "smoke"), key: value}
    with pytest.raises(ValueError, match=key):
        trust.run(config, store=RunStore(tmp_path), device="cpu", profile="smoke")
    assert not list(tmp_path.iterdir())  # nothing trained


@pytest.mark.parametrize("profile", ["smoke", "quick", "paper"])
def test_the_other_chapters_stages_follow_the_profile(profile, monkeypatch, tmp_path, cifar_present):
    """Nothing trains: the stage functions record the settings they get, and the first one stops the run."""
    from weightmask import profiles
    from weightmask.experiments import addmul, arith_nets
    from weightmask.store import RunStore

    class Stop(Exception):
        pass
    seen = {}

    def cnn_checks(config, cfg, *args):
        seen["cnn"] = cfg
        return [], []

    def scan_halves(cfg, *args):
        seen["scan"] = cfg
        return []

    def network(problem, cfg, *args, **kw):
        seen[problem] = cfg
        raise Stop
    monkeypatch.setattr(trust, "_cnn_checks", cnn_checks)
    monkeypatch.setattr(trust, "_scan_halves", scan_halves)
    monkeypatch.setattr(arith_nets, "network", network)
    config = profiles.resolve("trust", profile)
    with pytest.raises(Stop):
        trust.run(config, store=RunStore(tmp_path), device="cpu", profile=profile)
    assert seen["cnn"] == profiles.resolve("cnn", profile)
    scan = profiles.resolve("scan", profile)
    assert seen["scan"] == {**scan, "transformer": {**scan["transformer"], **config["scan_transformer"]}}
    assert seen["addmul"] == addmul.nets(profiles.resolve("addmul", profile))["FNN"]
    assert trust.built_on(profile) == {name: profiles.resolve(name, profile) for name in trust.BUILDS_ON}
    assert not list(tmp_path.iterdir())


def test_run_needs_the_profile_of_the_stages_it_builds_on(tmp_path):
    from weightmask import profiles
    from weightmask.store import RunStore
    with pytest.raises(TypeError, match="profile"):
        trust.run(profiles.resolve("trust", "smoke"), store=RunStore(tmp_path), device="cpu")
