"""What the paper reports, claim by claim, for the side-by-side tables of the book."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

VERDICTS = ("reproduced", "not reproduced", "not comparable")
LEARNED = 0.9  # accuracy below which a network has not learned its task: its claims are vacuous
IMAGES_LEARNED = 0.70  # the same for a 10-class image classifier (CPU-sized CNNs on CIFAR-10)
MNIST_LEARNED = 0.85  # the same for a permuted-MNIST task (an FNN on the 8,000 offline digits)


@dataclass(frozen=True)
class Claim:
    id: str
    text: str
    paper: str   # the paper's figure or statement, as printed there
    source: str  # where in the paper


CLAIMS: dict[str, list[Claim]] = {
    "method": [
        Claim("mean", "Hard Gumbel-sigmoid samples are Bernoulli(sigmoid(l)) at every temperature",
              "E[b] = sigmoid(l), independent of tau", "App. A.3, A.4"),
        Claim("full-mask", "A mask trained on the full task keeps the network's performance",
              "only a slight drop (> 95% of the original)", "App. C.3"),
        Claim("binary", "Mask probabilities sigmoid(l) concentrate at 0 and 1, so thresholding is safe",
              "concentrated at 0 and 1", "Sec. 2 footnote 2, Fig. 9"),
    ],
    "addmul": [
        Claim("shared-ends", "Add and mul share more weights in the first and last layers than in "
              "hidden layers", "sharing highest at the input and output layers", "Sec. 3.1, Fig. 1"),
        Claim("mul-more", "Multiplication uses several times more weights than addition",
              "3.8x", "Sec. 3.1, Fig. 12"),
        Claim("fnn-follows-mask", "Under one operation's mask the FNN performs that operation "
              "whatever the selector says", "performs the masked operation", "App. C.4, Fig. 13a-c"),
        Claim("lstm-invalid", "Under one operation's mask the LSTM answers the other operation "
              "with invalid outputs (neither sum nor product)", "mostly 'none'", "App. C.4, Fig. 13d-f"),
    ],
    "doubleadd": [
        Claim("low-sharing", "The two pairs' modules share few weights in the hidden layers, "
              "although the same function is computed twice", "weight sharing is low", "Sec. 3.2, Fig. 2"),
        Claim("inverted-pair", "Without the weights of one pair's mask the other pair keeps nearly its "
              "full accuracy, while the removed pair drops near chance",
              "FNN 94% / 20%, LSTM 100% / 2%, forced 96% / 4%", "Sec. 3.2, Table 1"),
        Claim("sanity", "When the hidden layers cannot tell the pairs apart (I/O weights copied), "
              "the method finds near-complete sharing there", "sharing almost perfect", "App. C.1, Fig. 8"),
    ],
    "pmnist": [
        Claim("few-shared", "With free capacity, a later task shares few weights with the earlier "
              "ones, although a shared hidden network would suffice", "< 20% in the hidden layers",
              "Sec. 3.3, Fig. 3"),
        Claim("output-first", "Sharing rises only as capacity fills, first in the output layer",
              "output layer fills first", "Sec. 3.3, Fig. 3"),
        Claim("bias", "Masks initialized to prefer the old weights share substantially more",
              "significantly increased", "App. C.6, Fig. 14"),
        Claim("kept", "Old tasks keep their accuracy: their weights are frozen",
              "implied by the protocol", "Sec. 3.3"),
    ],
    "mathematics": [
        Claim("easy-mask-drop", "A mask trained on the easy split loses accuracy on the hard split, compared "
              "with the IID mask and the unmasked network: hard samples rely on weights the easy ones do not "
              "need, although the same rules govern both", "a consistent drop in every task (bar chart, "
              "5 seeds per task)", "Sec. 4, Fig. 5, App. C.7.2"),
    ],
    "cnn": [
        Claim("class-drop", "Removing a class's exclusive weights drops that class's accuracy "
              "substantially, while the other classes barely change",
              "simple CNN 40-60%, ResNet-110 near 100%; others: small", "Sec. 5, Fig. 6"),
        Claim("dropout", "Dropout increases the reliance on class-exclusive weights",
              "30-40% larger drop with dropout", "App. C.8.2, Fig. 18, 19"),
        Claim("confusions", "The removed class is then confused with classes that share features",
              "airplane -> bird, ship; cat <-> dog; truck <-> car", "Sec. 5, App. C.8.1"),
    ],
    "scan": [
        Claim("gap", "Masks trained on a split's training set lose accuracy on its systematically "
              "different test set, although the frozen network solves the full problem: the solution "
              "needs combination-specific weights", "large generalization gap", "Sec. 4, Fig. 4a"),
        Claim("both", "The gap appears for both the LSTM and the Transformer", "both networks",
              "Sec. 4, Fig. 4a; App. B.4"),
        Claim("jump", "On the add-jump split the LSTM decoder's output layer loses the largest share of "
              "its weights for I_JUMP", "almost half of I_JUMP's weights removed", "Sec. 4, Fig. 4b"),
    ],
    "trust": [
        Claim("stability", "Masks trained from different seeds agree", "IoU 93.26 ± 0.96%",
              "App. B.1"),
        Claim("half-masking", "Masks applied to only half of the weights cost little accuracy: the "
              "masks select a subnetwork, they do not re-program the network",
              "low drop, except the big double-addition FNN with early layers masked", "App. B.2, Fig. 7"),
        Claim("beta", "The results are insensitive to the exact beta, and beta transfers across network "
              "sizes", "not very sensitive; transfers well", "App. C.3, Fig. 10"),
        Claim("size", "Larger networks share fewer weights (underfitting networks share more)",
              "sharing falls with network size", "App. C.3, C.4, Fig. 11"),
        Claim("binary", "Mask probabilities concentrate at 0 and 1 on every task, so thresholding "
              "at 0.5 is safe", "concentrated at 0 and 1", "Sec. 2 footnote 2, Fig. 9"),
    ],
}

# Table 2 of the paper: accuracy [%] per network and tested operation under each mask.
ADDMUL_TABLE2 = pd.DataFrame(
    {"full": [100, 100, 100, 100], "add": [100, 0, 100, 3], "¬add": [13, 69, 2, 6],
     "mul": [1, 100, 2, 100], "¬mul": [20, 17, 1, 2]},
    index=pd.MultiIndex.from_product([["FNN", "LSTM"], ["add", "mul"]], names=["net", "op"]))


# Tables 1 and 3 of the paper: accuracy [%] per network and tested pair under each mask
# (Table 3 inverts only the hidden layers and keeps the full-task mask on input and output).
_DOUBLEADD_ROWS = pd.MultiIndex.from_product([["FNN", "LSTM", "LSTM (forced)"], ["pair1", "pair2"]],
                                             names=["net", "pair"])
DOUBLEADD_TABLE1 = pd.DataFrame(
    {"full": [100] * 6, "pair1": [100, 1, 100, 1, 100, 1], "¬pair1": [20, 94, 2, 100, 4, 96],
     "pair2": [1, 100, 1, 100, 1, 100], "¬pair2": [92, 21, 99, 2, 99, 3]}, index=_DOUBLEADD_ROWS)
DOUBLEADD_TABLE3 = pd.DataFrame(
    {"full": [100] * 6, "pair1": [100, 1, 100, 1, 100, 1], "¬pair1": [7, 62, 16, 97, 25, 94],
     "pair2": [1, 100, 1, 100, 1, 100], "¬pair2": [63, 8, 99, 16, 76, 42]}, index=_DOUBLEADD_ROWS)


def not_learned(measured: dict[str, tuple[str, str, str]], accuracy: float,
                threshold: float = LEARNED) -> dict[str, tuple[str, str, str]]:
    """Every verdict turned into 'not comparable' when the unmasked network's ``accuracy`` is
    below ``threshold``: masks of a network that cannot do the task show nothing."""
    if accuracy >= threshold:
        return measured
    why = f"the network has not learned the task (accuracy {accuracy:.0%} < {threshold:.0%})"
    return {k: (value, "not comparable", why) for k, (value, _, _) in measured.items()}


def verdict_table(experiment: str, measured: dict[str, tuple[str, str, str]]) -> pd.DataFrame:
    """Join the paper's claims with this run: ``measured[id] = (this run's figure, verdict, why)``."""
    rows = []
    for c in CLAIMS[experiment]:
        if c.id not in measured:
            raise KeyError(f"no measurement for claim {c.id!r} of {experiment}")
        value, verdict, why = measured[c.id]
        if verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {verdict!r}")
        rows.append({"claim": c.text, "paper": c.paper, "source": c.source, "this run": value,
                     "verdict": verdict, "why": why})
    return pd.DataFrame(rows)


def with_reference(table: pd.DataFrame, reference: pd.DataFrame | None) -> pd.DataFrame:
    """``table`` with the reference run's figure and verdict beside each claim (GPU, paper profile).

    Without a reference the table is returned unchanged, so a chapter renders either way.
    """
    if reference is None:
        return table
    ref = reference.set_index("claim")[["this run", "verdict"]]
    ref.columns = ["reference run", "reference verdict"]
    missing = set(table["claim"]) - set(ref.index)
    if missing:
        raise KeyError(f"the reference has no verdict for {sorted(missing)}")
    return table.join(ref, on="claim")
