"""Every argument of an experiment, checked before any compute; the generic rules live here, by setting name.

:func:`experiment` is the first line of every experiment's ``run()``, and the CLI and the
notebooks call it (through :mod:`weightmask.plan`) before anything else: each setting by
its name (:data:`RULES`, nested settings too), each ``n_samples`` against the batches it
splits, the names in a setting against the module's ``CHOICES``, the seeds, the device and
the chapter's arguments against its registry entry; last the module's own ``check(config,
**arguments)`` for what only that chapter knows (e.g. the input and output sizes of its task).
"""
from __future__ import annotations

import math
import tempfile
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Callable

from . import chapters
from .device import resolve_device
from .experiments import seed_ids

Rule = tuple[Callable[[Any], bool], str]  # (test, what the value must be)


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def integer(lo: int) -> Rule:
    return (lambda v: _is_int(v) and v >= lo), f"an integer >= {lo}"


def number(lo: float, hi: float | None = None, *, open_lo: bool = False, open_hi: bool = False) -> Rule:
    """A finite number in [lo, hi] (``open_lo``/``open_hi``: excluding that end; no ``hi``: unbounded)."""
    def test(v):
        return (_is_number(v) and (v > lo if open_lo else v >= lo)
                and (hi is None or (v < hi if open_hi else v <= hi)))
    text = f"a number {'>' if open_lo else '>='} {lo:g}"
    return test, text + ("" if hi is None else f" and {'<' if open_hi else '<='} {hi:g}")


def _layer_sizes(v: Any) -> bool:
    return isinstance(v, list) and len(v) >= 2 and all(_is_int(n) and n >= 1 for n in v)


SIZES: Rule = ((lambda v: _layer_sizes(v) or (isinstance(v, list) and len(v) >= 1 and all(map(_layer_sizes, v)))),
               "layer sizes [in, ..., out]: a list of >= 2 integers >= 1 (or a list of such lists)")
WIDTHS: Rule = (lambda v: isinstance(v, list) and len(v) >= 1 and all(_is_int(n) and n >= 1 for n in v),
                "a list of integers >= 1")
BETAS: Rule = (lambda v: isinstance(v, list) and len(v) >= 1 and all(_is_number(b) and b >= 0 for b in v),
               "a list of numbers >= 0")

# Setting name (a glob) -> rule; the first match applies. A dict is nested settings, walked instead.
RULES: dict[str, Rule] = {
    "*steps": integer(1),  # train_steps, mask_steps, resnet_steps, steps (of training, or an LSTM's input steps)
    "warmup": integer(0),
    "*lr": number(0, open_lo=True),  # lr, mask_lr, resnet_lr
    "beta": number(0), "alpha": number(0), "betas": BETAS,
    "*batch": integer(1),  # batch, mask_batch
    "n_samples": integer(1), "eval_every": integer(1), "draws": integer(1),
    "n_test": integer(1), "images_test": integer(1), "n_train": integer(1), "n_val": integer(1),
    "seeds": integer(1), "data_seed": integer(0),
    "tasks": integer(1),  # pmnist's number of tasks (the mathematics tasks are nested settings)
    **dict.fromkeys(("pairs", "hidden", "embed", "d_model", "d_ff", "heads", "layers", "resnet_depth",
                     "resnet_width"), integer(1)),
    "*sizes": SIZES, "small_doubleadd": SIZES, "widths": WIDTHS,
    "dropout": number(0, 1, open_hi=True), "teacher_forcing": number(0, 1), "clip": number(0, open_lo=True),
}
BATCHES = ("mask_batch", "batch")  # what n_samples splits: the mask batch where there is one


def rule(name: str) -> Rule | None:
    """The rule for the setting called ``name`` (the last part of a nested name), if any."""
    return next((r for pattern, r in RULES.items() if fnmatchcase(name, pattern)), None)


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if isinstance(value, list):
        if not value or len(set(value)) != len(value) or any(v not in allowed for v in value):
            raise ValueError(f"setting {name!r} must be a list of distinct values among {list(allowed)}, "
                             f"got {value!r}")
    elif value not in allowed:
        raise ValueError(f"setting {name!r} must be one of {list(allowed)}, got {value!r}")


def _divides(scope: dict[str, tuple[str, Any]]) -> None:
    """``n_samples`` masks share each batch: it must divide the batch it splits."""
    if "n_samples" not in scope:
        return
    n_name, n = scope["n_samples"]
    for key in BATCHES:
        if key in scope:
            b_name, b = scope[key]
            if b % n:
                raise ValueError(f"setting {n_name!r} must divide {b_name!r} (each batch is split among the "
                                 f"n_samples mask samples): {b} is not a multiple of {n}")
            return


def settings(config: dict[str, Any], choices: dict[str, tuple] | None = None, prefix: str = "",
             inherited: dict[str, tuple[str, Any]] | None = None) -> None:
    """Every setting of ``config`` by its name (:data:`RULES`, ``choices``), nested ones too.

    A nested dict inherits ``n_samples`` and the batches of the settings around it."""
    choices = choices or {}
    own = {k: (prefix + k, config[k]) for k in ("n_samples", *BATCHES) if k in config}
    for key, value in config.items():
        if isinstance(value, dict):
            continue
        found = rule(key)
        if found is not None and not found[0](value):
            raise ValueError(f"setting {prefix + key!r} must be {found[1]}, got {value!r}")
        if key in choices:
            _choice(prefix + key, value, choices[key])
    scope = {**(inherited or {}), **own}
    if own:
        _divides(scope)
    for key, value in config.items():
        if isinstance(value, dict):
            settings(value, choices, f"{prefix}{key}.", scope)


def experiment(name: str, config: dict[str, Any], seeds=None, device="auto", **arguments: Any) -> None:
    """Every argument of the chapter ``name``'s ``run(config, seeds, store, device, **arguments)``."""
    chapter = chapters.get(name)
    known = {p.name: p for p in chapter.parameters if not p.setting}
    for key, value in arguments.items():
        if key not in known:
            raise ValueError(f"{name} takes no argument {key!r}; its arguments are {sorted(known)}")
        known[key].check(value)
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of settings, got {type(config).__name__}")
    module = chapter.module
    settings(config, getattr(module, "CHOICES", None))
    seed_ids(seeds, config["seeds"])
    resolve_device(device)
    if hasattr(module, "check"):
        module.check(config, **arguments)


def writable(path: str | Path, what: str) -> Path:
    """``path`` as a folder this process can write into: created if missing, then a file written there and
    removed; a ValueError naming ``what`` otherwise."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".writable-"):
            pass
    except OSError as err:
        raise ValueError(f"{what} {str(path)!r} is not a folder this process can write: "
                         f"{err.strerror or err}") from None
    return path
