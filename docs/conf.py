"""Sphinx configuration of the course website (built by ``python -m sft_helpers site``).

The sources are staged into build/site-src/ by ``sft_helpers.site`` (front page, glossary and
instructor guide from the README files, the notebooks as they are committed, API pages);
this folder holds only the configuration and static files.
"""

from __future__ import annotations

from sft_helpers import colab

repo = colab.repository()

project = "The SFT Workbook"
author = "SFT Workbook authors"
copyright = "SFT Workbook authors, MIT licence"
root_doc = "index"
language = "en"

extensions = [
    "myst_nb",  # .ipynb and .md pages (MyST Markdown)
    "sphinx.ext.autodoc",  # the API reference from docstrings
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/: math renders offline
    "sft_helpers.site_sphinx",  # Colab / Binder / download buttons on chapter pages
]

# Notebooks are shown with their committed outputs; nothing is executed.
nb_execution_mode = "off"
nb_merge_streams = True
# Widgets were stored without their state: show their static fallback (a figure or text).
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "html_image"]
myst_heading_anchors = 3
# Headings inside notebook outputs and docstrings are not part of the site's structure.
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

autodoc_member_order = "bysource"
# A package page (sft_helpers.data) documents names its __init__ re-exports from submodules; followed to
# their source, Sphinx's viewcode writes back links to the submodule's page with the package's anchor
# (#sft_helpers.data.bundled_dir on sft_helpers.data.bundled.html), which the browser test found broken.
# Each name keeps its [source] link on its own module's page.
viewcode_follow_imported_members = False
autodoc_typehints = "description"
autodoc_default_options = {"members": True}

html_theme = "sphinx_book_theme"
html_title = "The SFT Workbook"
html_static_path = ["_static"]
html_css_files = ["course.css"]
html_favicon = "_static/favicon.svg"
html_last_updated_fmt = None
html_context = {"default_mode": "auto"}  # light or dark as the reader's system prefers (unset: a console error)
html_theme_options = {
    "repository_url": repo.url,
    "repository_branch": repo.branch,
    "use_repository_button": True,
    "use_download_button": False,  # the chapter pages have their own Download link
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
}
