"""The add/mul chapter: verdicts follow the tables in both directions; Table 2 and the data."""
import pandas as pd
import pytest

from weightmask.experiments import addmul

from verdict_checks import only_claim_fails


def _results(shared_ends=0.8, shared_hidden=0.3, add_kept=100, mul_kept=380, follows=0.9, unmasked=1.0,
             lstm_none=0.8, lstm_unmasked=1.0, inverted=0.5):
    """Hand-made tables for an FNN (4 weight layers) and an LSTM (3): paper-like by default."""
    sharing, counts, performed, accuracy = [], [], [], []
    for net, layers in (("FNN", 4), ("LSTM", 3)):
        for seed in (0, 1):
            for op in ("add", "mul"):
                for layer in range(1, layers + 1):
                    end = layer in (1, layers)
                    sharing.append({"net": net, "seed": seed, "layer": layer, "op": op,
                                    "shared": shared_ends if end else shared_hidden})
                    counts.append({"net": net, "seed": seed, "layer": layer, "op": op,
                                   "kept": add_kept if op == "add" else mul_kept})
            for mask, other in (("add", "mul"), ("mul", "add")):
                for sel in ("add", "mul"):
                    own = 0.99 if sel == mask else (follows if net == "FNN" else 1 - lstm_none)
                    none = 1 - own
                    performed += [{"net": net, "seed": seed, "mask": mask, "selector": sel,
                                   "performed": p, "fraction": f}
                                  for p, f in ((mask, own), (other, 0.0), ("none", none))]
            for mask in ("none",) + addmul.TABLE2_MASKS:
                for op in ("add", "mul"):
                    top = unmasked if net == "FNN" else lstm_unmasked
                    accuracy.append({"net": net, "seed": seed, "mask": mask, "op": op,
                                     "accuracy": top if mask == "none" else inverted if "¬" in mask else 0.5})
    return {"sharing": pd.DataFrame(sharing), "counts": pd.DataFrame(counts),
            "performed": pd.DataFrame(performed), "accuracy": pd.DataFrame(accuracy)}


def _verdicts(**kw):
    return addmul.verdicts(_results(**kw))["verdict"].tolist()


def test_all_claims_reproduced_on_paper_like_tables():
    assert _verdicts() == ["reproduced"] * len(addmul.CLAIMS)


@pytest.mark.parametrize("kw,failing", [
    (dict(shared_ends=0.2, shared_hidden=0.3), 0),
    (dict(mul_kept=150), 1),
    (dict(follows=0.3), 2),
    (dict(lstm_none=0.3), 3),
    (dict(inverted=0.95), 4),
])
def test_each_claim_can_fail(kw, failing):
    only_claim_fails(_verdicts(**kw), failing)


def test_a_network_that_did_not_learn_makes_its_claims_not_comparable():
    # claims about every network go by the worst one, the FNN's and the LSTM's by their own
    assert _verdicts(unmasked=0.3) == ["not comparable"] * 3 + ["reproduced", "not comparable"]
    assert _verdicts(lstm_unmasked=0.3) == ["not comparable", "reproduced", "reproduced", "not comparable",
                                            "not comparable"]


def test_a_run_without_the_lstm_judges_the_fnn():
    r = {k: v[v["net"] == "FNN"] for k, v in _results().items()}
    assert _verdicts_of(r) == ["reproduced", "reproduced", "reproduced", "not comparable", "reproduced"]


def _verdicts_of(results):
    return addmul.verdicts(results)["verdict"].tolist()


def test_table2_sets_the_paper_beside_this_run():
    t = addmul.table2(_results())
    assert list(t.columns) == list(addmul.TABLE2_MASKS)
    assert list(t.index) == [("FNN", "add"), ("FNN", "mul"), ("LSTM", "add"), ("LSTM", "mul")]
    assert t.loc[("FNN", "mul"), "¬add"] == "50 ± 0 (paper 69)"
    assert t.loc[("LSTM", "mul"), "¬add"] == "50 ± 0 (paper 6)"


def test_examples_leave_out_ambiguous_pairs():
    x, a, b, op = addmul._examples("cpu")
    assert ((a + b) % 100 != (a * b) % 100).all() and len(a) == len(op) == x.shape[0]
    assert x.shape[1] == 42 and set(op.tolist()) == {0, 1}
