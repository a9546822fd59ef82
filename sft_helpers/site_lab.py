"""The live widget check: a course explorer in a real JupyterLab, driven by headless Chromium.

Starts JupyterLab on 127.0.0.1 (a random port and token, its own runtime and workspace
folders), opens a notebook that shows chapter 1's neighbours explorer
(``sft_helpers.widgets.neighbours_explorer``) on the bundled model, runs the cell, moves the
"neighbours" slider with the keyboard, and checks that the explorer's figure changed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sft_helpers import settings
from sft_helpers.setup_env import REPO_ROOT
from sft_helpers.site_check import CHROMIUM_ARGS

CHAPTER = "01"  # the chapter whose explorer cell the check runs, as the notebook has it
EXPLORER_CALL = "widgets.neighbours_explorer("
# What chapter 1 computed before its explorer cell, recomputed quickly (the names that cell uses).
SETUP = """from sft_helpers import models, widgets

model, tokenizer = models.load_pretrained("base")
W = model.embeddings.word_embeddings.weight.detach()  # (V, d), the chapter's word table
groups = widgets.DEFAULT_WORD_GROUPS
NEIGHBOURS_K = 8
"""
TIMEOUT_S = 180


@dataclass
class LabReport:
    """What the live check saw."""

    slider_before: str = ""  # the slider's readout before and after the key presses
    slider_after: str = ""
    figure_changed: bool = False  # the explorer's image was redrawn
    screenshot: str = ""
    failures: list[str] | None = None

    def summary(self) -> str:
        """One line for the report."""
        return (f"JupyterLab live widget: slider {self.slider_before} -> {self.slider_after}, figure changed: "
                f"{self.figure_changed}; failures {len(self.failures or [])}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chapter_widget_cell(root: Path = REPO_ROOT) -> str:
    """The source of the chapter's code cell that shows its explorer (a clear error if it is gone)."""
    paths = sorted((root / "notebooks").glob(f"{CHAPTER}_*.ipynb"))
    if not paths:
        raise FileNotFoundError(f"no notebooks/{CHAPTER}_*.ipynb: the live widget check runs its explorer cell")
    notebook = json.loads(paths[0].read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and source.lstrip().startswith(EXPLORER_CALL):
            return source
    raise ValueError(f"{paths[0].name} has no code cell starting with {EXPLORER_CALL!r}; update site_lab.CHAPTER "
                     "or EXPLORER_CALL to the explorer the live check should run")


def _notebook(path: Path, widget_cell: str) -> None:
    cells = [{"cell_type": "code", "execution_count": None, "id": cid, "metadata": {}, "outputs": [], "source": src}
             for cid, src in (("setup", SETUP), ("explorer", widget_cell))]
    notebook = {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                            "language": "python"}},
                "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(notebook))


def _wait_for_server(url: str, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (127.0.0.1 only)
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the JupyterLab this check started, and its kernel (its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=20)
            return
        except subprocess.TimeoutExpired:
            continue


def _kernel_ready(base: str, token: str) -> bool:
    """True once the server has a kernel that is idle with the page's websocket connected."""
    try:
        with urllib.request.urlopen(f"{base}/api/kernels?token={token}", timeout=5) as response:  # noqa: S310
            kernels = json.loads(response.read())
    except (OSError, ValueError):
        return False
    return any(k.get("execution_state") == "idle" and k.get("connections", 0) >= 1 for k in kernels)


def _wait_for_kernel(page: Any, base: str, token: str, deadline: float) -> None:
    # The notebook's toolbar says "Idle" before its session has a kernel at all, and a cell run
    # then is lost (Shift+Enter only moves to a new cell): ask the server instead. The pause is
    # Playwright's, not time.sleep: the page's requests pass through the Python route filter,
    # so a sleeping Python thread would hold them (and the kernel's websocket) back.
    while time.monotonic() < deadline:
        if _kernel_ready(base, token):
            return
        page.wait_for_timeout(500)
    raise TimeoutError("the notebook's kernel never became idle and connected")


def check_widget_live(chromium: Path, screenshot: Path) -> LabReport:
    """Run the explorer cell in JupyterLab, move its slider, check the figure changes.

    On a failure the page as it was is saved next to ``screenshot`` (``*-failed.png``).
    """
    from playwright.sync_api import sync_playwright

    report = LabReport(failures=[])
    port, token = _free_port(), secrets.token_hex(16)
    deadline = time.monotonic() + TIMEOUT_S
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="sft-lab-") as tmp:
        work = Path(tmp)
        _notebook(work / "widget_check.ipynb", chapter_widget_cell())
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
               "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"), settings.PROGRESS_ENV: "text"}
        cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
               "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
               "--LabApp.extension_manager=readonly", *(["--allow-root"] if os.geteuid() == 0 else [])]
        log = (work / "lab.log").open("wb")
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_for_server(f"{base}/api/status?token={token}", process, deadline)
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.route(lambda url: not url.startswith(base) and not url.startswith(("data:", "blob:")),
                           lambda route: route.abort())
                page.set_default_timeout(TIMEOUT_S * 1000)
                try:
                    _drive(page, base, token, deadline, report, screenshot)
                except Exception:
                    page.screenshot(path=str(screenshot.with_name(screenshot.stem + "-failed.png")))
                    raise
                finally:
                    browser.close()
        except Exception as error:  # noqa: BLE001 (reported as a failure with JupyterLab's log)
            tail = (work / "lab.log").read_text(errors="replace")[-1500:]
            report.failures.append(f"{type(error).__name__}: {str(error)[:500]}\nJupyterLab log:\n{tail}")
        finally:
            _stop(process)
            log.close()
    if report.slider_before and report.slider_before == report.slider_after:
        report.failures.append(f"the slider stayed at {report.slider_before}")
    return report


def _drive(page: Any, base: str, token: str, deadline: float, report: LabReport, screenshot: Path) -> None:
    """Open the notebook, run its two cells, move the slider, wait for the new figure, take the screenshot."""
    page.goto(f"{base}/lab/tree/widget_check.ipynb?token={token}")
    setup, cell = page.locator(".jp-Notebook .jp-Cell").nth(0), page.locator(".jp-Notebook .jp-Cell").nth(1)
    cell.locator(".cm-content").wait_for()
    _wait_for_kernel(page, base, token, deadline)
    setup.locator(".cm-content").click()
    page.keyboard.press("Shift+Enter")  # runs the set-up cell, selects the explorer cell
    page.keyboard.press("Shift+Enter")  # queues the explorer cell behind it
    for which, c in (("set-up", setup), ("explorer", cell)):
        prompt = c.locator(".jp-InputPrompt")
        try:  # "[*]:" while queued or running, "[n]:" when done; "[ ]:" means it never reached the kernel
            page.wait_for_function("el => /\\[(\\*|\\d+)\\]/.test(el.textContent)", arg=prompt.element_handle(),
                                   timeout=30_000)
        except Exception as error:  # noqa: BLE001
            raise RuntimeError(f"the {which} cell did not start (its prompt reads {prompt.inner_text()!r})") from error
    # Wait for the explorer's figure, or for a traceback (a warning on stderr is not a failure).
    page.wait_for_function("""([cell]) => {
        const img = cell.querySelector('.jp-OutputArea-output img.widget-image');
        const failed = Array.from(document.querySelectorAll(
            ".jp-Notebook [data-mime-type='application/vnd.jupyter.stderr']")).some(e => /Error|Traceback/.test(e.textContent));
        return failed || (img && img.naturalWidth > 0);
    }""", arg=[cell.element_handle()])
    errors = page.locator(".jp-Notebook [data-mime-type='application/vnd.jupyter.stderr']").filter(
        has_text=re.compile("Error|Traceback"))
    if errors.count():
        raise RuntimeError(f"a cell failed: {errors.first.inner_text()[:800]}")
    output = cell.locator(".jp-OutputArea-output")
    image = output.locator("img.widget-image").first
    before = image.get_attribute("src") or ""
    readout = output.locator(".widget-readout").first
    report.slider_before = readout.inner_text().strip()
    handle = output.locator(".noUi-handle").first
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "([img, old]) => img.getAttribute('src') !== old && img.naturalWidth > 0",
        arg=[image.element_handle(), before],
    )
    # Each key press is a change the kernel redraws for: wait for the last figure (kernel idle, the
    # image no longer changing) so the screenshot shows the slider's final value.
    last = image.get_attribute("src")
    while time.monotonic() < deadline:
        page.wait_for_timeout(1000)
        now = image.get_attribute("src")
        if now == last and _kernel_ready(base, token):
            break
        last = now
    report.slider_after = readout.inner_text().strip()
    report.figure_changed = True
    news = page.get_by_role("button", name="No")  # JupyterLab's "notified about news?" toast
    if news.count():
        news.first.click()
        try:
            news.first.wait_for(state="detached", timeout=5_000)
        except Exception:  # noqa: BLE001 (only the screenshot's tidiness depends on it)
            pass
    page.screenshot(path=str(screenshot))
    report.screenshot = str(screenshot)
