"""The built book in a real browser: math typeset, every image loaded, no error output, nothing
wider than the content column, no progress bar, the verdicts coloured.

Renders each page of the built book in headless Chromium at a 1300 px wide window, which runs
the page's own check (``book/_static/pagecheck.js``) after MathJax, and reads the result from
the page's DOM. The book checked is ``$WEIGHTMASK_BOOK_HTML`` (``make test`` builds the smoke
book into ``_build/smoke/html`` and sets it), else ``_build/html`` (``make book``).

Skipped where Chromium is not installed (``make test`` installs it with apt-get where it can;
Debian: ``apt-get install chromium``), and, when ``$WEIGHTMASK_BOOK_HTML`` is unset, where the
book has not been built. A book named by ``$WEIGHTMASK_BOOK_HTML`` must be there.
"""
import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "book" / "_static"
NAMED = os.environ.get("WEIGHTMASK_BOOK_HTML")
HTML = (ROOT / NAMED) if NAMED else ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (1300, 900)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
         f"--window-size={WINDOW[0]},{WINDOW[1]}"]
CHAPTERS = {p.stem for p in (ROOT / "book").glob("*.ipynb")} - {"intro"}
PAGES = sorted(p.name for p in HTML.glob("*.html") if p.name not in ("genindex.html", "search.html"))
# tqdm's bar and rate, as pagecheck.js looks for them: " 95%|████ | 946/1000 [00:01<00:00, 512.3it/s]"
BAR = re.compile(r"\d%\||\|\s*\d+/\d+\s*\[|(?:it/s|s/it)\]")
# verdicts.css's badge colours (weightmask.dashboard.COLOURS), as the browser computes them
BADGES = {"reproduced": "rgb(46, 125, 50)", "inconclusive": "rgb(249, 168, 37)",
          "not-reproduced": "rgb(198, 40, 40)", "not-comparable": "rgb(117, 117, 117)",
          "not-run": "rgb(189, 189, 189)"}

needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed: `make test` installs it with apt-get where it runs as root; "
    "else install it (Debian: apt-get install chromium)")
needs_book = pytest.mark.skipif(
    not NAMED and not (HTML / "index.html").is_file(),
    reason="the book is not built (make book; make test builds the smoke book and sets WEIGHTMASK_BOOK_HTML)")


def _dom(page: Path, tmp_path: Path) -> str:
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def book_dom(tmp_path_factory):
    """The DOM of a page of the built book, each page rendered once for all the tests."""
    assert (HTML / "index.html").is_file(), f"no built book in {HTML}"
    doms: dict[str, str] = {}

    def dom(name: str) -> str:
        if name not in doms:
            doms[name] = _dom(HTML / name, tmp_path_factory.mktemp("chromium"))
        return doms[name]
    return dom


def _check(dom: str, name: str) -> str | None:
    m = re.search(rf'data-check-{name}="([^"]*)"', dom)
    return html.unescape(m.group(1)) if m else None


def _pair(dom: str, name: str) -> tuple[int, int]:
    first, second = _check(dom, name).split()
    return int(first), int(second)


def _badges(dom: str) -> list[tuple[str, str]]:
    return [tuple(b.split("=", 1)) for b in _check(dom, "badges").split("; ") if b]


def _text(dom: str) -> str:
    """The page's text as a reader gets it: without scripts, styles and tags."""
    dom = re.sub(r"<(script|style)\b.*?</\1>", "", dom, flags=re.S | re.I)
    return html.unescape(re.sub(r"<[^>]+>", "", dom))


@needs_chromium
@needs_book
@pytest.mark.parametrize("name", PAGES or ["index.html"])
def test_page_renders_with_math_images_and_no_errors(name, book_dom):
    dom = book_dom(name)
    assert _check(dom, "done") == "1", "the page's check did not run (pagecheck.js missing?)"
    assert _check(dom, "broken") == "", f"images that did not load: {_check(dom, 'broken')}"
    assert "Traceback (most recent call last)" not in dom and 'class="output traceback' not in dom
    if name in ("intro.html", "index.html", "method.html"):
        assert int(_check(dom, "math")) > 0, "no formula was typeset"
    if name.removesuffix(".html") in CHAPTERS:  # every chapter shows figures and its verdicts
        assert int(_check(dom, "images")) > 0, "the chapter shows no figure"
        # at any profile: a smoke build's untrained networks make every verdict "not comparable"
        assert re.search(r"reproduced|not comparable", dom), "the chapter shows no verdict"
        assert _badges(dom), "the chapter's verdicts are not badges"


@needs_chromium
@needs_book
@pytest.mark.parametrize("name", PAGES or ["index.html"])
def test_page_fits_its_column_without_progress_bars(name, book_dom):
    """At a 1300 px wide window nothing is wider than the content column (a wide table scrolls
    inside its own wrapper), nothing is cut off, and no progress bar reached the page."""
    dom = book_dom(name)
    assert _check(dom, "done") == "1", "the page's check did not run (pagecheck.js missing?)"
    assert _check(dom, "overflow") == "", f"wider than the content column or cut off: {_check(dom, 'overflow')}"
    scroll, client = _pair(dom, "width")
    assert scroll <= client, f"the content column scrolls sideways ({scroll} > {client} px)"
    scroll, window = _pair(dom, "page")
    assert scroll <= window, f"the page scrolls sideways ({scroll} > {window} px)"
    assert _check(dom, "progress") == "", f"progress bars in outputs: {_check(dom, 'progress')}"
    bars = sorted({m.group(0) for m in BAR.finditer(_text(dom))})
    assert not bars, f"progress-bar text on the page: {bars}"
    for kind, colour in _badges(dom):
        assert BADGES.get(kind) == colour, f"verdict badge {kind!r} coloured {colour} (verdicts.css missing?)"


@needs_chromium
@needs_book
def test_the_dashboard_shows_coloured_verdicts(book_dom):
    dom = book_dom("intro.html")
    assert 'class="dashboard"' in dom, "the front page shows no dashboard"
    badges = _badges(dom)
    assert badges, "the dashboard shows no verdict badge"
    wrong = {(k, c) for k, c in badges if BADGES.get(k) != c}
    assert not wrong, f"badges not coloured as verdicts.css colours them: {sorted(wrong)}"


# pagecheck.js itself, on a page made to fail each of its checks (no built book needed).
PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<link rel="stylesheet" href="{static}/verdicts.css"><script src="{static}/pagecheck.js"></script>
<style>body {{ margin: 0; }} article {{ width: 400px; margin-left: 100px; }} td {{ white-space: nowrap; }}</style>
</head><body><article class="bd-article">
<table id="wide"><tr><td>{long}</td></tr></table>
<div class="wm-table"><table class="dashboard"><tr><td>{long}</td>
<td><span class="verdict reproduced">reproduced</span></td>
<td><span class="verdict inconclusive">inconclusive</span></td>
<td><span class="verdict not-run">not run</span></td></tr></table></div>
<div class="cell_output"><div class="output text_html">
<table class="verdicts"><tr><td>{long}</td></tr></table></div></div>
<div id="cut" style="overflow: hidden"><p style="width: 900px">{long}</p></div>
<div class="cell_output"><div class="output stream">
<pre>train: 95%|#########5| 946/1000 [00:01&lt;00:00, 512.3it/s]</pre></div></div>
</article></body></html>"""


@needs_chromium
def test_pagecheck_reports_what_sticks_out_is_cut_off_or_is_a_progress_bar(tmp_path):
    page = tmp_path / "page.html"
    page.write_text(PAGE.format(static=STATIC.as_uri(), long="x" * 300), encoding="utf-8")
    dom = _dom(page, tmp_path)
    assert _check(dom, "done") == "1"
    overflow = _check(dom, "overflow").split("; ")
    # the bare table sticks out, the paragraph is cut off; the wrapped tables scroll in place
    assert len(overflow) == 2, overflow
    assert overflow[0].startswith("table#wide ") and "px out" in overflow[0]
    assert overflow[1].startswith("div#cut cuts off ")
    scroll, client = _pair(dom, "width")
    assert scroll > client == 400
    assert "946/1000" in _check(dom, "progress")
    assert dict(_badges(dom)) == {k: BADGES[k] for k in ("reproduced", "inconclusive", "not-run")}
