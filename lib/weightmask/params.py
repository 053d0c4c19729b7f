"""The parameters of a chapter, as its notebook's parameters cell and ``weightmask run`` take them.

A :class:`Param` says its default, its allowed values and how the command line spells a
value; :data:`COMMON` are the three every chapter takes. A chapter's own ones are listed
in its registry entry (:mod:`weightmask.chapters`), which the notebooks and the CLI follow.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

from .profiles import PROFILE_NAMES


def literal(text: str) -> Any:
    """A Python literal (``3``, ``1e-4``, ``[42, 64, 20]``, ``True``, ``None``), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def listed(text: str) -> list[Any] | None:
    """``"a,b"`` -> ``["a", "b"]``; a Python literal list as it is; ``"None"`` -> None."""
    value = literal(text)
    if value is None or isinstance(value, list):
        return value
    return [literal(t.strip()) for t in text.split(",") if t.strip()]


def seeds(text: str) -> int | list[int]:
    """``"10"`` -> 10 seeds (0..9), ``"3:6"`` -> seeds 3, 4, 5, ``"0,4"`` -> seeds 0 and 4."""
    try:
        if ":" in text:
            lo, hi = (int(t) for t in text.split(":"))
            return list(range(lo, hi))
        if "," in text:
            return [int(t) for t in text.split(",") if t.strip()]
        return int(text)
    except ValueError:
        raise ValueError(f"--seeds expects a count (10), a range (3:6) or a list (0,4), got {text!r}") from None


@dataclass(frozen=True)
class Param:
    """One parameter: a notebook variable of the parameters cell and a ``--name`` option of the CLI.

    ``setting=True``: the value overrides the profile's setting of that name (None keeps the
    profile's); otherwise it is a keyword argument of the experiment's ``run()``.
    """

    name: str
    default: Any
    help: str
    choices: tuple | None = None
    setting: bool = False
    parse: Callable[[str], Any] = literal  # the value of the CLI's text

    def check(self, value: Any) -> Any:
        """``value`` if allowed, else a ValueError naming the parameter and its allowed values."""
        if self.choices is not None and value not in self.choices and not (value is None and self.default is None):
            raise ValueError(f"parameter {self.name!r} must be one of {list(self.choices)}, got {value!r}")
        return value


COMMON = (
    Param("profile", None, "smoke | quick | paper; None: $WEIGHTMASK_PROFILE, else quick", choices=PROFILE_NAMES),
    Param("seeds", None, "None: the profile's number of seeds; a count (10) or a list of seed ids ([3, 4])",
          parse=seeds),
    Param("device", "auto", "auto | cpu | cuda | cuda:N"),
)
