"""``weightmask list`` / ``weightmask run``: the chapters' experiments from the command line.

``run`` takes the same parameters as the notebooks (profile, seeds, device, any setting
of the profile via ``--set key=value``), validates them before any compute, trains into
the run store (reusing finished runs, resuming interrupted ones) and prints the verdicts.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from . import experiments, profiles
from .device import DEVICES, resolve_device
from .store import RunStore


def _value(text: str) -> Any:
    """A Python literal (``3``, ``1e-4``, ``[42, 64, 20]``, ``True``), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{key: literal value}``, with an error naming a malformed item."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = _value(text.strip())
    return out


def parse_seeds(text: str | None) -> int | list[int] | None:
    """``"10"`` -> 10 seeds (0..9), ``"3:6"`` -> seeds 3, 4, 5, ``"0,4"`` -> seeds 0 and 4."""
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = (int(t) for t in text.split(":"))
            return list(range(lo, hi))
        if "," in text:
            return [int(t) for t in text.split(",") if t.strip()]
        return int(text)
    except ValueError:
        raise ValueError(f"--seeds expects a count (10), a range (3:6) or a list (0,4), got {text!r}") from None


def provenance(args: argparse.Namespace, config: dict, device) -> dict[str, Any]:
    """Where and how a result was made: the machine, the code, the settings."""
    import platform
    import subprocess
    from datetime import datetime, timezone

    import torch
    commit = os.environ.get("WEIGHTMASK_COMMIT")
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                    check=True, cwd=Path(__file__).parent).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        platform.processor() or platform.machine())
    return {"experiment": args.experiment, "profile": args.profile or profiles.default_profile(),
            "config": config, "seeds": experiments.seed_ids(args.seeds, config["seeds"]), "device": f"{device.type}: {name}",
            "torch": torch.__version__, "commit": commit,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "weightmask " + " ".join(sys.argv[1:])}


def _list() -> None:
    for name, about in experiments.EXPERIMENTS.items():
        print(f"{name}: {about}")
        for profile in profiles.PROFILE_NAMES:
            config = profiles.resolve(name, profile)
            print(f"  {profile:6s} " + ", ".join(f"{k}={v!r}" for k, v in config.items()))


def _prepare(args: argparse.Namespace):
    """Every argument checked before any compute: (experiment module, config, device)."""
    module = experiments.get(args.experiment)
    profile = args.profile or profiles.default_profile()
    config = profiles.resolve(args.experiment, profile, **parse_sets(args.set))
    args.seeds = parse_seeds(args.seeds)
    experiments.seed_ids(args.seeds, config["seeds"])
    return module, config, resolve_device(args.device)


def _run(args: argparse.Namespace, module, config: dict, device) -> None:
    results = module.run(config, seeds=args.seeds, store=RunStore(args.results), device=device)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for name, table in results.items():
            table.to_csv(out / f"{name}.csv", index=False)
        (out / "provenance.json").write_text(json.dumps(provenance(args, config, device), indent=2))
        print(f"tables written to {out}/")
    if hasattr(module, "verdicts"):
        print(module.verdicts(results).to_string(index=False))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="weightmask", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="experiments, profiles and their settings")
    r = sub.add_parser("run", help="run one experiment into the run store and print its verdicts")
    r.add_argument("experiment", help=f"one of {sorted(experiments.EXPERIMENTS)}")
    r.add_argument("--profile", default=None, choices=profiles.PROFILE_NAMES,
                   help="default: $WEIGHTMASK_PROFILE, else quick")
    r.add_argument("--seeds", default=None,
                   help="a count (10), a range of ids (3:6) or a list (0,4); default: the profile's")
    r.add_argument("--device", default="auto", help=f"one of {list(DEVICES)} or cuda:N")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting of the profile (repeatable)")
    r.add_argument("--results", default=None, help="run store root (default: $WEIGHTMASK_RESULTS, else results/)")
    r.add_argument("--out", default=None, help="also write the result tables (CSV) and provenance.json here")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        _list()
        return 0
    try:
        prepared = _prepare(args)
    except (ValueError, TypeError) as err:
        print(f"weightmask: error: {err}", file=sys.stderr)
        return 2
    _run(args, *prepared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
