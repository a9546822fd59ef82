"""Sphinx extension of the course site: launch buttons on every chapter page.

Each page built from ``notebooks/NN_name.ipynb`` gets, under its title, links that open the
notebook in Google Colab, launch it on Binder, download it, and show it on GitHub; the URLs
come from :func:`sft_helpers.colab.repository` (one setting for the whole course). Plain
links styled by ``docs/_static/course.css``: no badge images from other sites, so the
pages stay complete offline.
"""

from __future__ import annotations

from html import escape
from typing import Any

from docutils import nodes

from sft_helpers import colab

CHAPTER_PREFIX = "notebooks/"


def launch_bar_html(docname: str, repo: colab.Repository) -> str:
    """The HTML of the button bar for the page ``notebooks/NN_name``."""
    stem = docname[len(CHAPTER_PREFIX):]
    path = f"{docname}.ipynb"
    links = [
        ("sft-launch-colab", repo.colab_url(path), "Open in Colab", ""),
        ("sft-launch-binder", repo.binder_url(path), "Launch Binder", ""),
        ("sft-launch-download", f"{stem}.ipynb", "Download notebook", f' download="{escape(stem)}.ipynb"'),
        ("sft-launch-github", repo.blob_url(path), "View on GitHub", ""),
    ]
    items = "".join(
        f'<a class="sft-launch {cls}" href="{escape(href)}"{extra}>{escape(label)}</a>' for cls, href, label, extra in links
    )
    return f'<div class="sft-launch-bar" role="group" aria-label="Run this chapter">{items}</div>'


def add_launch_bar(app: Any, doctree: nodes.document) -> None:
    """``doctree-read`` handler: put the button bar under the first title of a chapter page."""
    docname = app.env.docname
    if not docname.startswith(CHAPTER_PREFIX):
        return
    raw = nodes.raw("", launch_bar_html(docname, colab.repository()), format="html")
    section = next(iter(doctree.findall(nodes.section)), None)
    if section is not None and section.children and isinstance(section.children[0], nodes.title):
        section.insert(1, raw)
    else:
        doctree.insert(0, raw)


def skip_foreign_member(app: Any, what: str, name: str, obj: Any, skip: bool, options: Any) -> bool | None:
    """``autodoc-skip-member``: leave out what a module's ``__all__`` re-exports from other packages.

    ``sft_helpers.checks.references`` lists torch's ``one_hot`` in ``__all__``; its docstring's
    reST link has no target on our page (a broken ``#id1`` link the browser test found).
    """
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and not module.startswith("sft_helpers") and (callable(obj) or isinstance(obj, type)):
        return True
    return None


def setup(app: Any) -> dict[str, Any]:
    """Register the extension with Sphinx."""
    app.connect("doctree-read", add_launch_bar)
    app.connect("autodoc-skip-member", skip_foreign_member)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
