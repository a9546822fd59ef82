"""Tests of the exercise-notebook builder ``sft_helpers.exercises``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from sft_helpers import exercises
from sft_helpers.exercises import ExerciseMarkerError, build, differences, strip_solutions

REPO = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "fixtures" / "exercises" / "notebooks"


@pytest.fixture
def built(tmp_path):
    out = tmp_path / "exercises"
    report = build(FIXTURES, out)
    return out, report


def _sources(path: Path) -> dict[str, str]:
    return {c.id: c.source for c in nbformat.read(path, as_version=4).cells}


def test_markers_become_not_implemented_with_hint_and_signature_stays(built):
    out, report = built
    assert report.written == ["01_fixture.ipynb"] and report.ok and not report.warnings
    cells = _sources(out / "01_fixture.ipynb")
    assert cells["fixture-04"] == (
        "def double(values):\n"
        '    """Return a new list with every number multiplied by two."""\n'
        '    raise NotImplementedError("use a list comprehension, [... for v in values]")'
    )
    # a marker without a hint, nested in a method, with code after it that stays
    assert (
        '        total = 0\n        raise NotImplementedError("replace this line with your code")\n'
        in (cells["fixture-08"])
    )
    assert "        return total" in cells["fixture-08"]
    assert "aeiou" not in cells["fixture-08"] and "2 * v" not in cells["fixture-04"]
    assert "fixture-06" not in cells  # the solution-only cell is dropped
    assert cells["fixture-05"] == "checks.check_double(double)"  # check cells unchanged, ids kept


def test_outputs_counts_and_metadata_are_stripped(built):
    out, _ = built
    nb = nbformat.read(out / "01_fixture.ipynb", as_version=4)
    nbformat.validate(nb)
    assert nb.metadata == {
        "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nb.cells[1].metadata == {"tags": ["parameters"]}


def test_rebuild_is_byte_identical_and_deterministic(tmp_path, built):
    out, _ = built
    first = (out / "01_fixture.ipynb").read_bytes()
    again = build(FIXTURES, out)
    assert again.unchanged == ["01_fixture.ipynb"] and not again.written
    assert (out / "01_fixture.ipynb").read_bytes() == first
    other = tmp_path / "other"
    build(FIXTURES, other)
    for name in ("01_fixture.ipynb", exercises.MANIFEST):
        assert (other / name).read_bytes() == (out / name).read_bytes()
    manifest = json.loads((out / exercises.MANIFEST).read_text())
    assert manifest["files"]["01_fixture.ipynb"]["source"] == "notebooks/01_fixture.ipynb"
    assert differences(FIXTURES, out) == []


def test_learner_edits_are_never_overwritten(tmp_path, built):
    out, _ = built
    target = out / "01_fixture.ipynb"
    edited = target.read_text().replace("raise NotImplementedError", "return [v * 2 for v in values]  #", 1)
    target.write_text(edited)
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES, notebooks)
    source = notebooks / "01_fixture.ipynb"
    source.write_text(source.read_text().replace("Two tiny exercises", "Two small exercises"))
    report = build(notebooks, out)
    assert not report.ok and report.kept == [("01_fixture.ipynb", "01_fixture.new.ipynb")]
    assert target.read_text() == edited  # the learner's work is untouched
    assert "Two small exercises" in (out / "01_fixture.new.ipynb").read_text()
    assert "KEPT 01_fixture.ipynb" in report.summary()
    assert exercises.main(["build", "--notebooks", str(notebooks), "--out", str(out)]) == 1
    assert target.read_text() == edited
    assert f"01_fixture.ipynb differs from what {notebooks} generates" in differences(notebooks, out)
    forced = build(notebooks, out, force=True)
    assert forced.written == ["01_fixture.ipynb"] and "Two small exercises" in target.read_text()
    # an untouched generated file is replaced silently when the solution changes
    source.write_text(source.read_text().replace("Two small exercises", "Two short exercises"))
    assert build(notebooks, out).written == ["01_fixture.ipynb"]


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("def f():\n    # BEGIN SOLUTION\n    return 1\n", "never closed"),
        ("def f():\n    return 1\n    # END SOLUTION\n", "without a '# BEGIN SOLUTION'"),
        ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    # END SOLUTION\n", "inside another"),
        ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", "inside a function body"),
        (
            "for i in range(3):\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n",
            "inside a function body",
        ),
        ("def f():\n    x = 1  # BEGIN SOLUTION\n", "alone on its line"),
    ],
)
def test_marker_errors_name_the_place(source, error):
    with pytest.raises(ExerciseMarkerError, match=error) as info:
        strip_solutions(source, "02_x.ipynb, cell 4 (id abc)")
    assert "02_x.ipynb, cell 4 (id abc), line" in str(info.value)


def test_marker_error_in_a_notebook_names_notebook_and_cell(tmp_path):
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION")]
    )
    nb.cells[0]["id"] = "bad-cell"
    nbformat.write(nb, notebooks / "03_broken.ipynb")
    with pytest.raises(ExerciseMarkerError, match=r"03_broken.ipynb, cell 0 \(id bad-cell\), line 1"):
        build(notebooks, tmp_path / "out")
    assert exercises.main(["--notebooks", str(notebooks), "--out", str(tmp_path / "out")]) == 2


def test_nested_blocks_keep_indentation_and_notebooks_without_markers_are_skipped(tmp_path):
    source = (
        "def outer(x):\n    def inner(y):\n        # BEGIN SOLUTION hint: y + 1\n        return y + 1\n"
        "        # END SOLUTION\n\n    if x:\n        # BEGIN SOLUTION\n        return inner(x)\n"
        "        # END SOLUTION\n    return 0\n"
    )
    out, count = strip_solutions(source)
    assert count == 2
    assert out == (
        'def outer(x):\n    def inner(y):\n        raise NotImplementedError("y + 1")\n\n    if x:\n'
        '        raise NotImplementedError("replace this line with your code")\n    return 0\n'
    )
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]), notebooks / "05_plain.ipynb"
    )
    report = build(notebooks, tmp_path / "out")
    assert report.skipped == ["05_plain.ipynb"] and not report.written


def test_exercise_without_check_cell_is_warned(tmp_path):
    notebooks = tmp_path / "nb"
    notebooks.mkdir()
    code = "def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)]), notebooks / "04_x.ipynb"
    )
    report = build(notebooks, tmp_path / "out")
    assert report.written == ["04_x.ipynb"]
    assert report.warnings and "no check cell after it" in report.warnings[0]


def test_committed_exercises_match_the_notebooks():
    """`exercises/` must be exactly what `python -m sft_helpers exercises build` generates."""
    sources = sorted((REPO / "notebooks").glob(exercises.NOTEBOOK_GLOB))
    if not any("# BEGIN SOLUTION" in p.read_text(encoding="utf-8") for p in sources):
        pytest.skip("no chapter notebook has exercises yet")
    problems = differences(REPO / "notebooks", REPO / "exercises")
    assert problems == [], "run `python -m sft_helpers exercises build`: " + "; ".join(problems)
