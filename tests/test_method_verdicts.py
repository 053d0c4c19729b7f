"""The method chapter's verdicts follow the measured tables, in both directions."""
import numpy as np
import pandas as pd

from weightmask.experiments import method


def _results(fractions, masked_mul=0.99, sampling_error=0.0, unmasked=1.0):
    left = method.BINS[:-1]
    hist = pd.DataFrame({"seed": 0, "left": left, "right": method.BINS[1:], "fraction": fractions})
    acc = pd.DataFrame([{"seed": 0, "model": m, "op": op, "accuracy": a}
                        for m, accs in (("unmasked", (unmasked, unmasked)), ("mask (full task)", (1.0, masked_mul)))
                        for op, a in zip(("add", "mul"), accs)])
    sig = np.array([0.2, 0.5, 0.9])
    sampling = pd.DataFrame({"sigmoid": sig, "draws": 10_000, "hard_mean": sig + sampling_error})
    summary = pd.DataFrame({"seed": [0], "near_binary": [0.5], "density": [0.3], "between": [0.3]})
    return {"histogram": hist, "accuracy": acc, "sampling": sampling, "summary": summary}


def _verdict(results, claim):
    v = method.verdicts(results)
    return v.set_index("claim").filter(like=claim, axis=0)["verdict"].item()


def test_u_shaped_histogram_is_reproduced_and_a_peak_at_the_start_is_not():
    n = len(method.BINS) - 1
    u = np.full(n, 0.01)
    u[0], u[-1] = 0.4, 0.1
    start = np.full(n, 0.01)
    start[0], start[-1], start[44] = 0.4, 0.02, 0.2  # peak near 0.9
    assert _verdict(_results(u / u.sum()), "concentrate") == "reproduced"
    assert _verdict(_results(start / start.sum()), "concentrate") == "not reproduced"


def test_accuracy_and_sampling_verdicts_can_fail():
    flat = np.full(len(method.BINS) - 1, 1 / (len(method.BINS) - 1))
    assert _verdict(_results(flat, masked_mul=0.99), "keeps") == "reproduced"
    assert _verdict(_results(flat, masked_mul=0.90), "keeps") == "not reproduced"
    # a network at chance has no performance to keep
    assert _verdict(_results(flat, masked_mul=0.05, unmasked=0.04), "keeps") == "not comparable"
    assert _verdict(_results(flat), "Bernoulli") == "reproduced"
    assert _verdict(_results(flat, sampling_error=0.05), "Bernoulli") == "not reproduced"
