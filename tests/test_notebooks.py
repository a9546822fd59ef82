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

from sft_helpers.results import (
    MODES,
    check_relations,
    compare_results,
    meaningless_expectations,
    read_results,
    stored_full_run,
    unexpected_keys,
    validate_relation,
)
from sft_helpers.settings import HEADLESS_ENV

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
TESTS = REPO_ROOT / "tests"
CELL_TIMEOUT_S = 900
# Tolerances for keys given as plain numbers in the expected-results files (floats move
# slightly across CPUs and library versions); keys can carry their own {"min", "max"}.
REL_TOL, ABS_TOL = 0.10, 0.05


def expected_file(stem: str) -> dict:
    """A notebook's whole expectations file ({"fast": ..., "full": ..., "relations": [...]}), {} if none."""
    path = TESTS / "expected" / f"{stem}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def expected_results(stem: str, mode: str) -> dict:
    """The committed expectations of one notebook's key results in ``mode`` ("fast" or "full")."""
    return expected_file(stem).get(mode, {})


def result_problems(stem: str, actual: dict, mode: str) -> list[str]:
    """Everything wrong with one run's key results: values, relations, keys without an expectation."""
    expected = expected_results(stem, mode)
    problems = compare_results(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    problems += check_relations(actual, expected_file(stem).get("relations", []), mode)
    problems += [
        f"{key}: recorded ({actual[key]!r}) but tests/expected/{stem}.json has no {mode!r} expectation for it"
        for key in unexpected_keys(actual, expected)
    ]
    return problems


def run_notebook_under_nbval(notebook: Path, results_file: Path, fast: bool) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        SFT_FAST="1" if fast else "0",
        SFT_RESULTS_FILE=str(results_file),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        MPLBACKEND="Agg",
        **HEADLESS_ENV,
    )
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(notebook),
        "--nbval-lax",
        "--nbval-current-env",
        f"--nbval-cell-timeout={CELL_TIMEOUT_S}",
        "--nbval-sanitize-with",
        str(TESTS / "nbval_sanitize.cfg"),
        "-p",
        "no:cacheprovider",
        "-q",
        "-o",
        "addopts=",
        "-o",
        "testpaths=",
        "-p",
        "no:xdist",
        "-W",
        "ignore::DeprecationWarning",
    ]
    return subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)


def _check(notebook: Path, tmp_path: Path, fast: bool) -> None:
    results_file = tmp_path / "results.json"
    proc = run_notebook_under_nbval(notebook, results_file, fast)
    assert proc.returncode == 0, (
        f"{notebook.name} failed under nbval:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"
    )
    actual = read_results(results_file) if results_file.exists() else {}
    problems = result_problems(notebook.stem, actual, "fast" if fast else "full")
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
    missing = [
        nb.stem for nb in NOTEBOOKS if "record(" in nb.read_text() and not expected_results(nb.stem, "fast")
    ]
    assert not missing, f"add fast-mode expectations for {missing} to tests/expected/<notebook>.json"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_full_run_meets_its_expectations(notebook: Path) -> None:
    """The full-mode run a notebook stores: its values, relations, and an expectation for every key."""
    assert (TESTS / "expected" / f"{notebook.stem}.json").is_file(), (
        f"add tests/expected/{notebook.stem}.json"
    )
    actual = stored_full_run(notebook)["results"]
    problems = result_problems(notebook.stem, actual, "full")
    assert not problems, f"{notebook.name}'s stored full run:\n" + "\n".join(problems)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_expectations_can_fail(notebook: Path) -> None:
    """No range that any run would pass ([0, 1] for a share, a bare >= 0, chance-to-perfect), and
    relations that are well formed, give their reason and compare keys the mode expects."""
    expected = expected_file(notebook.stem)
    unknown = sorted(set(expected) - {*MODES, "relations"})
    problems = [f"unknown top-level entries {unknown}"] if unknown else []
    for mode in MODES:
        problems += [
            f"{mode}: {p}" for p in meaningless_expectations(expected.get(mode, {}), REL_TOL, ABS_TOL)
        ]
    for index, relation in enumerate(expected.get("relations", [])):
        validate_relation(relation, index)
        if not relation.get("why"):
            problems.append(
                f"relations[{index}] ({relation['a']} {relation['op']} {relation['b']}) has no 'why'"
            )
        names = [relation["a"]] + ([relation["b"]] if isinstance(relation["b"], str) else [])
        for mode in relation.get("modes", MODES):
            problems += [
                f"relations[{index}] names {name!r}, which has no {mode!r} expectation"
                for name in names
                if name not in expected.get(mode, {})
            ]
    assert not problems, f"tests/expected/{notebook.stem}.json:\n" + "\n".join(problems)
