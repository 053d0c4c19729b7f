"""The Mathematics chapter: hard accuracies from the table; the verdict follows them both ways."""
import pandas as pd
import pytest

from weightmask import profiles
from weightmask.experiments import mathematics as e
from weightmask.store import RunStore

SORT, ADD = "comparison__sort", "arithmetic__add_or_sub"


def _results(**hard):
    """Per task, hard accuracies ``(no mask, IID mask, easy mask)``; the easy set is solved by all."""
    rows = []
    for task, accs in hard.items():
        for seed in (0, 1):
            for mask, a in zip(e.MASKS, accs):
                rows += [{"task": task, "seed": seed, "mask": mask, "evaluated on": "hard", "accuracy": a},
                         {"task": task, "seed": seed, "mask": mask, "evaluated on": "easy", "accuracy": 0.99}]
    return {"accuracy": pd.DataFrame(rows)}


def _verdict(**hard):
    return e.verdicts(_results(**hard)).iloc[0]


def test_hard_accuracy_is_read_off_the_table():
    h = e.hard_accuracy(_results(comparison__sort=(0.8, 0.78, 0.6)))
    assert list(h.columns) == list(e.MASKS) and h.loc[SORT, "easy mask"] == pytest.approx(0.6)


def test_reproduced_when_the_easy_mask_drops_in_every_learned_task():
    v = _verdict(comparison__sort=(0.8, 0.78, 0.6), arithmetic__add_or_sub=(0.7, 0.7, 0.5))
    assert v["verdict"] == "reproduced" and "78%" in v["this run"]


@pytest.mark.parametrize("hard", [
    dict(comparison__sort=(0.8, 0.78, 0.6), arithmetic__add_or_sub=(0.7, 0.7, 0.69)),  # no drop in one task
    dict(comparison__sort=(0.8, 0.78, 0.77)),                                           # within the noise bar
    dict(comparison__sort=(0.6, 0.8, 0.7)),                   # below the IID mask, not below the network
])
def test_not_reproduced_without_a_drop_against_both(hard):
    assert _verdict(**hard)["verdict"] == "not reproduced"


def test_unlearned_tasks_are_left_out_or_make_it_not_comparable():
    v = _verdict(comparison__sort=(0.8, 0.78, 0.6), arithmetic__add_or_sub=(0.1, 0.1, 0.1))
    assert v["verdict"] == "reproduced" and "(not learned)" in v["this run"]
    assert _verdict(comparison__sort=(0.1, 0.1, 0.0))["verdict"] == "not comparable"


def test_select_and_bad_settings_fail_before_compute(tmp_path):
    config = profiles.resolve("mathematics", "quick")
    assert list(e.select(config, [ADD])["tasks"]) == [ADD] and e.select(config, None) is config
    with pytest.raises(ValueError, match="'tasks' must be None or a list of some of this profile's tasks"):
        e.select(config, ["calculus__differentiate"])
    store = RunStore(tmp_path)
    bad = {**config, "tasks": {"calculus__integrate": config["tasks"][SORT]}}
    with pytest.raises(ValueError, match="unknown task 'calculus__integrate'"):
        e.run(bad, store=store, device="cpu")
    with pytest.raises(ValueError, match=r"'evaluate' must be a list of distinct values among \['easy'"):
        e.run({**config, "evaluate": ["extreme"]}, store=store, device="cpu")
    assert not any(tmp_path.iterdir())


def test_the_paper_profile_holds_table_4():
    paper = profiles.resolve("mathematics", "paper")
    assert len(paper["tasks"]) == 5 and paper["seeds"] == 5 and paper["n_samples"] == 8
    assert (paper["d_model"], paper["d_ff"], paper["heads"], paper["layers"]) == (256, 512, 4, 3)
    assert paper["tasks"]["algebra__linear_1d"]["warmup"] == 5000 and paper["tasks"][SORT]["warmup"] == 0
