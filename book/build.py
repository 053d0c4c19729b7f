#!/usr/bin/env python
"""Execute the book's chapters with papermill, then render the HTML.

    python book/build.py --profile quick --device auto [--only method] [--build-dir _build]

1. Copies book/ to <build-dir>/executed/ (Markdown, bibliography, _static/) and writes its
   _toc.yml from the chapter registry (weightmask.chapters): the front page, then the chapters.
2. Executes every chapter of the registry, in reading order, then the front page (the results
   dashboard: it collects the chapters' verdicts), with papermill into <build-dir>/executed/
   (parameters `profile` and `device`, kernel `python3`, working directory = repository root,
   WEIGHTMASK_PROFILE = the profile).
   With --only, the other chapters keep their last executed copy (the front page runs again).
   Each executed notebook is then made to lead with its results (see `present`): the
   parameters cells are removed, the other code is folded behind a toggle, progress bars
   are dropped.
3. Renders <build-dir>/executed/ with Jupyter Book into <build-dir>/html/.

With --executor ray [--address ADDR] (``make book PROFILE=paper EXECUTOR=ray``), step 2 is
preceded by computing every selected chapter's stages on a Ray cluster (weightmask.executor:
one task per chapter and seed, into the run store that the notebooks read, which must be on a
filesystem every node shares); the notebooks then only read finished stages. A stage that still
fails after its retries stops the build before any notebook runs (the finished ones are kept).

<build-dir> is _build/ unless --build-dir names another folder (`make test` builds the smoke
book into _build/smoke/, so that it leaves the _build/html/ of `make book` alone).

The notebooks never run inside Sphinx (`execute_notebooks: "off"`).
No library logic lives here.

Why this script is the only writer of _toc.yml, and book/ holds none: the toc is only ever
read by Jupyter Book when it renders the executed copy (book/ is never rendered as it is: its
notebooks have no outputs until this script executes them), so a committed copy would be one
more list of the chapters to keep equal to the registry, read by nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from weightmask import chapters, profiles

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
CONFIG = ROOT / "_config.yml"
BUILD = ROOT / "_build"  # the default --build-dir: executed/ and html/ land in it
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


def copy_sources(keep: list[Path], executed: Path) -> None:
    """Fresh copy of book/ in ``executed``, keeping the executed notebooks in `keep` (shown as
    `present` shows them)."""
    kept = {}
    for nb in keep:
        if (executed / nb).is_file():
            kept[nb] = (executed / nb).read_bytes()
    if executed.exists():
        shutil.rmtree(executed)
    shutil.copytree(BOOK, executed, ignore=SKIP)
    (executed / "_toc.yml").write_text(chapters.toc(), encoding="utf-8")
    for nb in keep:
        target = executed / nb
        target.parent.mkdir(parents=True, exist_ok=True)
        if nb in kept:
            target.write_bytes(kept[nb])
        else:
            print(f"  {chapter_name(nb)}: no executed copy yet, rendered without outputs")
            shutil.copy2(BOOK / nb, target)
        present(target)  # a copy executed by an older build.py is shown as a new one


# --- what a page shows of an executed notebook ------------------------------------------
#
# A chapter's page leads with its results: the parameters cells (the notebook's own and the
# one papermill injects) are removed, every other code cell is folded behind Jupyter Book's
# "show code" toggle unless the notebook already decided (remove-input, remove-cell,
# hide-input, hide-cell), and progress bars never reach the page.

PARAMETERS = {"parameters", "injected-parameters"}  # papermill's tags
DECIDED = {"remove-input", "remove-cell", "hide-input", "hide-cell"}  # input shown as the notebook says
# tqdm's bar and rate: " 95%|█████ | 946/1000 [00:01<00:00, 512.3it/s]", "0it [00:00, ?it/s]".
BAR = re.compile(r"\d%\||\|\s*\d+/\d+\s*\[|(?:it/s|s/it)\]")
WIDGET = "application/vnd.jupyter.widget-view+json"  # tqdm.auto's bar in a notebook


def tag_cells(nb) -> None:
    """Remove the parameters cells, fold the input of every other code cell (``nb`` in place)."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = set(cell.metadata.get("tags", []))
        if tags & PARAMETERS:
            tags.add("remove-cell")
        elif not tags & DECIDED:
            tags.add("hide-input")
        cell.metadata["tags"] = sorted(tags)


def final_progress(text: str) -> str:
    """Each line of a stream as a terminal leaves it: the text after its last carriage return
    (the last non-blank state)."""
    lines = []
    for line in text.split("\n"):
        states = [s for s in line.split("\r") if s.strip()]
        if states or "\r" not in line:
            lines.append(states[-1] if states else line)
    return "\n".join(lines)


def after_erasure(line: str) -> str:
    """What remains of a line of stderr that was redrawn: the text written after the line was
    last erased (tqdm clears a finished bar with carriage return, blanks, carriage return, and
    the next message, e.g. a warning, starts there); nothing if it never was."""
    segments = line.split("\r")
    erased = [i for i, seg in enumerate(segments) if seg and not seg.strip()]
    after = [seg for seg in segments[erased[-1] + 1:] if seg.strip()] if erased else []
    return after[-1] if after else ""


def without_progress(text: str, stream: str) -> str:
    """``text`` of one stream (``stdout``/``stderr``) without its progress bars. A line that is
    redrawn (a carriage return inside it) is reduced to what a reader should see of it: on
    stderr, where tqdm draws, only the text written after the line was erased (`after_erasure`);
    on stdout, its final state (`final_progress`). Then every line drawn like a tqdm bar is
    dropped, and so is a redrawn line with nothing left. Other text (results, warnings) is kept
    as it is."""
    kept = []
    for line in text.split("\n"):
        if "\r" in line.rstrip("\r"):  # redrawn (a line ending in "\r\n" is not)
            line = after_erasure(line) if stream == "stderr" else final_progress(line)
            if not line.strip():
                continue
        if BAR.search(line):
            continue
        kept.append(line)
    out = "\n".join(kept)
    return out if out.strip() else ""


def _is_progress_widget(out) -> bool:
    data = out.get("data", {})
    return WIDGET in data and bool(BAR.search(str(data.get("text/plain", ""))))


def drop_progress(nb) -> None:
    """Remove the progress bars from the outputs of ``nb`` (in place). The kernel records
    every redraw of a bar as an output of its own; consecutive writes to one stream are first
    joined, as Jupyter shows them, then the bars are taken out (see `without_progress`); an
    output left with nothing to show is removed."""
    for cell in nb.cells:
        if "outputs" not in cell:
            continue
        merged: list = []
        for out in cell.outputs:
            last = merged[-1] if merged else None
            if (out.get("output_type") == "stream" and last is not None
                    and last.get("output_type") == "stream" and last.get("name") == out.get("name")):
                last["text"] += out["text"]
            else:
                merged.append(out)
        kept = []
        for out in merged:
            if out.get("output_type") == "stream":
                out["text"] = without_progress(out["text"], out.get("name", "stdout"))
                if not out["text"]:
                    continue
            elif _is_progress_widget(out):
                continue
            kept.append(out)
        cell.outputs = kept


def present(path: Path) -> None:
    """Make the executed notebook at ``path`` lead with its results (`tag_cells`, `drop_progress`)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    tag_cells(nb)
    drop_progress(nb)
    nbformat.write(nb, path)


def execute(notebooks: list[Path], profile: str, device: str, executed: Path) -> None:
    import papermill as pm  # imported here so that --help works without it

    # The kernel inherits this environment. MPLBACKEND is dropped so that the
    # kernel uses the inline backend (an Agg backend would drop every figure).
    os.environ["WEIGHTMASK_PROFILE"] = profile
    os.environ.pop("MPLBACKEND", None)
    total = time.perf_counter()
    for i, nb in enumerate(notebooks, 1):
        name = chapter_name(nb)
        out = executed / nb
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
        present(out)
        wall = time.perf_counter() - start
        print(f"[{i}/{len(notebooks)}] {name} done in {wall:.1f} s", flush=True)
    print(f"executed {len(notebooks)} chapter(s) in {time.perf_counter() - total:.1f} s", flush=True)


def precompute(notebooks: list[Path], profile: str, device: str, executor_name: str, address: str | None) -> None:
    """Every stage of the chapters of ``notebooks`` computed by the executor into the run store
    that the notebooks read (``$WEIGHTMASK_RESULTS``, else results/), before they run."""
    from weightmask import executor, plan, settings
    from weightmask.store import RunStore

    names = [chapter_name(nb) for nb in notebooks if chapter_name(nb) != chapters.FRONT]
    try:
        plans = [plan.prepare(name, profile=profile, device=device) for name in names]
        runner = executor.make(executor_name, address=address)
    except (ValueError, TypeError) as err:
        sys.exit(f"build.py: {err}")
    store = RunStore(ROOT / settings.results_root())
    print(f"computing the stages of {len(plans)} chapter(s) with the {executor_name} executor into {store.root}",
          flush=True)
    if not executor.execute(plans, store, runner, device=device).ok:
        sys.exit("build.py: some stages failed (above); the finished ones are kept in the run store")


def render(executed: Path, html: Path) -> None:
    """Render ``executed`` into ``html``. Jupyter Book writes to <path-output>/_build/html: for
    the default build folder that is _build/html itself; for any other, the pages are rendered
    in <build-dir>/render/ and moved to <build-dir>/html/."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    if not jupyter_book.exists():
        jupyter_book = Path(shutil.which("jupyter-book") or "jupyter-book")
    build = html.parent
    path_output = build.parent if build.name == "_build" else build / "render"
    rendered = path_output / "_build" / "html"
    cmd = [
        str(jupyter_book),
        "build",
        str(executed),
        "--config", str(CONFIG),
        "--toc", str(executed / "_toc.yml"),  # must be absolute when --config is elsewhere
        "--path-output", str(path_output),    # HTML lands in <path-output>/_build/html
        "--builder", "html",
        "--all",
    ]
    print("rendering:", " ".join(cmd), flush=True)
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT)
    if done.returncode != 0:
        sys.exit(f"build.py: jupyter-book build failed (exit {done.returncode})")
    if rendered != html:
        if html.exists():
            shutil.rmtree(html)
        if rendered.is_dir():
            rendered.rename(html)
    if not (html / "index.html").is_file():
        sys.exit(f"build.py: jupyter-book finished but {html / 'index.html'} is missing")
    print(f"rendered {os.path.relpath(html)}/ in {time.perf_counter() - start:.1f} s", flush=True)


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
    parser.add_argument(
        "--executor", default="local", choices=("local", "ray"),
        help="local: each notebook computes its stages (default); ray: every chapter's stages as Ray tasks "
        "first, then the notebooks read them",
    )
    parser.add_argument(
        "--address", default=None,
        help="--executor ray: the Ray cluster (auto, ray://HEAD:10001); default $RAY_ADDRESS, else a local one",
    )
    parser.add_argument(
        "--build-dir",
        type=Path,
        default=BUILD,
        metavar="DIR",
        help="folder of the executed notebooks (DIR/executed) and the pages (DIR/html); "
        "relative to the repository root (default: _build)",
    )
    args = parser.parse_args(argv)
    args.profile = profiles.pick(args.profile)
    build = (ROOT / args.build_dir).resolve()
    executed, html = build / "executed", build / "html"

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
    copy_sources(keep=[nb for nb in notebooks if nb not in selected], executed=executed)
    if selected and args.executor != "local":
        precompute(selected, args.profile, args.device, args.executor, args.address)
    if selected:
        execute(selected, args.profile, args.device, executed)
    if not args.no_html:
        render(executed, html)


if __name__ == "__main__":
    main()
