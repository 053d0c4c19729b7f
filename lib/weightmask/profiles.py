"""``smoke`` / ``quick`` / ``paper`` settings per experiment, selected by name everywhere.

``smoke`` proves the code path in seconds (tests, the smoke book of `make test`); ``quick`` is sized for a 2-core
CPU in minutes and must still show each qualitative claim; ``paper`` is Appendix C. Each
experiment module holds its own ``PROFILES`` (with the reasons for its choices); this module
finds them through the chapter registry and applies overrides.
"""
from __future__ import annotations

import copy
from typing import Any

from . import settings

PROFILE_NAMES = ("smoke", "quick", "paper")
ENV_VAR = "WEIGHTMASK_PROFILE"


def default_profile() -> str:
    """The profile named by ``$WEIGHTMASK_PROFILE``, else ``quick``."""
    return check_profile(settings.profile())


def check_profile(profile: str) -> str:
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {list(PROFILE_NAMES)}")
    return profile


def pick(profile: str | None) -> str:
    """``profile`` checked, or the default profile when it is None (a notebook's or the CLI's unset one)."""
    return default_profile() if profile is None else check_profile(profile)


def of(experiment: str) -> dict[str, dict[str, Any]]:
    """``{profile: settings}`` of ``experiment``: its module's ``PROFILES``, found through the registry."""
    from . import chapters  # the registry imports this module
    return chapters.get(experiment).profiles


def resolve(experiment: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """The settings of ``experiment`` at ``profile`` with ``overrides`` applied and checked.

    An override must name an existing setting and keep its type (ints may become floats);
    ``"lstm.hidden"`` names the setting ``hidden`` inside the nested settings ``lstm``.
    """
    config = copy.deepcopy(of(experiment)[check_profile(profile)])
    for key, value in overrides.items():
        if value is None:
            continue
        *path, last = key.split(".")
        where = config
        for i, part in enumerate(path):
            if not isinstance(where.get(part), dict):
                raise ValueError(f"{experiment} has no nested settings {'.'.join(path[:i + 1])!r}; "
                                 f"its settings are {sorted(where)}")
            where = where[part]
        if last not in where:
            raise ValueError(f"{experiment} has no setting {key!r}; the settings there are {sorted(where)}")
        default = where[last]
        ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
        if not ok or isinstance(value, bool) != isinstance(default, bool):
            raise TypeError(f"{experiment} setting {key!r} must be {type(default).__name__} "
                            f"(like {default!r}), got {value!r}")
        where[last] = float(value) if isinstance(default, float) else value
    return config
