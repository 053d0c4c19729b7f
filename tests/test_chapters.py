"""The chapter registry: the book's toc, the dashboard, the CLI, the profiles, the claims and the
notebooks all follow it, so adding a chapter touches its module, notebook, tests and one entry."""
import importlib.util
import inspect
import json
from pathlib import Path

import pytest
import yaml

from weightmask import chapters, cli, dashboard, paper, profiles

ROOT = Path(__file__).parents[1]
BOOK = ROOT / "book"


def _build():
    spec = importlib.util.spec_from_file_location("build", BOOK / "build.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    return build


def _code_cells(name: str) -> list[str]:
    nb = json.loads((BOOK / f"{name}.ipynb").read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_registry_toc_dashboard_cli_profiles_and_claims_agree(capsys):
    names = chapters.names()
    assert len(set(names)) == len(names)
    toc = yaml.safe_load(chapters.toc())
    assert toc == {"format": "jb-book", "root": chapters.FRONT, "chapters": [{"file": n} for n in names]}
    assert [nb.stem for nb in _build().book_notebooks()] == names + [chapters.FRONT]
    assert list(dashboard.CHAPTERS) == names
    assert cli.main(["list"]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if not line.startswith(" ")] == names
    for chapter in chapters.CHAPTERS:
        assert list(profiles.of(chapter.name)) == list(profiles.PROFILE_NAMES), chapter.name
        ids = [c.id for c in chapter.claims]
        assert ids and len(set(ids)) == len(ids) and all(isinstance(c, paper.Claim) for c in chapter.claims)


def test_every_notebook_is_a_chapter_and_every_chapter_has_a_notebook():
    found = {p.stem for p in BOOK.glob("*.ipynb")} - {chapters.FRONT}
    assert found == set(chapters.names())


@pytest.mark.parametrize("chapter", chapters.CHAPTERS, ids=chapters.names())
def test_the_notebook_takes_the_registrys_parameters_and_starts_through_the_library(chapter):
    parameters, start = _code_cells(chapter.name)[:2]
    assert parameters == chapter.parameters_cell()
    assert f'notebook.start("{chapter.name}", globals())' in start
    assert "os.environ" not in parameters + start


@pytest.mark.parametrize("chapter", chapters.CHAPTERS, ids=chapters.names())
def test_the_module_takes_its_chapters_arguments(chapter):
    run = inspect.signature(chapter.module.run).parameters
    assert {"config", "seeds", "store", "device"} <= set(run)
    assert {p.name for p in chapter.params if not p.setting} <= set(run)
    assert ("profile" in run) == bool(chapter.builds_on)
    if "profile" in run:  # no silent default: the stages it reuses must be at the caller's profile
        assert run["profile"].default is inspect.Parameter.empty
    for other in chapter.builds_on:  # read before: its stages ran already when the book is built in order
        assert chapters.names().index(other) < chapters.names().index(chapter.name)
    for p in chapter.params:
        if p.setting:
            assert p.name in profiles.of(chapter.name)["smoke"], p.name


def test_unknown_chapter_names_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown experiment 'nope'; choose one of \['method'"):
        chapters.get("nope")


def _differing(config: dict, paper_config: dict, prefix: str = "") -> set[str]:
    """The dotted paths (``"lstm.mask_lr"``) of the settings of ``config`` that differ from ``paper_config``'s:
    nested settings key by key, and a group whose keys differ (trust's ``sweep``, mathematics' ``tasks``) by its
    own path too."""
    out = set()
    for key, value in config.items():
        path, ref = prefix + key, paper_config.get(key)
        if isinstance(value, dict) and isinstance(ref, dict):
            if set(value) != set(ref):
                out.add(path)
            out |= _differing({k: v for k, v in value.items() if k in ref}, ref, path + ".")
        elif key not in paper_config or repr(value) != repr(ref):
            out.add(path)
    return out


def _declares(setting: str, path: str) -> bool:
    """Whether a deviation's ``setting`` covers ``path``; ``*`` stands for any one key (``"tasks.*.steps"``)."""
    want, have = setting.split("."), path.split(".")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have))


@pytest.mark.parametrize("chapter", chapters.CHAPTERS, ids=chapters.names())
def test_every_setting_that_differs_from_the_paper_is_declared_and_every_declared_one_resolves(chapter):
    """One deviation per setting of the smoke and quick profiles that differs from the paper profile, but the
    settings the paper does not state (the module's ``UNSTATED``); each declared one differs at smoke or quick,
    but those the paper profile shares (``AT_EVERY_PROFILE``), resolves at every profile, and the claims name
    only declared ones."""
    module, configs = chapter.module, chapter.profiles
    declared = getattr(module, "DEVIATIONS", [])
    unstated, shared = getattr(module, "UNSTATED", set()), getattr(module, "AT_EVERY_PROFILE", set())
    assert len({d.id for d in declared}) == len(declared), "deviation ids must be unique"
    for d in declared:
        values = {name: repr(d.value(config)) for name, config in configs.items()}  # a KeyError: a moved setting
        assert d.reason.strip() and d.paper.strip(), d.id
        differs = values["smoke"] != values["paper"] or values["quick"] != values["paper"]
        if d.setting in shared:
            assert not differs, f"{d.setting}: in AT_EVERY_PROFILE, but smoke or quick differs from the paper profile"
        else:
            assert differs, f"{d.setting}: declared, but smoke and quick take the paper profile's value"
    settings = {d.setting for d in declared}
    assert shared <= settings and not unstated & settings, (shared, unstated)
    for path in unstated:  # a setting of the paper profile, not a misspelt one
        node = configs["paper"]
        for key in path.split("."):
            assert isinstance(node, dict) and key in node, f"UNSTATED names no setting: {path}"
            node = node[key]
    differing = set().union(*(_differing(configs[name], configs["paper"]) for name in ("smoke", "quick")))
    undeclared = {path for path in differing - unstated if not any(_declares(s, path) for s in settings)}
    assert not undeclared, f"settings that differ from the paper profile without a deviation: {sorted(undeclared)}"
    for claim in chapter.claims:
        assert set(claim.tuned) <= {d.id for d in declared}, (chapter.name, claim.id)
