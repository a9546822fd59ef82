"""The committed notebooks tell the truth about their own stored run.

* No progress bar is stored as a frozen widget ("0%" forever on the web).
* No nbval comment marker is left in a cell a learner reads (tags carry them instead).
* Every run-dependent number typed in a markdown cell is one the stored run recorded (at the
  precision it is written with), or a constant listed with its reason in
  ``tests/prose_constants/<notebook>.json``. Run-dependent numbers belong in computed output instead.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from sft_helpers.results import stored_run

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = sorted((REPO_ROOT / "exercises").glob("[0-9][0-9]_*.ipynb"))
CONSTANTS_DIR = Path(__file__).with_name("prose_constants")
WIDGET = "application/vnd.jupyter.widget-view+json"
BAR = re.compile(r"\d+%\|")

# A typed number that usually depends on a run: a decimal, a percentage, a speed-up factor or
# a quantity of time or memory. Plain integers (3 epochs, 12 heads, chapter 5) are not checked.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<num>\d[\d,]*(?:\.\d+)?)\s?(?P<unit>%|x\b(?!\s*\d)|×(?!\s*\d)|s\b|ms\b|min\b|minutes?\b|seconds?\b|"
    r"hours?\b|GB\b|MB\b|GiB\b|MiB\b|KB\b)?"
)
_SKIP = [
    re.compile(r"```.*?```", re.S),  # code blocks
    re.compile(r"`[^`]*`"),  # inline code
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$]*\$"),  # inline math
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"https?://\S+"),
    re.compile(r"<[^>]+>"),  # HTML tags (their attributes)
]


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def typed_numbers(markdown: str) -> list[str]:
    """The run-dependent-looking numbers of a markdown text, as written (e.g. '0.944', '130x')."""
    for pattern in _SKIP:
        markdown = pattern.sub(" ", markdown)
    found = []
    for match in _NUMBER.finditer(markdown):
        num, unit = match.group("num"), match.group("unit")
        if unit or "." in num:
            found.append(num + (unit or "") if unit in {"%", "x", "×", None} else f"{num} {unit}")
    return found


def _matches_result(token: str, results: dict) -> bool:
    """Whether ``token`` is a recorded result written at some precision (fractions also as %)."""
    number = re.match(r"[\d,]+(?:\.\d+)?", token)
    if not number:
        return False
    text = number.group(0).replace(",", "")
    decimals = len(text.split(".")[1]) if "." in text else 0
    value = float(text)
    half_step = 0.5 * 10.0**-decimals + 1e-12
    for got in results.values():
        if isinstance(got, bool) or not isinstance(got, int | float):
            continue
        candidates = [got, abs(got)]
        if token.endswith("%"):
            candidates += [100 * got, 100 * abs(got)]
        if any(math.isfinite(c) and abs(c - value) <= half_step for c in candidates):
            return True
    return False


def _constants(stem: str) -> dict[str, str]:
    """{number as written: why it is a constant} for one notebook."""
    path = CONSTANTS_DIR / f"{stem}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def test_typed_numbers_finds_what_drifts() -> None:
    text = "accuracy 0.944, 130x faster, under 6 GB, `x = 0.5`, $p = 0.1$, 3 epochs, 10 min"
    assert typed_numbers(text) == ["0.944", "130x", "6 GB", "10 min"]
    assert _matches_result("0.94", {"acc": 0.9441}) and _matches_result("94.4%", {"acc": 0.9441})
    assert not _matches_result("0.95", {"acc": 0.9441})


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_frozen_progress_widget(notebook: Path) -> None:
    frozen = []
    for index, cell in enumerate(_cells(notebook)):
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            text = "".join(data.get("text/plain", ""))
            if WIDGET in data and BAR.search(text):
                frozen.append(f"cell {index}: {text.strip()[:80]}")
    assert not frozen, (
        f"{notebook.name} stores progress bars as widgets (frozen on the web): {frozen}. Use "
        "sft_helpers.runtime.progress_bar and refresh with `python -m sft_helpers notebooks`."
    )


# A machine's own paths (a temp folder, a home, this checkout) mean nothing to a reader on the web.
LOCAL_PATH = re.compile(r"(?<![\w.])/(?:tmp|root|home|Users|work|private/var)/[\w.-]+")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_no_local_path_in_stored_outputs(notebook: Path) -> None:
    found = []
    for index, cell in enumerate(_cells(notebook)):
        for output in cell.get("outputs", []):
            text = "".join(output.get("text", "")) + "".join(output.get("data", {}).get("text/plain", ""))
            found += [f"cell {index}: {m.group(0)}" for m in LOCAL_PATH.finditer(text)]
    assert not found, f"{notebook.name} shows paths of the machine that ran it: {found[:5]}. Print a name instead."


@pytest.mark.parametrize("notebook", NOTEBOOKS + EXERCISES, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS + EXERCISES])
def test_no_nbval_marker_in_sources(notebook: Path) -> None:
    marked = [i for i, cell in enumerate(_cells(notebook)) if "NBVAL_" in _source(cell)]
    assert not marked, f"{notebook.name}: cells {marked} carry NBVAL comments; use the 'nbval-check-output' tag"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_typed_numbers_come_from_the_stored_run(notebook: Path) -> None:
    try:
        results = stored_run(notebook).get("results", {})
    except ValueError:
        results = {}
    allowed = _constants(notebook.stem)
    unexplained = []
    for index, cell in enumerate(_cells(notebook)):
        if cell["cell_type"] != "markdown":
            continue
        for token in typed_numbers(_source(cell)):
            if token not in allowed and not _matches_result(token, results):
                unexplained.append(f"cell {index}: {token!r}")
    assert not unexplained, (
        f"{notebook.name} types numbers that its stored run did not record: {unexplained}. Print "
        "run-dependent numbers from code (display(Markdown(f'...'))), or, for a true constant, add it "
        "with its reason to tests/prose_constants/<notebook>.json."
    )
