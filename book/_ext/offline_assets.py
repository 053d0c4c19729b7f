"""Sphinx extension for an offline book: local MathJax, no remote assets.

Loaded by _config.yml (``sphinx: local_extensions``). It does two things:

1. Jupyter Book 1.x adds *every* ``.js``/``.css`` file found under the source
   ``_static/`` to the ``<head>`` of every page. MathJax ships hundreds of
   components that it loads itself on demand, so the files under
   ``_static/mathjax/`` are taken out of that list again; Sphinx's own MathJax
   support loads only ``mathjax_path`` (``mathjax/tex-chtml.js``).
2. At the end of the build, it warns if the local MathJax is missing from the
   output (run ``make mathjax``), and scans every written HTML page for tags
   that load something from another host (``<script src>``, ``<link href>``,
   ``<img src>``, ``<iframe src>``, ``<source src>``, CSS ``url(...)``): a CDN,
   remote fonts.
   Plain links (``<a href>``) are fine.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.util import logging

logger = logging.getLogger(__name__)

MATHJAX_DIR = "mathjax/"
REMOTE = re.compile(r"^(https?:)?//", re.IGNORECASE)
REMOTE_TAG = re.compile(
    r"<(?:script|link|img|iframe|source)\b[^>]*?\b(?:src|href)=\"((?:https?:)?//[^\"]+)\"",
    re.IGNORECASE,
)
# Stylesheets inline in a page (e.g. notebook outputs): @import url(...), fonts.
REMOTE_CSS = re.compile(r"url\(\s*['\"]?((?:https?:)?//[^'\")\s]+)", re.IGNORECASE)
# <link rel="..."> values that only name a URL and load nothing.
HARMLESS_LINK_RELS = ("canonical",)


def _name(entry) -> str:
    if isinstance(entry, (tuple, list)):
        entry = entry[0]
    return str(getattr(entry, "filename", entry))


def drop_mathjax_components(app: Sphinx, config) -> None:
    for key in ("html_js_files", "html_css_files"):
        files = getattr(config, key, None) or []
        kept = [f for f in files if not _name(f).startswith(MATHJAX_DIR)]
        setattr(config, key, kept)


def check_output(app: Sphinx, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    outdir = Path(app.outdir)
    mathjax = outdir / "_static" / app.config.mathjax_path
    if not REMOTE.match(app.config.mathjax_path) and not mathjax.is_file():
        logger.warning(
            "MathJax is missing from the built site (%s); run `make mathjax`",
            mathjax,
            type="offline",
            subtype="mathjax",
        )
    remote = set()
    for page in outdir.rglob("*.html"):
        if MATHJAX_DIR.rstrip("/") in page.relative_to(outdir).parts:
            continue
        text = page.read_text(encoding="utf-8", errors="replace")
        for match in REMOTE_TAG.finditer(text):
            tag = match.group(0)
            if any(f'rel="{rel}"' in tag for rel in HARMLESS_LINK_RELS):
                continue
            remote.add((page.relative_to(outdir).as_posix(), match.group(1)))
        for match in REMOTE_CSS.finditer(text):
            remote.add((page.relative_to(outdir).as_posix(), match.group(1)))
    pages_by_url: dict[str, list[str]] = {}
    for page, url in sorted(remote):
        pages_by_url.setdefault(url, []).append(page)
    for url, pages in pages_by_url.items():
        shown = ", ".join(pages[:5]) + (f" and {len(pages) - 5} more" if len(pages) > 5 else "")
        logger.warning(
            "remote asset %s in %d page(s): %s (the book must work offline)",
            url,
            len(pages),
            shown,
            type="offline",
            subtype="remote",
        )


def setup(app: Sphinx):
    # After Jupyter Book's configuration has been applied.
    app.connect("config-inited", drop_mathjax_components, priority=900)
    app.connect("build-finished", check_output)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
