#!/usr/bin/env python
"""Execute the book's chapters with papermill, then render the HTML.

    python book/build.py --profile quick --device auto [--only method]

1. Copies book/ to _build/executed/ (Markdown, bibliography, _static/) and writes its
   _toc.yml from the chapter registry (weightmask.chapters): the front page, then the chapters.
2. Executes every chapter of the registry, in reading order, then the front page (the results
   dashboard: it collects the chapters' verdicts), with papermill into _build/executed/
   (parameters `profile` and `device`, kernel `python3`, working directory = repository root,
   WEIGHTMASK_PROFILE = the profile).
   With --only, the other chapters keep their last executed copy (the front page runs again).
3. Renders _build/executed/ with Jupyter Book into _build/html/.

The notebooks never run inside Sphinx (`execute_notebooks: "off"`).
No library logic lives here.

Why this script is the only writer of _toc.yml, and book/ holds none: the toc is only ever
read by Jupyter Book when it renders _build/executed/ (book/ is never rendered as it is: its
notebooks have no outputs until this script executes them), so a committed copy would be one
more list of the chapters to keep equal to the registry, read by nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from weightmask import chapters, profiles

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CONFIG = ROOT / "_config.yml"
EXECUTED = ROOT / "_build" / "executed"
HTML = ROOT / "_build" / "html"
MATHJAX = BOOK / "_static" / "mathjax" / "tex-chtml.js"
# Not part of the rendered sources.
SKIP = shutil.ignore_patterns(
    "*.ipynb", "_ext", "build.py", "__pycache__", ".ipynb_checkpoints", "_build"
)


def book_notebooks() -> list[Path]:
    """The chapters' notebooks in reading order, then the front page's (paths relative to book/)."""
    notebooks = [Path(f"{name}.ipynb") for name in chapters.names() + [chapters.FRONT]]
    missing = [str(nb) for nb in notebooks if not (BOOK / nb).is_file()]
    if missing:
        sys.exit(f"build.py: the registry (weightmask.chapters) names notebooks that {BOOK} lacks: {missing}")
    return notebooks


def chapter_name(nb: Path) -> str:
    return nb.with_suffix("").as_posix()


def copy_sources(keep: list[Path]) -> None:
    """Fresh copy of book/ in _build/executed/, keeping the executed notebooks in `keep`."""
    kept = {}
    for nb in keep:
        if (EXECUTED / nb).is_file():
            kept[nb] = (EXECUTED / nb).read_bytes()
    if EXECUTED.exists():
        shutil.rmtree(EXECUTED)
    shutil.copytree(BOOK, EXECUTED, ignore=SKIP)
    (EXECUTED / "_toc.yml").write_text(chapters.toc(), encoding="utf-8")
    for nb in keep:
        target = EXECUTED / nb
        target.parent.mkdir(parents=True, exist_ok=True)
        if nb in kept:
            target.write_bytes(kept[nb])
        else:
            print(f"  {chapter_name(nb)}: no executed copy yet, rendered without outputs")
            shutil.copy2(BOOK / nb, target)


def hide_injected_parameters(path: Path) -> None:
    """Give papermill's injected parameters cell the `remove-cell` tag when the notebook's own
    parameters cell has it (the front page shows no code)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    tags = [set(c.metadata.get("tags", [])) for c in nb.cells]
    if not any({"parameters", "remove-cell"} <= t for t in tags):
        return
    for cell, t in zip(nb.cells, tags):
        if "injected-parameters" in t and "remove-cell" not in t:
            cell.metadata["tags"] = sorted(t | {"remove-cell"})
    nbformat.write(nb, path)


def final_progress(text: str) -> str:
    """Each line of a stream as a terminal leaves it: the text after its last carriage return
    (the last non-blank state), so that a progress bar shows its final state only."""
    lines = []
    for line in text.split("\n"):
        states = [s for s in line.split("\r") if s.strip()]
        if states or "\r" not in line:
            lines.append(states[-1] if states else line)
    return "\n".join(lines)


def keep_final_progress(path: Path) -> None:
    """Reduce the progress bars in the stream outputs of ``path`` to their final state: the
    kernel records every redraw, which the HTML page would print as a line of its own."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        merged: list = []  # consecutive writes to one stream, as Jupyter shows them: one output
        for out in cell.get("outputs", []):
            last = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last.get("name") == out.get("name")):
                last["text"] += out["text"]
            else:
                merged.append(out)
        for out in merged:
            if out.get("output_type") == "stream" and "\r" in out.get("text", ""):
                out["text"] = final_progress(out["text"])
        if "outputs" in cell:
            cell["outputs"] = merged
    nbformat.write(nb, path)


def execute(notebooks: list[Path], profile: str, device: str) -> None:
    import papermill as pm  # imported here so that --help works without it

    # The kernel inherits this environment. MPLBACKEND is dropped so that the
    # kernel uses the inline backend (an Agg backend would drop every figure).
    os.environ["WEIGHTMASK_PROFILE"] = profile
    os.environ.pop("MPLBACKEND", None)
    total = time.perf_counter()
    for i, nb in enumerate(notebooks, 1):
        name = chapter_name(nb)
        out = EXECUTED / nb
        out.parent.mkdir(parents=True, exist_ok=True)
        print(f"[{i}/{len(notebooks)}] {name} (profile={profile}, device={device}) ...", flush=True)
        start = time.perf_counter()
        try:
            pm.execute_notebook(
                str(BOOK / nb),
                str(out),
                parameters={"profile": profile, "device": device},
                kernel_name="python3",
                language="python",
                cwd=str(ROOT),
                progress_bar=False,
                log_output=False,
            )
        except Exception as err:  # papermill wraps cell errors; kernel deaths come raw
            wall = time.perf_counter() - start
            print(f"[{i}/{len(notebooks)}] {name} FAILED after {wall:.1f} s", file=sys.stderr)
            print(str(err).strip() or repr(err), file=sys.stderr)
            print(
                f"\nbuild.py: chapter '{name}' failed; the executed notebook with the error "
                f"is {os.path.relpath(out)}",
                file=sys.stderr,
            )
            sys.exit(1)
        hide_injected_parameters(out)
        keep_final_progress(out)
        wall = time.perf_counter() - start
        print(f"[{i}/{len(notebooks)}] {name} done in {wall:.1f} s", flush=True)
    print(f"executed {len(notebooks)} chapter(s) in {time.perf_counter() - total:.1f} s", flush=True)


def render() -> None:
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    if not jupyter_book.exists():
        jupyter_book = Path(shutil.which("jupyter-book") or "jupyter-book")
    cmd = [
        str(jupyter_book),
        "build",
        str(EXECUTED),
        "--config", str(CONFIG),
        "--toc", str(EXECUTED / "_toc.yml"),  # must be absolute when --config is elsewhere
        "--path-output", str(ROOT),           # HTML lands in <ROOT>/_build/html
        "--builder", "html",
        "--all",
    ]
    print("rendering:", " ".join(cmd), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"build.py: jupyter-book build failed (exit {done.returncode})")
    if not (HTML / "index.html").is_file():
        sys.exit(f"build.py: jupyter-book finished but {HTML / 'index.html'} is missing")
    print(f"rendered {HTML.relative_to(ROOT)}/ in {time.perf_counter() - start:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--profile",
        default=None,
        choices=profiles.PROFILE_NAMES,
        help="smoke | quick | paper (default: $WEIGHTMASK_PROFILE, else quick)",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (default: auto)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="CHAPTER",
        help="execute only this chapter (e.g. method); repeatable. "
        "The others keep their last executed copy.",
    )
    parser.add_argument(
        "--no-execute", action="store_true", help="execute nothing; reuse the last executed copies"
    )
    parser.add_argument("--no-html", action="store_true", help="execute only; do not render")
    args = parser.parse_args(argv)
    args.profile = profiles.pick(args.profile)

    if not args.no_html and not MATHJAX.is_file():
        sys.exit(f"build.py: {MATHJAX.relative_to(ROOT)} is missing; run `make mathjax` first")

    notebooks = book_notebooks()
    names = {chapter_name(nb): nb for nb in notebooks}
    if args.no_execute:
        selected = []
    elif args.only:
        wanted = [Path(o).with_suffix("").as_posix() for o in args.only]
        unknown = [w for w in wanted if w not in names]
        if unknown:
            sys.exit(f"build.py: --only {', '.join(unknown)}: not a notebook of the book "
                     f"({', '.join(names)})")
        selected = [nb for nb in notebooks if chapter_name(nb) in wanted]  # reading order
    else:
        selected = notebooks
    # The front page shows the dashboard of the chapters' verdicts: it runs after every
    # chapter it summarises, and again whenever any chapter ran.
    front = notebooks[-1]
    if selected:
        selected = [nb for nb in selected if nb != front] + [front]
    copy_sources(keep=[nb for nb in notebooks if nb not in selected])
    if selected:
        execute(selected, args.profile, args.device)
    if not args.no_html:
        render()


if __name__ == "__main__":
    main()
