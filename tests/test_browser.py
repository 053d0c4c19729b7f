"""The built book in a real browser: math typeset, every image loaded, no error output.

Renders each page of ``_build/html`` in headless Chromium, which runs the page's own check
(``book/_static/pagecheck.js``) after MathJax, and reads the result from the page's DOM.
Skipped where Chromium is not installed (Debian: ``apt-get install chromium``) or the book
has not been built (``make book``).
"""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
CHAPTERS = {p.stem for p in (ROOT / "book").glob("*.ipynb")} - {"intro"}
PAGES = sorted(p.name for p in HTML.glob("*.html") if p.name not in ("genindex.html", "search.html"))

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)"),
    pytest.mark.skipif(not (HTML / "index.html").is_file(), reason="the book is not built (make book)"),
]


def _dom(page: Path, tmp_path: Path) -> str:
    done = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                           "--virtual-time-budget=20000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _check(dom: str, name: str) -> str | None:
    m = re.search(rf'data-check-{name}="([^"]*)"', dom)
    return m.group(1) if m else None


@pytest.mark.parametrize("name", PAGES or ["index.html"])
def test_page_renders_with_math_images_and_no_errors(name, tmp_path):
    dom = _dom(HTML / name, tmp_path)
    assert _check(dom, "done") == "1", "the page's check did not run (pagecheck.js missing?)"
    assert _check(dom, "broken") == "", f"images that did not load: {_check(dom, 'broken')}"
    assert "Traceback (most recent call last)" not in dom and 'class="output traceback' not in dom
    if name in ("intro.html", "index.html", "method.html"):
        assert int(_check(dom, "math")) > 0, "no formula was typeset"
    if name.removesuffix(".html") in CHAPTERS:  # every chapter shows figures and its verdicts
        assert int(_check(dom, "images")) > 0, "the chapter shows no figure"
        # at any profile: a smoke build's untrained networks make every verdict "not comparable"
        assert re.search(r"reproduced|not comparable", dom), "the chapter shows no verdict"
