"""``smoke`` / ``quick`` / ``paper`` settings per experiment, selected by name everywhere.

``smoke`` proves the code path in seconds (tests, nbval); ``quick`` is sized for a 2-core
CPU in minutes and must still show each qualitative claim; ``paper`` is Appendix C.
"""
from __future__ import annotations

import copy
import os
from typing import Any

PROFILE_NAMES = ("smoke", "quick", "paper")
ENV_VAR = "WEIGHTMASK_PROFILE"

PROFILES: dict[str, dict[str, dict[str, Any]]] = {
    # The method chapter: Gumbel-sigmoid statistics and the add/mul FNN of App. C.4.
    "method": {
        "smoke": dict(seeds=1, draws=2000, sizes=[42, 64, 20], batch=128, train_steps=40,
                      mask_steps=40, lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4, eval_every=20),
        "quick": dict(seeds=2, draws=200_000, sizes=[42, 400, 400, 200, 20], batch=128,
                      train_steps=6000, mask_steps=10_000, lr=1e-3, mask_lr=1e-2, beta=1e-4,
                      n_samples=4, eval_every=2000),
        "paper": dict(seeds=10, draws=2_000_000, sizes=[42, 2000, 2000, 2000, 2000, 20], batch=128,
                      train_steps=20_000, mask_steps=20_000, lr=1e-3, mask_lr=1e-2, beta=1e-4,
                      n_samples=4, eval_every=2000),
    },
    # Sec. 3.1 / App. C.4. The network and the full-task mask are the method chapter's stages
    # (same settings, so the run store shares them); quick uses the 400-400-200 network that
    # App. C.4 says solves the task.
    "addmul": {
        "smoke": dict(seeds=1, sizes=[42, 64, 64, 20], batch=128, train_steps=40, mask_steps=40,
                      lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4, eval_every=20),
        "quick": dict(seeds=2, sizes=[42, 400, 400, 200, 20], batch=128, train_steps=6000,
                      mask_steps=10_000, lr=1e-3, mask_lr=1e-2, beta=1e-4, n_samples=4,
                      eval_every=2000),
        "paper": dict(seeds=10, sizes=[42, 2000, 2000, 2000, 2000, 20], batch=128,
                      train_steps=20_000, mask_steps=20_000, lr=1e-3, mask_lr=1e-2, beta=1e-4,
                      n_samples=4, eval_every=2000),
    },
}


def default_profile() -> str:
    """The profile named by ``$WEIGHTMASK_PROFILE``, else ``quick``."""
    return check_profile(os.environ.get(ENV_VAR) or "quick")


def check_profile(profile: str) -> str:
    if profile not in PROFILE_NAMES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {list(PROFILE_NAMES)}")
    return profile


def resolve(experiment: str, profile: str, **overrides: Any) -> dict[str, Any]:
    """The settings of ``experiment`` at ``profile`` with ``overrides`` applied and checked.

    An override must name an existing setting and keep its type (ints may become floats).
    """
    if experiment not in PROFILES:
        raise ValueError(f"unknown experiment {experiment!r}; choose one of {sorted(PROFILES)}")
    config = copy.deepcopy(PROFILES[experiment][check_profile(profile)])
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in config:
            raise ValueError(f"{experiment} has no setting {key!r}; its settings are {sorted(config)}")
        default = config[key]
        ok = isinstance(value, type(default)) or (isinstance(default, float) and isinstance(value, int))
        if not ok or isinstance(value, bool) != isinstance(default, bool):
            raise TypeError(f"{experiment} setting {key!r} must be {type(default).__name__} "
                            f"(like {default!r}), got {value!r}")
        config[key] = float(value) if isinstance(default, float) else value
    return config
