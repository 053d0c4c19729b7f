"""The CNN chapter: drops and confusions from the tables; verdicts follow them both ways."""
import pandas as pd
import pytest

from weightmask.experiments import cnn

from verdict_checks import only_claim_fails

CLASSES = ("airplane", "automobile", "bird", "cat", "ship", "truck")


def _results(target=0.5, other=0.05, no_dropout=0.3, data="CIFAR-10", confusions=None, learned=0.9):
    """Per net, masks 'unmasked' / 'control' / one per removed class; the removed class falls by
    ``target`` (relative), the others by ``other``, and its examples go to ``confusions[c]``."""
    confusions = confusions or {"airplane": "bird", "cat": "automobile", "truck": "automobile",
                                "automobile": "truck"}
    acc, conf = [], []
    for net, drop in (("CNN", target), ("CNN (no dropout)", no_dropout), ("ResNet", target)):
        for mask in ("unmasked", "control") + CLASSES:
            for c in CLASSES:
                a = learned if mask in ("unmasked", "control") else learned * (1 - (drop if c == mask else other))
                acc.append({"net": net, "seed": 0, "mask": mask, "class": c, "accuracy": a})
                for p in CLASSES:
                    if mask in ("unmasked", "control") or c != mask:
                        f = a if p == c else (1 - a) / (len(CLASSES) - 1)
                    else:
                        dest = confusions.get(c, "ship" if c != "ship" else "bird")
                        f = a if p == c else (1 - a if p == dest else 0.0)
                    conf.append({"net": net, "seed": 0, "mask": mask, "true": c, "predicted": p, "fraction": f})
    return {"accuracy": pd.DataFrame(acc), "confusion": pd.DataFrame(conf),
            "data": pd.DataFrame([{"name": data, "classes": list(CLASSES), "test": 100}])}


def _verdicts(**kw):
    return cnn.verdicts(_results(**kw))["verdict"].tolist()


def test_drops_and_confusions_are_read_off_the_tables():
    d = cnn.drops(_results()).set_index(["net", "removed"])
    assert d.loc[("CNN", "cat"), "drop"] == pytest.approx(0.5)
    assert d.loc[("CNN", "cat"), "other_over_target"] == pytest.approx(0.1)
    c = cnn.confused_with(_results()).set_index(["net", "removed"])
    assert c.loc[("CNN", "airplane"), "now predicted as"] == "bird"


def test_all_claims_reproduced_on_paper_like_tables():
    assert _verdicts() == ["reproduced"] * 3


@pytest.mark.parametrize("kw,failing", [
    (dict(target=0.1, no_dropout=0.05), 0),
    (dict(other=0.4), 0),
    (dict(no_dropout=0.6), 1),
    (dict(confusions={"airplane": "truck", "cat": "ship", "truck": "cat", "automobile": "cat"}), 2),
])
def test_each_claim_can_fail(kw, failing):
    only_claim_fails(_verdicts(**kw), failing)


def test_other_data_and_unlearned_networks():
    assert _verdicts(data="Fashion-MNIST (Debian)")[2] == "not comparable"
    assert _verdicts(learned=0.5) == ["not comparable"] * 3
