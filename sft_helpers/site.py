"""The course as a website: ``python -m sft_helpers site`` builds ``build/site/`` offline.

Sphinx + myst-nb read the committed, executed notebooks without running them (their stored
outputs and figures are the chapter pages); the front page, the glossary and the instructor
guide are written from README.md and exercises/README.md, so the site never drifts from them;
autodoc writes the API reference from the docstrings; MathJax is served from the site itself
(sphinx-mathjax-offline), so pages render with no network.

Commands (``python -m sft_helpers site COMMAND``):

* ``build`` (the default): stage ``build/site-src/``, run Sphinx into ``build/site/``.
* ``test``: install Debian's chromium if it is missing, build, run the browser test
  (``pytest -m site``), which writes ``build/site-test/`` (summary and two screenshots).
* ``serve``: serve ``build/site/`` on 127.0.0.1 to look at it.
* ``colab-cell``: insert or update the Colab install cell in ``notebooks/*.ipynb``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from sft_helpers import colab, settings
from sft_helpers.setup_env import REPO_ROOT

DOCS_DIR = REPO_ROOT / "docs"  # conf.py and static files (the site's hand-written sources)
BUILD_DIR = REPO_ROOT / "build"
STAGE_DIR = BUILD_DIR / "site-src"  # generated Sphinx source tree (never edit: rebuilt each time)
SITE_DIR = BUILD_DIR / "site"
DOCTREES_DIR = BUILD_DIR / "site-doctrees"  # Sphinx's cache between builds
TEST_DIR = BUILD_DIR / "site-test"  # the browser test's summary and screenshots
WARNINGS_FILE = BUILD_DIR / "site-warnings.txt"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
# What the browser test installs from Debian: the browser, its WebDriver (for Selenium users; Playwright
# drives the browser itself), and a font for the glossary's Chinese.
BROWSER_DEBS = ("chromium", "chromium-driver", "fonts-wqy-microhei")
SITE_MODULES = ("sphinx", "myst_nb", "sphinx_book_theme", "playwright")
# Pages written from the repository's Markdown files: site page -> source file.
GLOSSARY_PAGE = "glossary"
INSTRUCTORS_PAGE = "instructors"


class SiteError(RuntimeError):
    """A problem with the site's inputs or tools, with what to do about it."""


@dataclass(frozen=True)
class Chapter:
    """One notebook of the course as a page of the site."""

    path: Path  # the notebook in notebooks/
    stem: str  # e.g. "01_embeddings"

    @property
    def repo_path(self) -> str:
        """The notebook's path in the repository (what Colab and Binder open)."""
        return f"notebooks/{self.stem}.ipynb"

    @property
    def docname(self) -> str:
        """The page's Sphinx name (its URL is ``<docname>.html``)."""
        return f"notebooks/{self.stem}"


def chapters(root: Path = REPO_ROOT) -> list[Chapter]:
    """The course's notebooks (``notebooks/NN_name.ipynb``), in order."""
    paths = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise SiteError(f"no notebooks matching notebooks/NN_name.ipynb under {root}")
    return [Chapter(p, p.stem) for p in paths]


def check_executed(path: Path) -> None:
    """Raise ``SiteError`` unless the notebook is valid JSON with stored outputs to show."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SiteError(f"{path.name} is not a readable notebook: {error}") from error
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    if code and not any(c.get("outputs") for c in code):
        raise SiteError(
            f"{path.name} has no stored outputs, so its page would show code without results. "
            f"Execute it first: python -m sft_helpers notebooks {path.stem[:2]} "
            "(or build anyway with --allow-unexecuted)"
        )


# --- pages written from the repository's Markdown -------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")


def markdown_sections(text: str, level: int = 2) -> dict[str, str]:
    """Split Markdown at headings of ``level`` (outside code fences): {heading: body}.

    The text before the first such heading is under the key ``""``.
    """
    marker = "#" * level + " "
    sections: dict[str, list[str]] = {"": []}
    current, fenced = "", False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        if not fenced and line.startswith(marker):
            current = line[len(marker):].strip()
            sections[current] = []
            continue
        sections[current].append(line)
    return {k: "\n".join(v).strip("\n") for k, v in sections.items()}


def find_section(sections: dict[str, str], prefix: str, source: str) -> str:
    """The body of the section whose heading starts with ``prefix`` (a clear error if absent)."""
    for heading, body in sections.items():
        if heading.startswith(prefix):
            return body
    raise SiteError(f"{source} has no '## {prefix}...' section (the site is written from it)")


_LINK = re.compile(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)")


def rewrite_links(markdown: str, base: str, pages: dict[str, str], repo: colab.Repository) -> str:
    """Point relative links of a repository file at site pages or at GitHub.

    ``base`` is the file's folder in the repository ("" or "exercises"); ``pages`` maps
    repository paths to site source files (e.g. ``{"exercises/README.md": "instructors.md"}``);
    any other relative path goes to its GitHub page, and an in-page ``#anchor`` to the
    repository file on GitHub.
    """

    def replace(match: re.Match[str]) -> str:
        label, target = match.group(1), match.group(2)
        if re.match(r"^[a-z]+:", target):
            return match.group(0)
        path, _, anchor = target.partition("#")
        if not path:
            source = f"{base}/README.md" if base else "README.md"
            return f"[{label}]({repo.blob_url(source)}#{anchor})"
        resolved = os.path.normpath(os.path.join(base, path)).replace("\\", "/")
        if resolved in pages:
            return f"[{label}]({pages[resolved]}{'#' + anchor if anchor else ''})"
        return f"[{label}]({repo.blob_url(resolved)}{'#' + anchor if anchor else ''})"

    return _LINK.sub(replace, markdown)


def link_chapter_names(table: str, chapter_list: list[Chapter]) -> str:
    """Turn each `` `NN_name` `` in the README's chapter table into a link to its page."""
    for chapter in chapter_list:
        table = table.replace(f"`{chapter.stem}`", f"[{chapter.stem}]({chapter.docname}.ipynb)")
    return table


def front_page(readme: str, chapter_list: list[Chapter], repo: colab.Repository) -> str:
    """The site's index.md: what the course is and for whom, the chapter table with times."""
    top = markdown_sections(readme, 1)
    title = next((h for h in top if h), "The SFT Workbook")
    sections = markdown_sections(readme)
    pages = {"exercises/README.md": f"{INSTRUCTORS_PAGE}.md", **{c.repo_path: c.repo_path for c in chapter_list}}
    intro = rewrite_links(re.sub(r"\A# .*\n", "", sections[""]).strip(), "", pages, repo)
    table = find_section(sections, "Chapters", "README.md")
    missing = [c.stem for c in chapter_list if f"`{c.stem}`" not in table]
    if missing:
        raise SiteError(f"README.md's chapter table has no row for {', '.join(missing)}")
    toc = "\n".join(c.docname for c in chapter_list)
    return f"""# {title}

{intro}

Every chapter page below shows the notebook with the outputs of its stored full-mode run;
**Open in Colab** and **Launch Binder** on a page run it online, **Download** gives the notebook.
To run the course on your own machine: `make course` (set-up and every notebook), then
`make lab`; see the [README]({repo.blob_url("README.md")}).

## Chapters

{rewrite_links(link_chapter_names(table, chapter_list), "", pages, repo)}

Also here: the [glossary (English / 中文)]({GLOSSARY_PAGE}.md), the
[instructor guide]({INSTRUCTORS_PAGE}.md) and the [API reference of sft_helpers](api/index.md).

```{{toctree}}
:hidden:
:caption: Chapters

{toc}
```

```{{toctree}}
:hidden:
:caption: Reference

{GLOSSARY_PAGE}
{INSTRUCTORS_PAGE}
api/index
```
"""


def glossary_page(readme: str, repo: colab.Repository) -> str:
    """glossary.md: the README's English/Chinese glossary."""
    body = find_section(markdown_sections(readme), "Glossary", "README.md")
    return f"# Glossary (English / 中文)\n\n{rewrite_links(body, '', {}, repo)}\n"


def instructors_page(guide: str, repo: colab.Repository) -> str:
    """instructors.md: exercises/README.md, its links pointed at the site or GitHub."""
    body = re.sub(r"\A# .*\n", "", guide.lstrip())
    pages = {"README.md": "index.md"}
    return f"# Instructor guide: exercises, checks and grading\n\n{rewrite_links(body, 'exercises', pages, repo)}\n"


def api_modules() -> list[str]:
    """Every public module of sft_helpers, dotted, sorted (``__main__`` and ``_private`` left out)."""
    package = importlib.import_module("sft_helpers")
    names = ["sft_helpers"]
    for info in pkgutil.walk_packages(package.__path__, "sft_helpers."):
        leaf = info.name.rsplit(".", 1)[-1]
        if leaf.startswith("_"):
            continue
        names.append(info.name)
    return sorted(names)


def api_pages(modules: list[str]) -> dict[str, str]:
    """{relative path: Markdown} for the API reference: an index and one page per module."""
    pages = {
        "api/index.md": "# API reference: sft_helpers\n\nGenerated from the docstrings of the package the "
        "notebooks import.\n\n```{toctree}\n:maxdepth: 1\n\n" + "\n".join(modules) + "\n```\n"
    }
    for name in modules:
        pages[f"api/{name}.md"] = (
            f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n   :members:\n   :show-inheritance:\n```\n"
        )
    return pages


def _write_if_changed(path: Path, data: bytes) -> None:
    """Write only when the content differs, so Sphinx rebuilds only what changed."""
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def stage(root: Path = REPO_ROOT, stage_dir: Path = STAGE_DIR, allow_unexecuted: bool = False) -> list[Chapter]:
    """Write the Sphinx source tree: index, glossary, instructor guide, API pages, notebook copies."""
    repo = colab.repository()
    chapter_list = chapters(root)
    if not allow_unexecuted:
        for chapter in chapter_list:
            check_executed(chapter.path)
    readme = (root / "README.md").read_text(encoding="utf-8")
    guide = (root / "exercises" / "README.md").read_text(encoding="utf-8")
    pages = {
        "index.md": front_page(readme, chapter_list, repo),
        f"{GLOSSARY_PAGE}.md": glossary_page(readme, repo),
        f"{INSTRUCTORS_PAGE}.md": instructors_page(guide, repo),
        **api_pages(api_modules()),
    }
    wanted = set(pages) | {c.repo_path for c in chapter_list}
    if stage_dir.exists():  # pages of removed notebooks or modules must not linger
        for old in stage_dir.rglob("*"):
            if old.is_file() and old.relative_to(stage_dir).as_posix() not in wanted:
                old.unlink()
    for rel, text in pages.items():
        _write_if_changed(stage_dir / rel, text.encode("utf-8"))
    for chapter in chapter_list:
        _write_if_changed(stage_dir / chapter.repo_path, chapter.path.read_bytes())
    return chapter_list


def missing_site_packages() -> list[str]:
    """The site extra's modules that do not import here."""
    missing = []
    for name in SITE_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def ensure_site_packages() -> None:
    """Install pyproject's ``site`` extra (pinned by constraints.txt) when it is missing."""
    missing = missing_site_packages()
    if not missing:
        return
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "-c", str(REPO_ROOT / "constraints.txt"),
           "-e", f"{REPO_ROOT}[site]"]
    print(f"[site] installing the site's packages ({', '.join(missing)} missing): {' '.join(cmd)}", flush=True)
    if subprocess.call(cmd) != 0 or missing_site_packages():
        raise SiteError(f"could not install the site's packages; run: {' '.join(cmd)}")
    importlib.invalidate_caches()


def build(out_dir: Path = SITE_DIR, allow_unexecuted: bool = False, quiet: bool = True) -> Path:
    """Build the site into ``out_dir`` from the committed notebooks (nothing is executed)."""
    ensure_site_packages()
    chapter_list = stage(allow_unexecuted=allow_unexecuted)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    WARNINGS_FILE.parent.mkdir(parents=True, exist_ok=True)
    # -E: a fresh environment each build (Sphinx keeps stale viewcode entries across config changes)
    cmd = [sys.executable, "-m", "sphinx", "-E", "-b", "html", "-c", str(DOCS_DIR), "-d", str(DOCTREES_DIR),
           "-w", str(WARNINGS_FILE), *(["-q"] if quiet else []), str(STAGE_DIR), str(out_dir)]
    print("+", " ".join(cmd[1:]), flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    if subprocess.call(cmd, cwd=REPO_ROOT, env=env) != 0:
        raise SiteError(f"Sphinx failed; its warnings are in {WARNINGS_FILE}")
    for chapter in chapter_list:  # the pages' Download links
        shutil.copyfile(chapter.path, out_dir / chapter.repo_path)
    (out_dir / ".nojekyll").write_text("")  # GitHub Pages: serve _static/ as is
    index = out_dir / "index.html"
    if not index.exists():
        raise SiteError(f"Sphinx finished but wrote no {index}")
    warnings = [w for w in WARNINGS_FILE.read_text(encoding="utf-8").splitlines() if w.strip()]
    print(f"[site] {len(chapter_list)} chapter pages, front page {index.relative_to(REPO_ROOT)}; "
          f"{len(warnings)} Sphinx warning lines (in {WARNINGS_FILE.relative_to(REPO_ROOT)})", flush=True)
    return index


def _missing_debs(names: tuple[str, ...]) -> list[str]:
    """The Debian packages of ``names`` that dpkg does not know as installed."""
    if not shutil.which("dpkg"):
        return list(names)
    return [n for n in names if subprocess.call(["dpkg", "-s", n], stdout=subprocess.DEVNULL,
                                                 stderr=subprocess.DEVNULL) != 0]


def ensure_chromium(path: Path = CHROMIUM) -> Path:
    """Debian's chromium (and a CJK font for the glossary), installed with apt-get when missing.

    apt-get runs only as root; elsewhere a missing chromium is an error naming the command.
    """
    missing = _missing_debs(BROWSER_DEBS) if shutil.which("apt-get") else []
    if missing and hasattr(os, "geteuid") and os.geteuid() == 0:
        print(f"[site] installing {' '.join(missing)} with apt-get (Debian's packages; no browser download)", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *missing]):
            if subprocess.call(cmd, env=env) != 0:
                break
    if path.exists():
        return path
    raise SiteError(f"the browser test needs Debian's chromium at {path}; install it with: sudo {CHROMIUM_INSTALL}")


def run_browser_test(pytest_args: list[str] | None = None, lab: bool = True) -> int:
    """``site test``: chromium and the site's packages, a fresh build, then ``pytest -m site``.

    ``lab=False`` leaves out the JupyterLab live widget check (``-m 'site and not slow'``).
    """
    ensure_chromium()
    ensure_site_packages()
    build()
    shutil.rmtree(TEST_DIR, ignore_errors=True)  # no summary or screenshot of an earlier run survives
    env = {**os.environ, settings.SITE_TEST_ENV: "1", "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1"}
    cmd = [sys.executable, "-m", "pytest", "-m", "site" if lab else "site and not slow", "-p", "no:cacheprovider", "-q",
           "tests/test_site.py", *(pytest_args or [])]
    print("+", " ".join(cmd[1:]), flush=True)
    code = subprocess.call(cmd, cwd=REPO_ROOT, env=env)
    summary = TEST_DIR / "summary.json"
    if summary.exists():
        print(json.loads(summary.read_text())["summary"], flush=True)
    lab = TEST_DIR / "jupyterlab.json"
    if lab.exists():
        print(json.loads(lab.read_text())["summary"], flush=True)
    return code


def serve(site_dir: Path = SITE_DIR, port: int = 8000) -> int:
    """Serve the built site on http://127.0.0.1:PORT/ until interrupted."""
    from sft_helpers.site_check import serve_forever

    if not (site_dir / "index.html").exists():
        raise SiteError(f"no site in {site_dir}: build it first with python -m sft_helpers site")
    serve_forever(site_dir, port)
    return 0


def apply_colab_cells(paths: list[Path], check: bool = False) -> int:
    """Insert/update the Colab install cell in each notebook; with ``check``, only report (exit 1)."""
    import nbformat

    stale = []
    for path in paths:
        notebook = nbformat.read(path, as_version=4)
        if colab.apply_colab_cell(notebook):
            stale.append(path)
            if not check:
                nbformat.write(notebook, path)
    verb = "need" if check else "updated:"
    print(f"[site] {len(stale)} of {len(paths)} notebooks {verb} the Colab cell"
          + (": " + ", ".join(p.name for p in stale) if stale else ""), flush=True)
    return 1 if check and stale else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m sft_helpers site [build|test|serve|colab-cell]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m sft_helpers site", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="action", metavar="COMMAND")
    p = sub.add_parser("build", help="build build/site/ from the committed notebooks (the default)")
    p.add_argument("--allow-unexecuted", action="store_true", help="build even if a notebook has no outputs")
    p.add_argument("--verbose", action="store_true", help="show Sphinx's progress")
    p = sub.add_parser("test", help="install chromium if missing, build, run the browser test (pytest -m site)")
    p.add_argument("--no-lab", action="store_true",
                   help="leave out the JupyterLab live widget check (the quick subset CI runs)")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p = sub.add_parser("serve", help="serve build/site/ on 127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p = sub.add_parser("colab-cell", help="insert/update the Colab install cell in notebooks")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook needs the cell")
    p.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    args, unknown = parser.parse_known_args(argv)
    if args.action == "test":  # options for pytest (e.g. --durations=5) pass through
        args.pytest_args = [*unknown, *args.pytest_args]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    try:
        if args.action in (None, "build"):
            build(allow_unexecuted=getattr(args, "allow_unexecuted", False),
                  quiet=not getattr(args, "verbose", False))
            return 0
        if args.action == "test":
            return run_browser_test(args.pytest_args, lab=not args.no_lab)
        if args.action == "serve":
            return serve(port=args.port)
        paths = args.paths or [c.path for c in chapters()]
        return apply_colab_cells(paths, check=args.check)
    except (SiteError, ValueError) as error:
        print(f"[site] error: {error}", file=sys.stderr, flush=True)
        return 2
