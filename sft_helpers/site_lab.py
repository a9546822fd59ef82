"""The live widget check: a course explorer in a real JupyterLab, driven by headless Chromium.

Unfinished: JupyterLab starts and runs the kernel, but the explorer's image is not yet found
after the cell runs (tests/test_site.py runs this only with SFT_SITE_LAB=1).

Starts JupyterLab on 127.0.0.1 (a random port and token, its own runtime and workspace
folders), opens a notebook that shows chapter 1's neighbours explorer
(``sft_helpers.widgets.neighbours_explorer``) on the bundled model, runs the cell, moves the
"neighbours" slider with the keyboard, and checks that the explorer's figure changed.
"""

from __future__ import annotations

import json
import os
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

from sft_helpers.site_check import CHROMIUM_ARGS

WIDGET_CELL = """from sft_helpers import models, widgets

model, tokenizer = models.load_pretrained("base")
W = model.get_input_embeddings().weight.detach()
widgets.neighbours_explorer(W, tokenizer, k=3, word="king", static=False)"""
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


def _notebook(path: Path) -> None:
    cell = {"cell_type": "code", "execution_count": None, "id": "explorer", "metadata": {}, "outputs": [],
            "source": WIDGET_CELL}
    notebook = {"cells": [cell], "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
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


def check_widget_live(chromium: Path, screenshot: Path) -> LabReport:
    """Run the explorer cell in JupyterLab, move its slider, check the figure changes."""
    from playwright.sync_api import sync_playwright

    report = LabReport(failures=[])
    port, token = _free_port(), secrets.token_hex(16)
    deadline = time.monotonic() + TIMEOUT_S
    with tempfile.TemporaryDirectory(prefix="sft-lab-") as tmp:
        work = Path(tmp)
        _notebook(work / "widget_check.ipynb")
        env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(work / "runtime"),
               "JUPYTERLAB_WORKSPACES_DIR": str(work / "workspaces"), "SFT_PROGRESS": "text"}
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
                page.goto(f"{base}/lab/tree/widget_check.ipynb?token={token}")
                page.wait_for_selector(".jp-Notebook .jp-Cell .cm-content")
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
                page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
                page.keyboard.press("Shift+Enter")
                image = page.locator(".jp-OutputArea-output img.widget-image, .jp-OutputArea-output img").first
                image.wait_for(state="visible")
                page.wait_for_function("img => img.naturalWidth > 0", arg=image.element_handle())
                before = image.get_attribute("src") or ""
                readout = page.locator(".jp-OutputArea-output .widget-readout").first
                report.slider_before = readout.inner_text().strip()
                handle = page.locator(".jp-OutputArea-output .noUi-handle").first
                handle.focus()
                for _ in range(3):
                    page.keyboard.press("ArrowRight")
                page.wait_for_function(
                    "([img, old]) => img.getAttribute('src') !== old && img.naturalWidth > 0",
                    arg=[image.element_handle(), before],
                )
                report.slider_after = readout.inner_text().strip()
                report.figure_changed = True
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
                report.screenshot = str(screenshot)
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
