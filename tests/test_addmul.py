"""The add/mul chapter: verdicts follow the tables in both directions; Table 2 and the data."""
import pandas as pd
import pytest

from weightmask.experiments import addmul


def _results(shared_ends=0.8, shared_hidden=0.3, add_kept=100, mul_kept=380, follows=0.9, unmasked=1.0):
    sharing, counts, performed, accuracy = [], [], [], []
    for seed in (0, 1):
        for op in ("add", "mul"):
            for layer in (1, 2, 3, 4):
                end = layer in (1, 4)
                sharing.append({"seed": seed, "layer": layer, "op": op,
                                "shared": shared_ends if end else shared_hidden})
                counts.append({"seed": seed, "layer": layer, "op": op,
                               "kept": add_kept if op == "add" else mul_kept})
        for mask, other in (("add", "mul"), ("mul", "add")):
            for sel in ("add", "mul"):
                own = follows if sel == other else 0.99
                performed += [{"seed": seed, "mask": mask, "selector": sel, "performed": mask, "fraction": own},
                              {"seed": seed, "mask": mask, "selector": sel, "performed": other, "fraction": 0.0},
                              {"seed": seed, "mask": mask, "selector": sel, "performed": "none",
                               "fraction": 1 - own}]
        for mask in ("none",) + addmul.TABLE2_MASKS:
            for op in ("add", "mul"):
                accuracy.append({"seed": seed, "mask": mask, "op": op,
                                 "accuracy": unmasked if mask == "none" else 0.5})
    return {"sharing": pd.DataFrame(sharing), "counts": pd.DataFrame(counts),
            "performed": pd.DataFrame(performed), "accuracy": pd.DataFrame(accuracy)}


def _verdicts(**kw):
    return addmul.verdicts(_results(**kw))["verdict"].tolist()


def test_all_claims_reproduced_on_paper_like_tables():
    assert _verdicts() == ["reproduced"] * 3


@pytest.mark.parametrize("kw,failing", [
    (dict(shared_ends=0.2, shared_hidden=0.3), 0),
    (dict(mul_kept=150), 1),
    (dict(follows=0.3), 2),
])
def test_each_claim_can_fail(kw, failing):
    v = _verdicts(**kw)
    assert v[failing] == "not reproduced"
    assert [x for i, x in enumerate(v) if i != failing] == ["reproduced"] * 2


def test_a_network_that_did_not_learn_makes_every_claim_not_comparable():
    assert _verdicts(unmasked=0.3) == ["not comparable"] * 3


def test_table2_sets_the_paper_beside_this_run():
    t = addmul.table2(_results())
    assert list(t.columns) == list(addmul.TABLE2_MASKS) and list(t.index) == ["add", "mul"]
    assert t.loc["mul", "¬add"] == "50 ± 0 (paper 69)"


def test_examples_leave_out_ambiguous_pairs():
    x, a, b, op = addmul._examples("cpu")
    assert ((a + b) % 100 != (a * b) % 100).all() and len(a) == len(op) == x.shape[0]
    assert x.shape[1] == 42 and set(op.tolist()) == {0, 1}
