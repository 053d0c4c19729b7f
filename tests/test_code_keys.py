"""Stage keys know the code they run: an edit re-runs exactly the stages that reach it."""
import sys
import textwrap

import pytest

from weightmask import codehash
from weightmask.store import RunStore

MODEL = '''
"""Doc."""
SCALE = 2


def forward(x):
    """Doc."""
    return x * SCALE  # a comment
'''
EXPERIMENT = '''
from . import model
from .model import SCALE


def stage(x):
    return model.forward(x)


def other(x):
    return x + 1


def verdicts(value):
    return "reproduced" if value > SCALE else "not reproduced"
'''


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A small package on sys.path whose files the test edits."""
    root = tmp_path / "pkgx"
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "model.py").write_text(MODEL)
    (root / "experiment.py").write_text(EXPERIMENT)
    monkeypatch.syspath_prepend(str(tmp_path))
    codehash.clear_cache()
    yield root
    codehash.clear_cache()
    for name in [m for m in sys.modules if m.startswith("pkgx")]:
        del sys.modules[name]


def key(root_name: str) -> str:
    codehash.clear_cache()
    return codehash.code_hash(("pkgx.experiment", root_name))


def edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_an_edit_changes_exactly_the_stages_that_reach_it(package):
    stage, other = key("stage"), key("other")
    edit(package / "model.py", "x * SCALE", "x * SCALE + 0")
    assert key("stage") != stage and key("other") == other
    stage = key("stage")
    edit(package / "model.py", "SCALE = 2", "SCALE = 3")  # a constant the function reads
    assert key("stage") != stage


def test_a_definition_added_beside_the_one_a_stage_calls_through_its_module_costs_no_rebuild(package):
    # ``model.forward(x)`` reaches forward (and what model runs on import), not every function of model
    stage = key("stage")
    (package / "model.py").write_text((package / "model.py").read_text() + "\n\ndef unrelated():\n    return 1\n")
    assert key("stage") == stage
    edit(package / "experiment.py", "return model.forward(x)", "return getattr(model, 'forward')(x)")
    stage = key("stage")  # the module used as a value: all of it counts
    edit(package / "model.py", "return 1", "return 2")
    assert key("stage") != stage


def test_docstrings_comments_and_verdicts_cost_no_rebuild(package):
    stage = key("stage")
    edit(package / "model.py", '"""Doc."""\n    return', '"""Reworded."""\n    return')
    edit(package / "model.py", "# a comment", "# another comment")
    edit(package / "experiment.py", "value > SCALE", "value >= SCALE")
    assert key("stage") == stage


def test_a_stage_opened_from_a_function_is_keyed_by_its_code(package, tmp_path):
    edit(package / "experiment.py", "def other(x):\n    return x + 1",
         "def other(store):\n    return store.run('exp', {}, 0)")
    import pkgx.experiment as experiment
    store = RunStore(tmp_path / "results")
    run = experiment.other(store)
    assert run.info["code"] == key("other") is not None
    assert experiment.other(store) == run


def test_the_librarys_stages_reach_their_code_and_not_the_verdicts():
    from weightmask.experiments import arith_nets, cnn
    walker = codehash._Walker({"weightmask"})
    walker.add(("weightmask.experiments.arith_nets", "mask"))
    walker.add(("weightmask.experiments.arith_nets", "network"))
    reached = {(m, n) for m, n, _ in walker.run()}
    for needed in [("weightmask.training", "train_mask"), ("weightmask.training", "train_weights"),
                   ("weightmask.masking", "MaskedModel"), ("weightmask.gumbel", "masked_weight_samples_many"),
                   ("weightmask.models.fnn", "FNN"), ("weightmask.models.lstm", "RepeatLSTM"),
                   ("weightmask.tasks.arithmetic", "batch"), ("weightmask.tasks.double_add", "sample")]:
        assert needed in reached, needed
    assert not {m for m, _ in reached} & {"weightmask.paper", "weightmask.experiments.addmul",
                                          "weightmask.experiments.method", "weightmask.dashboard"}
    assert codehash.code_hash(cnn.class_mask, cnn.network) != codehash.code_hash(cnn.network)
    assert codehash.code_hash(arith_nets.network) == codehash.code_hash(arith_nets.network)


def test_a_sibling_script_named_in_a_string_counts(package):
    (package / "worker.py").write_text("print(1)\n")
    edit(package / "model.py", "SCALE = 2", "SCALE = 2\nWORKER = 'worker.py'")
    edit(package / "model.py", "return x * SCALE", "return x * SCALE, WORKER")
    before = key("stage")
    (package / "worker.py").write_text("print(2)\n")
    assert key("stage") != before


def test_code_outside_any_source_file_has_no_hash():
    namespace = {}
    exec(textwrap.dedent("def f():\n    return 1\n"), namespace)
    namespace["f"].__module__ = "not_a_module_anywhere"
    assert codehash.code_hash(namespace["f"]) is None


def _stage_functions(module):
    """The top-level functions of ``module`` that open a run-store stage, and their code roots."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(module))
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        for call in ast.walk(fn):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "run" \
                    and isinstance(call.func.value, ast.Name) and call.func.value.id == "store":
                roots = [(module.__name__, fn.name)]
                for kw in call.keywords:
                    if kw.arg == "code":
                        names = kw.value.elts if isinstance(kw.value, ast.Tuple) else [kw.value]
                        roots += [(module.__name__, n.id) for n in names]
                yield fn.name, roots


def test_no_stage_reaches_a_verdict_rule():
    """Editing how a chapter judges its results recomputes its verdicts without retraining."""
    from weightmask import chapters
    from weightmask.experiments import arith_nets
    stages = 0
    for module in {c.module for c in chapters.CHAPTERS} | {arith_nets}:
        for name, roots in _stage_functions(module):
            walker = codehash._Walker({"weightmask"})
            for root in roots:
                walker.add(root)
            reached = {(m, n) for m, n, _ in walker.run()}
            stages += 1
            assert not [r for r in reached if r[1] == "verdicts" or r[0] in (
                "weightmask.paper", "weightmask.dashboard", "weightmask.checks")], (module.__name__, name)
    assert stages >= 10


def test_a_constant_changed_in_place_belongs_to_that_constant(package):
    """``X[k] = v`` at module level is part of X, not code that every stage runs."""
    path = package / "experiment.py"
    edit(path, "def verdicts(value):", "LIMITS = {'a': 1}\nLIMITS['b'] = 2\n\n\ndef verdicts(value):")
    edit(path, 'return "reproduced" if value > SCALE', 'return "reproduced" if value > LIMITS["b"]')
    stage, rule = key("stage"), key("verdicts")
    edit(package / "experiment.py", "LIMITS['b'] = 2", "LIMITS['b'] = 3")
    assert key("stage") == stage and key("verdicts") != rule
