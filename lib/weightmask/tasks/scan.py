"""SCAN (Lake & Baroni, 2018), generated exactly from its published grammar (paper Sec. 4).

Commands such as "jump around left twice" map to action sequences such as
"I_TURN_LEFT I_JUMP I_TURN_LEFT I_JUMP ...". The grammar has 20,910 distinct commands;
``load_split`` returns the splits of the paper as lists of (command, actions) strings,
like the lines of the original SCAN files: generated (``source="grammar"``, offline), the
released files through ``datasets`` (``"hub"``, :func:`weightmask.tasks.hub.scan_split`), or the
hub where it can be read and the grammar otherwise (``"auto"``). The two sources hold the same
commands and the same systematic splits; the random ``simple`` split is drawn differently.
"""
from __future__ import annotations

import functools
import itertools
import random

PRIMITIVES = {"walk": "I_WALK", "look": "I_LOOK", "run": "I_RUN", "jump": "I_JUMP"}
TURNS = {"left": "I_TURN_LEFT", "right": "I_TURN_RIGHT"}
REPEATS = {"twice": 2, "thrice": 3}
SPLITS = ("simple", "length", "addprim_jump", "addprim_turn_left")
SIMPLE_TRAIN = 0.8     # share of the commands in the random ("simple") training set
SIMPLE_SEED = 0        # the fixed seed of that random split
LENGTH_TRAIN_MAX = 22  # the "length" split trains on outputs of at most this many actions
PRIMITIVE_SHARE = 0.1  # the bare added primitive makes up this share of an addprim training set
ADDED = {"addprim_jump": "jump", "addprim_turn_left": "turn left"}
SOURCES = ("grammar", "hub", "auto")


def _verbs() -> list[tuple[str, list[str]]]:
    """V -> D opposite D | D around D | D | U, with D -> U left | U right | turn left | turn right."""
    out = [(u, [a]) for u, a in PRIMITIVES.items()]
    for direction, turn in TURNS.items():
        for u, act in [("turn", [])] + [(u, [a]) for u, a in PRIMITIVES.items()]:
            out.append((f"{u} {direction}", [turn] + act))
            out.append((f"{u} opposite {direction}", [turn, turn] + act))
            out.append((f"{u} around {direction}", ([turn] + act) * 4))
    return out


def _phrases() -> list[tuple[str, list[str]]]:
    """S -> V twice | V thrice | V."""
    verbs = _verbs()
    return verbs + [(f"{v} {word}", act * n) for word, n in REPEATS.items() for v, act in verbs]


@functools.cache
def commands() -> tuple[tuple[str, str], ...]:
    """Every SCAN command with its actions, sorted by command: C -> S and S | S after S | S."""
    phrases = _phrases()
    out = list(phrases)
    for (a, x), (b, y) in itertools.product(phrases, repeat=2):
        out.append((f"{a} and {b}", x + y))
        out.append((f"{a} after {b}", y + x))  # "x after y": y first
    return tuple(sorted((c, " ".join(act)) for c, act in out))


def _contains(command: str, primitive: str) -> bool:
    """Does ``command`` use ``primitive`` (one word, or "turn left" as two consecutive words)?"""
    words, p = command.split(), primitive.split()
    return any(words[i:i + len(p)] == p for i in range(len(words) - len(p) + 1))


def _probe() -> None:
    from . import hub
    hub.scan_split("simple")


def resolve(source: str) -> str:
    """``source`` (one of ``SOURCES``) as the one that will be read: ``"auto"`` is ``"hub"`` where the hub
    (or the ``datasets`` cache) answers, else ``"grammar"``."""
    if source not in SOURCES:
        raise ValueError(f"unknown SCAN source {source!r}; choose one of {list(SOURCES)}")
    if source != "auto":
        return source
    from . import hub
    return "hub" if hub.readable(hub.SCAN_HUB, _probe) else "grammar"


def load_split(name: str, source: str = "grammar") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(train, test) lists of (command, actions) for the split ``name`` (one of ``SPLITS``) from
    ``source`` (one of ``SOURCES``; the grammar's splits are described here, the hub's are Lake &
    Baroni's files).

    ``simple``: a random 80/20 split (fixed seed). ``length``: train on outputs of at most 22
    actions, test on the longer ones. ``addprim_jump`` / ``addprim_turn_left``: train on every
    command without the primitive plus the bare primitive, repeated to make up 10% of the
    training set; test on every other command that uses it.
    """
    if name not in SPLITS:
        raise ValueError(f"unknown SCAN split {name!r}; choose one of {list(SPLITS)}")
    if resolve(source) == "hub":
        from . import hub
        return hub.scan_split(name)
    pairs = list(commands())
    if name == "simple":
        random.Random(SIMPLE_SEED).shuffle(pairs)
        cut = round(SIMPLE_TRAIN * len(pairs))
        return pairs[:cut], pairs[cut:]
    if name == "length":
        short = [len(a.split()) <= LENGTH_TRAIN_MAX for _, a in pairs]
        return [p for p, s in zip(pairs, short) if s], [p for p, s in zip(pairs, short) if not s]
    primitive = ADDED[name]
    bare = next(p for p in pairs if p[0] == primitive)
    train = [p for p in pairs if not _contains(p[0], primitive)]
    test = [p for p in pairs if _contains(p[0], primitive) and p != bare]
    copies = round(PRIMITIVE_SHARE * len(train) / (1 - PRIMITIVE_SHARE))
    return train + [bare] * copies, test
