"""Every notebook under notebooks/ runs top to bottom in fast mode under nbval (lax mode).

Only cells tagged ``nbval-check-output`` have their outputs compared with the stored ones.
Each notebook runs in its own pytest subprocess so that the kernel gets its own
``SFT_RESULTS_FILE``; the key results it records are then compared with
``tests/expected/<notebook>.json`` (its ``"fast"`` part; ``"full"`` for the slow full-mode
run). Adding a notebook needs no edit here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sft_helpers.results import compare_results, read_results
from sft_helpers.settings import HEADLESS_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TESTS = REPO_ROOT / "tests"
CELL_TIMEOUT_S = 900
# Tolerances for keys given as plain numbers in the expected-results files (floats move
# slightly across CPUs and library versions); keys can carry their own {"min", "max"}.
REL_TOL, ABS_TOL = 0.10, 0.05


def expected_results(stem: str, mode: str) -> dict:
    """The committed expectations of one notebook's key results in ``mode`` ("fast" or "full")."""
    path = TESTS / "expected" / f"{stem}.json"
    return json.loads(path.read_text()).get(mode, {}) if path.exists() else {}


def run_notebook_under_nbval(notebook: Path, results_file: Path, fast: bool) -> subprocess.CompletedProcess:
    env = dict(os.environ, SFT_FAST="1" if fast else "0", SFT_RESULTS_FILE=str(results_file),
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", MPLBACKEND="Agg", **HEADLESS_ENV)
    cmd = [
        sys.executable, "-m", "pytest", str(notebook), "--nbval-lax", "--nbval-current-env",
        f"--nbval-cell-timeout={CELL_TIMEOUT_S}", "--nbval-sanitize-with", str(TESTS / "nbval_sanitize.cfg"),
        "-p", "no:cacheprovider", "-q", "-o", "addopts=", "-o", "testpaths=", "-p", "no:xdist",
        "-W", "ignore::DeprecationWarning",
    ]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def _check(notebook: Path, tmp_path: Path, fast: bool) -> None:
    results_file = tmp_path / "results.json"
    proc = run_notebook_under_nbval(notebook, results_file, fast)
    assert proc.returncode == 0, f"{notebook.name} failed under nbval:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    expected = expected_results(notebook.stem, "fast" if fast else "full")
    actual = read_results(results_file) if results_file.exists() else {}
    problems = compare_results(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    assert not problems, f"{notebook.name}: key results changed:\n" + "\n".join(problems)


@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_fast_mode(notebook: Path, tmp_path: Path) -> None:
    _check(notebook, tmp_path, fast=True)


@pytest.mark.slow
@pytest.mark.notebook
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_full_mode(notebook: Path, tmp_path: Path) -> None:
    _check(notebook, tmp_path, fast=False)


def test_every_notebook_has_expected_fast_results() -> None:
    """A notebook that records key results must have committed expectations for them."""
    missing = [nb.stem for nb in NOTEBOOKS if "record(" in nb.read_text() and not expected_results(nb.stem, "fast")]
    assert not missing, f"add fast-mode expectations for {missing} to tests/expected/<notebook>.json"
