"""The website's browser test: every page of ``build/site/`` in headless Chromium.

Playwright drives Debian's ``/usr/bin/chromium`` (no browser download) against the site
served on 127.0.0.1. It checks that every page loads without console errors, failed or
off-machine requests; that every image decoded (natural width > 0); that every math element
was typeset by MathJax without errors; that every internal link (and its #anchor) resolves;
that the search page finds 'LoRA'; and that each chapter's Colab, Binder and Download links
point at that chapter's notebook. It writes two screenshots and a JSON summary.
"""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sft_helpers import colab

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
SEARCH_TERM = "LoRA"
SCREENSHOTS = {"front-page.png": "index.html", "chapter-02.png": "notebooks/02_self_attention.html"}
PAGE_TIMEOUT_MS = 60_000

# Runs in each page: wait for images and MathJax, then report what the page shows.
_INSPECT_JS = r"""async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  let mathjax = false;
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; mathjax = true; }
  const math = Array.from(document.querySelectorAll('.math'));
  return {
    images: imgs.map(i => ({src: i.currentSrc || i.src, width: i.naturalWidth})),
    mathjax: mathjax,
    math: math.length,
    math_untypeset: math.filter(e => !e.querySelector('mjx-container')).length,
    math_errors: document.querySelectorAll('mjx-merror').length,
    links: Array.from(document.querySelectorAll('a[href]')).map(a => a.href),
    ids: Array.from(document.querySelectorAll('[id], a[name]')).map(e => e.id || e.getAttribute('name')),
    widgets: Array.from(document.querySelectorAll('div.cell')).flatMap(c => {
      const input = c.querySelector('.cell_input'); const m = input && /widgets\.(\w+_explorer)\(/.exec(input.textContent);
      if (!m) return [];
      return [{name: m[1], widths: Array.from(c.querySelectorAll('.cell_output img')).map(i => i.naturalWidth),
               text: (c.querySelector('.cell_output') || {textContent: ''}).textContent.slice(0, 200)}]; }),
    launch: Object.fromEntries(['colab', 'binder', 'download'].map(k => {
      const a = document.querySelector('a.sft-launch-' + k); return [k, a ? a.href : null]; })),
  };
}"""


@dataclass
class SiteReport:
    """What the browser test saw; ``failures`` lists every problem, one line each."""

    pages: int = 0
    images: int = 0
    links: int = 0  # internal links checked (distinct page/target pairs)
    math_pages: int = 0
    math_elements: int = 0
    search_results: int = 0
    chapters: int = 0  # chapter pages whose Colab/Binder/Download links were checked
    widgets: dict[str, str] = field(default_factory=dict)  # explorer -> page showing its static figure
    screenshots: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the terminal and the report."""
        return (
            f"site check: {self.pages} pages, {self.images} images, {self.links} internal links, "
            f"{self.math_elements} math elements on {self.math_pages} pages, search '{SEARCH_TERM}': "
            f"{self.search_results} results, Colab/Binder links on {self.chapters} chapters, static widget "
            f"figures: {', '.join(sorted(self.widgets)) or 'none'}; "
            f"failures {len(self.failures)}"
        )


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base class's name)
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A browser that moved on closes its connection early: not an error of the site."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextmanager
def serving(site_dir: Path, port: int = 0) -> Iterator[str]:
    """Serve ``site_dir`` on 127.0.0.1 in a thread; yields the base URL (ends with '/')."""
    if not (site_dir / "index.html").exists():
        raise FileNotFoundError(f"no site in {site_dir}: build it with python -m sft_helpers site")
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = _Server(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def serve_forever(site_dir: Path, port: int = 8000) -> None:
    """Serve the site until Ctrl-C (``python -m sft_helpers site serve``)."""
    with serving(site_dir, port) as url:
        print(f"[site] serving {site_dir} at {url} (Ctrl-C stops)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


def site_pages(site_dir: Path) -> list[str]:
    """Every HTML page of the site, as paths relative to it (static assets left out)."""
    return sorted(
        p.relative_to(site_dir).as_posix()
        for p in site_dir.rglob("*.html")
        if not p.relative_to(site_dir).as_posix().startswith(("_static/", "_sources/"))
    )


def _target(url: str, base: str, site_dir: Path) -> tuple[Path, str] | None:
    """The file an internal URL names and its fragment; None for an external URL."""
    if not url.startswith(base):
        return None
    parts = urlsplit(url)
    rel = unquote(parts.path[len(urlsplit(base).path):])
    path = site_dir / rel
    if rel == "" or rel.endswith("/"):
        path = path / "index.html"
    return path, unquote(parts.fragment)


def check_site(
    site_dir: Path,
    out_dir: Path,
    chromium: Path,
    repo: colab.Repository | None = None,
    notebooks_dir: Path | None = None,
    only: list[str] | None = None,
) -> SiteReport:
    """Visit every page of ``site_dir`` in headless Chromium; return what failed (see module doc).

    ``only`` restricts the visit to those pages (paths relative to the site, for a quick look);
    links to pages not visited are then checked for their file, not their anchor.
    """
    from playwright.sync_api import sync_playwright

    repo = repo or colab.repository()
    report = SiteReport()
    out_dir.mkdir(parents=True, exist_ok=True)
    pages = site_pages(site_dir)
    if only is not None:
        unknown = sorted(set(only) - set(pages))
        if unknown:
            raise FileNotFoundError(f"no such pages in {site_dir}: {', '.join(unknown)}")
        pages = [p for p in pages if p in only]
    ids: dict[Path, set[str]] = {}
    links: set[tuple[str, str]] = set()
    with serving(site_dir) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        current = {"page": ""}

        def off_machine(route: object) -> None:  # nothing may leave 127.0.0.1
            report.failures.append(f"{current['page']}: request off the machine: {route.request.url}")
            route.abort()

        context.route(lambda url: not url.startswith(base) and not url.startswith(("data:", "blob:")), off_machine)
        page = context.new_page()
        page.set_default_timeout(PAGE_TIMEOUT_MS)
        page.on("console", lambda m: m.type == "error" and report.failures.append(
            f"{current['page']}: console error: {m.text}"))
        page.on("pageerror", lambda e: report.failures.append(f"{current['page']}: page error: {e}"))
        page.on("response", lambda r: r.status >= 400 and report.failures.append(
            f"{current['page']}: HTTP {r.status} for {r.url}"))
        for rel in pages:
            current["page"] = rel
            page.goto(base + rel, wait_until="load")
            seen = page.evaluate(_INSPECT_JS)
            report.pages += 1
            ids[site_dir / rel] = set(seen["ids"])
            for image in seen["images"]:
                report.images += 1
                if image["width"] <= 0:
                    report.failures.append(f"{rel}: image did not load: {image['src'][:120]}")
            if seen["math"]:
                report.math_pages += 1
                report.math_elements += seen["math"]
                if not seen["mathjax"]:
                    report.failures.append(f"{rel}: {seen['math']} math elements but MathJax did not start")
                if seen["math_untypeset"] or seen["math_errors"]:
                    report.failures.append(f"{rel}: math not rendered: {seen['math_untypeset']} untypeset, "
                                           f"{seen['math_errors']} TeX errors")
            for widget in seen["widgets"]:  # an explorer cell shows its stored figure, not "Loading widget"
                if any(w > 0 for w in widget["widths"]):
                    report.widgets.setdefault(widget["name"], rel)
                else:
                    report.failures.append(f"{rel}: {widget['name']} shows no figure: {widget['text']!r}")
            links.update((rel, link) for link in seen["links"])
            if rel.startswith("notebooks/"):
                report.chapters += 1
                _check_launch_links(rel, seen["launch"], base, repo, notebooks_dir, report)
            if rel in SCREENSHOTS.values():
                name = next(k for k, v in SCREENSHOTS.items() if v == rel)
                page.screenshot(path=str(out_dir / name))
                report.screenshots.append(str(out_dir / name))
        current["page"] = "search.html"
        page.goto(f"{base}search.html?q={SEARCH_TERM}", wait_until="load")
        try:
            page.wait_for_selector("#search-results li", timeout=PAGE_TIMEOUT_MS)
        except Exception:  # noqa: BLE001 (Playwright's TimeoutError: reported below)
            pass
        report.search_results = page.locator("#search-results li").count()
        if report.search_results == 0:
            report.failures.append(f"search.html: no results for {SEARCH_TERM!r}")
        browser.close()
    for rel, link in sorted(links):
        target = _target(link, base, site_dir)
        if target is None:
            continue
        report.links += 1
        path, fragment = target
        if not path.is_file():
            report.failures.append(f"{rel}: broken link {link[len(base):]}")
        elif fragment and path.suffix == ".html" and path in ids and fragment not in ids[path]:
            report.failures.append(f"{rel}: link to a missing anchor {link[len(base):]}")
    (out_dir / "summary.json").write_text(json.dumps({"summary": report.summary(), **asdict(report)}, indent=1))
    return report


def _check_launch_links(
    rel: str, launch: dict[str, str | None], base: str, repo: colab.Repository,
    notebooks_dir: Path | None, report: SiteReport,
) -> None:
    """A chapter page's Colab, Binder and Download links name its own notebook."""
    repo_path = rel[: -len(".html")] + ".ipynb"
    expected = {"colab": repo.colab_url(repo_path), "binder": repo.binder_url(repo_path), "download": base + repo_path}
    for kind, url in expected.items():
        if launch.get(kind) != url:
            report.failures.append(f"{rel}: {kind} link is {launch.get(kind)!r}, expected {url!r}")
    if notebooks_dir is not None and not (notebooks_dir / Path(repo_path).name).is_file():
        report.failures.append(f"{rel}: the Colab link's notebook {repo_path} is not in the repository")
