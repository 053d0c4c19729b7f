"""``weightmask list`` / ``weightmask run``: the chapters' experiments from the command line.

``run`` takes the parameters of the chapter's notebook (profile, seeds, device and the
chapter's own, e.g. ``--source``: the registry :mod:`weightmask.chapters` lists them) and any
setting of the profile via ``--set key=value``, checks them all and the output folders before
any compute, trains into the run store (reusing finished runs, resuming interrupted ones) and
prints the verdicts.

``--executor ray [--address ADDR]`` first computes the chapter's stages as Ray tasks, one per stage
(weights, then each mask once its weights are done; :mod:`weightmask.executor`), on a local Ray
instance or a cluster sharing the run store; the chapter's tables are then made in this process
from the finished stages. A task that still fails after ``--retries`` is reported (stage, config,
traceback) and the command exits with 1, keeping the other stages.
``--executor local`` (the default) runs the same graph in this process: the chapter's ``run()``
over all seeds, which walks the stages of each seed in order.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Sequence

from . import chapters, checks, executor, plan, profiles, settings
from .params import Param, literal
from .store import RunStore


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["key=value", ...]`` -> ``{key: literal value}``, with an error naming a malformed item."""
    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--set expects key=value, got {item!r}")
        out[key.strip()] = literal(text.strip())
    return out


def options() -> dict[str, list[tuple[str, Param]]]:
    """Every parameter name of any chapter -> ``[(chapter, its Param), ...]``: the options of ``run``."""
    found: dict[str, list[tuple[str, Param]]] = {}
    for chapter in chapters.CHAPTERS:
        for p in chapter.parameters:
            found.setdefault(p.name, []).append((chapter.name, p))
    return found


def provenance(planned: plan.Plan) -> dict[str, Any]:
    """Where and how a result was made: the machine, the code, the settings."""
    import platform
    import subprocess
    from datetime import datetime, timezone

    import torch
    commit = settings.commit()
    if not commit:
        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                    check=True, cwd=Path(__file__).parent).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    device = planned.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (
        platform.processor() or platform.machine())
    return {"experiment": planned.chapter.name, "profile": planned.profile, "config": planned.config,
            "arguments": planned.arguments, "seeds": planned.seed_ids, "device": f"{device.type}: {name}",
            "torch": torch.__version__, "commit": commit,
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "command": "weightmask " + " ".join(sys.argv[1:])}


def _list() -> None:
    for chapter in chapters.CHAPTERS:
        print(f"{chapter.name}: {chapter.about}")
        for p in chapter.params:
            print(f"  --{p.name} (default {p.default!r}): {p.help}")
        for profile in profiles.PROFILE_NAMES:
            config = profiles.resolve(chapter.name, profile)
            print(f"  {profile:6s} " + ", ".join(f"{k}={v!r}" for k, v in config.items()))


def _prepare(args: argparse.Namespace) -> tuple[plan.Plan, RunStore, Path | None]:
    """Every argument and output folder checked before any compute."""
    given = {name: found[0][1].parse(getattr(args, name)) for name, found in options().items()
             if getattr(args, name) is not None}
    planned = plan.prepare(args.experiment, sets=parse_sets(args.set), **given)
    store = RunStore(args.results)
    checks.writable(store.root, "--results")
    return planned, store, checks.writable(args.out, "--out") if args.out else None


def _run(planned: plan.Plan, store: RunStore, out: Path | None) -> None:
    results = planned.run(store)
    if out is not None:
        for name, table in results.items():
            table.to_csv(out / f"{name}.csv", index=False)
        (out / "provenance.json").write_text(json.dumps(provenance(planned), indent=2))
        print(f"tables written to {out}/")
    print(planned.chapter.module.verdicts(results).to_string(index=False))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="weightmask", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="chapters, their parameters, profiles and settings")
    r = sub.add_parser("run", help="run one chapter's experiment into the run store and print its verdicts")
    r.add_argument("experiment", help=f"one of {chapters.names()}")
    for name, found in options().items():  # the notebooks' parameters, from the registry
        first = found[0][1]
        same = all(p == first for _, p in found)
        text = first.help if same else "; ".join(f"{c}: {p.help}" for c, p in found)
        if len(found) < len(chapters.CHAPTERS) and same:
            text = f"{', '.join(c for c, _ in found)}: {text}"
        spellings = [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])
        r.add_argument(*spellings, dest=name, default=None, metavar=name.upper(),
                       choices=first.choices if same else None, help=text)
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting of the profile (repeatable)")
    r.add_argument("--results", default=None, help="run store root (default: $WEIGHTMASK_RESULTS, else results/)")
    r.add_argument("--out", default=None, help="also write the result tables (CSV) and provenance.json here")
    r.add_argument("--executor", default="local", choices=executor.EXECUTORS,
                   help="local: in this process (default); ray: every stage a Ray task, after the stages it "
                        "needs; then the tables here from the finished stages")
    r.add_argument("--address", default=None, help="ray: the cluster to connect to (auto, ray://HEAD:10001); "
                   "default $RAY_ADDRESS, else a Ray instance started on this machine")
    r.add_argument("--retries", type=int, default=None, metavar="N",
                   help="ray: retries of a failing task before it is reported (default 2)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "list":
        _list()
        return 0
    try:
        prepared = _prepare(args)
        runner = None
        if args.executor != "local":
            runner = executor.make(args.executor, address=args.address, retries=args.retries)
        elif args.address is not None or args.retries is not None:
            raise ValueError("--address and --retries are for --executor ray")
    except (ValueError, TypeError) as err:
        print(f"weightmask: error: {err}", file=sys.stderr)
        return 2
    settings.tune_process()  # the CLI is an entry point: it may tune the process (WEIGHTMASK_TUNE=0: not)
    if runner is not None:  # the stages on the cluster first; the tables below only read them
        planned, store, _ = prepared
        if not executor.execute([planned], store, runner, device=args.device or "auto").ok:
            print("weightmask: some stages failed (above); the finished ones are kept in the run store",
                  file=sys.stderr)
            return 1
    _run(*prepared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
