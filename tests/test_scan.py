"""SCAN from its grammar: the published counts, split sizes, vocabularies and semantics."""
import pytest

from weightmask.tasks import scan


def test_the_grammar_has_the_published_commands_and_vocabularies():
    pairs = scan.commands()
    assert len(pairs) == len({c for c, _ in pairs}) == 20_910
    assert len({w for c, _ in pairs for w in c.split()}) == 13
    assert {w for _, a in pairs for w in a.split()} == {"I_WALK", "I_LOOK", "I_RUN", "I_JUMP",
                                                         "I_TURN_LEFT", "I_TURN_RIGHT"}
    assert max(len(c.split()) for c, _ in pairs) == 9
    assert max(len(a.split()) for _, a in pairs) == 48


@pytest.mark.parametrize("command,actions", [
    ("jump around left twice", " ".join(["I_TURN_LEFT I_JUMP"] * 8)),
    ("turn opposite right", "I_TURN_RIGHT I_TURN_RIGHT"),
    ("walk after run", "I_RUN I_WALK"),
    ("look left and turn around right", "I_TURN_LEFT I_LOOK " + " ".join(["I_TURN_RIGHT"] * 4)),
    ("run opposite left thrice", " ".join(["I_TURN_LEFT I_TURN_LEFT I_RUN"] * 3)),
])
def test_semantics(command, actions):
    assert dict(scan.commands())[command] == actions


@pytest.mark.parametrize("split,sizes", [
    ("simple", (16_728, 4_182)), ("length", (16_990, 3_920)),
    ("addprim_jump", (14_670, 7_706)), ("addprim_turn_left", (21_890, 1_208)),
])
def test_split_sizes_are_the_published_ones(split, sizes):
    train, test = scan.load_split(split)
    assert (len(train), len(test)) == sizes


def test_splits_separate_what_they_promise():
    train, test = scan.load_split("simple")
    assert not {c for c, _ in train} & {c for c, _ in test}
    assert train == scan.load_split("simple")[0]  # the fixed seed
    train, test = scan.load_split("length")
    assert max(len(a.split()) for _, a in train) <= 22 < min(len(a.split()) for _, a in test)
    train, test = scan.load_split("addprim_jump")
    bare = [p for p in train if "jump" in p[0].split()]
    assert set(bare) == {("jump", "I_JUMP")} and len(bare) == len(train) // 10
    assert all("jump" in c.split() for c, _ in test) and ("jump", "I_JUMP") not in test
    train, test = scan.load_split("addprim_turn_left")
    assert ("turn opposite left", "I_TURN_LEFT I_TURN_LEFT") in train  # not the primitive "turn left"
    assert all("turn left" in c for c, _ in test)
    assert sum(c == "turn left" for c, _ in train) == len(train) // 10


def test_unknown_split_names_the_allowed_ones():
    with pytest.raises(ValueError, match="addprim_turn_left"):
        scan.load_split("add_jump")


def test_the_hub_and_auto_sources(monkeypatch):
    """``hub`` reads the released files (tasks.hub.scan_split, tested offline in test_hub); ``auto`` reads them
    where the hub answers and falls back to the grammar, with a warning, where it does not."""
    from weightmask.tasks import hub
    released = ([("jump", "I_JUMP")], [("walk", "I_WALK")])
    monkeypatch.setattr(hub, "scan_split", lambda name: released)
    monkeypatch.setattr(hub, "_READABLE", {})
    assert scan.load_split("length", "hub") == released and scan.resolve("auto") == "hub"
    assert scan.load_split("length", "auto") == released

    def offline(name):
        raise ConnectionError("no network")
    monkeypatch.setattr(hub, "scan_split", offline)
    monkeypatch.setattr(hub, "_READABLE", {})
    with pytest.warns(UserWarning, match="cannot be read"):
        assert scan.load_split("length", "auto") == scan.load_split("length")
    with pytest.raises(ValueError, match="unknown SCAN source 'files'"):
        scan.load_split("length", "files")
