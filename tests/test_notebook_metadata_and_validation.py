"""Small defects of issue 17 item 8 that have no module of their own: kernelspecs, data validation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sft_helpers import instructions

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((REPO_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + sorted(
    (REPO_ROOT / "exercises").glob("[0-9][0-9]_*.ipynb")
)
STANDARD_KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[f"{p.parent.name}/{p.stem}" for p in NOTEBOOKS])
def test_every_notebook_names_the_standard_python3_kernel(notebook: Path) -> None:
    """Without a kernelspec Jupyter asks which kernel to use; with another name it may not find one.

    ``python3`` is the kernel of the environment Jupyter itself runs in, which is the course's
    environment after ``make setup`` (it registers the venv's kernel under that name with
    ``--sys-prefix``), on Colab and on Binder alike.
    """
    metadata = json.loads(notebook.read_text(encoding="utf-8"))["metadata"]
    spec = metadata.get("kernelspec") or {}
    assert {k: spec.get(k) for k in ("name", "language")} == {
        "name": "python3",
        "language": "python",
    } and spec.get("display_name"), (
        f"{notebook.relative_to(REPO_ROOT)}: kernelspec {spec!r}; set metadata.kernelspec to {STANDARD_KERNELSPEC}"
    )
    assert metadata.get("language_info", {}).get("name", "python") == "python"


def test_a_broken_gold_entities_response_is_a_clear_error() -> None:
    """A data error, not an ``assert`` (which ``python -O`` removes, scoring the row as if it were right)."""
    rows = [{"task": "entities", "response": "PER: Ann"}]
    with pytest.raises(ValueError, match="gold response is not a JSON object.*PER: Ann.*fix the data set"):
        instructions.score_answers(rows, ['{"PER": ["Ann"]}'])
